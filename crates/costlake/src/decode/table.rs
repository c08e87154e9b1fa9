//! Tables of text cells (export CSV records) into Arrow batches of
//! a dataset: columns found by header, whatever their order or spelling, each cell read as
//! exactly and leniently as the API's JSON values are.

use arrow::record_batch::RecordBatch;

use super::DecodeError;
use super::columns::{Columns, Scalar, append};
use crate::model::Dataset;
use crate::schema::{Col, Field};

/// A header as matched: lower case, without spaces, underscores and hyphens, so `MeterSubCategory`,
/// `Meter Sub-Category` and `meter_sub_category` are one name.
pub fn header_key(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The tags cell as a JSON object: EA exports print tags without their outer braces
/// (`"env": "prod"`).
pub(super) fn tags_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.trim_start().starts_with('{') {
        std::borrow::Cow::Borrowed(cell)
    } else {
        std::borrow::Cow::Owned(format!("{{{cell}}}"))
    }
}

/// A file's headers matched to a dataset's fields.
pub(super) struct HeaderMatch {
    /// For each field, the cell index it is read from (None: the file lacks it; null).
    pub(super) sources: Vec<Option<usize>>,
    /// For each field, the header the file gives it, for error messages.
    pub(super) source_headers: Vec<String>,
    /// Headers that match no column, kept for a warning.
    pub(super) unknown: Vec<String>,
}

impl HeaderMatch {
    /// Matches headers to fields. A header that matches a field's newest name wins over one
    /// that matches an older spelling.
    pub(super) fn new(dataset: Dataset, headers: &[&str]) -> HeaderMatch {
        let fields = dataset.fields();
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        let mut sources = vec![None; fields.len()];
        let mut used = vec![false; headers.len()];
        for (i, field) in fields.iter().enumerate() {
            if field.derived_from.is_some() {
                continue;
            }
            let names = std::iter::once(field.api).chain(field.aliases.iter().copied());
            if let Some(cell) = names
                .map(header_key)
                .find_map(|name| keys.iter().position(|k| *k == name))
            {
                sources[i] = Some(cell);
                used[cell] = true;
            }
        }
        let source_headers = fields
            .iter()
            .zip(&sources)
            .map(|(f, s)| match s {
                Some(cell) => headers[*cell]
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_string(),
                None => f.api.to_string(),
            })
            .collect();
        let unknown = headers
            .iter()
            .zip(&used)
            .filter(|(h, used)| !**used && !h.trim().is_empty())
            .map(|(h, _)| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        HeaderMatch {
            sources,
            source_headers,
            unknown,
        }
    }
}

/// Decodes rows of cells into batches of one dataset.
pub struct TableDecoder {
    fields: &'static [Field],
    columns: Columns,
    /// For each field, the cell index it is read from (None: the file lacks it; null).
    sources: Vec<Option<usize>>,
    /// For each field, the header the file gives it, for error messages.
    source_headers: Vec<String>,
    /// Headers that match no column, kept for a warning.
    unknown: Vec<String>,
    /// Cells in every row: as many as headers.
    width: usize,
    row_number: u64,
    /// Decimals that had non-zero digits beyond the lake's twelve places, rounded half to even.
    rounded: u64,
}

impl TableDecoder {
    /// A decoder for files with these headers. A header that matches a field's newest name
    /// wins over one that matches an older spelling.
    pub fn new(dataset: Dataset, headers: &[&str]) -> TableDecoder {
        let matched = HeaderMatch::new(dataset, headers);
        TableDecoder {
            fields: dataset.fields(),
            columns: Columns::new(dataset, 0),
            sources: matched.sources,
            source_headers: matched.source_headers,
            unknown: matched.unknown,
            width: headers.len(),
            // Rows are counted from 1, the first after the header.
            row_number: 1,
            rounded: 0,
        }
    }

    /// The decoder with room for `rows` rows before its builders grow.
    pub fn with_capacity(mut self, rows: usize) -> TableDecoder {
        self.columns = Columns::new(self.columns.dataset, rows);
        self
    }

    /// A decoder whose first row is data row `first` (from 0) of the file, for the row
    /// numbers in errors.
    pub fn starting_at(dataset: Dataset, headers: &[&str], first: u64) -> TableDecoder {
        TableDecoder {
            row_number: first + 1,
            ..TableDecoder::new(dataset, headers)
        }
    }

    /// Headers that no column of the dataset takes.
    pub fn unknown_headers(&self) -> &[String] {
        &self.unknown
    }

    /// How many of the dataset's columns the headers fill.
    pub fn matched_columns(&self) -> usize {
        self.sources.iter().filter(|s| s.is_some()).count()
    }

    /// Decimals so far that carried non-zero digits beyond the lake's scale.
    pub fn rounded(&self) -> u64 {
        self.rounded
    }

    /// Rows decoded and not yet taken by [`TableDecoder::finish`].
    pub fn buffered_rows(&self) -> usize {
        self.columns.rows
    }

    /// Decodes one row. An empty cell (or the literal `NULL` some FOCUS files print) is null.
    /// A row with more or fewer cells than the header is an error, not a row of nulls: it is
    /// what a file cut short, or two files run together, look like.
    pub fn push_record(&mut self, cells: &[&str]) -> Result<(), DecodeError> {
        let row = self.row_number;
        if cells.len() != self.width {
            return Err(DecodeError::Cells {
                row,
                found: cells.len(),
                expected: self.width,
            });
        }
        // The tags' text, for the derived map: borrowed from the cell unless braces were added.
        let mut tags: Option<std::borrow::Cow<'_, str>> = None;
        for (i, field) in self.fields.iter().enumerate() {
            if field.derived_from.is_some() {
                continue;
            }
            let text = self.sources[i]
                .and_then(|c| cells.get(c))
                .copied()
                .filter(|t| !t.is_empty() && *t != "NULL");
            let text = match text {
                Some(t) if field.col == Col::Tags => Some(tags_text(t)),
                Some(t) => Some(std::borrow::Cow::Borrowed(t)),
                None => None,
            };
            if field.col == Col::Tags {
                tags = text.clone();
            }
            let value = match &text {
                Some(t) => Scalar::Str(std::borrow::Cow::Borrowed(t.as_ref())),
                None => Scalar::Null,
            };
            let appended = append(
                &mut self.columns.builders[i],
                field.kind,
                &value,
                &mut self.rounded,
            )
            .map_err(|reason| DecodeError::Value {
                row,
                field: self.source_headers[i].clone(),
                value: text.as_deref().unwrap_or("").chars().take(80).collect(),
                reason,
            })?;
            if !appended && !field.nullable {
                return Err(DecodeError::Missing {
                    row,
                    field: self.source_headers[i].clone(),
                });
            }
        }
        self.columns.end_row(tags.as_deref());
        self.row_number += 1;
        Ok(())
    }

    /// Takes the decoded rows as a batch (None when there are none).
    pub fn finish(&mut self) -> Option<RecordBatch> {
        self.columns.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Decimal128Type;

    #[test]
    fn maps_headers_by_name_and_reads_export_values() {
        let headers = [
            "Cost",
            "Date",
            "SubscriptionGuid",
            "Tags",
            "IsAzureCreditEligible",
            "Something New",
        ];
        let mut d = TableDecoder::new(Dataset::CostDetails, &headers);
        assert_eq!(d.unknown_headers(), ["Something New"]);
        d.push_record(&[
            "0.000011139",
            "09/21/2023",
            "abc",
            "\"CostCenter\": \"1234\",\"env\": \"prod\"",
            "True",
            "x",
        ])
        .unwrap();
        d.push_record(&["", "2023-09-22", "", "", "False", ""])
            .unwrap();
        let batch = d.finish().unwrap();
        let schema = batch.schema();
        let col = |name: &str| batch.column(schema.index_of(name).unwrap()).clone();
        let cost = col("cost_in_billing_currency");
        let cost = cost.as_primitive::<Decimal128Type>();
        assert_eq!(cost.value(0), 11_139_000);
        assert!(cost.is_null(1));
        let tags = col("tags");
        assert_eq!(
            tags.as_string::<i32>().value(0),
            "{\"CostCenter\": \"1234\",\"env\": \"prod\"}"
        );
        assert!(tags.is_null(1));
        let map = col("tags_map");
        assert_eq!(map.as_map().value(0).len(), 2);
        let date = col("date");
        let date = date.as_primitive::<arrow::datatypes::Date32Type>();
        assert_eq!(date.value(1) - date.value(0), 1);
        assert!(col("is_azure_credit_eligible").as_boolean().value(0));
        assert!(col("subscription_id").as_string::<i32>().value(0) == "abc");
    }

    #[test]
    fn a_bad_cell_names_its_row_and_column() {
        let mut d = TableDecoder::new(Dataset::CostDetails, &["CostInBillingCurrency"]);
        d.push_record(&["1.5"]).unwrap();
        let err = d.push_record(&["1,5"]).unwrap_err().to_string();
        assert!(
            err.contains("row 2") && err.contains("`CostInBillingCurrency`"),
            "{err}"
        );
    }
}
