//! Azure Resource Manager's long-running operations as the cost APIs use them
//! (`final-state-via: location`): the request answers 202 with a `Location` to poll and a
//! `Retry-After` to wait; each poll answers 202 (with new headers or none, when the old ones
//! hold) until the result, a 200 whose body the caller reads, where a status that still says
//! running counts as a 202; a 204 means there is no result.

use std::time::{Duration, Instant};

use reqwest::{Method, Url};

use super::super::{UnitContext, UnitError};
use super::CostManagement;
use crate::http::{Reply, redact_query};

/// Polling waits: the service's `Retry-After` within these bounds, this when it sends none.
const MIN_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(120);
const DEFAULT_POLL: Duration = Duration::from_secs(30);

/// What an operation's `status` says, in every spelling the cost APIs use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Still running (also queued, not started, or no status at all).
    Running,
    Completed,
    /// Done, with nothing to download.
    NoData,
    Failed,
    /// A status costlake does not know.
    Unknown,
}

impl Status {
    pub(super) fn of(status: Option<&str>) -> Status {
        match status.unwrap_or("").to_ascii_lowercase().as_str() {
            "" | "running" | "inprogress" | "queued" | "notstarted" => Status::Running,
            "completed" => Status::Completed,
            "nodatafound" => Status::NoData,
            "failed" => Status::Failed,
            _ => Status::Unknown,
        }
    }
}

/// POSTs `body` to `url` and polls until `finished` reads a result from a 200 (`None` from it:
/// still running). `Ok(None)`: the service answered 204, no result.
pub(super) async fn run<T>(
    src: &CostManagement,
    ctx: &mut UnitContext<'_>,
    url: &Url,
    body: Option<&serde_json::Value>,
    finished: impl Fn(&Reply) -> Result<Option<T>, UnitError>,
) -> Result<Option<T>, UnitError> {
    let empty = serde_json::json!({});
    let mut reply = src
        .arm
        .send(
            Method::POST,
            url,
            Some(body.unwrap_or(&empty)),
            &mut ctx.retries,
        )
        .await?;
    let started = Instant::now();
    let mut location: Option<Url> = None;
    let mut wait = DEFAULT_POLL;
    loop {
        match reply.status {
            204 => return Ok(None),
            202 => {}
            _ => {
                if let Some(result) = finished(&reply)? {
                    return Ok(Some(result));
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
                "{}: the request was accepted with no Location to follow: {}",
                ctx.key,
                redact_query(url)
            )
            .into());
        };
        if started.elapsed() + wait > src.report_timeout {
            return Err(format!(
                "{} was not ready after {:.0?}; the service may be busy: sync again later",
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

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_spelling_of_a_status_is_read_once() {
        for running in [
            None,
            Some(""),
            Some("Running"),
            Some("InProgress"),
            Some("Queued"),
        ] {
            assert_eq!(Status::of(running), Status::Running, "{running:?}");
        }
        assert_eq!(Status::of(Some("NotStarted")), Status::Running);
        assert_eq!(Status::of(Some("Completed")), Status::Completed);
        assert_eq!(Status::of(Some("NoDataFound")), Status::NoData);
        assert_eq!(Status::of(Some("FAILED")), Status::Failed);
        assert_eq!(Status::of(Some("Timeout")), Status::Unknown);
    }
}
