//! Sources of billing data, as one abstraction. A [`Source`] plans units of work (a dataset ×
//! billing account × period, each one partition of the lake), fetches or reads each unit into a
//! partition file, and says where the data came from (a typed [`Provenance`]); the
//! [`runner`](run) runs the units with bounded concurrency and hands every result to the lake's
//! one publish path, [`Lake::publish`]. A failed unit loses nothing already in the lake and does
//! not stop the others.
//!
//! The sources: [`ea_api`] (the EA Reporting API, `costlake sync --enrollment`),
//! [`cost_management`] (the Cost Management and Consumption APIs signed in with Entra ID,
//! `costlake sync --billing-account`) and [`exports`] (Cost Management exports, `costlake
//! ingest`). A new source is a new folder here with a type that
//! implements [`Source`], and a command in the CLI that runs it; nothing else changes.

pub mod cost_management;
pub mod ea_api;
pub mod exports;
mod report;
mod runner;

use crate::lake::{Lake, LakeError, Manifest, PartitionWriter, Written};
use crate::model::{PartitionKey, Provenance};

pub use report::{Outcome, RunReport, UnitReport};
pub use runner::run;

/// What every API sync is asked besides where and as whom: the lake, which periods and
/// datasets, how many units at once, when a period counts as closed, and the HTTP policy.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub lake: String,
    pub periods: crate::model::PeriodSelection,
    pub datasets: Vec<crate::model::Dataset>,
    /// Units fetched at once.
    pub jobs: usize,
    /// The bytes of buffers all of them share: see [`crate::memory`].
    pub memory: u64,
    /// Fetch closed periods again too.
    pub refresh: bool,
    /// A period is closed once its end is this far in the past.
    pub settle: chrono::Duration,
    pub retry: crate::http::RetryConfig,
    pub limits: crate::http::Limits,
}

impl SyncSettings {
    /// Every period, four units at once in the default memory budget, closed 30 days after the end, the default HTTP policy.
    pub fn new(lake: impl Into<String>, datasets: Vec<crate::model::Dataset>) -> SyncSettings {
        SyncSettings {
            lake: lake.into(),
            periods: crate::model::PeriodSelection::All,
            datasets,
            jobs: 4,
            memory: crate::memory::DEFAULT_MEMORY,
            refresh: false,
            settle: chrono::Duration::days(30),
            retry: crate::http::RetryConfig::default(),
            limits: crate::http::Limits::default(),
        }
    }
}

/// A unit's failure: any error, shown to the user as its message.
pub type UnitError = Box<dyn std::error::Error + Send + Sync>;

/// A failure that stops a whole run (an unusable lake, a refused credential, a listing that
/// cannot be read), as opposed to one unit's.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error("{0}")]
    Other(String),
}

/// What a source plans, against what the lake already holds.
pub struct Plan<U> {
    /// How many things the source listed and what they are ("runs"), for the closing summary,
    /// where counting them tells the user something.
    pub found: Option<(usize, &'static str)>,
    /// The units to fetch, each with what the source needs to fetch it.
    pub units: Vec<(PartitionKey, U)>,
    /// Units skipped without a request (closed periods the lake already holds).
    pub skipped: Vec<UnitReport>,
    pub warnings: Vec<String>,
}

/// How a unit ended, as the source saw it.
pub enum Fetched {
    /// A new file for the partition, to publish with its provenance. `rounded` counts decimals
    /// that had non-zero digits past the lake's scale.
    Written {
        written: Written,
        provenance: Provenance,
        rounded: u64,
    },
    /// The data has not changed at the source (an HTTP 304, a run already held); the
    /// partition's provenance is confirmed as given (a period may have closed since).
    Unchanged { provenance: Option<Provenance> },
    /// Nothing complete to take yet (an export run still being written): the partition stays
    /// as it was.
    Kept,
}

/// A source of billing data: see the module documentation.
pub trait Source: Sync {
    /// What planning hands to fetching for one unit (a URL and an ETag, an export run's parts).
    type Unit: Send;

    /// How the closing summary counts the partitions it filled: "{n} fetched", "{n}
    /// partitions ingested".
    const WRITTEN: &'static str;

    /// The command that runs this source, as the lake's lease names its holder.
    const COMMAND: &'static str;

    /// Lists what the source has and decides what to fetch, given what the lake holds.
    fn plan(
        &self,
        manifest: &Manifest,
    ) -> impl Future<Output = Result<Plan<Self::Unit>, SourceError>> + Send;

    /// Fills one partition, writing through `ctx`.
    fn fetch(
        &self,
        unit: Self::Unit,
        ctx: &mut UnitContext<'_>,
    ) -> impl Future<Output = Result<Fetched, UnitError>> + Send;
}

/// Watches a run: the CLI draws progress from it; the library itself never prints.
pub trait Observer: Sync {
    /// A unit starts: what will hear of its progress.
    fn unit(&self, key: &PartitionKey) -> Box<dyn UnitMeter> {
        let _ = key;
        Box::new(Silent)
    }
}

/// The progress of one unit.
pub trait UnitMeter: Send + Sync {
    fn update(&self, rows: u64, bytes: u64, retries: u32) {
        let _ = (rows, bytes, retries);
    }
    fn done(self: Box<Self>, report: &UnitReport) {
        let _ = report;
    }
}

/// An observer that shows nothing.
pub struct Silent;

impl Observer for Silent {}
impl UnitMeter for Silent {}

/// What a source's `fetch` works with: the partition's key, a writer for its file, a place to
/// count retries and report progress, and warnings for the closing report.
pub struct UnitContext<'a> {
    pub key: &'a PartitionKey,
    lake: &'a Lake,
    meter: Box<dyn UnitMeter>,
    /// Retries so far, across every request of the unit.
    pub retries: u32,
    warnings: Vec<String>,
}

impl UnitContext<'_> {
    /// A writer of the unit's partition file (nothing is visible until it finishes, nothing
    /// published until the runner publishes it).
    pub fn writer(&self) -> Result<PartitionWriter, LakeError> {
        self.lake.writer(self.key)
    }

    /// Rows decoded and bytes read so far.
    pub fn progress(&self, rows: u64, bytes: u64) {
        self.meter.update(rows, bytes, self.retries);
    }

    /// A warning for the closing report: something skipped that the user should know of.
    pub fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }
}

/// Rows per decoded chunk, and per Arrow batch handed to a partition writer.
pub(crate) const BATCH_ROWS: usize = 8192;
