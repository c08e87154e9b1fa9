//! Dates and instants as the services write them, read fast: ISO dates, `MM/dd/yyyy` (export
//! CSV), date-times with or without `Z`, offsets, seconds and fractions. The common shapes are
//! parsed by hand and the rest by chrono; a test holds the two to the same answers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Days from 0001-01-01 to 1970-01-01, for Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Microseconds since the epoch of an API date-time: RFC 3339 (`Z` or offset), or without an
/// offset (taken as UTC), with or without fractions; a bare date is midnight UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Some(micros) = fast_timestamp(t.as_bytes()) {
        return Ok(micros);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_micros());
    }
    // FOCUS 1.0 prints minutes without seconds (`2024-01-01T00:00Z`).
    let t = t.strip_suffix('Z').unwrap_or(t);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_micros());
        }
    }
    parse_naive_date(t)
        .map(|d| {
            d.and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp_micros()
        })
        .ok_or_else(|| "expected a date-time such as 2024-05-01T00:00:00Z".into())
}

/// An instant as [`parse_timestamp`] reads it, or `None` when it is not one.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    parse_timestamp(text)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
}

/// Days since the epoch of an API date (a date-time's UTC date).
pub fn parse_date(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if let Some(micros) = fast_timestamp(t.as_bytes()) {
        return Ok(micros.div_euclid(86_400_000_000) as i32);
    }
    let date = match parse_naive_date(t) {
        Some(d) => d,
        None => {
            let micros =
                parse_timestamp(t).map_err(|_| "expected a date such as 2024-05-01".to_string())?;
            DateTime::from_timestamp_micros(micros)
                .ok_or("date out of range")?
                .date_naive()
        }
    };
    Ok(days_since_epoch(date))
}

pub fn days_since_epoch(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// `yyyy-MM-dd`, without chrono's format machinery (the common case, and a hot one).
pub(super) fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

/// `MM/dd/yyyy`, as EA cost exports print dates, without chrono's format machinery.
pub(super) fn fast_us_date(b: &[u8]) -> Option<NaiveDate> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[2] != b'/' || b[5] != b'/' {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(6..10)? as i32, digits(0..2)?, digits(3..5)?)
}

/// `yyyy-MM-ddTHH:mm:ss` with an optional `Z` (the API's usual forms), as microseconds since
/// the epoch; anything else goes the general way.
pub(super) fn fast_timestamp(b: &[u8]) -> Option<i64> {
    let date = fast_date(b)?;
    let (h, m, sec, tail) = match &b[10..] {
        [] => (0, 0, 0, &[][..]),
        [b'T' | b' ', h1, h2, b':', m1, m2, b':', s1, s2, tail @ ..] => {
            let two = |a: u8, b: u8| -> Option<u32> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
            };
            (two(*h1, *h2)?, two(*m1, *m2)?, two(*s1, *s2)?, tail)
        }
        _ => return None,
    };
    // What may follow the seconds: nothing, `Z`, or a fraction of up to 7 digits, then `Z`.
    let (fraction, zone) = match tail {
        [b'.', rest @ ..] => {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            (&rest[..digits], &rest[digits..])
        }
        other => (&[][..], other),
    };
    if !(zone.is_empty() || zone == b"Z") || fraction.len() > 7 {
        return None;
    }
    let micros = fraction
        .iter()
        .chain(std::iter::repeat(&b'0'))
        .take(6)
        .fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'));
    Some(date.and_hms_opt(h, m, sec)?.and_utc().timestamp_micros() + micros)
}

fn parse_naive_date(t: &str) -> Option<NaiveDate> {
    if t.len() == 10
        && let Some(d) = fast_date(t.as_bytes()).or_else(|| fast_us_date(t.as_bytes()))
    {
        return Some(d);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(t, "%m/%d/%Y").ok())
}
