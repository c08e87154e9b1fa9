//! The query side through the real binary on a lake synced from the emulator: every output
//! format parsed back with exact totals, saved queries and their parameters, errors and exit
//! codes, and the REPL driven through a pseudo-terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use costlake_emulator::generator::{Enrollment, block_size};
use serde_json::value::RawValue;

use crate::common::{file_totals, synced};

pub fn costlake(args: &[&str], lake: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(args)
        .arg("--lake")
        .arg(lake)
        .current_dir(if lake.exists() {
            lake
        } else {
            lake.parent().unwrap()
        })
        .output()
        .expect("costlake runs")
}

pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn dec(text: &str) -> i128 {
    costlake::model::decimal::parse(text, 12, 38).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// RFC 4180 CSV, enough for the tests: quoted fields with commas, quotes and newlines.
pub fn parse_csv(text: &str, sep: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, c) if c == sep => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

const SQL: &str = "SELECT department_name, tags, cost FROM usage_details WHERE billing_period = '202402' ORDER BY cost DESC, tags";

#[tokio::test]
async fn every_format_parses_back_with_exact_totals() {
    let (emu, lake) = synced(1500).await;
    let e = emu.enrollment();
    let expected = e.totals(&e.periods[1]);

    let csv = parse_csv(
        &stdout(&costlake(&["sql", "--format", "csv", SQL], lake.path())),
        ',',
    );
    assert_eq!(csv[0], ["department_name", "tags", "cost"]);
    assert_eq!(csv.len() as u64 - 1, expected.rows);
    assert_eq!(
        csv[1..].iter().map(|r| dec(&r[2])).sum::<i128>(),
        expected.cost
    );
    assert!(
        csv.iter()
            .any(|r| r[1].contains("\",\"") || r[1].contains("\"env\"")),
        "JSON tags survive CSV quoting"
    );

    let tsv = parse_csv(
        &stdout(&costlake(&["sql", "--format", "tsv", SQL], lake.path())),
        '\t',
    );
    assert_eq!(
        tsv[1..].iter().map(|r| dec(&r[2])).sum::<i128>(),
        expected.cost
    );

    let json = stdout(&costlake(&["sql", "--format", "json", SQL], lake.path()));
    let rows: Vec<BTreeMap<String, Box<RawValue>>> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len() as u64, expected.rows);
    assert_eq!(
        rows.iter().map(|r| dec(r["cost"].get())).sum::<i128>(),
        expected.cost,
        "JSON numbers are exact text"
    );

    let ndjson = stdout(&costlake(&["sql", "--format", "ndjson", SQL], lake.path()));
    let sum: i128 = ndjson
        .lines()
        .map(|l| serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(l).unwrap())
        .map(|r| dec(r["cost"].get()))
        .sum();
    assert_eq!(sum, expected.cost);

    let md = stdout(&costlake(
        &[
            "sql",
            "--format",
            "markdown",
            "SELECT department_name, sum(cost) AS cost FROM usage_details GROUP BY 1 ORDER BY 1",
        ],
        lake.path(),
    ));
    assert!(
        md.starts_with("| department_name | cost |\n|---|---:|\n"),
        "{md}"
    );

    let table = stdout(&costlake(
        &[
            "sql",
            "SELECT sum(cost) AS cost, count(*) AS n FROM usage_details WHERE billing_period = '202402'",
        ],
        lake.path(),
    ));
    let cost = costlake::model::decimal::format_plain(expected.cost, 12);
    assert!(
        table.contains(&format!("| {cost} |")),
        "exact decimal in the table:\n{table}"
    );

    // The table holds at most 10,000 rows and counts the rest; the other formats stream all.
    let big = "SELECT value FROM generate_series(1, 12000)";
    let out = costlake(&["sql", big], lake.path());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("| 10000 |") && !shown.contains("| 10001 |"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2000 more rows not shown (of 12000)"));
    let all = stdout(&costlake(&["sql", "--format", "csv", big], lake.path()));
    assert_eq!(all.lines().count(), 12001);

    // --output takes the format from the extension; Parquet is written and reads back.
    let out_csv = lake.path().join("out.csv");
    stdout(&costlake(
        &["sql", "--output", out_csv.to_str().unwrap(), SQL],
        lake.path(),
    ));
    assert_eq!(
        parse_csv(&std::fs::read_to_string(&out_csv).unwrap(), ',').len() as u64,
        expected.rows + 1
    );
    let out_parquet = lake.path().join("out.parquet");
    stdout(&costlake(
        &["sql", "--output", out_parquet.to_str().unwrap(), SQL],
        lake.path(),
    ));
    assert_eq!(
        file_totals(&out_parquet, &["cost"]),
        (expected.rows, vec![expected.cost])
    );
}

#[tokio::test]
async fn saved_queries_take_typed_parameters() {
    let (emu, lake) = synced(1200).await;
    let e = emu.enrollment();
    let out = stdout(&costlake(
        &[
            "query",
            "top_resources",
            "--param",
            "top=3",
            "--param",
            "period=202402",
            "--format",
            "json",
        ],
        lake.path(),
    ));
    let rows: Vec<BTreeMap<String, Box<RawValue>>> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 3);
    // The top resource and service, computed from the generator (Azure usage and Marketplace).
    let period = &e.periods[1];
    let mut by_resource: BTreeMap<(&str, &str), i128> = BTreeMap::new();
    for i in 0..e.usage_rows(period) {
        let r = e.usage_row(period, i);
        *by_resource
            .entry((r.resource.instance_id.as_str(), r.meter.family().category))
            .or_default() += r.cost;
    }
    for j in 0..e.marketplace_rows(period) {
        let m = e.marketplace_row(period, j);
        *by_resource
            .entry((m.resource.instance_id.as_str(), m.offer.offer))
            .or_default() += m.cost;
    }
    let ((top_id, _), top_cost) = by_resource.iter().max_by_key(|(_, c)| **c).unwrap();
    assert_eq!(
        serde_json::from_str::<String>(rows[0]["resource_id"].get()).unwrap(),
        *top_id
    );
    assert_eq!(dec(rows[0]["cost"].get()), *top_cost);

    // `latest` is the newest synced period.
    let latest = stdout(&costlake(
        &["query", "cost_by_department", "--format", "csv"],
        lake.path(),
    ));
    let total: i128 = parse_csv(&latest, ',')[1..]
        .iter()
        .map(|r| dec(&r[2]))
        .sum();
    let t = e.totals(&e.periods[2]);
    assert_eq!(total, t.cost + t.marketplace);

    // Unknown, missing and mistyped parameters are usage errors that list the declared ones.
    for (args, needle) in [
        (
            vec!["query", "top_resources", "--param", "tpo=3"],
            "unknown parameter 'tpo'",
        ),
        (
            vec!["query", "top_resources", "--param", "top=three"],
            "must be a whole number",
        ),
        (
            vec!["query", "top_resources", "--param", "period=2024-02"],
            "not a billing period",
        ),
        (
            vec!["query", "top_resources", "--param", "cost=amortised"],
            "parameter 'cost' must be one of billed, effective, not 'amortised'",
        ),
        (
            vec!["query", "no_such_query"],
            "no saved query named 'no_such_query'",
        ),
    ] {
        let out = costlake(&args, lake.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
        if needle.contains("param") || needle.contains("number") {
            assert!(
                err.contains(
                    "top_resources(period period = latest, top int = 20, cost billed|effective = billed)"
                ),
                "{err}"
            );
        }
    }
    // The list says what each query reads, lake or not.
    let list = stdout(&costlake(&["query", "--list"], &lake.path().join("none")));
    for needle in [
        "reads focus; top_resources(period period = latest",
        "reads balance_summary; commitment_burndown(",
        "reads focus, prices; usage_vs_price_sheet(",
    ] {
        assert!(list.contains(needle), "{needle} in {list}");
    }
    // A local queries/ folder adds to the library; its file is found by name.
    std::fs::create_dir_all(lake.path().join("queries")).unwrap();
    std::fs::write(
        lake.path().join("queries/meters.sql"),
        "-- name: meters\n-- description: Distinct meters.\n-- param: category text\nSELECT count(DISTINCT meter_id) AS n FROM usage_details WHERE meter_category = $category;\n",
    )
    .unwrap();
    let out = stdout(&costlake(
        &[
            "query",
            "meters",
            "-p",
            "category=Storage",
            "--format",
            "csv",
        ],
        lake.path(),
    ));
    assert!(out.starts_with("n\n") && out.trim().lines().count() == 2);
    let out = costlake(&["query", "meters"], lake.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing parameter 'category'"));
}

#[tokio::test]
async fn usage_joins_the_price_sheet_on_meter_and_period() {
    let (emu, lake) = synced(3000).await;
    let e: &Enrollment = emu.enrollment();
    for (index, period) in e.periods.iter().enumerate() {
        let out = stdout(&costlake(
            &[
                "query",
                "usage_vs_price_sheet",
                "-p",
                &format!("period={}", period.id),
                "--format",
                "json",
            ],
            lake.path(),
        ));
        let rows: Vec<BTreeMap<String, Box<RawValue>>> = serde_json::from_str(&out).unwrap();
        let got: BTreeSet<String> = rows
            .iter()
            .map(|r| serde_json::from_str::<String>(r["meter_id"].get()).unwrap())
            .collect();
        // Expected from the generator: meters billed below the sheet that were used and are listed.
        let mut expected = BTreeSet::new();
        for i in 0..e.usage_rows(period) {
            let m = e.usage_row(period, i).meter;
            if m.discounted && m.in_price_sheet {
                expected.insert(m.id.clone());
            }
        }
        assert_eq!(got, expected, "period {}", period.id);
        for r in &rows {
            let block = dec(r["block_size"].get()) / 10i128.pow(12);
            let unit = serde_json::from_str::<String>(r["unit_of_measure"].get()).unwrap();
            assert_eq!(block as u64, block_size(&unit));
            let meter = e
                .meters
                .iter()
                .find(|m| m.id == serde_json::from_str::<String>(r["meter_id"].get()).unwrap())
                .unwrap();
            assert_eq!(
                dec(r["sheet_unit_price"].get()),
                e.unit_price(meter.index, index) as i128 * 10i128.pow(8)
            );
        }
    }
}

#[tokio::test]
async fn errors_say_what_failed_with_the_right_exit_code() {
    let (_emu, lake) = synced(300).await;
    let out = costlake(&["sql", "SELEC cost FROM usage_details"], lake.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SQL syntax error") && err.contains("Line: 1, Column: 1"),
        "{err}"
    );
    let out = costlake(&["sql", "SELECT nope FROM usage_details"], lake.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let out = costlake(&["sql", "--format", "xml", "SELECT 1"], lake.path());
    assert_eq!(out.status.code(), Some(2));
    let missing = lake.path().join("nowhere");
    let out = costlake(&["sql", "SELECT 1"], &missing);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no lake at")
            && err.contains("costlake sync")
            && err.contains("costlake demo"),
        "{err}"
    );
    // A dataset with no data yet is an empty table with the right columns.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path()).unwrap();
    let out = stdout(&costlake(
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n, sum(unit_price) AS s FROM price_sheet",
        ],
        empty.path(),
    ));
    assert_eq!(out, "n,s\n0,\n");
}

#[tokio::test]
async fn tables_lists_partitions_rows_and_columns() {
    let (_emu, lake) = synced(500).await;
    let out = stdout(&costlake(&["tables"], lake.path()));
    assert!(
        out.contains("usage_details") && out.contains("3 partitions") && out.contains("1,500 rows"),
        "{out}"
    );
    assert!(
        out.contains("cost")
            && out.contains("Decimal128(38, 12)")
            && out.contains("billing_period"),
        "{out}"
    );
}

/// The shell on `lake` in a terminal `columns` wide, driven through `steps` (see
/// tests/support/pty_driver.py), its history kept in the lake's folder.
fn shell(lake: &Path, steps: &serde_json::Value, columns: u32) -> Output {
    Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/pty_driver.py"
        ))
        .arg(steps.to_string())
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_costlake"))
        .arg("--lake")
        .arg(lake)
        .env("PTY_COLUMNS", columns.to_string())
        .env("COSTLAKE_HISTORY", lake.join("history"))
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_repl_completes_continues_survives_errors_and_cancels() {
    let (_emu, lake) = synced(4000).await;
    let script = lake.path().join("count.sql");
    std::fs::write(
        &script,
        "SELECT count(*) AS included FROM price_sheet WHERE billing_period = '202401';\n",
    )
    .unwrap();
    let long = "SELECT count(*) FROM usage_details a, usage_details b, usage_details c WHERE a.cost < b.cost AND b.cost < c.cost;\r";
    // Each line is typed once the prompt is back, as a person would: typeahead is discarded
    // when the line editor takes the terminal.
    let steps = serde_json::json!([
        {"expect": "costlake> "},
        {"send": "SELECT count(*) AS n FROM usage_de\t"},
        {"expect": "usage_details"},
        {"send": "\r"},
        {"expect": "... "},
        {"send": "WHERE billing_period = '202402';\r"},
        {"expect": "| 4000 |"},
        {"expect": "costlake> "},
        {"send": "SELEC 1;\r"},
        {"expect": "Error: SQL syntax error"},
        {"expect": "costlake> "},
        {"send": "SELECT 40 + 2 AS answer;\r"},
        {"expect": "|     42 |"},
        {"expect": "costlake> "},
        {"send": format!("\\i {}\r", script.display())},
        {"expect": "| included |"},
        {"expect": "costlake> "},
        {"send": "\\run cost_by_department period=202401\r"},
        {"expect": "| Engineering"},
        {"expect": "costlake> "},
        {"send": "\\chart\r"},
        {"expect": "Engineering"},
        {"expect": "█"},
        {"expect": "costlake> "},
        {"send": "\\chart pie\r"},
        {"expect": "'pie' is not part of a chart"},
        {"expect": "costlake> "},
        {"send": long},
        {"sleep": 1.5},
        {"send": "\u{3}"},
        {"expect": "cancelled", "timeout": 20},
        {"expect": "costlake> "},
        {"send": "SELECT 7 * 6 AS again;\r"},
        {"expect": "|    42 |"},
        {"expect": "costlake> "},
        {"send": "\\q\r"}
    ]);
    let out = shell(lake.path(), &steps, 160);
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the REPL session failed:\n{transcript}"
    );
    assert!(transcript.contains("price_sheet") || transcript.contains("included"));
    let history = std::fs::read_to_string(lake.path().join("history")).unwrap();
    assert!(
        history.contains("SELECT 40 + 2 AS answer;"),
        "history is kept: {history}"
    );
}

/// On a narrow terminal the shell fits a wide result to it, as DuckDB's does: text shortened
/// with an ellipsis, middle columns elided and counted, numbers whole; `\format csv` still
/// shows everything.
#[tokio::test]
async fn the_repl_fits_wide_results_to_the_terminal() {
    let (_emu, lake) = synced(300).await;
    let steps = serde_json::json!([
        {"expect": "costlake> "},
        {"send": "SELECT instance_id, cost, meter_category, resource_group, subscription_name, department_name FROM usage_details ORDER BY cost DESC LIMIT 2;\r"},
        {"expect": "columns shown"},
        {"expect": "costlake> "},
        {"send": "SELECT '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-with-a-long-name' AS id, 123456789.123456789012 AS cost;\r"},
        {"expect": "123456789.123456789012"},
        {"expect": "costlake> "},
        {"send": "\\format csv\r"},
        {"expect": "costlake> "},
        {"send": "SELECT instance_id, cost, meter_category, resource_group, subscription_name, department_name FROM usage_details ORDER BY cost DESC LIMIT 2;\r"},
        {"expect": "department_name"},
        {"expect": "costlake> "},
        {"send": "\\q\r"}
    ]);
    let out = shell(lake.path(), &steps, 72);
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the REPL session failed:\n{transcript}"
    );
    let (tables, csv) = transcript.split_once("format csv").unwrap();
    // Every line of a table fits the 72 columns, measured as a terminal does.
    for line in tables
        .lines()
        .filter(|l| l.starts_with('|') || l.starts_with('+'))
    {
        assert!(line.chars().count() <= 72, "{line}");
    }
    assert!(tables.contains("| … |") || tables.contains('…'), "{tables}");
    assert!(tables.contains("/subscriptions/0000"), "{tables}");
    assert!(
        csv.contains(
            "instance_id,cost,meter_category,resource_group,subscription_name,department_name"
        ),
        "{csv}"
    );
}

/// A session left open (a REPL) sees what a later sync publishes: DataFusion keeps a table's
/// file listing for the life of a session, and the session lists again once the manifest moved.
#[tokio::test]
async fn an_open_session_sees_partitions_published_after_it_opened() {
    use crate::common::sync;
    use costlake::model::PeriodId;
    use costlake::model::PeriodSelection;

    let emu = crate::common::start(crate::common::config(300)).await;
    let lake = tempfile::tempdir().unwrap();
    let mut options = crate::common::sync_options(&emu, lake.path());
    options.settings.periods = PeriodSelection::Range(PeriodId(202401), PeriodId(202401));
    assert!(sync(&options.clone()).await.unwrap().ok());

    let session = costlake::engine::Session::open(&lake.path().display().to_string(), None)
        .await
        .unwrap();
    let periods = || async {
        let results = session
            .collect(
                "SELECT count(DISTINCT billing_period) AS periods, count(*) AS n FROM usage_details",
                &Default::default(),
            )
            .await
            .unwrap();
        let batch = &results[0][0];
        let col = |i: usize| {
            arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Int64).unwrap()
        };
        let value = |i: usize| {
            col(i)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap()
                .value(0)
        };
        (value(0), value(1))
    };
    assert_eq!(periods().await, (1, 300));

    options.settings.periods = PeriodSelection::All;
    assert!(sync(&options).await.unwrap().ok());
    assert_eq!(
        periods().await,
        (3, 900),
        "the session answers from the new listing"
    );
}
