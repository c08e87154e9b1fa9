//! The object stores of a session that is not told its lake in advance: a cluster's scheduler
//! and executors meet the lake's `az://`, `abfss://`, `s3://` or `gs://` URLs only in the plans
//! they are sent. [`LakeStores`] opens each bucket the first time a plan names it, with the same
//! credential rules as a lake opened by costlake itself (the cloud's usual environment
//! variables, plain HTTP only to loopback), so credentials stay on the machines that hold them
//! and never travel in a plan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

use crate::lake;

/// Local files as DataFusion reads them, and each bucket opened when first named.
#[derive(Debug, Default)]
pub struct LakeStores {
    local: DefaultObjectStoreRegistry,
    /// By scheme, container or bucket, and host: DataFusion's own key leaves out the
    /// `container@` of an `abfss://` URL, and two containers of one account are two stores.
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl LakeStores {
    pub fn new() -> LakeStores {
        LakeStores::default()
    }
}

/// `scheme://[container@]host[:port]`: what tells two buckets apart.
fn bucket_key(url: &Url) -> String {
    url[..url::Position::BeforePath].to_string()
}

impl ObjectStoreRegistry for LakeStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return self.local.register_store(url, store);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.insert(bucket_key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return self.local.deregister_store(url);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.remove(&bucket_key(url)).ok_or_else(|| {
            DataFusionError::Execution(format!("no store is open for {}", bucket_key(url)))
        })
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            return self.local.get_store(url);
        }
        let key = bucket_key(url);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = buckets.get(&key) {
            return Ok(store.clone());
        }
        // Building a store reads the environment and makes no request: holding the lock is
        // brief, and two plans naming the bucket at once share one store.
        let store = lake::bucket_store(url)
            .map_err(|e| DataFusionError::Execution(format!("cannot open {key}: {e}")))?;
        buckets.insert(key, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_open_once_and_containers_stay_apart() {
        let a = Url::parse("abfss://one@account.dfs.core.windows.net/lake/usage/").unwrap();
        let b = Url::parse("abfss://two@account.dfs.core.windows.net/lake/").unwrap();
        assert_ne!(bucket_key(&a), bucket_key(&b));

        let stores = LakeStores::new();
        let bucket = Url::parse("s3://bucket/lake/usage_details/").unwrap();
        let first = stores.get_store(&bucket).unwrap();
        let again = stores
            .get_store(&Url::parse("s3://bucket/other/").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert!(
            stores
                .get_store(&Url::parse("file:///tmp/x").unwrap())
                .is_ok()
        );
        assert!(
            stores
                .get_store(&Url::parse("ftp://example.com/x").unwrap())
                .is_err()
        );
    }
}
