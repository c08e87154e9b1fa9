//! Rows of the API's JSON into Arrow batches: each row's members read in one pass by a
//! hand-written reader, matched to fields by every spelling the API versions use, and each
//! value read exactly and leniently (numbers or strings for ids, `"False"` or `false`, dates
//! with or without `Z`). The reader is ours because reading members is most of decoding and
//! serde_json's `RawValue` reads each string twice (`benches/decode.rs` and
//! `benches/RESULTS.md` measure it); a test holds it to what serde_json reads.

use std::collections::HashMap;

use arrow::record_batch::RecordBatch;

use super::DecodeError;
use super::columns::{Columns, Scalar, append};
use crate::model::Dataset;
use crate::schema::Field;

/// Decodes rows of one dataset into Arrow batches.
pub struct RowDecoder {
    fields: &'static [Field],
    columns: Columns,
    /// API name (every version's spelling and alias) → field index.
    by_name: HashMap<&'static str, usize>,
    /// The key and field index at each position of the previous row: rows repeat their key
    /// order, so most keys are found by one comparison instead of a hash.
    last_keys: Vec<(Box<str>, usize)>,
    /// Scratch: which fields the current row set.
    seen: Vec<bool>,
    /// Rows decoded over the decoder's life, for error messages.
    row_number: u64,
    /// Decimals that had non-zero digits beyond the lake's scale.
    pub(super) rounded: u64,
}

impl RowDecoder {
    pub fn new(dataset: Dataset) -> RowDecoder {
        let fields = dataset.fields();
        let mut by_name = HashMap::new();
        for (i, field) in fields.iter().enumerate() {
            if field.derived_from.is_some() {
                continue;
            }
            by_name.insert(field.api, i);
            for alias in field.aliases {
                by_name.insert(alias, i);
            }
        }
        RowDecoder {
            fields,
            columns: Columns::new(dataset, 0),
            by_name,
            last_keys: Vec::new(),
            seen: vec![false; fields.len()],
            row_number: 0,
            rounded: 0,
        }
    }

    pub fn dataset(&self) -> Dataset {
        self.columns.dataset
    }

    /// A decoder whose first row is row `first` of the answer, for the row numbers in errors.
    pub fn starting_at(dataset: Dataset, first: u64) -> RowDecoder {
        RowDecoder {
            row_number: first,
            ..RowDecoder::new(dataset)
        }
    }

    /// The decoder with room for `rows` rows before its builders grow.
    pub fn with_capacity(mut self, rows: usize) -> RowDecoder {
        self.columns = Columns::new(self.columns.dataset, rows);
        self
    }

    /// Rows decoded and not yet taken by [`RowDecoder::finish`].
    pub fn buffered_rows(&self) -> usize {
        self.columns.rows
    }

    /// Rows decoded since the decoder was made.
    pub fn total_rows(&self) -> u64 {
        self.row_number
    }

    /// Decodes one row from its JSON object text.
    pub fn push_row(&mut self, json: &[u8]) -> Result<(), DecodeError> {
        let row = self.row_number;
        let pairs = parse_object(json).map_err(|reason| DecodeError::Row { row, reason })?;
        self.push_members(&pairs)
    }

    /// Decodes the row whose object starts `text` (more may follow it); returns the index
    /// just past the object.
    pub(super) fn push_object(&mut self, text: &str) -> Result<usize, DecodeError> {
        let row = self.row_number;
        let (pairs, end) =
            parse_object_prefix(text).map_err(|reason| DecodeError::Row { row, reason })?;
        self.push_members(&pairs)?;
        Ok(end)
    }

    fn push_members(&mut self, pairs: &[Member<'_>]) -> Result<(), DecodeError> {
        let row = self.row_number;
        self.seen.iter_mut().for_each(|s| *s = false);
        // Where in the row the text the derived column reads (the tags) is.
        let mut derived_source = None;
        for (position, (name, raw, value)) in pairs.iter().enumerate() {
            let name: &str = name;
            let index = match self.last_keys.get(position) {
                Some((key, i)) if **key == *name => *i,
                _ => {
                    let found = match self.by_name.get(name) {
                        Some(&i) => i,
                        // Unknown fields are ignored: the service added fields over the years.
                        None => match self
                            .by_name
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        {
                            Some((_, &i)) => i,
                            None => usize::MAX,
                        },
                    };
                    let entry = (Box::from(name), found);
                    match self.last_keys.get_mut(position) {
                        Some(slot) => *slot = entry,
                        None => self.last_keys.push(entry),
                    }
                    found
                }
            };
            if index == usize::MAX {
                continue;
            }
            if self.seen[index] {
                continue; // the first spelling wins when a row carries two
            }
            let field = &self.fields[index];
            if self.columns.feeds_derived(index) {
                derived_source = Some(position);
            }
            let appended = append(
                &mut self.columns.builders[index],
                field.kind,
                value,
                &mut self.rounded,
            )
            .map_err(|reason| DecodeError::Value {
                row,
                field: field.api.to_string(),
                value: raw.chars().take(80).collect(),
                reason,
            })?;
            if !appended && !field.nullable {
                return Err(DecodeError::Missing {
                    row,
                    field: field.api.to_string(),
                });
            }
            self.seen[index] = true;
        }
        if !self.seen.iter().any(|&s| s) {
            // An `{"error": …}` object where a row should be: nothing of it is a row.
            let keys: Vec<&str> = pairs.iter().map(|(k, _, _)| k.as_ref()).take(8).collect();
            return Err(DecodeError::Foreign {
                row,
                dataset: self.dataset().name(),
                members: keys.join(", "),
            });
        }
        for i in 0..self.fields.len() {
            if self.seen[i] || self.fields[i].derived_from.is_some() {
                continue;
            }
            if !self.fields[i].nullable {
                return Err(DecodeError::Missing {
                    row,
                    field: self.fields[i].api.to_string(),
                });
            }
            self.columns.builders[i].append_null();
        }
        let tags = derived_source.and_then(|p| match &pairs[p].2 {
            Scalar::Str(s) => Some(s.as_ref()),
            _ => None,
        });
        self.columns.end_row(tags);
        self.row_number += 1;
        Ok(())
    }

    /// Takes the decoded rows as a batch (None when there are none).
    pub fn finish(&mut self) -> Option<RecordBatch> {
        self.columns.finish()
    }
}

/// The members of a JSON object (a row, or its tags), in order: each key, the value's JSON
/// text (for error messages) and the value, in one pass over the text.
pub(super) fn parse_object(json: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let text = std::str::from_utf8(json).map_err(|e| format!("not UTF-8: {e}"))?;
    let (members, end) = parse_object_prefix(text)?;
    let mut r = JsonReader { text, pos: end };
    r.skip_space();
    if r.pos != text.len() {
        return Err(r.expected("the end of the row"));
    }
    Ok(members)
}

/// The members of the JSON object at the start of `text` (after blanks), and the index just
/// past its closing brace.
pub(super) fn parse_object_prefix(text: &str) -> Result<(Vec<Member<'_>>, usize), String> {
    let mut r = JsonReader { text, pos: 0 };
    r.skip_space();
    r.expect(b'{', "`{`")?;
    let mut members = Vec::with_capacity(64);
    r.skip_space();
    if r.peek() == Some(b'}') {
        r.pos += 1;
    } else {
        loop {
            r.skip_space();
            if r.peek() != Some(b'"') {
                return Err(r.expected("a member name in quotes"));
            }
            let key = r.string()?;
            r.skip_space();
            r.expect(b':', "`:`")?;
            r.skip_space();
            let start = r.pos;
            let value = r.value()?;
            members.push((key, &text[start..r.pos], value));
            r.skip_space();
            match r.peek() {
                Some(b',') => r.pos += 1,
                Some(b'}') => {
                    r.pos += 1;
                    break;
                }
                _ => return Err(r.expected("`,` or `}`")),
            }
        }
    }
    Ok((members, r.pos))
}

/// The text of a JSON string between its quotes, its escapes replaced.
fn unescape(inner: &str) -> Result<String, String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let escape = rest.as_bytes().get(i + 1).copied();
        rest = rest.get(i + 2..).unwrap_or("");
        out.push(match escape {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = |text: &str| -> Option<u32> {
                    let hex = text.get(..4)?;
                    hex.bytes()
                        .all(|b| b.is_ascii_hexdigit())
                        .then(|| u32::from_str_radix(hex, 16).ok())?
                };
                let first = unit(rest).ok_or("\\u needs four hex digits")?;
                rest = &rest[4..];
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A surrogate pair: the second half follows as another \u escape.
                    let second = rest
                        .strip_prefix("\\u")
                        .and_then(unit)
                        .filter(|s| (0xDC00..0xE000).contains(s))
                        .ok_or("a lone surrogate in a \\u escape")?;
                    rest = &rest[6..];
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                char::from_u32(code).ok_or("a lone surrogate in a \\u escape")?
            }
            _ => return Err("an invalid escape".into()),
        });
    }
    out.push_str(rest);
    Ok(out)
}

/// A member of a row: its name, its value's JSON text, and the value.
type Member<'a> = (std::borrow::Cow<'a, str>, &'a str, Scalar<'a>);

/// A cursor over one row's JSON text.
struct JsonReader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> JsonReader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expected(&self, what: &str) -> String {
        format!("expected {what} at byte {}", self.pos + 1)
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
        if self.peek() != Some(byte) {
            return Err(self.expected(what));
        }
        self.pos += 1;
        Ok(())
    }

    /// Moves past the string whose opening quote is at the cursor; whether it has escapes.
    fn skip_string(&mut self) -> Result<bool, String> {
        let bytes = self.text.as_bytes();
        let (start, mut at, mut escaped) = (self.pos, self.pos + 1, false);
        loop {
            match bytes
                .get(at..)
                .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
            {
                Some(i) if bytes[at + i] == b'"' => {
                    self.pos = at + i + 1;
                    return Ok(escaped);
                }
                Some(i) => {
                    escaped = true;
                    at += i + 2;
                }
                None => {
                    self.pos = start;
                    return Err(self.expected("a string that ends"));
                }
            }
        }
    }

    /// The string at the cursor, unescaped (borrowed when it has no escapes).
    fn string(&mut self) -> Result<std::borrow::Cow<'a, str>, String> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        let quoted = &self.text[start..self.pos];
        if escaped {
            unescape(&quoted[1..quoted.len() - 1])
                .map(std::borrow::Cow::Owned)
                .map_err(|e| format!("string at byte {}: {e}", start + 1))
        } else {
            Ok(std::borrow::Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }

    fn value(&mut self) -> Result<Scalar<'a>, String> {
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.string().map(Scalar::Str),
            Some(b'{' | b'[') => {
                // Nested values are kept as their text, which serde_json checks.
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.skip_string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                        None => return Err(self.expected("the end of a nested value")),
                    }
                    self.pos += 1;
                }
                let nested = &self.text[start..self.pos];
                serde_json::from_str::<serde::de::IgnoredAny>(nested)
                    .map_err(|e| format!("value at byte {}: {e}", start + 1))?;
                Ok(Scalar::Nested(nested))
            }
            Some(b'n') => self.word("null").map(|_| Scalar::Null),
            Some(b't') => self.word("true").map(Scalar::Literal),
            Some(b'f') => self.word("false").map(Scalar::Literal),
            Some(b'-' | b'0'..=b'9') => self.number().map(Scalar::Literal),
            _ => Err(self.expected("a value")),
        }
    }

    fn word(&mut self, word: &'static str) -> Result<&'a str, String> {
        if !self.text[self.pos..].starts_with(word) {
            return Err(self.expected(word));
        }
        self.pos += word.len();
        Ok(&self.text[self.pos - word.len()..self.pos])
    }

    /// A number as JSON writes them: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<&'a str, String> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.pos += 1;
            }
            r.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let leading_zero = self.peek() == Some(b'0');
        let whole = digits(self);
        let mut ok = whole > 0 && !(leading_zero && whole > 1);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            ok &= digits(self) > 0;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            ok &= digits(self) > 0;
        }
        if !ok {
            self.pos = start;
            return Err(self.expected("a number"));
        }
        Ok(&self.text[start..self.pos])
    }
}
