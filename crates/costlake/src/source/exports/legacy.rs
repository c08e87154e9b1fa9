//! Exports written before 2024, which enterprises keep for years beside the current ones: the
//! partitioned exports of 2021–2023, whose `2021-01-01` manifest lists blobs but has no
//! `exportConfig` and no `runInfo`, and the older exports with no manifest at all (one CSV per
//! run under `<export>/<yyyyMMdd-yyyyMMdd>/`). For these, and only these, what a manifest
//! would say is read from the folders: the month from the date range, the export's name from
//! the folder above it, the scope from the folders above that, the run from its GUID folder or
//! file name, and when it ran from its `yyyyMMddHHmm` folder or else the file's time. A
//! legacy run is actual cost unless its export's name says amortized: the manifest that
//! would say so does not exist.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use object_store::path::Path;

use super::manifest::{Blob, LEGACY_RUN_MANIFEST, RUN_MANIFEST, RunManifest};
use super::tree::ExportTree;
use crate::model::PeriodId;

/// What a run's folders say about it.
#[derive(Debug, PartialEq)]
struct RunFolders {
    export_name: String,
    /// The folders above the export's, as a scope (`providers/Microsoft.Billing/…`).
    root: String,
    month: PeriodId,
    submitted: Option<DateTime<Utc>>,
    run_id: Option<String>,
    /// How many segments lead to the date folder, inclusive.
    date_depth: usize,
}

fn is_date_range(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() == 17
        && b[8] == b'-'
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[9..].iter().all(u8::is_ascii_digit)
}

fn is_guid(segment: &str) -> bool {
    segment.len() == 36
        && segment.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Reads a run's folders from the path of its manifest or of its one CSV file.
fn read_folders(path: &Path) -> Option<RunFolders> {
    let segments: Vec<String> = path.parts().map(|p| p.as_ref().to_string()).collect();
    let date = segments.iter().rposition(|s| is_date_range(s))?;
    let export_name = segments.get(date.checked_sub(1)?)?.clone();
    let month = PeriodId::parse(&segments[date][..6])?;
    let below = &segments[date + 1..];
    let submitted = below.iter().find_map(|s| {
        (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M").ok())
            .flatten()
            .map(|t| t.and_utc())
    });
    let file_stem = below.last().map(|f| f.split('.').next().unwrap_or(f));
    let run_id = below.iter().find(|s| is_guid(s)).cloned().or_else(|| {
        file_stem
            .and_then(|stem| stem.rsplit('_').next())
            .filter(|id| is_guid(id))
            .map(str::to_string)
    });
    Some(RunFolders {
        export_name,
        root: segments[..date - 1].join("/"),
        month,
        submitted,
        run_id,
        date_depth: date + 1,
    })
}

/// Fills in what a `2021-01-01` manifest (or a run with none) leaves out, from the folders
/// of `path`. A manifest that names its export type is left as it is.
pub(super) fn fill_from_folders(manifest: &mut RunManifest, path: &Path) -> Result<(), String> {
    if !manifest.export_config.export_type.is_empty() {
        return Ok(());
    }
    let folders = read_folders(path).ok_or(
        "it has no exportConfig and is not under an <export>/<yyyyMMdd-yyyyMMdd>/ folder to \
         read the month from",
    )?;
    let config = &mut manifest.export_config;
    config.export_type = if folders
        .export_name
        .to_ascii_lowercase()
        .contains("amortized")
    {
        "AmortizedCost"
    } else {
        "ActualCost"
    }
    .to_string();
    config.resource_id = folders.root;
    config.export_name = Some(folders.export_name);
    let run = &mut manifest.run_info;
    run.run_id = folders.run_id.unwrap_or_else(|| path.to_string());
    run.start_date = folders.month.first_day().format("%Y-%m-%d").to_string();
    run.submitted_time = folders.submitted.map(|t| t.to_rfc3339());
    Ok(())
}

/// The runs with no manifest: each CSV file under a date-range folder with no manifest
/// between it and that folder, as a run of one part.
pub(super) fn manifestless_runs(tree: &ExportTree) -> Vec<(Path, RunManifest)> {
    let manifest_dirs: HashSet<Vec<String>> = tree
        .objects
        .keys()
        .filter(|p| matches!(p.filename(), Some(RUN_MANIFEST | LEGACY_RUN_MANIFEST)))
        .map(|p| {
            let parts: Vec<String> = p.parts().map(|s| s.as_ref().to_string()).collect();
            parts[..parts.len() - 1].to_vec()
        })
        .collect();
    let mut runs = Vec::new();
    for path in tree.objects.keys() {
        let name = path.filename().unwrap_or("").to_ascii_lowercase();
        if !(name.ends_with(".csv") || name.ends_with(".csv.gz")) {
            continue;
        }
        let Some(folders) = read_folders(path) else {
            continue;
        };
        let parts: Vec<String> = path.parts().map(|s| s.as_ref().to_string()).collect();
        let covered =
            (folders.date_depth..parts.len()).any(|depth| manifest_dirs.contains(&parts[..depth]));
        if covered {
            continue;
        }
        let mut manifest = RunManifest {
            blobs: vec![Blob {
                blob_name: path.filename().unwrap_or_default().to_string(),
                byte_count: None,
                data_row_count: None,
            }],
            ..RunManifest::default()
        };
        if fill_from_folders(&mut manifest, path).is_ok() {
            runs.push((path.clone(), manifest));
        }
    }
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_partitioned_and_manifestless_runs() {
        let koku = Path::from(
            "cost/partitioned/20230101-20230131/202301041442/73746dc5-5dcc-4b83-b340-bb1bd2b1ca30/manifest.json",
        );
        let f = read_folders(&koku).unwrap();
        assert_eq!(f.export_name, "partitioned");
        assert_eq!(f.root, "cost");
        assert_eq!(f.month, PeriodId(202301));
        assert_eq!(
            f.submitted.unwrap().to_rfc3339(),
            "2023-01-04T14:42:00+00:00"
        );
        assert_eq!(
            f.run_id.as_deref(),
            Some("73746dc5-5dcc-4b83-b340-bb1bd2b1ca30")
        );
        let old = Path::from(
            "providers/Microsoft.Billing/billingAccounts/100/monthly-amortized/20190701-20190731/monthly-amortized_0f2a4c7e-1b7c-4c7e-9c2e-3f1d2a4b5c6d.csv",
        );
        let f = read_folders(&old).unwrap();
        assert_eq!(f.root, "providers/Microsoft.Billing/billingAccounts/100");
        assert_eq!(f.month, PeriodId(201907));
        assert_eq!(f.submitted, None);
        assert_eq!(
            f.run_id.as_deref(),
            Some("0f2a4c7e-1b7c-4c7e-9c2e-3f1d2a4b5c6d")
        );
        let mut m = RunManifest::default();
        fill_from_folders(&mut m, &old).unwrap();
        assert_eq!(m.export_config.export_type, "AmortizedCost");
        assert_eq!(m.run_info.start_date, "2019-07-01");
        assert!(read_folders(&Path::from("a/b/2019070-20190731/x.csv")).is_none());
        assert!(read_folders(&Path::from("20190701-20190731/x.csv")).is_none());
    }
}
