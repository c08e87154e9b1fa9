//! The one HTTP client every source uses: a credential sent to the configured host only (a
//! link to any other scheme, host or port is refused before a request is made), plain HTTP
//! refused except to loopback, conditional GETs (`If-None-Match` → 304), and every call run
//! under the one retry policy in [`retry`].

mod auth;
pub mod entra;
pub mod retry;

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};

pub use auth::{ApiKey, Auth};
pub use entra::{EntraCredential, Secret};
pub use retry::{Backoff, Failure, RetryConfig};

/// How much a server may send, and how slowly: the bounds that keep a lying or broken server
/// from exhausting memory or holding a unit for ever.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most bytes of one answer (a page read whole, or a streamed answer), decompressed.
    /// A usage page is a few megabytes and a price sheet tens; gzip that inflates past this is
    /// refused as a bomb.
    pub max_answer_bytes: u64,
    /// The most bytes of an answer decoded as it streams (a month of usage in one answer):
    /// memory stays bounded whatever its size, so this only stops a server that never ends.
    pub max_stream_bytes: u64,
    /// The most of an error body read for its message.
    pub max_error_body: usize,
    /// The longest wait for the next bytes of an answer; the whole request is bounded by
    /// [`RetryConfig::request_timeout`].
    pub read_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_answer_bytes: 1 << 30,
            max_stream_bytes: 64 << 30,
            max_error_body: 4 << 10,
            read_timeout: std::time::Duration::from_secs(120),
        }
    }
}

/// Every way a call can fail, each with the sentence a user needs.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Config(String),
    #[error("the credential was refused ({status}) for {url}: {message}. {hint}")]
    Unauthorized {
        url: String,
        status: u16,
        message: String,
        hint: String,
    },
    #[error("signing in with {who} failed: {why}")]
    SignIn { who: String, why: String },
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
    #[error(
        "{url} sent more than {limit} MiB, past the limit of one answer (`max_answer_mib` in costlake.toml raises it)"
    )]
    TooLarge { url: String, limit: u64 },
    #[error("gave up on {url} after {attempts} attempts over {elapsed:.0?}: {last}")]
    Exhausted {
        url: String,
        attempts: u32,
        elapsed: std::time::Duration,
        last: String,
    },
    #[error(
        "refusing to follow the link {link} the API sent (a nextLink or Location): it points to {found}, not to the API host {expected}; the credential is only ever sent to the API host"
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

impl HttpError {
    /// Whether the failure is about the credential (then every other request will fail the
    /// same way).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            HttpError::Unauthorized { .. } | HttpError::SignIn { .. }
        )
    }
}

/// A whole answer: its status (a 2xx), headers and body.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A header's text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a successful conditional GET brought.
pub enum Answer<T> {
    /// 304: the data is unchanged since the ETag sent.
    NotModified,
    Body {
        body: T,
        etag: Option<String>,
    },
}

/// The client of one API host.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    retry: RetryConfig,
    limits: Limits,
}

/// Whether a URL's host is a loopback address: the only place plain HTTP may go.
pub fn is_loopback(url: &Url) -> bool {
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
    /// A client of the host at `base` (scheme, host, port and an optional path prefix).
    pub fn new(
        base: &str,
        auth: Auth,
        retry: RetryConfig,
        limits: Limits,
    ) -> Result<Client, HttpError> {
        let base = Url::parse(base.trim_end_matches('/')).map_err(|e| {
            HttpError::Config(format!(
                "the API base '{base}' is not a URL ({e}); write e.g. https://consumption.azure.com"
            ))
        })?;
        match base.scheme() {
            "https" => {}
            "http" if is_loopback(&base) => {}
            "http" => return Err(HttpError::Insecure(base.to_string())),
            other => {
                return Err(HttpError::Config(format!(
                    "the API base must be an https URL, not {other}:"
                )));
            }
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .gzip(true)
            .timeout(retry.request_timeout)
            .connect_timeout(retry.connect_timeout)
            .read_timeout(limits.read_timeout)
            // Redirects would carry the credential elsewhere; the APIs do not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("costlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            auth,
            retry,
            limits,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The error for an answer from `url` past `limit` bytes.
    pub fn too_large(&self, url: &Url, limit: u64) -> HttpError {
        HttpError::TooLarge {
            url: redact_query(url),
            limit: limit >> 20,
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Resolves a link the service sent (`nextLink`) and checks that it stays on the API host:
    /// the credential goes nowhere else.
    pub fn check_link(&self, link: &str) -> Result<Url, HttpError> {
        let url = self.base.join(link).map_err(|e| {
            HttpError::Config(format!(
                "the API sent a link (a nextLink or Location) that is not a URL ({e}): {link}"
            ))
        })?;
        self.ensure_allowed(&url)?;
        Ok(url)
    }

    /// The one check that keeps the credential on the API host: same scheme, host and port.
    /// A client with no credential (SAS links) may go to any host, over https or to loopback.
    fn ensure_allowed(&self, url: &Url) -> Result<(), HttpError> {
        if matches!(self.auth, Auth::Anonymous) {
            return match url.scheme() {
                "https" => Ok(()),
                "http" if is_loopback(url) => Ok(()),
                _ => Err(HttpError::Insecure(redact_query(url))),
            };
        }
        if origin(url) != origin(&self.base) {
            return Err(HttpError::ForeignLink {
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
    ) -> Result<Answer<Bytes>, HttpError> {
        let mut backoff = Backoff::new(&self.retry, url);
        loop {
            let failure = match self.get(url, etag).await? {
                Ok(Answer::NotModified) => return Ok(Answer::NotModified),
                Ok(Answer::Body { body, etag }) => match self.read_whole(url, body).await? {
                    Ok(body) => return Ok(Answer::Body { body, etag }),
                    Err(e) => Failure::Retry {
                        reason: format!("the answer broke off: {}", error_chain(&e)),
                        server_wait: None,
                    },
                },
                Err(failure) => failure,
            };
            backoff.after(failure, retries).await?;
        }
    }

    /// Reads a body whole, up to the answer limit.
    async fn read_whole(
        &self,
        url: &Url,
        mut resp: reqwest::Response,
    ) -> Result<reqwest::Result<Bytes>, HttpError> {
        let mut body = bytes::BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > self.limits.max_answer_bytes {
                        return Err(self.too_large(url, self.limits.max_answer_bytes));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Ok(body.freeze())),
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// GETs `url` and hands back the body as a stream once the status is OK, under the
    /// caller's `backoff` (from [`Client::backoff`]): a failure while reading the stream is the
    /// caller's to retry with the same one, so connecting and reading share one budget.
    pub async fn get_stream(
        &self,
        url: &Url,
        etag: Option<&str>,
        retries: &mut u32,
        backoff: &mut Backoff<'_>,
    ) -> Result<Answer<impl Stream<Item = reqwest::Result<Bytes>> + use<>>, HttpError> {
        loop {
            match self.get(url, etag).await? {
                Ok(Answer::NotModified) => return Ok(Answer::NotModified),
                Ok(Answer::Body { body, etag }) => {
                    // The answer is coming: the budget counts from here, not from the first try.
                    backoff.restart();
                    return Ok(Answer::Body {
                        body: body.bytes_stream(),
                        etag,
                    });
                }
                Err(failure) => backoff.after(failure, retries).await?,
            }
        }
    }

    /// The retry policy's state for attempts that span more than one request.
    pub fn backoff<'a>(&'a self, url: &'a Url) -> Backoff<'a> {
        Backoff::new(&self.retry, url)
    }

    /// Sends `method` to `url` (with a JSON `body` for a POST) and reads the whole answer,
    /// retrying what is worth retrying; any 2xx is handed back with its headers (a 202's
    /// `Location` and `Retry-After` are the caller's to follow).
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        retries: &mut u32,
    ) -> Result<Reply, HttpError> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let mut backoff = Backoff::new(&self.retry, url);
        loop {
            let failure = match self
                .attempt(method.clone(), url, None, body.clone())
                .await?
            {
                Ok(Answer::NotModified) => Failure::Retry {
                    reason: "304 Not Modified to a request that sent no ETag".into(),
                    server_wait: None,
                },
                Ok(Answer::Body { body: resp, .. }) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match self.read_whole(url, resp).await? {
                        Ok(body) => {
                            return Ok(Reply {
                                status,
                                headers,
                                body,
                            });
                        }
                        Err(e) => Failure::Retry {
                            reason: format!("the answer broke off: {}", error_chain(&e)),
                            server_wait: None,
                        },
                    }
                }
                Err(failure) => failure,
            };
            backoff.after(failure, retries).await?;
        }
    }

    /// One GET attempt.
    async fn get(
        &self,
        url: &Url,
        etag: Option<&str>,
    ) -> Result<Result<Answer<reqwest::Response>, Failure>, HttpError> {
        self.attempt(Method::GET, url, etag, None).await
    }

    /// One attempt: the response once its status is a success, or how it failed.
    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        etag: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Result<Answer<reqwest::Response>, Failure>, HttpError> {
        self.ensure_allowed(url)?;
        let mut req = self.http.request(method, url.clone());
        if let Some(value) = self.auth.header().await? {
            req = req.header(AUTHORIZATION, value);
        }
        if !matches!(self.auth, Auth::Anonymous) {
            req = req.header(ACCEPT, "application/json");
        }
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        if let Some(body) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let sent = std::time::Instant::now();
        let answer = req.send().await;
        log_request(url, &answer, sent);
        Ok(match answer {
            Ok(resp) if resp.status() == StatusCode::NOT_MODIFIED => Ok(Answer::NotModified),
            Ok(resp) if resp.status().is_success() => {
                let etag = resp
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                Ok(Answer::Body { body: resp, etag })
            }
            Ok(resp) => {
                Err(retry::classify(url, resp, &self.auth, self.limits.max_error_body).await)
            }
            Err(e) => Err(Failure::Retry {
                reason: error_chain(&e),
                server_wait: None,
            }),
        })
    }
}

/// rustls needs its crypto provider installed once before any client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A URL for messages and logs: a long query (page tokens, which say nothing to a reader) cut
/// short, and the value of any parameter whose name says it is a credential (a SAS `sig`, a
/// `code`, a `token`, a `key`) hidden whatever its length.
pub fn redact_query(url: &Url) -> String {
    let Some(query) = url.query() else {
        return url.to_string();
    };
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        [
            "sig",
            "token",
            "key",
            "secret",
            "code",
            "password",
            "credential",
        ]
        .iter()
        .any(|s| name.contains(s))
    };
    let shown = if query.len() > 80 {
        "…".to_string()
    } else if url.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                if secret(&k) {
                    format!("{k}=…")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        pairs.join("&")
    } else {
        return url.to_string();
    };
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    format!("{bare}?{shown}")
}

/// One request at debug level: its URL as [`redact_query`] shows it, its status (0 when no
/// answer came) and how long the answer took to start. Never a header or a body: they carry
/// the keys, secrets and tokens.
pub(crate) fn log_request(
    url: &Url,
    answer: &Result<reqwest::Response, reqwest::Error>,
    sent: std::time::Instant,
) {
    tracing::debug!(
        url = %redact_query(url),
        status = answer.as_ref().map_or(0, |r| r.status().as_u16()),
        ms = sent.elapsed().as_millis() as u64,
        "request"
    );
}

/// An error and its causes, in one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
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

    fn client(base: &str) -> Result<Client, HttpError> {
        Client::new(
            base,
            Auth::EaApiKey(ApiKey::new("k").unwrap()),
            RetryConfig::default(),
            Limits::default(),
        )
    }

    #[test]
    fn urls_in_messages_hide_credentials_and_long_tokens() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            redact_query(&url(
                "https://a.blob.core.windows.net/c/b?sv=2023&se=1&sig=AbC%2Bd"
            )),
            "https://a.blob.core.windows.net/c/b?sv=2023&se=1&sig=…"
        );
        assert_eq!(
            redact_query(&url("https://login.example/t/token?code=x&client_id=y")),
            "https://login.example/t/token?code=…&client_id=y"
        );
        let long = format!("https://h/p?api-version=1&$skiptoken={}", "z".repeat(90));
        assert_eq!(redact_query(&url(&long)), "https://h/p?…");
        assert_eq!(
            redact_query(&url("https://h/p?api-version=1")),
            "https://h/p?api-version=1"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(client("http://127.0.0.1:8080").is_ok());
        assert!(client("http://localhost:1").is_ok());
        assert!(client("http://[::1]:1").is_ok());
        assert!(matches!(
            client("http://consumption.azure.com"),
            Err(HttpError::Insecure(_))
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
                matches!(c.check_link(bad), Err(HttpError::ForeignLink { .. })),
                "{bad}"
            );
        }
    }
}
