//! One month of cost details through `generateCostDetailsReport`: the POST answers 202 with a
//! `Location` to poll (waiting its `Retry-After`); the finished operation lists the report's
//! blobs, SAS links downloaded with no `Authorization` header and streamed, one after the
//! other, through the CSV reader `ingest` uses into the month's partition. A link that has
//! expired, or a blob cut short, asks for a new report; `NoDataFound` is an empty month.

use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::Deserialize;

use super::super::exports::ExportError;
use super::super::exports::csv::{CsvPart, read_stream};
use super::super::{Fetched, UnitContext, UnitError};
use super::{COST_DETAILS_API_VERSION, CostManagement, Metric};
use crate::http::{Answer, HttpError, Reply, redact_query};
use crate::lake::Written;
use crate::model::{Dataset, Provenance};

/// Reports asked for before a unit gives up on links that expire or blobs cut short.
const MAX_REPORTS: u32 = 3;
/// Polling waits: the service's `Retry-After` within these bounds, this when it sends none.
const MIN_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(120);
const DEFAULT_POLL: Duration = Duration::from_secs(30);

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
struct ReportBlob {
    blob_link: String,
    #[serde(default)]
    byte_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct OperationError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What a report came to.
enum Report {
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
    let mut last = String::new();
    for _ in 0..MAX_REPORTS {
        let report = generate(src, metric, ctx).await?;
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
        return Ok(Fetched::Written {
            written,
            rounded,
            provenance: Provenance::CostManagement {
                operation,
                api_version: COST_DETAILS_API_VERSION.into(),
                closed,
            },
        });
    }
    Err(format!("{MAX_REPORTS} reports could not be downloaded whole; the last: {last}").into())
}

/// Asks for the report and waits until it is ready.
async fn generate(
    src: &CostManagement,
    metric: Metric,
    ctx: &mut UnitContext<'_>,
) -> Result<Report, UnitError> {
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
    let mut reply = src
        .arm
        .send(Method::POST, &url, Some(&body), &mut ctx.retries)
        .await?;
    let started = Instant::now();
    let mut location: Option<Url> = None;
    let mut wait = DEFAULT_POLL;
    loop {
        match reply.status {
            204 => return Ok(Report::NoData { operation: None }),
            202 => {}
            // A 200 whose status still says running is a 202.
            _ => {
                if let Some(report) = finished(&reply)? {
                    return Ok(report);
                }
            }
        }
        if let Some(link) = reply.header("location") {
            location = Some(src.arm.check_link(link)?);
        }
        if let Some(w) = crate::http::retry::server_wait(&reply.headers) {
            wait = w.clamp(MIN_POLL, MAX_POLL);
        }
        let Some(poll) = &location else {
            return Err(format!(
                "the report for {} was accepted with no Location to follow: {}",
                ctx.key,
                redact_query(&url)
            )
            .into());
        };
        if started.elapsed() + wait > src.report_timeout {
            return Err(format!(
                "the report for {} was not ready after {:.0?}; the service may be busy: sync again later",
                ctx.key,
                started.elapsed()
            )
            .into());
        }
        tokio::time::sleep(wait).await;
        reply = src
            .arm
            .send(Method::GET, poll, None, &mut ctx.retries)
            .await?;
    }
}

/// The report of a finished operation; `None` while it still runs.
fn finished(reply: &Reply) -> Result<Option<Report>, UnitError> {
    let op: Operation = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("the report operation's answer is not what the API sends: {e}"))?;
    let status = op.status.as_deref().unwrap_or("");
    match status.to_ascii_lowercase().as_str() {
        "completed" => {
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
        "nodatafound" => Ok(Some(Report::NoData { operation: op.name })),
        "failed" => {
            let (code, message) = op
                .error
                .map(|e| (e.code.unwrap_or_default(), e.message.unwrap_or_default()))
                .unwrap_or_default();
            Err(format!("the service could not make the report ({code}): {message}").into())
        }
        "running" | "inprogress" | "queued" | "" => Ok(None),
        other => {
            Err(format!("the report operation has a status costlake does not know: {other}").into())
        }
    }
}

/// Streams the report's blobs into one partition file, in order.
async fn download(
    src: &CostManagement,
    blobs: &[ReportBlob],
    gzip: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<(Written, u64), DownloadError> {
    let mut writer = ctx.writer().map_err(|e| DownloadError::Final(e.into()))?;
    let mut header: Option<Vec<String>> = None;
    let (mut rounded, mut bytes) = (0u64, 0u64);
    for (i, blob) in blobs.iter().enumerate() {
        let file = format!("report blob {} of {}", i + 1, blobs.len());
        let got = read_blob(src, blob, &file, gzip, header.as_deref(), &mut writer, ctx).await;
        match got {
            Ok(read) => {
                rounded += read.rounded;
                bytes += read.bytes;
                header = read.header;
                ctx.progress(writer.rows(), bytes);
            }
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        }
    }
    match writer.finish().await {
        Ok(written) => Ok((written, rounded)),
        Err(e) => Err(DownloadError::Final(e.into())),
    }
}

async fn read_blob(
    src: &CostManagement,
    blob: &ReportBlob,
    file: &str,
    gzip: bool,
    header: Option<&[String]>,
    writer: &mut crate::lake::PartitionWriter,
    ctx: &mut UnitContext<'_>,
) -> Result<super::super::exports::csv::CsvRead, DownloadError> {
    let url = Url::parse(&blob.blob_link).map_err(|e| {
        DownloadError::Final(format!("{file}: the report's link is not a URL ({e})").into())
    })?;
    let mut backoff = src.blobs.backoff(&url);
    let stream = match src
        .blobs
        .get_stream(&url, None, &mut ctx.retries, &mut backoff)
        .await
    {
        Ok(Answer::Body { body, .. }) => body,
        Ok(Answer::NotModified) => {
            return Err(DownloadError::Again(format!("{file}: 304 to a plain GET")));
        }
        // A SAS link past its expiry answers 403 AuthenticationFailed.
        Err(HttpError::Unauthorized { .. }) => {
            return Err(DownloadError::Again(format!(
                "{file}: the link has expired"
            )));
        }
        Err(e) => return Err(DownloadError::Final(e.into())),
    };
    let csv = CsvPart {
        dataset: Dataset::CostDetails,
        file,
        gzip,
        header,
    };
    let limit = src.blobs.limits().max_stream_bytes;
    let stream = capped(stream, limit);
    let read = match read_stream(stream, &csv, writer).await {
        Ok(read) => read,
        Err(ExportError::Io { message, .. }) => {
            return Err(DownloadError::Again(format!("{file}: {message}")));
        }
        Err(e) => return Err(DownloadError::Final(e.into())),
    };
    if let Some(expected) = blob.byte_count
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
