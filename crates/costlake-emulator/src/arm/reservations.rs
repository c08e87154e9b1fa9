//! The enrollment's reservations as Azure serves them: the reservation details report's CSV
//! (the columns Microsoft documents, `InstanceName` among them), and the Consumption lists of
//! reservation transactions and recommendations. The lists are ARM pages (`{value, nextLink}`,
//! the `nextLink` absolute with a `$skiptoken`), `$filter` read as the service reads it:
//! transactions by `properties/eventDate` widened to whole billing months, recommendations by
//! scope, look-back and resource type, 204 when there are none. A request whose answer would
//! pass [`ArmConfig::max_list_bytes`](crate::config::ArmConfig) is refused with 400, as the
//! service refuses answers past 12 MB.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use costlake::model::PeriodId;
use costlake::model::decimal::format_api;

use super::{arm_error, link_base};
use crate::Shared;
use crate::exports::push_csv_record;
use crate::generator::{AMOUNT_SCALE, DEPARTMENTS, Enrollment, HOURS_SCALE, REGIONS};

/// The reservation details report's columns, in the service's order.
const DETAILS_HEADER: [&str; 11] = [
    "InstanceFlexibilityGroup",
    "InstanceFlexibilityRatio",
    "InstanceName",
    "Kind",
    "ReservationId",
    "ReservationOrderId",
    "ReservedHours",
    "SkuName",
    "TotalReservedQuantity",
    "UsageDate",
    "UsedHours",
];

/// The CSV of a reservation details report.
pub(super) fn details_csv(e: &Enrollment, from: NaiveDate, to: NaiveDate) -> String {
    let reservations = e.reservations();
    let mut out = String::new();
    push_csv_record(&mut out, DETAILS_HEADER.iter().copied());
    for day in e.reservation_days(&reservations, from, to) {
        let r = day.reservation;
        let cells = [
            r.flex_group.to_string(),
            r.flex_ratio.to_string(),
            day.instance.unwrap_or("").to_string(),
            if day.instance.is_some() {
                "Reservation"
            } else {
                "None"
            }
            .to_string(),
            r.id.clone(),
            r.order_id.clone(),
            format_api(day.reserved_hours, HOURS_SCALE),
            r.sku.to_string(),
            r.quantity.to_string(),
            day.date.format("%Y-%m-%d").to_string(),
            format_api(day.used_hours, HOURS_SCALE),
        ];
        push_csv_record(&mut out, cells.iter().map(String::as_str));
    }
    out
}

/// `GET …/Microsoft.Consumption/reservationTransactions?$filter=properties/eventDate ge … and
/// properties/eventDate le …`.
pub(super) fn transactions(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    account: &str,
    params: &HashMap<String, String>,
) -> Response {
    let filter = params.get("$filter").map(String::as_str).unwrap_or("");
    let (Some(from), Some(to)) = (
        date_condition(filter, "eventdate", "ge"),
        date_condition(filter, "eventdate", "le"),
    ) else {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The $filter must give properties/eventDate ge and le dates.",
        );
    };
    let e = &shared.enrollment;
    // The service widens the range to whole billing months.
    let from = PeriodId::of_date(from).first_day();
    let to = PeriodId::of_date(to).last_day();
    let reservations = e.reservations();
    let items: Vec<String> = e
        .reservation_events(&reservations, from, to)
        .iter()
        .enumerate()
        .map(|(n, ev)| {
            let r = ev.reservation;
            let sub = &e.subscriptions[r.subscription];
            let acct = &e.accounts[sub.account];
            let month = ev.date.with_day(1).expect("day one");
            let amount = format_api(ev.amount, AMOUNT_SCALE);
            let description = format!("Reserved VM Instance, {}, {}", r.sku, r.term);
            format!(
                r#"{{"id":"/billingAccounts/{account}/providers/Microsoft.Consumption/reservationtransactions/{n}{date}","name":"{n}{date}","type":"Microsoft.Consumption/reservationTransactions","tags":[],"properties":{{"eventDate":"{date}T00:00:00Z","reservationOrderId":"{order}","description":"{desc}","eventType":"{kind}","quantity":{qty},"amount":{amount},"currency":"USD","reservationOrderName":"{order_name}","purchasingEnrollment":"{account}","purchasingSubscriptionGuid":"{sub_guid}","purchasingSubscriptionName":"{sub_name}","armSkuName":"{sku}","term":"{term}","region":"{region}","accountName":"{acct_name}","accountOwnerEmail":"{owner}","departmentName":"{dept}","costCenter":"{cc}","currentEnrollment":"{account}","billingFrequency":"{freq}","billingMonth":{billing_month},"monetaryCommitment":{amount},"overage":0}}}}"#,
                date = ev.date.format("%Y-%m-%d"),
                order = r.order_id,
                desc = description,
                kind = ev.kind,
                qty = r.quantity,
                order_name = r.order_name,
                sub_guid = sub.guid,
                sub_name = sub.name,
                sku = r.sku,
                term = r.term,
                region = REGIONS[r.region].code,
                acct_name = acct.name,
                owner = acct.owner,
                dept = DEPARTMENTS[acct.department].name,
                cc = DEPARTMENTS[acct.department].cost_center,
                freq = if r.recurring { "recurring" } else { "OneTime" },
                billing_month = month.format("%Y%m%d"),
            )
        })
        .collect();
    list(shared, headers, path, params, &items)
}

/// `GET …/Microsoft.Consumption/reservationRecommendations?$filter=properties/scope eq '…'
/// and properties/lookBackPeriod eq '…' and properties/resourceType eq '…'`: the defaults
/// are `Single`, `Last7Days` and `VirtualMachines`, as the service's.
pub(super) fn recommendations(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    params: &HashMap<String, String>,
) -> Response {
    let filter = params.get("$filter").map(String::as_str).unwrap_or("");
    let scope = eq_condition(filter, "scope").unwrap_or_else(|| "single".into());
    let look_back = eq_condition(filter, "lookbackperiod").unwrap_or_else(|| "last7days".into());
    let resource_type =
        eq_condition(filter, "resourcetype").unwrap_or_else(|| "virtualmachines".into());
    let days = match look_back.as_str() {
        "last7days" => 7,
        "last30days" => 30,
        "last60days" => 60,
        other => {
            return arm_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "'{other}' is not a look-back period: Last7Days, Last30Days or Last60Days."
                ),
            );
        }
    };
    let e = &shared.enrollment;
    let items: Vec<String> = if resource_type != "virtualmachines" {
        Vec::new()
    } else {
        e.reservation_recommendations(days)
            .into_iter()
            .filter(|r| (scope == "single") == r.subscription.is_some())
            .map(|r| {
                let n = |v: i128| format_api(v, AMOUNT_SCALE);
                let subscription = r.subscription.map_or(String::new(), |s| {
                    format!(r#","subscriptionId":"{}""#, e.subscriptions[s].guid)
                });
                format!(
                    r#"{{"id":"/providers/Microsoft.Billing/billingAccounts/{number}/providers/Microsoft.Consumption/reservationRecommendations/{id}","name":"{id}","type":"Microsoft.Consumption/reservationRecommendations","location":"{loc}","sku":"{sku}","kind":"legacy","properties":{{"meterId":"{meter}","term":"P1Y","costWithNoReservedInstances":{without},"recommendedQuantity":{qty},"totalCostWithReservedInstances":{with},"netSavings":{savings},"firstUsageDate":"{first}T00:00:00-07:00","scope":"{scope}","lookBackPeriod":"Last{days}Days","instanceFlexibilityRatio":{ratio},"instanceFlexibilityGroup":"{group}","normalizedSize":"{sku}","recommendedQuantityNormalized":{qty},"skuProperties":[{{"name":"Cores","value":"2"}},{{"name":"MemoryGB","value":"8"}}],"totalHours":{hours},"resourceType":"virtualmachines"{subscription}}}}}"#,
                    number = e.spec.number,
                    id = r.id,
                    loc = REGIONS[r.region].code,
                    sku = r.sku,
                    meter = r.meter_id,
                    without = n(r.cost_without),
                    qty = r.quantity,
                    with = n(r.cost_with),
                    savings = n(r.cost_without - r.cost_with),
                    first = r.first_usage,
                    scope = if r.subscription.is_some() { "Single" } else { "Shared" },
                    ratio = r.flex_ratio,
                    group = r.flex_group,
                    hours = r.total_hours,
                )
            })
            .collect()
    };
    if items.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    list(shared, headers, path, params, &items)
}

/// One page of a Consumption list: `$skiptoken` is the offset of its first item.
fn list(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    params: &HashMap<String, String>,
    items: &[String],
) -> Response {
    let cfg = &shared.config.arm;
    let whole: usize = items.iter().map(|i| i.len() + 1).sum();
    if whole as u64 > cfg.max_list_bytes {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The response is too large: it exceeds the 12 MB limit. Reduce the date range.",
        );
    }
    let skip: usize = params
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size = cfg.list_page_size.max(1);
    let page: Vec<&str> = items
        .iter()
        .skip(skip)
        .take(size)
        .map(String::as_str)
        .collect();
    let mut body = format!(r#"{{"value":[{}]"#, page.join(","));
    if skip + size < items.len() {
        let mut query: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "$skiptoken")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.sort();
        query.push(("$skiptoken".into(), (skip + size).to_string()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let link = format!("{}{path}?{query}", link_base(shared, headers));
        body.push_str(&format!(r#","nextLink":{}"#, serde_json::Value::from(link)));
    }
    body.push('}');
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The date of `properties/{field} {op} …` in a `$filter`, lower-cased field names.
fn date_condition(filter: &str, field: &str, op: &str) -> Option<NaiveDate> {
    let lower = filter.to_ascii_lowercase();
    let at = lower.find(&format!("properties/{field} {op} "))?;
    let rest = filter[at..].split_whitespace().nth(2)?;
    let rest = rest.trim_matches(|c| c == '\'' || c == '"');
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
}

/// The quoted value of `properties/{field} eq '…'` in a `$filter`, lower-cased.
fn eq_condition(filter: &str, field: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let at = lower.find(&format!("properties/{field} eq "))?;
    let rest = &lower[at..];
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    Some(rest[start..end].to_string())
}
