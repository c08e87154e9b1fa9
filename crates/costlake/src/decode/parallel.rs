//! Rows decoded into batches on the blocking thread pool, a chunk of rows per task, while the
//! caller goes on reading (and fetching): decoding is the costly part of a sync or an ingest,
//! and this spreads it over the machine's cores. Batches come back in the order the rows came.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::json::RowDecoder;
use super::json_scanner::RowScanner;
use super::{DecodeError, csv, table};
use crate::memory::{MemoryBudget, Reservation};
use crate::model::Dataset;

/// How the rows given to a [`ParallelDecoder`] are written.
#[derive(Debug, Clone)]
pub enum RowFormat {
    /// A JSON object per row (the API's pages).
    Json,
    /// Whole CSV records (from [`table::CsvRecordScanner`]) under these headers: their cells
    /// are split in the decoding task.
    Csv(Arc<[String]>),
    /// Text cells under these headers (Parquet rows seen as text).
    Cells(Arc<[String]>),
}

/// A chunk being decoded: its batch and the decimals it rounded.
type Decoding = tokio::task::JoinHandle<Result<(RecordBatch, u64), DecodeError>>;

/// Rows decoded into batches on the blocking thread pool, a chunk of rows per task, while
/// the caller goes on scanning (and fetching): decoding is the costly part of ingest, and this
/// spreads it over the machine's cores. Batches come back in the order the rows came.
pub struct ParallelDecoder {
    dataset: Dataset,
    format: RowFormat,
    /// A chunk starts decoding at this many rows, or at `chunk_bytes` of text.
    chunk_rows: usize,
    chunk_bytes: usize,
    memory: MemoryBudget,
    /// Room waited for by [`ParallelDecoder::wait_for_room`], for the next chunk.
    room: Option<Reservation>,
    /// A chunk is ready and the budget has no room for it.
    starved: bool,
    /// The rows found and not yet handed to a task: their bytes, and where each ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// For cells: where each cell ends in `bytes`, and where each row's cells end in that list.
    cell_ends: Vec<usize>,
    row_cells: Vec<usize>,
    /// Rows found so far.
    rows: u64,
    /// Decimals rounded beyond the lake's scale, over the chunks decoded so far.
    rounded: u64,
    /// Chunks being decoded, oldest first, each with its room in the budget.
    decoding: std::collections::VecDeque<(Decoding, Reservation)>,
    /// At most one chunk per core is decoded at once, which bounds memory to a few chunks.
    in_flight: usize,
}

impl ParallelDecoder {
    /// A decoder of JSON rows, `chunk_rows` at most per chunk, its chunks held in `memory`.
    pub fn new(dataset: Dataset, chunk_rows: usize, memory: MemoryBudget) -> ParallelDecoder {
        ParallelDecoder::with_format(dataset, RowFormat::Json, chunk_rows, memory)
    }

    pub fn with_format(
        dataset: Dataset,
        format: RowFormat,
        chunk_rows: usize,
        memory: MemoryBudget,
    ) -> ParallelDecoder {
        // A chunk is a small share of the budget, so that several units' chunks fit in it.
        let chunk_bytes = (memory.bytes() / 32).clamp(64 << 10, 4 << 20) as usize;
        ParallelDecoder {
            dataset,
            format,
            chunk_rows,
            chunk_bytes,
            memory,
            room: None,
            starved: false,
            bytes: Vec::new(),
            ends: Vec::new(),
            cell_ends: Vec::new(),
            row_cells: Vec::new(),
            rows: 0,
            rounded: 0,
            decoding: Default::default(),
            in_flight: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// Rows found so far (decoded or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Decimals rounded beyond the lake's scale in the batches returned so far.
    pub fn rounded(&self) -> u64 {
        self.rounded
    }

    /// Takes one row's JSON text, or one CSV record's bytes.
    pub fn push_row(&mut self, row: &[u8]) {
        self.bytes.extend_from_slice(row);
        self.ends.push(self.bytes.len());
        self.rows += 1;
    }

    /// Takes one row's cells.
    pub fn push_cells(&mut self, cells: &[&str]) {
        for cell in cells {
            self.bytes.extend_from_slice(cell.as_bytes());
            self.cell_ends.push(self.bytes.len());
        }
        self.row_cells.push(self.cell_ends.len());
        self.ends.push(self.bytes.len());
        self.rows += 1;
    }

    /// Feeds answer bytes through `scanner`, keeping the rows it finds.
    pub fn feed(&mut self, scanner: &mut RowScanner, bytes: &[u8]) -> Result<(), DecodeError> {
        scanner.feed::<DecodeError>(bytes, |row| {
            self.push_row(row);
            Ok(())
        })
    }

    /// The room a chunk of the rows taken so far needs: its text (as allocated) and the batch
    /// it becomes, which is about as large again as the text.
    fn chunk_room(&self) -> u64 {
        let text = self.bytes.capacity() + self.bytes.len();
        let ends = (self.ends.capacity() + self.cell_ends.capacity() + self.row_cells.capacity())
            * std::mem::size_of::<usize>();
        (text + ends) as u64
    }

    fn start_chunk(&mut self, room: Reservation) {
        let bytes = std::mem::take(&mut self.bytes);
        let ends = std::mem::take(&mut self.ends);
        let cell_ends = std::mem::take(&mut self.cell_ends);
        let row_cells = std::mem::take(&mut self.row_cells);
        let first = self.rows - ends.len() as u64;
        let dataset = self.dataset;
        let format = self.format.clone();
        let task = tokio::task::spawn_blocking(move || match format {
            RowFormat::Json => {
                let mut decoder = RowDecoder::starting_at(dataset, first).with_capacity(ends.len());
                let mut start = 0;
                for end in ends {
                    decoder.push_row(&bytes[start..end])?;
                    start = end;
                }
                let rounded = decoder.rounded;
                Ok((decoder.finish().expect("a chunk has rows"), rounded))
            }
            RowFormat::Csv(headers) => {
                let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                let mut decoder = table::TableDecoder::starting_at(dataset, &headers, first)
                    .with_capacity(ends.len());
                let mut splitter = csv::CsvSplitter::new();
                let mut pushed = 0u64;
                let mut push = |cells: &[&str]| {
                    pushed += 1;
                    decoder.push_record(cells)
                };
                // The splitter knows no row numbers: its errors get the chunk's.
                splitter
                    .feed(&bytes, &mut push)
                    .and_then(|()| splitter.finish(&mut push))
                    .map_err(|e| match e {
                        DecodeError::Csv(reason) => {
                            DecodeError::Csv(format!("row {}: {reason}", first + pushed + 1))
                        }
                        other => other,
                    })?;
                let rounded = decoder.rounded();
                Ok((decoder.finish().expect("a chunk has rows"), rounded))
            }
            RowFormat::Cells(headers) => {
                let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                let mut decoder = table::TableDecoder::starting_at(dataset, &headers, first)
                    .with_capacity(row_cells.len());
                let text = std::str::from_utf8(&bytes).expect("cells are text");
                let (mut start, mut cell) = (0, 0);
                let mut cells = Vec::with_capacity(headers.len());
                for row_end in row_cells {
                    cells.clear();
                    for &end in &cell_ends[cell..row_end] {
                        cells.push(&text[start..end]);
                        start = end;
                    }
                    cell = row_end;
                    decoder.push_record(&cells)?;
                }
                let rounded = decoder.rounded();
                Ok((decoder.finish().expect("a chunk has rows"), rounded))
            }
        });
        self.decoding.push_back((task, room));
    }

    /// The next decoded batch in order, when one should be taken now: a full chunk starts
    /// decoding, and a batch is waited for once too many are in flight or the budget has no
    /// room for the next chunk. With `all`, every remaining row is decoded and returned, batch
    /// by batch, until `None`. `None` with [`starved`](Self::starved) means a chunk waits for
    /// room that only the caller can make.
    pub async fn next_batch(&mut self, all: bool) -> Option<Result<RecordBatch, DecodeError>> {
        let full = self.ends.len() >= self.chunk_rows || self.bytes.len() >= self.chunk_bytes;
        if full || (all && !self.ends.is_empty()) {
            let room = self
                .room
                .take()
                .or_else(|| self.memory.try_reserve(self.chunk_room()));
            match room {
                Some(room) => {
                    self.starved = false;
                    self.start_chunk(room);
                }
                None if self.decoding.is_empty() => {
                    self.starved = true;
                    return None;
                }
                // The chunks in flight give their room back as they are taken.
                None => return Some(self.take_oldest().await),
            }
        }
        if self.decoding.len() >= self.in_flight || (all && !self.decoding.is_empty()) {
            return Some(self.take_oldest().await);
        }
        None
    }

    /// Whether a chunk is waiting for room in the budget while the decoder holds none of it:
    /// the caller should give back what else it holds, then [`wait_for_room`](Self::wait_for_room).
    pub fn starved(&self) -> bool {
        self.starved
    }

    /// Waits until the budget has room for the waiting chunk.
    pub async fn wait_for_room(&mut self) {
        self.room = Some(self.memory.reserve(self.chunk_room()).await);
        self.starved = false;
    }

    /// Lets the waiting chunk start without room, for a caller that cannot wait.
    pub fn go_on_without_room(&mut self) {
        self.room = Some(self.memory.none());
        self.starved = false;
    }

    async fn take_oldest(&mut self) -> Result<RecordBatch, DecodeError> {
        let (task, room) = self.decoding.pop_front().expect("a chunk is in flight");
        let done = task
            .await
            .unwrap_or_else(|e| Err(DecodeError::Shape(format!("a decoding task failed: {e}"))));
        drop(room);
        done.map(|(batch, rounded)| {
            self.rounded += rounded;
            batch
        })
    }
}
