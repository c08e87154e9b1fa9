//! `costlake verify` passes on a lake synced from the emulator and names the period of a
//! tampered partition.

use std::process::Command;

use costlake::model::Dataset;
use costlake_emulator::PeriodId;

use crate::common::{partition_file, synced};

fn verify(lake: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
        .arg("verify")
        .arg("--lake")
        .arg(lake)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn verify_reconciles_and_names_a_tampered_period() {
    let (emu, lake) = synced(700).await;
    let (code, stdout, stderr) = verify(lake.path());
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.matches(" ok\n").count(), 3, "{stdout}");
    assert!(stdout.contains("3 periods reconcile exactly"));
    // Rate mismatches: the rows of meters the generator bills below the sheet.
    for p in &emu.enrollment().periods {
        let e = emu.enrollment();
        let expected = (0..e.usage_rows(p)).filter(|&i| {
            let m = e.usage_row(p, i).meter;
            m.discounted && m.in_price_sheet
        });
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(&p.id.to_string()))
            .unwrap();
        assert_eq!(
            line.split_whitespace().nth(2),
            Some("usage_details"),
            "{line}"
        );
        assert_eq!(
            line.split_whitespace().nth(9),
            Some(expected.count().to_string().as_str()),
            "{line}"
        );
    }

    // Replace February's usage with January's: a whole, valid file with the wrong rows.
    let jan = partition_file(lake.path(), Dataset::UsageDetails, Some(PeriodId(202401)));
    let feb = partition_file(lake.path(), Dataset::UsageDetails, Some(PeriodId(202402)));
    std::fs::copy(&jan, &feb).unwrap();
    let (code, stdout, stderr) = verify(lake.path());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("period 202402 of enrollment 100 does not reconcile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("differs from the balance summary's"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("202401") && !stderr.contains("202403"),
        "only February is named: {stderr}"
    );
    // The tolerance is a plain number; anything else is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(["verify", "--tolerance", "abc", "--lake"])
        .arg(lake.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Every partition an export run filled is checked against the rows the run's manifest
/// counts: a file swapped for another month's is named, and the command exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_export_partitions_against_their_runs() {
    let (emu, work) = crate::common::ingested(1200).await;
    let lake = work.path().join("lake");
    let (code, out, err) = verify(&lake);
    assert_eq!(code, Some(0), "{out}{err}");
    let periods = emu.enrollment().periods.len();
    // Actual and amortized cost details, FOCUS, price sheets: one line each, all ok.
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("cost_details/"))
        .collect();
    assert_eq!(lines.len(), 2 * periods, "{out}");
    assert!(lines.iter().all(|l| l.ends_with(" ok")), "{out}");
    assert!(
        out.contains("export partitions hold the rows their runs counted"),
        "{out}"
    );

    // One month's actual cost file replaced by another month's.
    let dir = |period: &PeriodId| {
        lake.join(format!(
            "cost_details/billing_account=100/cost_type=actual/billing_period={period}/part-0.parquet"
        ))
    };
    let (first, second) = (
        &emu.enrollment().periods[0].id,
        &emu.enrollment().periods[1].id,
    );
    std::fs::copy(dir(second), dir(first)).unwrap();
    let (code, out, err) = verify(&lake);
    assert_eq!(code, Some(1), "{out}{err}");
    let named = format!(
        "cost_details/billing_account=100/cost_type=actual/billing_period={first} does not match its export"
    );
    assert!(err.contains(&named), "{err}");
    assert!(err.contains("in the manifest of run"), "{err}");
}
