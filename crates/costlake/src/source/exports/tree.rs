//! Where the exports are: a folder, or a container (and prefix) in an object store, listed
//! once. Blobs named in a run's manifest are found in that listing, never guessed. A folder
//! is walked here rather than by the store: a symbolic link is followed only to a file or
//! folder inside the source, and a loop is a warning, not the end of the listing.

use std::collections::{HashMap, HashSet};
use std::path::{Path as FsPath, PathBuf};
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
    /// What the listing passed over, and why.
    pub(super) warnings: Vec<String>,
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
        let mut tree = ExportTree {
            store: store.clone(),
            location: location.to_string(),
            objects: HashMap::new(),
            modified: HashMap::new(),
            warnings: Vec::new(),
        };
        if let Some(dir) = root.local_root() {
            let mut visited = HashSet::from([dir.to_path_buf()]);
            tree.walk(dir, dir, &mut Vec::new(), &mut visited);
            return Ok(tree);
        }
        let listed: Vec<_> =
            store
                .list(None)
                .try_collect()
                .await
                .map_err(|e| ExportError::List {
                    location: location.to_string(),
                    message: redact(&e.to_string()),
                })?;
        for meta in listed {
            tree.modified
                .insert(meta.location.clone(), meta.last_modified);
            tree.objects.insert(meta.location, meta.size);
        }
        Ok(tree)
    }

    /// Lists the files under `dir` (the folder `rel` of the source at `root`, already
    /// canonical), following links that stay inside the source.
    fn walk(
        &mut self,
        root: &FsPath,
        dir: &FsPath,
        rel: &mut Vec<String>,
        visited: &mut HashSet<PathBuf>,
    ) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                let shown = self.shown(rel);
                return self
                    .warnings
                    .push(format!("{shown}: cannot list it ({e}); skipped"));
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            rel.push(name);
            let path = entry.path();
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            let target = if is_link {
                match std::fs::canonicalize(&path) {
                    Ok(t) if t.starts_with(root) => Some(t),
                    Ok(_) => {
                        let shown = self.shown(rel);
                        self.warnings.push(format!(
                            "{shown}: a symbolic link out of the source; not followed"
                        ));
                        None
                    }
                    Err(e) => {
                        let shown = self.shown(rel);
                        self.warnings.push(format!(
                            "{shown}: a symbolic link that loops or leads nowhere ({e}); skipped"
                        ));
                        None
                    }
                }
            } else {
                Some(path)
            };
            if let Some(target) = target
                && let Ok(meta) = std::fs::metadata(&target)
            {
                if meta.is_dir() {
                    let canonical = std::fs::canonicalize(&target).unwrap_or(target);
                    if visited.insert(canonical.clone()) {
                        self.walk(root, &canonical, rel, visited);
                        visited.remove(&canonical);
                    } else {
                        let shown = self.shown(rel);
                        self.warnings.push(format!(
                            "{shown}: a symbolic link back to a folder above it; not followed"
                        ));
                    }
                } else if meta.is_file() {
                    let object = Path::from_iter(rel.iter().map(String::as_str));
                    if let Ok(time) = meta.modified() {
                        self.modified.insert(object.clone(), time.into());
                    }
                    self.objects.insert(object, meta.len());
                }
            }
            rel.pop();
        }
    }

    fn shown(&self, rel: &[String]) -> String {
        format!("{}/{}", self.location.trim_end_matches('/'), rel.join("/"))
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
