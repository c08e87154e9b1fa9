//! The memory budget (`--memory`), through the binary: a run in a budget of a megabyte, with
//! four units at once, completes on every road in (the EA API's pages, the Cost Management
//! APIs' report blobs and lists, export parts as gzip CSV and as Parquet), only slower, and
//! writes the very rows a run in the default budget writes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use costlake_emulator::{DEMO_KEY, Emulator};

use crate::common::{partition_files, read_partition, start};
use crate::cost_management::{config, sync_command, with_secret};
use crate::export_files::export_tree;

/// The smallest budget the test runs in: far less than one unit's natural need.
const SMALL: &str = "1MB";

/// The longest a run here may take before it counts as waiting for ever: a unit waiting for
/// room only it could give back never ends, and the test must fail rather than hang.
const HUNG: Duration = Duration::from_secs(900);

/// Runs `cmd`, four units at once, in `memory` (or the default budget), and fails the test if
/// it does not end.
fn run(road: &str, mut cmd: Command, memory: Option<&str>) {
    let out_dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = cmd
        .args(["--jobs", "4", "--quiet"])
        .args(memory.map(|m| ["--memory", m]).iter().flatten())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HUNG {
            child.kill().unwrap();
            panic!("{road} in {memory:?}: still running after {HUNG:?}; a unit waits for ever");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let said =
        std::fs::read_to_string(&stdout).unwrap() + &std::fs::read_to_string(&stderr).unwrap();
    assert!(status.success(), "{road} in {memory:?}: {said}");
}

/// `costlake sync --enrollment 100` of every dataset.
fn sync_enrollment(emu: &Emulator, lake: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args(["sync", "--enrollment", "100", "--api-base", &emu.base_url()])
        .arg("--lake")
        .arg(lake)
        .env("COSTLAKE_API_KEY", DEMO_KEY);
    cmd
}

fn ingest_tree(tree: &Path, lake: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args(["ingest", "--source"])
        .arg(tree)
        .arg("--lake")
        .arg(lake);
    cmd
}

/// Both lakes hold the same partitions with the same rows in the same order; the one written
/// in the small budget has smaller row groups somewhere (the budget was felt).
fn assert_same_rows(road: &str, roomy: &Path, small: &Path) {
    let files = partition_files(roomy);
    assert!(files.len() > 3, "{road}: {files:?}");
    assert_eq!(partition_files(small), files, "{road}: the same partitions");
    let mut split = 0;
    for file in &files {
        let (want, roomy_groups) = read_partition(&roomy.join(file));
        let (got, small_groups) = read_partition(&small.join(file));
        assert_eq!(got, want, "{road}: {} differs", file.display());
        split += usize::from(small_groups > roomy_groups);
    }
    assert!(
        split > 0,
        "{road}: no row group was flushed early in a budget of {SMALL}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_of_a_megabyte_completes_every_road_with_the_same_rows() {
    let emu = start(config(20_000)).await;
    let work = tempfile::tempdir().unwrap();
    let lake = |name: &str| work.path().join(name);

    for (name, memory) in [("ea", None), ("ea-small", Some(SMALL))] {
        run("EA API", sync_enrollment(&emu, &lake(name)), memory);
    }
    assert_same_rows("EA API", &lake("ea"), &lake("ea-small"));

    let secret = with_secret(&emu);
    for (name, memory) in [("cm", None), ("cm-small", Some(SMALL))] {
        let cmd = sync_command(&emu, &lake(name), &[], &secret);
        run("Cost Management", cmd, memory);
    }
    assert_same_rows("Cost Management", &lake("cm"), &lake("cm-small"));
    // The price sheet is a ZIP held whole while its rows are decoded.
    assert!(lake("cm-small").join("export_price_sheet").is_dir());

    let tree = work.path().join("exports");
    export_tree(emu.enrollment(), &tree, 5_000).await;
    for (name, memory) in [("x", None), ("x-small", Some(SMALL))] {
        run("exports", ingest_tree(&tree, &lake(name)), memory);
    }
    assert_same_rows("exports", &lake("x"), &lake("x-small"));
}

#[test]
fn a_size_that_is_not_one_is_refused_in_one_sentence() {
    let out = Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(["ingest", "--source", ".", "--memory", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lots` is not a size"), "{err}");
}
