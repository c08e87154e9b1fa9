//! The lake as DataFusion tables: one listing table per dataset with its declared schema and
//! the hive partition columns, registered without opening a file, so that start-up is fast
//! however many partitions there are, the `focus` and `prices` views over them, and the lake's
//! history (`history`). Only published files (`*.parquet`) are ever read.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::{SessionConfig, SessionContext};

use super::history;
use crate::lake::Lake;
use crate::model::Dataset;
use crate::schema::{block_size, focus, prices};

/// The SQL function that gives a unit of measure's block size.
pub const BLOCK_SIZE_FUNCTION: &str = "unit_block_size";

/// A session configured for billing data: exact decimal literals (`0.1` is a decimal, not a
/// float), `information_schema` for `\d` and completion, and `unit_block_size(unit_of_measure)`.
pub fn session() -> SessionContext {
    let ctx = SessionContext::new_with_config(configure(SessionConfig::new()));
    ctx.register_udf(block_size_udf());
    ctx
}

/// `config` with costlake's settings: exact decimal literals and `information_schema`. A
/// cluster's sessions start from Ballista's config and take these on top.
pub fn configure(config: SessionConfig) -> SessionConfig {
    let mut config = config.with_information_schema(true);
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    config
}

/// `unit_block_size('10,000 s')` = 10000: the number a unit of measure starts with (1 when it
/// has none). Prices are per block; rates per unit.
pub fn block_size_udf() -> ScalarUDF {
    let fun = Arc::new(|args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let text = cast(&arrays[0], &DataType::Utf8)?;
        let sizes: Int64Array = text
            .as_string::<i32>()
            .iter()
            .map(|u| u.map(|u| block_size(u) as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(sizes)))
    });
    create_udf(
        BLOCK_SIZE_FUNCTION,
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        fun,
    )
}

/// Registers every dataset of the lake as a table named after it, the `focus` and `prices`
/// views, and the lake's history (`history`).
pub async fn register(ctx: &SessionContext, lake: &Lake) -> Result<()> {
    if let Some((url, store)) = lake.bucket() {
        ctx.register_object_store(url, store);
    }
    for dataset in Dataset::ALL {
        let url = format!("{}{}/", lake.url(), dataset.name());
        let table = listing_table(
            ctx,
            &url,
            dataset.query_schema(),
            dataset.query_partition_columns(),
        )?;
        ctx.register_table(dataset.name(), Arc::new(table))?;
    }
    // Planning the view reads no file: the tables' schemas are declared.
    ctx.sql(&focus::view_sql()).await?;
    ctx.sql(&prices::view_sql()).await?;
    history::register(ctx, lake).await
}

/// A table of the Parquet files under `url`, with the declared schema and hive partitions.
pub(super) fn listing_table(
    ctx: &SessionContext,
    url: &str,
    schema: SchemaRef,
    partitions: Vec<(String, DataType)>,
) -> Result<ListingTable> {
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions);
    let config = ListingTableConfig::new(ListingTableUrl::parse(url)?)
        .with_listing_options(options)
        .with_schema(schema);
    // Each file's statistics are read from its footer once per session, not once per
    // statement; the session forgets them with the listing when the lake changes.
    let statistics = ctx.runtime_env().cache_manager.get_file_statistic_cache();
    Ok(ListingTable::try_new(config)?.with_cache(statistics))
}
