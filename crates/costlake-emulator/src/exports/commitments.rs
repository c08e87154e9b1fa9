//! The cells of a reservation's row in an EA cost export, as Microsoft prints them: purchases
//! and refunds against the reservation order (`Microsoft.Capacity`), used hours against the
//! virtual machine that ran them, unused hours against the reservation; `PricingModel`
//! `Reservation`, `PayGPrice` 0 (as real files have it), `UnitPrice` the size's on-demand
//! price per hour (twice the reservation's), and the reservation's ids and names.

use chrono::{Datelike, NaiveDate};
use costlake::model::decimal::format_plain;
use costlake::schema::Col;

use super::cells::owner_cell;
use crate::generator::{
    AMOUNT_SCALE, COST_SCALE, CommitmentCharge, CommitmentKind, DEPARTMENTS, Enrollment,
    HOURS_SCALE, Period, RATE_SCALE, REGIONS,
};

fn us_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{}", d.month(), d.day(), d.year())
}

/// The size's on-demand price per hour at [`RATE_SCALE`]: twice the reservation's.
fn on_demand_hourly(c: &CommitmentCharge) -> i128 {
    let r = c.reservation;
    let hourly = r.monthly / (730 * r.quantity as i128);
    2 * hourly * 10i128.pow(RATE_SCALE - AMOUNT_SCALE)
}

/// The cell of `col` (or, for columns only exports have, of `header`) of an EA cost export.
pub(super) fn cell(
    e: &Enrollment,
    period: &Period,
    c: &CommitmentCharge,
    col: Col,
    header: &str,
) -> Option<String> {
    let r = c.reservation;
    let subscription = &e.subscriptions[r.subscription];
    let account = &e.accounts[subscription.account];
    let department = &DEPARTMENTS[account.department];
    let region = &REGIONS[r.region];
    let resource = c
        .instance
        .and_then(|id| e.resources.iter().find(|res| res.instance_id == id));
    let order = format!(
        "/providers/Microsoft.Capacity/reservationOrders/{}",
        r.order_id
    );
    let bought = matches!(c.kind, CommitmentKind::Purchase | CommitmentKind::Refund);
    let money = |v: i128, scale| format_plain(v, scale);
    if let Some(cell) = owner_cell(col, department, account, subscription) {
        return Some(cell);
    }
    Some(match col {
        Col::ResourceGroup => resource?.resource_group.clone(),
        Col::InstanceId => match resource {
            Some(vm) => vm.instance_id.clone(),
            None => format!("{order}/reservations/{}", r.id),
        },
        Col::BillingAccountId => e.spec.number.to_string(),
        Col::CurrencyCode => "USD".into(),
        Col::BillingStart => us_date(period.id.first_day()),
        Col::BillingEnd => us_date(period.id.last_day()),
        Col::Date => us_date(c.date),
        Col::ChargeType => match c.kind {
            CommitmentKind::Purchase => "Purchase",
            CommitmentKind::Refund => "Refund",
            CommitmentKind::Used => "Usage",
            CommitmentKind::Unused => "UnusedReservation",
        }
        .into(),
        Col::Frequency if bought && r.recurring => "Recurring".into(),
        Col::Frequency if bought => "OneTime".into(),
        Col::Frequency => "UsageBased".into(),
        Col::PricingModel => "Reservation".into(),
        Col::Cost => money(c.cost, COST_SCALE),
        Col::ConsumedQuantity => money(c.quantity, HOURS_SCALE),
        Col::ResourceRate if bought => money(c.cost / r.quantity as i128, COST_SCALE),
        Col::ResourceRate => money(
            c.cost * 10i128.pow(HOURS_SCALE) / c.quantity.max(1),
            COST_SCALE,
        ),
        Col::PublisherType => "Azure".into(),
        Col::IsAzureCreditEligible => "True".into(),
        Col::Product => format!(
            "Virtual Machines {} - {} - {}",
            r.flex_group, r.sku, region.display
        ),
        Col::MeterCategory => "Virtual Machines".into(),
        Col::MeterSubCategory => r.flex_group.into(),
        Col::MeterName => r.sku.into(),
        Col::MeterRegion => region.meter_region.into(),
        Col::UnitOfMeasure => "1 Hour".into(),
        Col::ResourceLocation => region.code.into(),
        Col::ConsumedService if bought => "Microsoft.Capacity".into(),
        Col::ConsumedService => "Microsoft.Compute".into(),
        Col::OfferId => subscription.offer_id.into(),
        Col::PublisherName => "Microsoft".into(),
        _ => match header {
            "BillingAccountName" => format!("Contoso enrollment {}", e.spec.number),
            "PayGPrice" => "0".into(),
            "UnitPrice" if bought => money(c.cost / r.quantity as i128, COST_SCALE),
            "UnitPrice" => money(on_demand_hourly(c), RATE_SCALE),
            "ReservationId" => r.id.clone(),
            "ReservationName" | "benefitName" => r.order_name.clone(),
            "ProductOrderId" => r.order_id.clone(),
            "ProductOrderName" => format!(
                "Reserved VM Instance, {}, {}, {}",
                r.sku,
                region.display,
                if r.term == "P3Y" { "3 Years" } else { "1 Year" }
            ),
            "Term" => if r.term == "P3Y" { "36" } else { "12" }.into(),
            "benefitId" => format!("{order}/reservations/{}", r.id),
            "ServiceFamily" => "Compute".into(),
            _ => return None,
        },
    })
}
