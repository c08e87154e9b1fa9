//! The one table of truth for every dataset: API field names per version, lake column names,
//! Arrow types and nullability. The emulator, the decoder, the lake, the catalog and the docs all
//! read these tables; nothing else spells a column name.

mod docs;
mod ea_api;
mod exports;
pub mod focus;
pub mod prices;
mod service_categories;

pub use docs::markdown_columns;

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field as ArrowField, Fields, Schema, SchemaRef, TimeUnit};

use crate::model::Dataset;

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

pub(super) const fn f(
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

impl Dataset {
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
            Dataset::BillingPeriods => ea_api::BILLING_PERIODS,
            Dataset::BalanceSummary => ea_api::BALANCE_SUMMARY,
            Dataset::UsageDetails => ea_api::USAGE_DETAILS,
            Dataset::MarketplaceCharges => ea_api::MARKETPLACE_CHARGES,
            Dataset::PriceSheet => ea_api::PRICE_SHEET,
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

    /// The money columns whose sums the manifest keeps for each partition, so that a replaced
    /// partition's figures can be compared with its successor's without reading a file.
    pub fn total_columns(self) -> Vec<&'static str> {
        match self {
            Dataset::UsageDetails | Dataset::CostDetails => vec![self.column(Col::Cost)],
            Dataset::FocusCosts => vec![self.column(Col::Cost), self.column(Col::EffectiveCost)],
            Dataset::MarketplaceCharges => vec![self.column(Col::ExtendedCost)],
            Dataset::ReservationTransactions => vec!["amount"],
            _ => Vec::new(),
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
