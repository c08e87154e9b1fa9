//! The streaming text formats: CSV (RFC 4180 quoting), TSV, JSON (an array of objects) and
//! NDJSON, written batch by batch as results arrive; the table and Markdown, which hold the
//! rows they show, up to a limit. Every value is its exact text: decimals are never printed
//! through a float, and JSON numbers are exact JSON numbers.

use std::io::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use super::table::{render_markdown, render_table};
use super::{Format, OutputError, RowCounts, keep_rows};
use crate::model::decimal;

/// The text of one value, exact; `None` for null.
pub fn cell(array: &dyn Array, row: usize) -> Result<Option<String>, OutputError> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Decimal128(_, scale) => decimal::format_plain(
            array.as_primitive::<Decimal128Type>().value(row),
            (*scale).max(0) as u32,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
            let micros = array
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(row);
            match chrono::DateTime::from_timestamp_micros(micros) {
                Some(t) if t.timestamp_subsec_micros() == 0 => {
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                }
                Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                None => micros.to_string(),
            }
        }
        DataType::Map(..) | DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) => {
            json_value(array, row)?
        }
        _ => ArrayFormatter::try_new(array, &FormatOptions::default())?
            .value(row)
            .to_string(),
    }))
}

/// Whether a column holds numbers (right-aligned, unquoted in JSON).
pub(super) fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// A nested value as JSON text.
fn json_value(array: &dyn Array, row: usize) -> Result<String, OutputError> {
    if array.is_null(row) {
        return Ok("null".into());
    }
    match array.data_type() {
        DataType::Map(..) => {
            let map = array.as_map();
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut out = String::from("{");
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, &cell(keys.as_ref(), i)?.unwrap_or_default());
                out.push(':');
                out.push_str(&json_scalar(values.as_ref(), i)?);
            }
            out.push('}');
            Ok(out)
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut out = String::from("{");
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, f.name());
                out.push(':');
                out.push_str(&json_scalar(s.column(i).as_ref(), row)?);
            }
            out.push('}');
            Ok(out)
        }
        DataType::List(_) => json_list(array.as_list::<i32>().value(row).as_ref()),
        DataType::LargeList(_) => json_list(array.as_list::<i64>().value(row).as_ref()),
        _ => json_scalar(array, row),
    }
}

/// The items of one list value as a JSON array.
fn json_list(items: &dyn Array) -> Result<String, OutputError> {
    let items: Result<Vec<String>, OutputError> =
        (0..items.len()).map(|i| json_scalar(items, i)).collect();
    Ok(format!("[{}]", items?.join(",")))
}

/// One value as JSON: numbers as their exact text, booleans, null, strings quoted, nested
/// values as JSON.
fn json_scalar(array: &dyn Array, row: usize) -> Result<String, OutputError> {
    let t = array.data_type();
    Ok(match cell(array, row)? {
        None => "null".into(),
        Some(text)
            if matches!(
                t,
                DataType::Map(..)
                    | DataType::Struct(_)
                    | DataType::List(_)
                    | DataType::LargeList(_)
            ) =>
        {
            text
        }
        Some(text) if is_numeric(t) && !matches!(t, DataType::Float32 | DataType::Float64) => text,
        Some(text) if matches!(t, DataType::Float32 | DataType::Float64) => {
            if text.parse::<f64>().is_ok_and(f64::is_finite) {
                text
            } else {
                format!("\"{text}\"")
            }
        }
        Some(text) if *t == DataType::Boolean => text,
        Some(text) => {
            let mut s = String::new();
            push_json_string(&mut s, &text);
            s
        }
    })
}

fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialize"));
}

fn csv_field(text: &str, sep: char) -> String {
    if text.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn tsv_field(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// Writes a result stream to `out` in `format` (not Parquet: see [`write_parquet`]). For the
/// table and Markdown, at most `max_rows` rows are kept and shown and the rest are counted.
pub(super) async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut (dyn Write + Send),
    max_rows: usize,
    max_width: Option<usize>,
) -> Result<RowCounts, OutputError> {
    let schema = stream.schema();
    let mut written = RowCounts::default();
    match format {
        Format::Table | Format::Markdown => {
            let kept;
            (kept, written) = keep_rows(&mut stream, max_rows).await?;
            let text = if format == Format::Table {
                render_table(&schema, &kept, max_width)?
            } else {
                render_markdown(&schema, &kept)?
            };
            out.write_all(text.as_bytes())?;
        }
        Format::Csv | Format::Tsv => {
            let sep = if format == Format::Csv { ',' } else { '\t' };
            let header: Vec<String> = schema
                .fields()
                .iter()
                .map(|f| {
                    if sep == ',' {
                        csv_field(f.name(), sep)
                    } else {
                        tsv_field(f.name())
                    }
                })
                .collect();
            writeln!(out, "{}", header.join(&sep.to_string()))?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let mut text = String::new();
                for row in 0..batch.num_rows() {
                    for (c, column) in batch.columns().iter().enumerate() {
                        if c > 0 {
                            text.push(sep);
                        }
                        let v = cell(column.as_ref(), row)?.unwrap_or_default();
                        text.push_str(&if sep == ',' {
                            csv_field(&v, sep)
                        } else {
                            tsv_field(&v)
                        });
                    }
                    text.push('\n');
                }
                out.write_all(text.as_bytes())?;
                written.rows += batch.num_rows() as u64;
            }
        }
        Format::Json | Format::NdJson => {
            let array = format == Format::Json;
            if array {
                out.write_all(b"[")?;
            }
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                let mut text = String::new();
                for row in 0..batch.num_rows() {
                    if array && written.rows + row as u64 > 0 {
                        text.push(',');
                    }
                    if array {
                        text.push('\n');
                    }
                    text.push('{');
                    for (c, column) in batch.columns().iter().enumerate() {
                        if c > 0 {
                            text.push(',');
                        }
                        push_json_string(&mut text, schema.field(c).name());
                        text.push(':');
                        text.push_str(&json_value(column.as_ref(), row)?);
                    }
                    text.push('}');
                    if !array {
                        text.push('\n');
                    }
                }
                out.write_all(text.as_bytes())?;
                written.rows += batch.num_rows() as u64;
            }
            if array {
                out.write_all(if written.rows > 0 { b"\n]\n" } else { b"]\n" })?;
            }
        }
        Format::Parquet | Format::Chart => {
            unreachable!("Parquet and charts are written by write_parquet and write_chart")
        }
    }
    out.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sample_batch as batch;
    use std::path::Path;

    #[test]
    fn csv_quotes_and_json_keeps_numbers_exact() {
        let b = batch();
        assert_eq!(csv_field("a, \"b\"", ','), "\"a, \"\"b\"\"\"");
        assert_eq!(json_scalar(b.column(1).as_ref(), 0).unwrap(), "12.5");
        assert_eq!(json_scalar(b.column(0).as_ref(), 1).unwrap(), "null");
        assert_eq!(
            Format::from_extension(Path::new("x.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!("ndjson".parse::<Format>(), Ok(Format::NdJson));
        assert!("xml".parse::<Format>().is_err());
    }
}
