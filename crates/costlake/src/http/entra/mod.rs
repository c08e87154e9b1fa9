//! Signing in with Microsoft Entra ID for the Azure Resource Manager APIs, in the order the
//! Azure SDKs try credentials: a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
//! `AZURE_CLIENT_SECRET`), workload identity (`AZURE_FEDERATED_TOKEN_FILE`, re-read for every
//! token since the kubelet rotates it), managed identity (App Service's `IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER`, else the instance metadata service), then the Azure CLI
//! (`az account get-access-token`). `AZURE_AUTHORITY_HOST` replaces the login host, and
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` the metadata service's, and `AZURE_TOKEN_CREDENTIALS=dev`
//! (or `AzureCliCredential`) goes straight to the CLI, as in the SDKs.
//!
//! The flows are implemented here rather than through the `azure_identity` crate: its 1.x
//! releases (1.1.0-beta.1 checked) bring a second TLS crypto provider (aws-lc-rs, a C build
//! with cmake) beside the ring provider the rest of costlake uses, and fix the metadata
//! service's address, so the managed-identity path could not be exercised against the
//! emulator. Each flow is one form POST or GET.
//!
//! A token is kept in memory only, refreshed a little before it expires (and at once when the
//! service says it has expired), never printed, logged or written anywhere, and handed only to
//! the client of the management host.

mod answers;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use reqwest::Url;

use super::retry::{Backoff, Failure, RetryConfig};
use super::{HttpError, install_crypto_provider, is_loopback};
use answers::{parse_token, sign_in_failure};

/// The login host of the public cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The instance metadata service of Azure virtual machines.
pub const DEFAULT_IMDS_HOST: &str = "http://169.254.169.254";
/// The audience of Azure Resource Manager tokens.
pub const ARM_RESOURCE: &str = "https://management.azure.com";

/// A secret value: a client secret, a token, a header. Never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the token is obtained.
#[derive(Debug)]
enum Flow {
    ClientSecret {
        token_url: Url,
        client_id: String,
        secret: Secret,
    },
    WorkloadIdentity {
        token_url: Url,
        client_id: String,
        token_file: PathBuf,
    },
    AppService {
        endpoint: Url,
        header: Secret,
        client_id: Option<String>,
    },
    Imds {
        endpoint: Url,
        client_id: Option<String>,
    },
    AzureCli {
        tenant: Option<String>,
    },
    /// Nothing named a credential: the metadata service if this machine has one (probed
    /// once, with a short connect timeout, as the SDKs do), else the Azure CLI.
    ImdsOrCli {
        endpoint: Url,
        client_id: Option<String>,
        tenant: Option<String>,
        /// Whether the probe found the metadata service.
        imds: std::sync::Mutex<Option<bool>>,
    },
}

/// A token and when it stops being valid.
pub(super) struct Token {
    value: Secret,
    expires: SystemTime,
    /// When to ask for the next one: a little before `expires`.
    refresh_at: SystemTime,
}

/// An Entra ID credential for one resource (the management host).
pub struct EntraCredential {
    flow: Flow,
    resource: String,
    http: reqwest::Client,
    retry: RetryConfig,
    cache: tokio::sync::Mutex<Option<Token>>,
}

impl fmt::Debug for EntraCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntraCredential({})", self.describe())
    }
}

/// The environment as the credential reads it; tests pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A login or metadata host: https, or plain http to loopback (the emulator) or to the
/// metadata service's link-local address.
fn host_url(value: &str, what: &str) -> Result<Url, HttpError> {
    let url = Url::parse(value.trim_end_matches('/'))
        .map_err(|e| HttpError::Config(format!("{what} '{value}' is not a URL ({e})")))?;
    let link_local = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_link_local());
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) || link_local => Ok(url),
        "http" => Err(HttpError::Insecure(url.to_string())),
        other => Err(HttpError::Config(format!(
            "{what} must be an https URL, not {other}:"
        ))),
    }
}

impl EntraCredential {
    /// The first credential the environment configures, in the SDKs' order; the metadata
    /// service and then the Azure CLI when nothing names one.
    pub fn from_env(
        resource: &str,
        env: Env<'_>,
        retry: RetryConfig,
    ) -> Result<EntraCredential, HttpError> {
        let authority = host_url(
            &var(env, "AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into()),
            "AZURE_AUTHORITY_HOST",
        )?;
        let tenant = var(env, "AZURE_TENANT_ID");
        let client_id = var(env, "AZURE_CLIENT_ID");
        let token_url = |tenant: &str| -> Result<Url, HttpError> {
            if !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            {
                return Err(HttpError::Config(
                    "AZURE_TENANT_ID must be a tenant id (a GUID) or a domain name".into(),
                ));
            }
            authority
                .join(&format!("{tenant}/oauth2/v2.0/token"))
                .map_err(|e| HttpError::Config(format!("AZURE_AUTHORITY_HOST: {e}")))
        };
        let flow = if let Some(secret) = var(env, "AZURE_CLIENT_SECRET") {
            let (Some(tenant), Some(client_id)) = (&tenant, &client_id) else {
                return Err(HttpError::Config(
                    "AZURE_CLIENT_SECRET is set, but AZURE_TENANT_ID and AZURE_CLIENT_ID must be set too".into(),
                ));
            };
            Flow::ClientSecret {
                token_url: token_url(tenant)?,
                client_id: client_id.clone(),
                secret: Secret::new(secret),
            }
        } else if let Some(file) = var(env, "AZURE_FEDERATED_TOKEN_FILE") {
            let (Some(tenant), Some(client_id)) = (&tenant, &client_id) else {
                return Err(HttpError::Config(
                    "AZURE_FEDERATED_TOKEN_FILE is set, but AZURE_TENANT_ID and AZURE_CLIENT_ID must be set too".into(),
                ));
            };
            Flow::WorkloadIdentity {
                token_url: token_url(tenant)?,
                client_id: client_id.clone(),
                token_file: file.into(),
            }
        } else if let (Some(endpoint), Some(header)) = (
            var(env, "IDENTITY_ENDPOINT").or_else(|| var(env, "MSI_ENDPOINT")),
            var(env, "IDENTITY_HEADER").or_else(|| var(env, "MSI_SECRET")),
        ) {
            Flow::AppService {
                endpoint: host_url(&endpoint, "IDENTITY_ENDPOINT")?,
                header: Secret::new(header),
                client_id,
            }
        } else if var(env, "AZURE_TOKEN_CREDENTIALS").is_some_and(|v| {
            v.eq_ignore_ascii_case("AzureCliCredential") || v.eq_ignore_ascii_case("dev")
        }) {
            // The newer SDKs' way to skip straight to the developer's sign-in.
            Flow::AzureCli { tenant }
        } else {
            let named = var(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
            let host = host_url(
                named.as_deref().unwrap_or(DEFAULT_IMDS_HOST),
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            )?;
            let endpoint = host
                .join("metadata/identity/oauth2/token")
                .map_err(|e| HttpError::Config(e.to_string()))?;
            if named.is_some() {
                Flow::Imds {
                    endpoint,
                    client_id,
                }
            } else {
                Flow::ImdsOrCli {
                    endpoint,
                    client_id,
                    tenant,
                    imds: std::sync::Mutex::new(None),
                }
            }
        };
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("costlake/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(EntraCredential {
            flow,
            resource: resource.trim_end_matches('/').to_string(),
            http,
            retry,
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// Which credential this is, for messages.
    pub fn describe(&self) -> &'static str {
        match self.flow {
            Flow::ClientSecret { .. } => "the client secret in AZURE_CLIENT_SECRET",
            Flow::WorkloadIdentity { .. } => {
                "the workload identity token in AZURE_FEDERATED_TOKEN_FILE"
            }
            Flow::AppService { .. } => "the App Service managed identity (IDENTITY_ENDPOINT)",
            Flow::Imds { .. } => "the managed identity of this machine (instance metadata)",
            Flow::AzureCli { .. } => "the Azure CLI's signed-in account (az login)",
            Flow::ImdsOrCli { ref imds, .. } => match *imds.lock().expect("probe lock") {
                Some(true) => "the managed identity of this machine (instance metadata)",
                Some(false) => "the Azure CLI's signed-in account (az login)",
                None => "a managed identity or the Azure CLI",
            },
        }
    }

    /// A valid token: the one held, or a new one once it is near its end.
    pub async fn token(&self) -> Result<Secret, HttpError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.as_ref()
            && SystemTime::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let token = self.request().await?;
        let value = token.value.clone();
        *cache = Some(token);
        Ok(value)
    }

    /// Forgets the token held: the service said it has expired (a clock apart, a revoked
    /// token).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Seconds until the held token expires, for tests and progress.
    pub async fn held_for(&self) -> Option<Duration> {
        let cache = self.cache.lock().await;
        cache
            .as_ref()
            .and_then(|t| t.expires.duration_since(SystemTime::now()).ok())
    }

    async fn request(&self) -> Result<Token, HttpError> {
        if let Flow::ImdsOrCli {
            endpoint,
            client_id,
            tenant,
            imds,
        } = &self.flow
        {
            let known = *imds.lock().expect("probe lock");
            let use_imds = match known {
                Some(found) => found,
                None => {
                    let found = self.probe_imds(endpoint).await;
                    *imds.lock().expect("probe lock") = Some(found);
                    found
                }
            };
            return if use_imds {
                self.imds_token(endpoint, client_id.as_deref()).await
            } else {
                self.azure_cli(tenant.as_deref()).await
            };
        }
        if let Flow::Imds {
            endpoint,
            client_id,
        } = &self.flow
        {
            return self.imds_token(endpoint, client_id.as_deref()).await;
        }
        let scope = format!("{}/.default", self.resource);
        let resource = format!("{}/", self.resource);
        let (url, req) = match &self.flow {
            Flow::ClientSecret {
                token_url,
                client_id,
                secret,
            } => (
                token_url,
                self.http.post(token_url.clone()).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("scope", &scope),
                    ("client_secret", secret.expose()),
                ]),
            ),
            Flow::WorkloadIdentity {
                token_url,
                client_id,
                token_file,
            } => {
                let assertion = std::fs::read_to_string(token_file).map_err(|e| {
                    HttpError::Config(format!(
                        "cannot read the federated token file {} named by AZURE_FEDERATED_TOKEN_FILE: {e}",
                        token_file.display()
                    ))
                })?;
                (
                    token_url,
                    self.http.post(token_url.clone()).form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", client_id),
                        ("scope", &scope),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", assertion.trim()),
                    ]),
                )
            }
            Flow::AppService {
                endpoint,
                header,
                client_id,
            } => {
                let mut query = vec![("api-version", "2019-08-01"), ("resource", &resource)];
                if let Some(id) = client_id {
                    query.push(("client_id", id));
                }
                (
                    endpoint,
                    self.http
                        .get(endpoint.clone())
                        .query(&query)
                        .header("X-IDENTITY-HEADER", header.expose()),
                )
            }
            Flow::AzureCli { tenant } => return self.azure_cli(tenant.as_deref()).await,
            Flow::Imds { .. } | Flow::ImdsOrCli { .. } => unreachable!("handled above"),
        };
        self.send(url, req).await
    }

    /// Whether the metadata service is there: it answers a request without the `Metadata`
    /// header with 400 (a proxy or another service on the address answers otherwise).
    async fn probe_imds(&self, endpoint: &Url) -> bool {
        let probe = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build();
        match probe {
            Ok(c) => c
                .get(endpoint.clone())
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::BAD_REQUEST),
            Err(_) => false,
        }
    }

    async fn imds_token(
        &self,
        endpoint: &Url,
        client_id: Option<&str>,
    ) -> Result<Token, HttpError> {
        let resource = format!("{}/", self.resource);
        let mut query = vec![
            ("api-version", "2018-02-01"),
            ("resource", resource.as_str()),
        ];
        if let Some(id) = client_id {
            query.push(("client_id", id));
        }
        let req = self
            .http
            .get(endpoint.clone())
            .query(&query)
            .header("Metadata", "true");
        self.send(endpoint, req).await
    }

    /// Sends a token request under the retry policy.
    async fn send(&self, url: &Url, req: reqwest::RequestBuilder) -> Result<Token, HttpError> {
        let mut backoff = Backoff::new(&self.retry, url);
        let mut retries = 0;
        loop {
            let sent = std::time::Instant::now();
            let attempt = req
                .try_clone()
                .expect("form and query requests clone")
                .send()
                .await;
            super::log_request(url, &attempt, sent);
            let failure = match attempt {
                Ok(resp) => {
                    let status = resp.status();
                    let body = read_small(resp).await;
                    if status.is_success() {
                        return parse_token(&body, self.describe());
                    }
                    sign_in_failure(status.as_u16(), &body, self.describe())
                }
                Err(e) => Failure::Retry {
                    reason: super::error_chain(&e),
                    server_wait: None,
                },
            };
            backoff.after(failure, &mut retries).await?;
        }
    }

    async fn azure_cli(&self, tenant: Option<&str>) -> Result<Token, HttpError> {
        let mut cmd = tokio::process::Command::new("az");
        cmd.args([
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
        ])
        .arg(format!("{}/", self.resource));
        if let Some(t) = tenant {
            cmd.args(["--tenant", t]);
        }
        let out = cmd.kill_on_drop(true).output().await.map_err(|e| {
            HttpError::Config(format!(
                "no Azure credential is configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, run on Azure with a managed identity, or install the Azure CLI and run `az login` (running `az` failed: {e})"
            ))
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = if stderr.contains("az login") {
                "run `az login` first"
            } else {
                "run `az account get-access-token` to see why"
            };
            return Err(HttpError::Config(format!(
                "the Azure CLI gave no token ({hint}); or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal"
            )));
        }
        parse_token(&out.stdout, self.describe())
    }
}

async fn read_small(mut resp: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < 64 << 10 {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cred(vars: &[(&str, &str)]) -> Result<EntraCredential, HttpError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EntraCredential::from_env(
            ARM_RESOURCE,
            &move |k| map.get(k).cloned(),
            RetryConfig::default(),
        )
    }

    #[test]
    fn the_sdks_order_decides_the_flow() {
        let secret = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
        ];
        let c = cred(&secret).unwrap();
        assert!(matches!(c.flow, Flow::ClientSecret { .. }));
        assert!(!format!("{c:?} {:?}", c.flow).contains("s3cret"));
        let c = cred(
            &secret[..2]
                .iter()
                .chain(&secret[3..])
                .copied()
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(matches!(c.flow, Flow::WorkloadIdentity { .. }));
        let c = cred(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"),
            ("IDENTITY_HEADER", "h"),
        ])
        .unwrap();
        assert!(matches!(c.flow, Flow::AppService { .. }));
        let c = cred(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")]).unwrap();
        assert!(matches!(c.flow, Flow::Imds { .. }));
        assert!(matches!(cred(&[]).unwrap().flow, Flow::ImdsOrCli { .. }));
        assert!(matches!(
            cred(&[("AZURE_TOKEN_CREDENTIALS", "dev")]).unwrap().flow,
            Flow::AzureCli { .. }
        ));
        assert!(cred(&[("AZURE_CLIENT_SECRET", "s")]).is_err());
        assert!(matches!(
            cred(&[
                ("AZURE_AUTHORITY_HOST", "http://login.example"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s")
            ]),
            Err(HttpError::Insecure(_))
        ));
        assert!(
            cred(&[
                ("AZURE_TENANT_ID", "t/../x"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s")
            ])
            .is_err()
        );
    }
}
