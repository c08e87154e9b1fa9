//! Usage pages: rows cut at the cursor a `skiptoken` names, in an envelope with the
//! `nextLink` to the rest; an empty page now and then, as the real service was seen to send.
//! Tokens carry a check, so a tampered one is refused.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use costlake::schema::ApiVersion;

use crate::Shared;
use crate::body::Chunks;
use crate::generator::{self, Enrollment, Period, hash};
use crate::routes::{Reject, Rows, reject, req_host};

/// A usage page: the rows at the cursor, an envelope, and the `nextLink` to the rest.
pub(crate) fn usage_page(
    shared: &Arc<Shared>,
    req: &Parts,
    headers: &HeaderMap,
    version: ApiVersion,
    scope: Rows,
    token: Option<&str>,
) -> Result<Chunks, Reject> {
    let e = &shared.enrollment;
    let segments = runs(e, scope, |p| e.usage_rows(p));
    let (mut seg, mut offset, empty_served) = match token {
        None => (0usize, 0u64, false),
        Some(t) => decode_token(shared.config.seed, t)
            .filter(|(s, o, _)| {
                *s < segments.len().max(1) && segments.get(*s).is_none_or(|g| *o <= g.2 - g.1)
            })
            .ok_or_else(|| reject(StatusCode::BAD_REQUEST, "Invalid skiptoken."))?,
    };
    let page_size = shared.config.page_size.max(1) as u64;
    let page_number = segments[..seg.min(segments.len())]
        .iter()
        .map(|g| g.2 - g.1)
        .sum::<u64>()
        .saturating_add(offset)
        / page_size;
    let every = shared.config.empty_page_every as u64;
    let serve_empty =
        every > 0 && page_number % every == every - 1 && !empty_served && seg < segments.len();
    let mut rows: Vec<(usize, u64, u64)> = Vec::new(); // (period, start, end) runs of this page
    let mut left = if serve_empty { 0 } else { page_size };
    while left > 0 && seg < segments.len() {
        let (period, start, end) = segments[seg];
        let from = start + offset;
        let take = left.min(end - from);
        if take > 0 {
            rows.push((period, from, from + take));
        }
        left -= take;
        offset += take;
        if start + offset >= end {
            seg += 1;
            offset = 0;
        }
    }
    let next = if seg < segments.len() || serve_empty {
        let base = shared
            .config
            .next_link_base
            .clone()
            .unwrap_or_else(|| format!("http://{}", req_host(headers)));
        let mut link = format!("{base}{}?", req.uri.path());
        if let Rows::Range(a, b) = scope {
            link.push_str(&format!("startTime={a}&endTime={b}&"));
        }
        link.push_str("skiptoken=");
        link.push_str(&encode_token(shared.config.seed, seg, offset, serve_empty));
        Some(link)
    } else {
        None
    };
    let id = format!(
        "{:016x}",
        hash(&[shared.config.seed, 0x1D, page_number, seg as u64, offset])
    );
    Ok(Chunks::usage(shared.clone(), version, rows, id, next))
}

/// The runs of rows a scope covers, for a dataset with `rows(period)` rows per period spread
/// evenly over its days: (period index, first row, end row), in date order.
pub(crate) fn runs(
    e: &Enrollment,
    scope: Rows,
    rows: impl Fn(&Period) -> u64,
) -> Vec<(usize, u64, u64)> {
    match scope {
        Rows::Period(i) => vec![(i, 0, rows(&e.periods[i]))],
        Rows::Range(a, b) => e
            .periods
            .iter()
            .filter_map(|p| {
                let (first, last) = (
                    p.id.first_day(),
                    p.id.first_day() + chrono::Duration::days(p.days_with_data as i64 - 1),
                );
                let (from, to) = (a.max(first), b.min(last));
                if from > to {
                    return None;
                }
                let n = rows(p);
                let start =
                    generator::first_of_day(n, p.days_with_data, (from - first).num_days() as u32);
                let end = generator::first_of_day(
                    n,
                    p.days_with_data,
                    (to - first).num_days() as u32 + 1,
                );
                (end > start).then_some((p.index, start, end))
            })
            .collect(),
    }
}

fn token_check(seed: u64, seg: usize, offset: u64, empty: bool) -> u32 {
    hash(&[seed, 0x70, seg as u64, offset, empty as u64]) as u32
}

/// An opaque-looking page token: segment, offset, whether the empty page was served, and a
/// check so that a tampered token is refused.
fn encode_token(seed: u64, seg: usize, offset: u64, empty: bool) -> String {
    format!(
        "{seg:x}-{offset:x}-{}-{:08x}",
        empty as u8,
        token_check(seed, seg, offset, empty)
    )
}

fn decode_token(seed: u64, token: &str) -> Option<(usize, u64, bool)> {
    let mut parts = token.split('-');
    let seg = usize::from_str_radix(parts.next()?, 16).ok()?;
    let offset = u64::from_str_radix(parts.next()?, 16).ok()?;
    let empty = match parts.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let check = u32::from_str_radix(parts.next()?, 16).ok()?;
    if parts.next().is_some() || check != token_check(seed, seg, offset, empty) {
        return None;
    }
    // A token that served the empty page continues at the same position with data.
    Some((seg, offset, empty))
}
