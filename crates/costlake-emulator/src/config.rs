//! How an emulator is shaped: the enrollment it serves, its one API key, page size, and the
//! faults it answers with.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use costlake::model::PeriodId;

use crate::generator::{Enrollment, EnrollmentSpec};

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
