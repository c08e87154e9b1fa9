//! The lake's history as SQL. `history.<dataset>` holds the kept files of replaced
//! partitions with their `replaced` time; `previous.<dataset>`, `previous.focus` and
//! `previous.prices` are the lake as it was before each partition's latest replacement (the
//! same view SQL over other tables, so a saved query can compare the two); `history.changes`
//! has one row per replacement and money column, from the manifest alone (no file is read),
//! and is what `costlake changes` prints.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Array, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::ListingTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use super::catalog::listing_table;
use crate::lake::{Change, HISTORY_DIR, Lake, Manifest, PartitionEntry, REPLACED_COLUMN};
use crate::model::{Dataset, decimal};
use crate::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, focus, prices};

/// The schema of kept files and of the changes table.
pub const HISTORY_SCHEMA: &str = "history";
/// The schema of the lake as it was before each partition's latest replacement.
pub const PREVIOUS_SCHEMA: &str = "previous";
/// `history.changes`.
pub const CHANGES_TABLE: &str = "changes";
const DEFAULT_SCHEMA: &str = "public";

/// Registers the `history` and `previous` schemas: the kept files' tables, and the changes
/// table and `previous` views as [`refresh`] makes them.
pub async fn register(ctx: &SessionContext, lake: &Lake) -> Result<()> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| DataFusionError::Internal("no default catalog".into()))?;
    for schema in [HISTORY_SCHEMA, PREVIOUS_SCHEMA] {
        catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new()))?;
    }
    for dataset in Dataset::ALL {
        let mut partitions = dataset.query_partition_columns();
        partitions.push((REPLACED_COLUMN.to_string(), DataType::Utf8View));
        let url = format!("{}{HISTORY_DIR}/{}/", lake.url(), dataset.name());
        let table = listing_table(ctx, &url, dataset.query_schema(), partitions)?;
        ctx.register_table(
            format!("{HISTORY_SCHEMA}.{}", dataset.name()),
            Arc::new(table),
        )?;
    }
    refresh(ctx, &lake.manifest().await.map_err(external)?).await
}

/// Makes `history.changes` again from `manifest`, and the `previous` schema: while nothing
/// was ever replaced, the lake's own tables and views under their names (planning the
/// previous views' SQL would triple the time a session takes to open); once something was,
/// views over the kept files.
pub async fn refresh(ctx: &SessionContext, manifest: &Manifest) -> Result<()> {
    register_changes(ctx, manifest)?;
    // Built once, the views stay right as the history grows: they list the kept files.
    let probe = format!("{PREVIOUS_SCHEMA}.{}", Dataset::UsageDetails.name());
    if ctx.table_exist(probe.as_str())?
        && ctx
            .table_provider(probe.as_str())
            .await?
            .downcast_ref::<ListingTable>()
            .is_none()
    {
        return Ok(());
    }
    let replaced = !manifest.history.is_empty();
    for name in previous_names() {
        let qualified = format!("{PREVIOUS_SCHEMA}.{name}");
        ctx.deregister_table(qualified.as_str())?;
        if !replaced {
            ctx.register_table(qualified, ctx.table_provider(name).await?)?;
        }
    }
    if !replaced {
        return Ok(());
    }
    for dataset in Dataset::ALL {
        ctx.sql(&previous_sql(dataset)).await?;
    }
    // The views' own SQL, with its unqualified tables resolved in `previous`.
    ctx.sql(&format!(
        "SET datafusion.catalog.default_schema = '{PREVIOUS_SCHEMA}'"
    ))
    .await?;
    let views = async {
        ctx.sql(&focus::view_sql()).await?;
        ctx.sql(&prices::view_sql()).await
    }
    .await;
    ctx.sql(&format!(
        "SET datafusion.catalog.default_schema = '{DEFAULT_SCHEMA}'"
    ))
    .await?;
    views.map(|_| ())
}

/// What the `previous` schema names: every dataset, `focus` and `prices`.
fn previous_names() -> impl Iterator<Item = &'static str> {
    Dataset::ALL
        .iter()
        .map(|d| d.name())
        .chain([focus::FOCUS_VIEW, prices::PRICES_VIEW])
}

/// (Re-)registers `history.changes` from `manifest`.
pub fn register_changes(ctx: &SessionContext, manifest: &Manifest) -> Result<()> {
    let batch = changes(manifest)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    let name = format!("{HISTORY_SCHEMA}.{CHANGES_TABLE}");
    ctx.deregister_table(name.as_str())?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// `previous.<dataset>`: the dataset's partitions that were never replaced, and of the others
/// the latest kept file.
fn previous_sql(dataset: Dataset) -> String {
    let partitions = dataset.partition_columns();
    let on = |a: &str, b: &str| {
        partitions
            .iter()
            .map(|c| format!("{a}.\"{c}\" = {b}.\"{c}\""))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let listed = partitions
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let columns = dataset
        .query_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .chain(partitions.iter().map(|c| c.to_string()))
        .map(|c| format!("r.\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let (name, history) = (
        dataset.name(),
        format!("{HISTORY_SCHEMA}.{}", dataset.name()),
    );
    format!(
        "CREATE VIEW {PREVIOUS_SCHEMA}.{name} AS\n\
         SELECT t.* FROM {DEFAULT_SCHEMA}.{name} t\n\
         LEFT JOIN (SELECT DISTINCT {listed} FROM {history}) h ON {}\n\
         WHERE h.\"{first}\" IS NULL\n\
         UNION ALL\n\
         SELECT {columns} FROM {history} r\n\
         JOIN (SELECT {listed}, max(\"{REPLACED_COLUMN}\") AS latest FROM {history} GROUP BY {listed}) l\n\
           ON {} AND r.\"{REPLACED_COLUMN}\" = l.latest",
        on("t", "h"),
        on("r", "l"),
        first = partitions[0],
    )
}

/// The changes table: one row per replacement and money column (one row with no column for
/// datasets without money columns).
fn changes(manifest: &Manifest) -> Result<RecordBatch> {
    let money = DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE);
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("replaced_at", utc, false),
        Field::new("dataset", DataType::Utf8, false),
        Field::new("billing_account", DataType::Utf8, false),
        Field::new("cost_type", DataType::Utf8, true),
        Field::new("billing_period", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("before", money.clone(), true),
        Field::new("after", money.clone(), true),
        Field::new("difference", money, true),
        Field::new("rows_before", DataType::UInt64, false),
        Field::new("rows_after", DataType::UInt64, false),
        Field::new("source_before", DataType::Utf8, false),
        Field::new("source_after", DataType::Utf8, false),
        Field::new("kept_file", DataType::Utf8, true),
    ]));
    // One row per replacement and money column, then each column of the schema in turn.
    struct Row<'a> {
        change: Change<'a>,
        column: Option<&'static str>,
        kind: &'static str,
    }
    let mut rows = Vec::new();
    for change in manifest.changes() {
        let before = &change.before.entry;
        let mut columns: Vec<Option<&'static str>> = Dataset::parse(&before.dataset)
            .map(|d| d.total_columns())
            .unwrap_or_default()
            .into_iter()
            .map(Some)
            .collect();
        if columns.is_empty() {
            columns.push(None);
        }
        // Replaced data fetched before its period ended was completed; after, restated.
        let ended = before
            .billing_period
            .as_deref()
            .and_then(crate::model::PeriodId::parse)
            .is_some_and(|p| p.last_day() < before.published_at.date_naive());
        let kind = if ended { "restated" } else { "completed" };
        for column in columns {
            rows.push(Row {
                change,
                column,
                kind,
            });
        }
    }
    let text = |cell: &dyn Fn(&Row) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(cell).collect::<Vec<_>>()))
    };
    let amount = |entry: &PartitionEntry, column: Option<&str>| {
        entry
            .totals
            .get(column?)
            .and_then(|t| decimal::parse(t, DECIMAL_SCALE as u32, DECIMAL_PRECISION as u32).ok())
    };
    let money = |cell: &dyn Fn(&Row) -> Option<i128>| -> Result<ArrayRef> {
        Ok(Arc::new(
            Decimal128Array::from(rows.iter().map(cell).collect::<Vec<_>>())
                .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?,
        ))
    };
    let count = |cell: &dyn Fn(&Row) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from(rows.iter().map(cell).collect::<Vec<_>>()))
    };
    let before = |r: &Row| amount(&r.change.before.entry, r.column);
    let after = |r: &Row| amount(r.change.after, r.column);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.iter()
                    .map(|r| r.change.before.replaced_at.timestamp_micros())
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        text(&|r| Some(r.change.before.entry.dataset.clone())),
        text(&|r| Some(r.change.before.entry.account.clone())),
        text(&|r| r.change.before.entry.cost_type.clone()),
        text(&|r| r.change.before.entry.billing_period.clone()),
        text(&|r| Some(r.kind.to_string())),
        text(&|r| r.column.map(str::to_string)),
        money(&before)?,
        money(&after)?,
        money(&|r| Some(after(r)? - before(r)?))?,
        count(&|r| r.change.before.entry.rows),
        count(&|r| r.change.after.rows),
        text(&|r| Some(r.change.before.entry.provenance.describe())),
        text(&|r| Some(r.change.after.provenance.describe())),
        text(&|r| r.change.before.kept.clone()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn external(e: crate::lake::LakeError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
