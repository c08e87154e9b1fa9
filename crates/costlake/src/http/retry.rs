//! The one retry policy of every HTTP call: which failures are worth another attempt, how long
//! to wait (the server's retry-after where it sends one, else exponential backoff with full
//! jitter), and when to give up (a count and a total time budget). Modelled on the
//! `object_store` crate's `RetryConfig`; a caller whose attempt spans more than one request
//! (a streamed answer read to its end) drives the same [`Backoff`].

use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{HttpError, redact_query};

/// Whether a header is one of the rate-limit waits the Azure billing APIs send with a 429:
/// `x-ms-ratelimit-microsoft.consumption-retry-after` and the Cost Management family
/// (`…costmanagement-entity-`, `-tenant-`, `-clienttype-`, `-qpu-retry-after`), matched by
/// shape so that a bucket added later is honoured too.
fn is_rate_limit_wait(name: &str) -> bool {
    name.starts_with("x-ms-ratelimit-") && name.ends_with("retry-after")
}

/// The longest wait the answer asks for: `Retry-After` (seconds or an HTTP date) and every
/// rate-limit header; several buckets may be exhausted at once and only the largest wait
/// clears them all.
pub fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            header_value_secs(v).or_else(|| {
                let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
                let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
                Some(Duration::from_millis(secs.max(0) as u64))
            })
        });
    headers
        .iter()
        .filter(|(name, _)| is_rate_limit_wait(name.as_str()))
        .filter_map(|(_, v)| header_value_secs(v.to_str().ok()?))
        .chain(retry_after)
        .max()
}

/// What is retried, how often and how long for.
///
/// Retried: 429 (after the service's rate-limit retry-after header, else `Retry-After`), 503
/// (after `Retry-After`), 500, 502, 504 and 408, connection failures, timeouts and bodies cut
/// short. Not retried: 400, 401, 403, 404 and other 4xx, which no amount of waiting fixes.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with full jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A server's retry-after is honoured up to this long.
    pub max_server_wait: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub budget: Duration,
    /// Timeout of one request, body included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(120),
            budget: Duration::from_secs(15 * 60),
            // The EA service can take minutes for a big page; its docs advise long timeouts.
            request_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(20),
        }
    }
}

/// How one attempt ended when it did not succeed, decided in one place.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt, after the server's wait if it named one.
    Retry {
        reason: String,
        server_wait: Option<Duration>,
    },
    /// Final.
    Fail(HttpError),
}

/// The attempts at one URL: counts them, waits between them, and says when to stop.
pub struct Backoff<'a> {
    config: &'a RetryConfig,
    url: &'a Url,
    started: Instant,
    attempt: u32,
}

impl<'a> Backoff<'a> {
    pub fn new(config: &'a RetryConfig, url: &'a Url) -> Backoff<'a> {
        Backoff {
            config,
            url,
            started: Instant::now(),
            attempt: 1,
        }
    }

    /// Counts the time budget from now: an answer has started to arrive, so the time waited
    /// for it is not held against a retry of its reading.
    pub fn restart(&mut self) {
        self.started = Instant::now();
    }

    /// After a failed attempt: the final error, or a wait before the next attempt (counted
    /// in `retries`).
    pub async fn after(&mut self, failure: Failure, retries: &mut u32) -> Result<(), HttpError> {
        let (reason, server_wait) = match failure {
            Failure::Fail(err) => return Err(err),
            Failure::Retry {
                reason,
                server_wait,
            } => (reason, server_wait),
        };
        let elapsed = self.started.elapsed();
        if self.attempt > self.config.max_retries || elapsed >= self.config.budget {
            return Err(HttpError::Exhausted {
                url: redact_query(self.url),
                attempts: self.attempt,
                elapsed,
                last: reason,
            });
        }
        let wait = match server_wait {
            Some(hint) => {
                hint.min(self.config.max_server_wait) + jitter(Duration::from_millis(250))
            }
            None => jitter(backoff(self.config, self.attempt)),
        };
        let wait = wait.min(self.config.budget.saturating_sub(elapsed));
        *retries += 1;
        tracing::info!(url = %redact_query(self.url), attempt = self.attempt, wait_ms = wait.as_millis() as u64, "retrying: {reason}");
        tokio::time::sleep(wait).await;
        self.attempt += 1;
        Ok(())
    }
}

/// The exponential backoff before retry `attempt` (1-based), before jitter.
fn backoff(cfg: &RetryConfig, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    cfg.initial_backoff
        .saturating_mul(factor)
        .min(cfg.max_backoff)
}

/// Full jitter: a uniform draw in [max/2, max], so that parallel units do not retry in step.
fn jitter(max: Duration) -> Duration {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    let r = splitmix64(seed) as f64 / u64::MAX as f64;
    max.mul_f64(0.5 + 0.5 * r)
}

/// SplitMix64's finaliser: enough randomness for spreading retries, with no dependency.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn header_value_secs(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

/// Decides what a non-success status means: the one place where retryable and permanent
/// failures are told apart.
pub(super) async fn classify(
    url: &Url,
    mut resp: reqwest::Response,
    auth: &super::Auth,
    max_body: usize,
) -> Failure {
    let status = resp.status();
    let headers = resp.headers().clone();
    // Only the start of an error body is read: one that never ends must not hold the unit.
    let mut raw = Vec::new();
    while raw.len() < max_body {
        match resp.chunk().await {
            Ok(Some(chunk)) => raw.extend_from_slice(&chunk),
            _ => break,
        }
    }
    raw.truncate(max_body);
    let body = String::from_utf8_lossy(&raw);
    let (code, message) = error_message(&body);
    let url = redact_query(url);
    match status.as_u16() {
        429 => Failure::Retry {
            reason: "throttled (429)".into(),
            server_wait: server_wait(&headers),
        },
        503 => Failure::Retry {
            reason: "service unavailable (503)".into(),
            server_wait: server_wait(&headers),
        },
        // A token that expired in flight (or by a clock apart): one new token, then again.
        401 if code == "ExpiredAuthenticationToken"
            && let super::Auth::Entra(cred) = auth =>
        {
            cred.invalidate().await;
            Failure::Retry {
                reason: "the token expired; signing in again".into(),
                server_wait: Some(Duration::ZERO),
            }
        }
        408 | 500 | 502 | 504 => Failure::Retry {
            reason: format!("server error ({}): {message}", status.as_u16()),
            server_wait: None,
        },
        401 | 403 => Failure::Fail(HttpError::Unauthorized {
            url,
            status: status.as_u16(),
            hint: auth.when_refused(&code, &message),
            message,
        }),
        400 => Failure::Fail(HttpError::BadRequest { url, message }),
        404 => Failure::Fail(HttpError::NotFound { url, message }),
        s => Failure::Fail(HttpError::Status {
            url,
            status: s,
            message,
        }),
    }
}

/// The code and message of an Azure error body `{"error":{"code":…,"message":…}}` (a storage
/// service's XML `<Code>` too), else no code and the body's start.
fn error_message(body: &str) -> (String, String) {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(m) = v.pointer("/error/message").and_then(|m| m.as_str())
    {
        let code = v
            .pointer("/error/code")
            .and_then(|c| c.as_str())
            .unwrap_or("");
        return (code.to_string(), m.to_string());
    }
    let xml_code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_string())
        .unwrap_or_default();
    let text: String = body.chars().take(200).collect();
    let message = if text.trim().is_empty() {
        "no details given".into()
    } else {
        text.trim().to_string()
    };
    (xml_code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cfg = RetryConfig::default();
        assert_eq!(backoff(&cfg, 1), Duration::from_millis(500));
        assert_eq!(backoff(&cfg, 2), Duration::from_secs(1));
        assert_eq!(backoff(&cfg, 30), cfg.max_backoff);
        let j = jitter(Duration::from_secs(2));
        assert!(j >= Duration::from_secs(1) && j <= Duration::from_secs(2));
    }

    #[test]
    fn error_bodies_are_read() {
        assert_eq!(
            error_message(r#"{"error":{"code":"401","message":"nope"}}"#),
            ("401".into(), "nope".into())
        );
        assert_eq!(error_message("").1, "no details given");
        assert_eq!(
            error_message(
                "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code></Error>"
            )
            .0,
            "AuthenticationFailed"
        );
    }

    #[test]
    fn the_largest_of_disagreeing_waits_is_taken() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        h.insert(
            "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
            "7".parse().unwrap(),
        );
        h.insert(
            "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
            "31".parse().unwrap(),
        );
        h.insert(
            "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
            "oops".parse().unwrap(),
        );
        assert_eq!(server_wait(&h), Some(Duration::from_secs(31)));
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(server_wait(&h), Some(Duration::ZERO));
        assert_eq!(server_wait(&HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn a_backoff_gives_up_after_its_retries() {
        let cfg = RetryConfig {
            max_retries: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            ..RetryConfig::default()
        };
        let url = Url::parse("https://example.com/x").unwrap();
        let mut b = Backoff::new(&cfg, &url);
        let mut retries = 0;
        let again = || Failure::Retry {
            reason: "x".into(),
            server_wait: None,
        };
        assert!(b.after(again(), &mut retries).await.is_ok());
        assert!(b.after(again(), &mut retries).await.is_ok());
        assert!(matches!(
            b.after(again(), &mut retries).await,
            Err(HttpError::Exhausted { attempts: 3, .. })
        ));
        assert_eq!(retries, 2);
    }
}
