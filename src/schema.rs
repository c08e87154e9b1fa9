//! The one table of truth for every dataset: API field names per version, lake column names,
//! Arrow types and nullability. The emulator, the decoder, the lake, the catalog and the docs all
//! read these tables; nothing else spells a column name.

mod exports;
pub mod focus;

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field as ArrowField, Fields, Schema, SchemaRef, TimeUnit};

/// Precision of every money, rate, price and quantity column: the most a `Decimal128` holds.
pub const DECIMAL_PRECISION: u8 = 38;
/// Scale of every money, rate, price and quantity column. Twelve places hold the API's values
/// (rates down to 1E-10) and leave 26 integer digits for sums; it is also the largest scale at
/// which DataFusion can still multiply two such columns (the product's scale is the sum of the
/// scales, and at 18 + 18 any product above 170 overflows). Digits beyond the twelfth place,
/// which only doubles printed in exponent form carry, are rounded half to even.
pub const DECIMAL_SCALE: i8 = 12;

/// The type text columns are queried as.
const QUERY_TEXT: DataType = DataType::Utf8View;

/// Version of the lake layout and column set, written into every Parquet file's metadata.
pub const SCHEMA_VERSION: u32 = 1;

/// The Parquet key-value metadata keys costlake writes.
pub const META_SCHEMA_VERSION: &str = "costlake.schema_version";
pub const META_WRITER_VERSION: &str = "costlake.version";
pub const META_DATASET: &str = "costlake.dataset";

/// Hive partition columns, in folder order.
pub const PARTITION_ENROLLMENT: &str = "enrollment";
pub const PARTITION_BILLING_PERIOD: &str = "billing_period";
/// Export datasets' partition columns: the billing account (for EA, the enrollment number) and,
/// for cost details, whether the costs are actual or amortized.
pub const PARTITION_BILLING_ACCOUNT: &str = "billing_account";
pub const PARTITION_COST_TYPE: &str = "cost_type";

/// An EA Reporting API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    V1,
    V2,
    V3,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 3] = [ApiVersion::V1, ApiVersion::V2, ApiVersion::V3];

    /// The path prefix, `v1`, `v2` or `v3`.
    pub fn prefix(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        }
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        match s.to_ascii_lowercase().as_str() {
            "v1" => Some(ApiVersion::V1),
            "v2" => Some(ApiVersion::V2),
            "v3" => Some(ApiVersion::V3),
            _ => None,
        }
    }
}

/// The versions a field appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// v1, v2 and v3.
    All,
    /// v2 and v3.
    V2,
    /// v3 only.
    V3,
    /// v1 only (renamed later; see the field's aliases).
    V1Only,
}

impl Since {
    pub fn includes(self, version: ApiVersion) -> bool {
        match self {
            Since::All => true,
            Since::V2 => version >= ApiVersion::V2,
            Since::V3 => version == ApiVersion::V3,
            Since::V1Only => version == ApiVersion::V1,
        }
    }
}

/// What a column holds, which decides its Arrow type and how the decoder reads the API value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text. Numbers sent where text is documented are kept as their literal text.
    Text,
    /// A JSON value kept as its JSON text: a string holding JSON (`tags`, `additionalInfo`) is
    /// kept as that string; an array or object (`newPurchasesDetails`) as its serialized text.
    Json,
    /// A JSON array or object kept as its serialized text (`newPurchasesDetails`: `[{name, value}]`).
    Structured,
    /// A 64-bit integer; accepted as a JSON number or a string of digits.
    Int64,
    /// Money, rate, price or quantity: `Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)`, read
    /// exactly from the JSON text (never through f64), as a number or a string.
    Decimal,
    /// A calendar date (`Date32`) from an ISO date or date-time, with or without `Z`/fractions.
    Date,
    /// An instant (`Timestamp(µs, UTC)`); a date-time without offset is taken as UTC.
    Timestamp,
    /// `true`/`false`, also as the strings `"True"`/`"False"`.
    Bool,
    /// The tags JSON text of the column named by `Field::derived_from`, parsed into a
    /// `Map<Utf8, Utf8>`; null where the text is empty, null or not a JSON object.
    TagsMap,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Text | Kind::Json | Kind::Structured => DataType::Utf8,
            Kind::Int64 => DataType::Int64,
            Kind::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            Kind::Date => DataType::Date32,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Bool => DataType::Boolean,
            Kind::TagsMap => tags_map_type(),
        }
    }

    /// The Swagger/JSON-schema type the API documents for this kind.
    pub fn swagger_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Text | Kind::Json => ("string", None),
            Kind::Int64 => ("integer", Some("int64")),
            Kind::Decimal => ("number", Some("double")),
            Kind::Date | Kind::Timestamp => ("string", Some("date-time")),
            Kind::Bool => ("boolean", None),
            Kind::TagsMap | Kind::Structured => ("object", None),
        }
    }
}

/// The `Map<Utf8, Utf8>` type of parsed tags; keys sorted is not promised.
pub fn tags_map_type() -> DataType {
    DataType::Map(
        Arc::new(ArrowField::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                ArrowField::new("keys", DataType::Utf8, false),
                ArrowField::new("values", DataType::Utf8, true),
            ])),
            false,
        )),
        false,
    )
}

/// Identity of a column's meaning, shared across datasets (usage and marketplace both have
/// `Tags`). The emulator matches on it to produce values; it never matches on names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    // billing periods
    BillingPeriodId,
    BillingStart,
    BillingEnd,
    BalanceSummaryLink,
    UsageDetailsLink,
    MarketplaceChargesLink,
    PriceSheetLink,
    // balance summary
    Id,
    CurrencyCode,
    BeginningBalance,
    EndingBalance,
    NewPurchases,
    Adjustments,
    Utilized,
    ServiceOverage,
    ChargesBilledSeparatelyAmount,
    TotalOverage,
    TotalUsage,
    AzureMarketplaceServiceCharges,
    NewPurchasesDetails,
    AdjustmentDetails,
    // usage details
    ServiceName,
    ServiceTier,
    Location,
    ChargesBilledSeparately,
    PartNumber,
    ResourceGuid,
    OfferId,
    Cost,
    AccountId,
    ProductId,
    ResourceLocationId,
    ConsumedServiceId,
    DepartmentId,
    AccountOwnerEmail,
    AccountName,
    ServiceAdministratorId,
    SubscriptionId,
    SubscriptionGuid,
    SubscriptionName,
    Date,
    Product,
    MeterId,
    MeterCategory,
    MeterSubCategory,
    MeterRegion,
    MeterName,
    ConsumedQuantity,
    ResourceRate,
    ResourceLocation,
    ConsumedService,
    InstanceId,
    ServiceInfo1,
    ServiceInfo2,
    AdditionalInfo,
    Tags,
    TagsMap,
    StoreServiceIdentifier,
    DepartmentName,
    CostCenter,
    UnitOfMeasure,
    ResourceGroup,
    // marketplace
    UsageStartDate,
    UsageEndDate,
    OfferName,
    OrderNumber,
    AccountOwnerId,
    PublisherName,
    PlanName,
    ExtendedCost,
    IsRecurringCharge,
    // price sheet
    MeterIdPriceSheet,
    IncludedQuantity,
    UnitPrice,
    // only in Cost Management exports
    BillingAccountId,
    ChargeType,
    ChargePeriodEnd,
    EffectiveCost,
    Frequency,
    IsAzureCreditEligible,
    PricingModel,
    PublisherType,
    /// An export column no API field matches; the emulator leaves it empty.
    ExportOnly,
}

/// One column of one dataset.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub col: Col,
    /// The field's name in the v3 API (or in the latest version that has it). Empty for columns
    /// derived by costlake (`tags_map`).
    pub api: &'static str,
    /// Other spellings seen for the same field: earlier versions' names and documented typos.
    pub aliases: &'static [&'static str],
    /// The versions the API sends the field in.
    pub since: Since,
    /// The field's name in v1 where it differed (`extendedCost` for usage `cost`).
    pub v1_name: Option<&'static str>,
    /// The lake column name: `api` in snake_case.
    pub column: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// For derived columns, the column they are derived from.
    pub derived_from: Option<Col>,
    /// One line for the docs.
    pub doc: &'static str,
}

const fn f(
    col: Col,
    api: &'static str,
    column: &'static str,
    kind: Kind,
    doc: &'static str,
) -> Field {
    Field {
        col,
        api,
        aliases: &[],
        since: Since::All,
        v1_name: None,
        column,
        kind,
        nullable: true,
        derived_from: None,
        doc,
    }
}

impl Field {
    const fn since(mut self, since: Since) -> Field {
        self.since = since;
        self
    }
    const fn aliases(mut self, aliases: &'static [&'static str]) -> Field {
        self.aliases = aliases;
        self
    }
    const fn v1(mut self, name: &'static str) -> Field {
        self.v1_name = Some(name);
        self
    }
    const fn required(mut self) -> Field {
        self.nullable = false;
        self
    }
    const fn derived(mut self, from: Col) -> Field {
        self.derived_from = Some(from);
        self
    }

    /// The name the API uses for this field in `version`, or `None` when that version lacks it.
    pub fn api_name(&self, version: ApiVersion) -> Option<&'static str> {
        if self.derived_from.is_some() {
            return None;
        }
        match self.v1_name {
            Some(v1) if version == ApiVersion::V1 => Some(v1),
            _ => self.since.includes(version).then_some(self.api),
        }
    }

    pub fn arrow_field(&self) -> ArrowField {
        ArrowField::new(self.column, self.kind.data_type(), self.nullable)
    }
}

use Kind::*;

static BILLING_PERIODS: &[Field] = &[
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

static BALANCE_SUMMARY: &[Field] = &[
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
const TAGS_MAP: Field = f(
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

static USAGE_DETAILS: &[Field] = &[
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

static MARKETPLACE_CHARGES: &[Field] = &[
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

static PRICE_SHEET: &[Field] = &[
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

/// One of the lake's datasets: the five the EA Reporting API serves, then the six that Cost
/// Management exports bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dataset {
    BillingPeriods,
    BalanceSummary,
    UsageDetails,
    MarketplaceCharges,
    PriceSheet,
    CostDetails,
    FocusCosts,
    ExportPriceSheet,
    ReservationDetails,
    ReservationTransactions,
    ReservationRecommendations,
}

impl Dataset {
    /// Every dataset: the API's, then the exports'.
    pub const ALL: [Dataset; 11] = {
        let mut all = [Dataset::BillingPeriods; 11];
        let mut i = 0;
        while i < Dataset::API.len() {
            all[i] = Dataset::API[i];
            i += 1;
        }
        while i < all.len() {
            all[i] = Dataset::EXPORTS[i - Dataset::API.len()];
            i += 1;
        }
        all
    };

    /// The datasets `sync` fetches from the EA Reporting API.
    pub const API: [Dataset; 5] = [
        Dataset::BillingPeriods,
        Dataset::BalanceSummary,
        Dataset::UsageDetails,
        Dataset::MarketplaceCharges,
        Dataset::PriceSheet,
    ];

    /// The datasets `ingest` reads from Cost Management exports.
    pub const EXPORTS: [Dataset; 6] = [
        Dataset::CostDetails,
        Dataset::FocusCosts,
        Dataset::ExportPriceSheet,
        Dataset::ReservationDetails,
        Dataset::ReservationTransactions,
        Dataset::ReservationRecommendations,
    ];

    /// Whether the dataset comes from Cost Management exports rather than the API.
    pub fn from_exports(self) -> bool {
        Dataset::EXPORTS.contains(&self)
    }

    /// The export dataset a manifest's `exportConfig.type` fills, and for cost details the
    /// `cost_type` partition value.
    pub fn of_export_type(export_type: &str) -> Option<(Dataset, Option<&'static str>)> {
        Some(match export_type.to_ascii_lowercase().as_str() {
            "actualcost" => (Dataset::CostDetails, Some("actual")),
            "amortizedcost" => (Dataset::CostDetails, Some("amortized")),
            "usage" => (Dataset::CostDetails, Some("usage")),
            "focuscost" => (Dataset::FocusCosts, None),
            "pricesheet" => (Dataset::ExportPriceSheet, None),
            "reservationdetails" => (Dataset::ReservationDetails, None),
            "reservationtransactions" => (Dataset::ReservationTransactions, None),
            "reservationrecommendations" => (Dataset::ReservationRecommendations, None),
            _ => return None,
        })
    }

    /// Table and folder name in the lake.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::BillingPeriods => "billing_periods",
            Dataset::BalanceSummary => "balance_summary",
            Dataset::UsageDetails => "usage_details",
            Dataset::MarketplaceCharges => "marketplace_charges",
            Dataset::PriceSheet => "price_sheet",
            Dataset::CostDetails => "cost_details",
            Dataset::FocusCosts => "focus_costs",
            Dataset::ExportPriceSheet => "export_price_sheet",
            Dataset::ReservationDetails => "reservation_details",
            Dataset::ReservationTransactions => "reservation_transactions",
            Dataset::ReservationRecommendations => "reservation_recommendations",
        }
    }

    pub fn parse(name: &str) -> Option<Dataset> {
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        Dataset::ALL.into_iter().find(|d| d.name() == name)
    }

    /// One line for the docs.
    pub fn doc(self) -> &'static str {
        match self {
            Dataset::BillingPeriods => {
                "The enrollment's billing periods and which datasets each has."
            }
            Dataset::BalanceSummary => "Monetary commitment, usage and overage totals per period.",
            Dataset::UsageDetails => "Daily Azure usage and cost per resource and meter.",
            Dataset::MarketplaceCharges => "Usage-based Azure Marketplace charges.",
            Dataset::PriceSheet => "The enrollment's negotiated prices per meter and period.",
            Dataset::CostDetails => {
                "Actual or amortized cost and usage exports (EA schemas 2019-10-01 to 2024-08-01), daily per resource and meter."
            }
            Dataset::FocusCosts => {
                "FOCUS cost and usage exports (1.0-preview, 1.0, 1.0r2, 1.2-preview, 1.2) in one schema: 1.2's names, older spellings mapped."
            }
            Dataset::ExportPriceSheet => "The EA price sheet export (2023-05-01).",
            Dataset::ReservationDetails => "Daily reservation utilisation (2023-03-01).",
            Dataset::ReservationTransactions => {
                "Reservation purchases, refunds and exchanges (2023-05-01)."
            }
            Dataset::ReservationRecommendations => {
                "Reservation purchase recommendations, a snapshot per export run (2023-05-01)."
            }
        }
    }

    /// The Swagger definition name of the row type (as the real service's generated clients
    /// name them).
    pub fn swagger_definition(self) -> &'static str {
        match self {
            Dataset::BillingPeriods => "BillingPeriod",
            Dataset::BalanceSummary => "BalanceSummary",
            Dataset::UsageDetails => "UsageDetail",
            Dataset::MarketplaceCharges => "Marketplace",
            Dataset::PriceSheet => "PriceSheet",
            _ => unreachable!("{} is not an API dataset", self.name()),
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Dataset::BillingPeriods => BILLING_PERIODS,
            Dataset::BalanceSummary => BALANCE_SUMMARY,
            Dataset::UsageDetails => USAGE_DETAILS,
            Dataset::MarketplaceCharges => MARKETPLACE_CHARGES,
            Dataset::PriceSheet => PRICE_SHEET,
            Dataset::CostDetails => exports::COST_DETAILS,
            Dataset::FocusCosts => exports::FOCUS_COSTS,
            Dataset::ExportPriceSheet => exports::EXPORT_PRICE_SHEET,
            Dataset::ReservationDetails => exports::RESERVATION_DETAILS,
            Dataset::ReservationTransactions => exports::RESERVATION_TRANSACTIONS,
            Dataset::ReservationRecommendations => exports::RESERVATION_RECOMMENDATIONS,
        }
    }

    /// The field for `col`; panics when the dataset has no such column (a programming error).
    pub fn field(self, col: Col) -> &'static Field {
        self.fields()
            .iter()
            .find(|f| f.col == col)
            .unwrap_or_else(|| panic!("{} has no column {col:?}", self.name()))
    }

    /// The lake column name for `col`.
    pub fn column(self, col: Col) -> &'static str {
        self.field(col).column
    }

    /// Whether the dataset is partitioned by billing period (all but the period list).
    pub fn per_period(self) -> bool {
        self != Dataset::BillingPeriods
    }

    /// Hive partition columns, in folder order.
    pub fn partition_columns(self) -> &'static [&'static str] {
        if self == Dataset::CostDetails {
            &[
                PARTITION_BILLING_ACCOUNT,
                PARTITION_COST_TYPE,
                PARTITION_BILLING_PERIOD,
            ]
        } else if self.from_exports() {
            &[PARTITION_BILLING_ACCOUNT, PARTITION_BILLING_PERIOD]
        } else if self.per_period() {
            &[PARTITION_ENROLLMENT, PARTITION_BILLING_PERIOD]
        } else {
            &[PARTITION_ENROLLMENT]
        }
    }

    /// The Arrow schema of the Parquet files (without partition columns).
    pub fn file_schema(self) -> SchemaRef {
        static SCHEMAS: LazyLock<Vec<SchemaRef>> = LazyLock::new(|| {
            Dataset::ALL
                .iter()
                .map(|d| {
                    Arc::new(Schema::new(
                        d.fields()
                            .iter()
                            .map(Field::arrow_field)
                            .collect::<Vec<_>>(),
                    ))
                })
                .collect()
        });
        SCHEMAS[self as usize].clone()
    }

    /// The file columns as queried: text as `Utf8View`, which the Parquet reader fills with
    /// views into the pages (and the dictionaries) it has decoded instead of copying every
    /// string; the files themselves keep plain `Utf8`.
    pub fn query_schema(self) -> SchemaRef {
        let file = self.file_schema();
        let fields: Vec<ArrowField> = file
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => f.as_ref().clone().with_data_type(QUERY_TEXT),
                _ => f.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new_with_metadata(fields, file.metadata().clone()))
    }

    /// The partition columns as queried: text, like the other text columns.
    pub fn query_partition_columns(self) -> Vec<(String, DataType)> {
        self.partition_columns()
            .iter()
            .map(|c| (c.to_string(), QUERY_TEXT))
            .collect()
    }
}

/// The number in front of a unit of measure (`100 Hours` → 100, `10,000 s` → 10000, `1/Month`
/// → 1, `Hours` → 1).
pub fn block_size(unit: &str) -> u64 {
    let digits: String = unit
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().unwrap_or(1).max(1)
}

/// A column's type as README shows it.
fn type_name(field: &Field) -> String {
    let ty = match field.kind {
        Kind::Decimal => format!("decimal({DECIMAL_PRECISION},{DECIMAL_SCALE})"),
        Kind::Text => "string".into(),
        Kind::Json => "string (JSON)".into(),
        Kind::Structured => "string (JSON array)".into(),
        Kind::Int64 => "int64".into(),
        Kind::Date => "date".into(),
        Kind::Timestamp => "timestamp(µs, UTC)".into(),
        Kind::Bool => "boolean".into(),
        Kind::TagsMap => "map<string,string>".into(),
    };
    if field.nullable {
        ty
    } else {
        format!("{ty} not null")
    }
}

/// A Markdown table of every dataset's columns, for README (generated, never written by hand).
pub fn markdown_columns() -> String {
    let mut out = String::new();
    for d in Dataset::ALL {
        out.push_str(&format!("### `{}`\n\n{}\n\n", d.name(), d.doc()));
        if d.from_exports() {
            out.push_str(
                "| column | type | export header | other spellings | description |\n|---|---|---|---|---|\n",
            );
        } else {
            out.push_str(
                "| column | type | API field (v3) | v1 / v2 | description |\n|---|---|---|---|---|\n",
            );
        }
        for field in d.fields() {
            let api = if field.api.is_empty() {
                "(derived)".to_string()
            } else {
                format!("`{}`", field.api)
            };
            let versions = if d.from_exports() {
                let names: Vec<String> = field.aliases.iter().map(|a| format!("`{a}`")).collect();
                if names.is_empty() {
                    "–".to_string()
                } else {
                    names.join(", ")
                }
            } else {
                match (
                    field.api_name(ApiVersion::V1),
                    field.api_name(ApiVersion::V2),
                ) {
                    _ if field.api.is_empty() => "–".to_string(),
                    (Some(v1), Some(_)) if v1 != field.api => format!("v1 `{v1}`; v2 ✓"),
                    (Some(_), Some(_)) => "✓ / ✓".to_string(),
                    (None, Some(_)) => "– / ✓".to_string(),
                    (_, None) => "– / –".to_string(),
                }
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                field.column,
                type_name(field),
                api,
                versions,
                field.doc.replace('|', "\\|")
            ));
        }
        let parts: Vec<String> = d
            .partition_columns()
            .iter()
            .map(|p| format!("`{p}`"))
            .collect();
        out.push_str(&format!(
            "\nPartition columns (from the folder names): {}.\n\n",
            parts.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// camelCase to snake_case; an acronym is one word (`MeterID` → `meter_id`, `SKU` → `sku`).
    fn snake(s: &str) -> String {
        let chars: Vec<char> = s.chars().collect();
        let mut out = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn column_names_are_the_api_names_in_snake_case() {
        for d in Dataset::ALL {
            for field in d.fields() {
                if field.api.is_empty() {
                    continue;
                }
                assert_eq!(field.column, snake(field.api), "{}.{}", d.name(), field.api);
            }
        }
    }

    #[test]
    fn column_names_are_unique_per_dataset() {
        for d in Dataset::ALL {
            let mut names: Vec<_> = d.fields().iter().map(|f| f.column).collect();
            names.extend(d.partition_columns());
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(n, names.len(), "{}", d.name());
        }
    }

    #[test]
    fn versions_differ_as_documented() {
        let usage = Dataset::UsageDetails;
        assert_eq!(
            usage.field(Col::Cost).api_name(ApiVersion::V1),
            Some("extendedCost")
        );
        assert_eq!(
            usage.field(Col::Cost).api_name(ApiVersion::V2),
            Some("cost")
        );
        assert_eq!(usage.field(Col::ServiceName).api_name(ApiVersion::V2), None);
        assert_eq!(
            Dataset::PriceSheet
                .field(Col::MeterIdPriceSheet)
                .api_name(ApiVersion::V1),
            None
        );
        assert_eq!(
            Dataset::PriceSheet
                .field(Col::OfferId)
                .api_name(ApiVersion::V2),
            None
        );
        assert_eq!(
            Dataset::MarketplaceCharges
                .field(Col::IsRecurringCharge)
                .api_name(ApiVersion::V2),
            None
        );
        let v3 = usage
            .fields()
            .iter()
            .filter(|f| f.api_name(ApiVersion::V3).is_some())
            .count();
        let v2 = usage
            .fields()
            .iter()
            .filter(|f| f.api_name(ApiVersion::V2).is_some())
            .count();
        assert_eq!(v3 - v2, 7, "v3 adds seven usage fields");
    }

    #[test]
    fn money_is_decimal() {
        for d in Dataset::ALL {
            for field in d.fields() {
                if field.kind == Kind::Decimal {
                    assert_eq!(
                        field.arrow_field().data_type(),
                        &DataType::Decimal128(38, 12)
                    );
                }
            }
        }
        assert!(markdown_columns().contains("| `cost` | decimal(38,12) not null |"));
    }
}
