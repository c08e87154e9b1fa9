//! Parquet export parts, read in ranges from the store with the part's own schema and converted
//! a column at a time (`decode::TypedTable`): through the one header table, and to the same
//! values as the CSV of the same export.
//!
//! The reader of ranges is ours, as `parquet` asks: it deprecated its `ParquetObjectReader`
//! in 59.2 in favour of implementing `AsyncFileReader` over `object_store` directly
//! (apache/arrow-rs#10308); this follows its `examples/object_store.rs`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryFutureExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::super::BATCH_ROWS;
use super::{ExportError, Part, header_problem};
use crate::decode::{ParallelDecoder, RowFormat, TypedTable};
use crate::lake::{PartitionWriter, redact};

/// Bytes read from a part's end at first: the footer of an export part fits.
const FOOTER_HINT: usize = 64 * 1024;

/// Streams one Parquet part into the writer; returns its data rows and how many decimals were
/// rounded.
pub(super) async fn read(
    part: &Part<'_>,
    writer: &mut PartitionWriter,
) -> Result<(u64, u64), ExportError> {
    let err = |e: &dyn std::fmt::Display| part.error(redact(&e.to_string()));
    let reader = PartReader {
        store: part.tree.store.clone(),
        path: part.path.clone(),
        size: part.tree.objects[part.path],
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| err(&e))?
        .with_batch_size(BATCH_ROWS);
    let headers: Vec<&str> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    if let Some(message) = header_problem(part.dataset, &headers) {
        return Err(part.error(message));
    }
    let table = TypedTable::new(part.dataset, builder.schema());
    let mut decoder = ParallelDecoder::with_format(
        part.dataset,
        RowFormat::Typed(Arc::new(table)),
        BATCH_ROWS,
        writer.memory(),
    );
    let mut stream = builder.build().map_err(|e| err(&e))?;
    loop {
        let batch = stream.next().await.transpose().map_err(|e| err(&e))?;
        let last = batch.is_none();
        if let Some(batch) = batch {
            decoder.push_batch(batch);
        }
        writer
            .write_decoded(&mut decoder, last)
            .await
            .map_err(|e| part.write_error(e))?;
        if last {
            break;
        }
    }
    Ok((decoder.rows(), decoder.rounded()))
}

/// A part read in ranges from the tree's store; its size is known from the listing, so the
/// footer is read with one request.
struct PartReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn parquet_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for PartReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.store
            .get_range(&self.path, range)
            .map_err(parquet_error)
            .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(parquet_error)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .with_prefetch_hint(Some(FOOTER_HINT))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
