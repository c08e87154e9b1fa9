//! How an emulator is shaped: the enrollment it serves, its one API key, page size, and the
//! faults it answers with.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use costlake::model::PeriodId;

use crate::generator::{Enrollment, EnrollmentSpec};

/// The key the emulator accepts when none is given: printed at start, used by `demo`.
pub const DEMO_KEY: &str = "costlake-demo-key-0000000000000000";

/// The emulated Microsoft Entra tenant, and the service principal it knows: printed by
/// `costlake emulate`, used by `demo`.
pub const DEMO_TENANT: &str = "c0571a4e-0000-4000-8000-000000000001";
pub const DEMO_CLIENT_ID: &str = "c0571a4e-0000-4000-8000-0000000000c1";
pub const DEMO_CLIENT_SECRET: &str = "costlake-demo-secret-00000000000000";
/// The workload identity token the tenant trusts, and App Service's identity header.
pub const DEMO_FEDERATED_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y29zdGxha2UifQ.c2ln";
pub const DEMO_IDENTITY_HEADER: &str = "costlake-demo-identity-header";

/// Rows per usage page when not configured. The real page size is undocumented.
pub const DEFAULT_PAGE_SIZE: usize = 5000;

/// A fault the emulator can answer with instead of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `x-ms-ratelimit-microsoft.consumption-retry-after: 1` (the EA API), or with
    /// `Retry-After` and Cost Management's entity, tenant and client-type waits of 1, 2 and 3
    /// times that (the management routes).
    RateLimited,
    /// 503 with `Retry-After: 1`.
    Unavailable,
    /// 500.
    ServerError,
    /// 200, then the connection is dropped halfway through the body.
    DropConnection,
    /// The answer starts only after [`FaultConfig::slow`].
    Slow,
    /// A report's download link answers as a SAS past its expiry does (403
    /// `AuthenticationFailed`); scripted only, never drawn at random.
    LinkExpired,
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
            "expired" | "link-expired" => Some(Fault::LinkExpired),
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

/// The Entra ID tenant and the Azure Resource Manager side: who may sign in, how long tokens
/// and links last, and how long reports take.
#[derive(Debug, Clone)]
pub struct ArmConfig {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    /// The federated token (workload identity) the tenant accepts as an assertion.
    pub federated_token: String,
    /// App Service's `IDENTITY_HEADER`.
    pub identity_header: String,
    pub token_lifetime: Duration,
    /// How far the service's clock runs ahead of the client's: a token stops being accepted
    /// this long before the expiry it was issued with (tests the refresh on
    /// `ExpiredAuthenticationToken`).
    pub clock_ahead: Duration,
    /// Polls answered 202 before a report is ready (the POST itself always answers 202).
    pub report_polls: u32,
    /// `Retry-After` of the 202s, in seconds.
    pub poll_retry_after_secs: u64,
    /// Rows per report blob.
    pub blob_rows: u64,
    /// How long report download links stay valid.
    pub link_lifetime: Duration,
    /// Items per page of the Consumption lists.
    pub list_page_size: usize,
    /// The largest answer a Consumption list gives before it refuses with 400 (the service's
    /// is 12 MB).
    pub max_list_bytes: u64,
}

impl Default for ArmConfig {
    fn default() -> Self {
        ArmConfig {
            tenant: DEMO_TENANT.into(),
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            federated_token: DEMO_FEDERATED_TOKEN.into(),
            identity_header: DEMO_IDENTITY_HEADER.into(),
            token_lifetime: Duration::from_secs(3599),
            clock_ahead: Duration::ZERO,
            report_polls: 0,
            poll_retry_after_secs: 1,
            blob_rows: 100_000,
            link_lifetime: Duration::from_secs(3600),
            list_page_size: 1000,
            max_list_bytes: 12 << 20,
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
    /// Put this scheme://host:port in `nextLink`s and in the `Location` of cost details reports
    /// instead of the request's own host (tests use it to check that clients do not follow
    /// links to other hosts).
    pub next_link_base: Option<String>,
    /// The day data runs to; `None` for today (UTC).
    pub today: Option<NaiveDate>,
    pub arm: ArmConfig,
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
            arm: ArmConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// The synthetic enrollment this configuration serves (and exports).
    pub fn enrollment(&self) -> Enrollment {
        Enrollment::new(self.spec())
    }

    pub(crate) fn spec(&self) -> EnrollmentSpec {
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
