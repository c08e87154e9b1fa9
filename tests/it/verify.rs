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
