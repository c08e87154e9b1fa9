//! `costlake ingest`: Cost Management exports into the lake. Runs are found by their
//! `manifest.json` (never by parsing folder names); for each partition (dataset, billing account,
//! cost type, month) the latest complete run by `submittedTime` replaces the month whole, so
//! month-to-date re-runs, `CreateNewReport` folders, the re-export of the previous month and a
//! one-time export beside a daily one never count a cost twice. Parts are streamed: gzip or
//! plain CSV through `decode::table`, Parquet through its own reader, columns found by header.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Deserialize;

use crate::decode::table::{CsvRecordScanner, CsvSplitter, TableDecoder};
use crate::decode::{DecodeError, ParallelDecoder, RowFormat};
use crate::emulator::generator::PeriodId;
use crate::lake::{Lake, LakeError, PartitionEntry, PartitionKey, PartitionWriter, redact};
use crate::schema::Dataset;

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// The file name every current export run writes last, when its data is complete.
pub const RUN_MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("cannot list the exports at {location}: {message}")]
    List { location: String, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: {source}")]
    Decode { file: String, source: DecodeError },
}

/// What to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The datasets to take; the others' runs are left alone.
    pub datasets: Vec<Dataset>,
    /// Partitions ingested at once.
    pub jobs: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            datasets: Dataset::EXPORTS.to_vec(),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// A run's `manifest.json`. Every count is optional: manifests written before 2024-04-01 have
/// none of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunManifest {
    #[serde(default)]
    pub manifest_version: Option<String>,
    #[serde(default)]
    pub blob_count: Option<u64>,
    #[serde(default)]
    pub data_row_count: Option<u64>,
    pub export_config: ExportConfig,
    #[serde(default)]
    pub delivery_config: Option<DeliveryConfig>,
    pub run_info: RunInfo,
    #[serde(default)]
    pub blobs: Vec<Blob>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportConfig {
    #[serde(default)]
    pub export_name: Option<String>,
    pub resource_id: String,
    #[serde(default)]
    pub data_version: Option<String>,
    #[serde(rename = "type")]
    pub export_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryConfig {
    #[serde(default)]
    pub data_overwrite_behavior: Option<String>,
    #[serde(default)]
    pub file_format: Option<String>,
    #[serde(default)]
    pub compression_mode: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    #[serde(default)]
    pub submitted_time: Option<String>,
    pub run_id: String,
    pub start_date: String,
    #[serde(default)]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    pub blob_name: String,
    #[serde(default)]
    pub byte_count: Option<u64>,
    #[serde(default)]
    pub data_row_count: Option<u64>,
}

/// One export run, as its manifest describes it.
#[derive(Debug, Clone)]
struct Run {
    manifest_path: Path,
    manifest: RunManifest,
    scope: String,
    key: PartitionKey,
    submitted: DateTime<Utc>,
}

impl Run {
    fn export_name(&self) -> &str {
        self.manifest
            .export_config
            .export_name
            .as_deref()
            .unwrap_or("(unnamed export)")
    }

    fn run_id(&self) -> &str {
        &self.manifest.run_info.run_id
    }

    /// A run with no rows: it does not blank a month that has data.
    fn is_empty(&self) -> bool {
        self.manifest.blobs.is_empty()
            || self.manifest.blob_count == Some(0)
            || self.manifest.data_row_count == Some(0)
    }

    fn describe(&self) -> String {
        format!(
            "run {} of export '{}' (submitted {})",
            self.run_id(),
            self.export_name(),
            self.submitted.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// What happened to one partition.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Replaced by a run's data. `rounded` counts decimals that had non-zero digits beyond
    /// the lake's twelve places (exports print .NET decimals to 28 places).
    Ingested {
        rows: u64,
        bytes: u64,
        rounded: u64,
    },
    /// The lake already holds the latest complete run.
    Unchanged,
    /// No complete run with rows: the partition (if any) stays as it was.
    Kept,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PartitionReport {
    pub key: PartitionKey,
    pub outcome: Outcome,
    /// The run the partition now holds (or was to hold).
    pub run: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub runs_found: usize,
    pub partitions: Vec<PartitionReport>,
    /// Runs skipped, and why: incomplete, empty, superseded by a broader scope, unreadable.
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

impl IngestReport {
    pub fn ok(&self) -> bool {
        !self
            .partitions
            .iter()
            .any(|p| matches!(p.outcome, Outcome::Failed(_)))
    }

    pub fn rows_ingested(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| match p.outcome {
                Outcome::Ingested { rows, .. } => rows,
                _ => 0,
            })
            .sum()
    }

    /// A line per partition, then the totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.partitions {
            let what = match &p.outcome {
                Outcome::Ingested {
                    rows,
                    bytes,
                    rounded,
                } => {
                    let mut line = format!(
                        "{rows} rows, {:.1} MB Parquet in {:.1} s from {}",
                        *bytes as f64 / 1e6,
                        p.elapsed.as_secs_f64(),
                        p.run.as_deref().unwrap_or("?")
                    );
                    if *rounded > 0 {
                        line.push_str(&format!(
                            "; {rounded} values had more than {} decimal places and were rounded half to even",
                            crate::schema::DECIMAL_SCALE
                        ));
                    }
                    line
                }
                Outcome::Unchanged => format!(
                    "unchanged (already holds {})",
                    p.run.as_deref().unwrap_or("?")
                ),
                Outcome::Kept => "kept as it was: no complete run with rows".to_string(),
                Outcome::Failed(e) => format!("FAILED: {e}"),
            };
            out.push_str(&format!("{} account {}: {what}\n", p.key, p.key.enrollment));
        }
        let count =
            |f: fn(&Outcome) -> bool| self.partitions.iter().filter(|p| f(&p.outcome)).count();
        out.push_str(&format!(
            "{} runs found; {} partitions ingested ({} rows), {} unchanged, {} kept, {} failed in {:.1} s.\n",
            self.runs_found,
            count(|o| matches!(o, Outcome::Ingested { .. })),
            self.rows_ingested(),
            count(|o| matches!(o, Outcome::Unchanged)),
            count(|o| matches!(o, Outcome::Kept)),
            count(|o| matches!(o, Outcome::Failed(_))),
            self.elapsed.as_secs_f64()
        ));
        out
    }
}

/// The exports' source: a folder, or a container (and prefix) in an object store.
pub struct Source {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// Every object under the source, with its size: blobs are found here, not guessed.
    objects: HashMap<Path, u64>,
    /// When each manifest was written, for old manifests without `submittedTime`.
    modified: HashMap<Path, DateTime<Utc>>,
}

impl Source {
    /// Lists the source once. It is opened the way a lake is (same URLs, same credentials
    /// and the same refusal of plain HTTP off loopback), but never written to.
    pub async fn open(location: &str) -> Result<Source, IngestError> {
        let root = Lake::open(location, false).await.map_err(|e| match e {
            LakeError::Missing(_) => IngestError::List {
                location: location.to_string(),
                message: "there is nothing there; give the folder or container the exports are written to".into(),
            },
            other => IngestError::Lake(other),
        })?;
        let store = root.store();
        let listed: Vec<_> =
            store
                .list(None)
                .try_collect()
                .await
                .map_err(|e| IngestError::List {
                    location: location.to_string(),
                    message: redact(&e.to_string()),
                })?;
        let mut objects = HashMap::new();
        let mut modified = HashMap::new();
        for meta in listed {
            modified.insert(meta.location.clone(), meta.last_modified);
            objects.insert(meta.location, meta.size);
        }
        Ok(Source {
            store,
            location: location.to_string(),
            objects,
            modified,
        })
    }

    /// The object a manifest's `blobName` names. `blobName` is relative to the container,
    /// and the source may be a folder inside the container, above it, or a copy of the tree
    /// elsewhere: the name (less any leading folders) is looked for under each folder from
    /// the manifest's own up to the source's root.
    fn resolve(&self, manifest: &Path, blob_name: &str) -> Option<Path> {
        let segments: Vec<&str> = blob_name
            .trim()
            .split('/')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let dir: Vec<String> = manifest.parts().map(|p| p.as_ref().to_string()).collect();
        let dir = &dir[..dir.len().saturating_sub(1)];
        (0..segments.len()).find_map(|skip| {
            (0..=dir.len()).rev().find_map(|depth| {
                let path = Path::from_iter(
                    dir[..depth]
                        .iter()
                        .map(String::as_str)
                        .chain(segments[skip..].iter().copied()),
                );
                self.objects.contains_key(&path).then_some(path)
            })
        })
    }

    fn file_name(&self, path: &Path) -> String {
        format!("{}/{}", self.location.trim_end_matches('/'), path)
    }
}

/// The billing account of an export scope: the `billingAccounts/N` segment (for EA, the
/// enrollment), else the scope's last segment (a subscription's id).
fn billing_account(scope: &str) -> String {
    let parts: Vec<&str> = scope.split('/').filter(|s| !s.is_empty()).collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("billingAccounts"))
        .and_then(|i| parts.get(i + 1))
        .or(parts.last())
        .map_or_else(|| "unknown".to_string(), |s| s.to_ascii_lowercase())
}

/// A manifest time: with 7 fractional digits, with or without a zone (taken as UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    crate::decode::parse_timestamp(text)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
}

/// Reads every run manifest under the source and keys it to its partition.
async fn discover(source: &Source, opts: &IngestOptions, warnings: &mut Vec<String>) -> Vec<Run> {
    let mut manifests: Vec<&Path> = source
        .objects
        .keys()
        .filter(|p| p.filename() == Some(RUN_MANIFEST))
        .collect();
    manifests.sort();
    let mut runs = Vec::new();
    for path in manifests {
        let name = source.file_name(path);
        let bytes = match source.store.get(path).await {
            Ok(got) => match got.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(format!(
                        "{name}: cannot read it: {}",
                        redact(&e.to_string())
                    ));
                    continue;
                }
            },
            Err(e) => {
                warnings.push(format!(
                    "{name}: cannot read it: {}",
                    redact(&e.to_string())
                ));
                continue;
            }
        };
        let manifest: RunManifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!("{name}: not an export manifest ({e}); skipped"));
                continue;
            }
        };
        let Some((dataset, cost_type)) =
            Dataset::of_export_type(&manifest.export_config.export_type)
        else {
            warnings.push(format!(
                "{name}: export type '{}' is not one costlake reads; skipped",
                manifest.export_config.export_type
            ));
            continue;
        };
        if !opts.datasets.contains(&dataset) {
            continue;
        }
        let start = manifest.run_info.start_date.trim();
        let Some(month) = start
            .get(..7)
            .and_then(|ym| PeriodId::parse(&ym.replace('-', "")))
        else {
            warnings.push(format!(
                "{name}: runInfo.startDate '{start}' is not a date; skipped"
            ));
            continue;
        };
        let resource_id = manifest.export_config.resource_id.clone();
        let lower = resource_id.to_ascii_lowercase();
        let scope = match lower.find("/providers/microsoft.costmanagement/exports/") {
            Some(i) => resource_id[..i].to_string(),
            None => resource_id.clone(),
        };
        let submitted = manifest
            .run_info
            .submitted_time
            .as_deref()
            .and_then(parse_time)
            .or_else(|| source.modified.get(path).copied())
            .unwrap_or_default();
        runs.push(Run {
            manifest_path: path.clone(),
            key: PartitionKey {
                dataset,
                enrollment: billing_account(&scope),
                cost_type,
                period: Some(month),
            },
            scope,
            manifest,
            submitted,
        });
    }
    runs
}

/// The runs of each partition, newest first. Where exports of two scopes fill one partition
/// (an enrollment export beside a department's), only the enclosing scope's runs are kept:
/// the narrower one's rows are a subset of it.
fn plan(runs: Vec<Run>, warnings: &mut Vec<String>) -> BTreeMap<PartitionKey, Vec<Run>> {
    let mut by_key: BTreeMap<PartitionKey, Vec<Run>> = BTreeMap::new();
    for run in runs {
        by_key.entry(run.key.clone()).or_default().push(run);
    }
    for (key, runs) in by_key.iter_mut() {
        let broadest = runs
            .iter()
            .map(|r| r.scope.to_ascii_lowercase())
            .min_by_key(|s| s.len())
            .unwrap_or_default();
        let (keep, drop): (Vec<Run>, Vec<Run>) = std::mem::take(runs)
            .into_iter()
            .partition(|r| r.scope.to_ascii_lowercase() == broadest);
        let mut dropped: Vec<&str> = drop.iter().map(|r| r.scope.as_str()).collect();
        dropped.sort();
        dropped.dedup();
        for scope in dropped {
            warnings.push(format!(
                "{key}: the export of scope {scope} is ignored; the export of {broadest} covers it"
            ));
        }
        *runs = keep;
        runs.sort_by(|a, b| (b.submitted, b.run_id()).cmp(&(a.submitted, a.run_id())));
    }
    by_key
}

/// Ingests every export run under `source` into the lake.
pub async fn ingest(
    lake: &Lake,
    source: &Source,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let runs = discover(source, opts, &mut warnings).await;
    let runs_found = runs.len();
    let planned = plan(runs, &mut warnings);
    let manifest = lake.manifest().await?;
    let results: Vec<(PartitionReport, Vec<String>)> = futures::stream::iter(planned)
        .map(|(key, runs)| {
            let previous = manifest.get(&key).cloned();
            async move { ingest_partition(lake, source, key, runs, previous).await }
        })
        .buffer_unordered(opts.jobs.max(1))
        .collect()
        .await;
    let mut partitions = Vec::new();
    for (report, w) in results {
        partitions.push(report);
        warnings.extend(w);
    }
    partitions.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(IngestReport {
        runs_found,
        partitions,
        warnings,
        elapsed: started.elapsed(),
    })
}

/// Takes the newest complete run with rows of one partition, unless the lake already holds it
/// (or a newer one).
async fn ingest_partition(
    lake: &Lake,
    source: &Source,
    key: PartitionKey,
    runs: Vec<Run>,
    previous: Option<PartitionEntry>,
) -> (PartitionReport, Vec<String>) {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let report = |outcome, run: Option<&Run>| PartitionReport {
        key: key.clone(),
        outcome,
        run: run.map(Run::describe),
        elapsed: started.elapsed(),
    };
    for run in &runs {
        if let Some(prev) = &previous
            && (prev.etag.as_deref() == Some(run.run_id())
                || prev.submitted.is_some_and(|s| s > run.submitted))
        {
            let held = runs
                .iter()
                .find(|r| prev.etag.as_deref() == Some(r.run_id()));
            return (report(Outcome::Unchanged, held.or(Some(run))), warnings);
        }
        if run.is_empty() {
            warnings.push(format!(
                "{key}: {} has no rows; the month is not blanked",
                run.describe()
            ));
            continue;
        }
        let blobs = match check_blobs(source, run) {
            Ok(blobs) => blobs,
            Err(why) => {
                warnings.push(format!(
                    "{key}: {} is incomplete ({why}; manifest {}); skipped until it is whole",
                    run.describe(),
                    source.file_name(&run.manifest_path)
                ));
                continue;
            }
        };
        match write_run(lake, source, &key, run, &blobs).await {
            Ok(Some(written)) => return (report(written, Some(run)), warnings),
            Ok(None) => {
                warnings.push(format!(
                    "{key}: {} holds fewer or more rows than its manifest says; skipped until it is whole",
                    run.describe()
                ));
            }
            Err(e) => return (report(Outcome::Failed(e.to_string()), Some(run)), warnings),
        }
    }
    (report(Outcome::Kept, None), warnings)
}

/// The run's blobs as objects of the source, when every one is there at its stated size.
fn check_blobs(source: &Source, run: &Run) -> Result<Vec<(Path, Option<u64>)>, String> {
    let m = &run.manifest;
    if let Some(count) = m.blob_count
        && count != m.blobs.len() as u64
    {
        return Err(format!(
            "the manifest lists {} blobs but says blobCount {count}",
            m.blobs.len()
        ));
    }
    let mut found = Vec::new();
    for blob in &m.blobs {
        let Some(path) = source.resolve(&run.manifest_path, &blob.blob_name) else {
            return Err(format!("{} is missing", blob.blob_name.trim()));
        };
        let size = source.objects[&path];
        if let Some(expected) = blob.byte_count
            && expected != size
        {
            return Err(format!(
                "{} has {size} bytes, the manifest says {expected}",
                blob.blob_name.trim()
            ));
        }
        found.push((path, blob.data_row_count));
    }
    Ok(found)
}

/// Streams the run's parts into the partition. `Ok(None)` when a row count disagrees with the
/// manifest (the partition is left as it was).
async fn write_run(
    lake: &Lake,
    source: &Source,
    key: &PartitionKey,
    run: &Run,
    blobs: &[(Path, Option<u64>)],
) -> Result<Option<Outcome>, IngestError> {
    let mut writer = lake.writer(key)?;
    let mut total = 0u64;
    let mut rounded = 0u64;
    for (path, expected) in blobs {
        let (rows, part_rounded) =
            match read_part(source, key.dataset, run, path, &mut writer).await {
                Ok(rows) => rows,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            };
        if expected.is_some_and(|n| n != rows) {
            writer.abort().await;
            return Ok(None);
        }
        total += rows;
        rounded += part_rounded;
    }
    if run.manifest.data_row_count.is_some_and(|n| n != total) {
        writer.abort().await;
        return Ok(None);
    }
    let written = writer.commit().await?;
    let entry = PartitionEntry {
        dataset: key.dataset.name().to_string(),
        enrollment: key.enrollment.clone(),
        billing_period: key.period.map(|p| p.to_string()),
        file: written.file.clone(),
        rows: written.rows,
        bytes: written.bytes,
        sha256: written.sha256,
        etag: Some(run.run_id().to_string()),
        fetched_at: Utc::now(),
        api_version: run
            .manifest
            .export_config
            .data_version
            .clone()
            .unwrap_or_default(),
        closed: false,
        source: format!("export {} ({})", run.export_name(), run.scope),
        cost_type: key.cost_type.map(str::to_string),
        submitted: Some(run.submitted),
    };
    lake.record(key, entry).await?;
    Ok(Some(Outcome::Ingested {
        rows: written.rows,
        bytes: written.bytes,
        rounded,
    }))
}

/// How a part is encoded: by its name first (`.csv.gz`, `.snappy.parquet`), else by the
/// manifest's delivery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartFormat {
    Csv,
    GzipCsv,
    Parquet,
}

fn part_format(path: &Path, run: &Run) -> PartFormat {
    let name = path.filename().unwrap_or("").to_ascii_lowercase();
    if name.ends_with(".parquet") {
        return PartFormat::Parquet;
    }
    if name.ends_with(".gz") {
        return PartFormat::GzipCsv;
    }
    if name.ends_with(".csv") {
        return PartFormat::Csv;
    }
    let delivery = run.manifest.delivery_config.as_ref();
    let format = delivery
        .and_then(|d| d.file_format.as_deref())
        .unwrap_or("");
    let compression = delivery
        .and_then(|d| d.compression_mode.as_deref())
        .unwrap_or("");
    if format.eq_ignore_ascii_case("parquet") {
        PartFormat::Parquet
    } else if compression.eq_ignore_ascii_case("gzip") {
        PartFormat::GzipCsv
    } else {
        PartFormat::Csv
    }
}

/// Streams one part into the writer; returns its data rows and how many decimals were
/// rounded.
async fn read_part(
    source: &Source,
    dataset: Dataset,
    run: &Run,
    path: &Path,
    writer: &mut PartitionWriter,
) -> Result<(u64, u64), IngestError> {
    let file = source.file_name(path);
    let io_err = |e: &dyn std::fmt::Display| IngestError::File {
        file: file.clone(),
        message: redact(&e.to_string()),
    };
    let decode_err = |source: DecodeError| IngestError::Decode {
        file: file.clone(),
        source,
    };
    let format = part_format(path, run);
    if format == PartFormat::Parquet {
        return read_parquet_part(source, dataset, path, writer, &file).await;
    }
    let mut stream = source
        .store
        .get(path)
        .await
        .map_err(|e| io_err(&e))?
        .into_stream();
    let mut table = CsvTable::new(dataset);
    let mut gunzip =
        (format == PartFormat::GzipCsv).then(|| flate2::write::MultiGzDecoder::new(Vec::new()));
    loop {
        let chunk = stream.next().await.transpose().map_err(|e| io_err(&e))?;
        let last = chunk.is_none();
        match (gunzip.as_mut(), chunk) {
            (Some(gz), Some(chunk)) => {
                use std::io::Write;
                gz.write_all(&chunk).map_err(|e| {
                    io_err(&format!("not gzip data the export could have written: {e}"))
                })?;
                // The inflated bytes are taken and the buffer kept for the next chunk.
                table.feed(gz.get_ref()).map_err(decode_err)?;
                gz.get_mut().clear();
            }
            (None, Some(chunk)) => table.feed(&chunk).map_err(decode_err)?,
            (_, None) => {
                if let Some(gz) = gunzip.take() {
                    let plain = gz
                        .finish()
                        .map_err(|e| io_err(&format!("the gzip data ends early: {e}")))?;
                    table.feed(&plain).map_err(decode_err)?;
                }
                table.finish().map_err(decode_err)?;
            }
        }
        if let Some(message) = &table.rows.header_problem {
            return Err(IngestError::File {
                file,
                message: message.clone(),
            });
        }
        if let Some(decoder) = table.rows.decoder.as_mut() {
            while let Some(batch) = decoder.next_batch(last).await {
                writer.write(&batch.map_err(decode_err)?).await?;
            }
        }
        if last {
            break;
        }
    }
    let rounded = table
        .rows
        .decoder
        .as_ref()
        .map_or(0, ParallelDecoder::rounded);
    Ok((table.rows.rows, rounded))
}

/// A CSV part being read: the scanner finds the records; the header row makes the decoder,
/// which splits and decodes the others in parallel.
struct CsvTable {
    scanner: CsvRecordScanner,
    rows: CsvRows,
}

struct CsvRows {
    dataset: Dataset,
    decoder: Option<ParallelDecoder>,
    /// Why the file is not this dataset's export, when its header says so.
    header_problem: Option<String>,
    rows: u64,
}

impl CsvTable {
    fn new(dataset: Dataset) -> CsvTable {
        CsvTable {
            scanner: CsvRecordScanner::new(),
            rows: CsvRows {
                dataset,
                decoder: None,
                header_problem: None,
                rows: 0,
            },
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let rows = &mut self.rows;
        self.scanner.feed(bytes, |record| rows.on_record(record))
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        let rows = &mut self.rows;
        self.scanner.finish(|record| rows.on_record(record))?;
        if rows.decoder.is_none() && rows.header_problem.is_none() {
            rows.header_problem = Some("the file is empty: not even a header row".into());
        }
        Ok(())
    }
}

impl CsvRows {
    fn on_record(&mut self, record: &[u8]) -> Result<(), DecodeError> {
        match &mut self.decoder {
            Some(d) => {
                d.push_row(record);
                self.rows += 1;
            }
            None => {
                let mut headers: Vec<String> = Vec::new();
                let mut splitter = CsvSplitter::new();
                let mut take = |cells: &[&str]| -> Result<(), DecodeError> {
                    headers.extend(cells.iter().map(|c| c.to_string()));
                    Ok(())
                };
                splitter.feed(record, &mut take)?;
                splitter.finish(&mut take)?;
                let names: Vec<&str> = headers.iter().map(String::as_str).collect();
                self.header_problem = header_problem(self.dataset, &names);
                self.decoder = Some(ParallelDecoder::with_format(
                    self.dataset,
                    RowFormat::Csv(headers.into()),
                    BATCH_ROWS,
                ));
            }
        }
        Ok(())
    }
}

/// A file none of whose headers names a column of the dataset is not that dataset's export.
fn header_problem(dataset: Dataset, headers: &[&str]) -> Option<String> {
    let probe = TableDecoder::new(dataset, headers);
    (probe.matched_columns() == 0).then(|| {
        format!(
            "no header names a column of {} (headers: {}); is this the right export type?",
            dataset.name(),
            probe.unknown_headers().join(", ")
        )
    })
}

/// A Parquet part: read with its own schema, each column seen as text and read like a CSV
/// cell, so both formats go through the one header table and the one set of value rules.
async fn read_parquet_part(
    source: &Source,
    dataset: Dataset,
    path: &Path,
    writer: &mut PartitionWriter,
    file: &str,
) -> Result<(u64, u64), IngestError> {
    use parquet::arrow::ParquetRecordBatchStreamBuilder;
    let err = |e: &dyn std::fmt::Display| IngestError::File {
        file: file.to_string(),
        message: redact(&e.to_string()),
    };
    let decode_err = |source: DecodeError| IngestError::Decode {
        file: file.to_string(),
        source,
    };
    let reader = StoreFile {
        store: source.store.clone(),
        path: path.clone(),
        size: source.objects[path],
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| err(&e))?
        .with_batch_size(BATCH_ROWS);
    let headers: Vec<&str> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    if let Some(message) = header_problem(dataset, &headers) {
        return Err(err(&message));
    }
    let mut decoder = ParallelDecoder::with_format(
        dataset,
        RowFormat::Cells(headers.iter().map(|h| h.to_string()).collect()),
        BATCH_ROWS,
    );
    let mut stream = builder.build().map_err(|e| err(&e))?;
    loop {
        let batch = stream.next().await.transpose().map_err(|e| err(&e))?;
        let last = batch.is_none();
        if let Some(batch) = batch {
            let texts = batch
                .columns()
                .iter()
                .map(|c| arrow::compute::cast(c, &DataType::Utf8))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e))?;
            let texts: Vec<_> = texts.iter().map(|c| c.as_string::<i32>()).collect();
            let mut cells = vec![""; texts.len()];
            for row in 0..batch.num_rows() {
                for (cell, column) in cells.iter_mut().zip(&texts) {
                    *cell = if column.is_null(row) {
                        ""
                    } else {
                        column.value(row)
                    };
                }
                decoder.push_cells(&cells);
            }
        }
        while let Some(out) = decoder.next_batch(last).await {
            writer.write(&out.map_err(decode_err)?).await?;
        }
        if last {
            break;
        }
    }
    Ok((decoder.rows(), decoder.rounded()))
}

/// A Parquet part read in ranges from the source's store.
struct StoreFile {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl parquet::arrow::async_reader::AsyncFileReader for StoreFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<bytes::Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a parquet::arrow::arrow_reader::ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<
        'a,
        parquet::errors::Result<Arc<parquet::file::metadata::ParquetMetaData>>,
    > {
        Box::pin(async move {
            let size = self.size;
            let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        })
    }
}
