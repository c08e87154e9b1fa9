//! The EA Reporting API (`costlake sync`), retired by Microsoft in 2024 and kept as the
//! archive path. The billing-period list decides what exists; each period × dataset is one
//! unit. Closed periods the lake holds are skipped without a request unless refreshed; open
//! ones are asked again with their ETag, and a 304 keeps what the lake has.

mod endpoints;
pub(in crate::source) mod fetch;
mod periods;

use bytes::Bytes;
use chrono::{NaiveDate, Utc};

pub use endpoints::{DEFAULT_API_BASE, ENDPOINTS, Endpoint, Matched, Scope, Shape};
use periods::{ListedPeriod, parse_period_list};

use super::UnitReport;
use super::{
    Fetched, Observer, Plan, RunReport, Source, SourceError, SyncSettings, UnitContext, UnitError,
};
use crate::http::{Answer, ApiKey, Auth, Client};
use crate::lake::{Lake, Manifest};
use crate::model::{Dataset, PartitionKey, PeriodId, PeriodSelection, Provenance};
use crate::schema::ApiVersion;

/// The version every per-period request speaks; the period list is asked in v2, whose shape
/// every version shares.
const DATA_VERSION: ApiVersion = ApiVersion::V3;
const LIST_VERSION: ApiVersion = ApiVersion::V2;

/// What `costlake sync` was asked to do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub enrollment: u64,
    pub api_base: String,
    pub key: ApiKey,
    pub settings: SyncSettings,
}

/// Syncs the lake of `opts.settings` from the EA Reporting API.
pub async fn sync(opts: &SyncOptions, observer: &dyn Observer) -> Result<RunReport, SourceError> {
    let source = EaApi::new(opts)?;
    let lake = Lake::open(&opts.settings.lake, true)
        .await?
        .with_memory(crate::memory::MemoryBudget::new(opts.settings.memory));
    super::run(&source, &lake, opts.settings.jobs, observer).await
}

/// The EA Reporting API as a source.
pub struct EaApi {
    client: Client,
    enrollment: u64,
    periods: PeriodSelection,
    datasets: Vec<Dataset>,
    refresh: bool,
    settle: chrono::Duration,
}

/// One unit of a sync.
pub enum Unit {
    /// The period list, fetched while planning: written as it came.
    PeriodList {
        body: Bytes,
        etag: Option<String>,
        retries: u32,
    },
    /// One dataset of one period.
    Period {
        closed: bool,
        /// The ETag the lake holds, sent as `If-None-Match`.
        etag: Option<String>,
        /// What the lake holds, to confirm after a 304.
        previous: Option<Provenance>,
        /// Whole months by date, through the custom-date endpoints.
        dates: Option<(NaiveDate, NaiveDate)>,
    },
}

impl EaApi {
    pub fn new(opts: &SyncOptions) -> Result<EaApi, SourceError> {
        let settings = &opts.settings;
        Ok(EaApi {
            client: Client::new(
                &opts.api_base,
                Auth::EaApiKey(opts.key.clone()),
                settings.retry.clone(),
                settings.limits.clone(),
            )?,
            enrollment: opts.enrollment,
            periods: settings.periods.clone(),
            datasets: settings.datasets.clone(),
            refresh: settings.refresh,
            settle: settings.settle,
        })
    }

    fn key(&self, dataset: Dataset, period: Option<PeriodId>) -> PartitionKey {
        PartitionKey {
            dataset,
            account: self.enrollment.to_string(),
            cost_type: None,
            period,
        }
    }

    /// The periods to sync: those the list has in the selection, and (for a date range) the
    /// months it lacks, which can still be asked for by date.
    fn selected(&self, listed: Vec<ListedPeriod>) -> Vec<ListedPeriod> {
        let mut periods: Vec<ListedPeriod> = listed
            .into_iter()
            .filter(|p| self.periods.includes(p.id))
            .collect();
        if let PeriodSelection::Dates(a, b) = self.periods {
            let mut p = PeriodId::of_date(a);
            while p <= PeriodId::of_date(b) {
                if !periods.iter().any(|l| l.id == p) {
                    periods.push(ListedPeriod::unlisted(p));
                }
                p = p.next();
            }
        }
        periods.sort_by_key(|p| p.id);
        periods
    }
}

impl Source for EaApi {
    type Unit = Unit;
    const WRITTEN: &'static str = "fetched";
    const COMMAND: &'static str = "sync";

    async fn plan(&self, manifest: &Manifest) -> Result<Plan<Unit>, SourceError> {
        // The period list is small and always fetched.
        let list_url = Endpoint::of(Dataset::BillingPeriods, Scope::Enrollment).url(
            self.client.base(),
            LIST_VERSION,
            self.enrollment,
            None,
            None,
        );
        let mut retries = 0;
        let (body, etag) = match self.client.get_bytes(&list_url, None, &mut retries).await? {
            Answer::Body { body, etag } => (body, etag),
            Answer::NotModified => {
                return Err(SourceError::Other(format!(
                    "{list_url} answered 304 Not Modified to a request that sent no ETag; a proxy between costlake and the API may be caching"
                )));
            }
        };
        let listed = parse_period_list(&body).map_err(|e| {
            SourceError::Other(format!(
                "the billing-period list from {list_url} is not what the API sends: {e}"
            ))
        })?;
        let mut plan = Plan {
            found: None,
            units: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
        };
        if self.datasets.contains(&Dataset::BillingPeriods) {
            plan.units.push((
                self.key(Dataset::BillingPeriods, None),
                Unit::PeriodList {
                    body,
                    etag,
                    retries,
                },
            ));
        }
        let now = Utc::now();
        for period in self.selected(listed) {
            let closed = period.end + self.settle < now;
            for &dataset in &self.datasets {
                if dataset == Dataset::BillingPeriods || !period.has.contains(&dataset) {
                    continue; // a null link: no data of that kind, no request
                }
                let key = self.key(dataset, Some(period.id));
                let previous = manifest.get(&key).map(|e| e.provenance.clone());
                if let Some(held) = previous.as_ref().filter(|p| p.closed())
                    && !self.refresh
                {
                    plan.skipped.push(UnitReport::skipped(key, held));
                    continue;
                }
                let dates = match self.periods {
                    PeriodSelection::Dates(..)
                        if matches!(
                            dataset,
                            Dataset::UsageDetails | Dataset::MarketplaceCharges
                        ) =>
                    {
                        Some((period.id.first_day(), period.id.last_day()))
                    }
                    _ => None,
                };
                let etag = match &previous {
                    Some(Provenance::EaApi { etag, .. }) if !self.refresh => etag.clone(),
                    _ => None,
                };
                plan.units.push((
                    key,
                    Unit::Period {
                        closed,
                        etag,
                        previous,
                        dates,
                    },
                ));
            }
        }
        Ok(plan)
    }

    async fn fetch(&self, unit: Unit, ctx: &mut UnitContext<'_>) -> Result<Fetched, UnitError> {
        match unit {
            Unit::PeriodList {
                body,
                etag,
                retries,
            } => {
                ctx.retries += retries;
                let (written, rounded) = fetch::write_rows(ctx, &body).await?;
                Ok(Fetched::Written {
                    written,
                    rounded,
                    provenance: Provenance::EaApi {
                        etag,
                        api_version: LIST_VERSION.prefix().to_string(),
                        closed: false,
                    },
                })
            }
            Unit::Period {
                closed,
                etag,
                previous,
                dates,
            } => {
                let key = ctx.key;
                let scope = if dates.is_some() {
                    Scope::Dates
                } else {
                    Scope::Period
                };
                let endpoint = Endpoint::of(key.dataset, scope);
                let url = endpoint.url(
                    self.client.base(),
                    DATA_VERSION,
                    self.enrollment,
                    key.period,
                    dates,
                );
                let request = fetch::Request {
                    client: &self.client,
                    url,
                    etag: etag.as_deref(),
                };
                let got = match endpoint.shape {
                    Shape::Paged => fetch::paged(ctx, request).await?,
                    Shape::Array => fetch::streamed(ctx, request).await?,
                    Shape::Single => fetch::single(ctx, request).await?,
                };
                Ok(match got {
                    Some((written, rounded, etag)) => Fetched::Written {
                        written,
                        rounded,
                        provenance: Provenance::EaApi {
                            etag,
                            api_version: DATA_VERSION.prefix().to_string(),
                            closed,
                        },
                    },
                    // 304: the data is as recorded; only the closed flag may have moved.
                    None => Fetched::Unchanged {
                        provenance: match previous {
                            Some(Provenance::EaApi {
                                etag, api_version, ..
                            }) => Some(Provenance::EaApi {
                                etag,
                                api_version,
                                closed,
                            }),
                            other => other,
                        },
                    },
                })
            }
        }
    }
}
