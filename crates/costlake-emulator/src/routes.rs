//! Requests to the emulated EA Reporting API: routed by the library's endpoint table (so the
//! client and the emulator spell each path once), authenticated, checked as the service
//! checks periods and dates, answered with the service's error bodies, ETags and 304s, and
//! faulted on request or at a seeded rate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use costlake::model::{Dataset, PeriodId};
use costlake::schema::ApiVersion;
use costlake::source::ea_api::{Endpoint, Scope};

use crate::body::{Chunks, respond};
use crate::config::Fault;
use crate::generator::{self, hash};
use crate::paging::usage_page;
use crate::{Shared, render, swagger};

/// A refused request: the status and the message of the error body.
pub(crate) struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

pub(crate) fn reject(status: StatusCode, message: impl Into<String>) -> Reject {
    Reject(status, message.into())
}

/// An error answer in the service's shape: `{"error":{"code":"401","message":…}}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
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

/// Which rows an answer covers: one period, or a custom date range.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows {
    Period(usize),
    Range(NaiveDate, NaiveDate),
}

/// Query parameters, names lower-cased (the service matches them so), values decoded.
fn query_params(req: &Parts) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

/// Routes a request by the library's endpoint table, as the service does: case-insensitive
/// paths under any version, authentication before anything that could reveal data, bad
/// periods and dates refused with the service's messages, then faults, ETags and the body.
pub(crate) async fn route(shared: &Arc<Shared>, req: &Parts, headers: &HeaderMap) -> Response {
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
    let under_enrollment = matches!(
        segments.as_slice(),
        [v, "enrollments", _, ..] if ApiVersion::parse(v).is_some()
    );
    if !under_enrollment {
        return error(StatusCode::NOT_FOUND, "Unavailable");
    }
    // Authentication comes before anything that could reveal the enrollment's data.
    if let Err(message) = authorize(&shared.config.key, headers) {
        return error(StatusCode::UNAUTHORIZED, message);
    }
    let enrollment = segments[2];
    if enrollment.parse::<u64>().ok() != Some(shared.config.enrollment) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid enrollment number '{enrollment}'."),
        );
    }
    let Some(matched) = Endpoint::route(&path) else {
        return error(StatusCode::NOT_FOUND, "Unavailable");
    };
    let (version, dataset) = (matched.version, matched.endpoint.dataset);
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
    let routed = match matched.endpoint.scope {
        Scope::Enrollment | Scope::CurrentPeriod => Ok(Rows::Period(current)),
        Scope::Period => by_period(matched.period.unwrap_or_default()).map(Rows::Period),
        Scope::Dates => date_range(&params).map(|(a, b)| Rows::Range(a, b)),
    };
    let rows = match routed {
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
            etag_kind(dataset),
            version as u64,
            match rows {
                Rows::Period(i) => e.periods[i].id.0 as u64,
                Rows::Range(a, b) => hash(&[date_key(a), date_key(b)]),
            },
            match rows {
                Rows::Period(i) => e.periods[i].days_with_data as u64,
                Rows::Range(..) => e.periods[current].days_with_data as u64,
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
    let body = match dataset {
        Dataset::BillingPeriods => Chunks::billing_periods(shared.clone()),
        Dataset::BalanceSummary => {
            Chunks::balance_summary(shared.clone(), version, period_of(rows, current))
        }
        Dataset::PriceSheet => {
            Chunks::price_sheet(shared.clone(), version, period_of(rows, current))
        }
        Dataset::MarketplaceCharges => Chunks::marketplace(shared.clone(), version, rows),
        Dataset::UsageDetails => {
            match usage_page(shared, req, headers, version, rows, token.as_deref()) {
                Ok(chunks) => chunks,
                Err(rejected) => return rejected.into_response(),
            }
        }
        other => unreachable!("the EA API serves no {}", other.name()),
    };
    respond(body, etag, headers, fault == Some(Fault::DropConnection))
}

fn date_key(d: NaiveDate) -> u64 {
    fnv1a(&d.to_string())
}

/// What an ETag tells apart, per dataset: numbers fixed here, so that the ETags a lake holds
/// stay valid whatever order the datasets are declared in.
fn etag_kind(dataset: Dataset) -> u64 {
    match dataset {
        Dataset::BillingPeriods => 0,
        Dataset::BalanceSummary => 1,
        Dataset::UsageDetails => 2,
        Dataset::MarketplaceCharges => 3,
        Dataset::PriceSheet => 4,
        other => unreachable!("the EA API serves no {}", other.name()),
    }
}

/// The period an answer for `rows` is about: a date range answers for the current one.
fn period_of(rows: Rows, current: usize) -> usize {
    match rows {
        Rows::Period(i) => i,
        Rows::Range(..) => current,
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
pub(crate) fn next_fault(shared: &Shared, uri: &str) -> Option<Fault> {
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

pub(crate) fn req_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}
