//! Microsoft Entra ID as the emulator plays it: the v2.0 token endpoint (client secret and
//! federated assertion, with Entra's error bodies and AADSTS codes), the instance metadata
//! service (the `Metadata: true` guard, numbers as strings) and App Service's identity
//! endpoint. Tokens are JWT-shaped, remembered with their expiry, and checked on every
//! management request.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::arm_error;
use crate::Shared;
use crate::generator::hash;

const ARM_AUDIENCES: [&str; 4] = [
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
];

/// Entra's error body: an OAuth2 code, a description starting with its AADSTS number.
fn entra_error(status: StatusCode, error: &str, aadsts: u64, description: &str) -> Response {
    let body = serde_json::json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {description}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nCorrelation ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: 2026-01-01 00:00:00Z"),
        "error_codes": [aadsts],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
        "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Mints a token for the tenant's principal and remembers when it expires.
fn mint(shared: &Shared) -> (String, Duration) {
    let arm = &shared.config.arm;
    let n = shared.arm.next_id();
    let life = arm.token_lifetime;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + life.as_secs();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let payload = serde_json::json!({
        "aud": "https://management.azure.com/", "tid": arm.tenant, "appid": arm.client_id,
        "oid": arm.client_id, "exp": exp, "jti": n,
    });
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"typ":"JWT","alg":"RS256"}"#),
        b64(&payload.to_string()),
        b64(&format!("{:016x}", hash(&[shared.config.seed, 0x70, n])))
    );
    shared.arm.tokens.lock().expect("token lock").insert(
        token.clone(),
        Instant::now() + life.saturating_sub(arm.clock_ahead),
    );
    (token, life)
}

/// `POST /{tenant}/oauth2/v2.0/token`, the client-credentials grant.
pub(super) fn token(shared: &Shared, req: &Parts, segments: &[&str], body: &[u8]) -> Response {
    if req.method != Method::POST {
        return entra_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        );
    }
    let arm = &shared.config.arm;
    if !segments[0].eq_ignore_ascii_case(&arm.tenant) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{}' not found.", segments[0]),
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if get("client_id") != arm.client_id {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory.",
                get("client_id")
            ),
        );
    }
    let scope = get("scope");
    if !scope.ends_with("/.default") || !ARM_AUDIENCES.contains(&scope.trim_end_matches(".default"))
    {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        );
    }
    match (form.get("client_secret"), form.get("client_assertion")) {
        (Some(secret), _) if *secret == arm.client_secret => {}
        (Some(_), _) => {
            return entra_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        (None, Some(assertion))
            if get("client_assertion_type")
                == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                && *assertion == arm.federated_token => {}
        (None, Some(_)) => {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                70021,
                "No matching federated identity record found for presented assertion.",
            );
        }
        (None, None) => {
            return entra_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    let (token, life) = mint(shared);
    let body = serde_json::json!({
        "token_type": "Bearer", "expires_in": life.as_secs(), "ext_expires_in": life.as_secs(),
        "access_token": token,
    });
    json(body)
}

fn json(body: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A managed identity's answer: every number a string.
fn identity_token(shared: &Shared, resource: &str) -> Response {
    let (token, life) = mint(shared);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    json(serde_json::json!({
        "access_token": token, "refresh_token": "",
        "expires_in": life.as_secs().to_string(),
        "expires_on": (now + life.as_secs()).to_string(),
        "not_before": now.to_string(), "resource": resource, "token_type": "Bearer",
        "client_id": shared.config.arm.client_id,
    }))
}

/// A managed identity's token for the `resource` asked, if it is Resource Manager.
fn token_for_resource(shared: &Shared, params: &HashMap<String, String>) -> Response {
    let resource = params.get("resource").cloned().unwrap_or_default();
    if ARM_AUDIENCES.contains(&resource.as_str()) {
        identity_token(shared, &resource)
    } else {
        entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!("The resource principal named {resource} was not found in the tenant."),
        )
    }
}

/// `GET /metadata/identity/oauth2/token`: the instance metadata service.
pub(super) fn imds(
    shared: &Shared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            r#"{"error":"invalid_request","error_description":"Required metadata header not specified"}"#,
        )
            .into_response();
    }
    token_for_resource(shared, params)
}

/// `GET /msi/token`: App Service's identity endpoint, guarded by `X-IDENTITY-HEADER`.
pub(super) fn app_service(
    shared: &Shared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    if headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        != Some(shared.config.arm.identity_header.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            r#"{"statusCode":401,"message":"Unauthorized request: the X-IDENTITY-HEADER is missing or wrong."}"#,
        )
            .into_response();
    }
    token_for_resource(shared, params)
}

/// ARM's bearer check: a token it issued and that has not expired; the refusal otherwise.
pub(super) fn refuse_bearer(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let refuse = |code: &str, message: &str| {
        let mut r = arm_error(StatusCode::UNAUTHORIZED, code, message);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(
                "Bearer authorization_uri=\"https://login.windows.net/{}\", error=\"invalid_token\"",
                shared.config.arm.tenant
            ))
            .expect("header"),
        );
        r
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Some(refuse(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let value = value.to_str().unwrap_or("");
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Some(refuse(
            "AuthenticationFailedInvalidHeader",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    let expiry = shared
        .arm
        .tokens
        .lock()
        .expect("token lock")
        .get(token.trim())
        .copied();
    match expiry {
        None => Some(refuse(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
        Some(at) if at <= Instant::now() => Some(refuse(
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )),
        Some(_) => None,
    }
}
