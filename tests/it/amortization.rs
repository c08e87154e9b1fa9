//! Amortized cost done right, through the binary: actual and amortized cost exports with the
//! enrollment's reservations (bought up front and monthly, one refunded, one exchanged, hours
//! used and unused, an open month), ingested and read back through `focus`. BilledCost per month and
//! per reservation equals the actual charges, EffectiveCost the amortization schedule, and no
//! commitment is counted twice; every figure is computed here from the generator's
//! reservations, not from its export rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use costlake::model::PeriodId;
use costlake_emulator::EmulatorConfig;
use costlake_emulator::exports::{ExportTreeOptions, write_tree};
use costlake_emulator::generator::{AMOUNT_SCALE, Enrollment, HOURS_SCALE};

use crate::export_files::{ingest, sql};
use crate::query::{dec, stdout};

/// Money at the lake's 12 places from the generator's reservation amounts.
const TO_LAKE: i128 = 10i128.pow(12 - AMOUNT_SCALE);

pub fn enrollment() -> Enrollment {
    costlake::http::install_crypto_provider();
    EmulatorConfig {
        seed: crate::common::SEED,
        periods: 5,
        last_period: Some(PeriodId(202405)),
        rows_per_period: 1500,
        today: Some(NaiveDate::from_ymd_opt(2024, 5, 25).unwrap()),
        ..EmulatorConfig::default()
    }
    .enrollment()
}

/// The amortization schedule as documented: a month's charge `m` spread over its `d` days,
/// day k (from 0) getting ⌊(k+1)·m/d⌋ − ⌊k·m/d⌋; the days `a..b` of a month get
/// ⌊b·m/d⌋ − ⌊a·m/d⌋.
fn schedule(monthly: i128, month: PeriodId, from: NaiveDate, to: NaiveDate) -> i128 {
    let m = monthly * TO_LAKE;
    let d = month.days() as i128;
    let first = from.max(month.first_day());
    let last = to.min(month.last_day());
    if first > last {
        return 0;
    }
    let (a, b) = (first.day0() as i128, last.day0() as i128 + 1);
    b * m / d - a * m / d
}

/// A lake from the enrollment's actual and amortized cost exports with its reservations.
pub async fn commitments_lake(e: &Enrollment, work: &Path) -> PathBuf {
    let (tree, lake) = (work.join("exports"), work.join("lake"));
    std::fs::create_dir_all(&tree).unwrap();
    let store =
        std::sync::Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&tree).unwrap());
    let opts = ExportTreeOptions {
        part_rows: 700,
        types: vec!["ActualCost".into(), "AmortizedCost".into()],
        commitments: true,
        ..Default::default()
    };
    write_tree(e, store, &opts).await.unwrap();
    stdout(&ingest(&tree, &lake));
    lake
}

#[tokio::test]
async fn effective_cost_spreads_each_commitment_over_its_days_and_counts_it_once() {
    let e = enrollment();
    let work = tempfile::tempdir().unwrap();
    let lake = commitments_lake(&e, work.path()).await;

    let reservations = e.reservations();
    assert!(reservations.iter().any(|r| r.recurring));
    assert!(reservations.iter().any(|r| r.refunded.is_some()));
    assert!(
        reservations.iter().any(|a| a
            .refunded
            .is_some_and(|day| reservations.iter().any(|b| b.purchased == day))),
        "an exchange: one order returned the day another is bought"
    );
    let today = e.spec.today;
    // The last day with data: the open month runs to today.
    let data_end = {
        let p = e.periods.last().unwrap();
        p.id.first_day() + Duration::days(p.days_with_data as i64 - 1)
    };

    // Independent figures per (month, reservation id): what actual cost bills, and what the
    // schedule amortizes over the days the reservation covers.
    let mut billed: BTreeMap<(String, String), i128> = BTreeMap::new();
    let mut amortized: BTreeMap<(String, String), i128> = BTreeMap::new();
    for r in &reservations {
        let id = |p: PeriodId| (p.to_string(), r.id.clone());
        let months = if r.term == "P3Y" { 36 } else { 12 };
        // Purchases: once up front, or monthly on the purchase day; a refund returns the
        // months not yet begun.
        let mut charge = r.purchased;
        let mut bought_months = 0;
        while charge <= r.last_day() && charge <= today {
            let amount = if r.recurring {
                r.monthly
            } else {
                r.monthly * months
            };
            *billed.entry(id(PeriodId::of_date(charge))).or_default() += amount * TO_LAKE;
            bought_months += 1;
            if !r.recurring {
                break;
            }
            charge = charge.checked_add_months(chrono::Months::new(1)).unwrap();
        }
        assert!(bought_months > 0);
        if let Some(day) = r.refunded {
            let used = (day.year() - r.purchased.year()) * 12 + day.month() as i32
                - r.purchased.month() as i32
                + 1;
            *billed.entry(id(PeriodId::of_date(day))).or_default() -=
                r.monthly * (months - used as i128).max(0) * TO_LAKE;
        }
        for p in &e.periods {
            let share = schedule(r.monthly, p.id, r.purchased, r.last_day().min(data_end));
            if share != 0 {
                *amortized.entry(id(p.id)).or_default() += share;
            }
        }
    }

    // Per reservation and month, through `focus`.
    let per_commitment = sql(
        &lake,
        "SELECT \"x_BillingPeriod\", \"CommitmentDiscountId\", sum(\"BilledCost\"), sum(\"EffectiveCost\") \
         FROM focus WHERE \"CommitmentDiscountId\" IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
    );
    let mut got_billed = BTreeMap::new();
    let mut got_effective = BTreeMap::new();
    for row in &per_commitment[1..] {
        let reservation = row[1].rsplit('/').next().unwrap().to_string();
        let key = (row[0].clone(), reservation);
        if dec(&row[2]) != 0 {
            got_billed.insert(key.clone(), dec(&row[2]));
        }
        if dec(&row[3]) != 0 {
            got_effective.insert(key, dec(&row[3]));
        }
    }
    assert_eq!(got_billed, billed, "BilledCost per month and reservation");
    assert_eq!(
        got_effective, amortized,
        "EffectiveCost per month and reservation"
    );

    // Per month: BilledCost is the actual export's total and EffectiveCost the amortized
    // one's; their difference is the schedule less the commitments billed.
    let totals = sql(
        &lake,
        "SELECT billing_period, cost_type, sum(cost_in_billing_currency) FROM cost_details GROUP BY 1, 2",
    );
    let export_total = |period: &str, cost_type: &str| {
        totals[1..]
            .iter()
            .find(|r| r[0] == period && r[1] == cost_type)
            .map_or(0, |r| dec(&r[2]))
    };
    let focus = sql(
        &lake,
        "SELECT \"x_BillingPeriod\", sum(\"BilledCost\"), sum(\"EffectiveCost\") FROM focus GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(focus.len() - 1, e.periods.len());
    for row in &focus[1..] {
        let (period, billed_cost, effective) = (&row[0], dec(&row[1]), dec(&row[2]));
        assert_eq!(
            billed_cost,
            export_total(period, "actual"),
            "{period} BilledCost"
        );
        assert_eq!(
            effective,
            export_total(period, "amortized"),
            "{period} EffectiveCost"
        );
        let of = |m: &BTreeMap<(String, String), i128>| {
            m.iter()
                .filter(|((p, _), _)| p == period)
                .map(|(_, v)| v)
                .sum::<i128>()
        };
        assert_eq!(
            effective - billed_cost,
            of(&amortized) - of(&billed),
            "{period}: amortized less billed commitments"
        );
    }

    // Unused hours are their own charges: the hours reserved and not used, per reservation.
    let mut unused_hours: BTreeMap<String, i128> = BTreeMap::new();
    for day in e.reservation_days(&reservations, e.periods[0].id.first_day(), data_end) {
        *unused_hours.entry(day.reservation.id.clone()).or_default() +=
            day.reserved_hours - day.used_hours;
    }
    unused_hours.retain(|_, h| *h != 0);
    let unused = sql(
        &lake,
        "SELECT \"CommitmentDiscountId\", sum(\"ConsumedQuantity\"), min(\"BilledCost\"), max(\"BilledCost\") \
         FROM focus WHERE \"CommitmentDiscountStatus\" = 'Unused' GROUP BY 1",
    );
    let got: BTreeMap<String, i128> = unused[1..]
        .iter()
        .map(|r| {
            assert_eq!(
                (dec(&r[2]), dec(&r[3])),
                (0, 0),
                "unused hours bill nothing"
            );
            (
                r[0].rsplit('/').next().unwrap().to_string(),
                dec(&r[1]) / 10i128.pow(12 - HOURS_SCALE),
            )
        })
        .collect();
    assert_eq!(got, unused_hours, "unused hours per reservation");

    // Hours a reservation covered appear once, from the amortized export.
    let covered = sql(
        &lake,
        "SELECT \"x_SourceDataset\", count(*) FROM focus WHERE \"CommitmentDiscountStatus\" = 'Used' GROUP BY 1",
    );
    assert_eq!(covered.len(), 2, "{covered:?}");
    let used_days = e
        .reservation_days(&reservations, e.periods[0].id.first_day(), data_end)
        .iter()
        .filter(|d| d.used_hours > 0)
        .count();
    assert_eq!(covered[1][1], used_days.to_string());

    // The saved query's amortized cost per reservation is the schedule, and its unused
    // quantity the hours left unused, month by month.
    for p in &e.periods {
        let period = p.id.to_string();
        let rows = crate::query::parse_csv(
            &stdout(&crate::query::costlake(
                &[
                    "query",
                    "commitment_savings",
                    "-p",
                    &format!("period={period}"),
                    "--format",
                    "csv",
                ],
                &lake,
            )),
            ',',
        );
        let got: BTreeMap<(String, String), i128> = rows[1..]
            .iter()
            .map(|r| ((period.clone(), r[0].clone()), dec(&r[6]) + dec(&r[7])))
            .collect();
        let want: BTreeMap<(String, String), i128> = amortized
            .iter()
            .filter(|((month, _), _)| *month == period)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(got, want, "commitment_savings, {period}");
        for r in &rows[1..] {
            // Covered hours cost less than on demand: the saving is not shown as none.
            assert!(dec(&r[5]) > dec(&r[6]), "{period} {}: {r:?}", r[0]);
            let net = dec(&r[5]) - dec(&r[6]) - dec(&r[7]);
            assert_eq!(dec(&r[8]), net, "net savings of {}", r[0]);
        }
    }
}
