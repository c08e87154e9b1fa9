//! The billing account, cost details reports and balances of the synthetic enrollment as
//! Azure Resource Manager serves them: `generateCostDetailsReport` answers 202 with a
//! `Location` polled until the report is ready (a configurable number of 202s, the first
//! with `Location` and `Retry-After`, later ones without, as the specification allows); the
//! finished operation lists blobs behind SAS links that expire; the blobs are CSV made from
//! the same rows as the exports (a byte order mark on the first, a header on every blob of
//! actual cost and only on the first of amortized cost, to exercise both shapes).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{Months, NaiveDate};
use costlake::model::PeriodId;
use costlake::model::decimal::format_api;
use costlake::source::cost_management::routes;
use futures::StreamExt;

use super::{arm_error, storage};
use crate::Shared;
use crate::config::Fault;
use crate::exports::{CostRows, push_csv_record};
use crate::generator::{COST_SCALE, guid};
use crate::routes::req_host;

/// A report asked for.
pub(super) struct Operation {
    /// The period's index, `None` when the enrollment has no such month (no data).
    period: Option<usize>,
    amortized: bool,
    polls_left: u32,
    /// Each blob's rows and size in bytes, once the report is ready.
    blobs: Option<Vec<(std::ops::Range<u64>, u64)>>,
    expires: Instant,
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    arm_error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `GET …/billingAccounts/{e}?$expand=enrollmentDetails`.
pub(super) fn billing_account(shared: &Shared) -> Response {
    let e = &shared.enrollment;
    let first = e.periods[0].id.first_day();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "id": format!("/providers/Microsoft.Billing/billingAccounts/{}", e.spec.number),
            "name": e.spec.number.to_string(),
            "type": "Microsoft.Billing/billingAccounts",
            "properties": {
                "displayName": "Contoso (synthetic)",
                "agreementType": "EnterpriseAgreement",
                "accountStatus": "Active",
                "enrollmentDetails": {
                    "startDate": format!("{first}T00:00:00Z"),
                    "endDate": format!("{}T00:00:00Z", first.checked_add_months(Months::new(36)).expect("date")),
                    "currency": "USD", "channel": "EaDirect", "billingCycle": "Monthly",
                    "policies": { "accountOwnerViewCharges": true, "departmentAdminViewCharges": true,
                                  "marketplaceEnabled": true, "reservedInstancesEnabled": true },
                },
            },
        }),
    )
}

/// The first month the cost details API serves: 13 months back, this one included.
fn first_served(today: NaiveDate) -> PeriodId {
    PeriodId::of_date(today.checked_sub_months(Months::new(12)).expect("date"))
}

/// `POST …/generateCostDetailsReport`, validated as the service validates it.
pub(super) fn generate(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    account: &str,
) -> Response {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return bad_request("The request body is not valid JSON.");
    };
    let amortized = match request.get("metric").and_then(|m| m.as_str()) {
        None | Some("ActualCost") => false,
        Some("AmortizedCost") => true,
        Some(other) => return bad_request(&format!("Invalid metric '{other}'.")),
    };
    let given: Vec<&str> = ["billingPeriod", "timePeriod", "invoiceId"]
        .into_iter()
        .filter(|k| request.get(k).is_some())
        .collect();
    if given.len() > 1 {
        return bad_request("Only one of timePeriod, billingPeriod or invoiceId can be specified.");
    }
    let e = &shared.enrollment;
    let today = e.spec.today;
    let period = match given.first().copied() {
        None => PeriodId::of_date(today),
        Some("invoiceId") => {
            return bad_request(
                "invoiceId is supported for Microsoft Customer Agreement billing profile or customer scopes only.",
            );
        }
        Some("billingPeriod") => {
            match request["billingPeriod"].as_str().and_then(PeriodId::parse) {
                Some(p) => p,
                None => return bad_request("Invalid billingPeriod; write yyyyMM."),
            }
        }
        _ => {
            let date = |k: &str| {
                request["timePeriod"][k]
                    .as_str()
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            };
            let (Some(start), Some(end)) = (date("start"), date("end")) else {
                return bad_request("timePeriod needs start and end, yyyy-MM-dd.");
            };
            if end < start || end > start.checked_add_months(Months::new(1)).expect("date") {
                return bad_request("The maximum allowed date range is 1 months.");
            }
            // The emulator serves whole months; a range is answered with its first month's.
            PeriodId::of_date(start)
        }
    };
    let first = first_served(today);
    if period < first {
        return bad_request(&format!(
            "Start date must be after {}.",
            first.first_day().format("%Y-%m-%d")
        ));
    }
    let id = guid(&[shared.config.seed, 0xC0, shared.arm.next_id()]);
    let operation = Operation {
        period: e.period(period).map(|p| p.index),
        amortized,
        polls_left: shared.config.arm.report_polls,
        blobs: None,
        expires: Instant::now() + shared.config.arm.link_lifetime,
    };
    shared
        .arm
        .reports
        .lock()
        .expect("report lock")
        .insert(id.clone(), operation);
    accepted(shared, headers, account, &id)
}

/// A 202 pointing at the operation.
fn accepted(shared: &Shared, headers: &HeaderMap, account: &str, id: &str) -> Response {
    // A test may point the Location at another host, which a client must not follow.
    let base = super::link_base(shared, headers);
    let location = format!(
        "{base}/providers/Microsoft.Billing/billingAccounts/{account}/{}/{id}?api-version=2023-11-01",
        routes::COST_DETAILS_OPERATION
    );
    let mut r = StatusCode::ACCEPTED.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("url"),
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(shared.config.arm.poll_retry_after_secs),
    );
    r
}

/// `GET …/costDetailsOperationResults/{id}`.
pub(super) async fn operation(
    shared: &std::sync::Arc<Shared>,
    headers: &HeaderMap,
    id: &str,
    account: &str,
) -> Response {
    // A finished report's blob sizes are measured once, by rendering them, off the async
    // workers and outside the lock (a month of millions of rows takes a while).
    let unmeasured = {
        let reports = shared.arm.reports.lock().expect("report lock");
        reports
            .get(id)
            .filter(|op| op.polls_left == 0 && op.blobs.is_none())
            .and_then(|op| Some((op.period?, op.amortized)))
    };
    if let Some((index, amortized)) = unmeasured {
        let owner = shared.clone();
        let blobs = tokio::task::spawn_blocking(move || measure_blobs(&owner, index, amortized))
            .await
            .expect("measuring blobs");
        if let Some(op) = shared.arm.reports.lock().expect("report lock").get_mut(id) {
            op.blobs.get_or_insert(blobs);
        }
    }
    let mut reports = shared.arm.reports.lock().expect("report lock");
    let Some(op) = reports.get_mut(id) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The operation was not found or has expired.",
        );
    };
    if op.polls_left > 0 {
        op.polls_left -= 1;
        // Later 202s come without headers: the client keeps the URL and the wait it had.
        return if op.polls_left % 2 == 0 && op.polls_left + 1 < shared.config.arm.report_polls {
            StatusCode::ACCEPTED.into_response()
        } else {
            accepted(shared, headers, account, id)
        };
    }
    let scope = format!("providers/Microsoft.Billing/billingAccounts/{account}");
    let name = id.to_string();
    let Some(index) = op.period else {
        return json(
            StatusCode::OK,
            &serde_json::json!({ "id": format!("{scope}/{}/{name}", routes::COST_DETAILS_OPERATION),
                                 "name": name, "status": "NoDataFound" }),
        );
    };
    let period = &shared.enrollment.periods[index];
    let amortized = op.amortized;
    let blobs = op
        .blobs
        .get_or_insert_with(|| measure_blobs(shared, index, amortized));
    let expires = SystemTime::now() + op.expires.saturating_duration_since(Instant::now());
    // Seven fractional digits, as the service writes them.
    let till = chrono::DateTime::<chrono::Utc>::from(expires);
    let valid_till = format!(
        "{}.{:07}Z",
        till.format("%Y-%m-%dT%H:%M:%S"),
        till.timestamp_subsec_nanos() / 100
    );
    let host = req_host(headers);
    let links: Vec<serde_json::Value> = blobs
        .iter()
        .enumerate()
        .map(|(b, (_, size))| {
            serde_json::json!({
                "blobLink": storage::link(shared, &host, &name, b as u64, expires),
                "byteCount": size,
            })
        })
        .collect();
    let total: u64 = blobs.iter().map(|(_, s)| s).sum();
    json(
        StatusCode::OK,
        &serde_json::json!({
            "id": format!("{scope}/{}/{name}", routes::COST_DETAILS_OPERATION),
            "name": name,
            "status": "Completed",
            "manifest": {
                "manifestVersion": "2023-11-01", "dataFormat": "Csv",
                "blobCount": links.len(), "byteCount": total, "compressData": false,
                "requestContext": { "requestScope": scope, "requestBody": {
                    "metric": if amortized { "AmortizedCost" } else { "ActualCost" },
                    "billingPeriod": period.id.to_string() } },
                "blobs": links,
            },
            "validTill": valid_till,
        }),
    )
}

/// Each blob's rows and size in bytes.
fn measure_blobs(
    shared: &Shared,
    index: usize,
    amortized: bool,
) -> Vec<(std::ops::Range<u64>, u64)> {
    let e = &shared.enrollment;
    let rows = CostRows::new(e, &e.periods[index]);
    let blob_rows = shared.config.arm.blob_rows.max(1);
    let n = rows.len().div_ceil(blob_rows).max(1);
    (0..n)
        .map(|b| {
            let range = b * blob_rows..((b + 1) * blob_rows).min(rows.len());
            let size = blob_chunks(&rows, range.clone(), b, amortized)
                .map(|c| c.len() as u64)
                .sum();
            (range, size)
        })
        .collect()
}

/// A blob's CSV in chunks of rows: a byte order mark on the report's first blob, the header
/// on every blob of actual cost and on the first of amortized cost.
fn blob_chunks<'a>(
    rows: &'a CostRows<'a>,
    range: std::ops::Range<u64>,
    blob: u64,
    amortized: bool,
) -> impl Iterator<Item = String> + 'a {
    const ROWS_PER_CHUNK: u64 = 500;
    let mut head = String::new();
    if blob == 0 {
        head.push('\u{feff}');
    }
    if blob == 0 || !amortized {
        push_csv_record(&mut head, rows.headers().into_iter());
    }
    let start = range.start;
    let end = range.end;
    std::iter::once(head).chain(
        (start..end)
            .step_by(ROWS_PER_CHUNK as usize)
            .map(move |from| {
                let mut out = String::new();
                for i in from..(from + ROWS_PER_CHUNK).min(end) {
                    let row = rows.row(i);
                    push_csv_record(&mut out, row.iter().map(String::as_str));
                }
                out
            }),
    )
}

/// `GET /blobs/{operation}/{n}?…&se=…&sig=…`: a report blob behind its SAS.
pub(super) async fn blob(
    shared: &std::sync::Arc<Shared>,
    headers: &HeaderMap,
    segments: &[&str],
    params: &HashMap<String, String>,
) -> Response {
    let Some(n) = segments.get(2).and_then(|n| n.parse::<u64>().ok()) else {
        return storage::error("ResourceNotFound", "The specified blob does not exist.");
    };
    let id = segments.get(1).copied().unwrap_or("");
    let fault = match storage::check_link(shared, headers, id, n, params) {
        Ok(fault) => fault,
        Err(refused) => return *refused,
    };
    let (index, amortized, range, size) = {
        let reports = shared.arm.reports.lock().expect("report lock");
        let Some(op) = reports.get(id) else {
            return storage::error("BlobNotFound", "The specified blob does not exist.");
        };
        let Some((range, size)) = op.blobs.as_ref().and_then(|b| b.get(n as usize)).cloned() else {
            return storage::error("BlobNotFound", "The specified blob does not exist.");
        };
        (
            op.period.expect("a report with blobs has a period"),
            op.amortized,
            range,
            size,
        )
    };
    // The rows are made as the client reads.
    let chunks = futures::stream::iter(OwnedBlob {
        shared: shared.clone(),
        index,
        range,
        blob: n,
        amortized,
        made: None,
    })
    .map(|c| Ok::<Bytes, std::io::Error>(Bytes::from(c)));
    let body: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> =
        if fault == Some(Fault::DropConnection) {
            // The header goes out, then the connection drops: a blob cut short.
            Box::pin(chunks.take(1).chain(futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault: connection dropped",
                ))
            })))
        } else {
            Box::pin(chunks)
        };
    let mut r = Response::new(Body::from_stream(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    r
}

/// A blob's chunks with the enrollment they are made from.
struct OwnedBlob {
    shared: std::sync::Arc<Shared>,
    index: usize,
    range: std::ops::Range<u64>,
    blob: u64,
    amortized: bool,
    /// Chunks made but not yet sent.
    made: Option<std::vec::IntoIter<String>>,
}

impl Iterator for OwnedBlob {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        // Chunks are made a few thousand rows at a time, so that memory stays flat.
        const ROWS_PER_BATCH: u64 = 5000;
        loop {
            if let Some(chunk) = self.made.as_mut().and_then(Iterator::next) {
                return Some(chunk);
            }
            if self.range.is_empty() && self.made.is_some() {
                return None;
            }
            let e = &self.shared.enrollment;
            let rows = CostRows::new(e, &e.periods[self.index]);
            let to = (self.range.start + ROWS_PER_BATCH).min(self.range.end);
            let first = self.made.is_none();
            let mut chunks: Vec<String> =
                blob_chunks(&rows, self.range.start..to, self.blob, self.amortized).collect();
            if !first {
                chunks.remove(0); // the head goes out once
            }
            self.range.start = to;
            self.made = Some(chunks.into_iter());
        }
    }
}

/// `GET …/billingPeriods/{p}/providers/Microsoft.Consumption/balances`: one object, the
/// currency right-padded as in the specification's examples.
pub(super) fn balance(shared: &Shared, period: &str) -> Response {
    let e = &shared.enrollment;
    let Some(p) = PeriodId::parse(period).and_then(|id| e.period(id)) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("No balance found for billing period {period}."),
        );
    };
    let b = e.balance(p);
    let n = |v: i128| format_api(v, COST_SCALE);
    let details = |name: &str, v: i128| {
        if v == 0 {
            "[]".to_string()
        } else {
            format!(
                "[{{\"name\":{},\"value\":{}}}]",
                serde_json::json!(name),
                n(v)
            )
        }
    };
    let body = format!(
        concat!(
            "{{\"id\":\"/providers/Microsoft.Billing/billingAccounts/{e}/providers/Microsoft.Billing/billingPeriods/{p}/providers/Microsoft.Consumption/balances/{p}\",",
            "\"name\":\"{p}\",\"type\":\"Microsoft.Consumption/balances\",\"properties\":{{",
            "\"currency\":\"USD  \",\"beginningBalance\":{bb},\"endingBalance\":{eb},\"newPurchases\":{np},",
            "\"adjustments\":{adj},\"utilized\":{ut},\"serviceOverage\":{so},\"chargesBilledSeparately\":{cbs},",
            "\"totalOverage\":{to},\"totalUsage\":{tu},\"azureMarketplaceServiceCharges\":{mk},",
            "\"billingFrequency\":\"Month\",\"priceHidden\":false,\"overageRefund\":0,",
            "\"newPurchasesDetails\":{npd},\"adjustmentDetails\":{ad}}}}}"
        ),
        e = e.spec.number,
        p = p.id,
        bb = n(b.beginning),
        eb = n(b.ending),
        np = n(b.new_purchases),
        adj = n(b.adjustments),
        ut = n(b.utilized),
        so = n(b.service_overage),
        cbs = n(b.billed_separately),
        to = n(b.total_overage),
        tu = n(b.total_usage),
        mk = n(b.marketplace),
        npd = details("Monetary Commitment", b.new_purchases),
        ad = details("Promo Credit", b.adjustments),
    );
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}
