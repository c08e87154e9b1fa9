//! Parquet encoding over the cores: the columns of each batch are encoded by groups on the
//! blocking pool, one batch in flight while the caller decodes the next, and each finished row
//! group goes to the async sink. Encoding (dictionaries, statistics, zstd) is the costliest
//! step once the input is typed, and `AsyncArrowWriter` does it on the caller's thread, column
//! after column. This is `parquet`'s own low-level interface for that (`ArrowWriter` turned
//! into its `SerializedFileWriter` and row-group factory, as its `ArrowColumnWriter` example
//! does), so the file is the one `ArrowWriter` writes: same pages, statistics and metadata.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use tokio::task::JoinHandle;

/// Column writers encoded together by one task, each with its leaf's index in the schema.
type Group = Vec<(usize, ArrowColumnWriter)>;

/// A group's column chunks, closed, each with its leaf's index.
type Chunks = Vec<(usize, ArrowColumnChunk)>;

/// Writes a Parquet file into `sink`, encoding each batch's columns in parallel.
pub(super) struct ParallelEncoder<S> {
    file: SerializedFileWriter<Vec<u8>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers, by group; empty while a batch is encoded.
    groups: Vec<Group>,
    /// The batch being encoded: a task per group, which gives its writers back.
    encoding: Vec<JoinHandle<Result<Group>>>,
    /// Memory of the batch being encoded (its arrays are held until it is done).
    encoding_bytes: usize,
    /// Memory of the open row group's writers, as of the last batch encoded.
    writers_bytes: usize,
    rows_in_group: usize,
    max_rows: usize,
    sink: S,
}

impl<S: AsyncFileWriter> ParallelEncoder<S> {
    pub(super) fn try_new(sink: S, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX);
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))?;
        let (file, factory) = writer.into_serialized_writer()?;
        let mut encoder = ParallelEncoder {
            file,
            factory,
            schema,
            groups: Vec::new(),
            encoding: Vec::new(),
            encoding_bytes: 0,
            writers_bytes: 0,
            rows_in_group: 0,
            max_rows,
            sink,
        };
        encoder.groups = encoder.new_groups()?;
        Ok(encoder)
    }

    /// Column writers for the next row group, dealt round-robin into one group per core.
    fn new_groups(&self) -> Result<Vec<Group>> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let writers = self
            .factory
            .create_column_writers(self.file.flushed_row_groups().len())?;
        let mut groups: Vec<Group> = (0..cores.min(writers.len()).max(1))
            .map(|_| Vec::new())
            .collect();
        let count = groups.len();
        for (i, writer) in writers.into_iter().enumerate() {
            groups[i % count].push((i, writer));
        }
        Ok(groups)
    }

    /// Waits for the batch being encoded, taking its writers back.
    async fn settle(&mut self) -> Result<()> {
        for task in std::mem::take(&mut self.encoding) {
            let group = task
                .await
                .map_err(|e| ParquetError::General(format!("an encoding task failed: {e}")))??;
            self.groups.push(group);
        }
        if self.encoding_bytes > 0 {
            self.encoding_bytes = 0;
            self.writers_bytes = self
                .groups
                .iter()
                .flatten()
                .map(|(_, w)| w.memory_size())
                .sum();
        }
        Ok(())
    }

    /// Starts encoding a batch (after the one before it is done), ending row groups at the
    /// properties' row count.
    pub(super) async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut batch = batch.clone();
        loop {
            self.settle().await?;
            let room = self.max_rows - self.rows_in_group;
            if batch.num_rows() > room {
                let head = batch.slice(0, room);
                batch = batch.slice(room, batch.num_rows() - room);
                self.start(&head)?;
                self.flush().await?;
                continue;
            }
            return self.start(&batch);
        }
    }

    fn start(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut leaves: Vec<Option<ArrowLeafColumn>> = Vec::new();
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?.into_iter().map(Some));
        }
        self.rows_in_group += batch.num_rows();
        self.encoding_bytes = batch.get_array_memory_size();
        for mut group in std::mem::take(&mut self.groups) {
            let group_leaves: Vec<ArrowLeafColumn> = group
                .iter()
                .map(|(i, _)| leaves[*i].take().expect("one leaf per writer"))
                .collect();
            self.encoding.push(tokio::task::spawn_blocking(move || {
                for ((_, writer), leaf) in group.iter_mut().zip(&group_leaves) {
                    writer.write(leaf)?;
                }
                Ok(group)
            }));
        }
        Ok(())
    }

    /// Memory of the open row group: its writers' buffers and the batch being encoded.
    pub(super) fn memory_size(&self) -> usize {
        self.writers_bytes + self.encoding_bytes
    }

    /// Ends the open row group and sends it to the sink.
    pub(super) async fn flush(&mut self) -> Result<()> {
        self.settle().await?;
        if self.rows_in_group == 0 {
            return Ok(());
        }
        let closing: Vec<JoinHandle<Result<Chunks>>> = std::mem::take(&mut self.groups)
            .into_iter()
            .map(|group| {
                tokio::task::spawn_blocking(move || {
                    group
                        .into_iter()
                        .map(|(i, writer)| Ok((i, writer.close()?)))
                        .collect()
                })
            })
            .collect();
        let mut chunks = Vec::new();
        for task in closing {
            chunks.extend(
                task.await.map_err(|e| {
                    ParquetError::General(format!("an encoding task failed: {e}"))
                })??,
            );
        }
        chunks.sort_by_key(|(i, _)| *i);
        let mut row_group = self.file.next_row_group()?;
        for (_, chunk) in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.rows_in_group = 0;
        self.writers_bytes = 0;
        self.groups = self.new_groups()?;
        self.send().await
    }

    /// Sends what the file writer has written to the sink.
    async fn send(&mut self) -> Result<()> {
        self.file.flush()?;
        let bytes = std::mem::take(self.file.inner_mut());
        if bytes.is_empty() {
            return Ok(());
        }
        self.sink.write(Bytes::from(bytes)).await
    }

    /// Ends the last row group, writes the footer and completes the sink.
    pub(super) async fn finish(&mut self) -> Result<()> {
        self.flush().await?;
        self.file.finish()?;
        self.send().await?;
        self.sink.complete().await
    }

    /// The sink, for abandoning the file (a batch still being encoded is let finish and
    /// dropped).
    pub(super) fn into_inner(self) -> S {
        self.sink
    }
}
