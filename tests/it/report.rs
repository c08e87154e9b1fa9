//! `costlake report`, read the way its readers read it: the demo's report opened in headless
//! Chromium, every section's figures in the page compared with its saved query run on its own,
//! charts counted by series, the console read for errors, the network for anything fetched,
//! and the page printed to PDF. A report definition of the user's adds a section from a query
//! of their own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::browser::{Browser, CHROMIUM, chromium_flags};
use crate::tools::{require_program, run_python, stdout_of};

/// The demo's folder: its lake and the report it wrote, made once for the tests here.
fn demo() -> &'static Path {
    static DEMO: OnceLock<tempfile::TempDir> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
            .args(["demo", "--rows-per-period", "1500"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        stdout_of("costlake demo", &out);
        dir
    })
    .path()
}

/// The month `offset` months from this one (the emulator's six months run to today's).
fn month(offset: i32) -> String {
    let mut p = costlake::model::PeriodId::of_date(chrono::Utc::now().date_naive());
    for _ in 0..offset.unsigned_abs() {
        p = if offset < 0 { p.prev() } else { p.next() };
    }
    p.to_string()
}

/// The month a report covers by default: the last one that has ended.
fn last_month() -> String {
    month(-1)
}

fn costlake(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A CSV result: its header and rows, empty fields as `None`.
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|f| (!f.is_empty()).then(|| f.to_string()))
                .collect()
        })
        .collect();
    (header, rows)
}

/// What the page holds, read from the DOM the browser built.
const READ_PAGE: &str = r#"
const text = (e) => e ? e.textContent : null;
const sections = [...document.querySelectorAll('section[data-query]')].map(s => {
  const svg = s.querySelector('figure svg');
  return {
    query: s.dataset.query,
    title: text(s.querySelector('h2')),
    places: +s.dataset.places,
    command: text(s.querySelector('.command code')),
    missing: s.querySelector('[data-missing]') !== null,
    series: svg ? new Set([...svg.querySelectorAll('[data-series]')].map(e => e.dataset.series)).size : null,
    chart_width: svg ? svg.getBoundingClientRect().width : 0,
    chart_name: svg ? text(svg.querySelector('title')) : null,
    chart_role: svg ? svg.getAttribute('role') : null,
    caption: text(s.querySelector('figcaption')),
    tables: [...s.querySelectorAll('table')].map(t => ({
      headers: [...t.querySelectorAll('thead th')].map(th => th.textContent),
      columns: [...t.querySelectorAll('thead th')].map(th => th.dataset.column),
      values: [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.hasAttribute('data-null') ? null : td.dataset.value)),
      shown: [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
      height: t.getBoundingClientRect().height,
    })),
    hidden: [...s.querySelectorAll('[data-hidden]')].map(e => +e.dataset.hidden),
  };
});
return {
  sections,
  period: text(document.querySelector('[data-period]')),
  currency: text(document.querySelector('[data-currency]')),
  reconciles: document.querySelector('[data-reconciles]')?.dataset.reconciles ?? null,
  fetched: performance.getEntriesByType('resource').map(r => r.name),
};
"#;

/// The `-- chart:` line's y columns of a built-in query: the series its chart draws.
fn chart_series(query: &str) -> Option<usize> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("queries/{query}.sql"));
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("-- chart:"))?;
    let y = line.split_whitespace().find_map(|w| w.strip_prefix("y="))?;
    Some(y.split(',').count())
}

#[test]
fn the_demo_report_renders_in_chromium_with_every_figure_equal_to_its_query() {
    let dir = demo();
    let period = last_month();
    let page = dir.join(format!("costlake-report-{period}.html"));
    assert!(page.exists(), "the demo wrote no {}", page.display());
    let lake = dir.join("costlake-demo");
    let lake = lake.to_str().unwrap();

    let browser = Browser::open();
    browser.open_file(&page);
    let dom = browser.script(READ_PAGE);
    let console = browser.console();
    assert!(
        console
            .iter()
            .all(|(level, _)| level != "SEVERE" && level != "WARNING"),
        "the console: {console:?}"
    );
    assert_eq!(
        dom["fetched"],
        Value::Array(vec![]),
        "the page loaded something"
    );
    if std::env::var_os("COSTLAKE_UPDATE_DOCS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        std::fs::write(docs, browser.screenshot()).unwrap();
    }
    drop(browser);

    assert_eq!(dom["period"], period.as_str());
    assert_eq!(dom["currency"], "USD");
    assert_eq!(dom["reconciles"], "true");
    let sections = dom["sections"].as_array().unwrap();
    let queries: Vec<&str> = sections
        .iter()
        .map(|s| s["query"].as_str().unwrap())
        .collect();
    assert_eq!(
        queries,
        [
            "monthly_summary",
            "verify",
            "month_end_forecast",
            "daily_trend",
            "service_movers",
            "cost_by_department",
            "cost_by_subscription",
            "top_resources",
            "tag_coverage",
            "anomalies",
            "commitment_burndown",
            "price_changes",
            "reservation_utilization",
        ]
    );

    let mut money = Vec::new();
    for s in sections {
        let query = s["query"].as_str().unwrap();
        assert_eq!(s["missing"], false, "{query}: the demo lake has its data");
        let tables = s["tables"].as_array().unwrap();
        assert!(!tables.is_empty(), "{query} has a table");
        for t in tables {
            assert!(t["height"].as_f64().unwrap() > 0.0, "{query}'s table shows");
            assert!(
                !t["values"].as_array().unwrap().is_empty(),
                "{query} has rows"
            );
        }
        let command: Vec<&str> = s["command"].as_str().unwrap().split(' ').collect();
        let (header, rows) = if query == "verify" {
            assert_eq!(command, ["costlake", "verify"]);
            // `costlake verify`'s first table, columns two spaces apart and no cell with a
            // space in this lake.
            let out = costlake(&["verify", "--lake", lake], dir);
            let text = stdout_of("costlake verify", &out);
            let rows: Vec<Vec<Option<String>>> = text
                .lines()
                .skip(1)
                .take_while(|l| !l.is_empty() && !l.contains("reconcile exactly"))
                .map(|l| l.split_whitespace().map(|c| Some(c.to_string())).collect())
                .collect();
            (Vec::new(), rows)
        } else {
            assert_eq!(command[..3], ["costlake", "query", query]);
            if query != "monthly_summary" && query != "commitment_burndown" {
                let period_param = if query == "price_changes" {
                    "to"
                } else {
                    "period"
                };
                assert!(
                    command.contains(&format!("{period_param}={period}").as_str()),
                    "{command:?}"
                );
            }
            let mut args = command[1..].to_vec();
            args.extend(["--lake", lake, "--format", "csv"]);
            let out = costlake(&args, dir);
            csv_rows(&stdout_of(query, &out))
        };
        let t = &tables[0];
        // CSV writes an empty text and a null alike.
        let values: Vec<Vec<Option<String>>> =
            serde_json::from_value::<Vec<Vec<Option<String>>>>(t["values"].clone())
                .unwrap()
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|v| v.filter(|v| !v.is_empty()))
                        .collect()
                })
                .collect();
        let hidden = s["hidden"]
            .as_array()
            .unwrap()
            .first()
            .map_or(0, |h| h.as_u64().unwrap());
        if !header.is_empty() {
            let columns: Vec<String> = serde_json::from_value(t["columns"].clone()).unwrap();
            assert_eq!(columns, header, "{query}'s columns");
        }
        assert_eq!(
            values.len() as u64 + hidden,
            rows.len() as u64,
            "{query}'s rows"
        );
        assert_eq!(values[..], rows[..values.len()], "{query}'s figures");

        // Money: the exact figure in the cell, rounded for display with the currency.
        let headers: Vec<String> = serde_json::from_value(t["headers"].clone()).unwrap();
        let shown: Vec<Vec<String>> = serde_json::from_value(t["shown"].clone()).unwrap();
        let places = s["places"].as_u64().unwrap();
        for (k, h) in headers.iter().enumerate() {
            if h.ends_with(" (USD)") {
                for (row, text) in values.iter().zip(&shown) {
                    if let Some(v) = &row[k] {
                        money.push(format!("{v}\t{places}\t{}", text[k]));
                    }
                }
            }
        }

        match (chart_series(query), s["series"].as_u64()) {
            (Some(expected), Some(drawn)) => {
                assert_eq!(drawn as usize, expected, "{query}'s chart series");
                assert!(
                    s["chart_width"].as_f64().unwrap() > 300.0,
                    "{query}'s chart"
                );
                assert_eq!(s["chart_role"], "img");
                assert_eq!(s["chart_name"], s["title"]);
                let caption = s["caption"].as_str().unwrap();
                assert!(
                    caption.starts_with("Bar chart of") || caption.starts_with("Line chart of"),
                    "{caption}"
                );
            }
            (None, None) => {}
            other => panic!("{query}: chart expected/drawn {other:?}"),
        }
    }
    // Rounded half to even for display, as Python's decimal module does it.
    assert!(money.len() > 100, "{} money cells", money.len());
    let cells = dir.join("money.tsv");
    std::fs::write(&cells, money.join("\n")).unwrap();
    let checked = run_python(
        r#"import sys
from decimal import Decimal, ROUND_HALF_EVEN
bad = 0
for line in open(sys.argv[1]).read().splitlines():
    v, places, shown = line.split('\t')
    q = Decimal(v).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_EVEN)
    want = f'{q:,.{places}f}'
    if want.startswith('-') and Decimal(want.replace(',', '')) == 0:
        want = want[1:]
    if shown != want:
        print('MISMATCH', v, shown, want)
        bad += 1
print('checked', bad)
"#,
        &[cells.to_str().unwrap()],
    );
    assert_eq!(checked.trim(), "checked 0", "{checked}");

    // Printed to PDF by Chromium itself.
    require_program("/usr/bin/pdfinfo");
    let profile = tempfile::tempdir().unwrap();
    let pdf = dir.join("report.pdf");
    let out = Command::new(CHROMIUM)
        .args(chromium_flags(profile.path()))
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    stdout_of("chromium --print-to-pdf", &out);
    let info = Command::new("/usr/bin/pdfinfo").arg(&pdf).output().unwrap();
    let info = stdout_of("pdfinfo", &info);
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap();
    assert!((3..=40).contains(&pages), "{pages} pages:\n{info}");
}

#[test]
fn a_section_is_a_saved_query_of_the_users_and_a_missing_dataset_is_said() {
    let dir = demo();
    let lake = dir.join("costlake-demo");
    let work = tempfile::tempdir().unwrap();
    let queries = work.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    std::fs::write(
        queries.join("daily_cost.sql"),
        "-- name: daily_cost\n-- description: Cost by day.\n-- needs: focus\n\
         -- param: period period = latest\n-- chart: line x=day y=cost\n\
         SELECT \"ChargePeriodStart\"::date AS day, sum(\"BilledCost\") AS cost FROM focus\n\
         WHERE \"x_BillingPeriod\" = $period GROUP BY 1 ORDER BY 1\n",
    )
    .unwrap();
    std::fs::write(
        queries.join("focus_export_rows.sql"),
        "-- name: focus_export_rows\n-- description: Rows of FOCUS exports.\n-- needs: focus_costs\n\
         SELECT count(*) AS n FROM focus_costs\n",
    )
    .unwrap();
    let definition = work.path().join("mine.toml");
    std::fs::write(
        &definition,
        "title = \"Storage <& more>\"\n\
         [[section]]\ntitle = \"Day by day\"\nquery = \"daily_cost\"\nmoney = [\"cost\"]\nrows = 10\n\
         [[section]]\ntitle = \"FOCUS exports\"\nquery = \"focus_export_rows\"\n",
    )
    .unwrap();
    let lake_arg = lake.to_str().unwrap();
    let out = costlake(
        &[
            "report",
            "--lake",
            lake_arg,
            "--queries",
            queries.to_str().unwrap(),
            "--definition",
            definition.to_str().unwrap(),
            "--period",
            "previous",
            "--output",
            "mine.html",
        ],
        work.path(),
    );
    let said = stdout_of("costlake report", &out);
    assert!(
        said.contains("mine.html: the report of")
            && said.contains("2 sections (1 without data in this lake)"),
        "{said}"
    );
    let html = std::fs::read_to_string(work.path().join("mine.html")).unwrap();
    assert!(html.contains("<h1>Storage &lt;&amp; more&gt;</h1>"));
    assert!(
        html.contains("Not in this lake: focus_export_rows needs <code>focus_costs</code>, which <code>costlake ingest</code> of its export brings"),
        "{html}"
    );
    // `previous` is the second latest period held: the open month's is the latest.
    let period = last_month();
    assert!(html.contains(&format!("-p period={period}")), "{html}");
    assert_eq!(html.matches("<tr>").count(), 11, "a header and 10 rows");
    assert!(html.contains("data-hidden=\"20\""), "30 days, 10 shown");
    assert!(
        html.matches("data-series=\"0\"").count() > 10,
        "a series' line and points"
    );

    // A lake whose months do not reconcile: the report is written, says so first, and the
    // exit code is 1. Two months' usage files swapped: each month's rows are the other's.
    let copy = work.path().join("lake");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&lake)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let usage = copy.join("usage_details/enrollment=100");
    let first = month(-5);
    let second = month(-4);
    let (a, b) = (
        usage.join(format!("billing_period={first}/part-0.parquet")),
        usage.join(format!("billing_period={second}/part-0.parquet")),
    );
    let kept = std::fs::read(&a).unwrap();
    std::fs::rename(&b, &a).unwrap();
    std::fs::write(&b, kept).unwrap();
    let out = costlake(
        &[
            "report",
            "--lake",
            copy.to_str().unwrap(),
            "--output",
            "bad.html",
        ],
        work.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("does not reconcile: {first} of 100:")),
        "{err}"
    );
    let html = std::fs::read_to_string(work.path().join("bad.html")).unwrap();
    assert!(html.contains("data-reconciles=\"false\">2 things do not reconcile"));
    assert!(html.contains("<td class=\"mismatch\" data-value=\"MISMATCH"));

    // A definition with a mistake is refused with its file and what is wrong.
    std::fs::write(&definition, "title = \"x\"\n[[section]]\ntitle = \"y\"\n").unwrap();
    let out = costlake(
        &[
            "report",
            "--lake",
            lake_arg,
            "--definition",
            definition.to_str().unwrap(),
        ],
        work.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine.toml: section 'y' needs either `query = \"NAME\"` or `verify = true`"),
        "{err}"
    );
}
