//! Rows decoded into batches on the blocking thread pool, a chunk of rows per task, while the
//! caller goes on reading (and fetching): decoding is the costly part of a sync or an ingest,
//! and this spreads it over the machine's cores. Batches come back in the order the rows came.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::json::RowDecoder;
use super::json_array::{ChunkEnd, Decoded, Lead, decode_chunk, find_cut};
use super::json_scanner::{MAX_ROW_BYTES, RowScanner};
use super::typed::TypedTable;
use super::{DecodeError, csv, table};
use crate::memory::{MemoryBudget, Reservation};
use crate::model::Dataset;

/// How the rows given to a [`ParallelDecoder`] are written.
#[derive(Debug, Clone)]
pub enum RowFormat {
    /// A JSON object per row (the API's pages), found by a [`RowScanner`].
    Json,
    /// One JSON array of rows, its bytes given as they come ([`ParallelDecoder::feed_array`]):
    /// cut into chunks without a scan (see `json_array`).
    JsonArray,
    /// Whole CSV records (from [`table::CsvRecordScanner`]) under these headers: their cells
    /// are split in the decoding task.
    Csv(Arc<[String]>),
    /// Typed batches (of a Parquet part), converted column by column.
    Typed(Arc<TypedTable>),
}

/// A chunk being decoded, with its room in the budget; for a JSON array, also its text, to join
/// it to the next chunk after a wrong cut.
struct InFlight {
    task: tokio::task::JoinHandle<Decoded>,
    room: Reservation,
    text: Option<Arc<Vec<u8>>>,
}

/// Where a JSON array fed by [`ParallelDecoder::feed_array`] is.
#[derive(Debug, Clone, Copy)]
struct ArrayState {
    /// Its `[` was seen.
    opened: bool,
    /// How the bytes not yet handed to a task begin.
    lead: Lead,
    /// Its `]` was found by a chunk taken.
    closed: bool,
    /// The answer has ended: nothing comes after the bytes taken.
    ended: bool,
    /// The bytes taken so far were searched for a cut up to here and had none: a row longer
    /// than a chunk is searched once, not once per piece.
    searched: usize,
    /// Bytes per row, from the chunks decoded so far, to size the next chunks' builders.
    row_bytes: usize,
}

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
    /// For typed batches: those taken and not yet handed to a task, their rows and memory.
    batches: Vec<RecordBatch>,
    batch_rows: usize,
    batch_bytes: usize,
    /// Rows found so far.
    rows: u64,
    /// Decimals rounded beyond the lake's scale, over the chunks decoded so far.
    rounded: u64,
    /// Chunks being decoded, oldest first.
    decoding: std::collections::VecDeque<InFlight>,
    array: ArrayState,
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
            batches: Vec::new(),
            batch_rows: 0,
            batch_bytes: 0,
            rows: 0,
            rounded: 0,
            decoding: Default::default(),
            array: ArrayState {
                opened: false,
                lead: Lead::First,
                closed: false,
                ended: false,
                searched: 0,
                row_bytes: 512,
            },
            in_flight: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// The decoder with chunks of about `bytes` of text (tests cut at every byte with it).
    #[cfg(test)]
    pub(crate) fn with_chunk_bytes(mut self, bytes: usize) -> ParallelDecoder {
        self.chunk_bytes = bytes;
        self
    }

    /// Rows found so far (decoded or not; of a JSON array, decoded).
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

    /// Takes the next bytes of a JSON array (for [`RowFormat::JsonArray`]): the whole answer,
    /// in pieces of any size. Its rows are found by the decoding tasks.
    pub fn feed_array(&mut self, mut bytes: &[u8]) -> Result<(), DecodeError> {
        if !self.array.opened {
            let Some(start) = bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
            else {
                return Ok(());
            };
            if bytes[start] != b'[' {
                return Err(DecodeError::Shape("expected a JSON array".into()));
            }
            self.array.opened = true;
            bytes = &bytes[start + 1..];
        }
        if self.array.closed {
            if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
                return Err(DecodeError::Shape(
                    "text after the end of the JSON answer".into(),
                ));
            }
            return Ok(());
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// Takes a typed batch (for [`RowFormat::Typed`]).
    pub fn push_batch(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows() as u64;
        self.batch_rows += batch.num_rows();
        self.batch_bytes += batch.get_array_memory_size();
        self.batches.push(batch);
    }

    /// Rows taken and not yet handed to a task.
    fn taken_rows(&self) -> usize {
        self.ends.len() + self.batch_rows
    }

    /// Whether anything taken is not yet handed to a task.
    fn holds_rows(&self) -> bool {
        match self.format {
            RowFormat::JsonArray => !self.bytes.is_empty(),
            _ => self.taken_rows() > 0,
        }
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
        let ends = self.ends.capacity() * std::mem::size_of::<usize>();
        (text + ends + 2 * self.batch_bytes) as u64
    }

    fn start_chunk(&mut self, room: Reservation, cut: usize) {
        if matches!(self.format, RowFormat::JsonArray) {
            let rest = self.bytes.split_off(cut);
            let text = Arc::new(std::mem::replace(&mut self.bytes, rest));
            self.array.searched = 0;
            let lead = std::mem::replace(&mut self.array.lead, Lead::Comma);
            self.spawn_array_chunk(text, lead, room, false);
            return;
        }
        let first = self.rows - self.taken_rows() as u64;
        let bytes = std::mem::take(&mut self.bytes);
        let ends = std::mem::take(&mut self.ends);
        let batches = std::mem::take(&mut self.batches);
        (self.batch_rows, self.batch_bytes) = (0, 0);
        let dataset = self.dataset;
        let format = self.format.clone();
        let task = tokio::task::spawn_blocking(move || {
            let decode = move || -> Result<(RecordBatch, u64), DecodeError> {
                match format {
                    RowFormat::JsonArray => unreachable!("a JSON array's chunks are cut apart"),
                    RowFormat::Json => {
                        let mut decoder =
                            RowDecoder::starting_at(dataset, first).with_capacity(ends.len());
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
                        let mut decoder =
                            table::TableDecoder::starting_at(dataset, &headers, first)
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
                                DecodeError::Csv(reason) => DecodeError::Csv(format!(
                                    "row {}: {reason}",
                                    first + pushed + 1
                                )),
                                other => other,
                            })?;
                        let rounded = decoder.rounded();
                        Ok((decoder.finish().expect("a chunk has rows"), rounded))
                    }
                    RowFormat::Typed(table) => {
                        let (mut converted, mut rounded, mut row) = (Vec::new(), 0, first);
                        for batch in &batches {
                            let (batch, lost) = table.convert(batch, row)?;
                            row += batch.num_rows() as u64;
                            rounded += lost;
                            converted.push(batch);
                        }
                        let batch = match converted.len() {
                            1 => converted.pop().expect("one batch"),
                            _ => arrow::compute::concat_batches(&dataset.file_schema(), &converted)
                                .map_err(|e| DecodeError::Shape(e.to_string()))?,
                        };
                        Ok((batch, rounded))
                    }
                }
            };
            match decode() {
                Ok((batch, rounded)) => Decoded {
                    rows: batch.num_rows() as u64,
                    batch: Some(batch),
                    rounded,
                    end: ChunkEnd::Aligned,
                },
                Err(e) => Decoded {
                    batch: None,
                    rows: 0,
                    rounded: 0,
                    end: ChunkEnd::Failed(e),
                },
            }
        });
        self.decoding.push_back(InFlight {
            task,
            room,
            text: None,
        });
    }

    /// Starts decoding a chunk of a JSON array's text; `first` puts it before the chunks in
    /// flight (a chunk joined again after a wrong cut).
    fn spawn_array_chunk(
        &mut self,
        text: Arc<Vec<u8>>,
        lead: Lead,
        room: Reservation,
        first: bool,
    ) {
        let dataset = self.dataset;
        let rows_hint = text.len() / self.array.row_bytes.max(1) + 1;
        let chunk = text.clone();
        let task =
            tokio::task::spawn_blocking(move || decode_chunk(dataset, &chunk, lead, rows_hint));
        let chunk = InFlight {
            task,
            room,
            text: Some(text),
        };
        if first {
            self.decoding.push_front(chunk);
        } else {
            self.decoding.push_back(chunk);
        }
    }

    /// The next decoded batch in order, when one should be taken now: a full chunk starts
    /// decoding, and a batch is waited for once too many are in flight or the budget has no
    /// room for the next chunk. With `all`, every remaining row is decoded and returned, batch
    /// by batch, until `None`. `None` with [`starved`](Self::starved) means a chunk waits for
    /// room that only the caller can make.
    pub async fn next_batch(&mut self, all: bool) -> Option<Result<RecordBatch, DecodeError>> {
        if all && matches!(self.format, RowFormat::JsonArray) {
            self.array.ended = true;
        }
        loop {
            let full = self.taken_rows() >= self.chunk_rows
                || self.bytes.len() + self.batch_bytes >= self.chunk_bytes;
            if full || (all && self.holds_rows()) {
                match self.cut(all) {
                    Err(e) => return Some(Err(e)),
                    Ok(None) => {}
                    Ok(Some(cut)) => {
                        let room = self
                            .room
                            .take()
                            .or_else(|| self.memory.try_reserve(self.chunk_room()));
                        match room {
                            Some(room) => {
                                self.starved = false;
                                self.start_chunk(room, cut);
                            }
                            None if self.decoding.is_empty() => {
                                self.starved = true;
                                return None;
                            }
                            // The chunks in flight give their room back as they are taken.
                            None => match self.take_oldest().await {
                                Ok(Some(batch)) => return Some(Ok(batch)),
                                Ok(None) => continue,
                                Err(e) => return Some(Err(e)),
                            },
                        }
                    }
                }
            }
            if self.decoding.len() >= self.in_flight || (all && !self.decoding.is_empty()) {
                match self.take_oldest().await {
                    Ok(Some(batch)) => return Some(Ok(batch)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            if all && matches!(self.format, RowFormat::JsonArray) && !self.array.closed {
                return Some(Err(DecodeError::Shape(
                    "the answer ended before its JSON did (cut short?)".into(),
                )));
            }
            return None;
        }
    }

    /// Where the next chunk ends in the bytes taken: all of them, except in a JSON array,
    /// which is cut after its last row boundary in sight (None: none yet, wait for more).
    fn cut(&mut self, all: bool) -> Result<Option<usize>, DecodeError> {
        if !matches!(self.format, RowFormat::JsonArray) || all {
            return Ok(Some(self.bytes.len()));
        }
        match find_cut(&self.bytes, self.array.searched.min(self.bytes.len())) {
            Some(cut) => Ok(Some(cut)),
            None if self.bytes.len() > MAX_ROW_BYTES => Err(DecodeError::Shape(format!(
                "a row runs past {} MiB without ending",
                MAX_ROW_BYTES >> 20
            ))),
            None => {
                self.array.searched = self.bytes.len();
                Ok(None)
            }
        }
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

    /// The oldest chunk's batch (None when it had no rows). Of a JSON array, the chunk's end
    /// is checked here, in order: a wrong cut joins the cut row to the next chunk, and the
    /// array's end drops the chunks after it, which must be blanks.
    async fn take_oldest(&mut self) -> Result<Option<RecordBatch>, DecodeError> {
        let InFlight { task, room, text } =
            self.decoding.pop_front().expect("a chunk is in flight");
        let decoded = task.await.unwrap_or_else(|e| Decoded {
            batch: None,
            rows: 0,
            rounded: 0,
            end: ChunkEnd::Failed(DecodeError::Shape(format!("a decoding task failed: {e}"))),
        });
        drop(room);
        let Some(text) = text else {
            self.rounded += decoded.rounded;
            return match decoded.end {
                ChunkEnd::Failed(e) => Err(e),
                _ => Ok(decoded.batch),
            };
        };
        // Rows of a JSON array are numbered from the chunk's first: they count once taken.
        let before = self.rows;
        self.rows += decoded.rows;
        self.rounded += decoded.rounded;
        if decoded.rows > 0 {
            let used = match decoded.end {
                ChunkEnd::Cut(at) | ChunkEnd::ArrayEnd(at) => at,
                _ => text.len(),
            };
            self.array.row_bytes = (used / decoded.rows as usize).max(1);
        }
        match decoded.end {
            ChunkEnd::Aligned => {}
            ChunkEnd::Failed(e) => return Err(e.after(before)),
            ChunkEnd::ArrayEnd(at) => {
                self.array.closed = true;
                let later: Vec<_> = self.decoding.drain(..).filter_map(|c| c.text).collect();
                let mut after = text[at..]
                    .iter()
                    .chain(later.iter().flat_map(|t| t.iter()))
                    .chain(self.bytes.iter());
                if after.any(|b| !b.is_ascii_whitespace()) {
                    return Err(DecodeError::Shape(
                        "text after the end of the JSON answer".into(),
                    ));
                }
                self.bytes.clear();
            }
            ChunkEnd::Cut(at) => {
                let mut joined = text[at..].to_vec();
                match self.decoding.pop_front() {
                    Some(next) => {
                        joined.extend_from_slice(next.text.as_deref().expect("array chunks"));
                        self.spawn_array_chunk(Arc::new(joined), Lead::Row, next.room, true);
                    }
                    None if self.array.ended && self.bytes.is_empty() => {
                        return Err(DecodeError::Shape(
                            "the answer ended before its JSON did (cut short?)".into(),
                        ));
                    }
                    None => {
                        joined.extend_from_slice(&self.bytes);
                        self.bytes = joined;
                        self.array.lead = Lead::Row;
                        self.array.searched = 0;
                    }
                }
            }
        }
        Ok(decoded.batch)
    }
}
