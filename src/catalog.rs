//! The lake as DataFusion tables: one listing table per dataset with its declared schema and
//! the hive partition columns, registered without opening a file, so that start-up is fast
//! however many partitions there are. Only published files (`*.parquet`) are ever read.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::lake::Lake;
use crate::schema::Dataset;

/// A session configured for billing data: exact decimal literals (`0.1` is a decimal, not a
/// float) and `information_schema` for `\d` and completion.
pub fn session() -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(true);
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    SessionContext::new_with_config(config)
}

/// Registers every dataset of the lake as a table named after it.
pub fn register(ctx: &SessionContext, lake: &Lake) -> Result<()> {
    for dataset in Dataset::ALL {
        let url = ListingTableUrl::parse(format!("{}{}/", lake.url(), dataset.name()))?;
        let partition_cols = dataset
            .partition_columns()
            .iter()
            .map(|c| (c.to_string(), DataType::Utf8))
            .collect();
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(dataset.file_schema());
        ctx.register_table(dataset.name(), Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(())
}
