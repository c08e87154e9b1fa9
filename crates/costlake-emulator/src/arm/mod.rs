//! The Azure side that replaced the EA Reporting API, on the emulator's port: Microsoft Entra
//! ID sign-in (`login`: the token endpoint, the instance metadata service, App Service's
//! identity endpoint) and the Azure Resource Manager routes costlake reads (`reports`: the
//! billing account, cost details reports with their polling and SAS-linked blobs, balances;
//! `downloads`: the price sheet and the reservation details report; `reservations`: the
//! reservation lists; `storage`: the SAS links),
//! each with ARM's front door: `api-version` checked, bearer tokens checked (missing, unknown,
//! expired, a billing account the principal has no role on), request ids on every answer, and
//! the same faults as the EA API with Cost Management's throttling headers. All of it serves
//! the one synthetic enrollment, so its totals equal the EA API's and the export trees'.

mod downloads;
mod login;
mod reports;
mod reservations;
mod storage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use costlake::source::cost_management::routes;

use crate::Shared;
use crate::config::Fault;

/// What the ARM side remembers: tokens issued and reports asked for.
#[derive(Default)]
pub(crate) struct State {
    tokens: Mutex<HashMap<String, Instant>>,
    reports: Mutex<HashMap<String, reports::Operation>>,
    downloads: Mutex<HashMap<String, downloads::Download>>,
    next_id: Mutex<u64>,
}

impl State {
    fn next_id(&self) -> u64 {
        let mut n = self.next_id.lock().expect("id lock");
        *n += 1;
        *n
    }
}

/// Answers the request if it is one of the ARM side's; `None` hands it to the EA API.
pub(crate) async fn route(
    shared: &Arc<Shared>,
    req: &Parts,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let path = req.uri.path().to_ascii_lowercase();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let params = params(req);
    let response = match segments.as_slice() {
        [_tenant, "oauth2", "v2.0", "token"] => login::token(shared, req, &segments, body),
        ["metadata", "identity", "oauth2", "token"] => login::imds(shared, headers, &params),
        ["msi", "token"] => login::app_service(shared, headers, &params),
        ["blobs", blob, ..] if downloads::is_download_blob(blob) => {
            downloads::blob(shared, headers, blob, &params)
        }
        ["blobs", ..] => reports::blob(shared, headers, &segments, &params).await,
        ["providers", "microsoft.billing", ..] => {
            let mut r = management(shared, req, headers, &segments, &params, body).await;
            let id = format!("{:016x}", shared.arm.next_id());
            for name in ["x-ms-request-id", "x-ms-correlation-request-id"] {
                r.headers_mut()
                    .insert(name, HeaderValue::from_str(&id).expect("hex"));
            }
            r.headers_mut().insert(
                "x-ms-ratelimit-remaining-tenant-reads",
                HeaderValue::from_static("249"),
            );
            r
        }
        _ => return None,
    };
    Some(response)
}

/// Query parameters, names lower-cased, values decoded.
fn params(req: &Parts) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

/// Where links the service sends point: the request's own host, or the one a test sets
/// (to check that clients do not follow links to other hosts).
pub(crate) fn link_base(shared: &Shared, headers: &HeaderMap) -> String {
    shared
        .config
        .next_link_base
        .clone()
        .unwrap_or_else(|| format!("http://{}", crate::routes::req_host(headers)))
}

/// ARM's error envelope: `{"error":{"code":…,"message":…}}`.
pub(crate) fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// The management routes: ARM's checks in ARM's order (token, then api-version, then the
/// scope the principal may read), faults, then the resource.
async fn management(
    shared: &Arc<Shared>,
    req: &Parts,
    headers: &HeaderMap,
    segments: &[&str],
    params: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    if let Some(refused) = login::refuse_bearer(shared, headers) {
        return refused;
    }
    let Some(version) = params.get("api-version") else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let account = segments.get(3).copied().unwrap_or("");
    let e = &shared.enrollment;
    // An EA billing account id is the enrollment number; any other is one the principal holds
    // no EA role on, which ARM answers so.
    if segments.get(2) != Some(&"billingaccounts")
        || account.parse::<u64>().ok() != Some(e.spec.number)
    {
        return arm_error(
            StatusCode::UNAUTHORIZED,
            "401",
            "No claims present for the caller in the system.",
        );
    }
    let rest = &segments[4..];
    let supported: &[&str] = match rest {
        [] => &["2019-10-01-preview", "2020-05-01", "2024-04-01"],
        ["providers", "microsoft.costmanagement", ..] => &[
            "2022-10-01",
            "2023-03-01",
            "2023-08-01",
            "2023-09-01",
            "2023-11-01",
            "2024-08-01",
            "2025-03-01",
        ],
        _ => &[
            "2021-10-01",
            "2023-03-01",
            "2023-05-01",
            "2023-11-01",
            "2024-08-01",
        ],
    };
    if !supported.contains(&version.as_str()) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            &format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        );
    }
    if let Some(response) = fault_response(shared, &req.uri.to_string()) {
        return response;
    }
    // The routes as the client spells them (`source::cost_management::routes`), lower-cased.
    let rest = rest.join("/");
    let route = |r: &str| r.to_ascii_lowercase();
    let operation = rest
        .strip_prefix(&format!("{}/", route(routes::COST_DETAILS_OPERATION)))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    let in_period = |what: &str| {
        rest.strip_prefix(&format!("{}/", route(routes::BILLING_PERIODS)))
            .and_then(|r| r.strip_suffix(&format!("/{}", route(what))))
            .filter(|p| !p.contains('/'))
    };
    let period = in_period(routes::BALANCES);
    let sheet_period = in_period(routes::PRICE_SHEET_DOWNLOAD);
    let download = [
        routes::OPERATION_RESULTS,
        routes::RESERVATION_DETAILS_OPERATION,
    ]
    .iter()
    .find_map(|r| rest.strip_prefix(&format!("{}/", route(r))))
    .filter(|id| !id.is_empty() && !id.contains('/'));
    match (req.method.clone(), operation, period) {
        (Method::GET, ..) if rest.is_empty() => reports::billing_account(shared),
        (Method::POST, ..) if rest == route(routes::GENERATE_COST_DETAILS) => {
            reports::generate(shared, headers, body, account)
        }
        (Method::GET, Some(id), _) => reports::operation(shared, headers, id, account).await,
        (Method::GET, _, Some(period)) => reports::balance(shared, period),
        (Method::POST, ..) if sheet_period.is_some() => {
            downloads::price_sheet(shared, headers, account, sheet_period.expect("matched"))
        }
        (Method::POST, ..) if rest == route(routes::GENERATE_RESERVATION_DETAILS) => {
            downloads::reservation_details(shared, headers, account, params)
        }
        (Method::GET, ..) if download.is_some() => {
            downloads::operation(shared, headers, download.expect("matched"))
        }
        (Method::GET, ..) if rest == route(routes::RESERVATION_TRANSACTIONS) => {
            reservations::transactions(shared, headers, req.uri.path(), account, params)
        }
        (Method::GET, ..) if rest == route(routes::RESERVATION_RECOMMENDATIONS) => {
            reservations::recommendations(shared, headers, req.uri.path(), params)
        }
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The resource or route was not found.",
        ),
    }
}

/// The answer of a scripted or seeded fault, if this request gets one: 429 with Cost
/// Management's several retry-after headers disagreeing (the largest is the one to honour),
/// 503 with `Retry-After`, 500. Dropped connections and slow answers are the EA API's.
fn fault_response(shared: &Shared, uri: &str) -> Option<Response> {
    let secs = shared.config.faults.retry_after_secs;
    match crate::routes::next_fault(shared, uri)? {
        Fault::RateLimited => {
            let mut r = arm_error(
                StatusCode::TOO_MANY_REQUESTS,
                "429",
                "Too many requests. Please retry.",
            );
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            h.insert(
                "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
                HeaderValue::from(secs),
            );
            h.insert(
                "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
                HeaderValue::from(secs * 2),
            );
            h.insert(
                "x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
                HeaderValue::from(secs * 3),
            );
            h.insert(
                "x-ms-ratelimit-remaining-microsoft.costmanagement-clienttype-requests",
                HeaderValue::from_static("DefaultQuota:0"),
            );
            Some(r)
        }
        Fault::Unavailable => {
            let mut r = arm_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            Some(r)
        }
        Fault::ServerError => Some(arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An error has occurred.",
        )),
        _ => None,
    }
}
