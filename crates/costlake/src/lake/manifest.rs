//! The lake's manifest (`_costlake/manifest.json`): one entry per published partition with its
//! file, size, hash and typed provenance, and the one publish path every source goes through.
//! A manifest of format 1 (written before provenance was typed) or 2 (before partitions had
//! totals and a history) is read and upgraded on the next publish.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use super::history::{HISTORY_DIR, Replaced};
use super::{Lake, LakeError, Written};
use crate::model::{Dataset, PartitionKey, Provenance};

/// Where costlake keeps its own state inside the lake.
pub const STATE_DIR: &str = "_costlake";
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest format this version writes; it reads this one and every earlier one.
const MANIFEST_FORMAT: u32 = 3;

/// What the manifest records of one published partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionEntry {
    pub dataset: String,
    /// The billing account: the enrollment for the EA API, an export's billing account.
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_type: Option<String>,
    pub billing_period: Option<String>,
    /// The data file, relative to the lake root.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// When the partition was published, or its provenance last changed.
    pub published_at: DateTime<Utc>,
    pub provenance: Provenance,
    /// The exact sum of each of the dataset's money columns
    /// ([`Dataset::total_columns`]); absent in entries published before format 3.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, String>,
}

/// The lake's state: one entry per published partition, keyed by its folder.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub partitions: BTreeMap<String, PartitionEntry>,
    /// Every partition replaced by different data after its period ended, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Replaced>,
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

    /// Reads a manifest of any format this version knows.
    fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        #[derive(Deserialize)]
        struct Raw {
            format: u32,
            partitions: BTreeMap<String, serde_json::Value>,
            #[serde(default)]
            history: Vec<Replaced>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let partitions = match raw.format {
            1 => raw
                .partitions
                .into_iter()
                .map(|(k, v)| Ok((k, serde_json::from_value::<EntryV1>(v)?.upgrade())))
                .collect::<Result<_, serde_json::Error>>(),
            2 | MANIFEST_FORMAT => raw
                .partitions
                .into_iter()
                .map(|(k, v)| Ok((k, serde_json::from_value(v)?)))
                .collect::<Result<_, serde_json::Error>>(),
            newer if newer > MANIFEST_FORMAT => {
                return Err(format!(
                    "it was written by a newer costlake (format {newer})"
                ));
            }
            unknown => return Err(format!("format {unknown} is not one costlake wrote")),
        }
        .map_err(|e| e.to_string())?;
        Ok(Manifest {
            format: MANIFEST_FORMAT,
            partitions,
            history: raw.history,
        })
    }
}

/// An entry of format 1: provenance spread over fields whose meaning depended on the source
/// (`etag` held an export's run id, `enrollment` an export's billing account).
#[derive(Deserialize)]
struct EntryV1 {
    dataset: String,
    enrollment: String,
    billing_period: Option<String>,
    file: String,
    rows: u64,
    bytes: u64,
    sha256: String,
    etag: Option<String>,
    fetched_at: DateTime<Utc>,
    api_version: String,
    #[serde(default)]
    cost_type: Option<String>,
    #[serde(default)]
    submitted: Option<DateTime<Utc>>,
    closed: bool,
    source: String,
}

impl EntryV1 {
    fn upgrade(self) -> PartitionEntry {
        let provenance = match self.source.strip_prefix("export ") {
            // "export NAME (SCOPE)"
            Some(described) => {
                let (name, scope) = described
                    .rsplit_once(" (")
                    .map(|(n, s)| (n, s.trim_end_matches(')')))
                    .unwrap_or((described, ""));
                Provenance::Export {
                    run_id: self.etag.unwrap_or_default(),
                    // Without a submission time, any later run replaces this one.
                    submitted: self.submitted.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
                    export_name: name.to_string(),
                    scope: scope.to_string(),
                    data_version: Some(self.api_version).filter(|v| !v.is_empty()),
                    data_rows: None,
                }
            }
            None => Provenance::EaApi {
                etag: self.etag,
                api_version: self.api_version,
                closed: self.closed,
            },
        };
        PartitionEntry {
            dataset: self.dataset,
            account: self.enrollment,
            cost_type: self.cost_type,
            billing_period: self.billing_period,
            file: self.file,
            rows: self.rows,
            bytes: self.bytes,
            sha256: self.sha256,
            published_at: self.fetched_at,
            provenance,
            totals: BTreeMap::new(),
        }
    }
}

impl Lake {
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
        Ok(self.manifest_versioned().await?.0)
    }

    /// The manifest and the version it was read at (`None` while there is none), for a
    /// conditional write of the next one.
    async fn manifest_versioned(&self) -> Result<(Manifest, Option<UpdateVersion>), LakeError> {
        let path = Self::manifest_path();
        match self.store.get(&path).await {
            Ok(got) => {
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got.bytes().await.map_err(|e| self.store_err(e))?;
                let manifest = Manifest::parse(&bytes).map_err(|message| LakeError::Manifest {
                    path: path.to_string(),
                    message,
                })?;
                Ok((manifest, Some(version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok((
                Manifest {
                    format: MANIFEST_FORMAT,
                    partitions: BTreeMap::new(),
                    history: Vec::new(),
                },
                None,
            )),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// Files in the lake's table folders and its history that the manifest does not record:
    /// what a writer killed between its data and its commit left, or what anything other than
    /// costlake put there. Queries read every file of a table's folders, so each of these
    /// would count its rows again.
    pub async fn unpublished_files(&self) -> Result<Vec<Path>, LakeError> {
        let manifest = self.manifest().await?;
        let published: std::collections::HashSet<String> = manifest
            .partitions
            .into_values()
            .map(|e| e.file)
            .chain(manifest.history.into_iter().filter_map(|r| r.kept))
            .collect();
        let mut found = Vec::new();
        let folders = Dataset::ALL
            .iter()
            .map(|d| d.name().to_string())
            .chain([HISTORY_DIR.to_string()]);
        for folder in folders {
            let prefix = Path::from(folder);
            let listed: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|e| self.store_err(e))?;
            found.extend(
                listed
                    .into_iter()
                    .map(|meta| meta.location)
                    .filter(|p| !published.contains(p.as_ref())),
            );
        }
        found.sort();
        Ok(found)
    }

    /// Removes [`Lake::unpublished_files`]; a writer does so under its lease before it plans.
    pub async fn remove_unpublished_files(&self) -> Result<usize, LakeError> {
        let files = self.unpublished_files().await?;
        for path in &files {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.store_err(e)),
            }
        }
        Ok(files.len())
    }

    /// Publishes a partition whose file `written` has made visible: the one place a manifest
    /// entry is made, for every source. When it replaces different data of a period that had
    /// ended, the replaced entry goes into the manifest's history with the file `written`
    /// kept of it ([`Lake::replacement`]).
    pub async fn publish(
        &self,
        key: &PartitionKey,
        written: &Written,
        provenance: Provenance,
    ) -> Result<(), LakeError> {
        let replaced = self.replacement(key, written).await?;
        let entry = PartitionEntry {
            dataset: key.dataset.name().to_string(),
            account: key.account.clone(),
            cost_type: key.cost_type.map(str::to_string),
            billing_period: key.period.map(|p| p.to_string()),
            file: written.file.clone(),
            rows: written.rows,
            bytes: written.bytes,
            sha256: written.sha256.clone(),
            published_at: Utc::now(),
            provenance,
            totals: written.totals.clone(),
        };
        self.update_manifest(|m| {
            m.partitions.insert(key.dir(), entry.clone());
            m.history.extend(replaced.clone());
            true
        })
        .await
    }

    /// Records that a published partition's data is unchanged at its source, with the
    /// provenance it now has (a period may have closed since). The manifest is written only
    /// when that provenance differs from the one recorded.
    pub async fn confirm(
        &self,
        key: &PartitionKey,
        provenance: Provenance,
    ) -> Result<(), LakeError> {
        self.update_manifest(|m| match m.partitions.get_mut(&key.dir()) {
            Some(entry) if entry.provenance != provenance => {
                entry.provenance = provenance.clone();
                entry.published_at = Utc::now();
                true
            }
            _ => false,
        })
        .await
    }

    /// Re-reads the manifest, changes it, and writes it back whole when `change` says it
    /// changed anything: compare-and-swap, so two processes committing at once never lose an
    /// entry. On a local disk the read and the write happen under a lock on
    /// `_costlake/manifest.lock` (the write is staged and renamed, so a reader never sees half
    /// a manifest); an object store writes only if the manifest is still the version read
    /// (`If-Match`, or `If-None-Match` for the first), and a lost race reads and applies again.
    pub(super) async fn update_manifest(
        &self,
        mut change: impl FnMut(&mut Manifest) -> bool,
    ) -> Result<(), LakeError> {
        let _guard = self.manifest_lock.lock().await;
        self.check_lease()?;
        let _file_lock = match &self.local_root {
            Some(root) => Some(self.lock_manifest(root).await?),
            None => None,
        };
        loop {
            let (mut manifest, version) = self.manifest_versioned().await?;
            if !change(&mut manifest) {
                return Ok(());
            }
            manifest.format = MANIFEST_FORMAT;
            let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
            let mode = match (&self.local_root, version) {
                (Some(_), _) => PutMode::Overwrite,
                (None, Some(version)) => PutMode::Update(version),
                (None, None) => PutMode::Create,
            };
            match self
                .store
                .put_opts(&Self::manifest_path(), PutPayload::from(json), mode.into())
                .await
            {
                Ok(_) => return Ok(()),
                Err(
                    object_store::Error::Precondition { .. }
                    | object_store::Error::AlreadyExists { .. },
                ) => continue,
                Err(e) => return Err(self.store_err(e)),
            }
        }
    }

    /// Locks the local manifest against other processes until the file is dropped.
    async fn lock_manifest(&self, root: &std::path::Path) -> Result<std::fs::File, LakeError> {
        let path = root.join(STATE_DIR).join("manifest.lock");
        let location = self.location.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(path.parent().expect("in the state folder"))?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .expect("the lock task does not panic")
        .map_err(|e: std::io::Error| LakeError::Location {
            location,
            message: format!("cannot lock its manifest: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_1_entries_are_upgraded_with_typed_provenance() {
        let v1 = br#"{"format": 1, "partitions": {
          "usage_details/enrollment=100/billing_period=202401": {
            "dataset": "usage_details", "enrollment": "100", "billing_period": "202401",
            "file": "usage_details/enrollment=100/billing_period=202401/part-0.parquet",
            "rows": 40, "bytes": 9, "sha256": "ab", "etag": "\"f7\"",
            "fetched_at": "2026-11-26T13:26:31Z", "api_version": "v3", "closed": true,
            "source": "ea-api"},
          "cost_details/billing_account=100/cost_type=actual/billing_period=202401": {
            "dataset": "cost_details", "enrollment": "100", "billing_period": "202401",
            "file": "x", "rows": 1, "bytes": 1, "sha256": "cd", "etag": "run-1",
            "fetched_at": "2026-11-26T13:26:31Z", "api_version": "2023-12-01-preview",
            "closed": false, "source": "export daily (providers/Microsoft.Billing/billingAccounts/100)",
            "cost_type": "actual", "submitted": "2024-02-03T04:05:06Z"}}}"#;
        let m = Manifest::parse(v1).unwrap();
        let usage = &m.partitions["usage_details/enrollment=100/billing_period=202401"];
        assert_eq!(
            usage.provenance,
            Provenance::EaApi {
                etag: Some("\"f7\"".into()),
                api_version: "v3".into(),
                closed: true
            }
        );
        let cost = &m.partitions["cost_details/billing_account=100/cost_type=actual/billing_period=202401"];
        assert_eq!(cost.account, "100");
        match &cost.provenance {
            Provenance::Export {
                run_id,
                export_name,
                scope,
                submitted,
                data_version,
                data_rows,
            } => {
                assert_eq!(*data_rows, None);
                assert_eq!(run_id, "run-1");
                assert_eq!(export_name, "daily");
                assert_eq!(scope, "providers/Microsoft.Billing/billingAccounts/100");
                assert_eq!(submitted.to_rfc3339(), "2024-02-03T04:05:06+00:00");
                assert_eq!(data_version.as_deref(), Some("2023-12-01-preview"));
            }
            other => panic!("{other:?}"),
        }
        let again = Manifest::parse(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(again.partitions, m.partitions);
    }

    #[test]
    fn a_newer_format_is_refused() {
        let err = Manifest::parse(br#"{"format": 9, "partitions": {}}"#).unwrap_err();
        assert!(err.contains("newer costlake"), "{err}");
        let err = Manifest::parse(br#"{"format": 0, "partitions": {}}"#).unwrap_err();
        assert!(err.contains("not one costlake wrote"), "{err}");
    }

    /// Confirming what the manifest already records writes nothing: an unchanged re-run
    /// costs one read, and open sessions keep their listings.
    #[tokio::test]
    async fn confirming_unchanged_provenance_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().display().to_string(), true)
            .await
            .unwrap();
        let key = PartitionKey {
            dataset: Dataset::PriceSheet,
            account: "100".into(),
            cost_type: None,
            period: Some(crate::model::PeriodId(202401)),
        };
        let written = Written {
            file: key.file(),
            rows: 1,
            bytes: 1,
            sha256: "ab".into(),
            totals: BTreeMap::new(),
            kept: None,
        };
        let open = |closed| Provenance::EaApi {
            etag: Some("\"e\"".into()),
            api_version: "v3".into(),
            closed,
        };
        lake.publish(&key, &written, open(false)).await.unwrap();
        let before = lake.manifest_version().await.unwrap();
        lake.confirm(&key, open(false)).await.unwrap();
        assert_eq!(lake.manifest_version().await.unwrap(), before);
        lake.confirm(&key, open(true)).await.unwrap();
        assert_ne!(lake.manifest_version().await.unwrap(), before);
        let manifest = lake.manifest().await.unwrap();
        assert!(manifest.get(&key).unwrap().provenance.closed());
    }
}
