//! The lake's history: what a partition held before different data replaced it. Once a
//! period has ended, a partition published again (a late correction, a re-run export, a
//! re-issued invoice) keeps its previous file under `_costlake/history/`, hive style with a
//! `replaced=` folder, and the manifest records the replaced entry (rows, totals,
//! provenance) beside it. The open period's daily refreshes replace it in place: its data is
//! expected to grow until the month closes. Nothing kept is deleted but by
//! [`Lake::prune`], which removes files and leaves the records.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Lake, LakeError, Manifest, PartitionEntry, Written};
use crate::model::{PARTITION_FILE, PartitionKey};

/// Where replaced partitions' files are kept, relative to the lake root.
pub const HISTORY_DIR: &str = "_costlake/history";
/// The partition column a kept file's folder adds: when it was replaced.
pub const REPLACED_COLUMN: &str = "replaced";
/// How the `replaced=` folders spell a time: sortable as text, no `:` (which some stores and
/// file systems refuse).
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";

/// A replaced partition: the entry it had and where its file is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replaced {
    /// The partition's folder, as the manifest keys it.
    pub partition: String,
    pub replaced_at: DateTime<Utc>,
    pub entry: PartitionEntry,
    /// The kept file relative to the lake root; `None` once pruned, or when the file in place
    /// was not the one published (a run killed between writing and publishing).
    pub kept: Option<String>,
}

/// A file kept by a partition writer before it replaced it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub file: String,
    pub at: DateTime<Utc>,
}

/// Whether a partition replaced at `now` keeps its previous file: once its period has ended.
pub fn keeps(key: &PartitionKey, now: DateTime<Utc>) -> bool {
    key.period.is_some_and(|p| p.last_day() < now.date_naive())
}

/// Where a partition's file replaced at `at` is kept.
pub fn kept_path(key: &PartitionKey, at: DateTime<Utc>) -> Path {
    Path::from(format!(
        "{HISTORY_DIR}/{}/{REPLACED_COLUMN}={}/{PARTITION_FILE}",
        key.dir(),
        at.format(STAMP)
    ))
}

/// A replacement and what replaced it: the next replacement's entry, or the one published now.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub before: &'a Replaced,
    pub after: &'a PartitionEntry,
}

impl Manifest {
    /// Every replacement with its successor, oldest first.
    pub fn changes(&self) -> Vec<Change<'_>> {
        self.history
            .iter()
            .enumerate()
            .filter_map(|(i, before)| {
                let later = self.history[i + 1..]
                    .iter()
                    .find(|r| r.partition == before.partition)
                    .map(|r| &r.entry);
                let after = later.or_else(|| self.partitions.get(&before.partition))?;
                Some(Change { before, after })
            })
            .collect()
    }
}

/// What [`Lake::prune`] did.
#[derive(Debug, Default, PartialEq)]
pub struct Pruned {
    pub files: usize,
    pub bytes: u64,
}

impl Lake {
    /// The history record for publishing `written` over the partition's current entry: one
    /// when the data differs and the previous file was kept intact. A kept file that is not
    /// needed (same data) or not the one the manifest published is removed.
    pub(super) async fn replacement(
        &self,
        key: &PartitionKey,
        written: &Written,
    ) -> Result<Option<Replaced>, LakeError> {
        let Some(kept) = &written.kept else {
            return Ok(None);
        };
        let path = Path::from(kept.file.as_str());
        let previous = self.manifest().await?.get(key).cloned();
        let Some(entry) = previous.filter(|e| e.sha256 != written.sha256) else {
            self.delete(&path).await?;
            return Ok(None);
        };
        let intact = self.sha256(&path).await? == entry.sha256;
        if !intact {
            tracing::warn!(
                "{key}: the file replaced was not the one published (a run was killed before publishing it); its record is kept without it"
            );
            self.delete(&path).await?;
        }
        Ok(Some(Replaced {
            partition: key.dir(),
            replaced_at: kept.at,
            entry,
            kept: intact.then(|| kept.file.clone()),
        }))
    }

    /// Removes the kept files of every partition but its `keep` latest, leaving their records
    /// (rows, totals, provenance) in the manifest.
    pub async fn prune(&self, keep: usize) -> Result<Pruned, LakeError> {
        let manifest = self.manifest().await?;
        let mut pruned = Pruned::default();
        let mut doomed = Vec::new();
        for (i, replaced) in manifest.history.iter().enumerate().rev() {
            let Some(file) = &replaced.kept else { continue };
            let newer = manifest.history[i + 1..]
                .iter()
                .filter(|r| r.partition == replaced.partition && r.kept.is_some())
                .count();
            if newer >= keep {
                doomed.push(file.clone());
                pruned.files += 1;
                pruned.bytes += replaced.entry.bytes;
            }
        }
        // The records first: a file without a record is tidied by the next writer, a record
        // without its file would be read.
        self.update_manifest(|m| {
            let mut changed = false;
            for r in &mut m.history {
                if r.kept.as_ref().is_some_and(|f| doomed.contains(f)) {
                    r.kept = None;
                    changed = true;
                }
            }
            changed
        })
        .await?;
        for file in &doomed {
            self.delete(&Path::from(file.as_str())).await?;
        }
        Ok(pruned)
    }

    async fn delete(&self, path: &Path) -> Result<(), LakeError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_err(e)),
        }
    }

    /// The SHA-256 of a file in the lake, read as a stream.
    async fn sha256(&self, path: &Path) -> Result<String, LakeError> {
        let got = self.store.get(path).await.map_err(|e| self.store_err(e))?;
        let mut chunks = got.into_stream();
        let mut hasher = Sha256::new();
        while let Some(chunk) = chunks.try_next().await.map_err(|e| self.store_err(e))? {
            hasher.update(&chunk);
        }
        Ok(format!("{:x}", hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dataset, PeriodId};

    fn key(period: u32) -> PartitionKey {
        PartitionKey {
            dataset: Dataset::UsageDetails,
            account: "100".into(),
            cost_type: None,
            period: Some(PeriodId(period)),
        }
    }

    fn entry(sha: &str, rows: u64) -> PartitionEntry {
        PartitionEntry {
            dataset: "usage_details".into(),
            account: "100".into(),
            cost_type: None,
            billing_period: Some("202402".into()),
            file: key(202402).file(),
            rows,
            bytes: 1,
            sha256: sha.into(),
            published_at: "2024-03-02T00:00:00Z".parse().unwrap(),
            provenance: crate::model::Provenance::EaApi {
                etag: None,
                api_version: "v3".into(),
                closed: true,
            },
            totals: Default::default(),
        }
    }

    /// Each replacement's successor is the next replacement of the same partition, else the
    /// entry published now.
    #[test]
    fn a_partition_replaced_twice_pairs_each_version_with_the_next() {
        let replaced = |sha: &str, rows, day: u32| Replaced {
            partition: key(202402).dir(),
            replaced_at: format!("2024-03-{day:02}T00:00:00Z").parse().unwrap(),
            entry: entry(sha, rows),
            kept: Some(format!("kept-{sha}")),
        };
        let manifest = Manifest {
            format: 3,
            partitions: [(key(202402).dir(), entry("c", 3))].into(),
            history: vec![replaced("a", 1, 5), replaced("b", 2, 9)],
        };
        let pairs: Vec<(u64, u64)> = manifest
            .changes()
            .iter()
            .map(|c| (c.before.entry.rows, c.after.rows))
            .collect();
        assert_eq!(pairs, [(1, 2), (2, 3)]);
    }

    /// Pruning to one version deletes the older kept file and clears its record's file, and
    /// nothing else.
    #[tokio::test]
    async fn pruning_keeps_each_partitions_latest_files_and_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap(), true)
            .await
            .unwrap();
        let kept = |sha: &str| format!("{HISTORY_DIR}/{sha}/part-0.parquet");
        let mut history = Vec::new();
        for (sha, day) in [("a", 5), ("b", 9)] {
            let file = dir.path().join(kept(sha));
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, sha).unwrap();
            history.push(Replaced {
                partition: key(202402).dir(),
                replaced_at: format!("2024-03-{day:02}T00:00:00Z").parse().unwrap(),
                entry: entry(sha, 1),
                kept: Some(kept(sha)),
            });
        }
        lake.update_manifest(|m| {
            m.history = history.clone();
            true
        })
        .await
        .unwrap();
        let pruned = lake.prune(1).await.unwrap();
        assert_eq!(pruned, Pruned { files: 1, bytes: 1 });
        let records: Vec<_> = lake.manifest().await.unwrap().history;
        assert_eq!(records.len(), 2, "records stay");
        assert_eq!(records[0].kept, None);
        assert_eq!(records[1].kept, Some(kept("b")));
        assert!(!dir.path().join(kept("a")).exists());
        assert!(dir.path().join(kept("b")).exists());
        assert_eq!(lake.prune(1).await.unwrap(), Pruned::default());
    }

    #[test]
    fn only_ended_periods_keep_what_they_replace() {
        let now = "2024-03-01T00:30:00Z".parse().unwrap();
        assert!(keeps(&key(202402), now));
        assert!(!keeps(&key(202403), now));
        let at = "2024-03-01T00:30:00.25Z".parse().unwrap();
        assert_eq!(
            kept_path(&key(202402), at).as_ref(),
            "_costlake/history/usage_details/enrollment=100/billing_period=202402/replaced=20240301T003000.250Z/part-0.parquet"
        );
    }
}
