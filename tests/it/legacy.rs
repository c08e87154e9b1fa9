//! Exports written before 2024, through the real binary: a partitioned export whose manifest
//! is the `2021-01-01` shape (project koku's real manifest, with its real legacy usage file),
//! and an export with no manifest at all (one CSV per run under `<export>/<yyyyMMdd-yyyyMMdd>/`,
//! a later run beside an earlier one), ingested with exact row counts and cost sums.

use std::path::Path;

use crate::export_files::{fixtures, ingest, python_totals, sql, text};
use crate::query::dec;

/// The lake's rows and exact cost of one month.
fn month(lake: &Path, period: &str) -> (u64, i128) {
    let got = sql(
        lake,
        &format!(
            "SELECT count(*) AS n, sum(cost_in_billing_currency) AS c FROM cost_details \
             WHERE billing_period = '{period}' AND cost_type = 'actual'"
        ),
    );
    (got[1][0].parse().unwrap(), dec(&got[1][1]))
}

#[test]
fn exports_of_before_2024_ingest_exactly() {
    let fx = fixtures();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("container");
    let lake = work.path().join("lake");

    // koku's 2021-01-01 manifest, its counts made to match the file it is given.
    let run = source.join(
        "cost/partitioned/20230101-20230131/202301041442/73746dc5-5dcc-4b83-b340-bb1bd2b1ca30",
    );
    std::fs::create_dir_all(&run).unwrap();
    let part = run.join("000001.csv");
    std::fs::copy(fx.join("koku/azure_camelCased.csv"), &part).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.join("koku/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["manifestVersion"], "2021-01-01");
    assert!(manifest.get("exportConfig").is_none() && manifest.get("runInfo").is_none());
    let size = std::fs::metadata(&part).unwrap().len();
    let (koku_rows, koku_sum, _) = python_totals(&part, "preTaxCost");
    manifest["byteCount"] = size.into();
    manifest["dataRowCount"] = koku_rows.into();
    manifest["blobs"][0]["byteCount"] = size.into();
    manifest["blobs"][0]["dataRowCount"] = koku_rows.into();
    std::fs::write(
        run.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    // No manifest: two runs of one month; the later file is the month's data.
    let month_dir = source.join("exports/monthly-usage/20230901-20230930");
    std::fs::create_dir_all(&month_dir).unwrap();
    let actual = fx.join("finops-toolkit/EA_ActualCost_Small.csv");
    let earlier = std::fs::read_to_string(&actual).unwrap();
    let earlier: String = earlier.lines().take(4).map(|l| format!("{l}\n")).collect();
    std::fs::write(
        month_dir.join("monthly-usage_11111111-2222-4333-8444-555555555555.csv"),
        earlier,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(
        &actual,
        month_dir.join("monthly-usage_99999999-2222-4333-8444-555555555555.csv"),
    )
    .unwrap();
    let (ea_rows, ea_sum, _) = python_totals(&actual, "Cost");

    let out = ingest(&source, &lake);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("3 runs found"), "{}", text(&out));
    assert_eq!(month(&lake, "202301"), (koku_rows, dec(&koku_sum)));
    assert_eq!(month(&lake, "202309"), (ea_rows, dec(&ea_sum)));
    assert!(
        text(&out).contains("run 99999999-2222-4333-8444-555555555555"),
        "{}",
        text(&out)
    );

    // Ingested again, nothing changes.
    let out = ingest(&source, &lake);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("0 partitions ingested"),
        "{}",
        text(&out)
    );
}
