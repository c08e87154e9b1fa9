//! Where the lake lives and how partitions get into it: one Parquet file per partition, written
//! through `object_store` so that it appears whole or not at all (staged, then renamed into
//! place on disk; committed on completion in object stores), and the manifest that records
//! what each partition holds. Both sources (`sync`, later `ingest`) write through here.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::emulator::generator::PeriodId;
use crate::schema::{self, Dataset, PARTITION_BILLING_PERIOD, PARTITION_ENROLLMENT};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// The one data file of a partition.
pub const PARTITION_FILE: &str = "part-0.parquet";
/// Where costlake keeps its own state inside the lake.
pub const STATE_DIR: &str = "_costlake";
pub const MANIFEST_FILE: &str = "manifest.json";
const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("cannot use the lake at {location}: {message}")]
    Location { location: String, message: String },
    #[error("no lake at {0}: create one with `costlake sync` (or try `costlake demo`)")]
    Missing(String),
    #[error("storage error in the lake at {location}: {source}")]
    Store {
        location: String,
        source: object_store::Error,
    },
    #[error("cannot write Parquet to {path}: {source}")]
    Parquet {
        path: String,
        source: parquet::errors::ParquetError,
    },
    #[error(
        "the lake's manifest {path} is damaged ({message}); move it aside and run `costlake sync --refresh` to rebuild it"
    )]
    Manifest { path: String, message: String },
}

/// Which partition: a dataset, an enrollment, and (for all but the period list) a period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub dataset: Dataset,
    pub enrollment: String,
    pub period: Option<PeriodId>,
}

impl PartitionKey {
    /// The partition's folder relative to the lake root, hive style.
    pub fn dir(&self) -> String {
        let mut dir = format!(
            "{}/{PARTITION_ENROLLMENT}={}",
            self.dataset.name(),
            self.enrollment
        );
        if let Some(p) = self.period {
            dir.push_str(&format!("/{PARTITION_BILLING_PERIOD}={p}"));
        }
        dir
    }

    pub fn file(&self) -> String {
        format!("{}/{PARTITION_FILE}", self.dir())
    }
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.period {
            Some(p) => write!(f, "{} {p}", self.dataset.name()),
            None => write!(f, "{}", self.dataset.name()),
        }
    }
}

/// What the manifest records of one published partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionEntry {
    pub dataset: String,
    pub enrollment: String,
    pub billing_period: Option<String>,
    /// The data file, relative to the lake root.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The API's ETag of the data (of the first page for paged data).
    pub etag: Option<String>,
    pub fetched_at: DateTime<Utc>,
    /// API version the data came from, e.g. `v3`.
    pub api_version: String,
    /// Whether the period was closed (settled) when fetched: closed partitions are not fetched
    /// again unless asked.
    pub closed: bool,
    pub source: String,
}

/// The lake's state: one entry per published partition, keyed by its folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub partitions: BTreeMap<String, PartitionEntry>,
}

impl Manifest {
    pub fn get(&self, key: &PartitionKey) -> Option<&PartitionEntry> {
        self.partitions.get(&key.dir())
    }

    /// Entries of one dataset.
    pub fn of(&self, dataset: Dataset) -> impl Iterator<Item = &PartitionEntry> {
        self.partitions
            .values()
            .filter(move |e| e.dataset == dataset.name())
    }
}

/// A lake: a root in an object store (a local folder is one too).
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    /// For messages: what the user wrote.
    location: String,
    /// The root as a URL DataFusion can list (`file:///abs/path/`).
    url: String,
    /// The folder on disk, for local lakes.
    local_root: Option<PathBuf>,
    manifest_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("location", &self.location)
            .finish()
    }
}

impl Lake {
    /// Opens the lake at `location` (a path or `file://` URL). With `create`, a missing local
    /// folder is made; without, it is an error that says how to make one.
    pub fn open(location: &str, create: bool) -> Result<Lake, LakeError> {
        let loc_err = |message: String| LakeError::Location {
            location: location.to_string(),
            message,
        };
        let path = match location.strip_prefix("file://") {
            Some(rest) => PathBuf::from(rest),
            None if location.contains("://") => {
                return Err(loc_err(
                    "only local folders and file:// URLs are supported in this version".into(),
                ));
            }
            None => PathBuf::from(location),
        };
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
        let store = LocalFileSystem::new_with_prefix(&root).map_err(|e| loc_err(e.to_string()))?;
        let url = format!(
            "file://{}/",
            root.display().to_string().trim_end_matches('/')
        );
        Ok(Lake {
            store: Arc::new(store),
            location: location.to_string(),
            url,
            local_root: Some(root),
            manifest_lock: Arc::default(),
        })
    }

    pub fn location(&self) -> &str {
        &self.location
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
            source,
        }
    }

    fn manifest_path() -> Path {
        Path::from(format!("{STATE_DIR}/{MANIFEST_FILE}"))
    }

    /// Reads the manifest; an absent one is empty.
    pub async fn manifest(&self) -> Result<Manifest, LakeError> {
        let path = Self::manifest_path();
        match self.store.get(&path).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(|e| self.store_err(e))?;
                let manifest: Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| LakeError::Manifest {
                        path: path.to_string(),
                        message: e.to_string(),
                    })?;
                if manifest.format > MANIFEST_FORMAT {
                    return Err(LakeError::Manifest {
                        path: path.to_string(),
                        message: format!(
                            "it was written by a newer costlake (format {})",
                            manifest.format
                        ),
                    });
                }
                Ok(manifest)
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Manifest {
                format: MANIFEST_FORMAT,
                partitions: BTreeMap::new(),
            }),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// Records a published partition: re-reads the manifest, sets the entry, writes it back
    /// whole (staged and renamed, so a reader never sees half a manifest).
    pub async fn record(&self, key: &PartitionKey, entry: PartitionEntry) -> Result<(), LakeError> {
        let _guard = self.manifest_lock.lock().await;
        let mut manifest = self.manifest().await?;
        manifest.format = MANIFEST_FORMAT;
        manifest.partitions.insert(key.dir(), entry);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        self.store
            .put(&Self::manifest_path(), PutPayload::from(json))
            .await
            .map_err(|e| self.store_err(e))?;
        Ok(())
    }

    /// Starts writing a partition. Nothing is visible until [`PartitionWriter::commit`].
    pub fn writer(&self, key: &PartitionKey) -> Result<PartitionWriter, LakeError> {
        let path = Path::from(key.file());
        let sink = HashingSink {
            inner: BufWriter::new(self.store.clone(), path.clone()),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let props = writer_properties(key.dataset);
        let writer = AsyncArrowWriter::try_new(sink, key.dataset.file_schema(), Some(props))
            .map_err(|source| LakeError::Parquet {
                path: path.to_string(),
                source,
            })?;
        Ok(PartitionWriter {
            writer,
            path,
            rows: 0,
        })
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

/// object_store's local staging files are named `<file>#<digits>`.
fn is_staged_file(path: &FsPath) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('#'))
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// zstd, ~128k-row row groups, statistics, and costlake's version and the schema version in
/// the file metadata.
pub fn writer_properties(dataset: Dataset) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("costlake version {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                schema::META_WRITER_VERSION.to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            KeyValue::new(
                schema::META_SCHEMA_VERSION.to_string(),
                schema::SCHEMA_VERSION.to_string(),
            ),
            KeyValue::new(schema::META_DATASET.to_string(), dataset.name().to_string()),
        ]))
        .build()
}

/// Passes Parquet bytes to the store while hashing and counting them.
struct HashingSink {
    inner: BufWriter,
    hasher: Sha256,
    bytes: u64,
}

impl AsyncFileWriter for HashingSink {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, parquet::errors::Result<()>> {
        self.hasher.update(&bs);
        self.bytes += bs.len() as u64;
        Box::pin(async move {
            self.inner
                .put(bs)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn complete(&mut self) -> BoxFuture<'_, parquet::errors::Result<()>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            self.inner
                .shutdown()
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }
}

/// A partition being written.
pub struct PartitionWriter {
    writer: AsyncArrowWriter<HashingSink>,
    path: Path,
    rows: u64,
}

/// A partition made visible.
#[derive(Debug, Clone)]
pub struct Written {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl PartitionWriter {
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), LakeError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .await
            .map_err(|source| LakeError::Parquet {
                path: self.path.to_string(),
                source,
            })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the last row group and the footer and makes the file visible in one step,
    /// replacing the partition's previous file.
    pub async fn commit(self) -> Result<Written, LakeError> {
        let path = self.path.to_string();
        let mut writer = self.writer;
        writer.finish().await.map_err(|source| LakeError::Parquet {
            path: path.clone(),
            source,
        })?;
        let sink = writer.into_inner();
        Ok(Written {
            file: path,
            rows: self.rows,
            bytes: sink.bytes,
            sha256: format!("{:x}", sink.hasher.finalize()),
        })
    }

    /// Abandons the partition: nothing becomes visible and the previous file stays.
    pub async fn abort(self) {
        let mut sink = self.writer.into_inner();
        let _ = sink.inner.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_are_recognised() {
        assert!(is_staged_file(FsPath::new("/x/part-0.parquet#1")));
        assert!(is_staged_file(FsPath::new("part-0.parquet#123")));
        assert!(!is_staged_file(FsPath::new("part-0.parquet")));
        assert!(!is_staged_file(FsPath::new("a#b")));
    }

    #[test]
    fn partition_folders_are_hive_style() {
        let key = PartitionKey {
            dataset: Dataset::UsageDetails,
            enrollment: "100".into(),
            period: Some(PeriodId(202401)),
        };
        assert_eq!(
            key.file(),
            "usage_details/enrollment=100/billing_period=202401/part-0.parquet"
        );
        let key = PartitionKey {
            dataset: Dataset::BillingPeriods,
            enrollment: "100".into(),
            period: None,
        };
        assert_eq!(key.dir(), "billing_periods/enrollment=100");
    }
}
