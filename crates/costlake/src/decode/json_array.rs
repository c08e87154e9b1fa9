//! A JSON array of rows cut into chunks without being scanned: the reading thread cuts where
//! the bytes look like a boundary between rows (`}` `,` `{`), and the decoding task, which
//! parses every row anyway, finds where the rows really end. A cut can be wrong (the pattern
//! can sit inside a string or a nested array), but only a chunk whose start is known to be a
//! row's can say so: it parses from a true start, so it sees its last row run past the cut.
//! Chunks are taken in order and the next chunk's start is trusted only after the chunk before
//! it ended on a row's end; a wrong cut joins the cut row to the next chunk and decodes that
//! again. So each byte is scanned once when the cuts are right, and at most twice when one is
//! wrong.

use arrow::record_batch::RecordBatch;

use super::DecodeError;
use super::json::RowDecoder;
use crate::model::Dataset;

/// How the text of a chunk begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lead {
    /// Just after the array's `[`: a row, or the `]` of an empty array.
    First,
    /// At a cut: the `,` before a row.
    Comma,
    /// At a row's `{` (a row joined again after a wrong cut).
    Row,
}

/// Where a chunk's rows ended.
#[derive(Debug)]
pub(super) enum ChunkEnd {
    /// On a row's end: the next chunk starts where a row does.
    Aligned,
    /// At the array's `]`; the index just past it.
    ArrayEnd(usize),
    /// The row starting at this index runs past the chunk's end: it goes with what follows.
    Cut(usize),
    /// A row that cannot be read (its number counted from the chunk's first row).
    Failed(DecodeError),
}

/// A chunk decoded: its rows as a batch, how many, decimals rounded and how it ended.
#[derive(Debug)]
pub(super) struct Decoded {
    pub(super) batch: Option<RecordBatch>,
    pub(super) rows: u64,
    pub(super) rounded: u64,
    pub(super) end: ChunkEnd,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

fn skip_blanks(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).copied().is_some_and(is_blank) {
        at += 1;
    }
    at
}

/// Where to cut `bytes`: just past a `}` that blanks, a `,` and a `{` follow, the `{` searched
/// back from the end down to `from` (the bytes before it were searched already). None when
/// there is no such place.
pub(super) fn find_cut(bytes: &[u8], from: usize) -> Option<usize> {
    let mut end = bytes.len();
    while let Some(brace) = memchr::memrchr(b'{', &bytes[from..end]).map(|i| from + i) {
        let before = |mut i: usize| {
            while i > 0 && is_blank(bytes[i - 1]) {
                i -= 1;
            }
            i
        };
        let comma = before(brace);
        if comma > 0 && bytes[comma - 1] == b',' {
            let close = before(comma - 1);
            if close > 0 && bytes[close - 1] == b'}' {
                return Some(close);
            }
        }
        end = brace;
    }
    None
}

/// Whether the object starting `bytes` closes within them (strings and nesting followed, not
/// parsed): tells a row cut short from a row that is wrong.
fn object_closes(bytes: &[u8]) -> bool {
    let (mut depth, mut i) = (0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => loop {
                match memchr::memchr2(b'"', b'\\', &bytes[i + 1..]) {
                    None => return false,
                    Some(k) if bytes[i + 1 + k] == b'\\' => i += k + 2,
                    Some(k) => {
                        i += k + 1;
                        break;
                    }
                }
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Decodes the rows of one chunk of the array's text (about `rows_hint` of them), numbered
/// from 0 in errors.
pub(super) fn decode_chunk(
    dataset: Dataset,
    bytes: &[u8],
    lead: Lead,
    rows_hint: usize,
) -> Decoded {
    // Cuts follow a `}`, so a chunk of UTF-8 text is UTF-8 on its own; text past an invalid
    // byte is not read.
    let (text, valid) = match std::str::from_utf8(bytes) {
        Ok(text) => (text, true),
        Err(e) => (
            std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid prefix"),
            false,
        ),
    };
    let b = text.as_bytes();
    let mut decoder = RowDecoder::new(dataset).with_capacity(rows_hint);
    // A failed row may have filled some columns and not others: its chunk gives no batch.
    let done = |decoder: &mut RowDecoder, end: ChunkEnd| match end {
        ChunkEnd::Failed(_) => Decoded {
            batch: None,
            rows: 0,
            rounded: 0,
            end,
        },
        _ => Decoded {
            rows: decoder.buffered_rows() as u64,
            rounded: decoder.rounded,
            batch: decoder.finish(),
            end,
        },
    };
    let not_utf8 = |row| {
        ChunkEnd::Failed(DecodeError::Row {
            row,
            reason: "not UTF-8".into(),
        })
    };
    let found = |b: &[u8], at: usize| match b.get(at) {
        Some(&c) if c.is_ascii_graphic() => format!("`{}`", c as char),
        Some(&c) => format!("byte {c:#04x}"),
        None => "the end".into(),
    };
    let mut at = skip_blanks(b, 0);
    match lead {
        Lead::First if b.get(at) == Some(&b']') => {
            return done(&mut decoder, ChunkEnd::ArrayEnd(at + 1));
        }
        Lead::Comma if at == b.len() && valid => return done(&mut decoder, ChunkEnd::Aligned),
        Lead::Comma if b.get(at) == Some(&b',') => at = skip_blanks(b, at + 1),
        Lead::Comma if b.get(at) == Some(&b']') => {
            return done(&mut decoder, ChunkEnd::ArrayEnd(at + 1));
        }
        Lead::Comma => {
            let row = decoder.total_rows();
            let reason = format!("expected `,` or `]` after a row, found {}", found(b, at));
            return done(
                &mut decoder,
                ChunkEnd::Failed(DecodeError::Row { row, reason }),
            );
        }
        _ => {}
    }
    loop {
        // A row must start here.
        let row = decoder.total_rows();
        match b.get(at) {
            Some(b'{') => {}
            None if valid => return done(&mut decoder, ChunkEnd::Cut(at)),
            None => return done(&mut decoder, not_utf8(row)),
            Some(_) => {
                let end = ChunkEnd::Failed(DecodeError::Shape(format!(
                    "expected a row object in the array, found {}",
                    found(b, at)
                )));
                return done(&mut decoder, end);
            }
        }
        match decoder.push_object(&text[at..]) {
            Ok(len) => at += len,
            Err(DecodeError::Row { .. }) if !object_closes(&b[at..]) => {
                let end = if valid {
                    ChunkEnd::Cut(at)
                } else {
                    not_utf8(row)
                };
                return done(&mut decoder, end);
            }
            Err(e) => return done(&mut decoder, ChunkEnd::Failed(e)),
        }
        at = skip_blanks(b, at);
        match b.get(at) {
            None if valid => return done(&mut decoder, ChunkEnd::Aligned),
            None => return done(&mut decoder, not_utf8(row + 1)),
            Some(b',') => at = skip_blanks(b, at + 1),
            Some(b']') => return done(&mut decoder, ChunkEnd::ArrayEnd(at + 1)),
            Some(_) => {
                let reason = format!("expected `,` or `]` after a row, found {}", found(b, at));
                let end = ChunkEnd::Failed(DecodeError::Row {
                    row: row + 1,
                    reason,
                });
                return done(&mut decoder, end);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_after_a_closing_brace_before_a_comma_and_a_brace() {
        let text = br#"{"a":1}, {"b":"},{"} ,{"c":[{"d":1},{"e":2}]}"#;
        // Searched back from the end: inside a nested array, between rows, inside a string,
        // between rows.
        let mut cuts = Vec::new();
        let mut end = text.len();
        while let Some(cut) = find_cut(&text[..end], 0) {
            let next = text[cut..].iter().position(|&b| b == b'{').unwrap();
            cuts.push(String::from_utf8(text[cut - 1..cut + next + 1].to_vec()).unwrap());
            end = cut - 1;
        }
        assert_eq!(cuts, ["},{", "} ,{", "},{", "}, {"]);
        assert!(find_cut(b"{\"a\":1}", 0).is_none());
        // Only braces from `from` on are tried; what comes before them is looked at.
        assert_eq!(find_cut(b"} ,{", 3), Some(1));
        assert!(find_cut(b"} ,{", 4).is_none());
    }

    #[test]
    fn a_row_cut_short_is_told_from_a_wrong_row() {
        assert!(object_closes(br#"{"a":"}\"{"}"#));
        assert!(!object_closes(br#"{"a":"},{"#));
        assert!(!object_closes(br#"{"a":[{"b":1}"#));
        assert!(object_closes(br#"{"a":x}"#));
    }
}
