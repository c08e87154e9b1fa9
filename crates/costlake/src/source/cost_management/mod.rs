//! The Cost Management and Consumption APIs of Azure Resource Manager (`costlake sync
//! --billing-account`), signed in with Microsoft Entra ID: the live successor of the EA
//! Reporting API. Which months exist comes from the billing account, at most the 13 the cost
//! details API serves; each month × dataset is one unit: cost details, actual and amortized,
//! through `generateCostDetailsReport` ([`report`]), the month's balance ([`balances`]), its
//! price sheet ([`price_sheet`]) and its reservations ([`reservations`]: details, transactions,
//! and today's recommendations), the reports and downloads polled as long-running operations
//! ([`lro`]).
//! They land in the partitions exports and the EA API fill, so `focus`, the saved queries and
//! `verify` read them unchanged. Closed months the lake holds are skipped; the open month is
//! asked again and replaces its partition whole.

mod balances;
mod lro;
mod price_sheet;
mod report;
mod reservations;

use std::sync::Arc;

use chrono::{Months, NaiveDate, Utc};
use reqwest::{Method, Url};
use serde::Deserialize;

use super::UnitReport;
use super::{
    Fetched, Observer, Plan, RunReport, Source, SourceError, SyncSettings, UnitContext, UnitError,
};
use crate::http::{Auth, Client, EntraCredential, HttpError};
use crate::lake::{Lake, Manifest};
use crate::model::{Dataset, PartitionKey, PeriodId, PeriodSelection};

/// The Azure Resource Manager host of the public cloud.
pub const DEFAULT_ARM_BASE: &str = "https://management.azure.com";
/// `generateCostDetailsReport` (2024-08-01 and 2025-03-01 have the same contract).
pub const COST_DETAILS_API_VERSION: &str = "2023-11-01";
/// Balances and the other Consumption lists: the version Microsoft's EA migration pages use.
pub const CONSUMPTION_API_VERSION: &str = "2023-05-01";
/// The billing account with its enrollment details.
pub const BILLING_API_VERSION: &str = "2024-04-01";
/// How many months back the cost details API serves, the current one included.
pub const MONTHS_SERVED: u32 = 13;

/// The routes under a billing account's scope, spelled once for the client and the emulator
/// (which matches them case-insensitively, as ARM does).
pub mod routes {
    /// `POST`: ask for a month's cost details report.
    pub const GENERATE_COST_DETAILS: &str =
        "providers/Microsoft.CostManagement/generateCostDetailsReport";
    /// `GET …/{operation id}`: where the report's `Location` points.
    pub const COST_DETAILS_OPERATION: &str =
        "providers/Microsoft.CostManagement/costDetailsOperationResults";
    /// `GET`, after `billingPeriods/{yyyyMM}/`: the month's balance.
    pub const BALANCES: &str = "providers/Microsoft.Consumption/balances";
    /// `POST`, after `billingPeriods/{yyyyMM}/`: the month's EA price sheet as a ZIP.
    pub const PRICE_SHEET_DOWNLOAD: &str =
        "providers/Microsoft.CostManagement/pricesheets/default/download";
    /// `GET …/{operation id}`: where a download's `Location` points.
    pub const OPERATION_RESULTS: &str = "providers/Microsoft.CostManagement/operationResults";
    /// `POST ?startDate=…&endDate=…`: ask for the reservation details of some days.
    pub const GENERATE_RESERVATION_DETAILS: &str =
        "providers/Microsoft.CostManagement/generateReservationDetailsReport";
    /// `GET …/{operation id}`: where a reservation details report's `Location` points.
    pub const RESERVATION_DETAILS_OPERATION: &str =
        "providers/Microsoft.CostManagement/reservationDetailsOperationResults";
    /// `GET ?$filter=…`: reservation purchases and refunds, a paged list.
    pub const RESERVATION_TRANSACTIONS: &str =
        "providers/Microsoft.Consumption/reservationTransactions";
    /// `GET ?$filter=…`: reservation purchase recommendations, a paged list.
    pub const RESERVATION_RECOMMENDATIONS: &str =
        "providers/Microsoft.Consumption/reservationRecommendations";
    /// The path segment before a billing period.
    pub const BILLING_PERIODS: &str = "billingPeriods";
}

/// The datasets this source fills.
pub const DATASETS: [Dataset; 6] = [
    Dataset::CostDetails,
    Dataset::BalanceSummary,
    Dataset::ExportPriceSheet,
    Dataset::ReservationDetails,
    Dataset::ReservationTransactions,
    Dataset::ReservationRecommendations,
];

/// What `costlake sync --billing-account` was asked to do.
#[derive(Debug, Clone)]
pub struct ArmSyncOptions {
    /// An EA enrollment number, or an MCA billing account id (`…:…_yyyy-mm-dd`).
    pub billing_account: String,
    pub arm_base: String,
    pub credential: Arc<EntraCredential>,
    /// The longest wait for one report to be ready.
    pub report_timeout: std::time::Duration,
    pub settings: SyncSettings,
}

/// Syncs the lake at `opts.lake` from the Cost Management APIs.
pub async fn sync(
    opts: &ArmSyncOptions,
    observer: &dyn Observer,
) -> Result<RunReport, SourceError> {
    let source = CostManagement::new(opts)?;
    let lake = Lake::open(&opts.settings.lake, true)
        .await?
        .with_memory(crate::memory::MemoryBudget::new(opts.settings.memory));
    super::run(&source, &lake, opts.settings.jobs, observer).await
}

/// Actual or amortized cost: the report's `metric` and the partition's `cost_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Actual,
    Amortized,
}

impl Metric {
    fn api(self) -> &'static str {
        match self {
            Metric::Actual => "ActualCost",
            Metric::Amortized => "AmortizedCost",
        }
    }

    fn cost_type(self) -> &'static str {
        match self {
            Metric::Actual => "actual",
            Metric::Amortized => "amortized",
        }
    }
}

/// A partition written from an answer of these APIs, with its provenance.
fn written(
    written: crate::lake::Written,
    rounded: u64,
    operation: Option<String>,
    api_version: &str,
    closed: bool,
) -> Fetched {
    Fetched::Written {
        written,
        rounded,
        provenance: crate::model::Provenance::CostManagement {
            operation,
            api_version: api_version.into(),
            closed,
        },
    }
}

/// The Cost Management APIs as a source.
pub struct CostManagement {
    arm: Client,
    /// The client of report downloads: no credential, any https host.
    blobs: Client,
    account: String,
    periods: PeriodSelection,
    datasets: Vec<Dataset>,
    refresh: bool,
    settle: chrono::Duration,
    report_timeout: std::time::Duration,
    today: NaiveDate,
}

/// One unit: a month of one dataset.
pub enum Unit {
    CostDetails {
        metric: Metric,
        closed: bool,
    },
    Balance {
        closed: bool,
    },
    PriceSheet {
        closed: bool,
    },
    ReservationDetails {
        closed: bool,
    },
    ReservationTransactions {
        closed: bool,
    },
    /// Today's recommendations, kept under the current month.
    ReservationRecommendations,
}

impl CostManagement {
    pub fn new(opts: &ArmSyncOptions) -> Result<CostManagement, SourceError> {
        let settings = &opts.settings;
        let account = opts.billing_account.trim().to_string();
        if account.is_empty()
            || !account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
        {
            return Err(SourceError::Other(format!(
                "'{account}' is not a billing account id: an EA enrollment number (e.g. 1234567) or an MCA id (guid:guid_yyyy-mm-dd)"
            )));
        }
        if let Some(d) = settings.datasets.iter().find(|d| !DATASETS.contains(d)) {
            return Err(SourceError::Other(format!(
                "{} does not come from the Cost Management APIs; --billing-account syncs {}",
                d.name(),
                DATASETS.map(Dataset::name).join(", ")
            )));
        }
        Ok(CostManagement {
            arm: Client::new(
                &opts.arm_base,
                Auth::Entra(opts.credential.clone()),
                settings.retry.clone(),
                settings.limits.clone(),
            )?,
            blobs: Client::new(
                &opts.arm_base,
                Auth::Anonymous,
                settings.retry.clone(),
                settings.limits.clone(),
            )?,
            account,
            periods: settings.periods.clone(),
            datasets: settings.datasets.clone(),
            refresh: settings.refresh,
            settle: settings.settle,
            report_timeout: opts.report_timeout,
            today: Utc::now().date_naive(),
        })
    }

    /// Whether the account is an EA enrollment (a number) rather than an MCA account.
    fn is_ea(&self) -> bool {
        self.account.chars().all(|c| c.is_ascii_digit())
    }

    /// The billing account's scope, without a leading slash.
    fn scope(&self) -> String {
        format!(
            "providers/Microsoft.Billing/billingAccounts/{}",
            self.account
        )
    }

    /// A URL on the management host: `path` under the base, with its `api-version`.
    fn url(&self, path: &str, api_version: &str) -> Result<Url, HttpError> {
        let mut url = self.arm.base().clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base_path}/{path}"));
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }

    fn key(&self, dataset: Dataset, cost_type: Option<&'static str>, p: PeriodId) -> PartitionKey {
        PartitionKey {
            dataset,
            account: self.account.clone(),
            cost_type,
            period: Some(p),
        }
    }

    /// The first month of the billing account, from its enrollment details.
    async fn account_start(&self) -> Result<Option<NaiveDate>, SourceError> {
        #[derive(Deserialize)]
        struct Account {
            properties: Option<Properties>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Properties {
            enrollment_details: Option<Details>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Details {
            start_date: Option<String>,
        }
        let mut url = self.url(&self.scope(), BILLING_API_VERSION)?;
        url.query_pairs_mut()
            .append_pair("$expand", "enrollmentDetails");
        let mut retries = 0;
        let reply = match self.arm.send(Method::GET, &url, None, &mut retries).await {
            Ok(reply) => reply,
            Err(HttpError::NotFound { .. }) => {
                return Err(SourceError::Other(format!(
                    "there is no billing account {} that this identity can see; check the enrollment number (or MCA billing account id)",
                    self.account
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let account: Account = serde_json::from_slice(&reply.body).map_err(|e| {
            SourceError::Other(format!(
                "the billing account from {url} is not what the API sends: {e}"
            ))
        })?;
        Ok(account
            .properties
            .and_then(|p| p.enrollment_details)
            .and_then(|d| d.start_date)
            .and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()))
    }

    /// The months to sync: the selection within what the API serves, from the account's
    /// start to this month. A month asked for by name before the window is an error, since
    /// the user expects it and only exports have it.
    fn months(&self, start: Option<NaiveDate>) -> Result<Vec<PeriodId>, SourceError> {
        let current = PeriodId::of_date(self.today);
        let first_served = PeriodId::of_date(
            self.today
                .checked_sub_months(Months::new(MONTHS_SERVED - 1))
                .expect("a date 13 months back"),
        );
        if let Some(asked) = self.periods.first()
            && asked < first_served
        {
            return Err(SourceError::Other(format!(
                "{asked} is older than the Cost Management API serves (the {MONTHS_SERVED} months from {first_served} to {current}); older months come from Cost Management exports: export them and run `costlake ingest`"
            )));
        }
        let first = start.map_or(first_served, |d| first_served.max(PeriodId::of_date(d)));
        let mut months = Vec::new();
        let mut p = first;
        while p <= current {
            if self.periods.includes(p) {
                months.push(p);
            }
            p = p.next();
        }
        Ok(months)
    }
}

impl Source for CostManagement {
    type Unit = Unit;
    const WRITTEN: &'static str = "fetched";
    const COMMAND: &'static str = "sync";

    async fn plan(&self, manifest: &Manifest) -> Result<Plan<Unit>, SourceError> {
        let start = self.account_start().await?;
        let months = self.months(start)?;
        let mut plan = Plan {
            found: Some((months.len(), "months")),
            units: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
        };
        if !self.is_ea() && self.datasets.contains(&Dataset::BalanceSummary) {
            plan.warnings.push(
                "balances, the EA price sheet and reservations are read for EA enrollments only; an MCA billing account has none of them to sync"
                    .into(),
            );
        }
        for p in months {
            let closed = p.last_day() + self.settle < self.today;
            let mut units = Vec::new();
            if self.datasets.contains(&Dataset::CostDetails) {
                for metric in [Metric::Actual, Metric::Amortized] {
                    units.push((
                        self.key(Dataset::CostDetails, Some(metric.cost_type()), p),
                        Unit::CostDetails { metric, closed },
                    ));
                }
            }
            // Balances, the EA price sheet and reservations: one unit each, EA only.
            let monthly = [
                (Dataset::BalanceSummary, Unit::Balance { closed }),
                (Dataset::ExportPriceSheet, Unit::PriceSheet { closed }),
                (
                    Dataset::ReservationDetails,
                    Unit::ReservationDetails { closed },
                ),
                (
                    Dataset::ReservationTransactions,
                    Unit::ReservationTransactions { closed },
                ),
            ];
            for (dataset, unit) in monthly {
                if self.is_ea() && self.datasets.contains(&dataset) {
                    units.push((self.key(dataset, None, p), unit));
                }
            }
            if self.is_ea()
                && self.datasets.contains(&Dataset::ReservationRecommendations)
                && p == PeriodId::of_date(self.today)
            {
                units.push((
                    self.key(Dataset::ReservationRecommendations, None, p),
                    Unit::ReservationRecommendations,
                ));
            }
            for (key, unit) in units {
                match manifest.get(&key).map(|e| &e.provenance) {
                    Some(held) if held.closed() && !self.refresh => {
                        plan.skipped.push(UnitReport::skipped(key, held));
                    }
                    _ => plan.units.push((key, unit)),
                }
            }
        }
        Ok(plan)
    }

    async fn fetch(&self, unit: Unit, ctx: &mut UnitContext<'_>) -> Result<Fetched, UnitError> {
        match unit {
            Unit::CostDetails { metric, closed } => {
                report::cost_details(self, metric, closed, ctx).await
            }
            Unit::Balance { closed } => balances::balance(self, closed, ctx).await,
            Unit::PriceSheet { closed } => price_sheet::price_sheet(self, closed, ctx).await,
            Unit::ReservationDetails { closed } => reservations::details(self, closed, ctx).await,
            Unit::ReservationTransactions { closed } => {
                reservations::transactions(self, closed, ctx).await
            }
            Unit::ReservationRecommendations => reservations::recommendations(self, ctx).await,
        }
    }
}
