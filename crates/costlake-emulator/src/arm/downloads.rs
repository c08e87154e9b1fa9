//! Cost Management's downloads that end in one SAS-linked file: the EA price sheet (a POST
//! under the billing period, polled under `operationResults` with an `api-version` that
//! differs from the one asked, as in the specification's example, ending in `downloadUrl` and
//! `validTill`: a ZIP holding the month's price sheet as two CSV files) and the reservation
//! details report (`generateReservationDetailsReport?startDate&endDate`, polled under
//! `reservationDetailsOperationResults`, ending in `reportUrl` and `validUntil`: one CSV).
//! The POST answers 202 with a `Location`; the first poll answers 200 with status `Running`
//! (which a client must treat as a 202), the next one the link.

use std::collections::HashMap;
use std::io::Write;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use costlake::model::PeriodId;
use costlake::source::cost_management::routes;

use super::{arm_error, reservations, storage};
use crate::Shared;
use crate::exports::price_sheet_csv;
use crate::generator::guid;
use crate::routes::req_host;

/// The blob number the SAS links of downloads are signed with: one file each.
const FILE_BLOB: u64 = 0;

/// A download asked for, and the polls still to answer `Running`.
pub(super) struct Download {
    what: Downloaded,
    polls_left: u32,
}

#[derive(Clone, Copy)]
enum Downloaded {
    /// A period's price sheet (its index).
    PriceSheet(usize),
    /// The reservation details of these days.
    ReservationDetails(NaiveDate, NaiveDate),
}

impl Downloaded {
    /// The blob's name prefix, which routes its GET here.
    fn prefix(self) -> &'static str {
        match self {
            Downloaded::PriceSheet(_) => "pricesheet-",
            Downloaded::ReservationDetails(..) => "rsvdetails-",
        }
    }
}

/// Whether a blob name is one of a download's.
pub(super) fn is_download_blob(blob: &str) -> bool {
    blob.starts_with("pricesheet-") || blob.starts_with("rsvdetails-")
}

fn retry_after(shared: &Shared, mut r: Response) -> Response {
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(shared.config.arm.poll_retry_after_secs),
    );
    r
}

/// `POST …/billingPeriods/{p}/…/pricesheets/default/download`.
pub(super) fn price_sheet(
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
    let location = |id: &str| {
        format!(
            "{}/providers/Microsoft.Billing/billingAccounts/{account}/{}/{id}?api-version=2023-09-01",
            super::link_base(shared, headers),
            routes::OPERATION_RESULTS
        )
    };
    start(shared, Downloaded::PriceSheet(p.index), location)
}

/// `POST …/generateReservationDetailsReport?startDate=…&endDate=…`.
pub(super) fn reservation_details(
    shared: &Shared,
    headers: &HeaderMap,
    account: &str,
    params: &HashMap<String, String>,
) -> Response {
    let date = |name: &str| {
        params
            .get(&name.to_ascii_lowercase())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let (Some(from), Some(to)) = (date("startDate"), date("endDate")) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "startDate and endDate are required, as yyyy-MM-dd.",
        );
    };
    if to < from {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "endDate must not be before startDate.",
        );
    }
    let location = |id: &str| {
        format!(
            "{}/providers/Microsoft.Billing/billingAccounts/{account}/{}/{id}?api-version=2023-11-01",
            super::link_base(shared, headers),
            routes::RESERVATION_DETAILS_OPERATION
        )
    };
    start(shared, Downloaded::ReservationDetails(from, to), location)
}

/// Records the download and answers 202 with its `Location`.
fn start(shared: &Shared, what: Downloaded, location: impl Fn(&str) -> String) -> Response {
    let id = guid(&[shared.config.seed, 0x5E, shared.arm.next_id()]);
    shared.arm.downloads.lock().expect("download lock").insert(
        id.clone(),
        Download {
            what,
            polls_left: 1,
        },
    );
    let mut r = StatusCode::ACCEPTED.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location(&id)).expect("url"),
    );
    retry_after(shared, r)
}

/// `GET …/operationResults/{id}` and `…/reservationDetailsOperationResults/{id}`.
pub(super) fn operation(shared: &Shared, headers: &HeaderMap, id: &str) -> Response {
    let mut downloads = shared.arm.downloads.lock().expect("download lock");
    let Some(d) = downloads.get_mut(id) else {
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
    let till = chrono::DateTime::<chrono::Utc>::from(expires)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let link = storage::link(
        shared,
        &req_host(headers),
        &format!("{}{id}", d.what.prefix()),
        FILE_BLOB,
        expires,
    );
    json(match d.what {
        Downloaded::PriceSheet(_) => serde_json::json!({
            "status": "Completed",
            "properties": { "downloadUrl": link, "validTill": till },
        }),
        Downloaded::ReservationDetails(..) => serde_json::json!({
            "status": "Completed",
            "properties": { "reportUrl": link, "validUntil": till },
        }),
    })
}

/// `GET /blobs/{prefix}{id}/0?…`: the download's file.
pub(super) fn blob(
    shared: &Shared,
    headers: &HeaderMap,
    blob: &str,
    params: &HashMap<String, String>,
) -> Response {
    if let Err(refused) = storage::check_link(shared, headers, blob, FILE_BLOB, params) {
        return *refused;
    }
    let id = blob.split_once('-').map_or("", |(_, id)| id);
    let what = shared
        .arm
        .downloads
        .lock()
        .expect("download lock")
        .get(id)
        .map(|d| d.what);
    match what {
        Some(Downloaded::PriceSheet(index)) => zip(shared, index),
        Some(Downloaded::ReservationDetails(from, to)) => (
            [(header::CONTENT_TYPE, "text/csv")],
            reservations::details_csv(&shared.enrollment, from, to),
        )
            .into_response(),
        None => storage::error("BlobNotFound", "The specified blob does not exist."),
    }
}

/// The price sheet ZIP: two CSV files of half the meters each.
fn zip(shared: &Shared, index: usize) -> Response {
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
