//! `costlake sync --billing-account` end to end, through the binary over real HTTP: Microsoft
//! Entra ID sign-in in each of its flows, cost details reports polled and downloaded from
//! expiring links into exact Parquet, balances into the summary, `verify` reconciling the
//! result, throttling, expired tokens and links, refusals in one sentence, and the same
//! `focus` as the EA API and the export trees give for the same enrollment.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use costlake::model::decimal;
use costlake_emulator::{ArmConfig, Emulator, EmulatorConfig, Fault, RequestRecord};

use crate::common::{SEED, start};
use crate::export_files::{charges_by_period, export_tree, ingest, sql, text};
use crate::query::{costlake, parse_csv, stdout};

/// Every variable that could pick another credential than the test means.
const CREDENTIAL_VARS: &[&str] = &[
    "AZURE_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "COSTLAKE_API_KEY",
];

/// Three months up to this one (the last open), blobs of a third of a month, two polls.
pub(crate) fn config(rows: u64) -> EmulatorConfig {
    costlake::http::install_crypto_provider();
    EmulatorConfig {
        seed: SEED,
        periods: 3,
        rows_per_period: rows,
        arm: ArmConfig {
            blob_rows: rows / 3 + 1,
            report_polls: 2,
            ..ArmConfig::default()
        },
        ..EmulatorConfig::default()
    }
}

/// `costlake sync --billing-account 100` against the emulator with exactly `env`.
pub(crate) fn sync(emu: &Emulator, lake: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    sync_command(emu, lake, args, env)
        .output()
        .expect("costlake runs")
}

/// The command [`sync`] runs.
pub(crate) fn sync_command(
    emu: &Emulator,
    lake: &Path,
    args: &[&str],
    env: &[(&str, String)],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args(["sync", "--billing-account", "100", "--arm-base"])
        .arg(emu.base_url())
        .arg("--lake")
        .arg(lake)
        .args(args)
        .current_dir(lake.parent().unwrap());
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The cost details alone synced into a new lake with the client secret: the folder (kept
/// while it lives), the lake and what costlake printed.
fn sync_cost_details(emu: &Emulator) -> (tempfile::TempDir, std::path::PathBuf, Output) {
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync(
        emu,
        &lake,
        &["--datasets", "cost_details"],
        &with_secret(emu),
    );
    (work, lake, out)
}

pub(crate) fn with_secret(emu: &Emulator) -> Vec<(&'static str, String)> {
    emu.sign_in_env()
}

pub(crate) fn dec(text: &str) -> i128 {
    decimal::parse(text, 12, 38).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Rows and exact cost per period of one cost type.
fn cost_details(lake: &Path, cost_type: &str) -> BTreeMap<String, (u64, i128)> {
    sql(
        lake,
        &format!(
            "SELECT billing_period, count(*), sum(cost_in_billing_currency) FROM cost_details \
             WHERE cost_type = '{cost_type}' GROUP BY 1 ORDER BY 1"
        ),
    )[1..]
        .iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), dec(&r[2]))))
        .collect()
}

/// The generator's totals at the lake's scale.
fn expected(emu: &Emulator) -> BTreeMap<String, (u64, i128)> {
    let scale = 10i128.pow(12 - costlake_emulator::generator::COST_SCALE);
    charges_by_period(emu.enrollment())
        .into_iter()
        .map(|(p, (rows, cost))| (p, (rows, cost * scale)))
        .collect()
}

pub(crate) fn requests_to(emu: &Emulator, path: &str) -> Vec<RequestRecord> {
    let path = path.to_ascii_lowercase();
    emu.requests()
        .into_iter()
        .filter(|r| r.uri.to_ascii_lowercase().contains(&path))
        .collect()
}

/// Neither the secret nor any token the emulator minted appears in what costlake printed
/// or wrote into the lake.
fn assert_no_secret(emu: &Emulator, out: &Output, lake: &Path) {
    let printed = text(out);
    assert!(
        !printed.contains(&emu.config().arm.client_secret),
        "{printed}"
    );
    assert!(!printed.contains("eyJ"), "a token was printed: {printed}");
    for file in crate::common::files_under(lake) {
        let bytes = std::fs::read(&file).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(&emu.config().arm.client_secret) && !hay.contains("eyJ0eXAi"),
            "{} holds a credential",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_sync_fills_the_lake_exactly_and_reconciles() {
    let emu = start(config(2400)).await;
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    // Months close the day after they end: only the current one is open.
    let settled = ["--settle-days", "0"];
    let out = sync(&emu, &lake, &settled, &with_secret(&emu));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("3 months found; 19 fetched"),
        "3 months × (actual, amortized, balance, price sheet, reservation details and \
         transactions) and today's reservation recommendations: {report}"
    );
    let want = expected(&emu);
    assert_eq!(cost_details(&lake, "actual"), want);
    assert_eq!(cost_details(&lake, "amortized"), want);
    let e = emu.enrollment();
    let scale = 10i128.pow(12 - costlake_emulator::generator::COST_SCALE);
    let balances = sql(
        &lake,
        "SELECT billing_period, currency_code, total_usage, azure_marketplace_service_charges, ending_balance \
         FROM balance_summary ORDER BY 1",
    );
    assert_eq!(balances.len(), 4, "{balances:?}");
    for (row, p) in balances[1..].iter().zip(&e.periods) {
        let b = e.balance(p);
        assert_eq!(row[0], p.id.to_string());
        assert_eq!(row[1], "USD", "the padded currency is trimmed");
        assert_eq!(dec(&row[2]), b.total_usage * scale);
        assert_eq!(dec(&row[3]), b.marketplace * scale);
        assert_eq!(dec(&row[4]), b.ending * scale);
    }
    // The price sheet: a ZIP of two CSV files per month, every meter once.
    let sheet = sql(
        &lake,
        "SELECT billing_period, count(*), count(DISTINCT meter_id) FROM export_price_sheet GROUP BY 1 ORDER BY 1",
    );
    let meters = e.price_sheet_meters().count().to_string();
    assert_eq!(sheet.len(), 4, "{sheet:?}");
    assert!(
        sheet[1..].iter().all(|r| r[1] == meters && r[2] == meters),
        "{sheet:?}"
    );
    let verified = crate::query::costlake(&["verify"], &lake);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("3 periods reconcile exactly"),
        "{}",
        text(&verified)
    );
    // Each period says which dataset answered it.
    assert_eq!(
        text(&verified).matches(" cost_details ").count(),
        3,
        "{}",
        text(&verified)
    );

    // Several blobs per report, each fetched without the management token.
    let blobs = requests_to(&emu, "/blobs/");
    assert!(blobs.len() >= 6 * 3, "{}", blobs.len());
    assert!(
        blobs
            .iter()
            .all(|r| !r.had_authorization && r.status == 200)
    );
    let management = requests_to(&emu, "/providers/Microsoft.Billing/");
    assert!(management.iter().all(|r| r.had_authorization));
    // Exactly one sign-in: the token is held for the run.
    assert_eq!(requests_to(&emu, "/oauth2/v2.0/token").len(), 1);
    assert_no_secret(&emu, &out, &lake);

    // Again: the closed months are skipped, the open one is asked again and replaced.
    emu.clear_requests();
    let again = sync(&emu, &lake, &settled, &with_secret(&emu));
    let report = text(&again);
    assert!(again.status.success(), "{report}");
    assert!(
        report.contains("7 fetched") && report.contains("12 skipped"),
        "{report}"
    );
    assert_eq!(
        requests_to(&emu, "generateCostDetailsReport").len(),
        2,
        "only the open month's two reports"
    );
    assert_eq!(cost_details(&lake, "actual"), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_roads_give_one_focus() {
    let emu = start(config(1500)).await;
    let work = tempfile::tempdir().unwrap();
    let (api, exports, arm) = (
        work.path().join("api"),
        work.path().join("exports-lake"),
        work.path().join("arm"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args([
            "sync",
            "--enrollment",
            "100",
            "--api-base",
            &emu.base_url(),
            "--lake",
        ])
        .arg(&api)
        .env("COSTLAKE_API_KEY", costlake_emulator::DEMO_KEY)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let tree = work.path().join("tree");
    export_tree(emu.enrollment(), &tree, 500).await;
    stdout(&ingest(&tree, &exports));
    let out = sync(&emu, &arm, &[], &with_secret(&emu));
    assert!(out.status.success(), "{}", text(&out));

    let by_department = r#"SELECT "x_BillingPeriod", "x_InvoiceSectionName", count(*) AS n,
                                  sum("BilledCost") AS billed, sum("EffectiveCost") AS effective
                           FROM focus GROUP BY 1, 2 ORDER BY 1, 2"#;
    let from_api = sql(&api, by_department);
    assert!(from_api.len() > 1 + 3 * 3, "{from_api:?}");
    assert_eq!(sql(&exports, by_department), from_api, "exports");
    assert_eq!(sql(&arm, by_department), from_api, "Cost Management APIs");
    // The live APIs' lake is one FOCUS accepts too.
    crate::focus::assert_focus_conforms(&arm, "Cost Management API lake");
    // The price sheet downloaded as a ZIP equals the price sheet export, to the last digit.
    let prices = "SELECT billing_period, meter_id, unit_price, unit_of_measure, part_number \
                  FROM export_price_sheet ORDER BY 1, 2";
    let from_exports = sql(&exports, prices);
    assert!(from_exports.len() > 3, "{from_exports:?}");
    assert_eq!(sql(&arm, prices), from_exports);

    // Every saved query answers alike from the three lakes, except the balance summary's
    // figures, which exports do not carry, and the column naming the answering dataset.
    let per_source = [
        "source",
        "billed_usage",
        "usage_difference",
        "billed_marketplace",
        "billed_separately_in_balance",
        "commitment_balance",
        "balance_of",
    ];
    let answer = |lake: &Path, name: &str| -> Result<Vec<Vec<String>>, String> {
        // Anomalies of a whole month, at a threshold this small enrollment's days cross.
        let mut args = vec!["query", name, "--format", "csv"];
        if name == "anomalies" {
            args.extend([
                "-p",
                "period=previous",
                "-p",
                "threshold=0.2",
                "-p",
                "min_change=0",
            ]);
        }
        let out = costlake(&args, lake);
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let rows = parse_csv(&stdout(&out), ',');
        let keep: Vec<bool> = rows[0]
            .iter()
            .map(|c| !per_source.contains(&c.as_str()))
            .collect();
        Ok(rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| c.clone())
                    .collect()
            })
            .collect())
    };
    for (name, _) in costlake::engine::BUILTIN {
        if *name == "reservation_utilization" {
            // Reservations come from the Cost Management API only (or their own exports).
            let rows = answer(&arm, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(rows.len() > 1, "{name} has an answer: {rows:?}");
            for lake in [&api, &exports] {
                let e = answer(lake, name).unwrap_err();
                assert!(
                    e.contains("needs `reservation_details`, which")
                        && e.contains("costlake sync --billing-account ID"),
                    "{e}"
                );
            }
            continue;
        }
        let from_api = answer(&api, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        if ["changed_costs", "commitment_savings"].contains(name) {
            // No lake had a month published again, nor reservations in its cost rows: nothing
            // to answer on any road (tests/it/changes.rs and amortization.rs have them).
            for lake in [&arm, &exports] {
                assert_eq!(answer(lake, name), Ok(from_api.clone()), "{name}");
            }
            assert_eq!(from_api.len(), 1, "{name}: {from_api:?}");
            continue;
        }
        assert!(from_api.len() > 1, "{name} has an answer: {from_api:?}");
        assert_eq!(
            answer(&arm, name),
            Ok(from_api.clone()),
            "{name}, Cost Management APIs"
        );
        match answer(&exports, name) {
            Ok(rows) => assert_eq!(rows, from_api, "{name}, exports"),
            // Exports carry no balance summary, and the query says where it comes from.
            Err(e) => assert!(
                *name == "commitment_burndown"
                    && e.contains("needs the balance summary (`balance_summary`)")
                    && e.contains("costlake sync --billing-account ID"),
                "{name}: {e}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_managed_and_cli_identities_sign_in() {
    let emu = start(config(300)).await;
    let work = tempfile::tempdir().unwrap();
    let arm = &emu.config().arm;
    let base = emu.base_url();
    let only_balances = ["--datasets", "balance_summary"];

    // Workload identity: the federated token file, read at each sign-in.
    let token_file = work.path().join("federated-token");
    std::fs::write(&token_file, &arm.federated_token).unwrap();
    let env = vec![
        ("AZURE_AUTHORITY_HOST", base.clone()),
        ("AZURE_TENANT_ID", arm.tenant.clone()),
        ("AZURE_CLIENT_ID", arm.client_id.clone()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ];
    let lake = work.path().join("workload");
    let out = sync(&emu, &lake, &only_balances, &env);
    assert!(out.status.success(), "{}", text(&out));
    // A federated token the tenant does not trust: one sentence, exit 1.
    std::fs::write(&token_file, "eyJub3QiOiJ0cnVzdGVkIn0.e30.c2ln").unwrap();
    let out = sync(&emu, &lake, &only_balances, &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no federated identity credential"),
        "{}",
        text(&out)
    );

    // The instance metadata service (its address given as the SDKs allow).
    let lake = work.path().join("imds");
    let out = sync(
        &emu,
        &lake,
        &only_balances,
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", base.clone())],
    );
    assert!(out.status.success(), "{}", text(&out));
    let imds = requests_to(&emu, "/metadata/identity/oauth2/token");
    assert_eq!(imds.len(), 1, "{imds:?}");
    assert_eq!(imds[0].status, 200);

    // App Service's identity endpoint, and a wrong identity header.
    let lake = work.path().join("app-service");
    let endpoint = format!("{base}/msi/token");
    let out = sync(
        &emu,
        &lake,
        &only_balances,
        &[
            ("IDENTITY_ENDPOINT", endpoint.clone()),
            ("IDENTITY_HEADER", arm.identity_header.clone()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = sync(
        &emu,
        &lake,
        &only_balances,
        &[
            ("IDENTITY_ENDPOINT", endpoint),
            ("IDENTITY_HEADER", "wrong".into()),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("App Service"), "{}", text(&out));

    // The Azure CLI: a stand-in `az` that prints what `az account get-access-token` prints,
    // with a token it got from the emulator; then one that is not signed in.
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    let fetch = format!(
        "import json, urllib.request; r = urllib.request.Request('{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/', headers={{'Metadata': 'true'}}); t = json.load(urllib.request.urlopen(r)); print(json.dumps({{'accessToken': t['access_token'], 'expiresOn': '2099-01-01 00:00:00.000000', 'expires_on': int(t['expires_on']), 'subscription': 's', 'tenant': 't', 'tokenType': 'Bearer'}}))"
    );
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\nexec '{}' -c \"{fetch}\"\n",
            crate::tools::python().display()
        ),
    )
    .unwrap();
    let not_signed_in = bin.join("az-out");
    std::fs::write(
        &not_signed_in,
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .unwrap();
    for f in [&az, &not_signed_in] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let lake = work.path().join("cli");
    let cli_env = vec![
        ("AZURE_TOKEN_CREDENTIALS", "dev".to_string()),
        ("PATH", path),
    ];
    let out = sync(&emu, &lake, &only_balances, &cli_env);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::rename(&not_signed_in, &az).unwrap();
    let out = sync(&emu, &lake, &only_balances, &cli_env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("run `az login` first"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_and_waits_are_honoured() {
    // Tokens that live 4 s on a service whose clock runs 3.5 s ahead: the client refreshes
    // before the 4 s, but the service refuses them after half a second, mid-sync.
    let mut cfg = config(600);
    cfg.arm.token_lifetime = Duration::from_secs(4);
    cfg.arm.clock_ahead = Duration::from_millis(3500);
    cfg.arm.poll_retry_after_secs = 2;
    cfg.faults.retry_after_secs = 1;
    let emu = start(cfg).await;
    // One throttled report request whose headers disagree (1, 2 and 3 s): the largest wins.
    emu.inject(Fault::RateLimited, "generatecostdetailsreport", 1);
    emu.inject(Fault::Unavailable, "/balances", 1);
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync(&emu, &lake, &["--jobs", "1"], &with_secret(&emu));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cost_details(&lake, "actual"), expected(&emu));

    let log = emu.requests();
    let expired = log
        .iter()
        .filter(|r| r.status == 401 && r.uri.contains("Microsoft.Billing"))
        .count();
    assert!(expired >= 1, "the service refused an expired token");
    assert!(
        requests_to(&emu, "/oauth2/v2.0/token").len() > expired,
        "a new token after each refusal"
    );
    // The 429's largest wait, then the report.
    let i = log.iter().position(|r| r.status == 429).expect("a 429");
    let next = log[i + 1..]
        .iter()
        .find(|r| {
            r.uri
                .to_ascii_lowercase()
                .contains("generatecostdetailsreport")
        })
        .unwrap();
    assert!(
        next.at - log[i].at >= Duration::from_secs(3),
        "waited {:?}",
        next.at - log[i].at
    );
    // Each report's first poll came after its Retry-After of 2 s.
    let generate = log
        .iter()
        .position(|r| r.status == 202 && r.method == "POST")
        .unwrap();
    let poll = log[generate + 1..]
        .iter()
        .find(|r| r.uri.contains("costDetailsOperationResults"))
        .unwrap();
    assert!(poll.at - log[generate].at >= Duration::from_secs(2));
    assert_no_secret(&emu, &out, &lake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_links_and_cut_blobs_lead_to_a_new_report() {
    let emu = start(config(900)).await;
    emu.inject(Fault::LinkExpired, "/blobs/", 1);
    emu.inject(Fault::DropConnection, "/blobs/", 1);
    let (_work, lake, out) = sync_cost_details(&emu);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cost_details(&lake, "actual"), expected(&emu));
    assert_eq!(cost_details(&lake, "amortized"), expected(&emu));
    // One new report for each report a fault landed in: two, or one when both land in the
    // same report (its blobs are opened two at a time).
    let reports = requests_to(&emu, "generateCostDetailsReport").len();
    assert!(
        (6 + 1..=6 + 2).contains(&reports),
        "{reports} reports asked for"
    );
    let blobs = requests_to(&emu, "/blobs/");
    assert!(blobs.iter().any(|r| r.status == 403));
    assert!(blobs.iter().all(|r| !r.had_authorization));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_on_another_host_is_not_followed() {
    let mut cfg = config(300);
    // Same machine, another origin: the token would go to a host it does not belong to.
    cfg.next_link_base = Some("http://localhost:9".into());
    let emu = start(cfg).await;
    let (_work, lake, out) = sync_cost_details(&emu);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("refusing to follow"), "{t}");
    assert!(
        t.contains("the credential is only ever sent to the API host"),
        "{t}"
    );
    assert!(requests_to(&emu, "costDetailsOperationResults").is_empty());
    // Nothing of the refused reports reached the lake.
    assert!(
        !crate::common::files_under(&lake)
            .iter()
            .any(|f| f.extension().is_some_and(|x| x == "parquet")),
        "a partition was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_end_in_one_sentence_and_lose_nothing() {
    let emu = start(config(300)).await;
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync(&emu, &lake, &[], &with_secret(&emu));
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read(lake.join("_costlake/manifest.json")).unwrap();
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read(lake.join("_costlake/manifest.json")).unwrap(),
            manifest,
            "{what}: the lake is unchanged"
        );
    };
    let refused = |out: &Output, says: &str| {
        let t = text(out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(t.contains(says), "expected '{says}' in: {t}");
        assert!(!t.contains(&emu.config().arm.client_secret), "{t}");
    };

    // A wrong secret.
    let mut env = with_secret(&emu);
    env[3].1 = "not-the-secret".into();
    let out = sync(&emu, &lake, &["--refresh"], &env);
    refused(&out, "the client secret is wrong");
    assert!(!text(&out).contains("not-the-secret"));
    unchanged("wrong secret");

    // A tenant that does not exist.
    let mut env = with_secret(&emu);
    env[1].1 = "00000000-0000-0000-0000-000000000000".into();
    refused(
        &sync(&emu, &lake, &["--refresh"], &env),
        "use the directory (tenant) id",
    );

    // A billing account the principal holds no EA role on.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args(["sync", "--billing-account", "999", "--arm-base"])
        .arg(emu.base_url())
        .arg("--lake")
        .arg(&lake);
    for var in CREDENTIAL_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in with_secret(&emu) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    refused(&out, "EnrollmentReader");
    unchanged("no role");

    // A month older than the API serves.
    let old = "202001";
    refused(
        &sync(&emu, &lake, &["--periods", old], &with_secret(&emu)),
        "costlake ingest",
    );
    unchanged("too old");

    // No credential at all and no Azure CLI: what to set, in one sentence.
    let out = sync(
        &emu,
        &lake,
        &[],
        &[
            ("AZURE_TOKEN_CREDENTIALS", "dev".into()),
            ("PATH", "/nonexistent".into()),
        ],
    );
    refused(&out, "AZURE_CLIENT_SECRET");
    unchanged("no credential");
}
