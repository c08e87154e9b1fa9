//! Cost Management export files on disk for the tests, and the binary run on them: the real
//! files of the shared fixtures wrapped in runs and manifests as Cost Management writes them,
//! the emulator's export trees, `costlake ingest` and `costlake sql`, and independent totals
//! (Python's `csv` and `decimal`, the generator's) to check what lands against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use costlake_emulator::exports::{ExportTreeOptions, write_tree};
use costlake_emulator::generator::Enrollment;

use crate::query::{costlake, parse_csv, stdout};
use crate::tools;

const FIXTURES: &str = "/work/shared/fixtures";

/// The fixtures folder: beside the checkout in CI (`../shared/fixtures`).
pub fn fixtures() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if beside.exists() {
        beside
    } else {
        PathBuf::from(FIXTURES)
    }
}

/// One export run on disk: its parts and a manifest as Cost Management writes it.
pub struct RunSpec<'a> {
    pub export: &'a str,
    pub export_type: &'a str,
    pub data_version: &'a str,
    pub scope: &'a str,
    pub month: &'a str,
    pub submitted: &'a str,
    pub run_id: &'a str,
    /// (file name, bytes, data rows)
    pub parts: Vec<(String, Vec<u8>, u64)>,
}

/// A run of the EA actual-cost export for September 2023 (the month of the fixture's rows)
/// with one part: (file name, bytes, data rows).
pub fn ea_actual_run<'a>(
    run_id: &'a str,
    submitted: &'a str,
    part: (String, Vec<u8>, u64),
) -> RunSpec<'a> {
    RunSpec {
        export: "daily-actual",
        export_type: "ActualCost",
        data_version: "2021-10-01",
        scope: EA,
        month: "2023-09",
        submitted,
        run_id,
        parts: vec![part],
    }
}

/// A FOCUS 1.0 export run of September 2024 with one part: the FOCUS working group's sample
/// (1000 rows), as given or changed.
pub fn focus_sample_run(csv: Vec<u8>) -> RunSpec<'static> {
    RunSpec {
        export: "focus",
        export_type: "FocusCost",
        data_version: "1.0",
        scope: EA,
        month: "2024-09",
        submitted: "2024-10-02T05:00:00.0000000Z",
        run_id: "0b9a3e0c-0000-4000-8000-000000000005",
        parts: vec![("part_0_0001.csv".into(), csv, 1000)],
    }
}

pub fn write_run(root: &Path, run: &RunSpec) {
    let folder = format!(
        "{}/{}/{}01-{}28/{}/{}",
        run.scope.trim_start_matches('/'),
        run.export,
        run.month.replace('-', ""),
        run.month.replace('-', ""),
        run.submitted
            .replace(['-', 'T', ':'], "")
            .get(..12)
            .unwrap(),
        run.run_id
    );
    std::fs::create_dir_all(root.join(&folder)).unwrap();
    let mut blobs = Vec::new();
    let (mut rows, mut bytes) = (0, 0);
    for (name, data, n) in &run.parts {
        std::fs::write(root.join(&folder).join(name), data).unwrap();
        blobs.push(serde_json::json!({
            "blobName": format!("{folder}/{name}"),
            "byteCount": data.len(),
            "dataRowCount": n,
        }));
        rows += n;
        bytes += data.len();
    }
    let manifest = serde_json::json!({
        "manifestVersion": "2024-04-01",
        "byteCount": bytes,
        "blobCount": run.parts.len(),
        "dataRowCount": rows,
        "exportConfig": {
            "exportName": run.export,
            "resourceId": format!("{}/providers/Microsoft.CostManagement/exports/{}", run.scope, run.export),
            "dataVersion": run.data_version,
            "apiVersion": "2023-07-01-preview",
            "type": run.export_type,
            "timeFrame": "MonthToDate",
            "granularity": "Daily"
        },
        "deliveryConfig": {
            "partitionData": true,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Csv",
            "compressionMode": "None",
            "containerUri": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
            "rootFolderPath": run.scope.trim_start_matches('/')
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": run.submitted,
            "runId": run.run_id,
            "startDate": format!("{}-01T00:00:00", run.month),
            "endDate": format!("{}-28T00:00:00Z", run.month)
        },
        "blobs": blobs
    });
    std::fs::write(
        root.join(&folder).join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Rows and the exact sum of `column` of a CSV file, by Python's csv and decimal modules, with
/// each value rounded half to even to the lake's 12 places (and the count of values that
/// had more places).
pub fn python_totals(file: &Path, column: &str) -> (u64, String, u64) {
    let out = tools::run_python(
        "import csv, sys, decimal\n\
         rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig')))\n\
         q = decimal.Decimal('1e-12')\n\
         vals = [decimal.Decimal(r[sys.argv[2]]) for r in rows if r[sys.argv[2]] not in ('', 'NULL')]\n\
         s = sum((v.quantize(q, rounding=decimal.ROUND_HALF_EVEN) for v in vals), decimal.Decimal(0))\n\
         rounded = sum(1 for v in vals if v != v.quantize(q, rounding=decimal.ROUND_HALF_EVEN))\n\
         print(len(rows), s, rounded)",
        &[&file.display().to_string(), column],
    );
    let parts: Vec<&str> = out.split_whitespace().collect();
    (
        parts[0].parse().unwrap(),
        parts[1].to_string(),
        parts[2].parse().unwrap(),
    )
}

/// The CSV answer of `costlake sql` as rows of cells (header first).
pub fn sql(lake: &Path, query: &str) -> Vec<Vec<String>> {
    parse_csv(
        &stdout(&costlake(&["sql", "--format", "csv", query], lake)),
        ',',
    )
}

pub fn ingest(source: &Path, lake: &Path) -> Output {
    costlake(&["ingest", "--source", &source.display().to_string()], lake)
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub const EA: &str = "/providers/Microsoft.Billing/billingAccounts/8611537";

/// Writes the real export files of the fixtures into `source` as Cost Management lays out its
/// runs: EA actual cost in two CSV parts and again as Parquet for a second billing account, a
/// later run with no rows, amortized cost in gzip, the FOCUS working group's sample, and
/// reservation details and transactions (`work` holds scratch files).
pub fn write_real_exports(source: &Path, work: &Path) {
    let fx = fixtures();
    let actual = fx.join("finops-toolkit/EA_ActualCost_Small.csv");
    let amortized = fx.join("finops-toolkit/EA_AmortizedCost_Small.csv");
    let no_rows = fx.join("finops-toolkit/EA_NoRows.csv");
    let focus = fx.join("focus-sample-data/focus_sample.csv");
    let read = |p: &Path| std::fs::read(p).unwrap();
    // Actual cost, split in two parts (each with its header and BOM), as plain CSV.
    let text_of_actual = String::from_utf8(read(&actual)).unwrap();
    let mut lines: Vec<&str> = text_of_actual.lines().collect();
    let header = lines.remove(0);
    let (first, second) = lines.split_at(5);
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n")).into_bytes();
    write_run(
        source,
        &RunSpec {
            export: "daily-actual",
            export_type: "ActualCost",
            data_version: "2021-10-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-21T15:57:06.5234447Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000001",
            parts: vec![
                ("part_0_0001.csv".into(), part(first), 5),
                ("part_0_0002.csv".into(), part(second), 6),
            ],
        },
    );
    // A later run of the same month that found nothing: the month keeps its 11 rows.
    write_run(
        source,
        &RunSpec {
            export: "daily-actual",
            export_type: "ActualCost",
            data_version: "2021-10-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-22T15:57:06.1234567Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000002",
            parts: vec![("part_0_0001.csv".into(), read(&no_rows), 0)],
        },
    );
    // Amortized cost, gzip.
    write_run(
        source,
        &RunSpec {
            export: "daily-amortized",
            export_type: "AmortizedCost",
            data_version: "2021-10-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-21T16:00:00.0000000Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000003",
            parts: vec![("part_0_0001.csv.gz".into(), gzip(&read(&amortized)), 28)],
        },
    );
    // The actual cost file again as Parquet (types as pyarrow infers them: costs as doubles),
    // for a second billing account.
    let parquet = work.join("actual.parquet");
    tools::run_python(
        "import sys, pyarrow.csv as c, pyarrow.parquet as p\n\
         p.write_table(c.read_csv(sys.argv[1]), sys.argv[2], compression='snappy')",
        &[
            &actual.display().to_string(),
            &parquet.display().to_string(),
        ],
    );
    write_run(
        source,
        &RunSpec {
            export: "daily-actual",
            export_type: "ActualCost",
            data_version: "2021-10-01",
            scope: "/providers/Microsoft.Billing/billingAccounts/parquet-copy",
            month: "2023-09",
            submitted: "2023-09-21T15:57:06.5234447Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000004",
            parts: vec![("part_0_0001.snappy.parquet".into(), read(&parquet), 11)],
        },
    );
    // FOCUS 1.0 from the FOCUS working group's sample (several providers, `NULL` literals).
    write_run(source, &focus_sample_run(read(&focus)));

    // Reservation details and transactions (no public samples: written as the schemas give
    // them, with ISO instants carrying seven fractional digits).
    let details = "UsageDate,ReservationOrderId,ReservationId,InstanceId,SkuName,Kind,InstanceFlexibilityGroup,InstanceFlexibilityRatio,ReservedHours,UsedHours,TotalReservedQuantity\n\
        2023-09-01T00:00:00.0000000Z,49ed0e4d,r1,/subscriptions/s/vm1,Standard_B1s,Reservation,BS Series,1,24,23.5,1\n\
        2023-09-02T00:00:00.0000000Z,49ed0e4d,r1,/subscriptions/s/vm1,Standard_B1s,Reservation,BS Series,1,24,24,1\n";
    write_run(
        source,
        &RunSpec {
            export: "reservations",
            export_type: "ReservationDetails",
            data_version: "2023-03-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-03T01:00:00.0000000Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000006",
            parts: vec![("part_0_0001.csv".into(), details.as_bytes().to_vec(), 2)],
        },
    );
    let transactions = "EventDate,EventType,ReservationOrderId,Description,Amount,Currency,Quantity,ArmSkuName,Term,Region,PurchasingSubscriptionGuid,DepartmentName\n\
        2023-09-21T18:56:00.0000000Z,Purchase,49ed0e4d,\"Reserved VM Instance, Standard_B1s, UK South, 3 Years\",3.25,USD,1,Standard_B1s,P3Y,uksouth,1caaa5a3,ACM\n";
    write_run(
        source,
        &RunSpec {
            export: "reservation-transactions",
            export_type: "ReservationTransactions",
            data_version: "2023-05-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-22T01:00:00.0000000Z",
            run_id: "0b9a3e0c-0000-4000-8000-000000000007",
            parts: vec![(
                "part_0_0001.csv".into(),
                transactions.as_bytes().to_vec(),
                1,
            )],
        },
    );
}

/// The generator's rows and exact cost per period: usage plus Marketplace, as the
/// actual-cost export carries both.
pub fn charges_by_period(e: &Enrollment) -> BTreeMap<String, (u64, i128)> {
    e.periods
        .iter()
        .map(|p| {
            let t = e.totals(p);
            (
                p.id.to_string(),
                (t.rows + t.marketplace_rows, t.cost + t.marketplace),
            )
        })
        .collect()
}

/// Writes the emulator's export tree into a folder.
pub async fn export_tree(e: &Enrollment, dir: &Path, part_rows: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let store = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).unwrap());
    let opts = ExportTreeOptions {
        part_rows,
        ..Default::default()
    };
    write_tree(e, store, &opts).await.unwrap();
}
