//! The EA price sheet download as Cost Management serves it: the POST answers 202 with a
//! `Location` under `operationResults` whose `api-version` differs from the one asked (as in
//! the specification's example); the first poll answers 200 with status `Running` (which a
//! client must treat as a 202), the next one the SAS link of a ZIP holding the month's price
//! sheet as two CSV files.

use std::collections::HashMap;
use std::io::Write;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use costlake::model::PeriodId;
use costlake::source::cost_management::routes;

use super::{arm_error, storage};
use crate::Shared;
use crate::exports::price_sheet_csv;
use crate::generator::guid;
use crate::routes::req_host;

/// The blob number SAS links of price sheets are signed with.
const ZIP_BLOB: u64 = 0;

/// A download asked for: the period and the polls still to answer `Running`.
pub(super) struct Download {
    period: usize,
    polls_left: u32,
}

fn retry_after(shared: &Shared, mut r: Response) -> Response {
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(shared.config.arm.poll_retry_after_secs),
    );
    r
}

/// `POST …/billingPeriods/{p}/…/pricesheets/default/download`.
pub(super) fn download(
    shared: &Shared,
    headers: &HeaderMap,
    account: &str,
    period: &str,
) -> Response {
    let e = &shared.enrollment;
    let Some(p) = PeriodId::parse(period).and_then(|id| e.period(id)) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "BillingPeriodNotFound",
            &format!("Billing period {period} was not found for billing account {account}."),
        );
    };
    let id = guid(&[shared.config.seed, 0x5E, shared.arm.next_id()]);
    shared.arm.sheets.lock().expect("sheet lock").insert(
        id.clone(),
        Download {
            period: p.index,
            polls_left: 1,
        },
    );
    let location = format!(
        "http://{}/providers/Microsoft.Billing/billingAccounts/{account}/{}/{id}?api-version=2023-09-01",
        req_host(headers),
        routes::OPERATION_RESULTS
    );
    let mut r = StatusCode::ACCEPTED.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("url"),
    );
    retry_after(shared, r)
}

/// `GET …/operationResults/{id}`.
pub(super) fn operation(shared: &Shared, headers: &HeaderMap, id: &str) -> Response {
    let mut sheets = shared.arm.sheets.lock().expect("sheet lock");
    let Some(d) = sheets.get_mut(id) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The operation was not found or has expired.",
        );
    };
    let json = |body: serde_json::Value| {
        (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response()
    };
    if d.polls_left > 0 {
        d.polls_left -= 1;
        return retry_after(shared, json(serde_json::json!({ "status": "Running" })));
    }
    let expires = SystemTime::now() + shared.config.arm.link_lifetime;
    let till = chrono::DateTime::<chrono::Utc>::from(expires);
    json(serde_json::json!({
        "status": "Completed",
        "properties": {
            "downloadUrl": storage::link(shared, &req_host(headers), &format!("pricesheet-{id}"), ZIP_BLOB, expires),
            "validTill": till.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
    }))
}

/// `GET /blobs/pricesheet-{id}/0?…`: the ZIP, two CSV files of half the meters each.
pub(super) fn zip(
    shared: &Shared,
    headers: &HeaderMap,
    blob: &str,
    params: &HashMap<String, String>,
) -> Response {
    if let Err(refused) = storage::check_link(shared, headers, blob, ZIP_BLOB, params) {
        return *refused;
    }
    let id = blob.trim_start_matches("pricesheet-");
    let Some(index) = shared
        .arm
        .sheets
        .lock()
        .expect("sheet lock")
        .get(id)
        .map(|d| d.period)
    else {
        return storage::error("BlobNotFound", "The specified blob does not exist.");
    };
    let e = &shared.enrollment;
    let period = &e.periods[index];
    let meters: Vec<_> = e.price_sheet_meters().collect();
    let half = meters.len() / 2;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, part, bom) in [
        ("pricesheet_1.csv", &meters[..half], true),
        ("pricesheet_2.csv", &meters[half..], false),
    ] {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(price_sheet_csv(e, period, part.iter().copied(), bom).as_bytes())
            .expect("zip write");
    }
    let bytes = zip.finish().expect("zip").into_inner();
    ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response()
}
