//! How requests prove who they are: the EA Reporting API's bearer key, a Microsoft Entra ID
//! token for the Cost Management and Consumption APIs ([`super::entra`]), or nothing at all
//! for the SAS links that reports are downloaded from (the link is its own credential). A
//! credential is never printed, logged or stored, and goes only to the host the client was
//! made for.

use std::fmt;
use std::sync::Arc;

use super::HttpError;
use super::entra::EntraCredential;

/// An API key: never printed, logged or stored.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Result<ApiKey, HttpError> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            return Err(HttpError::Config("the API key is empty".into()));
        }
        if key.chars().any(|c| c.is_control() || c == ' ') {
            return Err(HttpError::Config("the API key contains spaces or control characters; copy it again from the Azure portal".into()));
        }
        Ok(ApiKey(key))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The credential a client sends.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: bearer KEY`, the EA Reporting API's scheme.
    EaApiKey(ApiKey),
    /// `Authorization: Bearer TOKEN`, a Microsoft Entra ID token for Azure Resource Manager.
    Entra(Arc<EntraCredential>),
    /// No `Authorization` header: SAS download links carry their own signature, and the
    /// management token must never reach a storage host.
    Anonymous,
}

/// The EA billing role that reads everything a sync needs.
const ENROLLMENT_READER: &str =
    "EnrollmentReader (billing role definition 24f8edb6-1668-4659-b5e2-40bb5f3a7d7e)";

impl Auth {
    /// The `Authorization` header's value, if any (a fresh token when the held one is near
    /// its end).
    pub(super) async fn header(&self) -> Result<Option<String>, HttpError> {
        Ok(match self {
            Auth::EaApiKey(key) => Some(format!("bearer {}", key.0)),
            Auth::Entra(cred) => Some(format!("Bearer {}", cred.token().await?.expose())),
            Auth::Anonymous => None,
        })
    }

    /// What to do when the service refuses the credential (401 or 403), given the error's
    /// code and message.
    pub(super) fn when_refused(&self, code: &str, message: &str) -> String {
        match self {
            Auth::EaApiKey(_) => {
                "EA API keys expire every six months and a department or account key cannot read every report: generate a new enrollment key in the Azure portal (Cost Management + Billing → Usage + Charges → Manage API Access Keys) and set COSTLAKE_API_KEY".into()
            }
            Auth::Entra(cred) => {
                let who = cred.describe();
                match code {
                    "InvalidAuthenticationTokenTenant" => format!(
                        "{who} signs in to a tenant the billing account does not belong to: set AZURE_TENANT_ID to the enrollment's Microsoft Entra tenant"
                    ),
                    "InvalidAuthenticationTokenAudience" => format!(
                        "the token of {who} is for another audience than Azure Resource Manager: check AZURE_AUTHORITY_HOST and --arm-base belong to the same cloud"
                    ),
                    "AuthorizationFailed" | "RBACAccessDenied" => format!(
                        "the identity of {who} has no role on this scope: for a billing account an enterprise administrator assigns it {ENROLLMENT_READER}; for a subscription, Cost Management Reader"
                    ),
                    _ if code == "401" || message.contains("No claims present") => format!(
                        "the identity of {who} has no EA role on this billing account: an enterprise administrator assigns it {ENROLLMENT_READER} on the enrollment (docs/sync.md shows the call)"
                    ),
                    _ => format!(
                        "{who} was refused: check that it belongs to the enrollment's tenant and holds {ENROLLMENT_READER}"
                    ),
                }
            }
            Auth::Anonymous => {
                "the download link was refused: it has expired or was cut short".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_never_printed() {
        let key = ApiKey::new("secret-value").unwrap();
        assert!(!format!("{key:?}").contains("secret"));
        assert!(!format!("{:?}", Auth::EaApiKey(key)).contains("secret"));
        assert!(ApiKey::new("  ").is_err());
    }
}
