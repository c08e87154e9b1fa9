//! Lakes in object stores: `az://` and `abfss://` (Azure Blob Storage and ADLS Gen2), `s3://`
//! and `gs://`, with each cloud's usual environment variables for credentials, through the
//! `object_store` crate. Plain HTTP endpoints (Azurite, an S3-compatible test server) are
//! accepted on loopback only.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::ObjectStoreScheme;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::prefix::PrefixStore;

use super::{Lake, LakeError, redact};

impl Lake {
    pub(super) fn open_object_store(location: &str, url: &url::Url) -> Result<Lake, LakeError> {
        let (bucket_store, prefix) = open_bucket(location, url)?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            bucket_store.clone()
        } else {
            Arc::new(PrefixStore::new(bucket_store.clone(), prefix.clone()))
        };
        let mut bucket_url = url.clone();
        bucket_url.set_path("/");
        bucket_url.set_query(None);
        bucket_url.set_fragment(None);
        let root = bucket_url.as_str().trim_end_matches('/').to_string();
        let url = if prefix.as_ref().is_empty() {
            format!("{root}/")
        } else {
            format!("{root}/{prefix}/")
        };
        Ok(Lake {
            store,
            bucket_store,
            bucket_url: Some(bucket_url),
            location: location.to_string(),
            url,
            local_root: None,
            manifest_lock: Arc::default(),
            lease_lost: Arc::default(),
            memory: Default::default(),
        })
    }
}

/// The store of the bucket or container `url` names, built with the same credential rules as
/// a lake there; a cluster's scheduler and executors open the lake's files through it.
pub fn bucket_store(url: &url::Url) -> Result<Arc<dyn ObjectStore>, LakeError> {
    open_bucket(url.as_str(), url).map(|(store, _)| store)
}

/// The bucket's store and the path in it that `url` names: the cloud's credentials come from
/// its usual environment variables, and plain HTTP is allowed only to loopback.
fn open_bucket(
    location: &str,
    url: &url::Url,
) -> Result<(Arc<dyn ObjectStore>, object_store::path::Path), LakeError> {
    let loc_err = |message: String| LakeError::Location {
        location: location.to_string(),
        message,
    };
    let (scheme, prefix) =
        ObjectStoreScheme::parse(url).map_err(|e| loc_err(redact(&e.to_string())))?;
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::MicrosoftAzure => {
            let builder = MicrosoftAzureBuilder::from_env().with_url(location);
            // Azurite (AZURE_STORAGE_USE_EMULATOR) speaks plain HTTP: only on loopback.
            if env_flag("AZURE_STORAGE_USE_EMULATOR") {
                let endpoint = std::env::var("AZURITE_BLOB_STORAGE_URL")
                    .unwrap_or_else(|_| "http://127.0.0.1:10000".into());
                refuse_remote_http(&endpoint).map_err(loc_err)?;
            }
            Arc::new(
                builder
                    .build()
                    .map_err(|e| loc_err(redact(&e.to_string())))?,
            )
        }
        ObjectStoreScheme::AmazonS3 => {
            // An S3-compatible server may be plain HTTP, but only on loopback.
            let endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
                .iter()
                .find_map(|k| std::env::var(k).ok());
            let http = match &endpoint {
                Some(e) => refuse_remote_http(e).map_err(loc_err)?,
                None => false,
            };
            let builder = AmazonS3Builder::from_env()
                .with_url(location)
                .with_allow_http(http);
            Arc::new(
                builder
                    .build()
                    .map_err(|e| loc_err(redact(&e.to_string())))?,
            )
        }
        ObjectStoreScheme::GoogleCloudStorage => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(location)
                .build()
                .map_err(|e| loc_err(redact(&e.to_string())))?,
        ),
        _ => {
            return Err(loc_err(
                "use a folder, file://, az:// (or abfss://), s3:// or gs://".into(),
            ));
        }
    };
    Ok((store, prefix))
}

/// Whether an environment flag is set to true (`1`, `true`, `yes`).
fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// `Ok(true)` for a plain-HTTP endpoint on a loopback address (a local emulator), `Ok(false)`
/// for HTTPS, and an error for plain HTTP to anywhere else: credentials never cross a network
/// in the clear.
fn refuse_remote_http(endpoint: &str) -> Result<bool, String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("endpoint {endpoint}: {e}"))?;
    if url.scheme() != "http" {
        return Ok(false);
    }
    if crate::http::is_loopback(&url) {
        Ok(true)
    } else {
        Err(format!(
            "refusing plain http:// to {endpoint}: credentials would travel unencrypted; use https:// (http is allowed only to a loopback emulator)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_endpoints_only_on_loopback() {
        assert!(refuse_remote_http("http://127.0.0.1:10000").unwrap());
        assert!(!refuse_remote_http("https://s3.example.com").unwrap());
        assert!(refuse_remote_http("http://minio.internal:9000").is_err());
    }
}
