//! `costlake ingest`, through the real binary: real export files from public projects wrapped
//! in manifests (CSV, gzip and Parquet), and the emulator's export trees with every re-run
//! pattern, ingested with exact totals and no double counting; the `focus` view of a lake built
//! from exports equal to one built from the EA API; and bad input refused without loss.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use costlake_emulator::exports::{ExportTreeOptions, focus_periods, write_tree};

use crate::common::{config, files_under, partition_files, read_partition, synced_with};
use crate::export_files::{
    charges_by_period, ea_actual_run, export_tree, fixtures, ingest, python_totals, sql, text,
    write_real_exports, write_run,
};
use crate::query::{costlake, dec, stdout};
use crate::tools;

#[test]
fn real_export_files_wrapped_in_manifests_are_ingested_exactly() {
    let fx = fixtures();
    let actual = fx.join("finops-toolkit/EA_ActualCost_Small.csv");
    let amortized = fx.join("finops-toolkit/EA_AmortizedCost_Small.csv");
    let focus = fx.join("focus-sample-data/focus_sample.csv");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("container");
    let lake = work.path().join("lake");
    write_real_exports(&source, work.path());

    let out = ingest(&source, &lake);
    let report = stdout(&out);
    let all = text(&out);
    assert!(
        report.contains("7 runs found; 6 partitions ingested"),
        "{all}"
    );
    assert!(
        all.contains("has no rows; the month is not blanked"),
        "{all}"
    );

    let (rows, sum, rounded) = python_totals(&actual, "Cost");
    assert_eq!(
        rounded, 1,
        "the fixture has one cost with 16 decimal places"
    );
    assert!(
        all.contains("1 values had more than 12 decimal places"),
        "{all}"
    );
    let got = sql(
        &lake,
        "SELECT billing_account, cost_type, billing_period, count(*) AS n, \
                sum(cost_in_billing_currency) AS cost \
         FROM cost_details GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    );
    let (a_rows, a_sum, _) = python_totals(&amortized, "Cost");
    let (rows, a_rows) = (rows.to_string(), a_rows.to_string());
    let expected = vec![
        vec![
            "billing_account",
            "cost_type",
            "billing_period",
            "n",
            "cost",
        ],
        vec!["8611537", "actual", "202309", &rows, &sum],
        vec!["8611537", "amortized", "202309", &a_rows, &a_sum],
        vec!["parquet-copy", "actual", "202309", &rows, &sum],
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (g, e) in got.iter().zip(&expected).skip(1) {
        assert_eq!(g[..4], e[..4]);
        assert_eq!(dec(&g[4]), dec(e[4]), "{g:?} vs {e:?}");
    }

    // Values as the files write them: MM/dd/yyyy dates, brace-less tags, True/False, aliases.
    let got = sql(
        &lake,
        "SELECT date, billing_period_start_date, tags_map['env'] AS env, \
                tags_map['databricks-environment'] AS dbx, is_azure_credit_eligible AS eligible, \
                billing_currency_code AS currency, product_name, invoice_section_name \
         FROM cost_details WHERE billing_account = '8611537' AND cost_type = 'actual' \
           AND resource_name = 'dbstoragewp6hglwvvrad2' ORDER BY quantity LIMIT 1",
    );
    assert_eq!(
        got[1],
        [
            "2023-09-04",
            "2023-09-01",
            "prod",
            "true",
            "true",
            "USD",
            "Tiered Block Blob - GRS - List and Create Container Operations - US East 2",
            "ACM"
        ]
    );
    // The Parquet copy holds the same rows.
    let got = sql(
        &lake,
        "SELECT count(*) AS n FROM (SELECT date, cost_in_billing_currency, resource_id, tags \
         FROM cost_details WHERE billing_account = '8611537' AND cost_type = 'actual' \
         EXCEPT SELECT date, cost_in_billing_currency, resource_id, tags \
         FROM cost_details WHERE billing_account = 'parquet-copy')",
    );
    assert_eq!(got[1], ["0"]);

    // FOCUS: every row, the exact billed cost, instants and NULL literals read as such.
    let (f_rows, f_sum, _) = python_totals(&focus, "BilledCost");
    let got = sql(
        &lake,
        "SELECT count(*) AS n, sum(billed_cost) AS cost, count(availability_zone) AS zones, \
                min(charge_period_start) AS first, count(DISTINCT provider_name) AS providers \
         FROM focus_costs",
    );
    assert_eq!(got[1][0], f_rows.to_string());
    assert_eq!(dec(&got[1][1]), dec(&f_sum));
    let zones = tools::run_python(
        "import csv, sys\n\
         print(sum(1 for r in csv.DictReader(open(sys.argv[1])) if r['AvailabilityZone'] not in ('', 'NULL')))",
        &[&focus.display().to_string()],
    );
    assert_eq!(got[1][2], zones.trim(), "`NULL` is null");
    assert!(got[1][3].starts_with("2024-09"), "{:?}", got[1]);
    assert_eq!(got[1][4], "3");
    // In the focus view, September 2024 of 8611537 comes from the native FOCUS rows, and
    // September 2023 from the actual-cost export, with the hours a reservation and a savings
    // plan covered from the amortized one (2 rows): each once.
    let got = sql(
        &lake,
        r#"SELECT "BillingAccountId", "x_BillingPeriod", "x_SourceDataset", count(*) AS n
           FROM focus GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"#,
    );
    assert_eq!(
        got[1..],
        [
            vec!["8611537", "202309", "cost_details", "13"],
            vec!["8611537", "202409", "focus_costs", "1000"],
            vec!["parquet-copy", "202309", "cost_details", "11"],
        ]
    );
    let covered = sql(
        &lake,
        r#"SELECT "CommitmentDiscountType", "CommitmentDiscountStatus", sum("BilledCost"), sum("EffectiveCost")
           FROM focus WHERE "BillingAccountId" = '8611537' AND "x_BillingPeriod" = '202309'
             AND "CommitmentDiscountStatus" IS NOT NULL GROUP BY 1, 2 ORDER BY 1"#,
    );
    let amortized_of = |model: &str| {
        tools::run_python(
            "import csv, sys, decimal\n\
             print(sum(decimal.Decimal(r['Cost']) for r in csv.DictReader(open(sys.argv[1], encoding='utf-8-sig')) \
                       if r['PricingModel'] == sys.argv[2] and r['ChargeType'] == 'Usage'))",
            &[&amortized.display().to_string(), model],
        )
    };
    assert_eq!(covered.len(), 3, "{covered:?}");
    for (row, model) in covered[1..].iter().zip(["Reservation", "SavingsPlan"]) {
        assert_eq!(row[1], "Used");
        assert_eq!(dec(&row[2]), 0, "covered hours bill nothing");
        assert_eq!(dec(&row[3]), dec(amortized_of(model).trim()), "{model}");
    }

    let got = sql(
        &lake,
        "SELECT sum(used_hours) AS used, min(usage_date) AS first, \
                (SELECT sum(amount) FROM reservation_transactions) AS bought, \
                (SELECT max(term) FROM reservation_transactions) AS term \
         FROM reservation_details",
    );
    assert_eq!(dec(&got[1][0]), dec("47.5"));
    assert!(got[1][1].starts_with("2023-09-01T00:00:00"), "{:?}", got[1]);
    assert_eq!(dec(&got[1][2]), dec("3.25"));
    assert_eq!(got[1][3], "P3Y");

    // Ingesting the unchanged source again does nothing.
    let again = stdout(&ingest(&source, &lake));
    assert!(
        again.contains("0 partitions ingested (0 rows), 6 unchanged"),
        "{again}"
    );
}

fn totals(lake: &Path, query: &str) -> BTreeMap<String, (u64, i128)> {
    sql(lake, query)[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), dec(&r[2]))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulated_exports_count_every_cost_once_and_match_the_api() {
    let (emu, api_lake) = synced_with(config(3000)).await;
    let e = emu.enrollment();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("exports");
    let lake = work.path().join("lake");
    export_tree(e, &source, 1000).await;

    let out = ingest(&source, &lake);
    let report = stdout(&out);
    let all = text(&out);
    // 3 months × (actual, amortized, prices) + 2 FOCUS months; the incomplete amortized
    // run and the empty FOCUS runs are skipped with a warning.
    assert!(
        report.contains("23 runs found; 11 partitions ingested"),
        "{all}"
    );
    assert!(all.contains("is incomplete ("), "{all}");
    assert!(
        all.contains("part_0_0002.snappy.parquet is missing"),
        "{all}"
    );
    assert_eq!(
        all.matches("has no rows; the month is not blanked").count(),
        2,
        "{all}"
    );

    let expected = charges_by_period(e);
    for cost_type in ["actual", "amortized"] {
        let got = totals(
            &lake,
            &format!(
                "SELECT billing_period, count(*), sum(cost_in_billing_currency) FROM cost_details \
                 WHERE cost_type = '{cost_type}' GROUP BY 1 ORDER BY 1"
            ),
        );
        assert_eq!(
            got, expected,
            "{cost_type}: the latest complete run of each month, once"
        );
    }
    let got = totals(
        &lake,
        "SELECT billing_period, count(*), sum(billed_cost) FROM focus_costs GROUP BY 1 ORDER BY 1",
    );
    let focus_expected: BTreeMap<_, _> = focus_periods(e)
        .map(|p| (p.id.to_string(), expected[&p.id.to_string()]))
        .collect();
    assert_eq!(got, focus_expected);
    let got = sql(
        &lake,
        "SELECT billing_period, count(*) FROM export_price_sheet GROUP BY 1 ORDER BY 1",
    );
    let sheet = e.price_sheet_meters().count().to_string();
    assert!(got[1..].iter().all(|r| r[1] == sheet), "{got:?}");
    assert_eq!(got.len(), 4);

    // Nothing changed: nothing is read again.
    let again = stdout(&ingest(&source, &lake));
    assert!(
        again.contains("0 partitions ingested (0 rows), 11 unchanged"),
        "{again}"
    );

    // The focus view of the exports lake equals the API lake's, per department and period,
    // to the last digit; and a lake holding both answers each period once.
    let by_department = r#"SELECT "x_BillingPeriod", "x_InvoiceSectionName", count(*) AS n,
                                  sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
                           FROM focus GROUP BY 1, 2 ORDER BY 1, 2"#;
    let from_api = sql(api_lake.path(), by_department);
    assert_eq!(from_api.len(), 1 + 3 * 6, "{from_api:?}");
    assert_eq!(sql(&lake, by_department), from_api);
    stdout(&ingest(&source, api_lake.path()));
    assert_eq!(sql(api_lake.path(), by_department), from_api);
    let sources = sql(
        api_lake.path(),
        r#"SELECT DISTINCT "x_BillingPeriod", "x_SourceDataset" FROM focus ORDER BY 1, 2"#,
    );
    assert_eq!(
        sources[1..],
        [
            vec!["202401", "cost_details"],
            vec!["202402", "focus_costs"],
            vec!["202403", "focus_costs"],
        ]
    );
}

#[test]
fn bad_export_input_is_refused_clearly_and_loses_nothing() {
    let fx = fixtures();
    let actual =
        std::fs::read_to_string(fx.join("finops-toolkit/EA_ActualCost_Small.csv")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("container");
    let lake = work.path().join("lake");
    let run = |run_id: &'static str, submitted: &'static str, body: String, rows: u64| {
        ea_actual_run(
            run_id,
            submitted,
            ("part_0_0001.csv".into(), body.into_bytes(), rows),
        )
    };
    write_run(
        &source,
        &run(
            "00000000-0000-4000-8000-00000000000a",
            "2023-09-21T15:57:06Z",
            actual.clone(),
            11,
        ),
    );
    stdout(&ingest(&source, &lake));

    // A newer run with a cost that is not a number: the partition keeps the last good run,
    // and the message names the file, the row and the column.
    let broken = actual.replacen(",3.25,3.25,3.25,USD,", ",3.25,three,3.25,USD,", 1);
    assert_ne!(broken, actual);
    write_run(
        &source,
        &run(
            "00000000-0000-4000-8000-00000000000b",
            "2023-09-22T15:57:06Z",
            broken,
            11,
        ),
    );
    let out = ingest(&source, &lake);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("00000000-0000-4000-8000-00000000000b/part_0_0001.csv")
            && all.contains("row 1,")
            && all.contains("`Cost`")
            && all.contains("three"),
        "{all}"
    );
    let got = sql(&lake, "SELECT count(*) AS n FROM cost_details");
    assert_eq!(got[1], ["11"]);

    // A run whose part is shorter than its manifest says is incomplete: skipped, not failed.
    let short = actual.lines().take(6).collect::<Vec<_>>().join("\n");
    write_run(
        &source,
        &run(
            "00000000-0000-4000-8000-00000000000c",
            "2023-09-23T15:57:06Z",
            short,
            11,
        ),
    );
    let out = ingest(&source, &lake);
    let all = text(&out);
    assert!(
        all.contains("holds fewer or more rows than its manifest says"),
        "{all}"
    );

    // A source with nothing in it, and datasets given to the wrong command.
    let out = costlake(&["ingest", "--source", "/nonexistent/exports"], &lake);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("nothing there"), "{}", text(&out));
    let out = costlake(
        &["sync", "--enrollment", "1", "--datasets", "cost_details"],
        &lake,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("use `costlake ingest"),
        "{}",
        text(&out)
    );
}

/// The same export runs written as plain CSV, gzip CSV and typed Parquet parts give the same
/// lake: every partition's rows, values and types equal, read back column by column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_export_as_csv_and_as_parquet_gives_identical_partitions() {
    use costlake_emulator::exports::Format;
    let e = config(3000).enrollment();
    let work = tempfile::tempdir().unwrap();
    let mut lakes = Vec::new();
    for (name, format, ext) in [
        ("csv", Format::Csv, ".csv"),
        ("gzip", Format::GzipCsv, ".csv.gz"),
        ("parquet", Format::Parquet, ".snappy.parquet"),
    ] {
        let source = work.path().join(format!("exports-{name}"));
        std::fs::create_dir_all(&source).unwrap();
        let store =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&source).unwrap());
        let opts = ExportTreeOptions {
            part_rows: 700,
            format: Some(format),
            ..Default::default()
        };
        write_tree(&e, store, &opts).await.unwrap();
        let parts: Vec<_> = files_under(&source)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("part_"))
            .collect();
        assert!(
            !parts.is_empty() && parts.iter().all(|p| p.to_string_lossy().ends_with(ext)),
            "{name}: {parts:?}"
        );
        let lake = work.path().join(format!("lake-{name}"));
        let out = ingest(&source, &lake);
        assert!(
            stdout(&out).contains("11 partitions ingested"),
            "{}",
            text(&out)
        );
        lakes.push((name, lake));
    }
    let (_, csv_lake) = &lakes[0];
    let files = partition_files(csv_lake);
    assert_eq!(files.len(), 11, "{files:?}");
    for (name, lake) in &lakes[1..] {
        assert_eq!(partition_files(lake), files, "{name}");
        for file in &files {
            let (want, _) = read_partition(&csv_lake.join(file));
            let (got, _) = read_partition(&lake.join(file));
            assert!(want.num_rows() > 0, "{}", file.display());
            assert_eq!(got.schema(), want.schema(), "{name} {}", file.display());
            for (i, field) in want.schema().fields().iter().enumerate() {
                assert_eq!(
                    got.column(i).as_ref(),
                    want.column(i).as_ref(),
                    "{name} {}: column {}",
                    file.display(),
                    field.name()
                );
            }
        }
    }
}
