//! Cost Management exports (`costlake ingest`): the files Azure writes on a schedule into a
//! storage account, how most enterprises receive their billing data since 2024. Runs are found
//! by their `manifest.json`, never by folder names (`planner`); each partition takes the latest
//! complete run with rows, read part by part (`csv`, `parquet`) through the one header table
//! in `schema`.

pub(crate) mod csv;
mod legacy;
mod manifest;
mod parquet;
mod planner;
mod tree;

use object_store::path::Path;

pub use manifest::{Blob, DeliveryConfig, ExportConfig, RUN_MANIFEST, RunInfo, RunManifest};
pub use tree::ExportTree;

use super::{Fetched, Observer, Plan, RunReport, Source, SourceError, UnitContext, UnitError};
use crate::decode::DecodeError;
use crate::decode::table::TableDecoder;
use crate::lake::{Lake, LakeError, Manifest, WriteError, Written};
use crate::model::{Dataset, Provenance};
use manifest::{ExportRun, PartFormat};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("cannot list the exports at {location}: {message}")]
    List { location: String, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// The file could not be read to its end (a connection dropped, a store error).
    #[error("{file}: {message}")]
    Io { file: String, message: String },
    #[error("{file}: {source}")]
    Decode { file: String, source: DecodeError },
}

/// What `costlake ingest` was asked to do.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The datasets to take; the others' runs are left alone.
    pub datasets: Vec<Dataset>,
    /// Partitions ingested at once.
    pub jobs: usize,
    /// The bytes of buffers all of them share: see [`crate::memory`].
    pub memory: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            datasets: Dataset::EXPORTS.to_vec(),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            memory: crate::memory::DEFAULT_MEMORY,
        }
    }
}

/// Ingests every export run under `tree` into the lake.
pub async fn ingest(
    lake: &Lake,
    tree: &ExportTree,
    opts: &IngestOptions,
    observer: &dyn Observer,
) -> Result<RunReport, SourceError> {
    let source = Exports {
        tree,
        datasets: &opts.datasets,
    };
    let lake = lake
        .clone()
        .with_memory(crate::memory::MemoryBudget::new(opts.memory));
    super::run(&source, &lake, opts.jobs, observer).await
}

/// An export tree as a source.
pub struct Exports<'a> {
    pub tree: &'a ExportTree,
    pub datasets: &'a [Dataset],
}

/// One partition's candidate runs, newest first, and what the lake holds.
pub struct Unit {
    runs: Vec<ExportRun>,
    previous: Option<Provenance>,
}

impl Source for Exports<'_> {
    type Unit = Unit;
    const WRITTEN: &'static str = "partitions ingested";
    const COMMAND: &'static str = "ingest";

    async fn plan(&self, manifest: &Manifest) -> Result<Plan<Unit>, SourceError> {
        let mut warnings = Vec::new();
        let runs = planner::discover(self.tree, self.datasets, &mut warnings).await;
        let found = Some((runs.len(), "runs"));
        let units = planner::by_partition(runs, &mut warnings)
            .into_iter()
            .map(|(key, runs)| {
                let previous = manifest.get(&key).map(|e| e.provenance.clone());
                (key, Unit { runs, previous })
            })
            .collect();
        Ok(Plan {
            found,
            units,
            skipped: Vec::new(),
            warnings,
        })
    }

    /// Takes the newest complete run with rows, unless the lake already holds it (or a newer
    /// one).
    async fn fetch(&self, unit: Unit, ctx: &mut UnitContext<'_>) -> Result<Fetched, UnitError> {
        let key = ctx.key;
        for run in &unit.runs {
            if let Some(held) = &unit.previous
                && run.superseded_by(held)
            {
                return Ok(Fetched::Unchanged {
                    provenance: unit.previous.clone(),
                });
            }
            let described = run.provenance().describe();
            if run.is_empty() {
                ctx.warn(format!(
                    "{key}: {described} has no rows; the month is not blanked"
                ));
                continue;
            }
            let blobs = match planner::check_blobs(self.tree, run) {
                Ok(blobs) => blobs,
                Err(why) => {
                    ctx.warn(format!(
                        "{key}: {described} is incomplete ({why}; manifest {}); skipped until it is whole",
                        self.tree.file_name(&run.manifest_path)
                    ));
                    continue;
                }
            };
            match self.read_run(ctx, run, &blobs).await? {
                Some((written, rounded)) => {
                    return Ok(Fetched::Written {
                        written,
                        rounded,
                        provenance: run.provenance(),
                    });
                }
                None => ctx.warn(format!(
                    "{key}: {described} holds fewer or more rows than its manifest says; skipped until it is whole"
                )),
            }
        }
        Ok(Fetched::Kept)
    }
}

impl Exports<'_> {
    /// Streams the run's parts into the partition's file. `Ok(None)` when a row count
    /// disagrees with the manifest (nothing is written).
    async fn read_run(
        &self,
        ctx: &UnitContext<'_>,
        run: &ExportRun,
        blobs: &[(Path, Option<u64>)],
    ) -> Result<Option<(Written, u64)>, ExportError> {
        let mut writer = ctx.writer()?;
        let mut total = 0u64;
        let mut rounded = 0u64;
        let mut bytes = 0u64;
        for (path, expected) in blobs {
            let part = Part {
                tree: self.tree,
                path,
                dataset: ctx.key.dataset,
                file: self.tree.file_name(path),
            };
            let read = match run.part_format(path) {
                PartFormat::Parquet => parquet::read(&part, &mut writer).await,
                PartFormat::Csv => csv::read(&part, false, &mut writer).await,
                PartFormat::GzipCsv => csv::read(&part, true, &mut writer).await,
            };
            let (rows, part_rounded) = match read {
                Ok(read) => read,
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
            bytes += self.tree.objects[path];
            ctx.progress(writer.rows(), bytes);
        }
        if run.manifest.data_row_count.is_some_and(|n| n != total) {
            writer.abort().await;
            return Ok(None);
        }
        Ok(Some((writer.finish().await?, rounded)))
    }
}

/// One part of a run, being read.
struct Part<'a> {
    tree: &'a ExportTree,
    path: &'a Path,
    dataset: Dataset,
    /// The part's name for messages.
    file: String,
}

impl Part<'_> {
    fn error(&self, message: String) -> ExportError {
        ExportError::File {
            file: self.file.clone(),
            message,
        }
    }

    fn decode_error(&self, source: DecodeError) -> ExportError {
        ExportError::Decode {
            file: self.file.clone(),
            source,
        }
    }

    fn write_error(&self, e: WriteError) -> ExportError {
        match e {
            WriteError::Decode(e) => self.decode_error(e),
            WriteError::Lake(e) => e.into(),
        }
    }
}

/// A file none of whose headers names a column of the dataset is not that dataset's export.
/// Its headers are not shown: a file that is not an export may hold anything in its first line.
fn header_problem(dataset: Dataset, headers: &[&str]) -> Option<String> {
    let probe = TableDecoder::new(dataset, headers);
    (probe.matched_columns() == 0).then(|| {
        format!(
            "none of its {} headers names a column of {}; is this the right export type?",
            headers.len(),
            dataset.name()
        )
    })
}
