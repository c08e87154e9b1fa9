//! One writer per lake: two `sync` runs and an `ingest` started together on one lake, local
//! and in Azurite, three times each. One holds the lease; the others exit with a sentence
//! that names it; run again, they complete; every partition is in the manifest and `verify`
//! passes. And the manifest itself is compare-and-swap: writers that bypass the lease (two
//! handles of one lake publishing at once) lose no entry.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use costlake::lake::{Lake, Written};
use costlake::model::{Dataset, PartitionKey, PeriodId, Provenance};
use costlake_emulator::DEMO_KEY;

use crate::common::{config, start};
use crate::export_files::{export_tree, text};
use crate::tools::{self, Server};

fn spawn(args: &[&str], env: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_costlake"));
    command
        .args(args)
        .env("COSTLAKE_API_KEY", DEMO_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

/// `costlake verify` of `lake`.
fn verify(lake: impl AsRef<std::ffi::OsStr>, env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_costlake"));
    command.arg("verify").arg("--lake").arg(lake);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Three writers at once, then again one by one for those that lost: every run ends whole.
fn race(lake: &str, api: &str, exports: &Path, env: &[(&str, String)]) -> usize {
    let source = exports.display().to_string();
    let writers: [Vec<&str>; 3] = [
        vec!["sync", "--enrollment", "100", "--api-base", api],
        vec!["sync", "--enrollment", "100", "--api-base", api],
        vec!["ingest", "--source", &source],
    ];
    let with = |w: &Vec<&str>, i: usize| {
        let mut args = w.clone();
        if i == 0 {
            args.extend(["--datasets", "usage_details"]);
        } else if i == 1 {
            args.extend([
                "--datasets",
                "balance_summary,price_sheet,marketplace_charges",
            ]);
        }
        args.extend(["--quiet", "--lake", lake]);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let children: Vec<Child> = writers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let args = with(w, i);
            spawn(&args.iter().map(String::as_str).collect::<Vec<_>>(), env)
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut lost = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        match out.status.code() {
            Some(0) => {}
            Some(1) => {
                let said = text(out);
                assert!(
                    said.contains("is being written by `costlake ")
                        && said.contains("process ")
                        && said.contains("one writer at a time"),
                    "{said}"
                );
                lost.push(i);
            }
            code => panic!("writer {i} exited {code:?}: {}", text(out)),
        }
    }
    assert!(lost.len() < 3, "someone holds the lease");
    let losers = lost.len();
    for i in lost {
        let args = with(&writers[i], i);
        let out = spawn(&args.iter().map(String::as_str).collect::<Vec<_>>(), env)
            .wait_with_output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let out = verify(lake, env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    losers
}

/// The Parquet files under a local lake, each of which the manifest must name.
fn assert_every_file_published(lake: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lake.join("_costlake/manifest.json")).unwrap())
            .unwrap();
    let published: std::collections::BTreeSet<String> = manifest["partitions"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect();
    let on_disk: std::collections::BTreeSet<String> = crate::common::files_under(lake)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| p.strip_prefix(lake).unwrap().display().to_string())
        .collect();
    assert_eq!(on_disk, published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_and_an_ingest_on_one_local_lake() {
    let emu = start(config(3000)).await;
    let work = tempfile::tempdir().unwrap();
    let exports = work.path().join("exports");
    export_tree(emu.enrollment(), &exports, 1000).await;
    let mut losers = 0;
    for attempt in 0..3 {
        let lake = work.path().join(format!("lake{attempt}"));
        losers += race(&lake.display().to_string(), &emu.base_url(), &exports, &[]);
        assert_every_file_published(&lake);
    }
    assert!(losers > 0, "the writers met at least once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_and_an_ingest_on_one_lake_in_azurite() {
    let azurite: Server = tools::azurite();
    tools::azurite_container(&azurite, "finops");
    let env = tools::azurite_env(&azurite);
    let emu = start(config(3000)).await;
    let work = tempfile::tempdir().unwrap();
    let exports = work.path().join("exports");
    export_tree(emu.enrollment(), &exports, 1000).await;
    let mut losers = 0;
    for attempt in 0..3 {
        losers += race(
            &format!("az://finops/race{attempt}"),
            &emu.base_url(),
            &exports,
            &env,
        );
    }
    assert!(losers > 0, "the writers met at least once");
}

/// Two handles of one lake (as two processes would have) publish at once, past the lease:
/// the manifest keeps every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_manifest_updates_lose_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().display().to_string();
    let (a, b) = (
        Lake::open(&location, true).await.unwrap(),
        Lake::open(&location, true).await.unwrap(),
    );
    let publish = |lake: Lake, account: &'static str| async move {
        for month in 1..=12 {
            let key = PartitionKey {
                dataset: Dataset::UsageDetails,
                account: account.to_string(),
                cost_type: None,
                period: Some(PeriodId(202400 + month)),
            };
            let written = Written {
                file: format!("{}/part-0.parquet", key.dir()),
                rows: 1,
                bytes: 1,
                sha256: String::new(),
                totals: Default::default(),
                kept: None,
            };
            let provenance = Provenance::EaApi {
                etag: None,
                api_version: "v3".into(),
                closed: true,
            };
            lake.publish(&key, &written, provenance).await.unwrap();
        }
    };
    let (one, two) = tokio::join!(
        tokio::spawn(publish(a.clone(), "1")),
        tokio::spawn(publish(b, "2"))
    );
    one.unwrap();
    two.unwrap();
    assert_eq!(a.manifest().await.unwrap().partitions.len(), 24);
}

/// A file in a table's folder that the manifest does not publish (a killed writer's, or one
/// copied in by hand) would count its rows twice: `verify` names it and fails, and the next
/// writer removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_manifest_does_not_know_are_reported_then_removed() {
    let (emu, dir) = crate::common::synced(700).await;
    let lake = dir.path();
    let file = crate::common::partition_file(lake, Dataset::UsageDetails, Some(PeriodId(202402)));
    let stray = file.with_file_name("part-1.parquet");
    std::fs::copy(&file, &stray).unwrap();
    let verify = || verify(lake, &[]);
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("part-1.parquet: in the lake but not in its manifest"),
        "{}",
        text(&out)
    );
    let report = crate::common::sync(&crate::common::sync_options(&emu, lake))
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.summary());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("removed 1 files")),
        "{:?}",
        report.warnings
    );
    assert!(!stray.exists() && file.exists());
    let out = verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Writes `body` as the lease object of the lake `az://finops/{prefix}`, as another host would.
fn plant_lease(azurite: &Server, prefix: &str, body: &str) {
    tools::run_python(
        "import sys\nfrom azure.storage.blob import BlobServiceClient\n\
         cs = f'DefaultEndpointsProtocol=http;AccountName={sys.argv[2]};AccountKey={sys.argv[3]};BlobEndpoint={sys.argv[1]}/{sys.argv[2]};'\n\
         c = BlobServiceClient.from_connection_string(cs).get_container_client('finops')\n\
         c.get_blob_client(sys.argv[4]).upload_blob(sys.argv[5].encode(), overwrite=True)",
        &[
            &azurite.url(),
            tools::AZURITE_ACCOUNT,
            tools::AZURITE_KEY,
            &format!("{prefix}/_costlake/lease.json"),
            body,
        ],
    );
}

/// An object-store lease held by a live writer elsewhere stops a sync with its holder named;
/// one that lapsed (its writer was killed) is taken over, and given back at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_in_azurite_is_respected_and_a_lapsed_one_taken_over() {
    let azurite: Server = tools::azurite();
    tools::azurite_container(&azurite, "finops");
    let env = tools::azurite_env(&azurite);
    let emu = start(config(700)).await;
    let holder = |expires: chrono::DateTime<chrono::Utc>| {
        serde_json::json!({
            "command": "ingest", "pid": 4242, "host": "other-host",
            "since": "2026-01-01T00:00:00Z", "expires": expires,
        })
        .to_string()
    };
    let sync = || {
        let api = emu.base_url();
        let args = [
            "sync",
            "--enrollment",
            "100",
            "--api-base",
            &api,
            "--quiet",
            "--lake",
            "az://finops/leased",
        ];
        spawn(&args, &env).wait_with_output().unwrap()
    };
    plant_lease(
        &azurite,
        "leased",
        &holder(chrono::Utc::now() + chrono::Duration::minutes(5)),
    );
    let out = sync();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`costlake ingest` (process 4242 on other-host)"),
        "{}",
        text(&out)
    );
    plant_lease(
        &azurite,
        "leased",
        &holder(chrono::Utc::now() - chrono::Duration::minutes(1)),
    );
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Given back: the next writer does not wait for it to lapse.
    let out = sync();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A disk that fills between a partition's data and the manifest's commit: with files capped
/// at 12 KiB (`ulimit -f`, as a full disk would refuse them), the small partitions' data lands
/// but the manifest, once past 12 KiB, cannot be written. The run fails; `verify` names the
/// files left unpublished; the next run removes them and completes whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_full_between_data_and_manifest_loses_nothing() {
    let mut cfg = config(700);
    cfg.periods = 12;
    let emu = start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 12; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_costlake"))
        .args(["sync", "--enrollment", "100", "--api-base", &emu.base_url()])
        .args(["--jobs", "1", "--quiet", "--lake"])
        .arg(&lake)
        .env("COSTLAKE_API_KEY", DEMO_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("File too large"), "{}", text(&out));
    let verify = || verify(&lake, &[]);
    let out = verify();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("in the lake but not in its manifest"),
        "{}",
        text(&out)
    );
    let report = crate::common::sync(&crate::common::sync_options(&emu, &lake))
        .await
        .unwrap();
    assert!(report.ok(), "{}", report.summary());
    assert_every_file_published(&lake);
    let out = verify();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
