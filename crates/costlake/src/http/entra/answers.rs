//! What the sign-in services answer: the token of every flow (`expires_in` as a number or a
//! string, `expires_on` as Unix seconds), and a refusal turned into the sentence that names the
//! fix (the AADSTS codes of Microsoft Entra ID), or into a retry when it is transient.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{Secret, Token};
use crate::http::HttpError;
use crate::http::retry::Failure;

/// The token answer of every flow: `expires_in` as a number or a string (the metadata
/// service), `expires_on` as Unix seconds (App Service, the CLI since 2.54).
pub(super) fn parse_token(body: &[u8], who: &str) -> Result<Token, HttpError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(alias = "accessToken")]
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        expires_on: Option<serde_json::Value>,
    }
    let bad = || {
        HttpError::Config(format!(
            "signing in with {who} gave an answer with no token in it"
        ))
    };
    let answer: Answer = serde_json::from_slice(body).map_err(|_| bad())?;
    let value = answer
        .access_token
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or_else(bad)?;
    let seconds = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let now = SystemTime::now();
    let expires = match (
        answer.expires_on.as_ref().and_then(seconds),
        answer.expires_in.as_ref().and_then(seconds),
    ) {
        (Some(on), _) => UNIX_EPOCH + Duration::from_secs(on),
        (None, Some(secs)) => now + Duration::from_secs(secs),
        // The CLI before 2.54 gives only a local time; an hour is its tokens' usual life.
        (None, None) => now + Duration::from_secs(45 * 60),
    };
    let life = expires.duration_since(now).unwrap_or_default();
    // Five minutes early, as the SDKs refresh; a quarter of the life for short-lived tokens.
    let margin = Duration::from_secs(300).min(life / 4);
    Ok(Token {
        value: Secret::new(value),
        expires,
        refresh_at: expires - margin,
    })
}

/// What a refused sign-in means: transient answers are retried, the rest explained.
pub(super) fn sign_in_failure(status: u16, body: &[u8], who: &str) -> Failure {
    #[derive(Deserialize, Default)]
    struct Error {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
        #[serde(default)]
        error_codes: Vec<u64>,
    }
    let e: Error = serde_json::from_slice(body).unwrap_or_default();
    if matches!(status, 404 | 408 | 429 | 500..=599) || e.error == "temporarily_unavailable" {
        return Failure::Retry {
            reason: format!("the sign-in service answered {status}"),
            server_wait: None,
        };
    }
    let aadsts = e.error_codes.first().copied().or_else(|| {
        let d = e.error_description.strip_prefix("AADSTS")?;
        d[..d.find(':')?].parse().ok()
    });
    let why = match aadsts {
        Some(7000215) => "the client secret is wrong (the secret's value is needed, not its id); copy it again or create a new one under the app registration's Certificates & secrets, and set AZURE_CLIENT_SECRET".to_string(),
        Some(7000222) => "the client secret has expired: create a new one under the app registration's Certificates & secrets and set AZURE_CLIENT_SECRET".to_string(),
        Some(700016) => "the application in AZURE_CLIENT_ID is not known in the tenant AZURE_TENANT_ID: check both, or whether the app is registered in another tenant".to_string(),
        Some(90002) => "the tenant in AZURE_TENANT_ID does not exist: use the directory (tenant) id of the enrollment's Microsoft Entra tenant".to_string(),
        Some(700024) => "the federated token is outside its validity window: the file in AZURE_FEDERATED_TOKEN_FILE is stale".to_string(),
        Some(70021) => "no federated identity credential of the application matches the presented token: check the issuer and subject configured on the app registration".to_string(),
        Some(70011) => "the scope asked for is not valid".to_string(),
        _ => {
            // The first line of the description, without its trace and correlation ids.
            let first = e.error_description.lines().next().unwrap_or("").trim();
            let code = if e.error.is_empty() { "no error code".into() } else { e.error.clone() };
            if first.is_empty() {
                format!("the sign-in service answered {status} ({code})")
            } else {
                format!("{first} ({code})")
            }
        }
    };
    Failure::Fail(HttpError::SignIn {
        who: who.to_string(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_of_every_flow_parse() {
        let t = parse_token(
            br#"{"token_type":"Bearer","expires_in":3599,"access_token":"a.b.c"}"#,
            "x",
        )
        .unwrap();
        assert_eq!(t.value.expose(), "a.b.c");
        assert!(t.refresh_at < t.expires);
        let t = parse_token(
            br#"{"access_token":"a","expires_in":"3599","expires_on":"1714650000"}"#,
            "x",
        )
        .unwrap();
        assert_eq!(t.expires, UNIX_EPOCH + Duration::from_secs(1_714_650_000));
        let t = parse_token(
            br#"{"accessToken":"a","expiresOn":"2024-05-02 11:22:33.000000"}"#,
            "x",
        )
        .unwrap();
        assert!(t.expires > SystemTime::now());
        assert!(parse_token(b"{}", "x").is_err());
        assert!(parse_token(br#"{"access_token":""}"#, "x").is_err());
    }

    #[test]
    fn refusals_name_the_fix_and_never_echo_the_secret() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'c' are expired.\r\nTrace ID: x","error_codes":[7000222]}"#;
        match sign_in_failure(401, body, "w") {
            Failure::Fail(e) => assert!(e.to_string().contains("expired"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            sign_in_failure(503, b"", "w"),
            Failure::Retry { .. }
        ));
        match sign_in_failure(400, br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found.\r\nTrace ID: 1"}"#, "w") {
            Failure::Fail(e) => assert!(e.to_string().contains("AZURE_TENANT_ID"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
