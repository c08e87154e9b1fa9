//! `costlake sync`: plans which periods × datasets to fetch (open or closed, ETags from the
//! manifest), runs the units with bounded concurrency, streams each into a partition of the
//! lake, and reports what happened. A failed unit loses nothing already in the lake and does
//! not stop the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Url;

use crate::api::{ApiError, ApiKey, Client, Fetched, RetryConfig};
use crate::decode::{DecodeError, ParallelDecoder, RowScanner};
use crate::emulator::generator::PeriodId;
use crate::lake::{Lake, LakeError, PartitionEntry, PartitionKey, PartitionWriter};
use crate::schema::{ApiVersion, Col, Dataset};

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;
/// Times a streamed answer (price sheet, marketplace) is fetched again when it breaks off.
const STREAM_ATTEMPTS: u32 = 4;

/// Which billing periods to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodSelection {
    /// Every period the enrollment lists.
    All,
    /// From one period to another, inclusive.
    Range(PeriodId, PeriodId),
    /// From a period on.
    Since(PeriodId),
    /// The months covering a date range, through the custom-date endpoints.
    Dates(NaiveDate, NaiveDate),
}

impl PeriodSelection {
    /// Parses `202301..202306` or a single `202301`.
    pub fn parse_range(s: &str) -> Result<PeriodSelection, String> {
        let bad =
            || format!("'{s}' is not a period range; write 202301..202306 (or one period, 202301)");
        match s.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (
                    PeriodId::parse(a).ok_or_else(bad)?,
                    PeriodId::parse(b).ok_or_else(bad)?,
                );
                if a > b {
                    return Err(format!("'{s}': the first period comes after the last"));
                }
                Ok(PeriodSelection::Range(a, b))
            }
            None => {
                let p = PeriodId::parse(s).ok_or_else(bad)?;
                Ok(PeriodSelection::Range(p, p))
            }
        }
    }

    fn includes(&self, p: PeriodId) -> bool {
        match *self {
            PeriodSelection::All => true,
            PeriodSelection::Range(a, b) => a <= p && p <= b,
            PeriodSelection::Since(a) => a <= p,
            PeriodSelection::Dates(a, b) => PeriodId::of_date(a) <= p && p <= PeriodId::of_date(b),
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Live bars on a terminal.
    Bars,
    /// A line per finished unit.
    Lines,
    /// Nothing but errors.
    Quiet,
}

#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub enrollment: u64,
    pub api_base: String,
    pub key: ApiKey,
    pub lake: String,
    pub periods: PeriodSelection,
    pub datasets: Vec<Dataset>,
    pub jobs: usize,
    pub refresh: bool,
    /// A period is closed once its end is this far in the past.
    pub settle: chrono::Duration,
    pub retry: RetryConfig,
    pub progress: Progress,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{0}")]
    Other(String),
}

/// A unit's failure, with where it happened.
#[derive(Debug, thiserror::Error)]
enum UnitError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{0}")]
    Decode(String),
}

/// How a unit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fetched {
        rows: u64,
        bytes: u64,
    },
    /// 304: the data had not changed since the last sync.
    Unchanged,
    /// Closed, already in the lake: no request made.
    Skipped,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct UnitReport {
    pub dataset: Dataset,
    pub period: Option<PeriodId>,
    pub outcome: Outcome,
    pub retries: u32,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct SyncReport {
    pub units: Vec<UnitReport>,
    pub elapsed: Duration,
}

impl SyncReport {
    pub fn failed(&self) -> impl Iterator<Item = &UnitReport> {
        self.units
            .iter()
            .filter(|u| matches!(u.outcome, Outcome::Failed(_)))
    }

    pub fn ok(&self) -> bool {
        self.failed().next().is_none()
    }

    pub fn rows_fetched(&self) -> u64 {
        self.units
            .iter()
            .map(|u| {
                if let Outcome::Fetched { rows, .. } = u.outcome {
                    rows
                } else {
                    0
                }
            })
            .sum()
    }

    /// The closing summary.
    pub fn summary(&self) -> String {
        let count =
            |f: &dyn Fn(&Outcome) -> bool| self.units.iter().filter(|u| f(&u.outcome)).count();
        let fetched = count(&|o| matches!(o, Outcome::Fetched { .. }));
        let bytes: u64 = self
            .units
            .iter()
            .map(|u| {
                if let Outcome::Fetched { bytes, .. } = u.outcome {
                    bytes
                } else {
                    0
                }
            })
            .sum();
        let retries: u32 = self.units.iter().map(|u| u.retries).sum();
        let mut s = format!(
            "sync: {fetched} fetched ({} rows, {}), {} unchanged (304), {} skipped (closed), {} failed; {retries} retries; {:.1?}",
            thousands(self.rows_fetched()),
            human_bytes(bytes),
            count(&|o| *o == Outcome::Unchanged),
            count(&|o| *o == Outcome::Skipped),
            count(&|o| matches!(o, Outcome::Failed(_))),
            self.elapsed,
        );
        for u in self.failed() {
            if let Outcome::Failed(why) = &u.outcome {
                s.push_str(&format!(
                    "\n  failed: {}: {why}",
                    unit_name(u.dataset, u.period)
                ));
            }
        }
        s
    }
}

fn unit_name(dataset: Dataset, period: Option<PeriodId>) -> String {
    match period {
        Some(p) => format!("{} {p}", dataset.name()),
        None => dataset.name().to_string(),
    }
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// A period as the billing-period list describes it.
#[derive(Debug, Clone)]
struct ListedPeriod {
    id: PeriodId,
    end: DateTime<Utc>,
    has: Vec<Dataset>,
}

/// One unit of work.
struct Unit {
    key: PartitionKey,
    closed: bool,
    etag: Option<String>,
    custom_dates: Option<(NaiveDate, NaiveDate)>,
}

/// The shared state of a run.
struct Run {
    client: Client,
    lake: Lake,
    enrollment: u64,
    bars: Option<MultiProgress>,
    progress: Progress,
}

/// Runs a sync. Errors that stop everything (a refused key, an unusable lake, an unreadable
/// period list) are `Err`; a failed unit is reported in the `SyncReport`.
pub async fn run(opts: SyncOptions) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let client = Client::new(&opts.api_base, opts.key.clone(), opts.retry.clone())?;
    let lake = Lake::open(&opts.lake, true).await?;
    lake.remove_stale_files()
        .map_err(|e| SyncError::Other(format!("cannot tidy the lake at {}: {e}", opts.lake)))?;
    let manifest = lake.manifest().await?;
    let bars = match opts.progress {
        Progress::Bars => Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        _ => None,
    };
    let run = Arc::new(Run {
        client,
        lake,
        enrollment: opts.enrollment,
        bars,
        progress: opts.progress,
    });
    let now = Utc::now();

    // The period list decides what exists; it is small and always fetched (with its ETag).
    let list_key = PartitionKey {
        dataset: Dataset::BillingPeriods,
        cost_type: None,
        enrollment: opts.enrollment.to_string(),
        period: None,
    };
    let list_url = run.client.url(
        ApiVersion::V2,
        &format!("enrollments/{}/billingperiods", opts.enrollment),
    );
    let mut retries = 0;
    let list_started = Instant::now();
    let (list_bytes, list_etag) = match run.client.get_bytes(&list_url, None, &mut retries).await? {
        Fetched::Body { body, etag } => (body, etag),
        Fetched::NotModified => {
            return Err(SyncError::Other(format!(
                "{list_url} answered 304 Not Modified to a request that sent no ETag; a proxy between costlake and the API may be caching"
            )));
        }
    };
    let listed = parse_period_list(&list_bytes).map_err(|e| {
        SyncError::Other(format!(
            "the billing-period list from {list_url} is not what the API sends: {e}"
        ))
    })?;
    let mut units_report = Vec::new();
    if opts.datasets.contains(&Dataset::BillingPeriods) {
        let outcome = match write_rows(
            &run,
            &list_key,
            &list_bytes,
            list_etag,
            false,
            ApiVersion::V2,
        )
        .await
        {
            Ok((rows, bytes)) => Outcome::Fetched { rows, bytes },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        units_report.push(UnitReport {
            dataset: Dataset::BillingPeriods,
            period: None,
            outcome,
            retries,
            elapsed: list_started.elapsed(),
        });
    }

    let mut periods: Vec<ListedPeriod> = listed
        .into_iter()
        .filter(|p| opts.periods.includes(p.id))
        .collect();
    periods.sort_by_key(|p| p.id);
    if let PeriodSelection::Dates(a, b) = opts.periods {
        // Months the list lacks can still be asked for by date.
        let mut p = PeriodId::of_date(a);
        while p <= PeriodId::of_date(b) {
            if !periods.iter().any(|l| l.id == p) {
                let end = p
                    .last_day()
                    .and_hms_opt(23, 59, 59)
                    .expect("time")
                    .and_utc();
                periods.push(ListedPeriod {
                    id: p,
                    end,
                    has: vec![Dataset::UsageDetails, Dataset::MarketplaceCharges],
                });
            }
            p = p.next();
        }
        periods.sort_by_key(|p| p.id);
    }

    let mut units = Vec::new();
    for period in &periods {
        let closed = period.end + opts.settle < now;
        for &dataset in &opts.datasets {
            if dataset == Dataset::BillingPeriods || !period.has.contains(&dataset) {
                continue; // a null link: no data of that kind, no request
            }
            let key = PartitionKey {
                dataset,
                enrollment: opts.enrollment.to_string(),
                cost_type: None,
                period: Some(period.id),
            };
            let previous = manifest.get(&key);
            if let Some(prev) = previous
                && prev.closed
                && !opts.refresh
            {
                units_report.push(UnitReport {
                    dataset,
                    period: Some(period.id),
                    outcome: Outcome::Skipped,
                    retries: 0,
                    elapsed: Duration::ZERO,
                });
                continue;
            }
            let custom_dates = match opts.periods {
                PeriodSelection::Dates(..)
                    if matches!(dataset, Dataset::UsageDetails | Dataset::MarketplaceCharges) =>
                {
                    Some((period.id.first_day(), period.id.last_day()))
                }
                _ => None,
            };
            let etag = if opts.refresh {
                None
            } else {
                previous.and_then(|p| p.etag.clone())
            };
            units.push(Unit {
                key,
                closed,
                etag,
                custom_dates,
            });
        }
    }

    let results: Vec<UnitReport> = futures::stream::iter(units.into_iter().map(|unit| {
        let run = run.clone();
        async move { run_unit(&run, unit).await }
    }))
    .buffer_unordered(opts.jobs.max(1))
    .collect()
    .await;
    units_report.extend(results);
    units_report.sort_by_key(|u| (u.period, u.dataset));
    if let Some(bars) = &run.bars {
        let _ = bars.clear();
    }
    Ok(SyncReport {
        units: units_report,
        elapsed: started.elapsed(),
    })
}

fn parse_period_list(bytes: &[u8]) -> Result<Vec<ListedPeriod>, String> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let d = Dataset::BillingPeriods;
    let name = |col: Col| d.field(col).api;
    let mut out = Vec::new();
    for item in items {
        let id = match item.get(name(Col::BillingPeriodId)) {
            Some(serde_json::Value::String(s)) => PeriodId::parse(s),
            Some(serde_json::Value::Number(n)) => PeriodId::parse(&n.to_string()),
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "a billing period without a valid {}: {item}",
                name(Col::BillingPeriodId)
            )
        })?;
        let end = item
            .get(name(Col::BillingEnd))
            .and_then(|v| v.as_str())
            .and_then(|s| crate::decode::parse_timestamp(s).ok())
            .and_then(DateTime::from_timestamp_micros)
            .unwrap_or_else(|| {
                id.last_day()
                    .and_hms_opt(23, 59, 59)
                    .expect("time")
                    .and_utc()
            });
        let link = |col: Col| {
            item.get(name(col))
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        };
        let mut has = Vec::new();
        for (dataset, col) in [
            (Dataset::BalanceSummary, Col::BalanceSummaryLink),
            (Dataset::UsageDetails, Col::UsageDetailsLink),
            (Dataset::MarketplaceCharges, Col::MarketplaceChargesLink),
            (Dataset::PriceSheet, Col::PriceSheetLink),
        ] {
            if link(col) {
                has.push(dataset);
            }
        }
        out.push(ListedPeriod { id, end, has });
    }
    Ok(out)
}

/// The endpoint of a unit, and the API version it speaks.
fn unit_url(run: &Run, unit: &Unit) -> (Url, ApiVersion) {
    let e = run.enrollment;
    let p = unit.key.period.expect("per-period unit");
    let v = ApiVersion::V3;
    let path = match (unit.key.dataset, unit.custom_dates) {
        (Dataset::UsageDetails, Some((a, b))) => {
            format!("enrollments/{e}/usagedetailsbycustomdate?startTime={a}&endTime={b}")
        }
        (Dataset::MarketplaceCharges, Some((a, b))) => {
            format!("enrollments/{e}/marketplacechargesbycustomdate?startTime={a}&endTime={b}")
        }
        (Dataset::UsageDetails, None) => format!("enrollments/{e}/billingPeriods/{p}/usagedetails"),
        (Dataset::MarketplaceCharges, None) => {
            format!("enrollments/{e}/billingPeriods/{p}/marketplacecharges")
        }
        (Dataset::PriceSheet, _) => format!("enrollments/{e}/billingPeriods/{p}/pricesheet"),
        (Dataset::BalanceSummary, _) => {
            format!("enrollments/{e}/billingPeriods/{p}/balancesummary")
        }
        (other, _) => unreachable!("{} is not a sync unit", other.name()),
    };
    let (path, query) = path
        .split_once('?')
        .map_or((path.as_str(), None), |(a, b)| (a, Some(b)));
    let mut url = run.client.url(v, path);
    url.set_query(query);
    (url, v)
}

/// Live progress of one unit.
struct Meter {
    bar: Option<ProgressBar>,
    name: String,
    started: Instant,
}

impl Meter {
    fn new(run: &Run, name: String) -> Meter {
        let bar = run.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<28} {msg}").expect("template"),
            );
            bar.set_prefix(name.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Meter {
            bar,
            name,
            started: Instant::now(),
        }
    }

    fn update(&self, rows: u64, bytes: u64, retries: u32) {
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} rows  {}  {:.0} rows/s  {} retries",
                thousands(rows),
                human_bytes(bytes),
                rows as f64 / secs,
                retries
            ));
        }
    }

    fn done(self, run: &Run, report: &UnitReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let line = match &report.outcome {
            Outcome::Fetched { rows, bytes } => format!(
                "{:<28} {} rows, {} Parquet, {} retries, {:.1?}",
                self.name,
                thousands(*rows),
                human_bytes(*bytes),
                report.retries,
                report.elapsed
            ),
            Outcome::Unchanged => format!("{:<28} unchanged (304)", self.name),
            Outcome::Skipped => return,
            Outcome::Failed(why) => format!("{:<28} FAILED: {why}", self.name),
        };
        match (run.progress, &report.outcome) {
            (Progress::Quiet, Outcome::Failed(_)) => eprintln!("{line}"),
            (Progress::Quiet, _) => {}
            (_, _) => match &run.bars {
                Some(bars) => {
                    let _ = bars.println(line);
                }
                None => eprintln!("{line}"),
            },
        }
    }
}

async fn run_unit(run: &Run, unit: Unit) -> UnitReport {
    let started = Instant::now();
    let meter = Meter::new(run, unit.key.to_string());
    let mut retries = 0u32;
    let result = match unit.key.dataset {
        Dataset::UsageDetails => fetch_paged(run, &unit, &meter, &mut retries).await,
        Dataset::MarketplaceCharges | Dataset::PriceSheet => {
            fetch_streamed(run, &unit, &meter, &mut retries).await
        }
        Dataset::BalanceSummary => fetch_balance(run, &unit, &mut retries).await,
        other => unreachable!("{} is not a sync unit", other.name()),
    };
    let outcome = match result {
        Ok(Some((rows, bytes))) => Outcome::Fetched { rows, bytes },
        Ok(None) => Outcome::Unchanged,
        Err(e) => Outcome::Failed(e.to_string()),
    };
    let report = UnitReport {
        dataset: unit.key.dataset,
        period: unit.key.period,
        outcome,
        retries,
        elapsed: started.elapsed(),
    };
    meter.done(run, &report);
    report
}

/// Decodes rows into the writer as they come: chunks of rows are decoded on the blocking pool
/// while the unit goes on reading, and written in order.
struct Sink {
    decoder: ParallelDecoder,
    writer: PartitionWriter,
}

/// Why a sink could not take more rows.
enum SinkError {
    Decode(DecodeError),
    Lake(LakeError),
}

impl SinkError {
    /// The unit's error, a decode error naming where it happened.
    fn at(self, key: &PartitionKey, page: Option<u32>) -> UnitError {
        match self {
            SinkError::Decode(e) => located(key, page, e),
            SinkError::Lake(e) => e.into(),
        }
    }
}

impl Sink {
    fn new(run: &Run, key: &PartitionKey) -> Result<Sink, LakeError> {
        Ok(Sink {
            decoder: ParallelDecoder::new(key.dataset, BATCH_ROWS),
            writer: run.lake.writer(key)?,
        })
    }

    /// Writes the batches that are ready (with `all`, every row taken so far).
    async fn flush(&mut self, all: bool) -> Result<(), SinkError> {
        while let Some(batch) = self.decoder.next_batch(all).await {
            let batch = batch.map_err(SinkError::Decode)?;
            self.writer.write(&batch).await.map_err(SinkError::Lake)?;
        }
        Ok(())
    }

    /// Feeds JSON bytes through a scanner; the rows found are decoded as chunks fill.
    fn feed(&mut self, scanner: &mut RowScanner, bytes: &[u8]) -> Result<(), DecodeError> {
        self.decoder.feed(scanner, bytes)
    }

    async fn commit(
        mut self,
        run: &Run,
        key: &PartitionKey,
        etag: Option<String>,
        closed: bool,
        version: ApiVersion,
    ) -> Result<(u64, u64), UnitError> {
        if let Err(e) = self.flush(true).await {
            self.writer.abort().await;
            return Err(e.at(key, None));
        }
        let written = self.writer.commit().await?;
        let entry = PartitionEntry {
            dataset: key.dataset.name().to_string(),
            enrollment: key.enrollment.clone(),
            billing_period: key.period.map(|p| p.to_string()),
            file: written.file.clone(),
            rows: written.rows,
            bytes: written.bytes,
            sha256: written.sha256,
            etag,
            fetched_at: Utc::now(),
            api_version: version.prefix().to_string(),
            closed,
            source: "ea-api".into(),
            cost_type: None,
            submitted: None,
        };
        run.lake.record(key, entry).await?;
        Ok((written.rows, written.bytes))
    }
}

/// Where a decode error happened, for the message.
fn located(key: &PartitionKey, page: Option<u32>, err: DecodeError) -> UnitError {
    match page {
        Some(n) => UnitError::Decode(format!("{key}, page {n}: {err}")),
        None => UnitError::Decode(format!("{key}: {err}")),
    }
}

/// A page being fetched in the background, and the retries it took.
type PageFetch = tokio::task::JoinHandle<(Result<Fetched<Bytes>, ApiError>, u32)>;

/// Usage details: `nextLink` page after page; each page read whole (with retries) and decoded
/// into the partition, so memory holds one page and one batch.
async fn fetch_paged(
    run: &Run,
    unit: &Unit,
    meter: &Meter,
    retries: &mut u32,
) -> Result<Option<(u64, u64)>, UnitError> {
    let (first, version) = unit_url(run, unit);
    let mut sink = Sink::new(run, &unit.key)?;
    let mut url = first;
    let mut page = 0u32;
    let mut first_etag = None;
    let mut json_bytes = 0u64;
    let mut not_modified = false;
    // The next page is fetched while this one is decoded: its link is found by a quick scan
    // of the page before the rows are decoded.
    let mut prefetch: Option<PageFetch> = None;
    let result: Result<(), UnitError> = async {
        loop {
            page += 1;
            let fetched = match prefetch.take() {
                Some(task) => {
                    let (fetched, task_retries) = task.await.map_err(|e| {
                        UnitError::Decode(format!("{}: page fetch failed: {e}", unit.key))
                    })?;
                    *retries += task_retries;
                    fetched?
                }
                None => {
                    let etag_sent = if page == 1 {
                        unit.etag.as_deref()
                    } else {
                        None
                    };
                    run.client.get_bytes(&url, etag_sent, retries).await?
                }
            };
            let body = match fetched {
                Fetched::NotModified => {
                    not_modified = true;
                    return Ok(());
                }
                Fetched::Body { body, etag } => {
                    if page == 1 {
                        first_etag = etag;
                    }
                    body
                }
            };
            json_bytes += body.len() as u64;
            let located_here = |e| located(&unit.key, Some(page), e);
            // An empty page with a nextLink does not end the period; only the link does.
            let next = match RowScanner::next_link_of(&body).map_err(located_here)? {
                Some(link) => {
                    let next_url = run.client.check_link(&link)?;
                    let client = run.client.clone();
                    let task_url = next_url.clone();
                    prefetch = Some(tokio::spawn(async move {
                        let mut task_retries = 0;
                        let fetched = client.get_bytes(&task_url, None, &mut task_retries).await;
                        (fetched, task_retries)
                    }));
                    Some(next_url)
                }
                None => None,
            };
            let mut scanner = RowScanner::new();
            sink.feed(&mut scanner, &body).map_err(located_here)?;
            scanner.finish().map_err(located_here)?;
            if !scanner.is_envelope() {
                return Err(located_here(DecodeError::Shape(
                    "expected a page {id, data, nextLink}".into(),
                )));
            }
            sink.flush(false)
                .await
                .map_err(|e| e.at(&unit.key, Some(page)))?;
            meter.update(sink.decoder.rows(), json_bytes, *retries);
            match next {
                Some(next_url) => url = next_url,
                None => return Ok(()),
            }
        }
    }
    .await;
    if let Some(task) = prefetch {
        task.abort();
    }
    match result {
        Err(e) => {
            sink.writer.abort().await;
            Err(e)
        }
        Ok(()) if not_modified => {
            // 304 on the first page: what the lake has is current.
            sink.writer.abort().await;
            record_unchanged(run, unit).await?;
            Ok(None)
        }
        Ok(()) => sink
            .commit(run, &unit.key, first_etag, unit.closed, version)
            .await
            .map(Some),
    }
}

/// After a 304: the data is as recorded; only the closed flag may have changed.
async fn record_unchanged(run: &Run, unit: &Unit) -> Result<(), UnitError> {
    let manifest = run.lake.manifest().await?;
    if let Some(prev) = manifest.get(&unit.key)
        && prev.closed != unit.closed
    {
        let mut entry = prev.clone();
        entry.closed = unit.closed;
        entry.fetched_at = Utc::now();
        run.lake.record(&unit.key, entry).await?;
    }
    Ok(())
}

/// Price sheet and marketplace charges: one bare array, decoded as it streams in. If the
/// answer breaks off, the partition is dropped and the whole answer fetched again.
async fn fetch_streamed(
    run: &Run,
    unit: &Unit,
    meter: &Meter,
    retries: &mut u32,
) -> Result<Option<(u64, u64)>, UnitError> {
    let (url, version) = unit_url(run, unit);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut stream, etag) = match run
            .client
            .get_stream(&url, unit.etag.as_deref(), retries)
            .await?
        {
            Fetched::NotModified => {
                record_unchanged(run, unit).await?;
                return Ok(None);
            }
            Fetched::Body { body, etag } => (Box::pin(body), etag),
        };
        let mut sink = Sink::new(run, &unit.key)?;
        let mut scanner = RowScanner::new();
        let mut json_bytes = 0u64;
        let outcome: Result<(), Result<UnitError, String>> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Err(format!("the answer broke off: {e}")))?;
                json_bytes += chunk.len() as u64;
                sink.feed(&mut scanner, &chunk)
                    .map_err(|e| Ok(located(&unit.key, None, e)))?;
                sink.flush(false)
                    .await
                    .map_err(|e| Ok(e.at(&unit.key, None)))?;
                meter.update(sink.decoder.rows(), json_bytes, *retries);
            }
            scanner
                .finish()
                .map_err(|e| Ok(located(&unit.key, None, e)))?;
            if scanner.is_envelope() {
                return Err(Ok(located(
                    &unit.key,
                    None,
                    DecodeError::Shape("expected a JSON array".into()),
                )));
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                return sink
                    .commit(run, &unit.key, etag, unit.closed, version)
                    .await
                    .map(Some);
            }
            Err(Ok(fatal)) => {
                sink.writer.abort().await;
                return Err(fatal);
            }
            Err(Err(broken)) => {
                sink.writer.abort().await;
                if attempt >= STREAM_ATTEMPTS {
                    return Err(UnitError::Decode(format!(
                        "{}: {broken} ({attempt} attempts)",
                        unit.key
                    )));
                }
                *retries += 1;
                tracing::info!(unit = %unit.key, "fetching again: {broken}");
                tokio::time::sleep(Duration::from_millis(200 * attempt as u64)).await;
            }
        }
    }
}

/// Balance summary: one object, or (v3) a one-element array.
async fn fetch_balance(
    run: &Run,
    unit: &Unit,
    retries: &mut u32,
) -> Result<Option<(u64, u64)>, UnitError> {
    let (url, version) = unit_url(run, unit);
    let (body, etag) = match run
        .client
        .get_bytes(&url, unit.etag.as_deref(), retries)
        .await?
    {
        Fetched::NotModified => {
            record_unchanged(run, unit).await?;
            return Ok(None);
        }
        Fetched::Body { body, etag } => (body, etag),
    };
    write_rows(run, &unit.key, &body, etag, unit.closed, version)
        .await
        .map(Some)
}

/// Writes a small answer (an object, or an array of objects) as a partition. The values go
/// straight from the JSON text to the decoder: never through a parsed tree, whose numbers
/// would be f64.
async fn write_rows(
    run: &Run,
    key: &PartitionKey,
    body: &[u8],
    etag: Option<String>,
    closed: bool,
    version: ApiVersion,
) -> Result<(u64, u64), UnitError> {
    let mut sink = Sink::new(run, key)?;
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
        .unwrap_or(0);
    let decoded = if body.get(start) == Some(&b'{') {
        sink.decoder.push_row(&body[start..]);
        Ok(())
    } else {
        let mut scanner = RowScanner::new();
        sink.feed(&mut scanner, body)
            .and_then(|_| scanner.finish())
            .and_then(|_| {
                if scanner.is_envelope() {
                    Err(DecodeError::Shape(
                        "expected an object or an array of objects".into(),
                    ))
                } else {
                    Ok(())
                }
            })
    };
    if let Err(e) = decoded {
        sink.writer.abort().await;
        return Err(located(key, None, e));
    }
    sink.commit(run, key, etag, closed, version).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_ranges_parse() {
        assert_eq!(
            PeriodSelection::parse_range("202301..202306"),
            Ok(PeriodSelection::Range(PeriodId(202301), PeriodId(202306)))
        );
        assert_eq!(
            PeriodSelection::parse_range("202301"),
            Ok(PeriodSelection::Range(PeriodId(202301), PeriodId(202301)))
        );
        assert!(PeriodSelection::parse_range("202306..202301").is_err());
        assert!(PeriodSelection::parse_range("2023-01").is_err());
    }

    #[test]
    fn period_lists_are_read_leniently() {
        let list = br#"[{"billingPeriodId":201704,"billingStart":"2017-04-01T00:00:00Z","billingEnd":"2017-04-30T11:59:59Z",
            "balanceSummary":"/v1/enrollments/100/billingperiods/201704/balancesummary","usageDetails":"/v1/x","marketplaceCharges":null,"priceSheet":""}]"#;
        let p = parse_period_list(list).unwrap();
        assert_eq!(p[0].id, PeriodId(201704));
        assert_eq!(
            p[0].has,
            vec![Dataset::BalanceSummary, Dataset::UsageDetails]
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(human_bytes(2048), "2.0 KiB");
    }
}
