//! The `focus` view: every cost in FinOps FOCUS 1.2 columns, from whichever source a billing
//! account and period has, and from one source only: native FOCUS exports (`focus_costs`),
//! else actual-cost exports (`cost_details`), else the EA API's usage details and marketplace
//! charges. Each column says how it is computed from each source and why; the view's SQL and the
//! mapping table in `docs/focus.md` are both generated from this one table.

use crate::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, service_categories};

/// The view's name.
pub const FOCUS_VIEW: &str = "focus";

/// One column of the view.
pub struct FocusColumn {
    pub name: &'static str,
    /// SQL over usage details (`u`), the period's unambiguous sheet prices (`s`) and the
    /// period's currency (`b`).
    pub usage: &'static str,
    /// SQL over marketplace charges (`m`) and the period's currency (`b`).
    pub marketplace: &'static str,
    /// SQL over actual-cost export rows (`c`).
    pub exported: &'static str,
    /// SQL over native FOCUS export rows (`f`).
    pub native: &'static str,
    pub why: &'static str,
}

const fn col(
    name: &'static str,
    usage: &'static str,
    marketplace: &'static str,
    exported: &'static str,
    native: &'static str,
    why: &'static str,
) -> FocusColumn {
    FocusColumn {
        name,
        usage,
        marketplace,
        exported,
        native,
        why,
    }
}

// Placeholders expanded by `sql_of`: the lake's decimal and timestamp types, and the first
// instant of the row's billing month.
const DEC: &str = "{dec}";
const TS: &str = "{ts}";

pub static FOCUS_COLUMNS: &[FocusColumn] = &[
    col(
        "BilledCost",
        "u.cost",
        "m.extended_cost",
        "c.cost_in_billing_currency",
        "f.billed_cost",
        "What the invoice charges. The EA API reports actual cost: each row's `cost` (`extendedCost` in v1).",
    ),
    col(
        "EffectiveCost",
        "u.cost",
        "m.extended_cost",
        "CASE WHEN am.billing_account IS NOT NULL AND c.pricing_model IN ('Reservation', 'SavingsPlan') THEN CAST(0 AS {dec}) ELSE c.cost_in_billing_currency END",
        "f.effective_cost",
        "The EA API: BilledCost (it has no amortized view, and reservation purchases are not usage rows). Cost exports: where the billing account and month has an amortized-cost export too, the hours a reservation or savings plan covered and left unused come from it at their amortized cost (BilledCost 0), and the actual export's commitment purchases, refunds and covered hours have none, so each commitment is counted once, spread over the days it covers; without one, BilledCost.",
    ),
    col(
        "ListCost",
        "coalesce(CAST(u.consumed_quantity * CAST(s.unit_price / unit_block_size(s.unit_of_measure) AS {dec}) AS {dec}), u.cost)",
        "m.extended_cost",
        "CASE WHEN coalesce(c.pay_g_price, 0) = 0 THEN coalesce(CAST(c.quantity * c.unit_price AS {dec}), c.cost_in_billing_currency) ELSE CAST(c.quantity * c.pay_g_price AS {dec}) END",
        "coalesce(f.list_cost, f.contracted_cost, f.billed_cost)",
        "Quantity × the retail price (PayGPrice) where the export carries one. Where no retail price exists (the EA API; purchases and hours covered by a commitment, which exports print with a retail price of 0) it is ContractedCost, the highest price the data holds, itself BilledCost where no contracted price exists either, as FOCUS asks of a charge without a unit price (ListCost-C-008-C): no saving the data does not hold.",
    ),
    col(
        "ContractedCost",
        "coalesce(CAST(u.consumed_quantity * CAST(s.unit_price / unit_block_size(s.unit_of_measure) AS {dec}) AS {dec}), u.cost)",
        "m.extended_cost",
        "coalesce(CAST(c.quantity * c.unit_price AS {dec}), c.cost_in_billing_currency)",
        "coalesce(f.contracted_cost, f.billed_cost)",
        "ConsumedQuantity × ContractedUnitPrice. Where the period's price sheet lacks the meter or lists it at more than one price, ContractedUnitPrice is null and ContractedCost is BilledCost (ContractedCost-C-008-C). It differs from BilledCost where a meter is billed below the sheet.",
    ),
    col(
        "ContractedUnitPrice",
        "CAST(s.unit_price / unit_block_size(s.unit_of_measure) AS {dec})",
        "m.resource_rate",
        "c.unit_price",
        "f.contracted_unit_price",
        "The price sheet's price per block divided by the block (`100 Hours` → per hour), so it multiplies ConsumedQuantity. Marketplace rates are the contract.",
    ),
    col(
        "BillingAccountId",
        "u.enrollment",
        "m.enrollment",
        "c.billing_account",
        "f.billing_account",
        "The enrollment number (the `enrollment` partition).",
    ),
    col(
        "BillingAccountName",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "c.billing_account_name",
        "f.billing_account_name",
        "The EA API names no enrollment; exports do.",
    ),
    col(
        "BillingCurrency",
        "b.currency_code",
        "b.currency_code",
        "c.billing_currency_code",
        "f.billing_currency",
        "From the period's balance summary: usage rows carry no currency, and an enrollment bills in one.",
    ),
    col(
        "PricingCurrency",
        "b.currency_code",
        "b.currency_code",
        "c.billing_currency_code",
        "coalesce(f.pricing_currency, f.billing_currency)",
        "An EA enrollment's prices are in its billing currency, so the EA API and EA cost exports price in it; FOCUS exports name the currency their prices are in (which may differ).",
    ),
    col(
        "x_BillingExchangeRate",
        "CAST(1 AS {dec})",
        "CAST(1 AS {dec})",
        "CAST(1 AS {dec})",
        "coalesce(f.x_billing_exchange_rate, CASE WHEN f.pricing_currency IS NULL OR f.pricing_currency = f.billing_currency THEN CAST(1 AS {dec}) END)",
        "Billing currency per unit of pricing currency: a cost in the pricing currency is the cost / x_BillingExchangeRate. 1 where both are one currency.",
    ),
    col(
        "BillingPeriodStart",
        "{period_start}",
        "{period_start}",
        "{period_start}",
        "f.billing_period_start",
        "First instant (UTC) of the billing month the row was synced under.",
    ),
    col(
        "BillingPeriodEnd",
        "arrow_cast({period_start} + INTERVAL '1 month', '{ts}')",
        "arrow_cast({period_start} + INTERVAL '1 month', '{ts}')",
        "arrow_cast({period_start} + INTERVAL '1 month', '{ts}')",
        "f.billing_period_end",
        "First instant of the next month: FOCUS ends are exclusive.",
    ),
    col(
        "ChargePeriodStart",
        "arrow_cast(u.date, '{ts}')",
        "arrow_cast(m.usage_start_date, '{ts}')",
        "arrow_cast(c.date, '{ts}')",
        "f.charge_period_start",
        "Usage rows are daily: the day at 00:00 UTC.",
    ),
    col(
        "ChargePeriodEnd",
        "arrow_cast(arrow_cast(u.date, '{ts}') + INTERVAL '1 day', '{ts}')",
        "arrow_cast(coalesce(date_trunc('day', m.usage_end_date + INTERVAL '1 second'), m.usage_start_date + INTERVAL '1 day'), '{ts}')",
        "arrow_cast(arrow_cast(c.date, '{ts}') + INTERVAL '1 day', '{ts}')",
        "f.charge_period_end",
        "Exclusive. Marketplace ends are inclusive (`23:59:59`), so one second is added and the day truncated.",
    ),
    col(
        "ChargeCategory",
        "'Usage'",
        "CASE WHEN m.is_recurring_charge THEN 'Purchase' ELSE 'Usage' END",
        "CASE WHEN c.charge_type IN ('Purchase', 'Refund') THEN 'Purchase' WHEN c.charge_type = 'Tax' THEN 'Tax' WHEN c.charge_type = 'RoundingAdjustment' THEN 'Adjustment' ELSE 'Usage' END",
        "f.charge_category",
        "Usage details are usage. A recurring marketplace charge is a subscription fee, which FOCUS files as a purchase.",
    ),
    col(
        "ChargeClass",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CASE WHEN c.charge_type = 'Refund' THEN 'Correction' END",
        "f.charge_class",
        "`Correction` for a refund of an earlier charge; null otherwise, as FOCUS asks of every charge that corrects nothing.",
    ),
    col(
        "ChargeFrequency",
        "'Usage-Based'",
        "CASE WHEN m.is_recurring_charge THEN 'Recurring' ELSE 'Usage-Based' END",
        "CASE c.frequency WHEN 'OneTime' THEN 'One-Time' WHEN 'Recurring' THEN 'Recurring' ELSE 'Usage-Based' END",
        "f.charge_frequency",
        "From `isRecurringCharge` (v3); null there means usage-based.",
    ),
    col(
        "CommitmentDiscountId",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CASE WHEN c.pricing_model IN ('Reservation', 'SavingsPlan') THEN coalesce(c.benefit_id, c.reservation_id) END",
        "f.commitment_discount_id",
        "The reservation or savings plan of a commitment's row (`benefitId`, else `ReservationId`). The EA API's usage carries none.",
    ),
    col(
        "CommitmentDiscountType",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CASE c.pricing_model WHEN 'Reservation' THEN 'Reservation' WHEN 'SavingsPlan' THEN 'Savings Plan' END",
        "f.commitment_discount_type",
        "From `PricingModel`, as Microsoft's FOCUS exports name them.",
    ),
    col(
        "CommitmentDiscountCategory",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CASE c.pricing_model WHEN 'Reservation' THEN 'Usage' WHEN 'SavingsPlan' THEN 'Spend' END",
        "f.commitment_discount_category",
        "A reservation commits to usage, a savings plan to spend.",
    ),
    col(
        "CommitmentDiscountStatus",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CASE WHEN c.charge_type IN ('UnusedReservation', 'UnusedSavingsPlan') THEN 'Unused' WHEN c.charge_type = 'Usage' AND c.pricing_model IN ('Reservation', 'SavingsPlan') THEN 'Used' END",
        "f.commitment_discount_status",
        "`Used` for hours a commitment covered, `Unused` for the unused reservation or savings plan rows of amortized cost; null on purchases and other charges.",
    ),
    col(
        "ChargeDescription",
        "u.product",
        "concat(m.offer_name, ' - ', m.plan_name)",
        "c.product_name",
        "f.charge_description",
        "The EA product text; offer and plan for marketplace.",
    ),
    col(
        "ProviderName",
        "'Microsoft'",
        "'Microsoft'",
        "'Microsoft'",
        "f.provider_name",
        "Azure makes both available.",
    ),
    col(
        "PublisherName",
        "'Microsoft'",
        "m.publisher_name",
        "c.publisher_name",
        "f.publisher_name",
        "The marketplace publisher produces the offer.",
    ),
    col(
        "InvoiceId",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "CAST(NULL AS VARCHAR)",
        "f.invoice_id",
        "Only FOCUS exports name the invoice; the EA API and EA cost exports do not.",
    ),
    col(
        "InvoiceIssuerName",
        "'Microsoft'",
        "'Microsoft'",
        "'Microsoft'",
        "f.invoice_issuer_name",
        "EA invoices come from Microsoft, marketplace included.",
    ),
    col(
        "ServiceName",
        "coalesce(u.service_name, u.meter_category)",
        "m.offer_name",
        "coalesce(c.meter_category, c.product_name)",
        "f.service_name",
        "The meter category is the EA's service (v3's `serviceName` repeats it; earlier versions lack it). The offer (the exported product) is the marketplace's.",
    ),
    col(
        "ServiceCategory",
        "{service_category}",
        "'Other'",
        "{service_category}",
        "f.service_category",
        "FOCUS's fixed list, from the meter category; categories not listed and marketplace offers are `Other`.",
    ),
    col(
        "ServiceSubcategory",
        "{service_subcategory}",
        "'Other (Other)'",
        "{service_subcategory}",
        "f.service_subcategory",
        "FOCUS 1.2's fixed list under ServiceCategory, one per meter category; `Other (…)` where none fits.",
    ),
    col(
        "ResourceId",
        "u.instance_id",
        "m.instance_id",
        "c.resource_id",
        "f.resource_id",
        "The ARM resource id as sent (older rows may carry a bare name).",
    ),
    col(
        "ResourceName",
        "regexp_replace(u.instance_id, '^.*/', '')",
        "regexp_replace(m.instance_id, '^.*/', '')",
        "coalesce(c.resource_name, regexp_replace(c.resource_id, '^.*/', ''))",
        "f.resource_name",
        "The last segment of the resource id.",
    ),
    col(
        "RegionId",
        "u.resource_location",
        "CAST(NULL AS VARCHAR)",
        "c.resource_location",
        "f.region_id",
        "The resource's location as the API sends it (`eastus`); marketplace rows have none.",
    ),
    col(
        "RegionName",
        "coalesce(u.location, u.meter_region)",
        "CAST(NULL AS VARCHAR)",
        "c.meter_region",
        "f.region_name",
        "The display region (`US East`): v3's `location`, else the meter's region.",
    ),
    col(
        "SubAccountId",
        "u.subscription_guid",
        "m.subscription_guid",
        "c.subscription_id",
        "f.sub_account_id",
        "EA subscriptions are FOCUS sub-accounts; the GUID, not the legacy numeric id.",
    ),
    col(
        "SubAccountName",
        "u.subscription_name",
        "m.subscription_name",
        "c.subscription_name",
        "f.sub_account_name",
        "",
    ),
    col(
        "ConsumedQuantity",
        "u.consumed_quantity",
        "m.consumed_quantity",
        "c.quantity",
        "f.consumed_quantity",
        "In the meter's base unit (hours for a `100 Hours` meter).",
    ),
    col(
        "ConsumedUnit",
        "{unit_name}",
        "{unit_name}",
        "{unit_name}",
        "f.consumed_unit",
        "The unit of measure without its block size: `100 Hours` → `Hours`, `10,000 s` → `s`, `1/Month` → `Month`.",
    ),
    col(
        "PricingQuantity",
        "u.consumed_quantity",
        "m.consumed_quantity",
        "c.quantity",
        "f.pricing_quantity",
        "Prices are stated per base unit here (see ContractedUnitPrice), so it equals ConsumedQuantity.",
    ),
    col(
        "PricingUnit",
        "{unit_name}",
        "{unit_name}",
        "{unit_name}",
        "f.pricing_unit",
        "As ConsumedUnit; the block is in x_PricingBlockSize.",
    ),
    col(
        "SkuId",
        "u.part_number",
        "m.plan_name",
        "c.part_number",
        "f.sku_id",
        "The part number (v3) identifies what is sold; for marketplace, the plan.",
    ),
    col(
        "SkuPriceId",
        "u.meter_id",
        "m.meter_id",
        "c.meter_id",
        "f.sku_price_id",
        "The meter: what the price sheet prices.",
    ),
    col(
        "Tags",
        "CASE WHEN u.tags_map IS NULL THEN NULL ELSE u.tags END",
        "CASE WHEN m.tags_map IS NULL THEN NULL ELSE m.tags END",
        "CASE WHEN c.tags_map IS NULL THEN NULL ELSE c.tags END",
        "CASE WHEN f.tags_map IS NULL THEN NULL ELSE f.tags END",
        "The JSON object as sent; null when the API sent none, an empty string or something not an object.",
    ),
    col(
        "x_TagsMap",
        "u.tags_map",
        "m.tags_map",
        "c.tags_map",
        "f.tags_map",
        "Tags as a map (`\"x_TagsMap\"['env']`), for lookups and `map_keys`; null where Tags is.",
    ),
    col(
        "x_PublisherCategory",
        "'Cloud Provider'",
        "'Vendor'",
        "CASE WHEN c.publisher_type = 'Marketplace' THEN 'Vendor' ELSE 'Cloud Provider' END",
        "f.x_publisher_category",
        "Microsoft's split of Azure's own charges (`Cloud Provider`) from Marketplace ones (`Vendor`).",
    ),
    col(
        "x_SkuPlanName",
        "CAST(NULL AS VARCHAR)",
        "m.plan_name",
        "c.plan_name",
        "f.x_sku_plan_name",
        "The Marketplace plan.",
    ),
    col(
        "x_AccountName",
        "u.account_name",
        "m.account_name",
        "c.account_name",
        "f.x_account_name",
        "EA enrollment account: no FOCUS home (Microsoft's exports use the same name).",
    ),
    col(
        "x_AccountOwnerId",
        "u.account_owner_email",
        "m.account_owner_id",
        "c.account_owner_id",
        "f.x_account_owner_id",
        "",
    ),
    col(
        "x_InvoiceSectionId",
        "u.department_id",
        "m.department_id",
        "c.invoice_section_id",
        "f.x_invoice_section_id",
        "EA departments became invoice sections (Microsoft's migration mapping).",
    ),
    col(
        "x_InvoiceSectionName",
        "u.department_name",
        "m.department_name",
        "c.invoice_section_name",
        "f.x_invoice_section_name",
        "The department.",
    ),
    col(
        "x_CostCenter",
        "CAST(NULL AS VARCHAR)",
        "m.cost_center",
        "c.cost_center",
        "f.x_cost_center",
        "Only marketplace charges carry it in the EA API.",
    ),
    col(
        "x_ResourceGroupName",
        "u.resource_group",
        "m.resource_group",
        "c.resource_group",
        "f.x_resource_group_name",
        "",
    ),
    col(
        "x_SkuMeterCategory",
        "u.meter_category",
        "CAST(NULL AS VARCHAR)",
        "c.meter_category",
        "f.x_sku_meter_category",
        "",
    ),
    col(
        "x_SkuMeterSubcategory",
        "u.meter_sub_category",
        "CAST(NULL AS VARCHAR)",
        "c.meter_sub_category",
        "f.x_sku_meter_subcategory",
        "",
    ),
    col(
        "x_SkuMeterName",
        "u.meter_name",
        "CAST(NULL AS VARCHAR)",
        "c.meter_name",
        "f.sku_meter",
        "",
    ),
    col(
        "x_SkuOfferId",
        "u.offer_id",
        "CAST(NULL AS VARCHAR)",
        "c.offer_id",
        "f.x_sku_offer_id",
        "The Azure offer (`MS-AZR-0017P`, v3).",
    ),
    col(
        "x_SkuIsCreditEligible",
        "NOT u.charges_billed_separately",
        "false",
        "c.is_azure_credit_eligible",
        "f.x_sku_is_credit_eligible",
        "The inverse of `chargesBilledSeparately` (v3): whether the monetary commitment pays for it. Marketplace never draws on it.",
    ),
    col(
        "x_EffectiveUnitPrice",
        "u.resource_rate",
        "m.resource_rate",
        "c.effective_price",
        "f.x_effective_unit_price",
        "The rate actually billed per base unit.",
    ),
    col(
        "x_PricingBlockSize",
        "unit_block_size(u.unit_of_measure)",
        "unit_block_size(m.unit_of_measure)",
        "unit_block_size(c.unit_of_measure)",
        "CAST(f.x_pricing_block_size AS BIGINT)",
        "The number the unit of measure starts with (`10,000 s` → 10000).",
    ),
    col(
        "x_PricingUnitDescription",
        "u.unit_of_measure",
        "m.unit_of_measure",
        "c.unit_of_measure",
        "f.x_pricing_unit_description",
        "The unit of measure as sent.",
    ),
    col(
        "x_ConsumedService",
        "u.consumed_service",
        "CAST(NULL AS VARCHAR)",
        "c.consumed_service",
        "CAST(NULL AS VARCHAR)",
        "The resource provider (`Microsoft.Compute`).",
    ),
    col(
        "x_AdditionalInfo",
        "u.additional_info",
        "m.additional_info",
        "c.additional_info",
        "f.x_sku_details",
        "Service-specific JSON as sent.",
    ),
    col(
        "x_SourceDataset",
        "'usage_details'",
        "'marketplace_charges'",
        "'cost_details'",
        "'focus_costs'",
        "Which lake table the row comes from.",
    ),
    col(
        "x_BillingPeriod",
        "u.billing_period",
        "m.billing_period",
        "c.billing_period",
        "f.billing_period",
        "The `billing_period` partition (`yyyyMM`): filtering on it reads only that period's files.",
    ),
];

fn expand(template: &str, alias: &str) -> String {
    let dec = format!("DECIMAL({DECIMAL_PRECISION}, {DECIMAL_SCALE})");
    let ts = "Timestamp(Microsecond, Some(\"UTC\"))";
    let period_start =
        format!("arrow_cast(to_date(concat({alias}.billing_period, '01'), '%Y%m%d'), '{ts}')");
    let unit_name =
        format!("regexp_replace({alias}.unit_of_measure, '^[0-9][0-9,.]*\\s*/?\\s*', '')");
    let meter_category = format!("{alias}.meter_category");
    let (category, subcategory) = service_categories::case_sql(&meter_category);
    template
        .replace("{period_start}", &period_start)
        .replace("{unit_name}", &unit_name)
        .replace("{service_category}", &category)
        .replace("{service_subcategory}", &subcategory)
        .replace(DEC, &dec)
        .replace(TS, ts)
}

/// `CREATE VIEW focus AS …`: native FOCUS export rows; actual-cost export rows of the billing
/// accounts and periods that have no native FOCUS; and usage details (with the period's
/// unambiguous price-sheet prices and currency) and marketplace charges of those that have
/// neither. A period is answered by one source, so no cost is counted twice.
pub fn view_sql() -> String {
    let select = |side: fn(&FocusColumn) -> &'static str, alias: &str| -> String {
        FOCUS_COLUMNS
            .iter()
            .map(|c| format!("    {} AS \"{}\"", expand(side(c), alias), c.name))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    // A meter the sheet lists at two prices (say, two offers) gets none: a join that matched
    // both would count its usage twice.
    let sheet = "SELECT enrollment, billing_period, meter_id, max(unit_price) AS unit_price, max(unit_of_measure) AS unit_of_measure \
                 FROM price_sheet WHERE meter_id IS NOT NULL \
                 GROUP BY enrollment, billing_period, meter_id \
                 HAVING count(DISTINCT unit_price) = 1 AND count(DISTINCT unit_of_measure) = 1";
    let currency = "SELECT enrollment, billing_period, max(currency_code) AS currency_code \
                    FROM balance_summary GROUP BY enrollment, billing_period";
    let native = "SELECT DISTINCT billing_account, billing_period FROM focus_costs";
    let held = |cost_type: &str| {
        format!(
            "SELECT DISTINCT billing_account, billing_period FROM cost_details WHERE cost_type = '{cost_type}'"
        )
    };
    let exported = "cost_details WHERE cost_type = 'actual'";
    let covered = format!(
        "SELECT billing_account, billing_period FROM focus_costs \
         UNION SELECT billing_account, billing_period FROM {exported}"
    );
    // Commitment rows: purchases and refunds, hours covered, and (amortized only) unused.
    let commitment = "c.pricing_model IN ('Reservation', 'SavingsPlan')";
    let from_amortized = format!(
        "{commitment} AND c.charge_type IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan')"
    );
    // An unused commitment's hours were not consumed: no list or contracted price applies,
    // and their cost is what the commitment cost.
    let amortized = |c: &FocusColumn| match c.name {
        "BilledCost" => "CAST(0 AS {dec})",
        "EffectiveCost" => "c.cost_in_billing_currency",
        "ListCost" | "ContractedCost" => {
            "CASE WHEN c.charge_type LIKE 'Unused%' THEN c.cost_in_billing_currency ELSE coalesce(CAST(c.quantity * c.unit_price AS {dec}), c.cost_in_billing_currency) END"
        }
        _ => c.exported,
    };
    format!(
        "CREATE VIEW {FOCUS_VIEW} AS\nSELECT\n{}\nFROM focus_costs f\n\
         UNION ALL\nSELECT\n{}\nFROM cost_details c\n\
         LEFT JOIN ({native}) nf ON nf.billing_account = c.billing_account AND nf.billing_period = c.billing_period\n\
         LEFT JOIN ({amortized_held}) am ON am.billing_account = c.billing_account AND am.billing_period = c.billing_period\n\
         WHERE c.cost_type = 'actual' AND nf.billing_account IS NULL\n\
           AND NOT (am.billing_account IS NOT NULL AND {commitment} AND c.charge_type = 'Usage' AND c.cost_in_billing_currency = 0)\n\
         UNION ALL\nSELECT\n{}\nFROM cost_details c\n\
         JOIN ({actual_held}) ac ON ac.billing_account = c.billing_account AND ac.billing_period = c.billing_period\n\
         LEFT JOIN ({native}) nf ON nf.billing_account = c.billing_account AND nf.billing_period = c.billing_period\n\
         WHERE c.cost_type = 'amortized' AND nf.billing_account IS NULL AND {from_amortized}\n\
         UNION ALL\nSELECT\n{}\nFROM usage_details u\n\
         LEFT JOIN ({sheet}) s ON s.enrollment = u.enrollment AND s.billing_period = u.billing_period AND s.meter_id = u.meter_id\n\
         LEFT JOIN ({currency}) b ON b.enrollment = u.enrollment AND b.billing_period = u.billing_period\n\
         LEFT JOIN (SELECT DISTINCT * FROM ({covered})) x ON x.billing_account = u.enrollment AND x.billing_period = u.billing_period\n\
         WHERE x.billing_account IS NULL\n\
         UNION ALL\nSELECT\n{}\nFROM marketplace_charges m\n\
         LEFT JOIN ({currency}) b ON b.enrollment = m.enrollment AND b.billing_period = m.billing_period\n\
         LEFT JOIN (SELECT DISTINCT * FROM ({covered})) x ON x.billing_account = m.enrollment AND x.billing_period = m.billing_period\n\
         WHERE x.billing_account IS NULL",
        select(|c| c.native, "f"),
        select(|c| c.exported, "c"),
        select(amortized, "c"),
        select(|c| c.usage, "u"),
        select(|c| c.marketplace, "m"),
        amortized_held = held("amortized"),
        actual_held = held("actual"),
    )
}

/// The mapping table of `docs/focus.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "| FOCUS column | from `usage_details` | from `marketplace_charges` | from `cost_details` (actual) | from `focus_costs` | why |\n|---|---|---|---|---|---|\n",
    );
    let shown = |sql: &str| -> String {
        let text = sql
            .replace("{dec}", "decimal")
            .replace("arrow_cast(", "(")
            .replace(", '{ts}')", ")")
            .replace("{period_start}", "start of billing_period")
            .replace("{unit_name}", "unit name of unit_of_measure")
            .replace("{service_category}", "category of meter_category")
            .replace("{service_subcategory}", "subcategory of meter_category");
        format!("`{}`", text.replace('|', "\\|"))
    };
    for c in FOCUS_COLUMNS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            c.name,
            shown(c.usage),
            shown(c.marketplace),
            shown(c.exported),
            shown(c.native),
            c.why
        ));
    }
    out
}
