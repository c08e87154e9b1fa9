//! The EA Reporting API's endpoints, in one table: the client builds its requests from it,
//! and the emulator routes by it and documents it in its Swagger, so a path is spelled once.

use chrono::NaiveDate;
use reqwest::Url;

use crate::model::{Dataset, PeriodId};
use crate::schema::ApiVersion;

/// The real service.
pub const DEFAULT_API_BASE: &str = "https://consumption.azure.com";

/// One endpoint: its path template below `/{version}` (as the service spells it), the
/// dataset it returns, in what shape, and for which period.
#[derive(Debug)]
pub struct Endpoint {
    pub path: &'static str,
    pub dataset: Dataset,
    pub shape: Shape,
    pub scope: Scope,
    pub summary: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A bare JSON array of rows.
    Array,
    /// `{id, data: [rows], nextLink}`.
    Paged,
    /// One object (v2) or a one-element array (v3).
    Single,
}

/// Which period an endpoint answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The enrollment as a whole (the period list).
    Enrollment,
    /// The current period.
    CurrentPeriod,
    /// The period in `{billingPeriod}`.
    Period,
    /// The days from `startTime` to `endTime` (query parameters, `yyyy-MM-dd`).
    Dates,
}

/// What a request path names, once matched against an endpoint.
#[derive(Debug, Clone)]
pub struct Matched<'a> {
    pub endpoint: &'static Endpoint,
    pub version: ApiVersion,
    pub enrollment: &'a str,
    pub period: Option<&'a str>,
}

pub static ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/billingperiods",
        dataset: Dataset::BillingPeriods,
        shape: Shape::Array,
        scope: Scope::Enrollment,
        summary: "Billing periods with data, newest first.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/balancesummary",
        dataset: Dataset::BalanceSummary,
        shape: Shape::Single,
        scope: Scope::CurrentPeriod,
        summary: "Balance summary of the current period.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/billingPeriods/{billingPeriod}/balancesummary",
        dataset: Dataset::BalanceSummary,
        shape: Shape::Single,
        scope: Scope::Period,
        summary: "Balance summary of a period.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/usagedetails",
        dataset: Dataset::UsageDetails,
        shape: Shape::Paged,
        scope: Scope::CurrentPeriod,
        summary: "Usage details of the current period, paged.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/billingPeriods/{billingPeriod}/usagedetails",
        dataset: Dataset::UsageDetails,
        shape: Shape::Paged,
        scope: Scope::Period,
        summary: "Usage details of a period, paged.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/usagedetailsbycustomdate",
        dataset: Dataset::UsageDetails,
        shape: Shape::Paged,
        scope: Scope::Dates,
        summary: "Usage details of a date range (at most 36 months), paged.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/marketplacecharges",
        dataset: Dataset::MarketplaceCharges,
        shape: Shape::Array,
        scope: Scope::CurrentPeriod,
        summary: "Marketplace charges of the current period.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/billingPeriods/{billingPeriod}/marketplacecharges",
        dataset: Dataset::MarketplaceCharges,
        shape: Shape::Array,
        scope: Scope::Period,
        summary: "Marketplace charges of a period.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/marketplacechargesbycustomdate",
        dataset: Dataset::MarketplaceCharges,
        shape: Shape::Array,
        scope: Scope::Dates,
        summary: "Marketplace charges of a date range (at most 36 months).",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/pricesheet",
        dataset: Dataset::PriceSheet,
        shape: Shape::Array,
        scope: Scope::CurrentPeriod,
        summary: "Price sheet of the current period.",
    },
    Endpoint {
        path: "/enrollments/{enrollmentNumber}/billingPeriods/{billingPeriod}/pricesheet",
        dataset: Dataset::PriceSheet,
        shape: Shape::Array,
        scope: Scope::Period,
        summary: "Price sheet of a period.",
    },
];

impl Endpoint {
    /// The endpoint of `dataset` for `scope`.
    pub fn of(dataset: Dataset, scope: Scope) -> &'static Endpoint {
        ENDPOINTS
            .iter()
            .find(|e| e.dataset == dataset && e.scope == scope)
            .unwrap_or_else(|| panic!("no {scope:?} endpoint serves {}", dataset.name()))
    }

    /// The URL of this endpoint under `base`: the template filled in, and the date range as
    /// query parameters.
    pub fn url(
        &self,
        base: &Url,
        version: ApiVersion,
        enrollment: u64,
        period: Option<PeriodId>,
        dates: Option<(NaiveDate, NaiveDate)>,
    ) -> Url {
        let mut path = self
            .path
            .replace("{enrollmentNumber}", &enrollment.to_string());
        if let Some(p) = period {
            path = path.replace("{billingPeriod}", &p.to_string());
        }
        assert!(!path.contains('{'), "{} needs a period", self.path);
        let mut url = base.clone();
        let prefix = base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}/{}{path}", version.prefix()));
        if let Some((start, end)) = dates {
            url.set_query(Some(&format!("startTime={start}&endTime={end}")));
        }
        url
    }

    /// The endpoint a request path names (`/v3/enrollments/100/billingPeriods/202401/usagedetails`),
    /// matched as the service matches it: case-insensitively, under any version prefix.
    pub fn route(path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (version, rest) = segments.split_first()?;
        let version = ApiVersion::parse(version)?;
        ENDPOINTS.iter().find_map(|endpoint| {
            let template: Vec<&str> = endpoint.path.split('/').filter(|s| !s.is_empty()).collect();
            if template.len() != rest.len() {
                return None;
            }
            let mut matched = Matched {
                endpoint,
                version,
                enrollment: "",
                period: None,
            };
            for (t, s) in template.iter().zip(rest) {
                match *t {
                    "{enrollmentNumber}" => matched.enrollment = s,
                    "{billingPeriod}" => matched.period = Some(s),
                    literal if literal.eq_ignore_ascii_case(s) => {}
                    _ => return None,
                }
            }
            Some(matched)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_from_the_table() {
        let base = Url::parse("https://consumption.azure.com").unwrap();
        let usage = Endpoint::of(Dataset::UsageDetails, Scope::Period);
        assert_eq!(
            usage
                .url(&base, ApiVersion::V3, 100, Some(PeriodId(202401)), None)
                .as_str(),
            "https://consumption.azure.com/v3/enrollments/100/billingPeriods/202401/usagedetails"
        );
        let by_date = Endpoint::of(Dataset::MarketplaceCharges, Scope::Dates);
        let a = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let b = NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
        assert_eq!(
            by_date
                .url(&base, ApiVersion::V2, 7, None, Some((a, b)))
                .as_str(),
            "https://consumption.azure.com/v2/enrollments/7/marketplacechargesbycustomdate?startTime=2024-03-01&endTime=2024-03-31"
        );
    }

    #[test]
    fn paths_route_back_to_their_endpoint_in_any_case() {
        for endpoint in ENDPOINTS {
            let path = format!(
                "/V2{}",
                endpoint
                    .path
                    .replace("{enrollmentNumber}", "100")
                    .replace("{billingPeriod}", "202401")
                    .to_uppercase()
            );
            let m = Endpoint::route(&path).unwrap_or_else(|| panic!("{path}"));
            assert!(std::ptr::eq(m.endpoint, endpoint), "{path}");
            assert_eq!(m.enrollment, "100");
            assert_eq!(m.version, ApiVersion::V2);
        }
        assert!(Endpoint::route("/v3/enrollments/100/nothing").is_none());
        assert!(Endpoint::route("/v9/enrollments/100/billingperiods").is_none());
    }
}
