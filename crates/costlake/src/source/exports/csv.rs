//! CSV and gzip CSV export parts, streamed: the reading task inflates gzip and finds where
//! records end (a header in every part, the UTF-8 byte order mark every part starts with);
//! chunks of records are split and decoded on the other cores and written in order. Gzip is
//! inflated a slice at a time, and a part that inflates more than [`MAX_INFLATION`] times its
//! size is refused: CSV compresses 5 to 20 times, a decompression bomb a thousand.

use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::super::{BATCH_ROWS, write_decoded};
use super::{ExportError, Part, header_problem};
use crate::decode::csv::{CsvRecordScanner, CsvSplitter};
use crate::decode::{DecodeError, ParallelDecoder, RowFormat};
use crate::lake::{PartitionWriter, redact};
use crate::model::Dataset;

/// How many times its compressed size a gzip part may inflate to.
pub const MAX_INFLATION: u64 = 200;
/// Inflated bytes always allowed, whatever the ratio (a tiny part has a poor one).
const INFLATION_FLOOR: u64 = 16 << 20;
/// Compressed bytes inflated at once: with the ratio check after each, memory holds at most
/// one slice's inflation.
const GZIP_SLICE: usize = 16 << 10;

/// Streams one CSV part into the writer; returns its data rows and how many decimals were
/// rounded.
pub(super) async fn read(
    part: &Part<'_>,
    gzip: bool,
    writer: &mut PartitionWriter,
) -> Result<(u64, u64), ExportError> {
    let io_err = |e: &dyn std::fmt::Display| part.error(redact(&e.to_string()));
    let decode_err = |e: DecodeError| part.decode_error(e);
    let mut stream = part
        .tree
        .store
        .get(part.path)
        .await
        .map_err(|e| io_err(&e))?
        .into_stream();
    let mut table = CsvTable::new(part.dataset);
    let mut gunzip = gzip.then(|| flate2::write::MultiGzDecoder::new(Vec::new()));
    let (mut compressed, mut inflated) = (0u64, 0u64);
    loop {
        let chunk = stream.next().await.transpose().map_err(|e| io_err(&e))?;
        let last = chunk.is_none();
        match (gunzip.as_mut(), chunk) {
            (Some(gz), Some(chunk)) => {
                use std::io::Write;
                for slice in chunk.chunks(GZIP_SLICE) {
                    gz.write_all(slice).map_err(|e| {
                        io_err(&format!("not gzip data the export could have written: {e}"))
                    })?;
                    compressed += slice.len() as u64;
                    inflated += gz.get_ref().len() as u64;
                    if inflated > INFLATION_FLOOR.max(MAX_INFLATION * compressed) {
                        return Err(part.error(format!(
                            "the gzip data inflates more than {MAX_INFLATION} times its size, which no CSV export does; refused as a decompression bomb"
                        )));
                    }
                    // The inflated bytes are taken and the buffer kept for the next slice.
                    table.feed(gz.get_ref()).map_err(decode_err)?;
                    gz.get_mut().clear();
                    if let Some(decoder) = table.rows.decoder.as_mut() {
                        write_decoded(decoder, writer, false)
                            .await
                            .map_err(|e| part.write_error(e))?;
                    }
                }
            }
            (None, Some(chunk)) => table.feed(&chunk).map_err(decode_err)?,
            (_, None) => {
                if let Some(gz) = gunzip.take() {
                    let plain = gz
                        .finish()
                        .map_err(|e| io_err(&format!("the gzip data ends early: {e}")))?;
                    table.feed(&plain).map_err(decode_err)?;
                }
                table.finish().map_err(decode_err)?;
            }
        }
        if let Some(message) = &table.rows.header_problem {
            return Err(part.error(message.clone()));
        }
        if let Some(decoder) = table.rows.decoder.as_mut() {
            write_decoded(decoder, writer, last)
                .await
                .map_err(|e| part.write_error(e))?;
        }
        if last {
            break;
        }
    }
    let rounded = table
        .rows
        .decoder
        .as_ref()
        .map_or(0, ParallelDecoder::rounded);
    Ok((table.rows.rows, rounded))
}

/// A CSV part being read: the scanner finds the records; the header row makes the decoder,
/// which splits and decodes the others in parallel.
struct CsvTable {
    scanner: CsvRecordScanner,
    rows: CsvRows,
}

struct CsvRows {
    dataset: Dataset,
    decoder: Option<ParallelDecoder>,
    /// Why the file is not this dataset's export, when its header says so.
    header_problem: Option<String>,
    rows: u64,
}

impl CsvTable {
    fn new(dataset: Dataset) -> CsvTable {
        CsvTable {
            scanner: CsvRecordScanner::new(),
            rows: CsvRows {
                dataset,
                decoder: None,
                header_problem: None,
                rows: 0,
            },
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let rows = &mut self.rows;
        self.scanner.feed(bytes, |record| rows.on_record(record))
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        let rows = &mut self.rows;
        self.scanner.finish(|record| rows.on_record(record))?;
        if rows.decoder.is_none() && rows.header_problem.is_none() {
            rows.header_problem = Some("the file is empty: not even a header row".into());
        }
        Ok(())
    }
}

impl CsvRows {
    fn on_record(&mut self, record: &[u8]) -> Result<(), DecodeError> {
        match &mut self.decoder {
            Some(d) => {
                d.push_row(record);
                self.rows += 1;
            }
            None => {
                let mut headers: Vec<String> = Vec::new();
                let mut splitter = CsvSplitter::new();
                let mut take = |cells: &[&str]| -> Result<(), DecodeError> {
                    headers.extend(cells.iter().map(|c| c.to_string()));
                    Ok(())
                };
                splitter.feed(record, &mut take)?;
                splitter.finish(&mut take)?;
                let names: Vec<&str> = headers.iter().map(String::as_str).collect();
                self.header_problem = header_problem(self.dataset, &names);
                self.decoder = Some(ParallelDecoder::with_format(
                    self.dataset,
                    RowFormat::Csv(headers.into()),
                    BATCH_ROWS,
                ));
            }
        }
        Ok(())
    }
}
