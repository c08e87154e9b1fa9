//! The synthetic enrollment as Cost Management would export it: run folders with partitioned
//! parts (CSV with a BOM in every part, gzip CSV, Parquet) and their `manifest.json`, in the
//! patterns that trip readers up: month-to-date re-runs kept side by side (`CreateNewReport`)
//! or overwritten, the re-export of a closed month, a one-time export beside a daily one, an
//! incomplete run, an empty run, and manifests from before and after 2024-04-01. The latest
//! complete run of each month holds exactly the rows the emulated EA API serves.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::generator::{
    COST_SCALE, Enrollment, MarketplaceRow, PRICE_SCALE, Period, QUANTITY_SCALE, RATE_SCALE,
    UsageRow, guid,
};
use costlake::decode::table::TableDecoder;
use costlake::model::Dataset;
use costlake::model::decimal::format_plain;
use costlake::schema::{Col, Field};

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
}

impl Default for ExportTreeOptions {
    fn default() -> Self {
        ExportTreeOptions {
            part_rows: 100_000,
            root: "exports".into(),
            types: Vec::new(),
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
enum Format {
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
        Box::new(usage.chain(marketplace).map(move |c| {
            fields
                .iter()
                .map(|f| c.value(e, period, f.col, focus).unwrap_or_default())
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
        let ext = match export.format {
            Format::Csv => "csv",
            Format::GzipCsv => "csv.gz",
            Format::Parquet => "snappy.parquet",
        };
        let name = format!("{folder}/part_0_{seq:04}.{ext}");
        let bytes = encode(export.format, dataset, &headers, &part);
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
            "fileFormat": if export.format == Format::Parquet { "Parquet" } else { "Csv" },
            "compressionMode": match export.format { Format::Csv => "None", Format::GzipCsv => "Gzip", Format::Parquet => "Snappy" },
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

/// The header an export of this version writes for a field: FOCUS 1.0 exports still use the
/// `x_` names that 1.2 renamed.
fn header(field: &Field, export: &Export) -> &'static str {
    if export.data_version.starts_with("1.0")
        && let Some(old) = field.aliases.iter().find(|a| a.starts_with("x_"))
    {
        return old;
    }
    field.api
}

/// One part file's bytes.
fn encode(format: Format, dataset: Dataset, headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    match format {
        Format::Csv | Format::GzipCsv => {
            let mut text = String::from("\u{feff}");
            push_csv_row(&mut text, headers.iter().copied());
            for row in rows {
                push_csv_row(&mut text, row.iter().map(String::as_str));
            }
            if format == Format::Csv {
                return text.into_bytes();
            }
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).expect("gzip into memory");
            gz.finish().expect("gzip into memory")
        }
        Format::Parquet => parquet_part(dataset, headers, rows),
    }
}

fn push_csv_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push('\n');
}

/// A typed Parquet part with the export's own column names: the cells read into the lake's
/// types, then named as the export names them.
fn parquet_part(dataset: Dataset, headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut decoder = TableDecoder::new(dataset, headers);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        decoder
            .push_record(&cells)
            .expect("the emulator's cells decode");
    }
    let batch = decoder.finish().expect("a part has rows");
    let keep: Vec<usize> = dataset
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.derived_from.is_none())
        .map(|(i, _)| i)
        .collect();
    let batch = batch.project(&keep).expect("columns exist");
    let fields: Vec<arrow::datatypes::Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(headers)
        .map(|(f, h)| f.as_ref().clone().with_name(*h))
        .collect();
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).expect("same columns");
    let mut out = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(props))
        .expect("parquet writer");
    writer.write(&batch).expect("parquet write");
    writer.close().expect("parquet close");
    out
}

/// A row of the month's charges: Azure usage or a Marketplace charge.
enum Charge<'a> {
    Usage(UsageRow<'a>),
    Marketplace(MarketplaceRow<'a>),
}

fn money(v: i128, scale: u32) -> Option<String> {
    Some(format_plain(v, scale))
}

fn us_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{}", d.month(), d.day(), d.year())
}

fn instant(d: NaiveDate) -> String {
    format!("{d}T00:00:00Z")
}

impl Charge<'_> {
    /// The cell of one column: EA exports print dates `MM/dd/yyyy` and tags without their
    /// braces; FOCUS prints instants, exclusive ends and its own value names.
    fn value(&self, e: &Enrollment, period: &Period, col: Col, focus: bool) -> Option<String> {
        let (date, subscription, account, department, resource) = match self {
            Charge::Usage(r) => (r.date, r.subscription, r.account, r.department, r.resource),
            Charge::Marketplace(r) => (r.date, r.subscription, r.account, r.department, r.resource),
        };
        let marketplace = matches!(self, Charge::Marketplace(_));
        let (quantity, rate, cost) = match self {
            Charge::Usage(r) => (r.quantity, r.rate, r.cost),
            Charge::Marketplace(r) => (r.quantity, r.rate, r.cost),
        };
        let day = |d: NaiveDate| if focus { instant(d) } else { us_date(d) };
        Some(match col {
            Col::DepartmentName => department.name.to_string(),
            Col::DepartmentId => department.id.to_string(),
            Col::CostCenter => department.cost_center.to_string(),
            Col::AccountName => account.name.clone(),
            Col::AccountOwnerEmail => account.owner.clone(),
            Col::AccountId => account.id.to_string(),
            Col::SubscriptionGuid => subscription.guid.clone(),
            Col::SubscriptionName => subscription.name.clone(),
            Col::ResourceGroup => resource.resource_group.clone(),
            Col::InstanceId => resource.instance_id.clone(),
            Col::Tags => {
                let tags = resource.tags.as_deref().filter(|t| !t.is_empty())?;
                if focus {
                    tags.to_string()
                } else {
                    // EA exports drop the outer braces.
                    tags.trim()
                        .strip_prefix('{')?
                        .strip_suffix('}')?
                        .to_string()
                }
            }
            Col::BillingAccountId => e.spec.number.to_string(),
            Col::CurrencyCode => "USD".into(),
            Col::BillingStart => day(period.id.first_day()),
            Col::BillingEnd if focus => instant(period.id.next().first_day()),
            Col::BillingEnd => us_date(period.id.last_day()),
            Col::Date => day(date),
            Col::ChargePeriodEnd => instant(date + Duration::days(1)),
            Col::ChargeType => "Usage".into(),
            Col::Frequency if focus => "Usage-Based".into(),
            Col::Frequency => "UsageBased".into(),
            Col::PricingModel if focus => "Standard".into(),
            Col::PricingModel => "OnDemand".into(),
            Col::Cost | Col::EffectiveCost => money(cost, COST_SCALE)?,
            Col::ConsumedQuantity => money(quantity, QUANTITY_SCALE)?,
            Col::ResourceRate => money(rate, RATE_SCALE)?,
            Col::PublisherType => match (marketplace, focus) {
                (true, true) => "Vendor",
                (true, false) => "Marketplace",
                (false, true) => "Cloud Provider",
                (false, false) => "Azure",
            }
            .into(),
            Col::IsAzureCreditEligible => {
                let eligible = match self {
                    Charge::Usage(r) => !r.billed_separately,
                    Charge::Marketplace(_) => false,
                };
                if eligible { "True" } else { "False" }.into()
            }
            other => match self {
                Charge::Usage(r) => {
                    let meter = r.meter;
                    let family = meter.family();
                    match other {
                        Col::Product => meter.product(),
                        Col::MeterCategory => family.category.into(),
                        Col::MeterSubCategory => family.sub_category.into(),
                        Col::MeterId => meter.id.clone(),
                        Col::MeterName => meter.name.into(),
                        Col::MeterRegion => meter.region().meter_region.into(),
                        Col::UnitOfMeasure => meter.unit.into(),
                        Col::ResourceLocation => meter.region().code.into(),
                        Col::ConsumedService => family.consumed_service.into(),
                        Col::OfferId => r.subscription.offer_id.into(),
                        Col::PartNumber => meter.part_number.clone(),
                        Col::PublisherName => "Microsoft".into(),
                        _ => return None,
                    }
                }
                Charge::Marketplace(r) => match other {
                    Col::Product => r.offer.offer.into(),
                    Col::MeterId => r.offer.meter_id.into(),
                    Col::UnitOfMeasure => r.offer.unit.into(),
                    Col::PublisherName => r.offer.publisher.into(),
                    Col::PlanName => r.offer.plan.into(),
                    _ => return None,
                },
            },
        })
    }
}

/// A price sheet export row of one meter.
fn price_value(
    e: &Enrollment,
    period: &Period,
    meter: &super::generator::Meter,
    col: Col,
) -> String {
    let family = meter.family();
    match col {
        Col::MeterId => meter.id.clone(),
        Col::MeterName => format!("{} - {}", meter.name, meter.region().display),
        Col::MeterCategory => family.category.into(),
        Col::MeterSubCategory => family.sub_category.into(),
        Col::MeterRegion => meter.region().meter_region.into(),
        Col::Product => meter.product(),
        Col::UnitOfMeasure => meter.unit.into(),
        Col::PartNumber => meter.part_number.clone(),
        Col::UnitPrice => {
            format_plain(e.unit_price(meter.index, period.index) as i128, PRICE_SCALE)
        }
        Col::CurrencyCode => "USD".into(),
        Col::IncludedQuantity => "0".into(),
        Col::OfferId => "MS-AZR-0017P".into(),
        _ => String::new(),
    }
}
