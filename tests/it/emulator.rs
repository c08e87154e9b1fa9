//! The emulator behaves like the EA Reporting API of ea-api.md: routes, versions, auth, errors,
//! ETags, gzip, paging, determinism, faults, a reconciling balance summary and its Swagger.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use costlake::model::Dataset;
use costlake::model::decimal;
use costlake::schema::ApiVersion;
use costlake::source::ea_api::ENDPOINTS;
use costlake_emulator::generator::COST_SCALE;
use costlake_emulator::{DEMO_KEY, Emulator, Fault};
use serde_json::Value;
use serde_json::value::RawValue;

/// A row with its values as sent: numbers keep their exact text.
type Row = HashMap<String, Box<RawValue>>;

#[derive(serde::Deserialize)]
struct Page {
    id: String,
    data: Vec<Row>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

/// A string value unquoted, anything else as its JSON text.
fn text(row: &Row, key: &str) -> String {
    let raw = row[key].get();
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string())
}

fn dec(row: &Row, key: &str) -> i128 {
    decimal::parse(&text(row, key), COST_SCALE, 38).unwrap_or_else(|e| panic!("{key}: {e}"))
}

async fn get_rows(emu: &Emulator, path: &str) -> Vec<Row> {
    let resp = get(emu, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

use crate::common::{config, start};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().build().unwrap()
}

async fn get(emu: &Emulator, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", emu.base_url()))
        .header("Authorization", format!("bearer {DEMO_KEY}"))
        .send()
        .await
        .unwrap()
}

async fn get_json(emu: &Emulator, path: &str) -> Value {
    let resp = get(emu, path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

/// Follows nextLinks from `path`, returning every row and the number of pages.
async fn all_pages(emu: &Emulator, path: &str) -> (Vec<Row>, usize) {
    let mut url = format!("{}{path}", emu.base_url());
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let resp = client()
            .get(&url)
            .header("Authorization", format!("Bearer {DEMO_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let page: Page = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        pages += 1;
        assert!(!page.id.is_empty());
        rows.extend(page.data);
        match page.next_link {
            None => return (rows, pages),
            Some(link) => {
                assert!(link.starts_with("http://"), "absolute nextLink: {link}");
                url = link;
            }
        }
    }
}

#[tokio::test]
async fn every_route_answers_in_every_version_and_any_case() {
    let emu = start(config(1500)).await;
    for v in ["v1", "v2", "v3", "V3"] {
        let list = get_json(&emu, &format!("/{v}/enrollments/100/billingperiods")).await;
        assert_eq!(list.as_array().unwrap().len(), 3);
        assert_eq!(list[0]["billingPeriodId"], "202403", "newest first");
        for route in ENDPOINTS {
            let path = route
                .path
                .replace("{enrollmentNumber}", "100")
                .replace("{billingPeriod}", "202402");
            let path = if path.ends_with("bycustomdate") {
                format!("{path}?startTime=2024-02-01&endTime=2024-02-03")
            } else {
                path
            };
            let resp = get(
                &emu,
                &format!(
                    "/{v}{}",
                    path.to_uppercase()
                        .replace("?STARTTIME", "?startTime")
                        .replace("&ENDTIME", "&endTime")
                ),
            )
            .await;
            assert_eq!(resp.status(), 200, "{v} {path}");
            assert!(resp.headers().contains_key("etag"));
            let body: Value = resp.json().await.unwrap();
            assert!(body.is_array() || body.is_object(), "{path}");
        }
    }
}

#[tokio::test]
async fn fields_differ_by_version_as_documented() {
    let emu = start(config(300)).await;
    for version in ApiVersion::ALL {
        let v = version.prefix();
        let (rows, _) = all_pages(
            &emu,
            &format!("/{v}/enrollments/100/billingPeriods/202402/usagedetails"),
        )
        .await;
        let keys: BTreeSet<String> = rows[0].keys().cloned().collect();
        let expected: BTreeSet<String> = Dataset::UsageDetails
            .fields()
            .iter()
            .filter_map(|f| f.api_name(version))
            .map(str::to_string)
            .collect();
        assert_eq!(keys, expected, "{v}");
        let price = get_json(
            &emu,
            &format!("/{v}/enrollments/100/billingPeriods/202402/pricesheet"),
        )
        .await;
        let has = |k: &str| price[0].get(k).is_some();
        assert_eq!(
            (has("meterId"), has("offerId")),
            (version >= ApiVersion::V2, version == ApiVersion::V3),
            "{v}"
        );
        let market = get_json(
            &emu,
            &format!("/{v}/enrollments/100/billingPeriods/202402/marketplacecharges"),
        )
        .await;
        assert_eq!(
            market[0].get("isRecurringCharge").is_some(),
            version == ApiVersion::V3
        );
    }
    assert!(
        all_pages(
            &emu,
            "/v1/enrollments/100/billingPeriods/202402/usagedetails"
        )
        .await
        .0[0]
            .contains_key("extendedCost")
    );
    // v3 answers the balance summary as a one-element array, v2 as an object.
    assert!(
        get_json(&emu, "/v3/enrollments/100/balancesummary")
            .await
            .is_array()
    );
    assert!(
        get_json(&emu, "/v2/enrollments/100/balancesummary")
            .await
            .is_object()
    );
}

#[tokio::test]
async fn auth_and_errors_answer_like_the_service() {
    let emu = start(config(100)).await;
    let url = format!(
        "{}/v3/enrollments/100/billingPeriods/202402/usagedetails",
        emu.base_url()
    );
    let check = |resp: reqwest::Response, status: u16| async move {
        assert_eq!(resp.status(), status);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], status.to_string());
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    };
    check(client().get(&url).send().await.unwrap(), 401).await;
    check(
        client()
            .get(&url)
            .header("Authorization", "bearer wrong")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    check(
        client()
            .get(&url)
            .header("Authorization", format!("Basic {DEMO_KEY}"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    // Wrong key beats everything else: no hint about what exists.
    check(
        client()
            .get(format!(
                "{}/v3/enrollments/999/billingperiods",
                emu.base_url()
            ))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    for (path, status) in [
        (
            "/v3/enrollments/100/billingPeriods/2024-02/usagedetails",
            400,
        ),
        ("/v3/enrollments/100/billingPeriods/202413/pricesheet", 400),
        (
            "/v3/enrollments/100/billingPeriods/201901/usagedetails",
            400,
        ),
        ("/v3/enrollments/999/billingperiods", 400),
        (
            "/v3/enrollments/100/usagedetailsbycustomdate?startTime=2024-02-01",
            400,
        ),
        (
            "/v3/enrollments/100/usagedetailsbycustomdate?startTime=2024-02-05&endTime=2024-02-01",
            400,
        ),
        (
            "/v3/enrollments/100/usagedetailsbycustomdate?startTime=2020-01-01&endTime=2024-02-01",
            400,
        ),
        (
            "/v3/enrollments/100/usagedetailsbycustomdate?startTime=2014-01-01&endTime=2014-02-01",
            400,
        ),
        (
            "/v3/enrollments/100/marketplacechargesbycustomdate?startTime=02/01/2024&endTime=2024-02-01",
            400,
        ),
        (
            "/v3/enrollments/100/billingPeriods/202402/usagedetails?skiptoken=forged",
            400,
        ),
        ("/v3/enrollments/100/nosuchreport", 404),
        ("/v4/enrollments/100/billingperiods", 404),
        ("/", 404),
    ] {
        check(get(&emu, path).await, status).await;
    }
}

#[tokio::test]
async fn etags_give_304_and_gzip_is_served_when_asked() {
    let emu = start(config(500)).await;
    let path = "/v3/enrollments/100/billingPeriods/202401/pricesheet";
    let first = get(&emu, path).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let plain = first.bytes().await.unwrap();
    let again = client()
        .get(format!("{}{path}", emu.base_url()))
        .header("Authorization", format!("bearer {DEMO_KEY}"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let stale = client()
        .get(format!("{}{path}", emu.base_url()))
        .header("Authorization", format!("bearer {DEMO_KEY}"))
        .header("If-None-Match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    let zipped = client()
        .get(format!("{}{path}", emu.base_url()))
        .header("Authorization", format!("bearer {DEMO_KEY}"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let raw = zipped.bytes().await.unwrap();
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    assert!(raw.len() < plain.len() / 3);
}

#[tokio::test]
async fn pages_concatenate_to_the_whole_period() {
    let mut cfg = config(2000);
    cfg.empty_page_every = 2;
    let emu = start(cfg).await;
    let e = emu.enrollment();
    for p in &e.periods {
        let (rows, pages) = all_pages(
            &emu,
            &format!("/v3/enrollments/100/billingPeriods/{}/usagedetails", p.id),
        )
        .await;
        let totals = e.totals(p);
        assert_eq!(rows.len() as u64, totals.rows);
        assert!(
            pages > 3,
            "2000 rows in pages of 700, with empty pages between"
        );
        assert_eq!(
            rows.iter().map(|r| dec(r, "cost")).sum::<i128>(),
            totals.cost
        );
    }
    // A custom range is exactly the rows of its days, across a period boundary.
    let (rows, _) = all_pages(
        &emu,
        "/v3/enrollments/100/usagedetailsbycustomdate?startTime=2024-01-30&endTime=2024-02-02",
    )
    .await;
    let dates: BTreeSet<String> = rows
        .iter()
        .map(|r| text(r, "date")[..10].to_string())
        .collect();
    assert_eq!(
        dates.into_iter().collect::<Vec<_>>(),
        ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    );
    let p1 = &e.periods[0];
    let p2 = &e.periods[1];
    let expected = (e.first_row_of_day(p1, 31) - e.first_row_of_day(p1, 29))
        + (e.first_row_of_day(p2, 2) - e.first_row_of_day(p2, 0));
    assert_eq!(rows.len() as u64, expected);
}

#[tokio::test]
async fn the_same_seed_serves_the_same_bytes() {
    let a = start(config(1500)).await;
    let b = start(config(1500)).await;
    let mut other = config(1500);
    other.seed += 1;
    let c = start(other).await;
    let path = "/v3/enrollments/100/billingPeriods/202402/usagedetails";
    let page = |emu: &Emulator| {
        let url = format!("{}{path}", emu.base_url());
        async move {
            let body = client()
                .get(url)
                .header("Authorization", format!("bearer {DEMO_KEY}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // nextLinks carry each server's port; the rest must be identical.
            body.split("\"nextLink\"").next().unwrap().to_string()
        }
    };
    let (pa, pb, pc) = (page(&a).await, page(&b).await, page(&c).await);
    assert_eq!(pa, pb);
    assert_ne!(pa, pc);
    let second = get(&a, path).await.text().await.unwrap();
    assert_eq!(second.split("\"nextLink\"").next().unwrap(), pa);
}

#[tokio::test]
async fn balance_summary_reconciles_with_the_rows() {
    let emu = start(config(1200)).await;
    for p in ["202401", "202402", "202403"] {
        let (usage, _) = all_pages(
            &emu,
            &format!("/v3/enrollments/100/billingPeriods/{p}/usagedetails"),
        )
        .await;
        let market = get_rows(
            &emu,
            &format!("/v3/enrollments/100/billingPeriods/{p}/marketplacecharges"),
        )
        .await;
        let b = &get_rows(
            &emu,
            &format!("/v3/enrollments/100/billingPeriods/{p}/balancesummary"),
        )
        .await[0];
        let usage_cost: i128 = usage.iter().map(|r| dec(r, "cost")).sum();
        let separately: i128 = usage
            .iter()
            .filter(|r| text(r, "chargesBilledSeparately").eq_ignore_ascii_case("true"))
            .map(|r| dec(r, "cost"))
            .sum();
        let market_cost: i128 = market.iter().map(|r| dec(r, "extendedCost")).sum();
        assert_eq!(dec(b, "totalUsage"), usage_cost, "{p}");
        assert_eq!(dec(b, "utilized") + dec(b, "totalOverage"), usage_cost);
        assert_eq!(
            dec(b, "totalOverage"),
            dec(b, "serviceOverage") + dec(b, "chargesBilledSeparately")
        );
        assert_eq!(dec(b, "chargesBilledSeparately"), separately);
        assert!(separately > 0);
        assert_eq!(dec(b, "azureMarketplaceServiceCharges"), market_cost);
        assert_eq!(
            dec(b, "endingBalance"),
            dec(b, "beginningBalance") + dec(b, "newPurchases") + dec(b, "adjustments")
                - dec(b, "utilized")
        );
        // Every usage row's cost is its quantity times its rate, exactly.
        for r in &usage {
            let q = decimal::parse(&text(r, "consumedQuantity"), 6, 38).unwrap();
            let rate = decimal::parse(&text(r, "resourceRate"), 12, 38).unwrap();
            assert_eq!(q * rate, dec(r, "cost") * 1_000_000);
        }
    }
}

#[tokio::test]
async fn values_are_printed_the_way_the_service_prints_them() {
    let emu = start(config(3000)).await;
    let raw = get(
        &emu,
        "/v3/enrollments/100/billingPeriods/202402/usagedetails",
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(raw.contains("E-0"), "small rates in exponent notation");
    assert!(
        raw.contains("\"consumedQuantity\":1,"),
        "whole numbers without a point"
    );
    assert!(
        raw.contains("T00:00:00\"") && raw.contains("T00:00:00Z\""),
        "dates with and without Z"
    );
    assert!(
        raw.contains("\"chargesBilledSeparately\":\"False\"")
            && raw.contains("\"chargesBilledSeparately\":false")
    );
    assert!(
        raw.contains("\"subscriptionId\":\"2") && raw.contains("\"subscriptionId\":2"),
        "ids as strings and numbers"
    );
    assert!(raw.contains("\"tags\":null") && raw.contains("\"tags\":\"\""));
    assert!(raw.contains("Zürich") && raw.contains("会計システム"));
    let page: Value = serde_json::from_str(&raw).unwrap();
    let longest = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["tags"].as_str())
        .map(str::len)
        .max()
        .unwrap();
    assert!(
        (300..=400).contains(&longest),
        "tags near the 400-character limit: {longest}"
    );
    let ids: BTreeSet<i64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["subscriptionId"].as_i64())
        .collect();
    assert!(
        ids.iter().all(|&id| id > i32::MAX as i64),
        "subscription ids need 64 bits"
    );
}

#[tokio::test]
async fn faults_are_served_when_injected() {
    let emu = start(config(800)).await;
    let path = "/v3/enrollments/100/billingPeriods/202402/usagedetails";
    emu.inject(Fault::RateLimited, "usagedetails", 1);
    let r = get(&emu, path).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers()["x-ms-ratelimit-microsoft.consumption-retry-after"],
        "1"
    );
    emu.inject(Fault::Unavailable, "usagedetails", 1);
    let r = get(&emu, path).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    emu.inject(Fault::ServerError, "usagedetails", 1);
    assert_eq!(get(&emu, path).await.status(), 500);
    emu.inject(Fault::DropConnection, "usagedetails", 1);
    let r = get(&emu, path).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body breaks off");
    assert_eq!(get(&emu, path).await.status(), 200, "faults are used up");
    // Random faults are reproducible: the same seed faults the same requests.
    let mut cfg = config(800);
    cfg.faults.rate = 0.8;
    cfg.faults.kinds = vec![Fault::ServerError];
    let statuses = |emu: Emulator| async move {
        let mut out = Vec::new();
        for p in ["202401", "202402", "202403"] {
            for _ in 0..3 {
                out.push(
                    get(
                        &emu,
                        &format!("/v3/enrollments/100/billingPeriods/{p}/pricesheet"),
                    )
                    .await
                    .status()
                    .as_u16(),
                );
            }
        }
        out
    };
    let a = statuses(start(cfg.clone()).await).await;
    let b = statuses(start(cfg).await).await;
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
    assert!(
        a.chunks(3).all(|c| c[2] == 200),
        "a request is faulted at most twice"
    );
}

#[tokio::test]
async fn swagger_covers_every_route_and_served_field_and_validates() {
    let emu = start(config(200)).await;
    for version in [ApiVersion::V2, ApiVersion::V3] {
        let v = version.prefix();
        let doc = get_json(&emu, &format!("/swagger/docs/{v}")).await;
        assert_eq!(doc["swagger"], "2.0");
        for route in ENDPOINTS {
            assert!(
                doc["paths"].get(format!("/{v}{}", route.path)).is_some(),
                "{}",
                route.path
            );
        }
        // Every field of every served row is in its definition.
        let served = [
            (
                Dataset::BillingPeriods,
                get_json(&emu, &format!("/{v}/enrollments/100/billingperiods")).await,
            ),
            (
                Dataset::PriceSheet,
                get_json(
                    &emu,
                    &format!("/{v}/enrollments/100/billingPeriods/202402/pricesheet"),
                )
                .await,
            ),
            (
                Dataset::MarketplaceCharges,
                get_json(
                    &emu,
                    &format!("/{v}/enrollments/100/billingPeriods/202402/marketplacecharges"),
                )
                .await,
            ),
            (
                Dataset::UsageDetails,
                get_json(
                    &emu,
                    &format!("/{v}/enrollments/100/billingPeriods/202402/usagedetails"),
                )
                .await["data"]
                    .clone(),
            ),
            (Dataset::BalanceSummary, {
                let b = get_json(
                    &emu,
                    &format!("/{v}/enrollments/100/billingPeriods/202402/balancesummary"),
                )
                .await;
                if b.is_array() {
                    b
                } else {
                    Value::Array(vec![b])
                }
            }),
        ];
        for (dataset, rows) in served {
            let def = &doc["definitions"][dataset.swagger_definition()]["properties"];
            for row in rows.as_array().unwrap() {
                for key in row.as_object().unwrap().keys() {
                    assert!(
                        def.get(key).is_some(),
                        "{v} {}: {key} missing from the swagger",
                        dataset.name()
                    );
                }
            }
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), serde_json::to_vec(&doc).unwrap()).unwrap();
        let path = file.path().display().to_string();
        let valid = crate::tools::run_python(
            "import sys, json; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')",
            &[&path],
        );
        assert_eq!(
            valid.trim(),
            "valid",
            "the swagger passes openapi-spec-validator"
        );
    }
}
