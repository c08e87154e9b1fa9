//! Where the exports are: a folder, or a container (and prefix) in an object store, listed
//! once. Blobs named in a run's manifest are found in that listing, never guessed.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;

use super::ExportError;
use crate::lake::{Lake, LakeError, redact};

/// The exports' location, listed.
pub struct ExportTree {
    pub(super) store: Arc<dyn ObjectStore>,
    location: String,
    /// Every object under the source, with its size: blobs are found here, not guessed.
    pub(super) objects: HashMap<Path, u64>,
    /// When each manifest was written, for old manifests without `submittedTime`.
    pub(super) modified: HashMap<Path, DateTime<Utc>>,
}

impl ExportTree {
    /// Lists the source once. It is opened the way a lake is (same URLs, same credentials
    /// and the same refusal of plain HTTP off loopback), but never written to.
    pub async fn open(location: &str) -> Result<ExportTree, ExportError> {
        let root = Lake::open(location, false).await.map_err(|e| match e {
            LakeError::Missing(_) => ExportError::List {
                location: location.to_string(),
                message: "there is nothing there; give the folder or container the exports are written to".into(),
            },
            other => ExportError::Lake(other),
        })?;
        let store = root.store();
        let listed: Vec<_> =
            store
                .list(None)
                .try_collect()
                .await
                .map_err(|e| ExportError::List {
                    location: location.to_string(),
                    message: redact(&e.to_string()),
                })?;
        let mut objects = HashMap::new();
        let mut modified = HashMap::new();
        for meta in listed {
            modified.insert(meta.location.clone(), meta.last_modified);
            objects.insert(meta.location, meta.size);
        }
        Ok(ExportTree {
            store,
            location: location.to_string(),
            objects,
            modified,
        })
    }

    /// The object a manifest's `blobName` names. `blobName` is relative to the container,
    /// and the source may be a folder inside the container, above it, or a copy of the tree
    /// elsewhere: the name (less any leading folders) is looked for under each folder from
    /// the manifest's own up to the source's root.
    pub(super) fn resolve(&self, manifest: &Path, blob_name: &str) -> Option<Path> {
        let segments: Vec<&str> = blob_name
            .trim()
            .split('/')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let dir: Vec<String> = manifest.parts().map(|p| p.as_ref().to_string()).collect();
        let dir = &dir[..dir.len().saturating_sub(1)];
        (0..segments.len()).find_map(|skip| {
            (0..=dir.len()).rev().find_map(|depth| {
                let path = Path::from_iter(
                    dir[..depth]
                        .iter()
                        .map(String::as_str)
                        .chain(segments[skip..].iter().copied()),
                );
                self.objects.contains_key(&path).then_some(path)
            })
        })
    }

    /// A path as the user would name it: under the location they gave.
    pub(super) fn file_name(&self, path: &Path) -> String {
        format!("{}/{}", self.location.trim_end_matches('/'), path)
    }
}
