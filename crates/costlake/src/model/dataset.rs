//! The lake's datasets: their names (tables and folders), which source fills each, and how
//! each is partitioned. What columns a dataset has is `schema`'s business.

/// Hive partition columns, in folder order.
pub const PARTITION_ENROLLMENT: &str = "enrollment";
pub const PARTITION_BILLING_PERIOD: &str = "billing_period";
/// Export datasets' partition columns: the billing account (for EA, the enrollment number) and,
/// for cost details, whether the costs are actual or amortized.
pub const PARTITION_BILLING_ACCOUNT: &str = "billing_account";
pub const PARTITION_COST_TYPE: &str = "cost_type";

/// One of the lake's datasets: the five the EA Reporting API serves, then the six that Cost
/// Management exports bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dataset {
    BillingPeriods,
    BalanceSummary,
    UsageDetails,
    MarketplaceCharges,
    PriceSheet,
    CostDetails,
    FocusCosts,
    ExportPriceSheet,
    ReservationDetails,
    ReservationTransactions,
    ReservationRecommendations,
}

impl Dataset {
    /// Every dataset: the API's, then the exports'.
    pub const ALL: [Dataset; 11] = {
        let mut all = [Dataset::BillingPeriods; 11];
        let mut i = 0;
        while i < Dataset::API.len() {
            all[i] = Dataset::API[i];
            i += 1;
        }
        while i < all.len() {
            all[i] = Dataset::EXPORTS[i - Dataset::API.len()];
            i += 1;
        }
        all
    };

    /// The datasets `sync` fetches from the EA Reporting API.
    pub const API: [Dataset; 5] = [
        Dataset::BillingPeriods,
        Dataset::BalanceSummary,
        Dataset::UsageDetails,
        Dataset::MarketplaceCharges,
        Dataset::PriceSheet,
    ];

    /// The datasets `ingest` reads from Cost Management exports.
    pub const EXPORTS: [Dataset; 6] = [
        Dataset::CostDetails,
        Dataset::FocusCosts,
        Dataset::ExportPriceSheet,
        Dataset::ReservationDetails,
        Dataset::ReservationTransactions,
        Dataset::ReservationRecommendations,
    ];

    /// Whether the dataset comes from Cost Management exports rather than the API.
    pub fn from_exports(self) -> bool {
        Dataset::EXPORTS.contains(&self)
    }

    /// The export dataset a manifest's `exportConfig.type` fills, and for cost details the
    /// `cost_type` partition value.
    pub fn of_export_type(export_type: &str) -> Option<(Dataset, Option<&'static str>)> {
        Some(match export_type.to_ascii_lowercase().as_str() {
            "actualcost" => (Dataset::CostDetails, Some("actual")),
            "amortizedcost" => (Dataset::CostDetails, Some("amortized")),
            "usage" => (Dataset::CostDetails, Some("usage")),
            "focuscost" => (Dataset::FocusCosts, None),
            "pricesheet" => (Dataset::ExportPriceSheet, None),
            "reservationdetails" => (Dataset::ReservationDetails, None),
            "reservationtransactions" => (Dataset::ReservationTransactions, None),
            "reservationrecommendations" => (Dataset::ReservationRecommendations, None),
            _ => return None,
        })
    }

    /// Table and folder name in the lake.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::BillingPeriods => "billing_periods",
            Dataset::BalanceSummary => "balance_summary",
            Dataset::UsageDetails => "usage_details",
            Dataset::MarketplaceCharges => "marketplace_charges",
            Dataset::PriceSheet => "price_sheet",
            Dataset::CostDetails => "cost_details",
            Dataset::FocusCosts => "focus_costs",
            Dataset::ExportPriceSheet => "export_price_sheet",
            Dataset::ReservationDetails => "reservation_details",
            Dataset::ReservationTransactions => "reservation_transactions",
            Dataset::ReservationRecommendations => "reservation_recommendations",
        }
    }

    pub fn parse(name: &str) -> Option<Dataset> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Dataset::ALL.into_iter().find(|d| d.name() == name)
    }

    /// One line for the docs.
    pub fn doc(self) -> &'static str {
        match self {
            Dataset::BillingPeriods => {
                "The enrollment's billing periods and which datasets each has."
            }
            Dataset::BalanceSummary => "Monetary commitment, usage and overage totals per period.",
            Dataset::UsageDetails => "Daily Azure usage and cost per resource and meter.",
            Dataset::MarketplaceCharges => "Usage-based Azure Marketplace charges.",
            Dataset::PriceSheet => "The enrollment's negotiated prices per meter and period.",
            Dataset::CostDetails => {
                "Actual or amortized cost and usage exports (EA schemas 2019-10-01 to 2024-08-01), daily per resource and meter."
            }
            Dataset::FocusCosts => {
                "FOCUS cost and usage exports (1.0-preview, 1.0, 1.0r2, 1.2-preview, 1.2) in one schema: 1.2's names, older spellings mapped."
            }
            Dataset::ExportPriceSheet => "The EA price sheet export (2023-05-01).",
            Dataset::ReservationDetails => "Daily reservation utilisation (2023-03-01).",
            Dataset::ReservationTransactions => {
                "Reservation purchases, refunds and exchanges (2023-05-01)."
            }
            Dataset::ReservationRecommendations => {
                "Reservation purchase recommendations, a snapshot per export run (2023-05-01)."
            }
        }
    }

    /// Whether the dataset is partitioned by billing period (all but the period list).
    pub fn per_period(self) -> bool {
        self != Dataset::BillingPeriods
    }

    /// Hive partition columns, in folder order.
    pub fn partition_columns(self) -> &'static [&'static str] {
        if self == Dataset::CostDetails {
            &[
                PARTITION_BILLING_ACCOUNT,
                PARTITION_COST_TYPE,
                PARTITION_BILLING_PERIOD,
            ]
        } else if self.from_exports() {
            &[PARTITION_BILLING_ACCOUNT, PARTITION_BILLING_PERIOD]
        } else if self.per_period() {
            &[PARTITION_ENROLLMENT, PARTITION_BILLING_PERIOD]
        } else {
            &[PARTITION_ENROLLMENT]
        }
    }
}
