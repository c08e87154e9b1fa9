//! How requests prove who they are: the EA Reporting API's bearer key today; the Entra ID
//! credentials of the Cost Management APIs join here as further variants. A credential is
//! never printed, logged or stored, and goes only to the host the client was made for.

use std::fmt;

use super::HttpError;

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
}

impl Auth {
    /// The `Authorization` header's value.
    pub(super) fn header(&self) -> String {
        match self {
            Auth::EaApiKey(key) => format!("bearer {}", key.0),
        }
    }

    /// What to do when the service refuses the credential (401 or 403).
    pub(super) fn when_refused(&self) -> &'static str {
        match self {
            Auth::EaApiKey(_) => {
                "EA API keys expire every six months and a department or account key cannot read every report: generate a new enrollment key in the Azure portal (Cost Management + Billing → Usage + Charges → Manage API Access Keys) and set COSTLAKE_API_KEY"
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
