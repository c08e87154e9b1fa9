//! The EA Reporting API's datasets, column by column: each field's name in v3 (and in v1 and
//! v2 where it differed), its lake column, type and meaning. Data, not logic.

use super::Kind::*;
use super::{Col, Field, Since, f};

pub(super) static BILLING_PERIODS: &[Field] = &[
    f(
        Col::BillingPeriodId,
        "billingPeriodId",
        "billing_period_id",
        Text,
        "Billing period, `yyyyMM`.",
    )
    .required(),
    f(
        Col::BillingStart,
        "billingStart",
        "billing_start",
        Timestamp,
        "First instant of the period (UTC).",
    )
    .required(),
    f(
        Col::BillingEnd,
        "billingEnd",
        "billing_end",
        Timestamp,
        "Last instant of the period (UTC).",
    )
    .required(),
    f(
        Col::BalanceSummaryLink,
        "balanceSummary",
        "balance_summary",
        Text,
        "API path of the period's balance summary; null when there is none.",
    ),
    f(
        Col::UsageDetailsLink,
        "usageDetails",
        "usage_details",
        Text,
        "API path of the period's usage details; null when there is no usage.",
    ),
    f(
        Col::MarketplaceChargesLink,
        "marketplaceCharges",
        "marketplace_charges",
        Text,
        "API path of the period's marketplace charges; null when there are none.",
    ),
    f(
        Col::PriceSheetLink,
        "priceSheet",
        "price_sheet",
        Text,
        "API path of the period's price sheet; null when there is none.",
    ),
];

pub(super) static BALANCE_SUMMARY: &[Field] = &[
    f(
        Col::Id,
        "id",
        "id",
        Text,
        "`enrollments/{e}/billingperiods/{p}/balancesummaries`.",
    ),
    f(
        Col::BillingPeriodId,
        "billingPeriodId",
        "billing_period_id",
        Text,
        "Billing period, `yyyyMM` (the API sends a number or a string).",
    )
    .required(),
    f(
        Col::CurrencyCode,
        "currencyCode",
        "currency_code",
        Text,
        "ISO currency of the amounts.",
    ),
    f(
        Col::BeginningBalance,
        "beginningBalance",
        "beginning_balance",
        Decimal,
        "Monetary commitment balance at the start of the period.",
    ),
    f(
        Col::EndingBalance,
        "endingBalance",
        "ending_balance",
        Decimal,
        "Balance at the end: beginning + new purchases + adjustments − utilized.",
    ),
    f(
        Col::NewPurchases,
        "newPurchases",
        "new_purchases",
        Decimal,
        "Commitment purchased in the period.",
    ),
    f(
        Col::Adjustments,
        "adjustments",
        "adjustments",
        Decimal,
        "Credits and adjustments in the period.",
    ),
    f(
        Col::Utilized,
        "utilized",
        "utilized",
        Decimal,
        "Commitment used by Azure usage.",
    ),
    f(
        Col::ServiceOverage,
        "serviceOverage",
        "service_overage",
        Decimal,
        "Azure usage beyond the commitment.",
    ),
    f(
        Col::ChargesBilledSeparatelyAmount,
        "chargesBilledSeparately",
        "charges_billed_separately",
        Decimal,
        "Charges billed outside the commitment.",
    ),
    f(
        Col::TotalOverage,
        "totalOverage",
        "total_overage",
        Decimal,
        "service overage + charges billed separately.",
    ),
    f(
        Col::TotalUsage,
        "totalUsage",
        "total_usage",
        Decimal,
        "utilized + total overage: all Azure usage of the period.",
    ),
    f(
        Col::AzureMarketplaceServiceCharges,
        "azureMarketplaceServiceCharges",
        "azure_marketplace_service_charges",
        Decimal,
        "Marketplace charges of the period.",
    ),
    f(
        Col::NewPurchasesDetails,
        "newPurchasesDetails",
        "new_purchases_details",
        Structured,
        "JSON array of `{name, value}` purchases.",
    ),
    f(
        Col::AdjustmentDetails,
        "adjustmentDetails",
        "adjustment_details",
        Structured,
        "JSON array of `{name, value}` adjustments.",
    ),
];

// Columns that usage details and marketplace charges share, defined once.
const SUBSCRIPTION_GUID: Field = f(
    Col::SubscriptionGuid,
    "subscriptionGuid",
    "subscription_guid",
    Text,
    "Subscription GUID.",
);
const SUBSCRIPTION_NAME: Field = f(
    Col::SubscriptionName,
    "subscriptionName",
    "subscription_name",
    Text,
    "Subscription name.",
);
const RESOURCE_GROUP: Field = f(
    Col::ResourceGroup,
    "resourceGroup",
    "resource_group",
    Text,
    "Resource group.",
);
const ADDITIONAL_INFO: Field = f(
    Col::AdditionalInfo,
    "additionalInfo",
    "additional_info",
    Json,
    "Service-specific JSON text, as sent.",
);
const TAGS: Field = f(
    Col::Tags,
    "tags",
    "tags",
    Json,
    "Resource tags: the JSON text as sent (may be empty or null).",
);
pub(super) const TAGS_MAP: Field = f(
    Col::TagsMap,
    "",
    "tags_map",
    TagsMap,
    "`tags` parsed into a map; null when `tags` is not a JSON object.",
)
.derived(Col::Tags);
const COST_CENTER: Field = f(
    Col::CostCenter,
    "costCenter",
    "cost_center",
    Text,
    "Cost center of the account.",
);
const ACCOUNT_ID: Field = f(
    Col::AccountId,
    "accountId",
    "account_id",
    Int64,
    "Legacy numeric account id.",
);
const ACCOUNT_NAME: Field = f(
    Col::AccountName,
    "accountName",
    "account_name",
    Text,
    "EA account name.",
);
const DEPARTMENT_ID: Field = f(
    Col::DepartmentId,
    "departmentId",
    "department_id",
    Int64,
    "Legacy numeric department id.",
);
const DEPARTMENT_NAME: Field = f(
    Col::DepartmentName,
    "departmentName",
    "department_name",
    Text,
    "EA department name.",
);

pub(super) static USAGE_DETAILS: &[Field] = &[
    f(
        Col::ServiceName,
        "serviceName",
        "service_name",
        Text,
        "Service, e.g. `Storage` (v3).",
    )
    .since(Since::V3),
    f(
        Col::ServiceTier,
        "serviceTier",
        "service_tier",
        Text,
        "Service tier, e.g. `Premium Page Blobs` (v3).",
    )
    .since(Since::V3),
    f(
        Col::Location,
        "location",
        "location",
        Text,
        "Display region, e.g. `US West` (v3).",
    )
    .since(Since::V3),
    f(
        Col::ChargesBilledSeparately,
        "chargesBilledSeparately",
        "charges_billed_separately",
        Bool,
        "Billed outside the monetary commitment (v3; boolean or \"True\"/\"False\").",
    )
    .since(Since::V3),
    f(
        Col::PartNumber,
        "partNumber",
        "part_number",
        Text,
        "Part number of the meter (v3).",
    )
    .since(Since::V3),
    f(
        Col::ResourceGuid,
        "resourceGuid",
        "resource_guid",
        Text,
        "Meter GUID again (v3).",
    )
    .since(Since::V3),
    f(
        Col::OfferId,
        "offerId",
        "offer_id",
        Text,
        "Offer, e.g. `MS-AZR-0017P` (v3).",
    )
    .since(Since::V3),
    f(
        Col::Cost,
        "cost",
        "cost",
        Decimal,
        "Cost of the row: consumed quantity × resource rate (`extendedCost` in v1).",
    )
    .v1("extendedCost")
    .aliases(&["extendedCost", "Cost"])
    .required(),
    ACCOUNT_ID,
    f(
        Col::ProductId,
        "productId",
        "product_id",
        Int64,
        "Legacy numeric product id.",
    ),
    f(
        Col::ResourceLocationId,
        "resourceLocationId",
        "resource_location_id",
        Int64,
        "Legacy numeric location id.",
    ),
    f(
        Col::ConsumedServiceId,
        "consumedServiceId",
        "consumed_service_id",
        Int64,
        "Legacy numeric consumed-service id.",
    )
    .aliases(&["consumedServiceID"]),
    DEPARTMENT_ID,
    f(
        Col::AccountOwnerEmail,
        "accountOwnerEmail",
        "account_owner_email",
        Text,
        "Account owner's sign-in.",
    ),
    ACCOUNT_NAME,
    f(
        Col::ServiceAdministratorId,
        "serviceAdministratorId",
        "service_administrator_id",
        Text,
        "Service administrator's sign-in.",
    ),
    f(
        Col::SubscriptionId,
        "subscriptionId",
        "subscription_id",
        Int64,
        "Legacy numeric subscription id (needs 64 bits).",
    ),
    SUBSCRIPTION_GUID,
    SUBSCRIPTION_NAME,
    f(Col::Date, "date", "date", Date, "Usage day (UTC).").required(),
    f(
        Col::Product,
        "product",
        "product",
        Text,
        "Product description.",
    ),
    f(Col::MeterId, "meterId", "meter_id", Text, "Meter GUID."),
    f(
        Col::MeterCategory,
        "meterCategory",
        "meter_category",
        Text,
        "Meter category, e.g. `Virtual Machines`.",
    ),
    f(
        Col::MeterSubCategory,
        "meterSubCategory",
        "meter_sub_category",
        Text,
        "Meter subcategory.",
    ),
    f(
        Col::MeterRegion,
        "meterRegion",
        "meter_region",
        Text,
        "Meter region.",
    ),
    f(
        Col::MeterName,
        "meterName",
        "meter_name",
        Text,
        "Meter name.",
    ),
    f(
        Col::ConsumedQuantity,
        "consumedQuantity",
        "consumed_quantity",
        Decimal,
        "Quantity consumed, in the meter's base unit.",
    ),
    f(
        Col::ResourceRate,
        "resourceRate",
        "resource_rate",
        Decimal,
        "Price per base unit (the price sheet's unit price ÷ the unit-of-measure block).",
    ),
    f(
        Col::ResourceLocation,
        "resourceLocation",
        "resource_location",
        Text,
        "Resource location, e.g. `uswest`.",
    ),
    f(
        Col::ConsumedService,
        "consumedService",
        "consumed_service",
        Text,
        "Resource provider, e.g. `Microsoft.Compute`.",
    ),
    f(
        Col::InstanceId,
        "instanceId",
        "instance_id",
        Text,
        "Resource name or full ARM resource id.",
    ),
    f(
        Col::ServiceInfo1,
        "serviceInfo1",
        "service_info1",
        Text,
        "Service-specific metadata.",
    ),
    f(
        Col::ServiceInfo2,
        "serviceInfo2",
        "service_info2",
        Text,
        "Service-specific metadata.",
    ),
    ADDITIONAL_INFO,
    TAGS,
    TAGS_MAP,
    f(
        Col::StoreServiceIdentifier,
        "storeServiceIdentifier",
        "store_service_identifier",
        Text,
        "Unused by the service.",
    ),
    DEPARTMENT_NAME,
    f(
        Col::UnitOfMeasure,
        "unitOfMeasure",
        "unit_of_measure",
        Text,
        "Unit of measure, with its block size (`100 Hours`, `10,000 s`).",
    ),
    RESOURCE_GROUP,
];

pub(super) static MARKETPLACE_CHARGES: &[Field] = &[
    f(Col::Id, "id", "id", Text, "Charge id."),
    SUBSCRIPTION_GUID,
    SUBSCRIPTION_NAME,
    f(
        Col::MeterId,
        "meterId",
        "meter_id",
        Text,
        "Plan meter id (not always a GUID, e.g. `2core`).",
    ),
    f(
        Col::UsageStartDate,
        "usageStartDate",
        "usage_start_date",
        Timestamp,
        "Start of the charged usage (UTC).",
    )
    .required(),
    f(
        Col::UsageEndDate,
        "usageEndDate",
        "usage_end_date",
        Timestamp,
        "End of the charged usage (UTC).",
    ),
    f(
        Col::OfferName,
        "offerName",
        "offer_name",
        Text,
        "Marketplace offer.",
    ),
    RESOURCE_GROUP,
    f(
        Col::InstanceId,
        "instanceId",
        "instance_id",
        Text,
        "Resource id.",
    ),
    ADDITIONAL_INFO,
    TAGS,
    TAGS_MAP,
    f(
        Col::OrderNumber,
        "orderNumber",
        "order_number",
        Text,
        "Marketplace order number.",
    ),
    f(
        Col::UnitOfMeasure,
        "unitOfMeasure",
        "unit_of_measure",
        Text,
        "Unit of measure.",
    ),
    COST_CENTER,
    ACCOUNT_ID,
    ACCOUNT_NAME,
    f(
        Col::AccountOwnerId,
        "accountOwnerId",
        "account_owner_id",
        Text,
        "Account owner's sign-in.",
    ),
    DEPARTMENT_ID,
    DEPARTMENT_NAME,
    f(
        Col::PublisherName,
        "publisherName",
        "publisher_name",
        Text,
        "Publisher of the offer.",
    ),
    f(
        Col::PlanName,
        "planName",
        "plan_name",
        Text,
        "Plan of the offer.",
    ),
    f(
        Col::ConsumedQuantity,
        "consumedQuantity",
        "consumed_quantity",
        Decimal,
        "Quantity consumed.",
    ),
    f(
        Col::ResourceRate,
        "resourceRate",
        "resource_rate",
        Decimal,
        "Price per unit.",
    ),
    f(
        Col::ExtendedCost,
        "extendedCost",
        "extended_cost",
        Decimal,
        "Cost: consumed quantity × resource rate.",
    )
    .required(),
    f(
        Col::IsRecurringCharge,
        "isRecurringCharge",
        "is_recurring_charge",
        Bool,
        "Recurring charge (v3; boolean or \"True\"/\"False\").",
    )
    .since(Since::V3),
];

pub(super) static PRICE_SHEET: &[Field] = &[
    f(
        Col::OfferId,
        "offerId",
        "offer_id",
        Text,
        "Offer the prices apply to (v3).",
    )
    .since(Since::V3),
    f(
        Col::Id,
        "id",
        "id",
        Text,
        "`enrollments/{e}/billingperiods/{p}/products/{id}/pricesheets`.",
    ),
    f(
        Col::BillingPeriodId,
        "billingPeriodId",
        "billing_period_id",
        Text,
        "Billing period, `yyyyMM`.",
    ),
    f(
        Col::MeterIdPriceSheet,
        "meterId",
        "meter_id",
        Text,
        "Meter GUID (v2 and later).",
    )
    .since(Since::V2),
    f(
        Col::MeterName,
        "meterName",
        "meter_name",
        Text,
        "Meter name.",
    ),
    f(
        Col::UnitOfMeasure,
        "unitOfMeasure",
        "unit_of_measure",
        Text,
        "Unit of measure with its block size (`100 Hours`).",
    ),
    f(
        Col::IncludedQuantity,
        "includedQuantity",
        "included_quantity",
        Decimal,
        "Quantity included at no charge.",
    ),
    f(
        Col::PartNumber,
        "partNumber",
        "part_number",
        Text,
        "Part number.",
    ),
    f(
        Col::UnitPrice,
        "unitPrice",
        "unit_price",
        Decimal,
        "Price of one unit of measure (one block).",
    )
    .required(),
    f(
        Col::CurrencyCode,
        "currencyCode",
        "currency_code",
        Text,
        "ISO currency of the price.",
    ),
];
