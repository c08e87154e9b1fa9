//! The billing-period list, which decides what exists: each period's end (whether it is
//! closed) and which datasets it has (a `null` link means none of that kind, and no request).

use chrono::{DateTime, Utc};

use crate::model::{Dataset, PeriodId};
use crate::schema::Col;

/// A period as the billing-period list describes it.
#[derive(Debug, Clone)]
pub(super) struct ListedPeriod {
    pub id: PeriodId,
    pub end: DateTime<Utc>,
    pub has: Vec<Dataset>,
}

impl ListedPeriod {
    /// A month the list lacks, asked for by date: it may have usage and marketplace charges.
    pub fn unlisted(id: PeriodId) -> ListedPeriod {
        ListedPeriod {
            id,
            end: month_end(id),
            has: vec![Dataset::UsageDetails, Dataset::MarketplaceCharges],
        }
    }
}

fn month_end(id: PeriodId) -> DateTime<Utc> {
    id.last_day()
        .and_hms_opt(23, 59, 59)
        .expect("time")
        .and_utc()
}

/// Reads the list leniently: ids as numbers or strings, a missing end taken as the month's.
pub(super) fn parse_period_list(bytes: &[u8]) -> Result<Vec<ListedPeriod>, String> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let d = Dataset::BillingPeriods;
    let name = |col: Col| d.field(col).api;
    let mut out = Vec::new();
    for item in items {
        let id = match item.get(name(Col::BillingPeriodId)) {
            Some(serde_json::Value::String(s)) => PeriodId::parse(s),
            Some(serde_json::Value::Number(n)) => PeriodId::parse(&n.to_string()),
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "a billing period without a valid {}: {item}",
                name(Col::BillingPeriodId)
            )
        })?;
        let end = item
            .get(name(Col::BillingEnd))
            .and_then(|v| v.as_str())
            .and_then(crate::decode::parse_instant)
            .unwrap_or_else(|| month_end(id));
        let link = |col: Col| {
            item.get(name(col))
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        };
        let mut has = Vec::new();
        for (dataset, col) in [
            (Dataset::BalanceSummary, Col::BalanceSummaryLink),
            (Dataset::UsageDetails, Col::UsageDetailsLink),
            (Dataset::MarketplaceCharges, Col::MarketplaceChargesLink),
            (Dataset::PriceSheet, Col::PriceSheetLink),
        ] {
            if link(col) {
                has.push(dataset);
            }
        }
        out.push(ListedPeriod { id, end, has });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_lists_are_read_leniently() {
        let list = br#"[{"billingPeriodId":201704,"billingStart":"2017-04-01T00:00:00Z","billingEnd":"2017-04-30T11:59:59Z",
            "balanceSummary":"/v1/enrollments/100/billingperiods/201704/balancesummary","usageDetails":"/v1/x","marketplaceCharges":null,"priceSheet":""}]"#;
        let p = parse_period_list(list).unwrap();
        assert_eq!(p[0].id, PeriodId(201704));
        assert_eq!(
            p[0].has,
            vec![Dataset::BalanceSummary, Dataset::UsageDetails]
        );
    }
}
