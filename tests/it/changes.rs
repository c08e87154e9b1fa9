//! What changed since last time, through the binary: a closed month published again with one
//! changed row is reported by `costlake changes` with exactly that difference, its previous
//! version stays queryable (`previous.focus`, `history.*`, the `changed_costs` query) until
//! `costlake prune`, and a file in the history that the manifest does not record is tidied.

use std::path::Path;

use crate::export_files::{ea_actual_run, fixtures, ingest, python_totals, sql, text, write_run};
use crate::query::{costlake, dec, stdout};
use crate::tools;

/// A run of the EA actual-cost fixture's month, its CSV as given.
pub fn actual_run(source: &Path, run_id: &str, submitted: &str, csv: Vec<u8>) {
    let rows = csv.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64 - 1;
    let part = ("part_0_0001.csv".to_string(), csv, rows);
    write_run(source, &ea_actual_run(run_id, submitted, part));
}

/// The September cost of `table` (`focus` or `previous.focus`).
fn september(lake: &Path, table: &str) -> i128 {
    let got = sql(
        lake,
        &format!(
            "SELECT sum(\"BilledCost\") FROM {table} \
             WHERE \"x_BillingPeriod\" = '202309' AND \"BillingAccountId\" = '8611537'"
        ),
    );
    dec(&got[1][0])
}

#[test]
fn a_month_published_again_reports_its_difference_and_keeps_its_previous_version() {
    let work = tempfile::tempdir().unwrap();
    let (source, lake) = (work.path().join("container"), work.path().join("lake"));
    let original = fixtures().join("finops-toolkit/EA_ActualCost_Small.csv");
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000001",
        "2023-10-03T05:00:00Z",
        std::fs::read(&original).unwrap(),
    );
    stdout(&ingest(&source, &lake));
    let none = costlake(&["changes"], &lake);
    assert_eq!(stdout(&none), "", "nothing was replaced yet");
    assert!(text(&none).contains("no period's published data has been replaced"));

    // A correction: one row's cost changed, by Python's csv module, in a later run.
    let corrected = work.path().join("corrected.csv");
    tools::run_python(
        "import csv, sys, decimal\n\
         f = open(sys.argv[1], encoding='utf-8-sig', newline='')\n\
         rows = list(csv.reader(f))\n\
         i = rows[0].index('Cost')\n\
         rows[4][i] = str(decimal.Decimal(rows[4][i]) + decimal.Decimal('17.000000000123'))\n\
         csv.writer(open(sys.argv[2], 'w', encoding='utf-8', newline=''), lineterminator='\\n').writerows(rows)",
        &[
            &original.display().to_string(),
            &corrected.display().to_string(),
        ],
    );
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000002",
        "2023-10-05T05:00:00Z",
        std::fs::read(&corrected).unwrap(),
    );
    stdout(&ingest(&source, &lake));
    let (_, before, _) = python_totals(&original, "Cost");
    let (_, after, _) = python_totals(&corrected, "Cost");
    let difference = dec(&after) - dec(&before);
    assert_eq!(difference, dec("17.000000000123"));

    let changes = sql_of(&lake, &["changes", "--format", "csv"]);
    assert_eq!(
        changes[0],
        [
            "billing_period",
            "billing_account",
            "dataset",
            "cost_type",
            "kind",
            "column",
            "before",
            "after",
            "difference",
            "rows_before",
            "rows_after",
            "replaced_at"
        ]
    );
    assert_eq!(changes.len(), 2, "exactly one month moved: {changes:?}");
    let row = &changes[1];
    assert_eq!(
        row[..6],
        [
            "202309",
            "8611537",
            "cost_details",
            "actual",
            "restated",
            "cost_in_billing_currency"
        ]
    );
    assert_eq!(
        (dec(&row[6]), dec(&row[7]), dec(&row[8])),
        (dec(&before), dec(&after), difference)
    );
    assert_eq!(row[9..11], ["11", "11"]);

    // The previous version is still there to query, from any view.
    assert_eq!(september(&lake, "focus"), dec(&after));
    assert_eq!(september(&lake, "previous.focus"), dec(&before));
    let kept = sql(
        &lake,
        "SELECT count(*), sum(cost_in_billing_currency) FROM history.cost_details",
    );
    assert_eq!(kept[1][0], "11");
    assert_eq!(dec(&kept[1][1]), dec(&before));
    let detail = sql_of(
        &lake,
        &[
            "query",
            "changed_costs",
            "-p",
            "period=202309",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        detail.len(),
        2,
        "one department and service moved: {detail:?}"
    );
    assert_eq!(dec(&detail[1][4]), difference);
    let provenance = sql(
        &lake,
        "SELECT source_before, source_after, kept_file IS NOT NULL FROM history.changes",
    );
    assert!(provenance[1][0].contains("run 0b9a3e0c-0000-4000-8000-000000000001"));
    assert!(provenance[1][1].contains("run 0b9a3e0c-0000-4000-8000-000000000002"));
    assert_eq!(provenance[1][2], "true");

    // The same runs again change nothing; a day after today lists nothing.
    stdout(&ingest(&source, &lake));
    assert_eq!(sql_of(&lake, &["changes", "--format", "csv"]), changes);
    let tomorrow = (chrono::Utc::now() + chrono::Days::new(1)).format("%Y-%m-%d");
    let since = costlake(&["changes", "--since", &tomorrow.to_string()], &lake);
    assert_eq!(stdout(&since), "");

    // Pruning removes the kept file and leaves the record.
    let pruned = stdout(&costlake(&["prune", "--keep", "1"], &lake));
    assert!(pruned.contains("removed 0 kept files"), "{pruned}");
    let pruned = stdout(&costlake(&["prune", "--keep", "0"], &lake));
    assert!(pruned.contains("removed 1 kept files"), "{pruned}");
    assert!(!lake.join("_costlake/history/cost_details").exists() || kept_files(&lake) == 0);
    assert_eq!(sql_of(&lake, &["changes", "--format", "csv"]), changes);
    assert_eq!(september(&lake, "previous.focus"), dec(&after));
}

#[test]
fn a_file_in_the_history_that_the_manifest_does_not_record_is_tidied() {
    let work = tempfile::tempdir().unwrap();
    let (source, lake) = (work.path().join("container"), work.path().join("lake"));
    let original = fixtures().join("finops-toolkit/EA_ActualCost_Small.csv");
    let csv = std::fs::read(&original).unwrap();
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000001",
        "2023-10-03T05:00:00Z",
        csv.clone(),
    );
    stdout(&ingest(&source, &lake));
    // What a run killed between keeping a file and publishing its successor leaves.
    let stray = lake.join(
        "_costlake/history/cost_details/billing_account=8611537/cost_type=actual/billing_period=202309/replaced=20231004T000000.000Z",
    );
    std::fs::create_dir_all(&stray).unwrap();
    let partition = lake.join(
        "cost_details/billing_account=8611537/cost_type=actual/billing_period=202309/part-0.parquet",
    );
    std::fs::copy(&partition, stray.join("part-0.parquet")).unwrap();
    let verify = costlake(&["verify"], &lake);
    assert!(
        text(&verify).contains("in the lake but not in its manifest"),
        "{}",
        text(&verify)
    );
    assert_eq!(
        sql(&lake, "SELECT count(*) FROM history.cost_details")[1][0],
        "11"
    );
    // The next writer removes it: nothing was replaced.
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000002",
        "2023-10-05T05:00:00Z",
        csv,
    );
    let out = ingest(&source, &lake);
    assert!(
        text(&out).contains("removed 1 files from the lake's table folders and history"),
        "{}",
        text(&out)
    );
    assert_eq!(kept_files(&lake), 0);
    assert_eq!(
        sql(&lake, "SELECT count(*) FROM history.cost_details")[1][0],
        "0"
    );
    assert_eq!(stdout(&costlake(&["changes"], &lake)), "");
}

/// A session left open (a REPL) sees a replacement published after it opened: its
/// `previous` views and `history.changes` follow the manifest.
#[tokio::test]
async fn an_open_session_sees_a_replacement_published_after_it_opened() {
    let work = tempfile::tempdir().unwrap();
    let (source, lake) = (work.path().join("container"), work.path().join("lake"));
    let original =
        std::fs::read(fixtures().join("finops-toolkit/EA_ActualCost_Small.csv")).unwrap();
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000001",
        "2023-10-03T05:00:00Z",
        original.clone(),
    );
    stdout(&ingest(&source, &lake));
    let session = costlake::engine::Session::open(&lake.display().to_string(), None)
        .await
        .unwrap();
    let figures = || async {
        let results = session
            .collect(
                "SELECT (SELECT CAST(sum(\"BilledCost\") AS VARCHAR) FROM focus), \
                        (SELECT CAST(sum(\"BilledCost\") AS VARCHAR) FROM previous.focus), \
                        (SELECT CAST(count(*) AS VARCHAR) FROM history.changes)",
                &Default::default(),
            )
            .await
            .unwrap();
        let batch = &results[0][0];
        (0..3)
            .map(|i| arrow::util::display::array_value_to_string(batch.column(i), 0).unwrap())
            .collect::<Vec<_>>()
    };
    let first = figures().await;
    assert_eq!(first[0], first[1], "nothing replaced: previous is the lake");
    assert_eq!(first[2], "0");

    // The month again without its last row, in a later run.
    let text = String::from_utf8(original).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    actual_run(
        &source,
        "0b9a3e0c-0000-4000-8000-000000000002",
        "2023-10-05T05:00:00Z",
        (lines[..lines.len() - 1].join("\n") + "\n").into_bytes(),
    );
    stdout(&ingest(&source, &lake));
    let second = figures().await;
    assert_eq!(
        second[1], first[0],
        "previous.focus holds the replaced month"
    );
    assert_ne!(second[0], first[0], "focus holds the new one");
    assert_eq!(second[2], "1");
}

fn sql_of(lake: &Path, args: &[&str]) -> Vec<Vec<String>> {
    crate::query::parse_csv(&stdout(&costlake(args, lake)), ',')
}

fn kept_files(lake: &Path) -> usize {
    crate::common::files_under(&lake.join("_costlake/history"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count()
}
