//! Rows of the synthetic enrollment printed as the EA service prints them: field names per API
//! version from `schema`, numbers in .NET's shortest form, and the documented type drift
//! (numbers as strings, `"False"` for `false`, dates with and without `Z`).

use chrono::NaiveDate;

use super::generator::{
    Balance, COST_SCALE, Enrollment, MarketplaceRow, Meter, PRICE_SCALE, Period, QUANTITY_SCALE,
    RATE_SCALE, UsageRow,
};
use costlake::model::Dataset;
use costlake::model::decimal::format_api;
use costlake::schema::{ApiVersion, Col};

/// A value about to be printed as JSON.
enum Value<'a> {
    Null,
    Str(&'a str),
    Owned(String),
    /// Printed as it is: a number or a boolean.
    Raw(String),
}

fn num(mantissa: i128, scale: u32) -> Value<'static> {
    Value::Raw(format_api(mantissa, scale))
}

/// An integer id, sent as a string on some rows: the service's type drift.
fn id(v: i64, as_string: bool) -> Value<'static> {
    if as_string {
        Value::Owned(v.to_string())
    } else {
        Value::Raw(v.to_string())
    }
}

fn boolean(v: bool, as_string: bool) -> Value<'static> {
    match (v, as_string) {
        (true, true) => Value::Str("True"),
        (false, true) => Value::Str("False"),
        (v, false) => Value::Raw(v.to_string()),
    }
}

fn opt(v: Option<&str>) -> Value<'_> {
    v.map_or(Value::Null, Value::Str)
}

/// A usage date the three ways the service prints it.
fn usage_date(d: NaiveDate, drift: u64) -> Value<'static> {
    Value::Owned(match drift % 3 {
        0 => format!("{d}T00:00:00"),
        1 => format!("{d}T00:00:00Z"),
        _ => format!("{d}T00:00:00.000Z"),
    })
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_object<'a>(
    out: &mut String,
    dataset: Dataset,
    version: ApiVersion,
    mut value: impl FnMut(Col) -> Value<'a>,
) {
    out.push('{');
    let mut first = true;
    for field in dataset.fields() {
        let Some(name) = field.api_name(version) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(out, name);
        out.push(':');
        match value(field.col) {
            Value::Null => out.push_str("null"),
            Value::Str(s) => push_json_string(out, s),
            Value::Owned(s) => push_json_string(out, &s),
            Value::Raw(s) => out.push_str(&s),
        }
    }
    out.push('}');
}

pub fn usage(out: &mut String, version: ApiVersion, r: &UsageRow<'_>) {
    let ids_as_text = r.drift.is_multiple_of(20);
    let meter = r.meter;
    let family = meter.family();
    let region = meter.region();
    push_object(out, Dataset::UsageDetails, version, |col| match col {
        Col::ServiceName => Value::Str(family.category),
        Col::ServiceTier => Value::Str(family.service_tier),
        Col::Location => Value::Str(region.display),
        Col::ChargesBilledSeparately => {
            boolean(r.billed_separately, (r.drift >> 8).is_multiple_of(7))
        }
        Col::PartNumber => Value::Str(&meter.part_number),
        Col::ResourceGuid | Col::MeterId => Value::Str(&meter.id),
        Col::OfferId => Value::Str(r.subscription.offer_id),
        Col::Cost => num(r.cost, COST_SCALE),
        Col::AccountId => id(r.account.id, ids_as_text),
        Col::ProductId => id(1000 + meter.index as i64, false),
        Col::ResourceLocationId => id(10 + meter.region as i64, false),
        Col::ConsumedServiceId => id(1 + meter.family as i64, false),
        Col::DepartmentId => id(r.department.id, ids_as_text),
        Col::AccountOwnerEmail => Value::Str(&r.account.owner),
        Col::AccountName => Value::Str(&r.account.name),
        Col::ServiceAdministratorId => Value::Str(&r.subscription.admin),
        Col::SubscriptionId => id(r.subscription.id, ids_as_text),
        Col::SubscriptionGuid => Value::Str(&r.subscription.guid),
        Col::SubscriptionName => Value::Str(&r.subscription.name),
        Col::Date => usage_date(r.date, r.drift >> 16),
        Col::Product => Value::Owned(meter.product()),
        Col::MeterCategory => Value::Str(family.category),
        Col::MeterSubCategory => Value::Str(family.sub_category),
        Col::MeterRegion => Value::Str(region.meter_region),
        Col::MeterName => Value::Str(meter.name),
        Col::ConsumedQuantity => num(r.quantity, QUANTITY_SCALE),
        Col::ResourceRate => num(r.rate, RATE_SCALE),
        Col::ResourceLocation => Value::Str(region.code),
        Col::ConsumedService => Value::Str(family.consumed_service),
        Col::InstanceId => Value::Str(&r.resource.instance_id),
        Col::ServiceInfo1 => Value::Null,
        Col::ServiceInfo2 => Value::Str(""),
        Col::AdditionalInfo => additional_info(meter, r.drift),
        Col::Tags => opt(r.resource.tags.as_deref()),
        Col::StoreServiceIdentifier => Value::Null,
        Col::DepartmentName => Value::Str(r.department.name),
        Col::CostCenter => Value::Str(r.department.cost_center),
        Col::UnitOfMeasure => Value::Str(meter.unit),
        Col::ResourceGroup => Value::Str(&r.resource.resource_group),
        other => unreachable!("usage has no {other:?}"),
    });
}

fn additional_info(meter: &Meter, drift: u64) -> Value<'static> {
    let family = meter.family();
    if family.resource_type == "virtualMachines" {
        let cores = 2 << (drift % 3);
        Value::Owned(format!(
            "{{\"ImageType\":null,\"ServiceType\":\"Standard_{}\",\"VMName\":null,\"VCPUs\":{cores}}}",
            meter
                .name
                .split('/')
                .next()
                .unwrap_or("D2")
                .replace(' ', "_")
        ))
    } else if drift.is_multiple_of(2) {
        Value::Str("")
    } else {
        Value::Null
    }
}

pub fn marketplace(out: &mut String, version: ApiVersion, period: &Period, r: &MarketplaceRow<'_>) {
    let ids_as_text = r.drift.is_multiple_of(25);
    push_object(out, Dataset::MarketplaceCharges, version, |col| match col {
        Col::Id => Value::Owned(format!("mp-{}-{:07}", period.id, r.index)),
        Col::SubscriptionGuid => Value::Str(&r.subscription.guid),
        Col::SubscriptionName => Value::Str(&r.subscription.name),
        Col::MeterId => Value::Str(r.offer.meter_id),
        Col::UsageStartDate => Value::Owned(format!("{}T00:00:00Z", r.date)),
        Col::UsageEndDate => Value::Owned(format!("{}T23:59:59Z", r.date)),
        Col::OfferName => Value::Str(r.offer.offer),
        Col::ResourceGroup => Value::Str(&r.resource.resource_group),
        Col::InstanceId => Value::Str(&r.resource.instance_id),
        Col::AdditionalInfo => Value::Str("{\"ImageType\":null,\"ServiceType\":\"Medium\"}"),
        Col::Tags => opt(r.resource.tags.as_deref()),
        Col::OrderNumber => Value::Owned(format!("order-{:08x}", r.drift as u32)),
        Col::UnitOfMeasure => Value::Str(r.offer.unit),
        Col::CostCenter => Value::Str(r.department.cost_center),
        Col::AccountId => id(r.account.id, ids_as_text),
        Col::AccountName => Value::Str(&r.account.name),
        Col::AccountOwnerId => Value::Str(&r.account.owner),
        Col::DepartmentId => id(r.department.id, ids_as_text),
        Col::DepartmentName => Value::Str(r.department.name),
        Col::PublisherName => Value::Str(r.offer.publisher),
        Col::PlanName => Value::Str(r.offer.plan),
        Col::ConsumedQuantity => num(r.quantity, QUANTITY_SCALE),
        Col::ResourceRate => num(r.rate, RATE_SCALE),
        Col::ExtendedCost => num(r.cost, COST_SCALE),
        Col::IsRecurringCharge => boolean(false, (r.drift >> 8).is_multiple_of(2)),
        other => unreachable!("marketplace has no {other:?}"),
    });
}

pub fn price_sheet(
    out: &mut String,
    version: ApiVersion,
    e: &Enrollment,
    period: &Period,
    meter: &Meter,
) {
    push_object(out, Dataset::PriceSheet, version, |col| match col {
        Col::OfferId => Value::Str("MS-AZR-0017P"),
        Col::Id => Value::Owned(format!(
            "enrollments/{}/billingperiods/{}/products/{}/pricesheets",
            e.spec.number,
            period.id,
            1000 + meter.index
        )),
        Col::BillingPeriodId => Value::Owned(period.id.to_string()),
        Col::MeterIdPriceSheet => Value::Str(&meter.id),
        Col::MeterName => Value::Owned(format!("{} - {}", meter.name, meter.region().display)),
        Col::UnitOfMeasure => Value::Str(meter.unit),
        Col::IncludedQuantity => num(0, 0),
        Col::PartNumber => Value::Str(&meter.part_number),
        Col::UnitPrice => num(e.unit_price(meter.index, period.index) as i128, PRICE_SCALE),
        Col::CurrencyCode => Value::Str("USD"),
        other => unreachable!("price sheet has no {other:?}"),
    });
}

pub fn balance_summary(
    out: &mut String,
    version: ApiVersion,
    e: &Enrollment,
    period: &Period,
    b: &Balance,
) {
    let details = |name: &str, v: i128| {
        if v == 0 {
            Value::Raw("[]".into())
        } else {
            let mut s = String::from("[{\"name\":");
            push_json_string(&mut s, name);
            s.push_str(",\"value\":");
            s.push_str(&format_api(v, COST_SCALE));
            s.push_str("}]");
            Value::Raw(s)
        }
    };
    push_object(out, Dataset::BalanceSummary, version, |col| match col {
        Col::Id => Value::Owned(format!(
            "enrollments/{}/billingperiods/{}/balancesummaries",
            e.spec.number, period.id
        )),
        // The documented example sends the period as a number.
        Col::BillingPeriodId => Value::Raw(period.id.to_string()),
        Col::CurrencyCode => Value::Str("USD"),
        Col::BeginningBalance => num(b.beginning, COST_SCALE),
        Col::EndingBalance => num(b.ending, COST_SCALE),
        Col::NewPurchases => num(b.new_purchases, COST_SCALE),
        Col::Adjustments => num(b.adjustments, COST_SCALE),
        Col::Utilized => num(b.utilized, COST_SCALE),
        Col::ServiceOverage => num(b.service_overage, COST_SCALE),
        Col::ChargesBilledSeparatelyAmount => num(b.billed_separately, COST_SCALE),
        Col::TotalOverage => num(b.total_overage, COST_SCALE),
        Col::TotalUsage => num(b.total_usage, COST_SCALE),
        Col::AzureMarketplaceServiceCharges => num(b.marketplace, COST_SCALE),
        Col::NewPurchasesDetails => details("Monetary Commitment", b.new_purchases),
        Col::AdjustmentDetails => details("Promo Credit", b.adjustments),
        other => unreachable!("balance summary has no {other:?}"),
    });
}

pub fn billing_period(out: &mut String, e: &Enrollment, period: &Period) {
    let link = |what: &str| {
        Value::Owned(format!(
            "/v1/enrollments/{}/billingperiods/{}/{what}",
            e.spec.number, period.id
        ))
    };
    push_object(
        out,
        Dataset::BillingPeriods,
        ApiVersion::V2,
        |col| match col {
            Col::BillingPeriodId => Value::Owned(period.id.to_string()),
            Col::BillingStart => Value::Owned(format!("{}T00:00:00Z", period.id.first_day())),
            Col::BillingEnd => Value::Owned(format!("{}T23:59:59Z", period.id.last_day())),
            Col::BalanceSummaryLink => link("balancesummary"),
            Col::UsageDetailsLink => {
                if e.usage_rows(period) > 0 {
                    link("usagedetails")
                } else {
                    Value::Null
                }
            }
            Col::MarketplaceChargesLink => {
                if e.marketplace_rows(period) > 0 {
                    link("marketplacecharges")
                } else {
                    Value::Null
                }
            }
            Col::PriceSheetLink => link("pricesheet"),
            other => unreachable!("billing periods have no {other:?}"),
        },
    );
}
