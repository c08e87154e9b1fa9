//! The promise "bad input loses nothing", tried with input that breaks it: a server in front
//! of the emulator that lies (wrong envelopes, a looping `nextLink`, a gzip bomb, an error body
//! that never ends, a trickle), SQL that tries to write into the lake or to crash the shell,
//! and export trees with cut-short rows, bombs and symbolic links. Each test runs the real
//! binary; the lake must keep its last good content and the exit code must say it failed.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use costlake::model::{Dataset, PeriodId};
use costlake_emulator::{DEMO_KEY, Emulator};

use crate::common::{config, file_totals, partition_file, start, synced};
use crate::export_files::{
    EA, RunSpec, ea_actual_run, fixtures, gzip, ingest, sql, text, write_run,
};
use crate::query::costlake;

/// What the hostile server sends instead of the emulator's answer: given the request's path
/// and query, and how many times that one was asked for.
pub(crate) type Lie = Arc<dyn Fn(&str, u32) -> Option<Response> + Send + Sync>;

/// The emulator behind a server that lies where `lie` says and passes everything else on.
pub(crate) struct Hostile {
    pub(crate) url: String,
    pub(crate) emu: Emulator,
}

async fn hostile(rows: u64, lie: Lie) -> Hostile {
    hostile_with(config(rows), lie).await
}

/// The emulator configured by `cfg` behind a server that lies where `lie` says.
pub(crate) async fn hostile_with(mut cfg: costlake_emulator::EmulatorConfig, lie: Lie) -> Hostile {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    cfg.next_link_base = Some(url.clone());
    let emu = start(cfg).await;
    let upstream = emu.base_url();
    let asked: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (lie, asked, client, upstream) =
            (lie.clone(), asked.clone(), client.clone(), upstream.clone());
        async move {
            let uri = req.uri().to_string();
            let n = {
                let mut asked = asked.lock().unwrap();
                let n = asked.entry(uri.clone()).or_default();
                *n += 1;
                *n
            };
            if let Some(response) = lie(&uri, n) {
                return response;
            }
            let mut forward = client.get(format!("{upstream}{uri}"));
            for h in ["authorization", "if-none-match"] {
                if let Some(v) = req.headers().get(h) {
                    forward = forward.header(h, v.as_bytes());
                }
            }
            let answer = forward.send().await.unwrap();
            let mut out = Response::builder().status(answer.status().as_u16());
            for h in ["etag", "content-type", "retry-after"] {
                if let Some(v) = answer.headers().get(h) {
                    out = out.header(h, v.as_bytes());
                }
            }
            out.body(Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Hostile { url, emu }
}

pub(crate) fn json(status: u16, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn usage_page_of(uri: &str, period: PeriodId) -> bool {
    uri.contains(&format!("/billingPeriods/{period}/usagedetails"))
}

/// `costlake sync` of the usage through the hostile server, in `cwd` (for its costlake.toml).
fn sync_through(h: &Hostile, lake: &Path, cwd: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args(["sync", "--enrollment", "100", "--api-base", &h.url])
        .args(["--datasets", "usage_details", "--quiet", "--lake"])
        .arg(lake)
        .args(extra)
        .env("COSTLAKE_API_KEY", DEMO_KEY)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Each usage partition's rows and exact cost, as the emulator generated them.
fn assert_usage_whole(h: &Hostile, lake: &Path, periods: &[PeriodId]) {
    let e = h.emu.enrollment();
    for p in e.periods.iter().filter(|p| periods.contains(&p.id)) {
        let (rows, sums) = file_totals(
            &partition_file(lake, Dataset::UsageDetails, Some(p.id)),
            &["cost"],
        );
        assert_eq!(
            (rows, sums[0]),
            (e.totals(p).rows, e.totals(p).cost),
            "{}",
            p.id
        );
    }
}

const PERIODS: [PeriodId; 3] = [PeriodId(202401), PeriodId(202402), PeriodId(202403)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_the_documented_envelope_keeps_the_partition() {
    let told: Arc<Mutex<Option<String>>> = Arc::default();
    let lie = told.clone();
    let h = hostile(
        1500,
        Arc::new(move |uri, _| {
            let body = lie.lock().unwrap().clone()?;
            usage_page_of(uri, PERIODS[1]).then(|| json(200, body))
        }),
    )
    .await;
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync_through(&h, &lake, work.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for body in [
        r#"{"id":"x","data":{"cost":1},"nextLink":null}"#,
        r#"{"id":"x","data":"nothing today","nextLink":null}"#,
        r#"{"id":"x","nextLink":null}"#,
        r#"{"error":{"code":"Throttled","message":"try again later"}}"#,
        r#"{"id":"x","data":[{"error":"the service is down"}],"nextLink":null}"#,
        r#"[]"#,
    ] {
        *told.lock().unwrap() = Some(body.to_string());
        let out = sync_through(&h, &lake, work.path(), &["--refresh"]);
        assert_eq!(out.status.code(), Some(1), "{body}: {}", text(&out));
        assert!(text(&out).contains("202402"), "{body}: {}", text(&out));
        assert_usage_whole(&h, &lake, &PERIODS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_back_to_a_page_already_read_ends_the_period() {
    let base: Arc<Mutex<String>> = Arc::default();
    let to = base.clone();
    let h = hostile(
        1500,
        Arc::new(move |uri, _| {
            let page = format!(
                r#"{{"id":"x","data":[],"nextLink":"{}{uri}"}}"#,
                to.lock().unwrap()
            );
            usage_page_of(uri, PERIODS[1]).then(|| json(200, page))
        }),
    )
    .await;
    *base.lock().unwrap() = h.url.clone();
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync_through(&h, &lake, work.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("points back to a page already read"),
        "{}",
        text(&out)
    );
    assert!(!partition_file(&lake, Dataset::UsageDetails, Some(PERIODS[1])).exists());
    assert_usage_whole(&h, &lake, &[PERIODS[0], PERIODS[2]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_endless_bodies_and_trickles_are_cut_off() {
    // 64 MiB of spaces in 64 KiB of gzip: past the 4 MiB the settings below allow.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    let h = hostile(
        1500,
        Arc::new(move |uri, n| {
            if usage_page_of(uri, PERIODS[0]) {
                return Some(
                    Response::builder()
                        .header("content-encoding", "gzip")
                        .header("content-type", "application/json")
                        .body(Body::from(bomb.clone()))
                        .unwrap(),
                );
            }
            // The first answer of each page of these periods: a 500 whose body never ends,
            // or one byte and then nothing. Retried, they succeed.
            let endless = futures::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1 << 10]))
            });
            let trickle = futures::StreamExt::chain(
                futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from("{")) }),
                futures::stream::pending(),
            );
            match n {
                1 if usage_page_of(uri, PERIODS[1]) => Some(json(500, Body::from_stream(endless))),
                1 if usage_page_of(uri, PERIODS[2]) => Some(json(200, Body::from_stream(trickle))),
                _ => None,
            }
        }),
    )
    .await;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("costlake.toml"),
        "max_answer_mib = 4\nread_timeout_secs = 2\n",
    )
    .unwrap();
    let lake = work.path().join("lake");
    let out = sync_through(&h, &lake, work.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("sent more than 4 MiB"),
        "{}",
        text(&out)
    );
    assert!(!partition_file(&lake, Dataset::UsageDetails, Some(PERIODS[0])).exists());
    assert_usage_whole(&h, &lake, &PERIODS[1..]);
}

#[tokio::test]
async fn sql_cannot_write_into_the_lake_or_crash_the_shell() {
    let (_emu, dir) = synced(700).await;
    let lake = dir.path();
    let manifest = std::fs::read(lake.join("_costlake/manifest.json")).unwrap();
    let before = sql(lake, "SELECT count(*), sum(cost) FROM usage_details");
    let outside = tempfile::tempdir().unwrap();
    let copied = outside.path().join("copied.csv");
    for statement in [
        "INSERT INTO usage_details SELECT * FROM usage_details".to_string(),
        format!("COPY (SELECT 1) TO '{}'", copied.display()),
        "COPY usage_details TO '_costlake/manifest.json' STORED AS JSON".to_string(),
        "CREATE EXTERNAL TABLE p (a VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "DROP TABLE usage_details".to_string(),
    ] {
        let out = costlake(&["sql", &statement], lake);
        assert_eq!(out.status.code(), Some(2), "{statement}: {}", text(&out));
        assert!(text(&out).contains("only reads the lake"), "{}", text(&out));
        assert!(
            !text(&out).contains("root:"),
            "nothing of /etc/passwd is shown"
        );
    }
    assert!(!copied.exists());
    // A saved query under a built-in's name cannot write either.
    let queries = lake.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(
        queries.join("cost_by_department.sql"),
        "INSERT INTO usage_details SELECT * FROM usage_details",
    )
    .unwrap();
    let out = costlake(&["query", "cost_by_department"], lake);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    std::fs::remove_dir_all(&queries).unwrap();
    assert_eq!(
        sql(lake, "SELECT count(*), sum(cost) FROM usage_details"),
        before
    );
    assert_eq!(
        std::fs::read(lake.join("_costlake/manifest.json")).unwrap(),
        manifest
    );

    // A 2,000-term sum is an error with a sentence, not a stack overflow; 1,000 levels plan.
    let sum = |terms: usize| format!("SELECT {}", vec!["1"; terms].join("+"));
    let out = costlake(&["sql", &sum(2000)], lake);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("nests more than 1000"),
        "{}",
        text(&out)
    );
    let out = costlake(&["sql", &sum(999), "--format", "csv"], lake);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("999"), "{}", text(&out));
    // A 10 MB saved query is refused before it is read whole.
    let big = outside.path().join("big.sql");
    std::fs::write(&big, format!("SELECT 1 -- {}\n", "x".repeat(10 << 20))).unwrap();
    let out = costlake(&["query", big.to_str().unwrap()], lake);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("longer than 1024 KiB"),
        "{}",
        text(&out)
    );
}

#[test]
fn export_parts_cut_short_bombed_or_linked_outside_lose_nothing() {
    let actual =
        std::fs::read_to_string(fixtures().join("finops-toolkit/EA_ActualCost_Small.csv")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("container");
    let lake = work.path().join("lake");
    let mut runs = 0;
    let mut run = |name: &str, body: Vec<u8>| {
        runs += 1;
        let submitted = format!("2023-09-{:02}T15:57:06Z", 10 + runs);
        let run_id = format!("00000000-0000-4000-8000-{runs:012}");
        write_run(
            &source,
            &ea_actual_run(&run_id, &submitted, (name.to_string(), body, 11)),
        );
        ingest(&source, &lake)
    };
    let out = run("part_0_0001.csv", actual.clone().into_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let good = sql(
        &lake,
        "SELECT count(*), sum(cost_in_billing_currency) FROM cost_details",
    );

    // The last row cut short in the middle: one cell fewer than the header.
    let trimmed = actual.trim_end();
    let cut = &trimmed[..trimmed.rfind(',').unwrap()];
    let out = run("part_0_0001.csv", format!("{cut}\n").into_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("row 11 has") && text(&out).contains("part_0_0001.csv"),
        "{}",
        text(&out)
    );
    // A quote opened and never closed.
    let open = actual.replacen(",USD,", ",\"USD,", 1);
    let out = run("part_0_0001.csv", open.into_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A part that inflates a thousand times: a row, then 100 MiB of blank lines.
    let header = actual.lines().next().unwrap();
    let row = actual.lines().nth(1).unwrap();
    let mut bomb = format!("{header}\n{row}\n").into_bytes();
    bomb.resize(100 << 20, b'\n');
    let out = run("part_0_0001.csv.gz", gzip(&bomb));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("inflate"), "{}", text(&out));
    // Invalid UTF-8 is said to be so, as a CSV.
    let mut latin1 = actual.clone().into_bytes();
    let at = latin1.iter().rposition(|&b| b == b'U').unwrap();
    latin1[at] = 0xE9;
    let out = run("part_0_0001.csv", latin1);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not UTF-8") && !text(&out).contains("JSON"),
        "{}",
        text(&out)
    );
    assert_eq!(
        sql(
            &lake,
            "SELECT count(*), sum(cost_in_billing_currency) FROM cost_details"
        ),
        good
    );

    // Links: one to a file outside the source (which must not be read or echoed), one that
    // loops. Each is a warning; the rest ingests.
    let secret = work.path().join("secret.csv");
    std::fs::write(&secret, "TOP-SECRET-LINE,a,b\n1,2,3\n").unwrap();
    std::os::unix::fs::symlink(&secret, source.join("stolen.csv")).unwrap();
    std::os::unix::fs::symlink(&source, source.join("loop")).unwrap();
    // A CSV that is not an export, where an export of before 2024 could be: refused, and its
    // first line not shown.
    let stray = source.join("notes/20230901-20230930");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("notes.csv"), "TOP-SECRET-HEADER,x\n1,2\n").unwrap();
    let out = ingest(&source, &lake);
    assert!(
        text(&out).contains("none of its 2 headers names a column of cost_details"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("a symbolic link out of the source")
            && text(&out).contains("a symbolic link back to a folder above it")
            && !text(&out).contains("TOP-SECRET"),
        "{}",
        text(&out)
    );

    // Two runs submitted at the same instant: the choice is said, not made silently.
    write_run(
        &source,
        &RunSpec {
            export: "daily-actual",
            export_type: "ActualCost",
            data_version: "2021-10-01",
            scope: EA,
            month: "2023-09",
            submitted: "2023-09-15T15:57:06Z",
            run_id: "00000000-0000-4000-8000-000000000099",
            parts: vec![("part_0_0001.csv".into(), actual.clone().into_bytes(), 11)],
        },
    );
    let out = ingest(&source, &lake);
    assert!(
        text(&out).contains("were submitted at the same time")
            && text(&out).contains("00000000-0000-4000-8000-000000000099 is taken"),
        "{}",
        text(&out)
    );

    // A source with folders but no run in it is an error, not a quiet success.
    let empty = work.path().join("empty/a/b");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("notes.csv"), "x\n").unwrap();
    let out = ingest(&work.path().join("empty"), &work.path().join("lake2"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no export runs"), "{}", text(&out));
}
