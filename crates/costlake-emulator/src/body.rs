//! Answer bodies produced in chunks of rows as the client reads, so memory stays flat however
//! many rows a period has; gzip when asked; a connection dropped halfway when faulted.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use costlake::schema::ApiVersion;
use futures::StreamExt;

use crate::Shared;
use crate::generator::Period;
use crate::paging::runs;
use crate::render;
use crate::routes::Rows;

/// Appends row `i` of an answer to the buffer.
type RenderRow = Box<dyn FnMut(u64, &mut String) + Send>;

/// A response body produced in chunks of rows as the client reads, so memory stays flat
/// however many rows a period has.
pub(crate) struct Chunks {
    prefix: String,
    suffix: String,
    count: u64,
    next: u64,
    render: RenderRow,
}

const CHUNK_BYTES: usize = 64 * 1024;

impl Chunks {
    fn array(count: u64, render: RenderRow) -> Chunks {
        Chunks {
            prefix: "[".into(),
            suffix: "]".into(),
            count,
            next: 0,
            render,
        }
    }

    pub(crate) fn billing_periods(shared: Arc<Shared>) -> Chunks {
        let n = shared.enrollment.periods.len() as u64;
        Chunks::array(
            n,
            Box::new(move |i, out| {
                let e = &shared.enrollment;
                // Newest first, as the service lists them.
                render::billing_period(out, e, &e.periods[(n - 1 - i) as usize]);
            }),
        )
    }

    pub(crate) fn balance_summary(
        shared: Arc<Shared>,
        version: ApiVersion,
        period: usize,
    ) -> Chunks {
        let mut out = String::new();
        let e = &shared.enrollment;
        let p = &e.periods[period];
        render::balance_summary(&mut out, version, e, p, &e.balance(p));
        // v3 answers a one-element array, v2 (and v1) an object.
        if version == ApiVersion::V3 {
            out.insert(0, '[');
            out.push(']');
        }
        Chunks {
            prefix: out,
            suffix: String::new(),
            count: 0,
            next: 0,
            render: Box::new(|_, _| {}),
        }
    }

    pub(crate) fn price_sheet(shared: Arc<Shared>, version: ApiVersion, period: usize) -> Chunks {
        let meters: Vec<usize> = shared
            .enrollment
            .price_sheet_meters()
            .map(|m| m.index)
            .collect();
        Chunks::array(
            meters.len() as u64,
            Box::new(move |i, out| {
                let e = &shared.enrollment;
                render::price_sheet(
                    out,
                    version,
                    e,
                    &e.periods[period],
                    &e.meters[meters[i as usize]],
                );
            }),
        )
    }

    pub(crate) fn marketplace(shared: Arc<Shared>, version: ApiVersion, scope: Rows) -> Chunks {
        let e = &shared.enrollment;
        let runs = runs(e, scope, |p| e.marketplace_rows(p));
        let total = runs.iter().map(|r| r.2 - r.1).sum();
        Chunks::array(
            total,
            Box::new(move |mut i, out| {
                let e = &shared.enrollment;
                for &(p, start, end) in &runs {
                    if i < end - start {
                        let period = &e.periods[p];
                        render::marketplace(
                            out,
                            version,
                            period,
                            &e.marketplace_row(period, start + i),
                        );
                        return;
                    }
                    i -= end - start;
                }
            }),
        )
    }

    pub(crate) fn usage(
        shared: Arc<Shared>,
        version: ApiVersion,
        runs: Vec<(usize, u64, u64)>,
        id: String,
        next: Option<String>,
    ) -> Chunks {
        let total = runs.iter().map(|r| r.2 - r.1).sum();
        let mut prefix = String::from("{\"id\":");
        render::push_json_string(&mut prefix, &id);
        prefix.push_str(",\"data\":[");
        let mut suffix = String::from("],\"nextLink\":");
        match &next {
            Some(link) => render::push_json_string(&mut suffix, link),
            None => suffix.push_str("null"),
        }
        suffix.push('}');
        Chunks {
            prefix,
            suffix,
            count: total,
            next: 0,
            render: Box::new(move |mut i, out| {
                let e = &shared.enrollment;
                for &(p, start, end) in &runs {
                    if i < end - start {
                        let period: &Period = &e.periods[p];
                        render::usage(out, version, &e.usage_row(period, start + i));
                        return;
                    }
                    i -= end - start;
                }
            }),
        }
    }
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.next > self.count {
            return None;
        }
        let mut out = std::mem::take(&mut self.prefix);
        while self.next < self.count && out.len() < CHUNK_BYTES {
            if self.next > 0 {
                out.push(',');
            }
            (self.render)(self.next, &mut out);
            self.next += 1;
        }
        if self.next == self.count {
            out.push_str(&self.suffix);
            self.next += 1;
        }
        Some(Bytes::from(out))
    }
}

/// Turns chunks into the HTTP answer: gzip when asked, an ETag, and for the drop fault a body
/// that breaks off halfway.
pub(crate) fn respond(
    chunks: Chunks,
    etag: String,
    headers: &HeaderMap,
    drop_midway: bool,
) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|enc| enc.trim().starts_with("gzip")));
    let stream = futures::stream::iter(chunks).map(Ok::<Bytes, io::Error>);
    let stream: futures::stream::BoxStream<'static, Result<Bytes, io::Error>> = if drop_midway {
        // Send half of the first chunk, then fail the body: the connection drops mid-JSON.
        Box::pin(
            stream
                .take(1)
                .map(|chunk| chunk.map(|c| c.slice(..c.len() / 2)))
                .chain(futures::stream::once(async {
                    // Let the headers and the first bytes go out before the connection drops.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "fault: connection dropped",
                    ))
                })),
        )
    } else {
        Box::pin(stream)
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::ETAG, etag);
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        Body::from_stream(gzip_stream(stream))
    } else {
        Body::from_stream(stream)
    };
    builder.body(body).expect("valid response")
}

fn gzip_stream(
    inner: futures::stream::BoxStream<'static, Result<Bytes, io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let encoder = Some(GzEncoder::new(Vec::new(), Compression::fast()));
    futures::stream::unfold((inner, encoder), |(mut inner, mut encoder)| async move {
        let enc = encoder.as_mut()?;
        match inner.next().await {
            Some(Ok(chunk)) => {
                let res = enc.write_all(&chunk).and_then(|_| enc.flush());
                let out = std::mem::take(enc.get_mut());
                Some((res.map(|_| Bytes::from(out)), (inner, encoder)))
            }
            Some(Err(err)) => Some((Err(err), (inner, None))),
            None => {
                let out = encoder.take()?.finish();
                Some((out.map(Bytes::from), (inner, None)))
            }
        }
    })
}
