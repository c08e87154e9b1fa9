//! Other engines read the lake as it is: DuckDB, pyarrow datasets, pandas and Spark each find
//! every period with its exact rows and cost, from the same files costlake wrote. And a lake
//! written by an earlier costlake (a committed fixture) stays readable.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use costlake_emulator::generator::Enrollment;

use crate::common::{files_under, synced, usage_by_period};
use crate::query::{costlake, dec, parse_csv, stdout};
use crate::tools;

/// What an engine found: rows and exact cost per period, and the marketplace total.
fn read_with(engine: &str, lake: &Path) -> (BTreeMap<String, (u64, i128)>, i128) {
    let out = Command::new(tools::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/interop.py"
        ))
        .arg(engine)
        .arg(lake)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", tools::python())
        .output()
        .unwrap();
    let text = tools::stdout_of(engine, &out);
    let json: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let usage = json["usage"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, v)| {
            (
                p.clone(),
                (v[0].as_u64().unwrap(), dec(v[1].as_str().unwrap())),
            )
        })
        .collect();
    (usage, dec(json["marketplace"].as_str().unwrap()))
}

fn expected(e: &Enrollment) -> (BTreeMap<String, (u64, i128)>, i128) {
    let usage = usage_by_period(e);
    let market = e.periods.iter().map(|p| e.totals(p).marketplace).sum();
    (usage, market)
}

#[tokio::test]
async fn duckdb_pyarrow_pandas_and_spark_read_the_lake_exactly() {
    let (emu, lake) = synced(2000).await;
    let want = expected(emu.enrollment());
    for engine in ["duckdb", "pyarrow", "pandas", "spark"] {
        assert_eq!(read_with(engine, lake.path()), want, "{engine}");
    }
}

/// The fixture at tests/fixtures/lake-v1 was written by costlake 0.1 (lake layout and schema
/// version 1) from the emulator: enrollment 100, seed 7, 202401–202402, 40 usage rows each.
/// Later versions must keep reading it.
#[tokio::test]
async fn a_lake_from_layout_version_1_stays_readable() {
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lake-v1"
    ));
    let e = Enrollment::new(costlake_emulator::generator::EnrollmentSpec {
        number: 100,
        seed: 7,
        periods: 2,
        last_period: costlake_emulator::PeriodId(202402),
        rows_per_period: 40,
        today: chrono::NaiveDate::from_ymd_opt(2024, 6, 15).unwrap(),
    });
    let out = stdout(&costlake(
        &[
            "sql",
            "--format",
            "csv",
            "SELECT billing_period, count(*) AS n, sum(cost) AS cost FROM usage_details GROUP BY 1 ORDER BY 1",
        ],
        fixture,
    ));
    let got: BTreeMap<String, (u64, i128)> = parse_csv(&out, ',')[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), dec(&r[2]))))
        .collect();
    assert_eq!(got, expected(&e).0);
    let verify = costlake(&["verify"], fixture);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // Its files say which layout wrote them.
    for entry in files_under(fixture) {
        if entry.extension().is_some_and(|x| x == "parquet") {
            let reader = parquet::file::reader::SerializedFileReader::new(
                std::fs::File::open(&entry).unwrap(),
            )
            .unwrap();
            let kv = parquet::file::reader::FileReader::metadata(&reader)
                .file_metadata()
                .key_value_metadata()
                .cloned()
                .unwrap_or_default();
            assert!(
                kv.iter()
                    .any(|k| k.key == costlake::schema::META_SCHEMA_VERSION
                        && k.value.as_deref() == Some("1")),
                "{}",
                entry.display()
            );
        }
    }
}
