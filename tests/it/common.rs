//! Shared helpers: an emulator on a loopback port, a temporary lake, sync options that retry
//! fast, and totals read straight from the lake's Parquet files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Decimal128Type;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use costlake::http::{ApiKey, RetryConfig};
use costlake::model::Dataset;
use costlake::source::ea_api::SyncOptions;
use costlake::source::{RunReport, Silent, SourceError, SyncSettings};
use costlake_emulator::{DEMO_KEY, Emulator, EmulatorConfig, PeriodId};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub const SEED: u64 = 7;

/// Three closed periods, 2024-01 to 2024-03, small pages so that paging is exercised.
pub fn config(rows: u64) -> EmulatorConfig {
    costlake::http::install_crypto_provider();
    EmulatorConfig {
        seed: SEED,
        periods: 3,
        last_period: Some(PeriodId(202403)),
        rows_per_period: rows,
        page_size: 700,
        today: Some(NaiveDate::from_ymd_opt(2024, 6, 15).unwrap()),
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_retries: 6,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_server_wait: Duration::from_secs(2),
        budget: Duration::from_secs(60),
        // Generous: debug-built emulators under a parallel test load are slow to render pages.
        request_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
    }
}

pub fn sync_options(emu: &Emulator, lake: &Path) -> SyncOptions {
    SyncOptions {
        enrollment: emu.config().enrollment,
        api_base: emu.base_url(),
        key: ApiKey::new(DEMO_KEY).unwrap(),
        settings: SyncSettings {
            retry: fast_retry(),
            ..SyncSettings::new(lake.display().to_string(), Dataset::API.to_vec())
        },
    }
}

/// A sync that shows no progress.
pub async fn sync(opts: &SyncOptions) -> Result<RunReport, SourceError> {
    costlake::source::ea_api::sync(opts, &Silent).await
}

/// An emulator with `config`, and a lake fully synced from it.
pub async fn synced_with(config: EmulatorConfig) -> (Emulator, tempfile::TempDir) {
    let emu = start(config).await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(report.ok(), "{}", report.summary());
    (emu, dir)
}

/// Three closed periods of `rows` usage rows each, synced.
pub async fn synced(rows: u64) -> (Emulator, tempfile::TempDir) {
    synced_with(config(rows)).await
}

/// An emulator of three closed periods of `rows` usage rows each, and a lake ingested from its
/// export tree (in parts of 2,500 rows): the lake is the returned folder's `lake`.
pub async fn ingested(rows: u64) -> (Emulator, tempfile::TempDir) {
    let emu = start(config(rows)).await;
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("exports");
    crate::export_files::export_tree(emu.enrollment(), &tree, 2500).await;
    let out = crate::export_files::ingest(&tree, &work.path().join("lake"));
    assert!(out.status.success(), "{}", crate::export_files::text(&out));
    (emu, work)
}

pub fn partition_file(lake: &Path, dataset: Dataset, period: Option<PeriodId>) -> PathBuf {
    let mut p = lake.join(dataset.name()).join("enrollment=100");
    if let Some(period) = period {
        p = p.join(format!("billing_period={period}"));
    }
    p.join("part-0.parquet")
}

/// Rows and exact sums of two decimal columns in one partition file.
pub fn file_totals(file: &Path, sum_cols: &[&str]) -> (u64, Vec<i128>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(file).expect("partition file"),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut rows = 0;
    let mut sums = vec![0i128; sum_cols.len()];
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows() as u64;
        for (i, col) in sum_cols.iter().enumerate() {
            let a = batch
                .column_by_name(col)
                .unwrap()
                .as_primitive::<Decimal128Type>();
            sums[i] += a.iter().flatten().sum::<i128>();
            assert_eq!(a.null_count(), 0, "{col} has nulls");
        }
    }
    (rows, sums)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The partition files of a lake, by their path in it.
pub fn partition_files(lake: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = files_under(lake)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .map(|f| f.strip_prefix(lake).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

/// A file's rows as one batch, and how many row groups hold them.
pub fn read_partition(file: &Path) -> (RecordBatch, usize) {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    (
        arrow::compute::concat_batches(&schema, &batches).unwrap(),
        groups,
    )
}

/// Usage rows and exact cost per period, from the generator.
pub fn usage_by_period(
    e: &costlake_emulator::generator::Enrollment,
) -> std::collections::BTreeMap<String, (u64, i128)> {
    e.periods
        .iter()
        .map(|p| {
            let t = e.totals(p);
            (p.id.to_string(), (t.rows, t.cost))
        })
        .collect()
}
