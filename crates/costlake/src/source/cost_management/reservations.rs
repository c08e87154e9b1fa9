//! A billing account's reservations into the tables reservation exports fill. Details come
//! through `generateReservationDetailsReport` for the month's days: a report like the cost
//! details one (polled, then one SAS-linked CSV, `reportUrl`), read by the same loop
//! ([`report::run`]), since the Consumption list of details refuses answers past 12 MB, which a
//! large enrollment's month passes. Transactions and recommendations are Consumption lists:
//! ARM pages of `{value, nextLink}` whose items carry their fields under `properties`; each
//! item is flattened to one row (its `properties` first, then its own members, such as a
//! recommendation's `sku` and `location`) and decoded by the JSON row reader, so no amount
//! passes through a float. `nextLink`s are checked like the EA API's.

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::super::ea_api::fetch::{NextLinks, Sink};
use super::super::{Fetched, UnitContext, UnitError};
use super::lro::Status;
use super::report::{Report, ReportBlob};
use super::{CONSUMPTION_API_VERSION, COST_DETAILS_API_VERSION, CostManagement};
use crate::http::Reply;

/// The resource types reservation recommendations are asked for, one list each (the service
/// answers `VirtualMachines` alone when none is named).
const RECOMMENDED_TYPES: [&str; 15] = [
    "VirtualMachines",
    "SQLDatabases",
    "PostgreSQL",
    "ManagedDisk",
    "MySQL",
    "RedHat",
    "MariaDB",
    "RedisCache",
    "CosmosDB",
    "SqlDataWarehouse",
    "SUSELinux",
    "AppService",
    "BlockBlob",
    "AzureDataExplorer",
    "VMwareCloudSimple",
];

/// The look-back of the recommendations synced: Azure Advisor's default.
const LOOK_BACK: &str = "Last30Days";

/// The month's reservation details, up to today in the open month.
pub(super) async fn details(
    src: &CostManagement,
    closed: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let period = ctx.key.period.expect("reservation details are per month");
    let mut url = src.url(
        &format!(
            "{}/{}",
            src.scope(),
            super::routes::GENERATE_RESERVATION_DETAILS
        ),
        COST_DETAILS_API_VERSION,
    )?;
    url.query_pairs_mut()
        .append_pair("startDate", &period.first_day().to_string())
        .append_pair("endDate", &period.last_day().min(src.today).to_string());
    super::report::run(src, ctx, &url, None, details_finished, closed).await
}

/// A finished reservation details operation: `{status, properties: {reportUrl, validUntil}}`.
fn details_finished(reply: &Reply) -> Result<Option<Report>, UnitError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Operation {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        properties: Option<Properties>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Properties {
        #[serde(default)]
        report_url: Option<String>,
    }
    let op: Operation = serde_json::from_slice(&reply.body).map_err(|e| {
        format!("the reservation details operation's answer is not what the API sends: {e}")
    })?;
    let link = op.properties.and_then(|p| p.report_url);
    match Status::of(op.status.as_deref()) {
        Status::Completed => Ok(Some(match link {
            Some(blob_link) => Report::Ready {
                operation: None,
                blobs: vec![ReportBlob {
                    blob_link,
                    byte_count: None,
                }],
                gzip: false,
            },
            None => Report::NoData { operation: None },
        })),
        Status::NoData => Ok(Some(Report::NoData { operation: None })),
        Status::Failed => Err(format!(
            "the service could not make the reservation details report: {}",
            op.error.map(|e| e.to_string()).unwrap_or_default()
        )
        .into()),
        Status::Running => Ok(None),
        Status::Unknown => Err(format!(
            "the reservation details operation has a status costlake does not know: {}",
            op.status.unwrap_or_default()
        )
        .into()),
    }
}

/// The month's purchases, refunds and exchanges.
pub(super) async fn transactions(
    src: &CostManagement,
    closed: bool,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let period = ctx
        .key
        .period
        .expect("reservation transactions are per month");
    let mut url = src.url(
        &format!(
            "{}/{}",
            src.scope(),
            super::routes::RESERVATION_TRANSACTIONS
        ),
        CONSUMPTION_API_VERSION,
    )?;
    url.query_pairs_mut().append_pair(
        "$filter",
        &format!(
            "properties/eventDate ge {} AND properties/eventDate le {}",
            period.first_day(),
            period.last_day()
        ),
    );
    list(src, ctx, &[url], closed).await
}

/// Today's recommendations, shared and per subscription, for every resource type.
pub(super) async fn recommendations(
    src: &CostManagement,
    ctx: &mut UnitContext<'_>,
) -> Result<Fetched, UnitError> {
    let mut urls = Vec::new();
    for scope in ["Shared", "Single"] {
        for resource_type in RECOMMENDED_TYPES {
            let mut url = src.url(
                &format!(
                    "{}/{}",
                    src.scope(),
                    super::routes::RESERVATION_RECOMMENDATIONS
                ),
                CONSUMPTION_API_VERSION,
            )?;
            url.query_pairs_mut().append_pair(
                "$filter",
                &format!(
                    "properties/scope eq '{scope}' AND properties/lookBackPeriod eq '{LOOK_BACK}' AND properties/resourceType eq '{resource_type}'"
                ),
            );
            urls.push(url);
        }
    }
    // A snapshot of today: never closed, so every sync takes a new one.
    list(src, ctx, &urls, false).await
}

/// One page of a Consumption list.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    value: Option<Vec<&'a RawValue>>,
    #[serde(default, rename = "nextLink")]
    next_link: Option<String>,
}

/// Reads every page of every list into the unit's partition.
async fn list(
    src: &CostManagement,
    ctx: &mut UnitContext<'_>,
    urls: &[Url],
    closed: bool,
) -> Result<Fetched, UnitError> {
    let key = ctx.key;
    let mut sink = Sink::new(ctx)?;
    let mut bytes = 0u64;
    let outcome: Result<(), UnitError> = async {
        for first in urls {
            let mut links = NextLinks::new(first);
            let mut url = first.clone();
            for page in 1.. {
                let reply = src
                    .arm
                    .send(Method::GET, &url, None, &mut ctx.retries)
                    .await?;
                bytes += reply.body.len() as u64;
                let page_room = sink
                    .hold(reply.body.len() as u64)
                    .await
                    .map_err(|e| e.at(key, Some(page)))?;
                let rows = rows_of(&reply, &mut sink);
                drop((reply, page_room));
                let Some(next) = rows.map_err(|e| format!("{key}, page {page}: {e}"))? else {
                    break;
                };
                sink.flush(false).await.map_err(|e| e.at(key, Some(page)))?;
                ctx.progress(sink.decoder.rows(), bytes);
                url = links.follow(&src.arm, &next, key, page)?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        sink.writer.abort().await;
        return Err(e);
    }
    let (written, rounded) = sink.finish(key).await?;
    Ok(super::written(
        written,
        rounded,
        None,
        CONSUMPTION_API_VERSION,
        closed,
    ))
}

/// Pushes a page's items into the sink as rows; the page's `nextLink`, if it has one. A 204 is
/// an empty list; any other answer must be a page.
fn rows_of(reply: &Reply, sink: &mut Sink) -> Result<Option<String>, String> {
    if reply.status == 204 {
        return Ok(None);
    }
    let page: Page = serde_json::from_slice(&reply.body)
        .map_err(|e| format!("the answer is not a page of the list ({e})"))?;
    let Some(items) = page.value else {
        return Err("the answer is not a page of the list: it has no `value`".into());
    };
    for item in items {
        sink.decoder.push_row(flatten(item)?.as_bytes());
    }
    Ok(page.next_link.filter(|l| !l.is_empty()))
}

/// An ARM resource as one row: the members of its `properties`, then its own other members.
/// Values keep their JSON text.
fn flatten(item: &RawValue) -> Result<String, String> {
    let top: std::collections::BTreeMap<String, &RawValue> = serde_json::from_str(item.get())
        .map_err(|e| format!("an item of the list is not an object ({e})"))?;
    let mut row = String::with_capacity(item.get().len());
    row.push('{');
    let mut push = |name: &str, value: &RawValue| {
        if row.len() > 1 {
            row.push(',');
        }
        row.push_str(&serde_json::to_string(name).expect("a string"));
        row.push(':');
        row.push_str(value.get());
    };
    if let Some(properties) = top.get("properties") {
        let inner: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(properties.get())
                .map_err(|e| format!("an item's properties are not an object ({e})"))?;
        for (name, value) in &inner {
            push(name, value);
        }
    }
    for (name, value) in &top {
        if name != "properties" {
            push(name, value);
        }
    }
    row.push('}');
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arm_item_becomes_one_row_with_its_numbers_as_sent() {
        let item: &RawValue = serde_json::from_str(
            r#"{"id":"/x/1","sku":"Standard_D2s_v3","kind":"legacy","properties":{"netSavings":1234.567890123456789,"scope":"Shared","skuProperties":[{"name":"Cores","value":"2"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            flatten(item).unwrap(),
            r#"{"netSavings":1234.567890123456789,"scope":"Shared","skuProperties":[{"name":"Cores","value":"2"}],"id":"/x/1","kind":"legacy","sku":"Standard_D2s_v3"}"#
        );
        let not_object: &RawValue = serde_json::from_str("[1]").unwrap();
        assert!(flatten(not_object).is_err());
    }
}
