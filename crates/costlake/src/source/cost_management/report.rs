//! Reports that end in SAS-linked CSV blobs, and one month of cost details through
//! `generateCostDetailsReport`, the first of them: the POST answers 202 with a `Location` to
//! poll (waiting its `Retry-After`); the finished operation lists the report's blobs, SAS links
//! downloaded with no `Authorization` header (the next ones opened while one is read) and
//! streamed in order through the CSV reader `ingest` uses into the unit's partition. A link that
//! has expired, or a blob cut short, asks for a new report; `NoDataFound` is an empty month.
//! [`run`] is that loop for any report, given how to read its finished operation.

use reqwest::Url;
use serde::Deserialize;

use super::super::exports::ExportError;
use super::super::exports::csv::{CsvPart, read_stream};
use super::super::{Fetched, UnitContext, UnitError};
use super::lro::Status;
use super::{COST_DETAILS_API_VERSION, CostManagement, Metric};
use crate::http::{Answer, HttpError, Reply};
use crate::lake::Written;

/// Reports asked for before a unit gives up on links that expire or blobs cut short.
pub(super) const MAX_REPORTS: u32 = 3;

/// The finished operation (`CostDetailsOperationResults`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    manifest: Option<ReportManifest>,
    #[serde(default)]
    error: Option<OperationError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportManifest {
    #[serde(default)]
    blobs: Vec<ReportBlob>,
    #[serde(default)]
    compress_data: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReportBlob {
    pub(super) blob_link: String,
    #[serde(default)]
    pub(super) byte_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct OperationError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What a report came to.
pub(super) enum Report {
    Ready {
        operation: Option<String>,
        blobs: Vec<ReportBlob>,
        gzip: bool,
    },
    NoData {
        operation: Option<String>,
    },
}

/// Why a download stopped.
enum DownloadError {
    /// Worth a new report: a link expired, a blob cut short or broken off.
    Again(String),
    Final(UnitError),
}

pub(super) async fn cost_details(
    src: &CostManagement,
    metric: Metric,
    closed: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let period = ctx.key.period.expect("cost details are per month");
    let url = src.url(
        &format!("{}/{}", src.scope(), super::routes::GENERATE_COST_DETAILS),
        COST_DETAILS_API_VERSION,
    )?;
    // EA accounts ask by billing period; MCA accounts by dates (billingPeriod is EA-only).
    let body = if src.is_ea() {
        serde_json::json!({ "metric": metric.api(), "billingPeriod": period.to_string() })
    } else {
        serde_json::json!({ "metric": metric.api(), "timePeriod": {
            "start": period.first_day().to_string(), "end": period.last_day().to_string() } })
    };
    run(src, ctx, &url, Some(&body), finished, closed).await
}

/// Asks for a report at `url` (with `body`), waits until `finished` reads it ready, and streams
/// its blobs into the unit's partition; a link that expired or a blob cut short asks again.
pub(super) async fn run(
    src: &CostManagement,
    ctx: &mut UnitContext<'_>,
    url: &Url,
    body: Option<&serde_json::Value>,
    finished: impl Fn(&Reply) -> Result<Option<Report>, UnitError> + Copy,
    closed: bool,
) -> Result<Fetched, UnitError> {
    let mut last = String::new();
    for _ in 0..MAX_REPORTS {
        let report = super::lro::run(src, ctx, url, body, finished)
            .await?
            .unwrap_or(Report::NoData { operation: None });
        let (operation, written, rounded) = match report {
            Report::NoData { operation } => {
                // A month with no cost: an empty partition, not an error.
                let writer = ctx.writer()?;
                (operation, writer.finish().await?, 0)
            }
            Report::Ready {
                operation,
                blobs,
                gzip,
            } => match download(src, &blobs, gzip, ctx).await {
                Ok((written, rounded)) => (operation, written, rounded),
                Err(DownloadError::Again(why)) => {
                    ctx.retries += 1;
                    tracing::info!(unit = %ctx.key, "asking for a new report: {why}");
                    last = why;
                    continue;
                }
                Err(DownloadError::Final(e)) => return Err(e),
            },
        };
        return Ok(super::written(
            written,
            rounded,
            operation,
            COST_DETAILS_API_VERSION,
            closed,
        ));
    }
    Err(format!("{MAX_REPORTS} reports could not be downloaded whole; the last: {last}").into())
}

/// The report of a finished operation; `None` while it still runs.
fn finished(reply: &Reply) -> Result<Option<Report>, UnitError> {
    let op: Operation = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("the report operation's answer is not what the API sends: {e}"))?;
    match Status::of(op.status.as_deref()) {
        Status::Completed => {
            let manifest = op.manifest.unwrap_or(ReportManifest {
                blobs: Vec::new(),
                compress_data: false,
            });
            if manifest.blobs.is_empty() {
                return Ok(Some(Report::NoData { operation: op.name }));
            }
            Ok(Some(Report::Ready {
                operation: op.name,
                blobs: manifest.blobs,
                gzip: manifest.compress_data,
            }))
        }
        Status::NoData => Ok(Some(Report::NoData { operation: op.name })),
        Status::Failed => {
            let (code, message) = op
                .error
                .map(|e| (e.code.unwrap_or_default(), e.message.unwrap_or_default()))
                .unwrap_or_default();
            Err(format!("the service could not make the report ({code}): {message}").into())
        }
        Status::Running => Ok(None),
        Status::Unknown => Err(format!(
            "the report operation has a status costlake does not know: {}",
            op.status.unwrap_or_default()
        )
        .into()),
    }
}

/// Blobs whose request is under way while an earlier one is read: the next blob's round trip
/// and first bytes overlap this one's decoding, and memory holds at most what the connections
/// buffer.
const OPEN_AHEAD: usize = 2;

/// A blob's answer, its body not read yet.
type Opened = (String, Option<u64>, BlobStream);
type BlobStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// Streams the report's blobs into one partition file, in order, opening the next ones ahead.
async fn download(
    src: &CostManagement,
    blobs: &[ReportBlob],
    gzip: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<(Written, u64), DownloadError> {
    use futures::StreamExt;
    let mut writer = ctx.writer().map_err(|e| DownloadError::Final(e.into()))?;
    let retries = std::sync::atomic::AtomicU32::new(0);
    let count = blobs.len();
    // The futures are built first (they do nothing until polled) so the stream holds no
    // closure over borrowed blobs, which the Send bound of the unit's future cannot name.
    let requests: Vec<_> = (blobs.iter().enumerate())
        .map(|(i, blob)| {
            open(
                src,
                blob,
                format!("report blob {} of {count}", i + 1),
                &retries,
            )
        })
        .collect();
    let mut opened = futures::stream::iter(requests).buffered(OPEN_AHEAD);
    let mut header: Option<Vec<String>> = None;
    let (mut rounded, mut bytes) = (0u64, 0u64);
    let mut failed = None;
    while let Some(next) = opened.next().await {
        let read = match next {
            Ok((file, expected, stream)) => {
                let part = CsvPart {
                    dataset: ctx.key.dataset,
                    file: &file,
                    gzip,
                    header: header.as_deref(),
                };
                read_blob(src, &part, expected, stream, &mut writer).await
            }
            Err(e) => Err(e),
        };
        match read {
            Ok(read) => {
                rounded += read.rounded;
                bytes += read.bytes;
                header = read.header;
                ctx.progress(writer.rows(), bytes);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(opened);
    ctx.retries += retries.into_inner();
    if let Some(e) = failed {
        writer.abort().await;
        return Err(e);
    }
    match writer.finish().await {
        Ok(written) => Ok((written, rounded)),
        Err(e) => Err(DownloadError::Final(e.into())),
    }
}

/// Sends a blob's GET (with no credential) and waits for its status.
async fn open(
    src: &CostManagement,
    blob: &ReportBlob,
    file: String,
    retries: &std::sync::atomic::AtomicU32,
) -> Result<Opened, DownloadError> {
    let url = Url::parse(&blob.blob_link).map_err(|e| {
        DownloadError::Final(format!("{file}: the report's link is not a URL ({e})").into())
    })?;
    let mut backoff = src.blobs.backoff(&url);
    let mut tries = 0;
    let answer = src
        .blobs
        .get_stream(&url, None, &mut tries, &mut backoff)
        .await;
    retries.fetch_add(tries, std::sync::atomic::Ordering::Relaxed);
    match answer {
        Ok(Answer::Body { body, .. }) => Ok((file, blob.byte_count, Box::pin(body))),
        Ok(Answer::NotModified) => Err(DownloadError::Again(format!("{file}: 304 to a plain GET"))),
        // A SAS link past its expiry answers 403 AuthenticationFailed.
        Err(HttpError::Unauthorized { .. }) => Err(DownloadError::Again(format!(
            "{file}: the link has expired"
        ))),
        Err(e) => Err(DownloadError::Final(e.into())),
    }
}

/// Reads an opened blob through the CSV reader into the writer.
async fn read_blob(
    src: &CostManagement,
    csv: &CsvPart<'_>,
    expected: Option<u64>,
    stream: BlobStream,
    writer: &mut crate::lake::PartitionWriter,
) -> Result<super::super::exports::csv::CsvRead, DownloadError> {
    let file = csv.file;
    // A blob may not send more than the report lists for it.
    let limit = src.blobs.limits().max_stream_bytes;
    let stream = capped(stream, expected.map_or(limit, |n| n.min(limit)));
    let read = match read_stream(stream, csv, writer).await {
        Ok(read) => read,
        Err(ExportError::Io { message, .. }) => {
            return Err(DownloadError::Again(format!("{file}: {message}")));
        }
        Err(e) => return Err(DownloadError::Final(e.into())),
    };
    if let Some(expected) = expected
        && expected != read.bytes
    {
        return Err(DownloadError::Again(format!(
            "{file}: {} bytes arrived where the report lists {expected}",
            read.bytes
        )));
    }
    Ok(read)
}

/// Ends a stream with an error once it has given more than `limit` bytes: a blob that never
/// ends must not hold the unit for ever.
fn capped<S>(
    stream: S,
    limit: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, String>> + Unpin
where
    S: futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    use futures::StreamExt;
    let mut seen = 0u64;
    stream.map(move |chunk| {
        let chunk = chunk.map_err(|e| crate::http::error_chain(&e))?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(format!("sent more than {} MiB", limit >> 20));
        }
        Ok(chunk)
    })
}
