//! The EA Reporting API client: base URL and versioned endpoint paths, the bearer key (sent to
//! the configured host only), `nextLink` checking, and retries with exponential backoff and
//! jitter that honour both of the service's retry-after headers, all decided in one place.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderMap, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::schema::ApiVersion;

/// The real service.
pub const DEFAULT_API_BASE: &str = "https://consumption.azure.com";

/// The header the service sends with 429.
pub const RATE_LIMIT_RETRY_AFTER: &str = "x-ms-ratelimit-microsoft.consumption-retry-after";

/// An API key: never printed, logged or stored.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Result<ApiKey, ApiError> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            return Err(ApiError::Config("the API key is empty".into()));
        }
        if key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ApiError::Config("the API key contains spaces or control characters; copy it again from the Azure portal".into()));
        }
        Ok(ApiKey(key))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// What is retried, how often and how long for.
///
/// Retried: 429 (after `x-ms-ratelimit-microsoft.consumption-retry-after`), 503 (after
/// `Retry-After`), 500, 502, 504 and 408, connection failures, timeouts and bodies cut short.
/// Not retried: 400, 401, 403, 404 and other 4xx, which no amount of waiting fixes.
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
            // The service can take minutes for a big page; the docs advise long timeouts.
            request_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(20),
        }
    }
}

/// Every way a call can fail, each with the sentence a user needs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Config(String),
    #[error(
        "the API key was refused (401) for {url}: {message}. EA API keys expire every six months and a department or account key cannot read every report: generate a new enrollment key in the Azure portal (Cost Management + Billing → Usage + Charges → Manage API Access Keys) and set COSTLAKE_API_KEY"
    )]
    Unauthorized { url: String, message: String },
    #[error("the API rejected the request (400) {url}: {message}")]
    BadRequest { url: String, message: String },
    #[error("the API has no such report (404) {url}: {message}")]
    NotFound { url: String, message: String },
    #[error("the API answered {status} for {url}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("gave up on {url} after {attempts} attempts over {elapsed:.0?}: {last}")]
    Exhausted {
        url: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error(
        "refusing to follow nextLink {link}: it points to {found}, not to the API host {expected}; the API key is only ever sent to the API host"
    )]
    ForeignLink {
        link: String,
        found: String,
        expected: String,
    },
    #[error(
        "refusing plain HTTP to {0}: use https (plain http is allowed only to a loopback address such as the local emulator)"
    )]
    Insecure(String),
}

impl ApiError {
    /// Whether the failure is about the key (then every other request will fail the same way).
    pub fn is_auth(&self) -> bool {
        matches!(self, ApiError::Unauthorized { .. })
    }
}

/// A successful GET.
pub enum Fetched<T> {
    /// 304: the data is unchanged since the ETag sent.
    NotModified,
    Body {
        body: T,
        etag: Option<String>,
    },
}

/// How one attempt ended, decided in one place.
enum Outcome {
    Retry {
        reason: String,
        server_wait: Option<Duration>,
    },
    Fail(ApiError),
}

/// The client of one API host.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: ApiKey,
    retry: RetryConfig,
}

/// Whether plain HTTP may go to this host: loopback only.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn origin(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

impl Client {
    pub fn new(base: &str, key: ApiKey, retry: RetryConfig) -> Result<Client, ApiError> {
        let base = Url::parse(base.trim_end_matches('/')).map_err(|e| {
            ApiError::Config(format!(
                "--api-base '{base}' is not a URL ({e}); write e.g. https://consumption.azure.com"
            ))
        })?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            "http" => return Err(ApiError::Insecure(base.to_string())),
            other => {
                return Err(ApiError::Config(format!(
                    "--api-base must be an https URL, not {other}:"
                )));
            }
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .gzip(true)
            .timeout(retry.request_timeout)
            .connect_timeout(retry.connect_timeout)
            // Redirects would carry the key elsewhere; the API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("costlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            key,
            retry,
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `path` (starting at `enrollments/…`) under `version`.
    pub fn url(&self, version: ApiVersion, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!(
            "{prefix}/{}/{}",
            version.prefix(),
            path.trim_start_matches('/')
        ));
        url
    }

    /// Resolves a `nextLink` and checks that it stays on the API host: the key goes nowhere
    /// else.
    pub fn check_link(&self, link: &str) -> Result<Url, ApiError> {
        let url = self.base.join(link).map_err(|e| {
            ApiError::Config(format!(
                "the API sent a nextLink that is not a URL ({e}): {link}"
            ))
        })?;
        self.ensure_api_host(&url)?;
        Ok(url)
    }

    /// The one check that keeps the key on the API host: same scheme, host and port.
    fn ensure_api_host(&self, url: &Url) -> Result<(), ApiError> {
        if origin(url) != origin(&self.base) {
            return Err(ApiError::ForeignLink {
                link: redact_query(url),
                found: origin(url),
                expected: origin(&self.base),
            });
        }
        Ok(())
    }

    /// GETs `url` and reads the whole body, retrying what is worth retrying (a body cut short
    /// included).
    pub async fn get_bytes(
        &self,
        url: &Url,
        etag: Option<&str>,
        retries: &mut u32,
    ) -> Result<Fetched<Bytes>, ApiError> {
        self.with_retry(url, etag, retries, |resp| async move { resp.bytes().await })
            .await
    }

    /// GETs `url` and hands back the body as a stream once the status is OK. A failure while
    /// reading the stream is the caller's to retry.
    pub async fn get_stream(
        &self,
        url: &Url,
        etag: Option<&str>,
        retries: &mut u32,
    ) -> Result<Fetched<impl Stream<Item = reqwest::Result<Bytes>> + use<>>, ApiError> {
        self.with_retry(
            url,
            etag,
            retries,
            |resp| async move { Ok(resp.bytes_stream()) },
        )
        .await
    }

    async fn with_retry<T, F, Fut>(
        &self,
        url: &Url,
        etag: Option<&str>,
        retries: &mut u32,
        read: F,
    ) -> Result<Fetched<T>, ApiError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = reqwest::Result<T>>,
    {
        self.ensure_api_host(url)?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = match self.send(url, etag).await {
                Ok(resp) if resp.status() == StatusCode::NOT_MODIFIED => {
                    return Ok(Fetched::NotModified);
                }
                Ok(resp) if resp.status().is_success() => {
                    let etag = resp
                        .headers()
                        .get(ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match read(resp).await {
                        Ok(body) => return Ok(Fetched::Body { body, etag }),
                        Err(e) => Outcome::Retry {
                            reason: format!("the answer broke off: {}", error_chain(&e)),
                            server_wait: None,
                        },
                    }
                }
                Ok(resp) => classify(url, resp).await,
                Err(e) => Outcome::Retry {
                    reason: error_chain(&e),
                    server_wait: None,
                },
            };
            match outcome {
                Outcome::Fail(err) => return Err(err),
                Outcome::Retry {
                    reason,
                    server_wait,
                } => {
                    let elapsed = started.elapsed();
                    if attempt > self.retry.max_retries || elapsed >= self.retry.budget {
                        return Err(ApiError::Exhausted {
                            url: redact_query(url),
                            attempts: attempt,
                            elapsed,
                            last: reason,
                        });
                    }
                    let wait = match server_wait {
                        Some(hint) => {
                            hint.min(self.retry.max_server_wait)
                                + jitter(Duration::from_millis(250))
                        }
                        None => jitter(backoff(&self.retry, attempt)),
                    };
                    let wait = wait.min(self.retry.budget.saturating_sub(elapsed));
                    *retries += 1;
                    tracing::info!(url = %redact_query(url), attempt, wait_ms = wait.as_millis() as u64, "retrying: {reason}");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send(&self, url: &Url, etag: Option<&str>) -> reqwest::Result<reqwest::Response> {
        let mut req = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, format!("bearer {}", self.key.0))
            .header(ACCEPT, "application/json");
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        req.send().await
    }
}

/// rustls needs its crypto provider installed once before any client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    let r = crate::emulator::generator::mix(seed) as f64 / u64::MAX as f64;
    max.mul_f64(0.5 + 0.5 * r)
}

fn header_secs(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Decides what a non-success status means: the one place where retryable and permanent
/// failures are told apart.
async fn classify(url: &Url, resp: reqwest::Response) -> Outcome {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    let message = error_message(&body);
    let url = redact_query(url);
    match status.as_u16() {
        429 => Outcome::Retry {
            reason: "throttled (429)".into(),
            server_wait: header_secs(&headers, RATE_LIMIT_RETRY_AFTER)
                .or_else(|| header_secs(&headers, RETRY_AFTER.as_str())),
        },
        503 => Outcome::Retry {
            reason: "service unavailable (503)".into(),
            server_wait: header_secs(&headers, RETRY_AFTER.as_str()),
        },
        408 | 500 | 502 | 504 => Outcome::Retry {
            reason: format!("server error ({}): {message}", status.as_u16()),
            server_wait: None,
        },
        401 | 403 => Outcome::Fail(ApiError::Unauthorized { url, message }),
        400 => Outcome::Fail(ApiError::BadRequest { url, message }),
        404 => Outcome::Fail(ApiError::NotFound { url, message }),
        s => Outcome::Fail(ApiError::Status {
            url,
            status: s,
            message,
        }),
    }
}

/// The message of the service's error body `{"error":{"code":…,"message":…}}`, else the body's
/// start.
fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(m) = v.pointer("/error/message").and_then(|m| m.as_str())
    {
        return m.to_string();
    }
    let text: String = body.chars().take(200).collect();
    if text.trim().is_empty() {
        "no details given".into()
    } else {
        text.trim().to_string()
    }
}

/// A URL for messages: page tokens cut short (they are long and say nothing to a reader).
pub fn redact_query(url: &Url) -> String {
    let mut u = url.clone();
    if u.query().is_some_and(|q| q.len() > 80) {
        u.set_query(Some("…"));
    }
    u.to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Result<Client, ApiError> {
        Client::new(base, ApiKey::new("k").unwrap(), RetryConfig::default())
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(client("http://127.0.0.1:8080").is_ok());
        assert!(client("http://localhost:1").is_ok());
        assert!(client("http://[::1]:1").is_ok());
        assert!(matches!(
            client("http://consumption.azure.com"),
            Err(ApiError::Insecure(_))
        ));
        assert!(client("https://consumption.azure.com").is_ok());
        assert!(client("ftp://x").is_err());
    }

    #[test]
    fn links_stay_on_the_api_host() {
        let c = client("https://consumption.azure.com").unwrap();
        assert!(
            c.check_link("https://consumption.azure.com/v3/enrollments/1/usagedetails?skiptoken=x")
                .is_ok()
        );
        assert!(
            c.check_link("/v3/enrollments/1/usagedetails?skiptoken=x")
                .is_ok()
        );
        for bad in [
            "https://evil.example/v3/x",
            "http://consumption.azure.com/v3/x",
            "https://consumption.azure.com:444/v3/x",
            "https://consumption.azure.com.evil.example/v3/x",
        ] {
            assert!(
                matches!(c.check_link(bad), Err(ApiError::ForeignLink { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_are_versioned() {
        let c = client("https://consumption.azure.com/").unwrap();
        assert_eq!(
            c.url(
                ApiVersion::V3,
                "enrollments/100/billingPeriods/202401/usagedetails"
            )
            .as_str(),
            "https://consumption.azure.com/v3/enrollments/100/billingPeriods/202401/usagedetails"
        );
    }

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
    fn key_is_never_printed() {
        let key = ApiKey::new("secret-value").unwrap();
        assert!(!format!("{key:?}").contains("secret"));
        assert!(ApiKey::new("  ").is_err());
    }

    #[test]
    fn error_bodies_are_read() {
        assert_eq!(
            error_message(r#"{"error":{"code":"401","message":"nope"}}"#),
            "nope"
        );
        assert_eq!(error_message(""), "no details given");
    }
}
