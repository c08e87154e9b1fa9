//! Writing a partition's file apart from publishing it: a Parquet file (zstd, ~128k-row row
//! groups, statistics, costlake's version and the schema version in its metadata) streamed
//! through `object_store` under a staging name and made visible whole on `finish`, hashed as
//! it goes. Recording it in the manifest is `manifest`'s job. Every source writes decoded rows
//! through one loop, [`PartitionWriter::write_decoded`]. The open row group is held in
//! the run's [`MemoryBudget`]: when the budget has no room for it to grow, it is flushed early,
//! so row groups are smaller under memory pressure, never the process larger.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::compute::sum_checked;
use arrow::datatypes::Decimal128Type;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use chrono::Utc;
use futures::future::BoxFuture;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use sha2::{Digest, Sha256};

use super::encoder::ParallelEncoder;
use super::history::{self, Kept};
use super::{Lake, LakeError};
use crate::decode::{DecodeError, ParallelDecoder};
use crate::memory::{MemoryBudget, Reservation};
use crate::model::decimal::format_plain;
use crate::model::{Dataset, PartitionKey};
use crate::schema::{self, DECIMAL_SCALE};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

impl Lake {
    /// Starts writing a partition's file. Nothing is visible until [`PartitionWriter::finish`],
    /// and nothing is published until [`Lake::publish`].
    pub fn writer(&self, key: &PartitionKey) -> Result<PartitionWriter, LakeError> {
        let path = Path::from(key.file());
        let sink = HashingSink {
            inner: BufWriter::with_capacity(self.store.clone(), path.clone(), self.upload_part()),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let props = writer_properties(key.dataset);
        let schema = key.dataset.file_schema();
        let totals = key
            .dataset
            .total_columns()
            .into_iter()
            .map(|column| Total {
                column,
                index: schema
                    .index_of(column)
                    .expect("a total column is a file column"),
                sum: Some(0),
            })
            .collect();
        let writer =
            ParallelEncoder::try_new(sink, schema, props).map_err(|source| LakeError::Parquet {
                path: path.to_string(),
                source,
            })?;
        Ok(PartitionWriter {
            writer,
            key: key.clone(),
            store: self.store.clone(),
            path,
            rows: 0,
            totals,
            row_group: self.memory.none(),
            pinned: None,
        })
    }
}

impl Lake {
    /// The bytes a partition file's upload gathers before it sends them: each running unit
    /// holds that much outside the memory budget. A local file takes any size of part; S3
    /// takes no part under 5 MiB but the last (object_store's default is 10 MiB).
    fn upload_part(&self) -> usize {
        if self.local_root.is_some() {
            1 << 20
        } else {
            5 << 20
        }
    }
}

/// What every Parquet file costlake writes has: zstd, ~128k-row row groups, statistics (the
/// crate's default) and costlake's version as its writer.
pub fn parquet_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("costlake version {}", env!("CARGO_PKG_VERSION")))
}

/// A partition file's properties: [`parquet_properties`], and costlake's version, the schema
/// version and the dataset in the file metadata.
pub fn writer_properties(dataset: Dataset) -> WriterProperties {
    parquet_properties()
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                schema::META_WRITER_VERSION.to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            KeyValue::new(
                schema::META_SCHEMA_VERSION.to_string(),
                schema::SCHEMA_VERSION.to_string(),
            ),
            KeyValue::new(schema::META_DATASET.to_string(), dataset.name().to_string()),
        ]))
        .build()
}

/// Passes Parquet bytes to the store while hashing and counting them.
struct HashingSink {
    inner: BufWriter,
    hasher: Sha256,
    bytes: u64,
}

impl AsyncFileWriter for HashingSink {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, parquet::errors::Result<()>> {
        self.hasher.update(&bs);
        self.bytes += bs.len() as u64;
        Box::pin(async move {
            self.inner
                .put(bs)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn complete(&mut self) -> BoxFuture<'_, parquet::errors::Result<()>> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            self.inner
                .shutdown()
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }
}

/// A partition being written.
pub struct PartitionWriter {
    writer: ParallelEncoder<HashingSink>,
    key: PartitionKey,
    /// The lake's store, to keep the file this one replaces.
    store: Arc<dyn ObjectStore>,
    path: Path,
    rows: u64,
    totals: Vec<Total>,
    /// The open row group's share of the budget: its encoders' memory.
    row_group: Reservation,
    /// What the unit holds until the file is finished: see [`PartitionWriter::pin`].
    pinned: Option<Reservation>,
}

/// The running sum of one of the dataset's [`total_columns`](Dataset::total_columns): `None`
/// once it overflowed the decimal type (no partition of real bills comes near).
struct Total {
    column: &'static str,
    index: usize,
    sum: Option<i128>,
}

/// Why decoded rows could not be written.
#[derive(Debug)]
pub enum WriteError {
    Decode(DecodeError),
    Lake(LakeError),
}

/// A partition's file made visible, to be published with its provenance.
#[derive(Debug, Clone)]
pub struct Written {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    /// The exact sum of each of the dataset's total columns (`cost` → `1234.5`).
    pub totals: BTreeMap<String, String>,
    /// Where the file this one replaced is kept (see [`Lake::publish`]), if it was.
    pub kept: Option<Kept>,
}

impl PartitionWriter {
    /// Writes a batch into the open row group, flushing it first if the budget has no room
    /// for it to grow.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), LakeError> {
        self.rows += batch.num_rows() as u64;
        for total in &mut self.totals {
            let values = batch.column(total.index).as_primitive::<Decimal128Type>();
            total.sum = match (total.sum, sum_checked(values)) {
                (Some(sum), Ok(Some(more))) => sum.checked_add(more),
                (sum, Ok(None)) => sum,
                (_, Err(_)) | (None, _) => None,
            };
        }
        self.writer
            .write(batch)
            .await
            .map_err(|source| self.error(source))?;
        if !self.row_group.try_resize(self.writer.memory_size() as u64) {
            self.flush_row_group().await?;
        }
        Ok(())
    }

    /// Writes the batches `decoder` has ready, in order (with `all`, every row it has taken):
    /// the one loop between decoding and a partition file, for every source. When the budget
    /// has no room for the next chunk, the row group is flushed before the unit waits, so a
    /// waiting unit holds nothing of the budget (or, holding an answer whole, does not wait).
    pub async fn write_decoded(
        &mut self,
        decoder: &mut ParallelDecoder,
        all: bool,
    ) -> Result<(), WriteError> {
        loop {
            while let Some(batch) = decoder.next_batch(all).await {
                let batch = batch.map_err(WriteError::Decode)?;
                self.write(&batch).await.map_err(WriteError::Lake)?;
            }
            if !decoder.starved() {
                return Ok(());
            }
            self.flush_row_group().await.map_err(WriteError::Lake)?;
            if self.pins_memory() {
                decoder.go_on_without_room();
            } else {
                decoder.wait_for_room().await;
            }
        }
    }

    /// Ends the open row group now, giving its memory back to the budget.
    pub async fn flush_row_group(&mut self) -> Result<(), LakeError> {
        self.writer
            .flush()
            .await
            .map_err(|source| self.error(source))?;
        self.row_group.try_resize(self.writer.memory_size() as u64);
        Ok(())
    }

    /// Keeps `room` until the file is finished: an answer the unit holds whole while its rows
    /// are written. A unit holding such room never waits for more (it could be waiting for
    /// itself): it decodes one chunk at a time instead, over the budget by that chunk.
    pub fn pin(&mut self, room: Reservation) {
        self.pinned = Some(room);
    }

    /// Whether the unit holds room it cannot give back before the file is finished.
    pub fn pins_memory(&self) -> bool {
        self.pinned.as_ref().is_some_and(|r| r.bytes() > 0)
    }

    /// The budget the writer's row groups are held in, for the unit's other buffers.
    pub fn memory(&self) -> MemoryBudget {
        self.row_group.budget().clone()
    }

    fn error(&self, source: parquet::errors::ParquetError) -> LakeError {
        LakeError::Parquet {
            path: self.path.to_string(),
            source,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the last row group and the footer and makes the file visible in one step,
    /// replacing the partition's previous file: locally a rename, in object stores a single
    /// PUT or a completed multipart upload. A previous file of a period that has ended is
    /// first kept in the lake's history ([`history::kept_path`]); publishing decides whether
    /// it stays.
    pub async fn finish(self) -> Result<Written, LakeError> {
        let path = self.path.to_string();
        let now = Utc::now();
        let kept = if history::keeps(&self.key, now) {
            let to = history::kept_path(&self.key, now);
            match self.store.copy(&self.path, &to).await {
                Ok(()) => Some(Kept {
                    file: to.to_string(),
                    at: now,
                }),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => {
                    return Err(LakeError::Store {
                        location: path,
                        message: format!(
                            "cannot keep the file it replaces in the lake's history: {}",
                            super::redact(&e.to_string())
                        ),
                    });
                }
            }
        } else {
            None
        };
        let totals = self
            .totals
            .iter()
            .filter_map(|t| {
                Some((
                    t.column.to_string(),
                    format_plain(t.sum?, DECIMAL_SCALE as u32),
                ))
            })
            .collect();
        let mut writer = self.writer;
        writer.finish().await.map_err(|source| LakeError::Parquet {
            path: path.clone(),
            source,
        })?;
        let sink = writer.into_inner();
        Ok(Written {
            file: path,
            rows: self.rows,
            bytes: sink.bytes,
            sha256: format!("{:x}", sink.hasher.finalize()),
            totals,
            kept,
        })
    }

    /// Abandons the partition: nothing becomes visible and the previous file stays.
    pub async fn abort(self) {
        let mut sink = self.writer.into_inner();
        let _ = sink.inner.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::decode::RowFormat;
    use crate::model::PeriodId;

    /// Rows of a CSV cost export, decoded and written in a budget smaller than one chunk, with
    /// `pinned` bytes of it held by the unit for the whole file (as the price sheet's ZIP is).
    async fn write_in_tiny_budget(pinned: u64) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap(), true)
            .await
            .unwrap()
            .with_memory(MemoryBudget::new(64 << 10));
        let key = PartitionKey {
            dataset: Dataset::CostDetails,
            account: "100".into(),
            cost_type: None,
            period: Some(PeriodId(202401)),
        };
        let mut writer = lake.writer(&key).unwrap();
        if pinned > 0 {
            writer.pin(lake.memory().reserve(pinned).await);
        }
        let headers: Arc<[String]> = vec!["Cost".to_string(), "Date".to_string()].into();
        let mut decoder = ParallelDecoder::with_format(
            Dataset::CostDetails,
            RowFormat::Csv(headers),
            8192,
            writer.memory(),
        );
        for day in 0..20_000u32 {
            decoder.push_row(format!("{day}.25,01/{:02}/2024\n", day % 28 + 1).as_bytes());
            if day % 1000 == 999 {
                let written = writer.write_decoded(&mut decoder, false);
                let done = tokio::time::timeout(Duration::from_secs(60), written).await;
                assert!(
                    done.expect("the unit waits for room only it could give back")
                        .is_ok(),
                    "decoded and written"
                );
            }
        }
        let written = writer.write_decoded(&mut decoder, true);
        let done = tokio::time::timeout(Duration::from_secs(60), written).await;
        assert!(done.expect("the last chunks find room").is_ok());
        writer.finish().await.unwrap().rows
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_in_a_budget_smaller_than_a_chunk_writes_every_row() {
        assert_eq!(write_in_tiny_budget(0).await, 20_000);
        // Holding most of the budget whole, it cannot wait for room: it goes on, over the
        // budget by one chunk, instead of waiting for itself.
        assert_eq!(write_in_tiny_budget(60 << 10).await, 20_000);
    }
}
