//! Billing data into Arrow batches, driven by `schema`: JSON rows of the EA API (`json`,
//! found in paged answers by `json_scanner`, in arrays by the decoding tasks: `json_array`),
//! tables of text cells from export CSV files (`table`, with records split by `csv`), and typed
//! Parquet columns (`typed`), built column by column (`columns`) with exact decimals and
//! lenient dates (`values`), in parallel over the cores (`parallel`).

mod columns;
pub mod csv;
mod json;
mod json_array;
mod json_scanner;
mod parallel;
pub mod table;
mod typed;
mod values;

pub use json::RowDecoder;
pub use json_scanner::RowScanner;
pub use parallel::{ParallelDecoder, RowFormat};
pub use typed::TypedTable;
pub use values::{days_since_epoch, parse_date, parse_instant, parse_timestamp};

/// A value that cannot be decoded, or JSON that is not what the API sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("row {row}, field `{field}`: {reason} (value: {value})")]
    Value {
        row: u64,
        field: String,
        value: String,
        reason: String,
    },
    #[error("row {row}: required field `{field}` is missing or null")]
    Missing { row: u64, field: String },
    #[error("row {row} is not a JSON object: {reason}")]
    Row { row: u64, reason: String },
    #[error(
        "row {row} has no field of {dataset} (its members: {members}); is it an error the service sent instead of data?"
    )]
    Foreign {
        row: u64,
        dataset: &'static str,
        members: String,
    },
    #[error(
        "row {row} has {found} cells where the header has {expected}: the file is cut short or not one export"
    )]
    Cells {
        row: u64,
        found: usize,
        expected: usize,
    },
    #[error("the answer is not the JSON the API sends: {0}")]
    Shape(String),
    /// A CSV file that is not an export part: its message says how.
    #[error("{0}")]
    Csv(String),
}

impl DecodeError {
    /// The error with its row number moved on by `rows`: for a chunk whose rows were numbered
    /// before the rows ahead of it were known.
    pub(crate) fn after(self, rows: u64) -> DecodeError {
        match self {
            DecodeError::Value {
                row,
                field,
                value,
                reason,
            } => DecodeError::Value {
                row: row + rows,
                field,
                value,
                reason,
            },
            DecodeError::Missing { row, field } => DecodeError::Missing {
                row: row + rows,
                field,
            },
            DecodeError::Row { row, reason } => DecodeError::Row {
                row: row + rows,
                reason,
            },
            DecodeError::Foreign {
                row,
                dataset,
                members,
            } => DecodeError::Foreign {
                row: row + rows,
                dataset,
                members,
            },
            DecodeError::Cells {
                row,
                found,
                expected,
            } => DecodeError::Cells {
                row: row + rows,
                found,
                expected,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
