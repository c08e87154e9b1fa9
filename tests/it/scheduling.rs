//! costlake as a scheduled job: `--report json` names each unit's outcome and error and
//! matches its published schema, whether the run fails in a unit or before any; the exit codes
//! are the documented ones; logs are structured (JSON lines) and hold no key, secret or token
//! even at the most verbose level.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use costlake_emulator::{DEMO_KEY, Fault};
use serde_json::Value;

use crate::common::{config, start};
use crate::cost_management;
use crate::tools::python;

/// Validates `report` against `docs/run-report.schema.json` with the `jsonschema` package
/// (Draft 2020-12, formats checked); panics with what does not match.
fn assert_schema(report: &str) {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/run-report.schema.json");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    std::fs::write(&file, report).unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)\n\
             errors = [f'{list(e.path)}: {e.message}' for e in v.iter_errors(json.load(open(sys.argv[2])))]\n\
             print('\\n'.join(errors) or 'valid')",
        )
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.trim(),
        "valid",
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ea_sync(api_base: &str, lake: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args([
        "sync",
        "--enrollment",
        "100",
        "--api-base",
        api_base,
        "--lake",
    ])
    .arg(lake)
    .args(args)
    .current_dir(lake.parent().unwrap())
    .env_remove("COSTLAKE_API_KEY")
    .env_remove("RUST_LOG")
    .env_remove("COSTLAKE_LOG");
    if let Some(key) = key {
        cmd.env("COSTLAKE_API_KEY", key);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_run_report_names_the_failing_unit_and_its_error() {
    let emu = start(config(900)).await;
    // Every page of February's usage answers 500: its unit fails after its one retry.
    emu.inject(Fault::ServerError, "202402/usagedetails", 100);
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = ea_sync(
        &emu.base_url(),
        &lake,
        &[
            "--retries",
            "1",
            "--report",
            "json",
            "--log-level",
            "debug",
            "--log-format",
            "json",
        ],
        Some(DEMO_KEY),
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_schema(&stdout);
    let report: Value = serde_json::from_str(&stdout).expect("standard output is the report");
    assert_eq!(report["ok"], false);
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["command"], "sync");
    assert_eq!(report["lake"], lake.to_str().unwrap());
    assert_eq!(report["totals"]["failed"], 1, "{stdout}");
    let units = report["units"].as_array().unwrap();
    let failed: Vec<&Value> = units.iter().filter(|u| u["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    let unit = failed[0];
    assert_eq!(
        unit["partition"],
        "usage_details/enrollment=100/billing_period=202402"
    );
    assert_eq!(
        (&unit["dataset"], &unit["period"]),
        (&"usage_details".into(), &"202402".into())
    );
    assert_eq!(unit["retries"], 1);
    let error = unit["error"].as_str().unwrap();
    assert!(error.contains("500"), "{error}");
    assert_eq!(unit["rows"], Value::Null);
    // Everything else was written, and the totals add up.
    let written: Vec<&Value> = units.iter().filter(|u| u["outcome"] == "written").collect();
    assert_eq!(written.len() + 1, units.len());
    let rows: u64 = written.iter().map(|u| u["rows"].as_u64().unwrap()).sum();
    assert_eq!(report["totals"]["rows"].as_u64(), Some(rows));
    assert_eq!(report["totals"]["units"].as_u64(), Some(units.len() as u64));

    // The human summary is on standard error, beside the logs: one JSON object a line.
    assert!(stderr.contains("failed: usage_details 202402"), "{stderr}");
    let logs: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let unit_log = logs
        .iter()
        .find(|l| l["fields"]["outcome"] == "failed")
        .unwrap_or_else(|| panic!("no log of the failed unit:\n{stderr}"));
    assert_eq!(unit_log["level"], "INFO");
    assert_eq!(unit_log["fields"]["unit"], "usage_details 202402");
    assert!(
        logs.iter().any(|l| l["fields"]["message"] == "request"
            && l["fields"]["status"] == 500
            && l["level"] == "DEBUG"),
        "each request is logged at debug"
    );
    assert!(!stdout.contains(DEMO_KEY) && !stderr.contains(DEMO_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_fails_before_any_unit_still_writes_its_report() {
    let emu = start(config(100)).await;
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let file = work.path().join("run.json");
    let file_arg = file.to_str().unwrap();

    // No key: a usage error, exit code 2.
    let out = ea_sync(&emu.base_url(), &lake, &["--report-file", file_arg], None);
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_schema(&text);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (report["ok"].clone(), report["exit_code"].clone()),
        (false.into(), 2.into())
    );
    assert!(
        report["error"].as_str().unwrap().starts_with("no API key"),
        "{text}"
    );
    assert_eq!(report["units"], Value::Array(Vec::new()));
    assert!(out.stdout.is_empty(), "the report went to the file");

    // A key the service refuses: a failure, exit code 1, the refusal in one sentence.
    let out = ea_sync(
        &emu.base_url(),
        &lake,
        &["--report-file", file_arg],
        Some("not-the-key-0000000000000000000"),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_schema(&text);
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["exit_code"], 1);
    assert!(report["error"].as_str().unwrap().contains("401"), "{text}");
    assert!(!text.contains("not-the-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_trace_hold_no_secret_or_token() {
    let emu = start(cost_management::config(600)).await;
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = cost_management::sync(
        &emu,
        &lake,
        &["--log-level", "trace", "--report", "json"],
        &cost_management::with_secret(&emu),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_schema(&stdout);
    // The run was logged in detail: requests to the sign-in host and to the download links.
    assert!(
        stderr.contains("request") && stderr.contains("oauth2"),
        "{stderr}"
    );
    let secret = &emu.config().arm.client_secret;
    for (what, text) in [("report", &stdout), ("logs", &stderr)] {
        assert!(
            !text.contains(secret.as_str()),
            "the client secret in the {what}"
        );
        for needle in ["Bearer ", "access_token", "client_secret=", "Authorization"] {
            assert!(!text.contains(needle), "{needle} in the {what}:\n{text}");
        }
        // A SAS signature's value never shows; its name may, with `…` for the value.
        for (i, _) in text.match_indices("sig=") {
            assert!(
                text[i + 4..].starts_with('…'),
                "a signature in the {what}: {}",
                &text[i..]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_report_names_the_part_that_was_cut_short() {
    let emu = start(config(900)).await;
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("exports");
    crate::export_files::export_tree(emu.enrollment(), &tree, 2500).await;
    // February's price sheet part gets a quote that never closes in its last row, at the
    // same size, so that the run looks whole and its decoding fails. (A part cut short is a
    // run still being written: kept, with a warning.)
    let part = crate::common::files_under(&tree)
        .into_iter()
        .find(|p| {
            let p = p.to_string_lossy();
            p.contains("/pricesheet/20240201-20240229/") && p.ends_with(".csv")
        })
        .expect("February's price sheet part");
    let mut bytes = std::fs::read(&part).unwrap();
    let last_row = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap();
    let comma = last_row + bytes[last_row..].iter().position(|&b| b == b',').unwrap();
    bytes[comma] = b'"';
    std::fs::write(&part, bytes).unwrap();

    let lake = work.path().join("lake");
    let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(["ingest", "--report", "json", "--source"])
        .arg(&tree)
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_schema(&stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (report["command"].as_str(), report["exit_code"].as_u64()),
        (Some("ingest"), Some(1))
    );
    assert!(report["found"]["count"].as_u64().unwrap() > 0, "{stdout}");
    let failed: Vec<&Value> = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert_eq!(failed[0]["dataset"], "export_price_sheet");
    assert_eq!(failed[0]["period"], "202402");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("part_0_0001.csv"), "{error}");
    assert!(
        report["totals"]["written"].as_u64().unwrap() > 3,
        "{stdout}"
    );
    // The partitions' lines went to standard error, beside the summary.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("partitions ingested"), "{stderr}");
}
