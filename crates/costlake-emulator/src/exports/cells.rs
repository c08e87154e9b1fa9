//! The cells of an export row, as each export type prints them: EA exports dates `MM/dd/yyyy`
//! and tags without braces, FOCUS instants, exclusive ends and its own value names; money
//! from the generator's exact integers.

use chrono::{Datelike, Duration, NaiveDate};
use costlake::model::decimal::format_plain;
use costlake::schema::Col;

use super::commitments;
use crate::generator::{
    Account, COST_SCALE, CommitmentCharge, Department, Enrollment, MarketplaceRow, PRICE_SCALE,
    Period, QUANTITY_SCALE, RATE_SCALE, Subscription, UsageRow,
};

/// A row of the month's charges: Azure usage, a Marketplace charge, or a reservation's
/// (EA cost exports only).
pub(super) enum Charge<'a> {
    Usage(UsageRow<'a>),
    Marketplace(MarketplaceRow<'a>),
    Commitment(CommitmentCharge<'a>),
}

fn money(v: i128, scale: u32) -> Option<String> {
    Some(format_plain(v, scale))
}

fn us_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{}", d.month(), d.day(), d.year())
}

fn instant(d: NaiveDate) -> String {
    format!("{d}T00:00:00Z")
}

impl Charge<'_> {
    /// The cell of one column: EA exports print dates `MM/dd/yyyy` and tags without their
    /// braces; FOCUS prints instants, exclusive ends and its own value names.
    pub(super) fn value(
        &self,
        e: &Enrollment,
        period: &Period,
        col: Col,
        focus: bool,
    ) -> Option<String> {
        let (date, subscription, account, department, resource) = match self {
            Charge::Usage(r) => (r.date, r.subscription, r.account, r.department, r.resource),
            Charge::Marketplace(r) => (r.date, r.subscription, r.account, r.department, r.resource),
            Charge::Commitment(c) => return commitments::cell(e, period, c, col, ""),
        };
        let marketplace = matches!(self, Charge::Marketplace(_));
        let (quantity, rate, cost) = match self {
            Charge::Usage(r) => (r.quantity, r.rate, r.cost),
            Charge::Marketplace(r) => (r.quantity, r.rate, r.cost),
            Charge::Commitment(_) => unreachable!("answered above"),
        };
        let day = |d: NaiveDate| if focus { instant(d) } else { us_date(d) };
        if let Some(cell) = owner_cell(col, department, account, subscription) {
            return Some(cell);
        }
        Some(match col {
            Col::ResourceGroup => resource.resource_group.clone(),
            Col::InstanceId => resource.instance_id.clone(),
            Col::Tags => {
                let tags = resource.tags.as_deref().filter(|t| !t.is_empty())?;
                if focus {
                    tags.to_string()
                } else {
                    // EA exports drop the outer braces.
                    tags.trim()
                        .strip_prefix('{')?
                        .strip_suffix('}')?
                        .to_string()
                }
            }
            Col::BillingAccountId => e.spec.number.to_string(),
            Col::CurrencyCode => "USD".into(),
            Col::BillingStart => day(period.id.first_day()),
            Col::BillingEnd if focus => instant(period.id.next().first_day()),
            Col::BillingEnd => us_date(period.id.last_day()),
            Col::Date => day(date),
            Col::ChargePeriodEnd => instant(date + Duration::days(1)),
            Col::ChargeType => "Usage".into(),
            Col::Frequency if focus => "Usage-Based".into(),
            Col::Frequency => "UsageBased".into(),
            Col::PricingModel if focus => "Standard".into(),
            Col::PricingModel => "OnDemand".into(),
            Col::Cost | Col::EffectiveCost => money(cost, COST_SCALE)?,
            Col::ConsumedQuantity => money(quantity, QUANTITY_SCALE)?,
            Col::ResourceRate => money(rate, RATE_SCALE)?,
            Col::PublisherType => match (marketplace, focus) {
                (true, true) => "Vendor",
                (true, false) => "Marketplace",
                (false, true) => "Cloud Provider",
                (false, false) => "Azure",
            }
            .into(),
            Col::IsAzureCreditEligible => {
                let eligible = match self {
                    Charge::Usage(r) => !r.billed_separately,
                    Charge::Marketplace(_) | Charge::Commitment(_) => false,
                };
                if eligible { "True" } else { "False" }.into()
            }
            other => match self {
                Charge::Usage(r) => {
                    let meter = r.meter;
                    let family = meter.family();
                    match other {
                        Col::Product => meter.product(),
                        Col::MeterCategory => family.category.into(),
                        Col::MeterSubCategory => family.sub_category.into(),
                        Col::MeterId => meter.id.clone(),
                        Col::MeterName => meter.name.into(),
                        Col::MeterRegion => meter.region().meter_region.into(),
                        Col::UnitOfMeasure => meter.unit.into(),
                        Col::ResourceLocation => meter.region().code.into(),
                        Col::ConsumedService => family.consumed_service.into(),
                        Col::OfferId => r.subscription.offer_id.into(),
                        Col::PartNumber => meter.part_number.clone(),
                        Col::PublisherName => "Microsoft".into(),
                        _ => return None,
                    }
                }
                Charge::Marketplace(r) => match other {
                    Col::Product => r.offer.offer.into(),
                    Col::MeterId => r.offer.meter_id.into(),
                    Col::UnitOfMeasure => r.offer.unit.into(),
                    Col::PublisherName => r.offer.publisher.into(),
                    Col::PlanName => r.offer.plan.into(),
                    _ => return None,
                },
                Charge::Commitment(_) => unreachable!("answered above"),
            },
        })
    }
}

impl Charge<'_> {
    /// The cell of a column that only exports have (no [`Col`] of its own), by its header: the
    /// FOCUS columns Microsoft derives from the charge, and the retail price (`PayGPrice`),
    /// contracted price (`UnitPrice`) and account name of the EA cost export. List and
    /// contracted prices are the price sheet's per base unit (the emulator's enrollment has no
    /// discount on list prices), so rows of negotiated meters cost less than their
    /// ContractedCost; Marketplace rates are their own contract.
    pub(super) fn export_only(
        &self,
        e: &Enrollment,
        period: &Period,
        header: &str,
        focus: bool,
    ) -> Option<String> {
        let (quantity, contracted, unit) = match self {
            Charge::Usage(r) => (
                r.quantity,
                e.sheet_rate(r.meter, period.index),
                r.meter.unit,
            ),
            Charge::Marketplace(r) => (r.quantity, r.rate, r.offer.unit),
            Charge::Commitment(c) => {
                return commitments::cell(e, period, c, Col::ExportOnly, header);
            }
        };
        let usage = match self {
            Charge::Usage(r) => Some(r),
            Charge::Marketplace(_) | Charge::Commitment(_) => None,
        };
        Some(match (header, focus) {
            ("BillingAccountName" | "x_BillingAccountName", _) => {
                format!("Contoso enrollment {}", e.spec.number)
            }
            ("PayGPrice" | "UnitPrice", false) => money(contracted, RATE_SCALE)?,
            ("ListCost" | "ContractedCost", true) => money(quantity * contracted, COST_SCALE)?,
            ("ListUnitPrice" | "ContractedUnitPrice", true) => money(contracted, RATE_SCALE)?,
            ("PricingQuantity", true) => money(quantity, QUANTITY_SCALE)?,
            ("PricingUnit", true) => unit_name(unit).to_string(),
            ("PricingCurrency", true) => "USD".into(),
            ("ProviderName" | "InvoiceIssuerName", true) => "Microsoft".into(),
            ("InvoiceId", true) if !e.is_open(period) => {
                format!("E{}{}", e.spec.number % 10_000, period.id)
            }
            ("ChargeDescription", true) => match self {
                Charge::Usage(r) => r.meter.product(),
                Charge::Marketplace(r) => format!("{} - {}", r.offer.offer, r.offer.plan),
                Charge::Commitment(_) => return None,
            },
            ("ServiceName", true) => match self {
                Charge::Usage(r) => r.meter.family().category.into(),
                Charge::Marketplace(r) => r.offer.offer.into(),
                Charge::Commitment(_) => return None,
            },
            ("ServiceCategory", true) => usage.map_or("Other", |r| r.meter.family().focus.0).into(),
            ("ServiceSubcategory", true) => usage
                .map_or("Other (Other)", |r| r.meter.family().focus.1)
                .into(),
            ("SkuPriceId", true) => match self {
                Charge::Usage(r) => r.meter.id.clone(),
                Charge::Marketplace(r) => r.offer.meter_id.into(),
                Charge::Commitment(_) => return None,
            },
            ("RegionName", true) => usage?.meter.region().display.into(),
            ("x_PricingBlockSize", true) => usage.map_or(1, |r| r.meter.block).to_string(),
            ("x_PricingUnitDescription", true) => unit.into(),
            _ => return None,
        })
    }
}

/// The cells that say whose a charge is: its department, account and subscription.
pub(super) fn owner_cell(
    col: Col,
    department: &Department,
    account: &Account,
    subscription: &Subscription,
) -> Option<String> {
    Some(match col {
        Col::DepartmentName => department.name.to_string(),
        Col::DepartmentId => department.id.to_string(),
        Col::CostCenter => department.cost_center.to_string(),
        Col::AccountName => account.name.clone(),
        Col::AccountOwnerEmail => account.owner.clone(),
        Col::AccountId => account.id.to_string(),
        Col::SubscriptionGuid => subscription.guid.clone(),
        Col::SubscriptionName => subscription.name.clone(),
        _ => return None,
    })
}

/// The unit of a unit of measure without its block: `100 Hours` is `Hours`, `1/Month` is
/// `Month`.
fn unit_name(unit: &str) -> &str {
    unit.trim_start_matches(|c: char| c.is_ascii_digit() || c == ',' || c == '.')
        .trim_start()
        .trim_start_matches('/')
        .trim_start()
}

/// A price sheet export row of one meter.
pub(super) fn price_value(
    e: &Enrollment,
    period: &Period,
    meter: &crate::generator::Meter,
    col: Col,
) -> String {
    let family = meter.family();
    match col {
        Col::MeterId => meter.id.clone(),
        Col::MeterName => format!("{} - {}", meter.name, meter.region().display),
        Col::MeterCategory => family.category.into(),
        Col::MeterSubCategory => family.sub_category.into(),
        Col::MeterRegion => meter.region().meter_region.into(),
        Col::Product => meter.product(),
        Col::UnitOfMeasure => meter.unit.into(),
        Col::PartNumber => meter.part_number.clone(),
        Col::UnitPrice => {
            format_plain(e.unit_price(meter.index, period.index) as i128, PRICE_SCALE)
        }
        Col::CurrencyCode => "USD".into(),
        Col::IncludedQuantity => "0".into(),
        Col::OfferId => "MS-AZR-0017P".into(),
        _ => String::new(),
    }
}
