//! Lakes in object storage, through the real binary: sync from the emulator straight into
//! Azurite (`az://`) and an S3-compatible server (moto, `s3://`), then query and verify the
//! lake there with exact totals. Credentials come from each cloud's environment variables and
//! never appear in what costlake prints.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use costlake_emulator::{DEMO_KEY, Emulator};

use crate::common::{config, start, usage_by_period};
use crate::export_files::charges_by_period;
use crate::query::{dec, parse_csv};
use crate::tools::{self, AZURITE_KEY, azurite_env};

fn costlake(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_costlake"));
    command.args(args).env("COSTLAKE_API_KEY", DEMO_KEY);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn ok(out: &Output) -> String {
    tools::stdout_of("costlake", out)
}

/// Nothing secret in what costlake printed.
fn assert_no_secrets(out: &Output, secrets: &[&str]) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for s in secrets {
        assert!(!text.contains(s), "a secret was printed:\n{text}");
    }
}

/// Syncs the emulator into `lake`, then checks each period's rows and exact cost through
/// `costlake sql`, `verify`, and a second sync that fetches nothing closed again.
fn sync_and_check(emu: &Emulator, lake: &str, env: &[(&str, String)], secrets: &[&str]) {
    let base = emu.base_url();
    let sync = |extra: &[&str]| {
        let mut args = vec![
            "sync",
            "--enrollment",
            "100",
            "--api-base",
            &base,
            "--lake",
            lake,
        ];
        args.extend(extra);
        costlake(&args, env)
    };
    let first = sync(&["--quiet"]);
    ok(&first);
    assert_no_secrets(&first, secrets);

    let out = costlake(
        &[
            "sql",
            "--lake",
            lake,
            "--format",
            "csv",
            "SELECT billing_period, count(*) AS n, sum(cost) AS cost FROM usage_details GROUP BY 1 ORDER BY 1",
        ],
        env,
    );
    assert_no_secrets(&out, secrets);
    let rows = parse_csv(&ok(&out), ',');
    let got: BTreeMap<String, (u64, i128)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), dec(&r[2]))))
        .collect();
    assert_eq!(
        got,
        usage_by_period(emu.enrollment()),
        "exact totals read back from {lake}"
    );

    // The focus view and a saved query work there too.
    let out = costlake(
        &[
            "query",
            "--lake",
            lake,
            "monthly_summary",
            "--format",
            "csv",
        ],
        env,
    );
    assert_eq!(parse_csv(&ok(&out), ',').len(), 4);

    let verify = costlake(&["verify", "--lake", lake], env);
    assert!(
        ok(&verify).contains("3 periods reconcile exactly"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    let again = sync(&[]);
    let err = String::from_utf8_lossy(&again.stderr).into_owned();
    ok(&again);
    assert!(
        err.contains("skipped (closed)") && err.contains("0 failed"),
        "{err}"
    );
}

// Multi-threaded: the emulator keeps serving while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_in_azure_blob_storage() {
    let azurite = tools::azurite();
    tools::azurite_container(&azurite, "finops");
    let emu = start(config(1500)).await;
    let env = azurite_env(&azurite);
    sync_and_check(
        &emu,
        "az://finops/costlake/lake",
        &env,
        &[DEMO_KEY, AZURITE_KEY],
    );

    // The hadoop-style URL names the same place.
    let out = costlake(
        &[
            "sql",
            "--lake",
            "abfss://finops@devstoreaccount1.dfs.core.windows.net/costlake/lake",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM usage_details",
        ],
        &env,
    );
    assert_eq!(ok(&out), "n\n4500\n");

    // A prefix with nothing in it is no lake, said plainly.
    let out = costlake(
        &["sql", "--lake", "az://finops/nothing/here", "SELECT 1"],
        &env,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no lake at az://finops/nothing/here"), "{err}");

    // Plain HTTP is refused to anything but loopback, before a byte is sent.
    let remote = vec![
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            "http://192.0.2.10:10000".to_string(),
        ),
    ];
    let out = costlake(
        &["sql", "--lake", "az://finops/costlake/lake", "SELECT 1"],
        &remote,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing plain http://"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// Multi-threaded: the emulator keeps serving while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_in_s3() {
    let moto = tools::moto();
    tools::moto_bucket(&moto, "finops-lake");
    let emu = start(config(1200)).await;
    let secret = "moto-secret-access-key-do-not-print";
    let env = vec![
        ("AWS_ACCESS_KEY_ID", "AKIDTESTING".to_string()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL", moto.url()),
    ];
    sync_and_check(&emu, "s3://finops-lake/costs", &env, &[DEMO_KEY, secret]);
}

/// Cost Management exports in a container, ingested over `az://` into a lake in the same
/// account: exact totals per period, each counted once, and nothing secret printed.
#[test]
fn exports_in_azure_blob_storage() {
    let azurite = tools::azurite();
    tools::azurite_container(&azurite, "exports");
    let env = azurite_env(&azurite);
    let written = costlake(
        &[
            "emulate",
            "--exports",
            "az://exports/cost-management",
            "--periods",
            "3",
            "--last-period",
            "202403",
            "--seed",
            "7",
            "--rows-per-period",
            "1500",
            "--part-rows",
            "600",
        ],
        &env,
    );
    assert!(
        ok(&written).contains("wrote 23 export runs"),
        "{}",
        ok(&written)
    );

    let lake = "az://exports/costlake/lake";
    let ingest = costlake(
        &[
            "ingest",
            "--source",
            "az://exports/cost-management",
            "--lake",
            lake,
        ],
        &env,
    );
    let report = ok(&ingest);
    assert_no_secrets(&ingest, &[AZURITE_KEY]);
    assert!(
        report.contains("23 runs found; 11 partitions ingested"),
        "{report}"
    );

    let out = costlake(
        &[
            "sql",
            "--lake",
            lake,
            "--format",
            "csv",
            "SELECT billing_period, count(*) AS n, sum(cost_in_billing_currency) AS cost \
             FROM cost_details WHERE cost_type = 'actual' GROUP BY 1 ORDER BY 1",
        ],
        &env,
    );
    let rows = parse_csv(&ok(&out), ',');
    let got: BTreeMap<String, (u64, i128)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), dec(&r[2]))))
        .collect();
    assert_eq!(got, charges_by_period(&config(1500).enrollment()));

    let again = costlake(
        &[
            "ingest",
            "--source",
            "az://exports/cost-management",
            "--lake",
            lake,
        ],
        &env,
    );
    assert!(ok(&again).contains("11 unchanged"), "{}", ok(&again));
}

/// A month published again into a lake in Azurite: the replaced file is kept by a server-side
/// copy, `changes` reports the difference, `previous.focus` reads the kept blob, and `prune`
/// deletes it.
#[test]
fn a_month_published_again_in_azure_blob_storage() {
    let azurite = tools::azurite();
    tools::azurite_container(&azurite, "history");
    let env = azurite_env(&azurite);
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("exports");
    let source_arg = source.display().to_string();
    let lake = "az://history/lake";
    let original = std::fs::read_to_string(
        crate::export_files::fixtures().join("finops-toolkit/EA_ActualCost_Small.csv"),
    )
    .unwrap();
    let run = |n: u32, csv: String| {
        crate::changes::actual_run(
            &source,
            &format!("0b9a3e0c-0000-4000-8000-00000000000{n}"),
            &format!("2023-10-0{n}T05:00:00Z"),
            csv.into_bytes(),
        );
        ok(&costlake(
            &["ingest", "--source", &source_arg, "--lake", lake],
            &env,
        ))
    };
    run(1, original.clone());
    // The same month without its last row.
    let lines: Vec<&str> = original.lines().collect();
    run(2, lines[..lines.len() - 1].join("\n") + "\n");
    let sql = |query: &str| {
        let out = costlake(&["sql", "--lake", lake, "--format", "csv", query], &env);
        parse_csv(&ok(&out), ',')
    };
    let month = |table: &str| {
        dec(&sql(&format!(
            "SELECT sum(\"BilledCost\") FROM {table} WHERE \"x_BillingPeriod\" = '202309'"
        ))[1][0])
    };
    let (now, before) = (month("focus"), month("previous.focus"));
    assert_ne!(now, before, "the previous month is read from the kept blob");
    let changes =
        sql("SELECT rows_before, rows_after, before, after, difference FROM history.changes");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[1][..2], ["11", "10"]);
    assert_eq!(
        (
            dec(&changes[1][2]),
            dec(&changes[1][3]),
            dec(&changes[1][4])
        ),
        (before, now, now - before)
    );
    let pruned = costlake(&["prune", "--keep", "0", "--lake", lake], &env);
    assert!(
        ok(&pruned).contains("removed 1 kept files"),
        "{}",
        ok(&pruned)
    );
    assert_no_secrets(&pruned, &[AZURITE_KEY]);
    assert_eq!(sql("SELECT count(*) FROM history.cost_details")[1][0], "0");
    assert_eq!(month("previous.focus"), now);
    assert_eq!(sql("SELECT count(*) FROM history.changes")[1][0], "1");
}
