//! `costlake demo`, README's first command, end to end: emulator, a sign-in and a sync through
//! the Cost Management APIs, the archive EA API's usage tables, tables, saved queries and a
//! chart; a second run reuses the lake without fetching closed periods again.

use std::process::Command;

#[test]
fn the_demo_runs_the_whole_loop_and_reuses_its_lake() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
            .args(["demo", "--rows-per-period", "1500"])
            .current_dir(dir.path())
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{text}\n{err}");
        (text, err)
    };
    let (first, _) = run();
    for needle in [
        "Signing in to the emulated Microsoft Entra tenant",
        "sync --billing-account: 6 months found; 37 fetched",
        "cost_details 12 partitions",
        "reservation_details 6 partitions",
        "reservation_recommendations 1 partitions 6 rows",
        "sync: 18 fetched",
        "usage_details 6 partitions 9,000 rows",
        "== monthly_summary",
        "== service_movers",
        "== daily_trend",
        "● cost   ○ trailing_mean",
        "costlake --lake ./costlake-demo",
    ] {
        // Column widths follow the longest table name: compare with runs of spaces as one.
        let spaced = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            spaced(&first).contains(&spaced(needle)),
            "missing {needle:?} in:\n{first}"
        );
    }
    // Every period reconciles: the difference column is all zeros.
    let summary: Vec<&str> = first
        .lines()
        .skip_while(|l| !l.starts_with("== monthly_summary"))
        .filter(|l| l.starts_with("| 100 "))
        .collect();
    assert_eq!(summary.len(), 6, "{first}");
    for line in summary {
        assert_eq!(line.split('|').nth(7).map(str::trim), Some("0"), "{line}");
    }
    assert!(
        dir.path()
            .join("costlake-demo/_costlake/manifest.json")
            .exists()
    );

    // Second run: only the period list is fetched; the rest is closed (skipped without a
    // request) or open and unchanged (304). Which is which depends on today's date.
    let (second, _) = run();
    let count_in = |line: &str, what: &str| -> u64 {
        let end = line
            .find(what)
            .unwrap_or_else(|| panic!("{what} in {line}"));
        line[..end]
            .trim_end()
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let line = second.lines().find(|l| l.starts_with("sync:")).unwrap();
    let count = |what: &str| count_in(line, what);
    assert_eq!(count(" fetched"), 1, "{line}");
    assert_eq!(count(" unchanged") + count(" skipped"), 17, "{line}");
    // At least the three months that ended more than 30 days ago are closed.
    assert!(count(" skipped") >= 8, "{line}");
    assert_eq!(count(" failed"), 0, "{line}");
    // Through the Cost Management APIs, closed months are skipped and open ones asked again.
    let line = second
        .lines()
        .find(|l| l.starts_with("sync --billing-account:"))
        .unwrap();
    let count = |what: &str| count_in(line, what);
    assert_eq!(count(" fetched") + count(" skipped"), 37, "{line}");
    assert!(count(" skipped") >= 18, "{line}");
    assert_eq!(count(" failed"), 0, "{line}");
}
