//! The analyses beyond spend by dimension: anomalies per subscription and per service, tag
//! coverage with keys compared case-insensitively, and the month-end and year-end forecast
//! beside the commitment, each run through the binary on a lake from the EA API and on one from
//! Cost Management exports of the same enrollment, and checked against the generator by the rule
//! its header states.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use costlake_emulator::generator::Enrollment;

use crate::common::{ingested, synced};
use crate::saved_queries::{charges, is_null, money, query, tags, text};

#[tokio::test]
async fn the_analyses_match_the_generator_on_an_ea_api_lake() {
    let (emu, lake) = synced(6000).await;
    analyses_match(lake.path(), emu.enrollment(), true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analyses_match_the_generator_on_an_exports_lake() {
    let (emu, work) = ingested(6000).await;
    analyses_match(&work.path().join("lake"), emu.enrollment(), false);
}

const UNIT: i128 = 1_000_000_000_000;

fn analyses_match(lake: &Path, e: &Enrollment, balances: bool) {
    let feb = &e.periods[1];

    // Anomalies, by the header's rule with threshold 0.3 and min_change 1: with n of the 7
    // previous days with charges summing S, |n·c − S|·10 > 3·|S| and |n·c − S| > n.
    let mut daily: BTreeMap<(String, String), BTreeMap<NaiveDate, i128>> = BTreeMap::new();
    for c in charges(e, feb) {
        for (scope, name) in [("subscription", c.subscription), ("service", c.service)] {
            *daily
                .entry((scope.into(), name.into()))
                .or_default()
                .entry(c.date)
                .or_default() += c.cost;
        }
    }
    let mut expected = BTreeSet::new();
    for ((scope, name), days) in &daily {
        let days: Vec<(&NaiveDate, &i128)> = days.iter().collect();
        for (i, (date, cost)) in days.iter().enumerate() {
            let prior = &days[i.saturating_sub(7)..i];
            let (n, s) = (
                prior.len() as i128,
                prior.iter().map(|(_, c)| **c).sum::<i128>(),
            );
            let off = (n * **cost - s).abs();
            if n >= 3 && off * 10 > 3 * s.abs() && off > n * UNIT {
                expected.insert((scope.clone(), name.clone(), date.to_string()));
            }
        }
    }
    let got: BTreeSet<(String, String, String)> = query(
        lake,
        "anomalies",
        &["period=202402", "threshold=0.3", "min_change=1"],
    )
    .iter()
    .map(|r| (text(r, "scope"), text(r, "name"), text(r, "date")))
    .collect();
    assert!(
        expected.iter().any(|(s, ..)| s == "subscription")
            && expected.iter().any(|(s, ..)| s == "service"),
        "the generator's days vary enough to flag some: {expected:?}"
    );
    assert_eq!(got, expected);

    // Tag coverage: each key, whatever its spelling, once per charge.
    let mut coverage: BTreeMap<String, (BTreeSet<String>, u64, i128)> = BTreeMap::new();
    let mut period_cost = 0;
    for c in charges(e, feb) {
        period_cost += c.cost;
        let keys: Vec<String> = tags(&c.resource.tags)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let lowered: BTreeSet<String> = keys.iter().map(|k| k.to_lowercase()).collect();
        for key in &keys {
            coverage
                .entry(key.to_lowercase())
                .or_default()
                .0
                .insert(key.clone());
        }
        for key in lowered {
            let entry = coverage.entry(key).or_default();
            entry.1 += 1;
            entry.2 += c.cost;
        }
    }
    assert!(
        coverage["env"].0.len() > 1,
        "the generator spells env two ways"
    );
    let got: BTreeMap<String, (BTreeSet<String>, u64, i128)> =
        query(lake, "tag_coverage", &["period=202402"])
            .iter()
            .map(|r| {
                assert_eq!(money(r, "cost_without_key"), period_cost - money(r, "cost"));
                (
                    text(r, "tag_key"),
                    (
                        text(r, "spellings").split(", ").map(String::from).collect(),
                        r["charges"].get().parse().unwrap(),
                        money(r, "cost"),
                    ),
                )
            })
            .collect();
    assert_eq!(got, coverage);

    // The forecast of the newest month: to date, the mean of its last 7 days for each day
    // left; the year: earlier months as billed and the month's forecast for each month left.
    let last = e.periods.last().unwrap();
    let mut by_day: BTreeMap<NaiveDate, i128> = BTreeMap::new();
    for c in charges(e, last) {
        *by_day.entry(c.date).or_default() += c.cost;
    }
    let to_date: i128 = by_day.values().sum();
    let recent: Vec<i128> = by_day.values().rev().take(7).copied().collect();
    let rate_exact = (recent.iter().sum::<i128>(), recent.len() as i128);
    let last_day = *by_day.keys().next_back().unwrap();
    let days_left = (last.id.days() - last_day.day()) as i128;
    let earlier: i128 = e
        .periods
        .iter()
        .filter(|p| p.id.0 / 100 == last.id.0 / 100 && p.id < last.id)
        .flat_map(|p| charges(e, p))
        .map(|c| c.cost)
        .sum();
    let got = query(lake, "month_end_forecast", &[]);
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(text(r, "billing_period"), last.id.to_string());
    assert_eq!(money(r, "month_to_date"), to_date);
    assert_eq!(text(r, "charges_to"), last_day.to_string());
    assert_eq!(r["days_left"].get(), days_left.to_string());
    let rate = money(r, "daily_rate");
    assert!(
        (rate * rate_exact.1 - rate_exact.0).abs() <= rate_exact.1,
        "{rate} is the mean of {rate_exact:?} to the twelfth place"
    );
    let month = to_date + rate * days_left;
    assert_eq!(money(r, "month_forecast"), month);
    assert_eq!(money(r, "year_to_date"), earlier + to_date);
    let months_left = 12 - (last.id.0 % 100) as i128;
    assert_eq!(
        money(r, "year_forecast"),
        earlier + month * (1 + months_left)
    );
    if balances {
        assert_eq!(money(r, "commitment_balance"), e.balance(last).ending);
        assert_eq!(text(r, "balance_of"), last.id.to_string());
    } else {
        assert!(is_null(r, "commitment_balance"));
    }
}

/// Cost in billing and pricing currency where the data carries both: the FOCUS working
/// group's sample, billed in euros for prices in dollars at a rate that changes from row to
/// row, against Python's decimal (each charge divided to 16 places, truncated, as DataFusion
/// divides, then rounded half away from zero to 12, as its `round` does).
#[test]
fn cost_is_shown_in_billing_and_pricing_currency() {
    use crate::export_files::{fixtures, focus_sample_run, ingest, write_run};
    let work = tempfile::tempdir().unwrap();
    let (source, lake) = (work.path().join("exports"), work.path().join("lake"));
    let sample = fixtures().join("focus-sample-data/focus_sample.csv");
    let euros = work.path().join("euros.csv");
    let script = "import csv, sys, decimal\n\
         rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig')))\n\
         for i, r in enumerate(rows):\n\
         \x20   r['BillingCurrency'] = 'EUR'\n\
         \x20   r['x_PricingCurrency'] = 'USD'\n\
         \x20   r['x_BillingExchangeRate'] = '0.9%03d' % (i % 97)\n\
         out = csv.DictWriter(open(sys.argv[2], 'w', newline=''), fieldnames=list(rows[0]))\n\
         out.writeheader()\n\
         out.writerows(rows)\n\
         def total(col, convert):\n\
         \x20   s = decimal.Decimal(0)\n\
         \x20   for r in rows:\n\
         \x20       if r[col] in ('', 'NULL'):\n\
         \x20           continue\n\
         \x20       v = decimal.Decimal(r[col]).quantize(decimal.Decimal('1e-12'), rounding=decimal.ROUND_HALF_EVEN)\n\
         \x20       if convert:\n\
         \x20           v = (v / decimal.Decimal(r['x_BillingExchangeRate'])).quantize(decimal.Decimal('1e-16'), rounding=decimal.ROUND_DOWN)\n\
         \x20           v = v.quantize(decimal.Decimal('1e-12'), rounding=decimal.ROUND_HALF_UP)\n\
         \x20       s += v\n\
         \x20   return s\n\
         decimal.getcontext().prec = 60\n\
         print(len(rows), total('BilledCost', False), total('BilledCost', True), total('EffectiveCost', False), total('EffectiveCost', True))";
    let expected = crate::tools::run_python(
        script,
        &[&sample.display().to_string(), &euros.display().to_string()],
    );
    let expected: Vec<&str> = expected.split_whitespace().collect();
    write_run(&source, &focus_sample_run(std::fs::read(&euros).unwrap()));
    crate::query::stdout(&ingest(&source, &lake));
    let rows = query(lake.as_path(), "cost_by_currency", &["period=202409"]);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let dec = crate::query::dec;
    assert_eq!(
        [text(row, "billing_currency"), text(row, "pricing_currency")],
        ["EUR", "USD"]
    );
    assert_eq!(row["charges"].get(), expected[0]);
    let columns = [
        "billed_cost",
        "billed_cost_in_pricing_currency",
        "effective_cost",
        "effective_cost_in_pricing_currency",
    ];
    for (column, want) in columns.iter().zip(&expected[1..]) {
        assert_eq!(money(row, column), dec(want), "{column}");
    }
    assert_eq!(money(row, "lowest_rate"), dec("0.9"));
    assert_eq!(money(row, "highest_rate"), dec("0.9096"));
}
