//! Query results out: the text formats (`text`, `table`), Parquet files and charts
//! (`chart`), written where [`PrintOptions`] says. Decimals are printed as exact text, never
//! through a float; only the table and Markdown hold rows in memory, and at most a limit.

pub mod chart;
mod table;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

pub use table::render_table;
pub use text::cell;
use text::is_numeric;

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
    #[error("{0}")]
    Usage(String),
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

/// How many rows a result had: written, and not shown (past the table's limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub rows: u64,
    /// Rows not shown because of the table's row limit.
    pub hidden: u64,
}

/// The most rows a table or Markdown result holds and shows; the rest are counted, not kept,
/// so memory stays bounded however large a result is (the other formats stream).
pub const TABLE_ROW_LIMIT: usize = 10_000;

/// How results are written, and where.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// The table shows at most this many rows (the rest are counted).
    pub max_rows: usize,
    /// A file instead of the writer the caller gives.
    pub output: Option<PathBuf>,
    /// Chart columns and kind chosen by the user; a saved query's own spec fills the rest.
    pub chart: chart::ChartSpec,
    /// The terminal's width, when the table goes to one: it is fitted to it.
    pub table_width: Option<usize>,
    /// Columns a chart drawn as text may take.
    pub chart_width: usize,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: Format::Table,
            max_rows: TABLE_ROW_LIMIT,
            output: None,
            chart: chart::ChartSpec::default(),
            table_width: None,
            chart_width: 100,
        }
    }
}

/// Writes one result as `print` says: into the file it names, else into `out`. A chart takes
/// `title` and `chart`'s columns.
pub async fn write_result(
    stream: SendableRecordBatchStream,
    title: &str,
    chart: &chart::ChartSpec,
    print: &PrintOptions,
    out: &mut (dyn Write + Send),
) -> Result<RowCounts, OutputError> {
    let format = print.format;
    let file = print.output.as_deref();
    if format == Format::Chart {
        return write_chart(stream, title, chart, file, print.chart_width, out).await;
    }
    match file {
        Some(path) if format == Format::Parquet => write_parquet(stream, path).await,
        None if format == Format::Parquet => Err(OutputError::Usage(
            "Parquet output needs a file: add --output FILE.parquet".into(),
        )),
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                OutputError::Io(std::io::Error::new(
                    e.kind(),
                    format!("cannot write {}: {e}", path.display()),
                ))
            })?;
            let mut file = std::io::BufWriter::new(file);
            text::write_stream(stream, format, &mut file, print.max_rows, None).await
        }
        None => text::write_stream(stream, format, out, print.max_rows, print.table_width).await,
    }
}

/// Writes a result stream to a Parquet file, batch by batch, with the lake's file settings.
async fn write_parquet(
    mut stream: SendableRecordBatchStream,
    path: &Path,
) -> Result<RowCounts, OutputError> {
    let file = tokio::fs::File::create(path).await?;
    let props = crate::lake::parquet_properties().build();
    let mut writer = parquet::arrow::AsyncArrowWriter::try_new(file, stream.schema(), Some(props))?;
    let mut written = RowCounts::default();
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
pub(crate) async fn keep_rows(
    stream: &mut SendableRecordBatchStream,
    limit: usize,
) -> Result<(Vec<RecordBatch>, RowCounts), OutputError> {
    let mut kept = Vec::new();
    let mut written = RowCounts::default();
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
/// terminal (to `path` or `out`). At most [`chart::POINT_LIMIT`] rows are drawn.
async fn write_chart(
    mut stream: SendableRecordBatchStream,
    title: &str,
    spec: &chart::ChartSpec,
    path: Option<&Path>,
    text_width: usize,
    out: &mut (dyn Write + Send),
) -> Result<RowCounts, OutputError> {
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
        _ => drawn.render_text(text_width).into_bytes(),
    };
    match path {
        Some(p) => std::fs::write(p, bytes)?,
        None => out.write_all(&bytes)?,
    }
    Ok(written)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in binary units, one decimal.
pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Two rows, a text column with a quote and a null, a decimal column: for the writers' tests.
#[cfg(test)]
pub(crate) fn sample_batch() -> RecordBatch {
    use arrow::array::{Decimal128Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(human_bytes(2048), "2.0 KiB");
    }
}
