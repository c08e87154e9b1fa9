//! CSV and gzip CSV files, streamed (export parts here, and the Cost Management API's report
//! blobs through [`read_stream`]): the reading task inflates gzip and finds where
//! records end (a header in every part, the UTF-8 byte order mark every part starts with);
//! chunks of records are split and decoded on the other cores and written in order. Gzip is
//! inflated a slice at a time, and a part that inflates more than [`MAX_INFLATION`] times its
//! size is refused: CSV compresses 5 to 20 times, a decompression bomb a thousand.

use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::super::BATCH_ROWS;
use super::{ExportError, Part, header_problem};
use crate::decode::csv::{CsvRecordScanner, CsvSplitter};
use crate::decode::{DecodeError, ParallelDecoder, RowFormat};
use crate::lake::{PartitionWriter, WriteError, redact};
use crate::memory::MemoryBudget;
use crate::model::Dataset;

/// How many times its compressed size a gzip part may inflate to.
pub const MAX_INFLATION: u64 = 200;
/// Inflated bytes always allowed, whatever the ratio (a tiny part has a poor one).
pub(crate) const INFLATION_FLOOR: u64 = 16 << 20;
/// Bytes taken at once (compressed, for gzip): with the ratio check after each, memory holds
/// at most one slice's inflation, and the rows of each slice are decoded before the next is
/// taken, however large the stream's chunks are.
const SLICE: usize = 16 << 10;

/// Streams one CSV part of an export run into the writer; returns its data rows and how
/// many decimals were rounded.
pub(super) async fn read(
    part: &Part<'_>,
    gzip: bool,
    writer: &mut PartitionWriter,
) -> Result<(u64, u64), ExportError> {
    let stream = part
        .tree
        .store
        .get(part.path)
        .await
        .map_err(|e| part.error(redact(&e.to_string())))?
        .into_stream();
    let csv = CsvPart {
        dataset: part.dataset,
        file: &part.file,
        gzip,
        header: None,
    };
    let read = read_stream(stream, &csv, writer).await?;
    Ok((read.rows, read.rounded))
}

/// A CSV file being read from any byte stream: an export part, a report blob.
pub(crate) struct CsvPart<'a> {
    pub dataset: Dataset,
    /// The file's name for messages.
    pub file: &'a str,
    pub gzip: bool,
    /// The header of the file before this one, for files cut from one report where only the
    /// first may carry it: a first record equal to it is the header again, anything else is
    /// data under it.
    pub header: Option<&'a [String]>,
}

/// What reading a CSV file found.
pub(crate) struct CsvRead {
    pub rows: u64,
    pub rounded: u64,
    /// The header the rows were read under.
    pub header: Option<Vec<String>>,
    /// Bytes taken from the stream (compressed, for gzip).
    pub bytes: u64,
}

/// Streams a CSV file into the writer: the one CSV path of exports and reports.
pub(crate) async fn read_stream<S, E>(
    mut stream: S,
    part: &CsvPart<'_>,
    writer: &mut PartitionWriter,
) -> Result<CsvRead, ExportError>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let error = |message: String| ExportError::File {
        file: part.file.to_string(),
        message,
    };
    let io_err = |e: &dyn std::fmt::Display| ExportError::Io {
        file: part.file.to_string(),
        message: redact(&e.to_string()),
    };
    let decode_err = |source: DecodeError| ExportError::Decode {
        file: part.file.to_string(),
        source,
    };
    let write_err = |e: WriteError| match e {
        WriteError::Decode(e) => decode_err(e),
        WriteError::Lake(e) => e.into(),
    };
    let mut table = CsvTable::new(part.dataset, part.header, writer.memory());
    let mut gunzip = part
        .gzip
        .then(|| flate2::write::MultiGzDecoder::new(Vec::new()));
    let (mut compressed, mut inflated, mut taken) = (0u64, 0u64, 0u64);
    loop {
        let chunk = stream.next().await.transpose().map_err(|e| io_err(&e))?;
        taken += chunk.as_ref().map_or(0, |c| c.len() as u64);
        let last = chunk.is_none();
        match (gunzip.as_mut(), chunk) {
            (Some(gz), Some(chunk)) => {
                use std::io::Write;
                for slice in chunk.chunks(SLICE) {
                    gz.write_all(slice).map_err(|e| {
                        error(format!("not gzip data the export could have written: {e}"))
                    })?;
                    compressed += slice.len() as u64;
                    inflated += gz.get_ref().len() as u64;
                    if inflated > INFLATION_FLOOR.max(MAX_INFLATION * compressed) {
                        return Err(error(format!(
                            "the gzip data inflates more than {MAX_INFLATION} times its size, which no CSV export does; refused as a decompression bomb"
                        )));
                    }
                    // The inflated bytes are taken and the buffer kept for the next slice.
                    table.take(gz.get_ref(), writer).await.map_err(write_err)?;
                    gz.get_mut().clear();
                }
            }
            (None, Some(chunk)) => {
                for slice in chunk.chunks(SLICE) {
                    table.take(slice, writer).await.map_err(write_err)?;
                }
            }
            (_, None) => {
                if let Some(gz) = gunzip.take() {
                    let plain = gz
                        .finish()
                        .map_err(|e| error(format!("the gzip data ends early: {e}")))?;
                    table.feed(&plain).map_err(decode_err)?;
                }
                table.finish().map_err(decode_err)?;
            }
        }
        if let Some(message) = &table.rows.header_problem {
            return Err(error(message.clone()));
        }
        if let Some(decoder) = table.rows.decoder.as_mut() {
            writer
                .write_decoded(decoder, last)
                .await
                .map_err(write_err)?;
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
    Ok(CsvRead {
        rows: table.rows.rows,
        rounded,
        header: table.rows.header,
        bytes: taken,
    })
}

/// A CSV part being read: the scanner finds the records; the header row makes the decoder,
/// which splits and decodes the others in parallel.
struct CsvTable {
    scanner: CsvRecordScanner,
    rows: CsvRows,
}

struct CsvRows {
    dataset: Dataset,
    /// The budget the decoder's chunks are held in.
    memory: MemoryBudget,
    /// The header in force: the file's own, or the one of the file before it.
    header: Option<Vec<String>>,
    /// Whether the next record is the file's first.
    first: bool,
    decoder: Option<ParallelDecoder>,
    /// Why the file is not this dataset's export, when its header says so.
    header_problem: Option<String>,
    rows: u64,
}

impl CsvTable {
    fn new(dataset: Dataset, header: Option<&[String]>, memory: MemoryBudget) -> CsvTable {
        CsvTable {
            scanner: CsvRecordScanner::new(),
            rows: CsvRows {
                dataset,
                memory,
                header: header.map(<[String]>::to_vec),
                first: true,
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

    /// Takes plain text, and writes the rows decoded by now.
    async fn take(&mut self, text: &[u8], writer: &mut PartitionWriter) -> Result<(), WriteError> {
        self.feed(text).map_err(WriteError::Decode)?;
        match self.rows.decoder.as_mut() {
            Some(decoder) => writer.write_decoded(decoder, false).await,
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), DecodeError> {
        let rows = &mut self.rows;
        self.scanner.finish(|record| rows.on_record(record))?;
        if rows.first && rows.header.is_none() && rows.header_problem.is_none() {
            rows.header_problem = Some("the file is empty: not even a header row".into());
        }
        Ok(())
    }
}

impl CsvRows {
    fn on_record(&mut self, record: &[u8]) -> Result<(), DecodeError> {
        let first = std::mem::replace(&mut self.first, false);
        if first {
            let cells = split_record(record)?;
            match &self.header {
                // The header again, as in every part of an export.
                Some(known) if *known == cells => {}
                // Data under the header of the file before.
                Some(known) => {
                    let known = known.clone();
                    self.start(known);
                    self.push(record);
                }
                None => self.start(cells),
            }
            if self.decoder.is_none()
                && let Some(known) = self.header.clone()
            {
                self.start(known);
            }
            return Ok(());
        }
        self.push(record);
        Ok(())
    }

    fn push(&mut self, record: &[u8]) {
        if let Some(d) = &mut self.decoder {
            d.push_row(record);
            self.rows += 1;
        }
    }

    /// Makes the decoder for the rows under `headers`.
    fn start(&mut self, headers: Vec<String>) {
        let names: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.header_problem = header_problem(self.dataset, &names);
        self.decoder = Some(ParallelDecoder::with_format(
            self.dataset,
            RowFormat::Csv(headers.clone().into()),
            BATCH_ROWS,
            self.memory.clone(),
        ));
        self.header = Some(headers);
    }
}

/// A record's cells.
fn split_record(record: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut cells: Vec<String> = Vec::new();
    let mut splitter = CsvSplitter::new();
    let mut take = |c: &[&str]| -> Result<(), DecodeError> {
        cells.extend(c.iter().map(|c| c.to_string()));
        Ok(())
    };
    splitter.feed(record, &mut take)?;
    splitter.finish(&mut take)?;
    Ok(cells)
}
