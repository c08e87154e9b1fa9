//! Printing results: an aligned table, CSV, TSV, JSON, NDJSON and Markdown, written as batches
//! arrive (only the table, meant for eyes, holds the rows it shows), Parquet files, and charts
//! (terminal, SVG, PNG). Decimals are printed as exact text, never through a float.

pub mod chart;

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::decimal;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("cannot write the result: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot format the result: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot chart the result: {0}")]
    Chart(String),
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Tsv,
    Json,
    NdJson,
    Markdown,
    Parquet,
    /// A bar or line chart: text on a terminal, an image in an `.svg` or `.png` file.
    Chart,
}

impl Format {
    pub const NAMES: &'static str = "table, csv, tsv, json, ndjson, markdown, parquet, chart";

    /// The format a file name implies, if any.
    pub fn from_extension(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::NdJson),
            "md" | "markdown" => Some(Format::Markdown),
            "parquet" => Some(Format::Parquet),
            "svg" | "png" => Some(Format::Chart),
            "txt" => Some(Format::Table),
            _ => None,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "tsv" => Ok(Format::Tsv),
            "json" => Ok(Format::Json),
            "ndjson" | "jsonl" => Ok(Format::NdJson),
            "markdown" | "md" => Ok(Format::Markdown),
            "parquet" => Ok(Format::Parquet),
            "chart" => Ok(Format::Chart),
            other => Err(format!(
                "unknown format '{other}'; choose from {}",
                Format::NAMES
            )),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub rows: u64,
    /// Rows not shown because of the table's row limit.
    pub hidden: u64,
}

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
fn is_numeric(t: &DataType) -> bool {
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
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut (dyn Write + Send),
    max_rows: usize,
) -> Result<Written, OutputError> {
    let schema = stream.schema();
    let mut written = Written::default();
    match format {
        Format::Table | Format::Markdown => {
            let kept;
            (kept, written) = keep_rows(&mut stream, max_rows).await?;
            let text = if format == Format::Table {
                render_table(&schema, &kept)?
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

/// Writes a result stream to a Parquet file, batch by batch (zstd).
pub async fn write_parquet(
    mut stream: SendableRecordBatchStream,
    path: &Path,
) -> Result<Written, OutputError> {
    let file = tokio::fs::File::create(path).await?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::try_new(3)?,
        ))
        .build();
    let mut writer = parquet::arrow::AsyncArrowWriter::try_new(file, stream.schema(), Some(props))?;
    let mut written = Written::default();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        written.rows += batch.num_rows() as u64;
        writer.write(&batch).await?;
    }
    writer.close().await?;
    Ok(written)
}

/// Reads the whole stream, keeping its first `limit` rows and counting the rest, so memory
/// stays bounded for the outputs that must hold what they show.
async fn keep_rows(
    stream: &mut SendableRecordBatchStream,
    limit: usize,
) -> Result<(Vec<RecordBatch>, Written), OutputError> {
    let mut kept = Vec::new();
    let mut written = Written::default();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let n = batch.num_rows() as u64;
        let room = (limit as u64).saturating_sub(written.rows).min(n);
        if room > 0 {
            kept.push(batch.slice(0, room as usize));
        }
        written.rows += room;
        written.hidden += n - room;
    }
    Ok((kept, written))
}

/// Draws a result as a chart: an SVG or PNG image when `path` ends so, else text for a
/// terminal (to `path` or standard output). At most [`chart::POINT_LIMIT`] rows are drawn.
pub async fn write_chart(
    mut stream: SendableRecordBatchStream,
    title: &str,
    spec: &chart::ChartSpec,
    path: Option<&Path>,
) -> Result<Written, OutputError> {
    let schema = stream.schema();
    let (kept, written) = keep_rows(&mut stream, chart::POINT_LIMIT).await?;
    let drawn = chart::Chart::from_batches(title, &schema, &kept, spec)?;
    let extension = path
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("svg") => drawn.scene().to_svg().into_bytes(),
        Some("png") => drawn.scene().to_png()?,
        _ => drawn.render_text(terminal_width()).into_bytes(),
    };
    match path {
        Some(p) => std::fs::write(p, bytes)?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(written)
}

/// Columns of the terminal on standard output: `COLUMNS`, else the terminal's own, else 100.
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return n;
    }
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given, and nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0
        && size.ws_col > 20
    {
        return size.ws_col as usize;
    }
    100
}

/// The cells of the kept rows, with decimal columns padded to a common number of places so
/// that points line up.
fn cells(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, OutputError> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut r = Vec::with_capacity(batch.num_columns());
            for column in batch.columns() {
                r.push(cell(column.as_ref(), row)?.unwrap_or_else(|| "NULL".into()));
            }
            rows.push(r);
        }
    }
    for (c, field) in schema.fields().iter().enumerate() {
        if !matches!(field.data_type(), DataType::Decimal128(..)) {
            continue;
        }
        let places = rows
            .iter()
            .map(|r| r[c].split_once('.').map_or(0, |(_, f)| f.len()))
            .max()
            .unwrap_or(0);
        for r in rows.iter_mut() {
            if r[c] == "NULL" || places == 0 {
                continue;
            }
            let have = r[c].split_once('.').map_or(0, |(_, f)| f.len());
            if have == 0 {
                r[c].push('.');
            }
            r[c].extend(std::iter::repeat_n('0', places - have));
        }
    }
    Ok(rows)
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// An aligned table: numbers right-justified, text left.
pub fn render_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String, OutputError> {
    let rows = cells(schema, batches)?;
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|c| {
            rows.iter()
                .map(|r| width(&r[c]))
                .chain([width(names[c])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |values: &[String], header: bool| -> String {
        let mut s = String::new();
        for (c, v) in values.iter().enumerate() {
            let pad = widths[c] - width(v);
            if numeric[c] && !header {
                s.push_str(&format!("| {}{v} ", " ".repeat(pad)));
            } else {
                s.push_str(&format!("| {v}{} ", " ".repeat(pad)));
            }
        }
        s + "|\n"
    };
    let mut out = rule.clone();
    out.push_str(&line(
        &names.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        true,
    ));
    out.push_str(&rule);
    for r in &rows {
        out.push_str(&line(r, false));
    }
    if !rows.is_empty() {
        out.push_str(&rule);
    }
    Ok(out)
}

fn render_markdown(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String, OutputError> {
    let rows = cells(schema, batches)?;
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("|");
    for f in schema.fields() {
        out.push_str(&format!(" {} |", esc(f.name())));
    }
    out.push_str("\n|");
    for f in schema.fields() {
        out.push_str(if is_numeric(f.data_type()) {
            "---:|"
        } else {
            "---|"
        });
    }
    out.push('\n');
    for r in rows {
        out.push('|');
        for v in r {
            out.push_str(&format!(" {} |", esc(&v)));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("cost", DataType::Decimal128(38, 12), true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a, \"b\""), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(12_500_000_000_000), Some(3_250_000_000_000)])
                        .with_precision_and_scale(38, 12)
                        .unwrap(),
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn table_aligns_exact_decimals() {
        let b = batch();
        let text = render_table(&b.schema(), &[b]).unwrap();
        assert!(text.contains("| a, \"b\" | 12.50 |"), "{text}");
        assert!(text.contains("| NULL   |  3.25 |"), "{text}");
    }

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
