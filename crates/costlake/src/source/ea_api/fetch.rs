//! Fetching one unit of the EA API into its partition file, in the three shapes the service
//! answers in: pages linked by `nextLink` (usage), one streamed array (price sheet,
//! marketplace), and one object or one-element array (balance summary). Rows are split from
//! the JSON as it arrives and decoded in parallel; memory holds a page (and the next, being
//! fetched), a few decoding chunks and a row group.

use bytes::Bytes;
use futures::StreamExt;
use reqwest::Url;

use super::super::{BATCH_ROWS, UnitContext, UnitError};
use crate::decode::{DecodeError, ParallelDecoder, RowFormat, RowScanner};
use crate::http::{Answer, Client, Failure, HttpError};
use crate::lake::{LakeError, PartitionWriter, WriteError, Written};
use crate::memory::Reservation;
use crate::model::PartitionKey;

/// What a unit asks for: a URL on the client's host, and the ETag the lake holds.
pub(super) struct Request<'a> {
    pub client: &'a Client,
    pub url: Url,
    pub etag: Option<&'a str>,
}

/// A written partition, its rounded-decimal count and the ETag it came with; `None` after a
/// 304.
type Got = Option<(Written, u64, Option<String>)>;

/// Rows decoded into a partition writer as they come: chunks of rows are decoded on the
/// blocking pool while the unit goes on reading, and written in order.
pub(in crate::source) struct Sink {
    pub(in crate::source) decoder: ParallelDecoder,
    pub(in crate::source) writer: PartitionWriter,
}

impl WriteError {
    /// The unit's error, a decode error naming where it happened.
    pub(in crate::source) fn at(self, key: &PartitionKey, page: Option<u32>) -> UnitError {
        match self {
            WriteError::Decode(e) => located(key, page, e),
            WriteError::Lake(e) => e.into(),
        }
    }
}

impl Sink {
    /// A sink for rows found by a [`RowScanner`].
    pub(in crate::source) fn new(ctx: &UnitContext<'_>) -> Result<Sink, LakeError> {
        Sink::with_format(ctx, RowFormat::Json)
    }

    /// A sink for one JSON array of rows, fed whole by [`Sink::feed_array`].
    fn for_array(ctx: &UnitContext<'_>) -> Result<Sink, LakeError> {
        Sink::with_format(ctx, RowFormat::JsonArray)
    }

    fn with_format(ctx: &UnitContext<'_>, format: RowFormat) -> Result<Sink, LakeError> {
        let writer = ctx.writer()?;
        Ok(Sink {
            decoder: ParallelDecoder::with_format(
                ctx.key.dataset,
                format,
                BATCH_ROWS,
                writer.memory(),
            ),
            writer,
        })
    }

    /// Writes the batches that are ready (with `all`, every row taken so far).
    pub(in crate::source) async fn flush(&mut self, all: bool) -> Result<(), WriteError> {
        self.writer.write_decoded(&mut self.decoder, all).await
    }

    /// Room in the budget for an answer of `bytes` held whole. With none now, the unit first
    /// writes what it has decoded and flushes its row group, so that it waits holding nothing.
    pub(in crate::source) async fn hold(&mut self, bytes: u64) -> Result<Reservation, WriteError> {
        let memory = self.writer.memory();
        if let Some(room) = memory.try_reserve(bytes) {
            return Ok(room);
        }
        self.flush(true).await?;
        self.writer
            .flush_row_group()
            .await
            .map_err(WriteError::Lake)?;
        Ok(memory.reserve(bytes).await)
    }

    /// Feeds JSON bytes through a scanner; the rows found are decoded as chunks fill.
    fn feed(&mut self, scanner: &mut RowScanner, bytes: &[u8]) -> Result<(), DecodeError> {
        self.decoder.feed(scanner, bytes)
    }

    /// Decodes what is left and makes the file visible.
    pub(in crate::source) async fn finish(
        mut self,
        key: &PartitionKey,
    ) -> Result<(Written, u64), UnitError> {
        if let Err(e) = self.flush(true).await {
            self.writer.abort().await;
            return Err(e.at(key, None));
        }
        let rounded = self.decoder.rounded();
        Ok((self.writer.finish().await?, rounded))
    }
}

/// Where a decode error happened, for the message.
fn located(key: &PartitionKey, page: Option<u32>, err: DecodeError) -> UnitError {
    match page {
        Some(n) => format!("{key}, page {n}: {err}").into(),
        None => format!("{key}: {err}").into(),
    }
}

/// The most pages one unit reads: a period of the largest enrollments is a few thousand pages;
/// a server that never stops linking is stopped here.
pub(super) const MAX_PAGES: u32 = 100_000;

/// The `nextLink`s of one paged answer, checked before one is followed: on the API host, not
/// back to a page already read (which would make the answer endless), at most [`MAX_PAGES`].
pub(in crate::source) struct NextLinks {
    visited: std::collections::HashSet<String>,
}

impl NextLinks {
    pub(in crate::source) fn new(first: &Url) -> NextLinks {
        NextLinks {
            visited: std::collections::HashSet::from([first.to_string()]),
        }
    }

    /// The URL of the page after page `page` (1-based), if it may be read.
    pub(in crate::source) fn follow(
        &mut self,
        client: &Client,
        link: &str,
        key: &PartitionKey,
        page: u32,
    ) -> Result<Url, UnitError> {
        let next = client.check_link(link)?;
        if !self.visited.insert(next.to_string()) {
            return Err(format!(
                "{key}, page {page}: the nextLink points back to a page already read ({}); the API is looping, so the period is left as it was",
                crate::http::redact_query(&next)
            )
            .into());
        }
        if page >= MAX_PAGES {
            return Err(format!(
                "{key}: more than {MAX_PAGES} pages; the API keeps linking, so the period is left as it was"
            )
            .into());
        }
        Ok(next)
    }
}

/// A page being fetched in the background, and the retries it took.
type PageFetch = tokio::task::JoinHandle<(Result<Answer<Bytes>, HttpError>, u32)>;

/// Usage details: `nextLink` page after page; each page read whole (with retries) and decoded
/// into the partition while the next is fetched, so memory holds two pages and a batch.
pub(super) async fn paged(ctx: &mut UnitContext<'_>, req: Request<'_>) -> Result<Got, UnitError> {
    let key = ctx.key;
    let mut sink = Sink::new(ctx)?;
    let mut url = req.url.clone();
    let mut page = 0u32;
    let mut first_etag = None;
    let mut json_bytes = 0u64;
    let mut not_modified = false;
    // Every page's URL: a nextLink back to one of them would make the period endless.
    let mut links = NextLinks::new(&req.url);
    // The next page is fetched while this one is decoded: its link is found by a quick scan
    // of the page before the rows are decoded.
    let mut prefetch: Option<PageFetch> = None;
    let result: Result<(), UnitError> = async {
        loop {
            page += 1;
            let fetched = match prefetch.take() {
                Some(task) => {
                    let (fetched, task_retries) = task
                        .await
                        .map_err(|e| format!("{key}: page fetch failed: {e}"))?;
                    ctx.retries += task_retries;
                    fetched?
                }
                None => {
                    let etag_sent = if page == 1 { req.etag } else { None };
                    req.client
                        .get_bytes(&url, etag_sent, &mut ctx.retries)
                        .await?
                }
            };
            let body = match fetched {
                Answer::NotModified => {
                    not_modified = true;
                    return Ok(());
                }
                Answer::Body { body, etag } => {
                    if page == 1 {
                        first_etag = etag;
                    }
                    body
                }
            };
            json_bytes += body.len() as u64;
            let page_room = sink
                .hold(body.len() as u64)
                .await
                .map_err(|e| e.at(key, Some(page)))?;
            let located_here = |e| located(key, Some(page), e);
            // An empty page with a nextLink does not end the period; only the link does.
            let next = match RowScanner::next_link_of(&body).map_err(located_here)? {
                Some(link) => {
                    let next_url = links.follow(req.client, &link, key, page)?;
                    let client = req.client.clone();
                    let task_url = next_url.clone();
                    prefetch = Some(tokio::spawn(async move {
                        let mut task_retries = 0;
                        let fetched = client.get_bytes(&task_url, None, &mut task_retries).await;
                        (fetched, task_retries)
                    }));
                    Some(next_url)
                }
                None => None,
            };
            let mut scanner = RowScanner::new();
            sink.feed(&mut scanner, &body).map_err(located_here)?;
            scanner.finish().map_err(located_here)?;
            scanner.check_page().map_err(located_here)?;
            // The page's rows are the decoder's now, and their chunks take their own room.
            drop((body, page_room));
            sink.flush(false).await.map_err(|e| e.at(key, Some(page)))?;
            ctx.progress(sink.decoder.rows(), json_bytes);
            match next {
                Some(next_url) => url = next_url,
                None => return Ok(()),
            }
        }
    }
    .await;
    if let Some(task) = prefetch {
        task.abort();
    }
    match result {
        Err(e) => {
            sink.writer.abort().await;
            Err(e)
        }
        Ok(()) if not_modified => {
            sink.writer.abort().await;
            Ok(None)
        }
        Ok(()) => {
            let (written, rounded) = sink.finish(key).await?;
            Ok(Some((written, rounded, first_etag)))
        }
    }
}

/// Price sheet and marketplace charges: one bare array, decoded as it streams in. If the
/// answer breaks off, the partition is dropped and the whole answer fetched again, under the
/// client's retry policy.
pub(super) async fn streamed(
    ctx: &mut UnitContext<'_>,
    req: Request<'_>,
) -> Result<Got, UnitError> {
    let key = ctx.key;
    let mut backoff = req.client.backoff(&req.url);
    loop {
        let (mut stream, etag) = match req
            .client
            .get_stream(&req.url, req.etag, &mut ctx.retries, &mut backoff)
            .await?
        {
            Answer::NotModified => return Ok(None),
            Answer::Body { body, etag } => (Box::pin(body), etag),
        };
        let mut sink = Sink::for_array(ctx)?;
        let mut json_bytes = 0u64;
        // `Err(Ok(_))` is final; `Err(Err(_))` is the answer breaking off, worth another try.
        let outcome: Result<(), Result<UnitError, String>> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    Err(format!(
                        "the answer broke off: {}",
                        crate::http::error_chain(&e)
                    ))
                })?;
                json_bytes += chunk.len() as u64;
                let limit = req.client.limits().max_stream_bytes;
                if json_bytes > limit {
                    return Err(Ok(req.client.too_large(&req.url, limit).into()));
                }
                sink.decoder
                    .feed_array(&chunk)
                    .map_err(|e| Ok(located(key, None, e)))?;
                sink.flush(false).await.map_err(|e| Ok(e.at(key, None)))?;
                ctx.progress(sink.decoder.rows(), json_bytes);
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                let (written, rounded) = sink.finish(key).await?;
                return Ok(Some((written, rounded, etag)));
            }
            Err(Ok(fatal)) => {
                sink.writer.abort().await;
                return Err(fatal);
            }
            Err(Err(broken)) => {
                sink.writer.abort().await;
                let failure = Failure::Retry {
                    reason: broken,
                    server_wait: None,
                };
                backoff.after(failure, &mut ctx.retries).await?;
            }
        }
    }
}

/// Balance summary: one object, or (v3) a one-element array.
pub(super) async fn single(ctx: &mut UnitContext<'_>, req: Request<'_>) -> Result<Got, UnitError> {
    let (body, etag) = match req
        .client
        .get_bytes(&req.url, req.etag, &mut ctx.retries)
        .await?
    {
        Answer::NotModified => return Ok(None),
        Answer::Body { body, etag } => (body, etag),
    };
    let (written, rounded) = write_rows(ctx, &body).await?;
    Ok(Some((written, rounded, etag)))
}

/// Writes a small answer (an object, or an array of objects) as the partition. The values go
/// straight from the JSON text to the decoder: never through a parsed tree, whose numbers
/// would be f64.
pub(in crate::source) async fn write_rows(
    ctx: &UnitContext<'_>,
    body: &[u8],
) -> Result<(Written, u64), UnitError> {
    let mut sink = Sink::new(ctx)?;
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
        .unwrap_or(0);
    let decoded = if body.get(start) == Some(&b'{') {
        sink.decoder.push_row(&body[start..]);
        Ok(())
    } else {
        let mut scanner = RowScanner::new();
        sink.feed(&mut scanner, body)
            .and_then(|_| scanner.finish())
            .and_then(|_| {
                if scanner.is_envelope() {
                    Err(DecodeError::Shape(
                        "expected an object or an array of objects".into(),
                    ))
                } else {
                    Ok(())
                }
            })
    };
    if let Err(e) = decoded {
        sink.writer.abort().await;
        return Err(located(ctx.key, None, e));
    }
    sink.finish(ctx.key).await
}
