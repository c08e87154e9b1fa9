//! An export run as its `manifest.json` describes it: the serde model of both manifest eras
//! (the `2024-04-01` one with blob, byte and row counts, and the earlier one without), and
//! what costlake derives from it: the partition a run fills, its provenance, and how each
//! part is encoded.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::Deserialize;

use crate::model::{PartitionKey, Provenance};

/// The file name every current export run writes last, when its data is complete.
pub const RUN_MANIFEST: &str = "manifest.json";
/// The name some exports of before 2024 gave it.
pub const LEGACY_RUN_MANIFEST: &str = "_manifest.json";

/// A run's `manifest.json`. Every count is optional: manifests written before 2024-04-01 have
/// none of them. The `2021-01-01` manifests have no `exportConfig` and no `runInfo` either:
/// those are filled in from the run's folders ([`super::legacy`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunManifest {
    #[serde(default)]
    pub manifest_version: Option<String>,
    #[serde(default)]
    pub blob_count: Option<u64>,
    #[serde(default)]
    pub data_row_count: Option<u64>,
    #[serde(default)]
    pub export_config: ExportConfig,
    #[serde(default)]
    pub delivery_config: Option<DeliveryConfig>,
    #[serde(default)]
    pub run_info: RunInfo,
    #[serde(default)]
    pub blobs: Vec<Blob>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportConfig {
    #[serde(default)]
    pub export_name: Option<String>,
    #[serde(default)]
    pub resource_id: String,
    #[serde(default)]
    pub data_version: Option<String>,
    #[serde(rename = "type", default)]
    pub export_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryConfig {
    #[serde(default)]
    pub data_overwrite_behavior: Option<String>,
    #[serde(default)]
    pub file_format: Option<String>,
    #[serde(default)]
    pub compression_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    #[serde(default)]
    pub submitted_time: Option<String>,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub start_date: String,
    #[serde(default)]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    pub blob_name: String,
    #[serde(default)]
    pub byte_count: Option<u64>,
    #[serde(default)]
    pub data_row_count: Option<u64>,
}

/// One export run, as its manifest describes it.
#[derive(Debug, Clone)]
pub(super) struct ExportRun {
    pub manifest_path: Path,
    pub manifest: RunManifest,
    pub scope: String,
    pub key: PartitionKey,
    pub submitted: DateTime<Utc>,
}

impl ExportRun {
    pub fn export_name(&self) -> &str {
        self.manifest
            .export_config
            .export_name
            .as_deref()
            .unwrap_or("(unnamed export)")
    }

    pub fn run_id(&self) -> &str {
        &self.manifest.run_info.run_id
    }

    /// A run with no rows: it does not blank a month that has data.
    pub fn is_empty(&self) -> bool {
        self.manifest.blobs.is_empty()
            || self.manifest.blob_count == Some(0)
            || self.manifest.data_row_count == Some(0)
    }

    /// What a partition holding this run records.
    pub fn provenance(&self) -> Provenance {
        Provenance::Export {
            run_id: self.run_id().to_string(),
            submitted: self.submitted,
            export_name: self.export_name().to_string(),
            scope: self.scope.clone(),
            data_version: self.manifest.export_config.data_version.clone(),
            data_rows: self.manifest.data_row_count,
        }
    }

    /// Whether a partition with this provenance holds this run, or a later one.
    pub fn superseded_by(&self, held: &Provenance) -> bool {
        match held {
            Provenance::Export {
                run_id, submitted, ..
            } => run_id == self.run_id() || *submitted > self.submitted,
            _ => false,
        }
    }

    /// How a part is encoded: by its name first (`.csv.gz`, `.snappy.parquet`), else by the
    /// manifest's delivery settings.
    pub fn part_format(&self, path: &Path) -> PartFormat {
        let name = path.filename().unwrap_or("").to_ascii_lowercase();
        if name.ends_with(".parquet") {
            return PartFormat::Parquet;
        }
        if name.ends_with(".gz") {
            return PartFormat::GzipCsv;
        }
        if name.ends_with(".csv") {
            return PartFormat::Csv;
        }
        let delivery = self.manifest.delivery_config.as_ref();
        let format = delivery
            .and_then(|d| d.file_format.as_deref())
            .unwrap_or("");
        let compression = delivery
            .and_then(|d| d.compression_mode.as_deref())
            .unwrap_or("");
        if format.eq_ignore_ascii_case("parquet") {
            PartFormat::Parquet
        } else if compression.eq_ignore_ascii_case("gzip") {
            PartFormat::GzipCsv
        } else {
            PartFormat::Csv
        }
    }
}

/// How a part is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PartFormat {
    Csv,
    GzipCsv,
    Parquet,
}

/// The billing account of an export scope: the `billingAccounts/N` segment (for EA, the
/// enrollment), else the scope's last segment (a subscription's id).
pub(super) fn billing_account(scope: &str) -> String {
    let parts: Vec<&str> = scope.split('/').filter(|s| !s.is_empty()).collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("billingAccounts"))
        .and_then(|i| parts.get(i + 1))
        .or(parts.last())
        .map_or_else(|| "unknown".to_string(), |s| s.to_ascii_lowercase())
}
