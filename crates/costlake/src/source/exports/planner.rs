//! Which export run fills each partition. Every run manifest under the tree is read and keyed
//! to its partition (dataset from `exportConfig.type`, billing account from the export's scope,
//! month from `runInfo.startDate`, actual or amortized); of each partition's runs the enclosing
//! scope's are kept, newest first by `submittedTime`, and the first complete one with rows
//! wins. So month-to-date re-runs, `CreateNewReport` folders, the re-export of the previous
//! month and a one-time export beside a daily one never count a cost twice.

use std::collections::BTreeMap;

use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::legacy;
use super::manifest::{ExportRun, LEGACY_RUN_MANIFEST, RUN_MANIFEST, RunManifest, billing_account};
use super::tree::ExportTree;
use crate::decode::parse_instant;
use crate::lake::redact;
use crate::model::{Dataset, PartitionKey, PeriodId};

/// Reads every run manifest under the source (and makes one for each legacy run that has
/// none) and keys it to its partition.
pub(super) async fn discover(
    source: &ExportTree,
    datasets: &[Dataset],
    warnings: &mut Vec<String>,
) -> Vec<ExportRun> {
    warnings.extend(source.warnings.iter().cloned());
    let mut manifests: Vec<&Path> = source
        .objects
        .keys()
        .filter(|p| matches!(p.filename(), Some(RUN_MANIFEST | LEGACY_RUN_MANIFEST)))
        .collect();
    manifests.sort();
    let mut found = Vec::new();
    for path in manifests {
        let name = source.file_name(path);
        let bytes = match source.store.get(path).await {
            Ok(got) => got.bytes().await,
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!(
                    "{name}: cannot read it: {}",
                    redact(&e.to_string())
                ));
                continue;
            }
        };
        let mut manifest: RunManifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!("{name}: not an export manifest ({e}); skipped"));
                continue;
            }
        };
        if let Err(why) = legacy::fill_from_folders(&mut manifest, path) {
            warnings.push(format!("{name}: {why}; skipped"));
            continue;
        }
        found.push((path.clone(), manifest));
    }
    found.extend(legacy::manifestless_runs(source));
    let mut runs = Vec::new();
    for (path, manifest) in found {
        let name = source.file_name(&path);
        let Some((dataset, cost_type)) =
            Dataset::of_export_type(&manifest.export_config.export_type)
        else {
            warnings.push(format!(
                "{name}: export type '{}' is not one costlake reads; skipped",
                manifest.export_config.export_type
            ));
            continue;
        };
        if !datasets.contains(&dataset) {
            continue;
        }
        let start = manifest.run_info.start_date.trim();
        let Some(month) = start
            .get(..7)
            .and_then(|ym| PeriodId::parse(&ym.replace('-', "")))
        else {
            warnings.push(format!(
                "{name}: runInfo.startDate '{start}' is not a date; skipped"
            ));
            continue;
        };
        let resource_id = manifest.export_config.resource_id.clone();
        let lower = resource_id.to_ascii_lowercase();
        let scope = match lower.find("/providers/microsoft.costmanagement/exports/") {
            Some(i) => resource_id[..i].to_string(),
            None => resource_id.clone(),
        };
        let submitted = manifest
            .run_info
            .submitted_time
            .as_deref()
            .and_then(parse_instant)
            .or_else(|| source.modified.get(&path).copied())
            .unwrap_or_default();
        runs.push(ExportRun {
            manifest_path: path,
            key: PartitionKey {
                dataset,
                account: billing_account(&scope),
                cost_type,
                period: Some(month),
            },
            scope,
            manifest,
            submitted,
        });
    }
    runs
}

/// The runs of each partition, newest first. Where exports of two scopes fill one partition
/// (an enrollment export beside a department's), only the enclosing scope's runs are kept:
/// the narrower one's rows are a subset of it.
pub(super) fn by_partition(
    runs: Vec<ExportRun>,
    warnings: &mut Vec<String>,
) -> BTreeMap<PartitionKey, Vec<ExportRun>> {
    let mut by_key: BTreeMap<PartitionKey, Vec<ExportRun>> = BTreeMap::new();
    for run in runs {
        by_key.entry(run.key.clone()).or_default().push(run);
    }
    for (key, runs) in by_key.iter_mut() {
        let broadest = runs
            .iter()
            .map(|r| r.scope.to_ascii_lowercase())
            .min_by_key(|s| s.len())
            .unwrap_or_default();
        let (keep, drop): (Vec<ExportRun>, Vec<ExportRun>) = std::mem::take(runs)
            .into_iter()
            .partition(|r| r.scope.to_ascii_lowercase() == broadest);
        let mut dropped: Vec<&str> = drop.iter().map(|r| r.scope.as_str()).collect();
        dropped.sort();
        dropped.dedup();
        for scope in dropped {
            warnings.push(format!(
                "{key}: the export of scope {scope} is ignored; the export of {broadest} covers it"
            ));
        }
        *runs = keep;
        runs.sort_by(|a, b| (b.submitted, b.run_id()).cmp(&(a.submitted, a.run_id())));
        if let [newest, next, ..] = runs.as_slice()
            && newest.submitted == next.submitted
        {
            warnings.push(format!(
                "{key}: runs {} and {} were submitted at the same time ({}); {} is taken, the greater run id",
                newest.run_id(),
                next.run_id(),
                newest.submitted.to_rfc3339(),
                newest.run_id()
            ));
        }
    }
    by_key
}

/// The run's blobs as objects of the tree, when every one is there at its stated size.
pub(super) fn check_blobs(
    tree: &ExportTree,
    run: &ExportRun,
) -> Result<Vec<(Path, Option<u64>)>, String> {
    let m = &run.manifest;
    if let Some(count) = m.blob_count
        && count != m.blobs.len() as u64
    {
        return Err(format!(
            "the manifest lists {} blobs but says blobCount {count}",
            m.blobs.len()
        ));
    }
    let mut found = Vec::new();
    for blob in &m.blobs {
        let Some(path) = tree.resolve(&run.manifest_path, &blob.blob_name) else {
            return Err(format!("{} is missing", blob.blob_name.trim()));
        };
        let size = tree.objects[&path];
        if let Some(expected) = blob.byte_count
            && expected != size
        {
            return Err(format!(
                "{} has {size} bytes, the manifest says {expected}",
                blob.blob_name.trim()
            ));
        }
        found.push((path, blob.data_row_count));
    }
    Ok(found)
}
