//! Reservations through `costlake sync --billing-account`, end to end through the binary: the
//! details report polled and read from its expiring link, the transactions and
//! recommendations lists paged one item at a time, each table equal to what the emulator's
//! generator made, to the last digit; and a list that links back to itself failing its own
//! units and nothing else.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use costlake_emulator::Fault;
use costlake_emulator::generator::{AMOUNT_SCALE, HOURS_SCALE};

use crate::common::{files_under, start};
use crate::cost_management::{config, dec, requests_to, sync, with_secret};
use crate::export_files::{sql, text};
use crate::hostile::{hostile_with, json};
use crate::saved_queries::{money as decimal, query, text as cell};

const RESERVATIONS: &str =
    "reservation_details,reservation_transactions,reservation_recommendations";

/// Per period: rows and two exact sums, as the lake answers them.
fn sums(lake: &std::path::Path, query: &str) -> BTreeMap<String, (u64, i128, i128)> {
    sql(lake, query)[1..]
        .iter()
        .map(|r| {
            (
                r[0].clone(),
                (r[1].parse().unwrap(), dec(&r[2]), dec(&r[3])),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_land_exactly_through_reports_and_pages() {
    let mut cfg = config(300);
    cfg.arm.list_page_size = 1;
    let emu = start(cfg).await;
    emu.inject(Fault::LinkExpired, "/blobs/rsvdetails-", 1);
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let out = sync(
        &emu,
        &lake,
        &["--datasets", RESERVATIONS],
        &with_secret(&emu),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 months found; 7 fetched"),
        "3 months × (details, transactions) and today's recommendations: {}",
        text(&out)
    );

    let e = emu.enrollment();
    let reservations = e.reservations();
    let hours = 10i128.pow(12 - HOURS_SCALE);
    let money = 10i128.pow(12 - AMOUNT_SCALE);
    let mut details = BTreeMap::new();
    let mut transactions = BTreeMap::new();
    for p in &e.periods {
        let (first, last) = (p.id.first_day(), p.id.last_day());
        let days = e.reservation_days(&reservations, first, last);
        details.insert(
            p.id.to_string(),
            (
                days.len() as u64,
                days.iter().map(|d| d.used_hours).sum::<i128>() * hours,
                days.iter().map(|d| d.reserved_hours).sum::<i128>() * hours,
            ),
        );
        let events = e.reservation_events(&reservations, first, last);
        if !events.is_empty() {
            transactions.insert(
                p.id.to_string(),
                (
                    events.len() as u64,
                    events.iter().map(|e| e.amount).sum::<i128>() * money,
                    events
                        .iter()
                        .filter(|e| e.amount < 0)
                        .map(|e| e.amount)
                        .sum::<i128>()
                        * money,
                ),
            );
        }
    }
    assert!(details.values().any(|d| d.1 > 0) && transactions.len() >= 2);
    assert!(
        transactions.values().any(|t| t.2 < 0),
        "the generator refunds one reservation"
    );
    assert_eq!(
        sums(
            &lake,
            "SELECT billing_period, count(*), sum(used_hours), sum(reserved_hours) \
             FROM reservation_details GROUP BY 1 ORDER BY 1"
        ),
        details
    );
    assert_eq!(
        sums(
            &lake,
            "SELECT billing_period, count(*), sum(amount), \
             coalesce(sum(CASE WHEN amount < 0 THEN amount END), 0) \
             FROM reservation_transactions GROUP BY 1 ORDER BY 1"
        ),
        transactions
    );
    // The saved query's utilization of each reservation in each period, least used first.
    for p in &e.periods {
        let mut expected: BTreeMap<String, (i128, i128)> = BTreeMap::new();
        for d in e.reservation_days(&reservations, p.id.first_day(), p.id.last_day()) {
            let entry = expected.entry(d.reservation.id.clone()).or_default();
            entry.0 += d.reserved_hours * hours;
            entry.1 += d.used_hours * hours;
        }
        let rows = query(
            &lake,
            "reservation_utilization",
            &[&format!("period={}", p.id)],
        );
        let got: BTreeMap<String, (i128, i128)> = rows
            .iter()
            .map(|r| {
                let (reserved, used) = (decimal(r, "reserved_hours"), decimal(r, "used_hours"));
                assert_eq!(decimal(r, "unused_hours"), reserved - used);
                (cell(r, "reservation_id"), (reserved, used))
            })
            .collect();
        assert_eq!(got, expected, "{}", p.id);
        let utilization: Vec<i128> = rows.iter().map(|r| decimal(r, "utilization_pct")).collect();
        assert!(
            utilization.windows(2).all(|w| w[0] <= w[1]),
            "least used first"
        );
    }
    let recommended = e.reservation_recommendations(30);
    let today = costlake::model::PeriodId::of_date(chrono::Utc::now().date_naive()).to_string();
    assert_eq!(
        sums(
            &lake,
            "SELECT billing_period, count(*), sum(net_savings), \
             sum(cost_with_no_reserved_instances) FROM reservation_recommendations GROUP BY 1"
        ),
        BTreeMap::from([(
            today,
            (
                recommended.len() as u64,
                recommended
                    .iter()
                    .map(|r| r.cost_without - r.cost_with)
                    .sum::<i128>()
                    * money,
                recommended.iter().map(|r| r.cost_without).sum::<i128>() * money,
            )
        )])
    );
    let scopes = sql(
        &lake,
        "SELECT scope, count(*), min(look_back_period), min(sku) FROM reservation_recommendations \
         GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        scopes[1..],
        [
            ["Shared", "3", "Last30Days", "Standard_B2s"]
                .map(String::from)
                .to_vec(),
            ["Single", "3", "Last30Days", "Standard_B2s"]
                .map(String::from)
                .to_vec(),
        ]
    );

    // One item per page: the lists were followed through their nextLinks.
    let paged = |path: &str| {
        requests_to(&emu, path)
            .iter()
            .filter(|r| r.uri.contains("skiptoken"))
            .count()
    };
    assert!(paged("reservationTransactions") >= 1);
    assert_eq!(paged("reservationRecommendations"), 4);
    // The expired link asked for one more report; no link carried the token.
    assert_eq!(
        requests_to(&emu, "generateReservationDetailsReport").len(),
        3 + 1
    );
    let blobs = requests_to(&emu, "/blobs/rsvdetails-");
    assert!(blobs.iter().any(|r| r.status == 403));
    assert!(blobs.iter().all(|r| !r.had_authorization));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_links_back_to_itself_fails_alone() {
    let base: Arc<std::sync::Mutex<String>> = Arc::default();
    let to = base.clone();
    let h = hostile_with(
        config(300),
        Arc::new(move |uri, _| {
            uri.to_ascii_lowercase()
                .contains("reservationtransactions")
                .then(|| {
                    let page =
                        format!(r#"{{"value":[],"nextLink":"{}{uri}"}}"#, to.lock().unwrap());
                    json(200, page)
                })
        }),
    )
    .await;
    *base.lock().unwrap() = h.url.clone();
    let work = tempfile::tempdir().unwrap();
    let lake = work.path().join("lake");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costlake"));
    cmd.args(["sync", "--billing-account", "100", "--arm-base", &h.url])
        // The lying server passes GETs on only: the lists, not the details report's POST.
        .args([
            "--datasets",
            "reservation_transactions,reservation_recommendations",
        ])
        .arg("--lake")
        .arg(&lake)
        .current_dir(work.path());
    for (k, v) in with_secret(&h.emu) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("points back to a page already read"), "{t}");
    assert!(t.contains("3 failed"), "{t}");
    let files = files_under(&lake);
    let written = |dataset: &str| {
        files
            .iter()
            .filter(|f| f.to_string_lossy().contains(&format!("{dataset}/")))
            .filter(|f| f.extension().is_some_and(|x| x == "parquet"))
            .count()
    };
    assert_eq!(written("reservation_transactions"), 0);
    assert_eq!(written("reservation_recommendations"), 1);
}
