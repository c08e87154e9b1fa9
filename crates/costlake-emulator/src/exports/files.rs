//! An export run's part files as Azure writes them: CSV with a byte order mark (plain or
//! gzip), or Parquet with the export's own headers.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use costlake::decode::table::TableDecoder;
use costlake::model::Dataset;
use costlake::schema::Field;

use super::{Export, Format};

/// The header an export of this version writes for a field: FOCUS 1.0 exports still use the
/// `x_` names that 1.2 renamed.
pub(super) fn header(field: &Field, export: &Export) -> &'static str {
    if export.data_version.starts_with("1.0")
        && let Some(old) = field.aliases.iter().find(|a| a.starts_with("x_"))
    {
        return old;
    }
    field.api
}

/// One part file's bytes.
pub(super) fn encode(
    format: Format,
    dataset: Dataset,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Vec<u8> {
    match format {
        Format::Csv | Format::GzipCsv => {
            let mut text = String::from("\u{feff}");
            push_csv_row(&mut text, headers.iter().copied());
            for row in rows {
                push_csv_row(&mut text, row.iter().map(String::as_str));
            }
            if format == Format::Csv {
                return text.into_bytes();
            }
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).expect("gzip into memory");
            gz.finish().expect("gzip into memory")
        }
        Format::Parquet => parquet_part(dataset, headers, rows),
    }
}

pub(super) fn push_csv_row<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push('\n');
}

/// A typed Parquet part with the export's own column names: the cells read into the lake's
/// types, then named as the export names them.
fn parquet_part(dataset: Dataset, headers: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut decoder = TableDecoder::new(dataset, headers);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        decoder
            .push_record(&cells)
            .expect("the emulator's cells decode");
    }
    let batch = decoder.finish().expect("a part has rows");
    let keep: Vec<usize> = dataset
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.derived_from.is_none())
        .map(|(i, _)| i)
        .collect();
    let batch = batch.project(&keep).expect("columns exist");
    let fields: Vec<arrow::datatypes::Field> = batch
        .schema()
        .fields()
        .iter()
        .zip(headers)
        .map(|(f, h)| f.as_ref().clone().with_name(*h))
        .collect();
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).expect("same columns");
    let mut out = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(props))
        .expect("parquet writer");
    writer.write(&batch).expect("parquet write");
    writer.close().expect("parquet close");
    out
}
