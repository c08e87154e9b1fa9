//! Where the lake lives: a local folder, or a container in an object store (`location` opens
//! those), the partition files written into it (`writer`), and the manifest that publishes
//! them with their provenance (`manifest`), and what replaced partitions held (`history`).
//! Every source writes through here, and only here.

mod encoder;
mod history;
mod lease;
mod location;
mod manifest;
mod writer;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use tokio::sync::Mutex;

use crate::memory::MemoryBudget;

pub use history::{Change, HISTORY_DIR, Kept, Pruned, REPLACED_COLUMN, Replaced};
pub use lease::{Holder, LEASE_TTL, Lease};
pub use location::bucket_store;
pub use manifest::{MANIFEST_FILE, Manifest, PartitionEntry, STATE_DIR};
pub use writer::{
    PartitionWriter, ROW_GROUP_ROWS, WriteError, Written, parquet_properties, writer_properties,
};

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("cannot use the lake at {location}: {message}")]
    Location { location: String, message: String },
    #[error("no lake at {0}: create one with `costlake sync` (or try `costlake demo`)")]
    Missing(String),
    /// The store's message, with any URL query (a SAS token) cut out.
    #[error("storage error in the lake at {location}: {message}")]
    Store { location: String, message: String },
    #[error("cannot write Parquet to {path}: {source}")]
    Parquet {
        path: String,
        source: parquet::errors::ParquetError,
    },
    #[error(
        "the lake's manifest {path} is damaged ({message}); move it aside and run `costlake sync --refresh` to rebuild it"
    )]
    Manifest { path: String, message: String },
    #[error(
        "the lake at {location} is being written by {holder}; one writer at a time: run again when it has finished"
    )]
    Busy { location: String, holder: String },
}

/// A lake: a root in an object store (a local folder is one too).
#[derive(Clone)]
pub struct Lake {
    /// The store rooted at the lake: paths are relative to the lake's root.
    store: Arc<dyn ObjectStore>,
    /// The bucket or container the lake is in, and its URL (`az://container`), for DataFusion.
    bucket_store: Arc<dyn ObjectStore>,
    bucket_url: Option<url::Url>,
    /// For messages: what the user wrote.
    location: String,
    /// The root as a URL DataFusion can list (`file:///abs/path/`, `az://container/prefix/`).
    url: String,
    /// The folder on disk, for local lakes.
    local_root: Option<PathBuf>,
    manifest_lock: Arc<Mutex<()>>,
    /// Set when this process's object-store lease could not be renewed: it commits no more.
    lease_lost: Arc<std::sync::atomic::AtomicBool>,
    /// What the partition writers (and the units writing through them) take their buffers
    /// from.
    memory: MemoryBudget,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("location", &self.location)
            .finish()
    }
}

impl Lake {
    /// Opens the lake at `location`: a folder or `file://` URL, or an object-store URL
    /// (`az://container/prefix`, `abfss://fs@account.dfs.core.windows.net/prefix`,
    /// `s3://bucket/prefix`, `gs://bucket/prefix`) with credentials from that cloud's usual
    /// environment variables. With `create`, a missing lake is started; without, it is an error
    /// that says how to make one.
    pub async fn open(location: &str, create: bool) -> Result<Lake, LakeError> {
        let loc_err = |message: String| LakeError::Location {
            location: location.to_string(),
            message,
        };
        let is_url = location.contains("://");
        if is_url && !location.starts_with("file://") {
            let url = url::Url::parse(location).map_err(|e| loc_err(e.to_string()))?;
            let lake = Self::open_object_store(location, &url)?;
            if !create && !lake.exists().await? {
                return Err(LakeError::Missing(location.to_string()));
            }
            return Ok(lake);
        }
        let path = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        if !path.exists() {
            if !create {
                return Err(LakeError::Missing(location.to_string()));
            }
            std::fs::create_dir_all(&path).map_err(|e| loc_err(e.to_string()))?;
        }
        let root = std::fs::canonicalize(&path).map_err(|e| loc_err(e.to_string()))?;
        if !root.is_dir() {
            return Err(loc_err("it is not a folder".into()));
        }
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalFileSystem::new_with_prefix(&root).map_err(|e| loc_err(e.to_string()))?);
        let url = format!(
            "file://{}/",
            root.display().to_string().trim_end_matches('/')
        );
        Ok(Lake {
            bucket_store: store.clone(),
            store,
            bucket_url: None,
            location: location.to_string(),
            url,
            local_root: Some(root),
            manifest_lock: Arc::default(),
            lease_lost: Arc::default(),
            memory: MemoryBudget::default(),
        })
    }

    /// Whether anything is at the lake's root (an object store has no folders to check).
    async fn exists(&self) -> Result<bool, LakeError> {
        match self.store.list_with_delimiter(None).await {
            Ok(listing) => Ok(!listing.objects.is_empty() || !listing.common_prefixes.is_empty()),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// The bucket or container's URL and store, for a DataFusion session to read the lake
    /// through; `None` for local lakes, which DataFusion reads natively.
    pub fn bucket(&self) -> Option<(&url::Url, Arc<dyn ObjectStore>)> {
        self.bucket_url
            .as_ref()
            .map(|u| (u, self.bucket_store.clone()))
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The lake with every writer drawing on `memory`: the budget of a run.
    pub fn with_memory(mut self, memory: MemoryBudget) -> Lake {
        self.memory = memory;
        self
    }

    pub fn memory(&self) -> &MemoryBudget {
        &self.memory
    }

    /// The root URL, ending in `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    pub fn local_root(&self) -> Option<&FsPath> {
        self.local_root.as_deref()
    }

    fn store_err(&self, source: object_store::Error) -> LakeError {
        LakeError::Store {
            location: self.location.clone(),
            message: redact(&source.to_string()),
        }
    }

    /// Removes what a killed run can leave behind: staged files that were never renamed into
    /// place (`part-0.parquet#N` on disk).
    pub fn remove_stale_files(&self) -> std::io::Result<usize> {
        let Some(root) = &self.local_root else {
            return Ok(0);
        };
        let mut removed = 0;
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    stack.push(path);
                } else if is_staged_file(&path) {
                    std::fs::remove_file(&path)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// A store message without URL queries: SAS tokens and signatures travel in them.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(q) = rest.find('?') {
        // Only a `?` inside a URL starts a query.
        let word_start = rest[..q].rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let in_url = rest[word_start..q].contains("://");
        out.push_str(&rest[..q]);
        let end = rest[q..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')')
            .map_or(rest.len(), |i| q + i);
        if in_url {
            out.push_str("?…");
        } else {
            out.push_str(&rest[q..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// object_store's local staging files are named `<file>#<digits>`.
fn is_staged_file(path: &FsPath) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('#'))
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_messages_lose_their_url_queries() {
        assert_eq!(
            redact("GET https://a.blob.core.windows.net/c/x?sv=1&sig=SECRET failed: 403"),
            "GET https://a.blob.core.windows.net/c/x?… failed: 403"
        );
        assert_eq!(redact("is this a question? yes"), "is this a question? yes");
    }

    #[test]
    fn staged_files_are_recognised() {
        assert!(is_staged_file(FsPath::new("/x/part-0.parquet#1")));
        assert!(is_staged_file(FsPath::new("part-0.parquet#123")));
        assert!(!is_staged_file(FsPath::new("part-0.parquet")));
        assert!(!is_staged_file(FsPath::new("a#b")));
    }
}
