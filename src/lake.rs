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
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::buffered::BufWriter;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::emulator::generator::PeriodId;
use crate::schema::{self, Dataset};

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
}

/// Which partition: a dataset, an enrollment (the billing account, for exports), for cost
/// exports whether actual or amortized, and (for all but the period list) a period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub dataset: Dataset,
    pub enrollment: String,
    pub cost_type: Option<&'static str>,
    pub period: Option<PeriodId>,
}

impl PartitionKey {
    /// The partition's folder relative to the lake root, hive style, in the dataset's
    /// partition column order.
    pub fn dir(&self) -> String {
        let values = [
            Some(self.enrollment.clone()),
            self.cost_type.map(str::to_string),
            self.period.map(|p| p.to_string()),
        ];
        let mut dir = self.dataset.name().to_string();
        for (column, value) in self
            .dataset
            .partition_columns()
            .iter()
            .zip(values.into_iter().flatten())
        {
            dir.push_str(&format!("/{column}={value}"));
        }
        dir
    }

    pub fn file(&self) -> String {
        format!("{}/{PARTITION_FILE}", self.dir())
    }
}

impl std::fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.period, self.cost_type) {
            (Some(p), Some(t)) => write!(f, "{} {t} {p}", self.dataset.name()),
            (Some(p), None) => write!(f, "{} {p}", self.dataset.name()),
            (None, _) => write!(f, "{}", self.dataset.name()),
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
    /// For exports: the `cost_type` partition value, and when the ingested run was submitted
    /// (a run is replaced only by a later one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted: Option<DateTime<Utc>>,
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
        })
    }

    fn open_object_store(location: &str, url: &url::Url) -> Result<Lake, LakeError> {
        let loc_err = |message: String| LakeError::Location {
            location: location.to_string(),
            message,
        };
        let (scheme, prefix) =
            ObjectStoreScheme::parse(url).map_err(|e| loc_err(redact(&e.to_string())))?;
        let bucket_store: Arc<dyn ObjectStore> = match scheme {
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

    fn manifest_path() -> Path {
        Path::from(format!("{STATE_DIR}/{MANIFEST_FILE}"))
    }

    /// What identifies the manifest's current version (its store metadata), `None` while the
    /// lake has none: it changes whenever a partition is published.
    pub async fn manifest_version(&self) -> Result<Option<String>, LakeError> {
        match self.store.head(&Self::manifest_path()).await {
            Ok(meta) => Ok(Some(format!(
                "{:?} {} {}",
                meta.e_tag, meta.last_modified, meta.size
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_err(e)),
        }
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
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if loopback {
        Ok(true)
    } else {
        Err(format!(
            "refusing plain http:// to {endpoint}: credentials would travel unencrypted; use https:// (http is allowed only to a loopback emulator)"
        ))
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
    fn store_messages_lose_their_url_queries() {
        assert_eq!(
            redact("GET https://a.blob.core.windows.net/c/x?sv=1&sig=SECRET failed: 403"),
            "GET https://a.blob.core.windows.net/c/x?… failed: 403"
        );
        assert_eq!(redact("is this a question? yes"), "is this a question? yes");
        assert!(refuse_remote_http("http://127.0.0.1:10000").unwrap());
        assert!(!refuse_remote_http("https://s3.example.com").unwrap());
        assert!(refuse_remote_http("http://minio.internal:9000").is_err());
    }

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
            cost_type: None,
            enrollment: "100".into(),
            period: Some(PeriodId(202401)),
        };
        assert_eq!(
            key.file(),
            "usage_details/enrollment=100/billing_period=202401/part-0.parquet"
        );
        let key = PartitionKey {
            dataset: Dataset::BillingPeriods,
            cost_type: None,
            enrollment: "100".into(),
            period: None,
        };
        assert_eq!(key.dir(), "billing_periods/enrollment=100");
    }
}
