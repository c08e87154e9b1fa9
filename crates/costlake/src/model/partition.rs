//! Partitions and where their data came from: the key that names a partition's folder, and
//! the typed provenance that each source records when it publishes one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Dataset, PeriodId};

/// The one data file of a partition: a fixed name, so that readers which list folders rather
/// than read the manifest (DuckDB, Spark) always see exactly one whole file.
pub const PARTITION_FILE: &str = "part-0.parquet";

/// Which partition: a dataset, a billing account (the EA enrollment number, or the billing
/// account an export was defined for), for cost exports whether actual or amortized, and (for
/// all but the period list) a period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub dataset: Dataset,
    pub account: String,
    pub cost_type: Option<&'static str>,
    pub period: Option<PeriodId>,
}

impl PartitionKey {
    /// The partition's folder relative to the lake root, hive style, in the dataset's
    /// partition column order.
    pub fn dir(&self) -> String {
        let values = [
            Some(self.account.clone()),
            self.cost_type.map(str::to_string),
            self.period.map(|p| p.to_string()),
        ];
        let mut dir = self.dataset.name().to_string();
        for (column, value) in self
            .dataset
            .partition_columns()
            .iter()
            .zip(values.into_iter().flatten())
        {
            dir.push_str(&format!("/{column}={value}"));
        }
        dir
    }

    pub fn file(&self) -> String {
        format!("{}/{PARTITION_FILE}", self.dir())
    }
}

/// `usage_details 202401`; an export's partition names its billing account too (one tree may
/// hold several): `cost_details actual 202401 (account 100)`.
impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.period, self.cost_type) {
            (Some(p), Some(t)) => write!(f, "{} {t} {p}", self.dataset.name())?,
            (Some(p), None) => write!(f, "{} {p}", self.dataset.name())?,
            (None, _) => write!(f, "{}", self.dataset.name())?,
        }
        if self.dataset.from_exports() {
            write!(f, " (account {})", self.account)?;
        }
        Ok(())
    }
}

/// Where a published partition's data came from, as its source identifies it: what decides
/// whether the next run fetches it again. Each source has its own variant; nothing else reads
/// another source's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Provenance {
    /// An answer of the EA Reporting API.
    EaApi {
        /// The API's ETag of the data (of the first page, for paged data), sent back as
        /// `If-None-Match` on the next sync.
        etag: Option<String>,
        /// The API version the data came in, e.g. `v3`.
        api_version: String,
        /// Whether the period was closed (settled) when fetched: closed partitions are not
        /// fetched again unless asked.
        closed: bool,
    },
    /// A run of a Cost Management export.
    Export {
        /// `runInfo.runId` of the run the partition holds.
        run_id: String,
        /// When the run was submitted: only a later run replaces it.
        submitted: DateTime<Utc>,
        /// The export's name and the scope it was defined at.
        export_name: String,
        scope: String,
        /// The export's `dataVersion` (its schema version), where its manifest says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_version: Option<String>,
        /// The rows the run's manifest counts (`dataRowCount`), where it does: `verify`
        /// checks the partition against it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_rows: Option<u64>,
    },
    /// An answer of the Cost Management or Consumption API (Azure Resource Manager).
    CostManagement {
        /// The report operation's id, for cost details.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
        /// The `api-version` the data came in.
        api_version: String,
        /// Whether the month was closed (settled) when fetched.
        closed: bool,
    },
}

impl Provenance {
    /// Whether the data is final: a closed period of the EA API or the Cost Management API.
    /// Export runs never are (a later run may restate a month).
    pub fn closed(&self) -> bool {
        matches!(
            self,
            Provenance::EaApi { closed: true, .. }
                | Provenance::CostManagement { closed: true, .. }
        )
    }

    /// One phrase for messages: which answer or run the partition holds.
    pub fn describe(&self) -> String {
        match self {
            Provenance::EaApi {
                api_version, etag, ..
            } => match etag {
                Some(tag) => format!("EA API {api_version} answer {tag}"),
                None => format!("EA API {api_version} answer"),
            },
            Provenance::Export {
                run_id,
                submitted,
                export_name,
                ..
            } => format!(
                "run {run_id} of export '{export_name}' (submitted {})",
                submitted.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Provenance::CostManagement {
                operation,
                api_version,
                ..
            } => match operation {
                Some(op) => format!("Cost Management report {op} (api-version {api_version})"),
                None => format!("Cost Management API answer (api-version {api_version})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_folders_are_hive_style() {
        let key = PartitionKey {
            dataset: Dataset::UsageDetails,
            cost_type: None,
            account: "100".into(),
            period: Some(PeriodId(202401)),
        };
        assert_eq!(
            key.file(),
            "usage_details/enrollment=100/billing_period=202401/part-0.parquet"
        );
        let key = PartitionKey {
            dataset: Dataset::BillingPeriods,
            cost_type: None,
            account: "100".into(),
            period: None,
        };
        assert_eq!(key.dir(), "billing_periods/enrollment=100");
        let key = PartitionKey {
            dataset: Dataset::CostDetails,
            cost_type: Some("amortized"),
            account: "100".into(),
            period: Some(PeriodId(202401)),
        };
        assert_eq!(
            key.dir(),
            "cost_details/billing_account=100/cost_type=amortized/billing_period=202401"
        );
    }

    #[test]
    fn provenance_is_tagged_by_source() {
        let p = Provenance::EaApi {
            etag: Some("\"x\"".into()),
            api_version: "v3".into(),
            closed: true,
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["source"], "ea_api");
        assert_eq!(serde_json::from_value::<Provenance>(json).unwrap(), p);
        assert!(p.closed());
    }
}
