//! A local emulator of the EA Reporting API (consumption.azure.com): routes under `/v1|/v2|/v3`
//! matched case-insensitively, bearer-key auth, the service's error bodies, ETags and 304s,
//! gzip, `nextLink` paging, injected faults, and its own Swagger document, all serving a
//! deterministic synthetic enrollment generated row by row as pages are requested.

pub mod exports;
pub mod generator;
mod render;
pub mod swagger;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use futures::StreamExt;
use tokio::sync::oneshot;

pub use generator::{Enrollment, EnrollmentSpec, PeriodId};
use generator::{Period, hash};

use crate::schema::ApiVersion;

/// The key the emulator accepts when none is given: printed at start, used by `demo`.
pub const DEMO_KEY: &str = "costlake-demo-key-0000000000000000";

/// Rows per usage page when not configured. The real page size is undocumented.
pub const DEFAULT_PAGE_SIZE: usize = 5000;

/// A fault the emulator can answer with instead of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `x-ms-ratelimit-microsoft.consumption-retry-after: 1`.
    RateLimited,
    /// 503 with `Retry-After: 1`.
    Unavailable,
    /// 500.
    ServerError,
    /// 200, then the connection is dropped halfway through the body.
    DropConnection,
    /// The answer starts only after [`FaultConfig::slow`].
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::RateLimited,
        Fault::Unavailable,
        Fault::ServerError,
        Fault::DropConnection,
        Fault::Slow,
    ];

    pub fn parse(s: &str) -> Option<Fault> {
        match s.trim().to_ascii_lowercase().as_str() {
            "429" | "rate-limited" | "throttle" => Some(Fault::RateLimited),
            "503" | "unavailable" => Some(Fault::Unavailable),
            "500" | "server-error" => Some(Fault::ServerError),
            "drop" | "drop-connection" => Some(Fault::DropConnection),
            "slow" => Some(Fault::Slow),
            _ => None,
        }
    }
}

/// Random faults, reproducible from the seed: the n-th request for a given URL always gets the
/// same answer. A URL is faulted at most `max_per_request` times, so a client that retries
/// always gets through.
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Probability that a request is answered with a fault.
    pub rate: f64,
    /// The faults drawn from.
    pub kinds: Vec<Fault>,
    pub slow: Duration,
    pub max_per_request: u32,
    /// Seconds sent in the retry-after headers of 429 and 503.
    pub retry_after_secs: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate: 0.0,
            kinds: Fault::ALL.to_vec(),
            slow: Duration::from_secs(3),
            max_per_request: 2,
            retry_after_secs: 1,
        }
    }
}

/// Everything that shapes the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub enrollment: u64,
    pub key: String,
    pub seed: u64,
    pub periods: u32,
    /// The newest period; `None` for the current month (then open).
    pub last_period: Option<PeriodId>,
    pub rows_per_period: u64,
    pub page_size: usize,
    pub faults: FaultConfig,
    /// Serve an empty page before every n-th usage page (0: never); the real service was seen to.
    pub empty_page_every: u32,
    /// Put this scheme://host:port in `nextLink`s instead of the request's own host (tests
    /// use it to check that clients do not follow links to other hosts).
    pub next_link_base: Option<String>,
    /// The day data runs to; `None` for today (UTC).
    pub today: Option<NaiveDate>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            enrollment: 100,
            key: DEMO_KEY.to_string(),
            seed: 1,
            periods: 6,
            last_period: None,
            rows_per_period: 20_000,
            page_size: DEFAULT_PAGE_SIZE,
            faults: FaultConfig::default(),
            empty_page_every: 0,
            next_link_base: None,
            today: None,
        }
    }
}

impl EmulatorConfig {
    /// The synthetic enrollment this configuration serves (and exports).
    pub fn enrollment(&self) -> Enrollment {
        Enrollment::new(self.spec())
    }

    fn spec(&self) -> EnrollmentSpec {
        let today = self.today.unwrap_or_else(|| Utc::now().date_naive());
        EnrollmentSpec {
            number: self.enrollment,
            seed: self.seed,
            periods: self.periods.max(1),
            last_period: self.last_period.unwrap_or_else(|| PeriodId::of_date(today)),
            rows_per_period: self.rows_per_period,
            today,
        }
    }
}

/// One request as the emulator saw it, for tests.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query as sent.
    pub uri: String,
    /// Whether an `Authorization` header was present.
    pub had_authorization: bool,
    pub if_none_match: Option<String>,
    pub status: u16,
}

const MAX_LOGGED_REQUESTS: usize = 200_000;

struct Shared {
    config: EmulatorConfig,
    enrollment: Enrollment,
    attempts: Mutex<HashMap<String, u32>>,
    scripted: Mutex<Vec<(String, Fault)>>,
    log: Mutex<Vec<RequestRecord>>,
}

/// A running emulator bound to a loopback port.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Starts the emulator on an ephemeral loopback port.
    pub async fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        Emulator::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn bind(config: EmulatorConfig, addr: SocketAddr) -> io::Result<Emulator> {
        let enrollment = Enrollment::new(config.spec());
        let shared = Arc::new(Shared {
            config,
            enrollment,
            attempts: Mutex::default(),
            scripted: Mutex::default(),
            log: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Emulator {
            shared,
            addr,
            shutdown: Some(tx),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the value for `--api-base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn enrollment(&self) -> &Enrollment {
        &self.shared.enrollment
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// Answers the next `times` requests whose path contains `path_contains` (case-insensitive)
    /// with `fault`.
    pub fn inject(&self, fault: Fault, path_contains: &str, times: usize) {
        let mut scripted = self.shared.scripted.lock().expect("fault lock");
        for _ in 0..times {
            scripted.push((path_contains.to_ascii_lowercase(), fault));
        }
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.lock().expect("log lock").clone()
    }

    pub fn clear_requests(&self) {
        self.shared.log.lock().expect("log lock").clear();
    }

    /// Stops accepting connections and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the task ends (Ctrl-C handling is the caller's).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// A refused request: the status and the message of the error body.
struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

fn reject(status: StatusCode, message: impl Into<String>) -> Reject {
    Reject(status, message.into())
}

/// An error answer in the service's shape: `{"error":{"code":"401","message":…}}`.
fn error(status: StatusCode, message: &str) -> Response {
    let mut body = String::from("{\"error\":{\"code\":\"");
    body.push_str(status.as_str());
    body.push_str("\",\"message\":");
    render::push_json_string(&mut body, message);
    body.push_str("}}");
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let method = parts.method.to_string();
    let uri = parts.uri.to_string();
    let headers = parts.headers.clone();
    let response = route(&shared, &parts, &headers).await;
    let mut log = shared.log.lock().expect("log lock");
    if log.len() < MAX_LOGGED_REQUESTS {
        log.push(RequestRecord {
            method,
            uri,
            had_authorization: headers.contains_key(header::AUTHORIZATION),
            if_none_match: headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            status: response.status().as_u16(),
        });
    }
    response
}

/// What a request asks for, once routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    BillingPeriods,
    BalanceSummary,
    Usage,
    Marketplace,
    PriceSheet,
}

/// Which rows: one period, or a custom date range.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Period(usize),
    Range(NaiveDate, NaiveDate),
}

fn query_params(req: &Parts) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(q) = req.uri.query() {
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.insert(k.to_ascii_lowercase(), percent_decode(v));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(shared: &Arc<Shared>, req: &Parts, headers: &HeaderMap) -> Response {
    let path = req.uri.path().to_ascii_lowercase();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if req.method != axum::http::Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only GET is supported by this endpoint.",
        );
    }
    if let ["swagger", "docs", v] = segments.as_slice() {
        return match ApiVersion::parse(v) {
            Some(version) if version != ApiVersion::V1 => (
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                swagger::document(version, &req_host(headers)).to_string(),
            )
                .into_response(),
            _ => error(StatusCode::NOT_FOUND, "Unavailable"),
        };
    }
    let (version, enrollment, rest) = match segments.as_slice() {
        [v, "enrollments", e, rest @ ..] if ApiVersion::parse(v).is_some() => {
            (ApiVersion::parse(v).expect("checked"), *e, rest)
        }
        _ => return error(StatusCode::NOT_FOUND, "Unavailable"),
    };
    // Authentication comes before anything that could reveal the enrollment's data.
    if let Err(message) = authorize(&shared.config.key, headers) {
        return error(StatusCode::UNAUTHORIZED, message);
    }
    if enrollment.parse::<u64>().ok() != Some(shared.config.enrollment) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid enrollment number '{enrollment}'."),
        );
    }
    let e = &shared.enrollment;
    let current = e.periods.len() - 1;
    let params = query_params(req);
    let by_period = |p: &str| -> Result<usize, Reject> {
        let id = PeriodId::parse(p).ok_or_else(|| {
            reject(
                StatusCode::BAD_REQUEST,
                format!(
                    "Invalid billing period '{p}'. A billing period is written yyyyMM, e.g. 201704."
                ),
            )
        })?;
        e.period(id).map(|p| p.index).ok_or_else(|| {
            reject(
                StatusCode::BAD_REQUEST,
                format!(
                    "No data found for billing period {id} of enrollment {}.",
                    e.spec.number
                ),
            )
        })
    };
    let routed: Result<(Resource, Scope), Reject> = match rest {
        ["billingperiods"] => Ok((Resource::BillingPeriods, Scope::Period(current))),
        ["balancesummary"] => Ok((Resource::BalanceSummary, Scope::Period(current))),
        ["usagedetails"] => Ok((Resource::Usage, Scope::Period(current))),
        ["marketplacecharges"] => Ok((Resource::Marketplace, Scope::Period(current))),
        ["pricesheet"] => Ok((Resource::PriceSheet, Scope::Period(current))),
        ["billingperiods", p, what] => {
            let resource = match *what {
                "balancesummary" => Some(Resource::BalanceSummary),
                "usagedetails" => Some(Resource::Usage),
                "marketplacecharges" => Some(Resource::Marketplace),
                "pricesheet" => Some(Resource::PriceSheet),
                _ => None,
            };
            match resource {
                Some(r) => by_period(p).map(|i| (r, Scope::Period(i))),
                None => Err(reject(StatusCode::NOT_FOUND, "Unavailable")),
            }
        }
        ["usagedetailsbycustomdate"] => {
            date_range(&params).map(|(a, b)| (Resource::Usage, Scope::Range(a, b)))
        }
        ["marketplacechargesbycustomdate"] => {
            date_range(&params).map(|(a, b)| (Resource::Marketplace, Scope::Range(a, b)))
        }
        _ => Err(reject(StatusCode::NOT_FOUND, "Unavailable")),
    };
    let (resource, scope) = match routed {
        Ok(r) => r,
        Err(rejected) => return rejected.into_response(),
    };
    // Faults come after routing so that bad requests still get their 4xx.
    let fault = next_fault(shared, &req.uri.to_string());
    match fault {
        Some(Fault::RateLimited) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests. Please retry after the time in the retry-after header.",
            );
            r.headers_mut().insert(
                "x-ms-ratelimit-microsoft.consumption-retry-after",
                HeaderValue::from(shared.config.faults.retry_after_secs),
            );
            return r;
        }
        Some(Fault::Unavailable) => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(shared.config.faults.retry_after_secs),
            );
            return r;
        }
        Some(Fault::ServerError) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "An error has occurred.");
        }
        Some(Fault::Slow) => tokio::time::sleep(shared.config.faults.slow).await,
        _ => {}
    }
    let token = params.get("skiptoken").cloned();
    let etag = format!(
        "\"{:016x}\"",
        hash(&[
            shared.config.seed,
            shared.config.enrollment,
            resource as u64,
            version as u64,
            match scope {
                Scope::Period(i) => e.periods[i].id.0 as u64,
                Scope::Range(a, b) => hash(&[date_key(a), date_key(b)]),
            },
            match scope {
                Scope::Period(i) => e.periods[i].days_with_data as u64,
                Scope::Range(..) => e.periods[current].days_with_data as u64,
            },
            e.spec.rows_per_period,
            token.as_deref().map_or(0, fnv1a),
        ])
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let body = match resource {
        Resource::BillingPeriods => Chunks::billing_periods(shared.clone()),
        Resource::BalanceSummary => {
            Chunks::balance_summary(shared.clone(), version, scope_period(scope, current))
        }
        Resource::PriceSheet => {
            Chunks::price_sheet(shared.clone(), version, scope_period(scope, current))
        }
        Resource::Marketplace => Chunks::marketplace(shared.clone(), version, scope),
        Resource::Usage => match usage_page(shared, req, headers, version, scope, token.as_deref())
        {
            Ok(chunks) => chunks,
            Err(rejected) => return rejected.into_response(),
        },
    };
    respond(body, etag, headers, fault == Some(Fault::DropConnection))
}

fn date_key(d: NaiveDate) -> u64 {
    fnv1a(&d.to_string())
}

fn scope_period(scope: Scope, current: usize) -> usize {
    match scope {
        Scope::Period(i) => i,
        Scope::Range(..) => current,
    }
}

fn authorize(key: &str, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err("Authorization header is missing. Send 'Authorization: bearer {API key}'.");
    };
    let value = value.to_str().unwrap_or("");
    let (scheme, token) = value.split_once(' ').unwrap_or(("", value));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(
            "The Authorization header must use the bearer scheme: 'Authorization: bearer {API key}'.",
        );
    }
    if token.trim() != key {
        return Err(
            "The API key is invalid or has expired. Generate a new key in the Azure portal.",
        );
    }
    Ok(())
}

/// Validates `startTime`/`endTime`: `yyyy-MM-dd`, start ≤ end, not before May 2014, at most
/// 36 months apart.
fn date_range(params: &HashMap<String, String>) -> Result<(NaiveDate, NaiveDate), Reject> {
    let get = |name: &str| -> Result<NaiveDate, Reject> {
        let v = params.get(&name.to_ascii_lowercase()).ok_or_else(|| {
            reject(
                StatusCode::BAD_REQUEST,
                format!("The query parameter '{name}' is required (yyyy-MM-dd)."),
            )
        })?;
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            reject(
                StatusCode::BAD_REQUEST,
                format!("Invalid {name} '{v}'. Dates are written yyyy-MM-dd."),
            )
        })
    };
    let (start, end) = (get("startTime")?, get("endTime")?);
    if start > end {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "startTime must not be after endTime.",
        ));
    }
    if start < NaiveDate::from_ymd_opt(2014, 5, 1).expect("date") {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "Data is available from 2014-05-01 onward.",
        ));
    }
    if end
        > start
            .checked_add_months(chrono::Months::new(36))
            .expect("date")
    {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "The date range must not exceed 36 months.",
        ));
    }
    Ok((start, end))
}

/// Decides the fault for this request: a scripted one first, else a seeded draw.
fn next_fault(shared: &Shared, uri: &str) -> Option<Fault> {
    let lower = uri.to_ascii_lowercase();
    {
        let mut scripted = shared.scripted.lock().expect("fault lock");
        if let Some(i) = scripted
            .iter()
            .position(|(p, _)| lower.contains(p.as_str()))
        {
            return Some(scripted.remove(i).1);
        }
    }
    let faults = &shared.config.faults;
    if faults.rate <= 0.0 || faults.kinds.is_empty() {
        return None;
    }
    let attempt = {
        let mut attempts = shared.attempts.lock().expect("attempt lock");
        let n = attempts.entry(lower.clone()).or_insert(0);
        *n += 1;
        *n - 1
    };
    if attempt >= faults.max_per_request {
        return None;
    }
    let h = hash(&[shared.config.seed, 0xFA, fnv1a(&lower), attempt as u64]);
    if (h >> 11) as f64 / (1u64 << 53) as f64 >= faults.rate {
        return None;
    }
    Some(faults.kinds[(generator::mix(h) % faults.kinds.len() as u64) as usize])
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| {
        (a ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn req_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

/// A usage page: the rows at the cursor, an envelope, and the `nextLink` to the rest.
fn usage_page(
    shared: &Arc<Shared>,
    req: &Parts,
    headers: &HeaderMap,
    version: ApiVersion,
    scope: Scope,
    token: Option<&str>,
) -> Result<Chunks, Reject> {
    let e = &shared.enrollment;
    let segments = runs(e, scope, |p| e.usage_rows(p));
    let (mut seg, mut offset, empty_served) = match token {
        None => (0usize, 0u64, false),
        Some(t) => decode_token(shared.config.seed, t)
            .filter(|(s, o, _)| {
                *s < segments.len().max(1) && segments.get(*s).is_none_or(|g| *o <= g.2 - g.1)
            })
            .ok_or_else(|| reject(StatusCode::BAD_REQUEST, "Invalid skiptoken."))?,
    };
    let page_size = shared.config.page_size.max(1) as u64;
    let page_number = segments[..seg.min(segments.len())]
        .iter()
        .map(|g| g.2 - g.1)
        .sum::<u64>()
        .saturating_add(offset)
        / page_size;
    let every = shared.config.empty_page_every as u64;
    let serve_empty =
        every > 0 && page_number % every == every - 1 && !empty_served && seg < segments.len();
    let mut rows: Vec<(usize, u64, u64)> = Vec::new(); // (period, start, end) runs of this page
    let mut left = if serve_empty { 0 } else { page_size };
    while left > 0 && seg < segments.len() {
        let (period, start, end) = segments[seg];
        let from = start + offset;
        let take = left.min(end - from);
        if take > 0 {
            rows.push((period, from, from + take));
        }
        left -= take;
        offset += take;
        if start + offset >= end {
            seg += 1;
            offset = 0;
        }
    }
    let next = if seg < segments.len() || serve_empty {
        let base = shared
            .config
            .next_link_base
            .clone()
            .unwrap_or_else(|| format!("http://{}", req_host(headers)));
        let mut link = format!("{base}{}?", req.uri.path());
        if let Scope::Range(a, b) = scope {
            link.push_str(&format!("startTime={a}&endTime={b}&"));
        }
        link.push_str("skiptoken=");
        link.push_str(&encode_token(shared.config.seed, seg, offset, serve_empty));
        Some(link)
    } else {
        None
    };
    let id = format!(
        "{:016x}",
        hash(&[shared.config.seed, 0x1D, page_number, seg as u64, offset])
    );
    Ok(Chunks::usage(shared.clone(), version, rows, id, next))
}

/// The runs of rows a scope covers, for a dataset with `rows(period)` rows per period spread
/// evenly over its days: (period index, first row, end row), in date order.
fn runs(e: &Enrollment, scope: Scope, rows: impl Fn(&Period) -> u64) -> Vec<(usize, u64, u64)> {
    match scope {
        Scope::Period(i) => vec![(i, 0, rows(&e.periods[i]))],
        Scope::Range(a, b) => e
            .periods
            .iter()
            .filter_map(|p| {
                let (first, last) = (
                    p.id.first_day(),
                    p.id.first_day() + chrono::Duration::days(p.days_with_data as i64 - 1),
                );
                let (from, to) = (a.max(first), b.min(last));
                if from > to {
                    return None;
                }
                let n = rows(p);
                let start =
                    generator::first_of_day(n, p.days_with_data, (from - first).num_days() as u32);
                let end = generator::first_of_day(
                    n,
                    p.days_with_data,
                    (to - first).num_days() as u32 + 1,
                );
                (end > start).then_some((p.index, start, end))
            })
            .collect(),
    }
}

fn token_check(seed: u64, seg: usize, offset: u64, empty: bool) -> u32 {
    hash(&[seed, 0x70, seg as u64, offset, empty as u64]) as u32
}

/// An opaque-looking page token: segment, offset, whether the empty page was served, and a
/// check so that a tampered token is refused.
fn encode_token(seed: u64, seg: usize, offset: u64, empty: bool) -> String {
    format!(
        "{seg:x}-{offset:x}-{}-{:08x}",
        empty as u8,
        token_check(seed, seg, offset, empty)
    )
}

fn decode_token(seed: u64, token: &str) -> Option<(usize, u64, bool)> {
    let mut parts = token.split('-');
    let seg = usize::from_str_radix(parts.next()?, 16).ok()?;
    let offset = u64::from_str_radix(parts.next()?, 16).ok()?;
    let empty = match parts.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let check = u32::from_str_radix(parts.next()?, 16).ok()?;
    if parts.next().is_some() || check != token_check(seed, seg, offset, empty) {
        return None;
    }
    // A token that served the empty page continues at the same position with data.
    Some((seg, offset, empty))
}

/// Appends row `i` of an answer to the buffer.
type RenderRow = Box<dyn FnMut(u64, &mut String) + Send>;

/// A response body produced in chunks of rows as the client reads, so memory stays flat
/// however many rows a period has.
struct Chunks {
    prefix: String,
    suffix: String,
    count: u64,
    next: u64,
    render: RenderRow,
}

const CHUNK_BYTES: usize = 64 * 1024;

impl Chunks {
    fn array(count: u64, render: RenderRow) -> Chunks {
        Chunks {
            prefix: "[".into(),
            suffix: "]".into(),
            count,
            next: 0,
            render,
        }
    }

    fn billing_periods(shared: Arc<Shared>) -> Chunks {
        let n = shared.enrollment.periods.len() as u64;
        Chunks::array(
            n,
            Box::new(move |i, out| {
                let e = &shared.enrollment;
                // Newest first, as the service lists them.
                render::billing_period(out, e, &e.periods[(n - 1 - i) as usize]);
            }),
        )
    }

    fn balance_summary(shared: Arc<Shared>, version: ApiVersion, period: usize) -> Chunks {
        let mut out = String::new();
        let e = &shared.enrollment;
        let p = &e.periods[period];
        render::balance_summary(&mut out, version, e, p, &e.balance(p));
        // v3 answers a one-element array, v2 (and v1) an object.
        if version == ApiVersion::V3 {
            out.insert(0, '[');
            out.push(']');
        }
        Chunks {
            prefix: out,
            suffix: String::new(),
            count: 0,
            next: 0,
            render: Box::new(|_, _| {}),
        }
    }

    fn price_sheet(shared: Arc<Shared>, version: ApiVersion, period: usize) -> Chunks {
        let meters: Vec<usize> = shared
            .enrollment
            .price_sheet_meters()
            .map(|m| m.index)
            .collect();
        Chunks::array(
            meters.len() as u64,
            Box::new(move |i, out| {
                let e = &shared.enrollment;
                render::price_sheet(
                    out,
                    version,
                    e,
                    &e.periods[period],
                    &e.meters[meters[i as usize]],
                );
            }),
        )
    }

    fn marketplace(shared: Arc<Shared>, version: ApiVersion, scope: Scope) -> Chunks {
        let e = &shared.enrollment;
        let runs = runs(e, scope, |p| e.marketplace_rows(p));
        let total = runs.iter().map(|r| r.2 - r.1).sum();
        Chunks::array(
            total,
            Box::new(move |mut i, out| {
                let e = &shared.enrollment;
                for &(p, start, end) in &runs {
                    if i < end - start {
                        let period = &e.periods[p];
                        render::marketplace(
                            out,
                            version,
                            period,
                            &e.marketplace_row(period, start + i),
                        );
                        return;
                    }
                    i -= end - start;
                }
            }),
        )
    }

    fn usage(
        shared: Arc<Shared>,
        version: ApiVersion,
        runs: Vec<(usize, u64, u64)>,
        id: String,
        next: Option<String>,
    ) -> Chunks {
        let total = runs.iter().map(|r| r.2 - r.1).sum();
        let mut prefix = String::from("{\"id\":");
        render::push_json_string(&mut prefix, &id);
        prefix.push_str(",\"data\":[");
        let mut suffix = String::from("],\"nextLink\":");
        match &next {
            Some(link) => render::push_json_string(&mut suffix, link),
            None => suffix.push_str("null"),
        }
        suffix.push('}');
        Chunks {
            prefix,
            suffix,
            count: total,
            next: 0,
            render: Box::new(move |mut i, out| {
                let e = &shared.enrollment;
                for &(p, start, end) in &runs {
                    if i < end - start {
                        let period: &Period = &e.periods[p];
                        render::usage(out, version, &e.usage_row(period, start + i));
                        return;
                    }
                    i -= end - start;
                }
            }),
        }
    }
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.next > self.count {
            return None;
        }
        let mut out = std::mem::take(&mut self.prefix);
        while self.next < self.count && out.len() < CHUNK_BYTES {
            if self.next > 0 {
                out.push(',');
            }
            (self.render)(self.next, &mut out);
            self.next += 1;
        }
        if self.next == self.count {
            out.push_str(&self.suffix);
            self.next += 1;
        }
        Some(Bytes::from(out))
    }
}

/// Turns chunks into the HTTP answer: gzip when asked, an ETag, and for the drop fault a body
/// that breaks off halfway.
fn respond(chunks: Chunks, etag: String, headers: &HeaderMap, drop_midway: bool) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|enc| enc.trim().starts_with("gzip")));
    let stream = futures::stream::iter(chunks).map(Ok::<Bytes, io::Error>);
    let stream: futures::stream::BoxStream<'static, Result<Bytes, io::Error>> = if drop_midway {
        // Send half of the first chunk, then fail the body: the connection drops mid-JSON.
        Box::pin(
            stream
                .take(1)
                .map(|chunk| chunk.map(|c| c.slice(..c.len() / 2)))
                .chain(futures::stream::once(async {
                    // Let the headers and the first bytes go out before the connection drops.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "fault: connection dropped",
                    ))
                })),
        )
    } else {
        Box::pin(stream)
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::ETAG, etag);
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        Body::from_stream(gzip_stream(stream))
    } else {
        Body::from_stream(stream)
    };
    builder.body(body).expect("valid response")
}

fn gzip_stream(
    inner: futures::stream::BoxStream<'static, Result<Bytes, io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let encoder = Some(GzEncoder::new(Vec::new(), Compression::fast()));
    futures::stream::unfold((inner, encoder), |(mut inner, mut encoder)| async move {
        let enc = encoder.as_mut()?;
        match inner.next().await {
            Some(Ok(chunk)) => {
                let res = enc.write_all(&chunk).and_then(|_| enc.flush());
                let out = std::mem::take(enc.get_mut());
                Some((res.map(|_| Bytes::from(out)), (inner, encoder)))
            }
            Some(Err(err)) => Some((Err(err), (inner, None))),
            None => {
                let out = encoder.take()?.finish();
                Some((out.map(Bytes::from), (inner, None)))
            }
        }
    })
}
