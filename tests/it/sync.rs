//! `costlake sync` end to end, over real HTTP from the emulator into Parquet: exact totals,
//! incremental reruns, 304s, retries through every fault, a refused key, a foreign nextLink,
//! and a process killed mid-sync.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use costlake::http::ApiKey;
use costlake::lake::Lake;
use costlake::model::PeriodSelection;
use costlake::model::{Dataset, Provenance};
use costlake::schema::DECIMAL_SCALE;
use costlake::source::Outcome;
use costlake_emulator::generator::QUANTITY_SCALE;
use costlake_emulator::{EmulatorConfig, Fault, PeriodId};

use crate::common::{
    config, file_totals, partition_file, start, sync, sync_options, synced, synced_with,
};

/// Quantities come from the generator at QUANTITY_SCALE; the lake holds them at DECIMAL_SCALE.
fn lake_quantity(q: i128) -> i128 {
    q * 10i128.pow(DECIMAL_SCALE as u32 - QUANTITY_SCALE)
}

/// Every partition of every dataset holds exactly what the generator made.
fn assert_lake_matches(lake: &std::path::Path, emu: &costlake_emulator::Emulator) {
    let e = emu.enrollment();
    for p in &e.periods {
        let totals = e.totals(p);
        let (rows, sums) = file_totals(
            &partition_file(lake, Dataset::UsageDetails, Some(p.id)),
            &["cost", "consumed_quantity"],
        );
        assert_eq!(rows, totals.rows, "usage rows {}", p.id);
        assert_eq!(sums[0], totals.cost, "usage cost {}", p.id);
        assert_eq!(
            sums[1],
            lake_quantity(totals.quantity),
            "usage quantity {}",
            p.id
        );
        if totals.marketplace_rows > 0 {
            let (rows, sums) = file_totals(
                &partition_file(lake, Dataset::MarketplaceCharges, Some(p.id)),
                &["extended_cost"],
            );
            assert_eq!(
                (rows, sums[0]),
                (totals.marketplace_rows, totals.marketplace),
                "marketplace {}",
                p.id
            );
        } else {
            assert!(
                !partition_file(lake, Dataset::MarketplaceCharges, Some(p.id)).exists(),
                "null link, no partition"
            );
        }
        let balance = e.balance(p);
        let (rows, sums) = file_totals(
            &partition_file(lake, Dataset::BalanceSummary, Some(p.id)),
            &["total_usage", "utilized", "total_overage"],
        );
        assert_eq!(rows, 1);
        assert_eq!(
            sums,
            vec![balance.total_usage, balance.utilized, balance.total_overage]
        );
        let (rows, _) = file_totals(
            &partition_file(lake, Dataset::PriceSheet, Some(p.id)),
            &["unit_price"],
        );
        assert_eq!(rows, e.price_sheet_meters().count() as u64);
    }
    let (rows, _) = file_totals(&partition_file(lake, Dataset::BillingPeriods, None), &[]);
    assert_eq!(rows, e.periods.len() as u64);
}

#[tokio::test]
async fn sync_fills_every_table_with_exact_totals() {
    let emu = start(config(2500)).await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(report.ok(), "{}", report.summary());
    assert_lake_matches(dir.path(), &emu);
    // The manifest records every partition with its rows, checksum and state.
    let manifest = Lake::open(&dir.path().display().to_string(), false)
        .await
        .unwrap()
        .manifest()
        .await
        .unwrap();
    let usage: Vec<_> = manifest.of(Dataset::UsageDetails).collect();
    assert_eq!(usage.len(), 3);
    for entry in usage {
        assert_eq!(entry.rows, 2500);
        assert_eq!(entry.sha256.len(), 64);
        assert!(matches!(
            &entry.provenance,
            Provenance::EaApi { closed: true, etag: Some(_), api_version } if api_version == "v3"
        ));
        let file = dir.path().join(&entry.file);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), entry.bytes);
    }
    // Parquet files carry the versions and are zstd-compressed.
    let reader = parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(partition_file(
            dir.path(),
            Dataset::UsageDetails,
            Some(PeriodId(202402)),
        ))
        .unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata().file_metadata();
    let kv = meta.key_value_metadata().unwrap();
    assert!(
        kv.iter()
            .any(|k| k.key == "costlake.schema_version" && k.value.as_deref() == Some("1"))
    );
    assert!(
        format!(
            "{:?}",
            reader.metadata().row_group(0).column(0).compression()
        )
        .contains("ZSTD")
    );
}

#[tokio::test]
async fn a_rerun_makes_no_request_for_closed_periods() {
    let (emu, dir) = synced(800).await;
    emu.clear_requests();
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(report.ok());
    let requests = emu.requests();
    assert_eq!(requests.len(), 1, "only the period list: {requests:?}");
    assert!(requests[0].uri.ends_with("/billingperiods"));
    assert_eq!(
        report
            .units
            .iter()
            .filter(|u| u.outcome == Outcome::Skipped)
            .count(),
        3 * 4 - 1
    );
    // --refresh fetches them all again, and the lake is unchanged.
    let mut opts = sync_options(&emu, dir.path());
    opts.settings.refresh = true;
    let report = sync(&opts).await.unwrap();
    assert_eq!(
        report
            .units
            .iter()
            .filter(|u| matches!(u.outcome, Outcome::Written { .. }))
            .count(),
        3 * 4
    );
    assert_lake_matches(dir.path(), &emu);
}

#[tokio::test]
async fn open_periods_are_asked_again_and_304_keeps_the_data() {
    // The current month is open (the emulator's default last period).
    let (emu, dir) = synced_with(EmulatorConfig {
        periods: 2,
        page_size: 250,
        last_period: None,
        today: None,
        ..config(600)
    })
    .await;
    let current = emu.enrollment().periods[1].id;
    let file = partition_file(dir.path(), Dataset::UsageDetails, Some(current));
    let before = std::fs::read(&file).unwrap();
    emu.clear_requests();
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(report.ok());
    let usage = report
        .units
        .iter()
        .find(|u| u.key.dataset == Dataset::UsageDetails && u.key.period == Some(current))
        .unwrap();
    assert_eq!(usage.outcome, Outcome::Unchanged);
    let asked: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.uri.contains(&format!("{current}/usagedetails")))
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].if_none_match.is_some());
    assert_eq!(asked[0].status, 304);
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[tokio::test]
async fn retries_through_every_fault() {
    let mut cfg = config(1500);
    cfg.faults.slow = Duration::from_secs(8); // longer than the client's timeout below
    let emu = start(cfg).await;
    emu.inject(Fault::RateLimited, "202401/usagedetails", 2);
    emu.inject(Fault::Unavailable, "202402/usagedetails?skiptoken", 1);
    emu.inject(Fault::ServerError, "202403/usagedetails", 1);
    emu.inject(Fault::DropConnection, "202402/usagedetails", 1);
    emu.inject(Fault::DropConnection, "202403/pricesheet", 1);
    emu.inject(Fault::DropConnection, "202402/marketplacecharges", 1);
    emu.inject(Fault::Slow, "202401/pricesheet", 1);
    emu.inject(Fault::Slow, "202403/usagedetails?skiptoken", 1);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = sync_options(&emu, dir.path());
    opts.settings.retry.request_timeout = Duration::from_secs(4);
    let report = sync(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.summary());
    let retries: u32 = report.units.iter().map(|u| u.retries).sum();
    assert!(
        retries >= 9,
        "each of the nine injected faults cost a retry: {retries}"
    );
    assert_lake_matches(dir.path(), &emu);
    // Only the failed page was asked again: each page URL was fetched at most once more
    // than its faults.
    let reqs = emu.requests();
    let page_fetches = reqs
        .iter()
        .filter(|r| r.uri.contains("202402/usagedetails?skiptoken"))
        .count();
    let pages = 1500usize.div_ceil(700);
    assert!(
        page_fetches <= pages - 1 + 2,
        "{page_fetches} fetches of {pages} pages"
    );
}

#[tokio::test]
async fn persistent_failures_fail_the_unit_and_keep_the_lake() {
    let (emu, dir) = synced(900).await;
    let file = partition_file(dir.path(), Dataset::UsageDetails, Some(PeriodId(202402)));
    let before = std::fs::read(&file).unwrap();
    emu.inject(Fault::ServerError, "202402/usagedetails?skiptoken", 50);
    let mut opts = sync_options(&emu, dir.path());
    opts.settings.refresh = true;
    let report = sync(&opts).await.unwrap();
    assert!(!report.ok());
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1, "{}", report.summary());
    assert_eq!(
        (failed[0].key.dataset, failed[0].key.period),
        (Dataset::UsageDetails, Some(PeriodId(202402)))
    );
    assert!(report.summary().contains("usage_details 202402"));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the previous partition is untouched"
    );
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no staged file left: {leftovers:?}");
}

#[tokio::test]
async fn a_wrong_key_fails_fast_with_a_plain_sentence() {
    let emu = start(config(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = sync_options(&emu, dir.path());
    opts.key = ApiKey::new("expired-key").unwrap();
    let err = sync(&opts).await.unwrap_err().to_string();
    assert!(
        err.contains("401") && err.contains("expire") && err.contains("COSTLAKE_API_KEY"),
        "{err}"
    );
    assert!(
        !err.contains("expired-key"),
        "the key is never printed: {err}"
    );
    assert_eq!(emu.requests().len(), 1, "no retries of a refused key");
    assert!(!dir.path().join("usage_details").exists());
}

/// A server that records the Authorization headers it receives.
async fn recorder() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(
                headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string()),
            );
            r#"{"id":"x","data":[],"nextLink":null}"#
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_next_link_to_another_host_never_gets_the_key() {
    let (other, seen) = recorder().await;
    let mut cfg = config(1000);
    cfg.next_link_base = Some(other.clone());
    let emu = start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(!report.ok());
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(
        failed.len(),
        3,
        "every usage period fails: {}",
        report.summary()
    );
    assert!(
        failed
            .iter()
            .all(|u| u.key.dataset == Dataset::UsageDetails)
    );
    assert!(
        report.summary().contains("refusing to follow the link"),
        "{}",
        report.summary()
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "the other host got no request at all"
    );
    // The other datasets still landed.
    assert!(partition_file(dir.path(), Dataset::PriceSheet, Some(PeriodId(202402))).exists());
    assert!(!partition_file(dir.path(), Dataset::UsageDetails, Some(PeriodId(202402))).exists());
}

#[tokio::test]
async fn custom_dates_file_rows_under_their_period() {
    let emu = start(config(1200)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = sync_options(&emu, dir.path());
    opts.settings.periods = PeriodSelection::Dates(
        chrono::NaiveDate::from_ymd_opt(2024, 2, 10).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2024, 3, 5).unwrap(),
    );
    let report = sync(&opts).await.unwrap();
    assert!(report.ok(), "{}", report.summary());
    let requests = emu.requests();
    assert!(requests.iter().any(|r| {
        r.uri
            .contains("usagedetailsbycustomdate?startTime=2024-02-01&endTime=2024-02-29")
    }));
    assert!(requests.iter().any(|r| {
        r.uri
            .contains("marketplacechargesbycustomdate?startTime=2024-03-01&endTime=2024-03-31")
    }));
    let e = emu.enrollment();
    for p in &e.periods[1..] {
        let (rows, sums) = file_totals(
            &partition_file(dir.path(), Dataset::UsageDetails, Some(p.id)),
            &["cost"],
        );
        assert_eq!((rows, sums[0]), (e.totals(p).rows, e.totals(p).cost));
    }
    assert!(!partition_file(dir.path(), Dataset::UsageDetails, Some(PeriodId(202401))).exists());
}

#[tokio::test]
async fn a_killed_sync_leaves_whole_partitions_and_the_next_run_completes() {
    let mut cfg = config(30_000);
    cfg.page_size = 2000;
    let emu = start(cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_costlake"))
        .args([
            "sync",
            "--enrollment",
            "100",
            "--api-base",
            &emu.base_url(),
            "--jobs",
            "2",
            "--quiet",
            "--lake",
        ])
        .arg(dir.path())
        .env("COSTLAKE_API_KEY", costlake_emulator::DEMO_KEY)
        .spawn()
        .unwrap();
    // Kill it once the first usage partition is in place, while others are mid-write.
    let first = partition_file(dir.path(), Dataset::UsageDetails, Some(PeriodId(202401)));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !first.exists()
        && std::time::Instant::now() < deadline
        && child.try_wait().unwrap().is_none()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Whatever is visible is whole: every part-0.parquet reads to the end.
    for p in &emu.enrollment().periods {
        let file = partition_file(dir.path(), Dataset::UsageDetails, Some(p.id));
        if file.exists() {
            let (rows, sums) = file_totals(&file, &["cost"]);
            assert_eq!(
                (rows, sums[0]),
                (
                    emu.enrollment().totals(p).rows,
                    emu.enrollment().totals(p).cost
                )
            );
        }
    }
    let report = sync(&sync_options(&emu, dir.path())).await.unwrap();
    assert!(report.ok(), "{}", report.summary());
    assert_lake_matches(dir.path(), &emu);
    let staged = crate::common::files_under(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains('#'))
        .count();
    assert_eq!(staged, 0, "staged leftovers are cleaned up");
}
