//! The lake's tables at a glance: each dataset's partitions and rows (from the manifest, no
//! file opened), and a table's columns and types.

use super::{QueryError, Session};
use crate::model::Dataset;
use crate::output::thousands;

/// Each table that holds data, with its partitions and rows, from the manifest (no file is
/// opened); the empty ones are named on one line.
pub async fn tables_overview(session: &Session) -> Result<String, QueryError> {
    let manifest = session.lake.manifest().await?;
    let counts: Vec<(Dataset, u64, u64)> = Dataset::ALL
        .iter()
        .map(|&d| {
            let (parts, rows) = manifest
                .of(d)
                .fold((0u64, 0u64), |(p, r), e| (p + 1, r + e.rows));
            (d, parts, rows)
        })
        .collect();
    let (held, empty): (Vec<_>, Vec<_>) = counts.into_iter().partition(|(_, parts, _)| *parts > 0);
    let width = held
        .iter()
        .map(|(d, ..)| d.name().len())
        .chain([22])
        .max()
        .unwrap_or(22);
    let mut out = String::new();
    for (d, parts, rows) in held {
        out.push_str(&format!(
            "{:<width$} {:>4} partitions {:>14} rows   {}\n",
            d.name(),
            parts,
            thousands(rows),
            d.doc()
        ));
    }
    if !empty.is_empty() {
        let names: Vec<&str> = empty.iter().map(|(d, ..)| d.name()).collect();
        out.push_str(&format!("empty: {}\n", names.join(", ")));
    }
    Ok(out)
}

/// A table's (or view's) columns and types.
pub async fn describe_table(session: &Session, table: &str) -> Result<String, QueryError> {
    let provider = session.ctx.table_provider(table).await?;
    let mut out = String::new();
    for f in provider.schema().fields() {
        let null = if f.is_nullable() { "" } else { " not null" };
        out.push_str(&format!("  {:<36} {}{null}\n", f.name(), f.data_type()));
    }
    Ok(out)
}
