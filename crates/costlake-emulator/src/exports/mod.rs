//! The synthetic enrollment as Cost Management would export it: run folders with partitioned
//! parts (CSV with a BOM in every part, gzip CSV, Parquet) and their `manifest.json`, in the
//! patterns that trip readers up: month-to-date re-runs kept side by side (`CreateNewReport`)
//! or overwritten, the re-export of a closed month, a one-time export beside a daily one, an
//! incomplete run, an empty run, and manifests from before and after 2024-04-01. The latest
//! complete run of each month holds exactly the rows the emulated EA API serves.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use costlake::model::Dataset;
use costlake::schema::Field;

use crate::generator::{Enrollment, Period, guid};
use cells::{Charge, price_value};
use files::{encode, header};

mod cells;
mod commitments;
mod files;

/// How the tree is cut.
#[derive(Debug, Clone)]
pub struct ExportTreeOptions {
    /// Rows per part file (real exports cut parts at 1 GB; small parts exercise the joins).
    pub part_rows: u64,
    /// Folder under the container the exports are written to (the export's rootFolderPath).
    pub root: String,
    /// Export types to write (`ActualCost`, `AmortizedCost`, `FocusCost`, `PriceSheet`);
    /// empty for all. Measuring one dataset's ingest needs only its files.
    pub types: Vec<String>,
    /// One format for every export's parts, instead of each export's own (the same rows as
    /// CSV and as Parquet, for comparing the two).
    pub format: Option<Format>,
    /// Add the reservations' charges to the actual and amortized cost exports
    /// ([`Enrollment::commitment_charges`]). Off, the latest run of each month holds exactly
    /// what the EA API serves, which carried no reservation purchases.
    pub commitments: bool,
}

impl Default for ExportTreeOptions {
    fn default() -> Self {
        ExportTreeOptions {
            part_rows: 100_000,
            root: "exports".into(),
            types: Vec::new(),
            format: None,
            commitments: false,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct ExportTreeSummary {
    pub runs: usize,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {message}")]
pub struct ExportWriteError {
    path: String,
    message: String,
}

/// The file formats exports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GzipCsv,
    Parquet,
}

/// One export definition.
struct Export {
    name: &'static str,
    export_type: &'static str,
    data_version: &'static str,
    format: Format,
    overwrite: bool,
    /// Manifests as written before 2024-04-01: no counts, no manifestVersion.
    old_manifest: bool,
}

/// One run to write: its export, the month, when it ran, and which rows of the month it holds.
struct RunPlan<'a> {
    export: &'a Export,
    period: &'a Period,
    submitted: NaiveDateTime,
    /// Usage rows `0..usage_rows` and marketplace rows `0..marketplace_rows` (a month-to-date
    /// run holds the days before it ran).
    usage_rows: u64,
    marketplace_rows: u64,
    /// Reservation charges of the days before this one (with [`ExportTreeOptions::commitments`]).
    until: NaiveDate,
    /// Leave a listed part unwritten: a run still being written.
    incomplete: bool,
    /// A run that found nothing: no parts, zero counts.
    empty: bool,
}

const ACTUAL: Export = Export {
    name: "daily-actual",
    export_type: "ActualCost",
    data_version: "2021-10-01",
    format: Format::GzipCsv,
    overwrite: true,
    old_manifest: false,
};
const AMORTIZED: Export = Export {
    name: "daily-amortized",
    export_type: "AmortizedCost",
    data_version: "2024-08-01",
    format: Format::Parquet,
    overwrite: false,
    old_manifest: false,
};
const ONE_TIME: Export = Export {
    name: "onetime-actual",
    export_type: "ActualCost",
    data_version: "2021-10-01",
    format: Format::Csv,
    overwrite: true,
    old_manifest: true,
};
const FOCUS: Export = Export {
    name: "monthly-focus",
    export_type: "FocusCost",
    data_version: "1.0r2",
    format: Format::GzipCsv,
    overwrite: false,
    old_manifest: false,
};
const PRICES: Export = Export {
    name: "pricesheet",
    export_type: "PriceSheet",
    data_version: "2023-05-01",
    format: Format::Csv,
    overwrite: true,
    old_manifest: false,
};

/// A month's cost details as an ActualCost or AmortizedCost export (and the Cost Management
/// API's cost details report) prints them: the usage rows, then the Marketplace charges, each
/// row made on demand so that any slice of a large month costs only its own rows.
pub struct CostRows<'a> {
    e: &'a Enrollment,
    period: &'a Period,
    fields: Vec<&'static Field>,
}

impl<'a> CostRows<'a> {
    pub fn new(e: &'a Enrollment, period: &'a Period) -> CostRows<'a> {
        CostRows {
            e,
            period,
            fields: Dataset::CostDetails
                .fields()
                .iter()
                .filter(|f| f.derived_from.is_none())
                .collect(),
        }
    }

    pub fn headers(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| header(f, &ACTUAL)).collect()
    }

    pub fn len(&self) -> u64 {
        self.e.usage_rows(self.period) + self.e.marketplace_rows(self.period)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`, its cells in header order.
    pub fn row(&self, i: u64) -> Vec<String> {
        let usage = self.e.usage_rows(self.period);
        let charge = if i < usage {
            Charge::Usage(self.e.usage_row(self.period, i))
        } else {
            Charge::Marketplace(self.e.marketplace_row(self.period, i - usage))
        };
        self.fields
            .iter()
            .map(|f| {
                charge
                    .value(self.e, self.period, f.col, false)
                    .or_else(|| charge.export_only(self.e, self.period, f.api, false))
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Some meters of a month's price sheet as the price sheet export (and the Cost Management
/// price sheet download) prints them: CSV with its header, after a byte order mark if `bom`.
pub fn price_sheet_csv<'a>(
    e: &Enrollment,
    period: &Period,
    meters: impl Iterator<Item = &'a crate::generator::Meter>,
    bom: bool,
) -> String {
    let fields: Vec<&Field> = Dataset::ExportPriceSheet
        .fields()
        .iter()
        .filter(|f| f.derived_from.is_none())
        .collect();
    let mut out = String::from(if bom { "\u{feff}" } else { "" });
    files::push_csv_row(&mut out, fields.iter().map(|f| header(f, &PRICES)));
    for m in meters {
        let cells: Vec<String> = fields
            .iter()
            .map(|f| price_value(e, period, m, f.col))
            .collect();
        files::push_csv_row(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// Appends one CSV record, quoted where needed.
pub(crate) fn push_csv_record<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    files::push_csv_row(out, cells)
}

/// The periods whose FOCUS export exists: the last two (older months come from the actual
/// cost export only, as when an enrollment turned FOCUS on recently).
pub fn focus_periods(e: &Enrollment) -> impl Iterator<Item = &Period> {
    e.periods.iter().skip(e.periods.len().saturating_sub(2))
}

/// Writes the export tree of the enrollment into `store` (rooted at the container, or a
/// folder standing for it).
pub async fn write_tree(
    e: &Enrollment,
    store: Arc<dyn ObjectStore>,
    opts: &ExportTreeOptions,
) -> Result<ExportTreeSummary, ExportWriteError> {
    let mut plans = Vec::new();
    let last = e.periods.len() - 1;
    for (i, period) in e.periods.iter().enumerate() {
        let month = period.id.first_day();
        let next = period.id.next().first_day();
        let at = |d: NaiveDate, h: u32| d.and_hms_opt(h, 4, 6).expect("valid time");
        let whole = |export, submitted| RunPlan {
            export,
            period,
            submitted,
            usage_rows: e.usage_rows(period),
            marketplace_rows: e.marketplace_rows(period),
            until: next,
            incomplete: false,
            empty: false,
        };
        let until_day = |export, day: u32| {
            let day = day.min(period.days_with_data);
            let usage = e.first_row_of_day(period, day);
            let n = e.marketplace_rows(period);
            let marketplace = (0..n)
                .find(|&j| e.marketplace_row(period, j).date >= month + Duration::days(day as i64))
                .unwrap_or(n);
            let submitted = at(month + Duration::days(day as i64), 6);
            RunPlan {
                usage_rows: usage,
                marketplace_rows: marketplace,
                until: month + Duration::days(day as i64),
                ..whole(export, submitted)
            }
        };
        // The final run of a month: the re-export on the 2nd of the next month, or today's
        // month-to-date run for the open month.
        let final_at = if e.is_open(period) {
            at(e.spec.today, 5)
        } else {
            at(next + Duration::days(1), 5)
        };
        // Actual cost, daily, overwritten: only the final run is left in the folder.
        plans.push(whole(&ACTUAL, final_at));
        // Amortized cost, daily, a new folder per run: two month-to-date runs and the final.
        plans.push(until_day(&AMORTIZED, 9));
        plans.push(until_day(&AMORTIZED, 19));
        plans.push(whole(&AMORTIZED, final_at));
        if i == last {
            // A later run still being written: one of its parts is not there yet.
            let mut partial = whole(&AMORTIZED, final_at + Duration::hours(6));
            partial.incomplete = true;
            plans.push(partial);
        }
        if i == 0 {
            // A one-time export of the first month, run before the daily export's re-export
            // and written with the older manifest.
            plans.push(whole(&ONE_TIME, final_at - Duration::days(1)));
        }
        if focus_periods(e).any(|p| p.id == period.id) {
            plans.push(until_day(&FOCUS, 14));
            plans.push(whole(&FOCUS, final_at));
            // A later run that found no rows: it must not blank the month.
            let mut empty = whole(&FOCUS, final_at + Duration::hours(3));
            empty.empty = true;
            plans.push(empty);
        }
        plans.push(whole(&PRICES, at(month, 3)));
    }
    plans.retain(|p| {
        opts.types.is_empty()
            || opts
                .types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(p.export.export_type))
    });
    let mut summary = ExportTreeSummary::default();
    for plan in &plans {
        write_run(e, &store, opts, plan, &mut summary).await?;
    }
    Ok(summary)
}

/// The billing account scope the enrollment's exports are defined on.
pub fn scope(e: &Enrollment) -> String {
    format!(
        "/providers/Microsoft.Billing/billingAccounts/{}",
        e.spec.number
    )
}

async fn write_run(
    e: &Enrollment,
    store: &Arc<dyn ObjectStore>,
    opts: &ExportTreeOptions,
    plan: &RunPlan<'_>,
    summary: &mut ExportTreeSummary,
) -> Result<(), ExportWriteError> {
    let export = plan.export;
    let format = opts.format.unwrap_or(export.format);
    let period = plan.period;
    let dataset = Dataset::of_export_type(export.export_type)
        .expect("the emulator writes types ingest reads")
        .0;
    let run_id = guid(&[
        e.spec.seed,
        40,
        period.id.0 as u64,
        plan.submitted.and_utc().timestamp() as u64,
        export.name.len() as u64,
    ]);
    let first = period.id.first_day();
    let last = period.id.last_day();
    let mut folder = format!(
        "{}/{}/{}-{}",
        opts.root.trim_matches('/'),
        export.name,
        first.format("%Y%m%d"),
        last.format("%Y%m%d")
    );
    // Current exports add a run-time folder; the older ones had none.
    if !export.old_manifest {
        folder.push_str(&format!("/{}", plan.submitted.format("%Y%m%d%H%M")));
    }
    folder.push_str(&format!("/{run_id}"));

    let reservations = if opts.commitments && dataset == Dataset::CostDetails {
        e.reservations()
    } else {
        Vec::new()
    };
    // The rows, as text cells in the dataset's header order.
    let fields: Vec<&Field> = dataset
        .fields()
        .iter()
        .filter(|f| f.derived_from.is_none())
        .collect();
    let headers: Vec<&str> = fields.iter().map(|f| header(f, export)).collect();
    let rows: Box<dyn Iterator<Item = Vec<String>>> = if plan.empty {
        Box::new(std::iter::empty())
    } else if dataset == Dataset::ExportPriceSheet {
        Box::new(e.price_sheet_meters().map(|m| {
            fields
                .iter()
                .map(|f| price_value(e, period, m, f.col))
                .collect()
        }))
    } else {
        let usage = (0..plan.usage_rows).map(|i| Charge::Usage(e.usage_row(period, i)));
        let marketplace =
            (0..plan.marketplace_rows).map(|j| Charge::Marketplace(e.marketplace_row(period, j)));
        let focus = dataset == Dataset::FocusCosts;
        let amortized = export.export_type == AMORTIZED.export_type;
        let commitments: Vec<Charge> = e
            .commitment_charges(&reservations, period.id, amortized, plan.until)
            .into_iter()
            .map(Charge::Commitment)
            .collect();
        Box::new(usage.chain(marketplace).chain(commitments).map(move |c| {
            fields
                .iter()
                .map(|f| {
                    c.value(e, period, f.col, focus)
                        .or_else(|| c.export_only(e, period, f.api, focus))
                        .unwrap_or_default()
                })
                .collect()
        }))
    };

    let mut blobs = Vec::new();
    let mut total_rows = 0u64;
    let mut total_bytes = 0u64;
    let mut part = Vec::new();
    let mut rows = rows.peekable();
    let mut seq = 0;
    while rows.peek().is_some() {
        part.clear();
        part.extend(rows.by_ref().take(opts.part_rows.max(1) as usize));
        seq += 1;
        let ext = match format {
            Format::Csv => "csv",
            Format::GzipCsv => "csv.gz",
            Format::Parquet => "snappy.parquet",
        };
        let name = format!("{folder}/part_0_{seq:04}.{ext}");
        let bytes = encode(format, dataset, &headers, &part);
        let len = bytes.len() as u64;
        // An incomplete run lacks its second part (or its only part's tail).
        let skip = plan.incomplete && seq == 2;
        if !skip {
            put(store, &name, bytes, summary).await?;
        }
        blobs.push(serde_json::json!({
            "blobName": name,
            "byteCount": len,
            "dataRowCount": part.len(),
        }));
        total_rows += part.len() as u64;
        total_bytes += len;
    }
    if plan.incomplete && seq < 2 {
        // With one part, the run is incomplete by that part's size.
        if let Some(b) = blobs.first_mut() {
            b["byteCount"] = serde_json::json!(b["byteCount"].as_u64().unwrap_or(0) + 1);
        }
    }
    let submitted = format!("{}.1234567Z", plan.submitted.format("%Y-%m-%dT%H:%M:%S"));
    let end = if plan.usage_rows >= e.usage_rows(period) {
        last
    } else {
        plan.submitted.date()
    };
    let resource_id = format!(
        "{}/providers/Microsoft.CostManagement/exports/{}",
        scope(e),
        export.name
    );
    let sheet = dataset == Dataset::ExportPriceSheet;
    let mut manifest = serde_json::json!({
        "manifestVersion": "2024-04-01",
        "byteCount": total_bytes,
        "blobCount": blobs.len(),
        "dataRowCount": total_rows,
        "exportConfig": {
            "exportName": export.name, "resourceId": resource_id,
            "dataVersion": export.data_version, "apiVersion": "2023-07-01-preview",
            "type": export.export_type,
            "timeFrame": if export.old_manifest { "OneTime" } else if sheet { "TheCurrentMonth" } else { "MonthToDate" },
            "granularity": if sheet { serde_json::Value::Null } else { "Daily".into() },
        },
        "deliveryConfig": {
            "partitionData": true,
            "dataOverwriteBehavior": if export.overwrite { "OverwritePreviousReport" } else { "CreateNewReport" },
            "fileFormat": if format == Format::Parquet { "Parquet" } else { "Csv" },
            "compressionMode": match format { Format::Csv => "None", Format::GzipCsv => "Gzip", Format::Parquet => "Snappy" },
            "containerUri": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/finops/providers/Microsoft.Storage/storageAccounts/finopsexports",
            "rootFolderPath": opts.root,
        },
        "runInfo": {
            "executionType": if export.old_manifest { "OnDemand" } else { "Scheduled" },
            "submittedTime": submitted, "runId": run_id,
            "startDate": format!("{first}T00:00:00"), "endDate": format!("{end}T00:00:00Z"),
        },
        "blobs": blobs,
    });
    if export.old_manifest {
        // Before 2024-04-01 manifests had no version, no counts and no compression mode.
        let object = manifest.as_object_mut().expect("an object");
        for key in ["manifestVersion", "byteCount", "blobCount", "dataRowCount"] {
            object.remove(key);
        }
        object["deliveryConfig"]
            .as_object_mut()
            .expect("an object")
            .remove("compressionMode");
        for blob in object["blobs"].as_array_mut().expect("an array") {
            blob.as_object_mut()
                .expect("an object")
                .remove("dataRowCount");
        }
    }
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    put(store, &format!("{folder}/manifest.json"), json, summary).await?;
    summary.runs += 1;
    Ok(())
}

async fn put(
    store: &Arc<dyn ObjectStore>,
    name: &str,
    bytes: Vec<u8>,
    summary: &mut ExportTreeSummary,
) -> Result<(), ExportWriteError> {
    summary.files += 1;
    summary.bytes += bytes.len() as u64;
    store
        .put(&Path::from(name), PutPayload::from(bytes))
        .await
        .map_err(|e| ExportWriteError {
            path: name.to_string(),
            message: costlake::lake::redact(&e.to_string()),
        })?;
    Ok(())
}
