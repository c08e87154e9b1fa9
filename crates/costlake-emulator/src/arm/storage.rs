//! The storage side of report downloads: read-only SAS links whose signature and expiry are
//! checked as Azure Storage checks them, answered with its XML errors (`403
//! AuthenticationFailed`, "Signature not valid in the specified time frame"), and refused when
//! they also carry an `Authorization` header.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Shared;
use crate::config::Fault;
use crate::generator::hash;

/// Azure Storage's error answer.
pub(super) fn error(code: &str, detail: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:00000000-0000-0000-0000-000000000000\nTime:2026-01-01T00:00:00.0000000Z</Message><AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail></Error>"
    );
    let mut r = (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response();
    r.headers_mut().insert(
        "x-ms-error-code",
        HeaderValue::from_str(code).expect("code"),
    );
    r
}

fn signature(shared: &Shared, id: &str, blob: u64, se: u64) -> u64 {
    let id_hash = id.bytes().fold(0u64, |a, b| a.rotate_left(5) ^ b as u64);
    hash(&[shared.config.seed, 0x5A5, id_hash, blob, se])
}

/// The SAS link of blob `n` of download `id`, valid until `expires`.
pub(super) fn link(shared: &Shared, host: &str, id: &str, n: u64, expires: SystemTime) -> String {
    let se = expires
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "http://{host}/blobs/{id}/{n}?sv=2023-11-03&se={se}&sr=b&sp=r&sig={:016x}",
        signature(shared, id, n, se)
    )
}

/// Checks a link as the storage service does; the fault to answer with, if any, once it
/// passes.
pub(super) fn check_link(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    n: u64,
    params: &HashMap<String, String>,
) -> Result<Option<Fault>, Box<Response>> {
    let se: u64 = params.get("se").and_then(|s| s.parse().ok()).unwrap_or(0);
    let sig = params.get("sig").map(String::as_str).unwrap_or("");
    if sig != format!("{:016x}", signature(shared, id, n, se)) {
        return Err(Box::new(error(
            "AuthenticationFailed",
            "Signature did not match.",
        )));
    }
    if headers.contains_key(header::AUTHORIZATION) {
        // A SAS request must not carry another credential; the storage service refuses it.
        return Err(Box::new(error(
            "AuthenticationFailed",
            "A SAS request may not carry an Authorization header.",
        )));
    }
    let fault = crate::routes::next_fault(shared, &format!("/blobs/{id}/{n}"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if fault == Some(Fault::LinkExpired) || now >= se {
        return Err(Box::new(error(
            "AuthenticationFailed",
            "Signature not valid in the specified time frame: Start [] - Expiry [] - Current []",
        )));
    }
    Ok(fault)
}
