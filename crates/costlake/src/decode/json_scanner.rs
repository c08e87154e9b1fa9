//! Finding the rows of a JSON answer as its bytes arrive, in chunks of any size: the elements
//! of a bare array, or of the `data` array of a page envelope, whose other members
//! (`nextLink`, `id`) it keeps. Hand-written (with memchr for string ends): it only finds row
//! boundaries, which a full parser would do at several times the cost.

use std::collections::HashMap;

use super::DecodeError;

/// The longest row (or envelope member) taken: a real row is a few kilobytes; this bounds the
/// memory an answer without an end to its row can take.
pub const MAX_ROW_BYTES: usize = 64 << 20;

/// Where the scanner is in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Unknown,
    /// A bare array: rows at depth 1.
    Array,
    /// The paged envelope `{id, data: [...], nextLink}`: rows at depth 2 inside `data`.
    Object,
    Done,
}

/// Finds the rows of a JSON answer as its bytes arrive, in chunks of any size: the elements
/// of a bare array, or of the `data` array of a page envelope, whose other members (`nextLink`,
/// `id`) it keeps. Memory is one row, however long the answer.
pub struct RowScanner {
    root: Root,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Bytes of the row being read.
    row: Vec<u8>,
    in_row: bool,
    /// Envelope bookkeeping: the member key being read or last read, and its raw value.
    key: Vec<u8>,
    reading_key: bool,
    expecting_key: bool,
    member_value: Vec<u8>,
    in_member_value: bool,
    in_data: bool,
    /// Whether the envelope had a `data` array.
    data_seen: bool,
    members: HashMap<String, String>,
    /// Only find the rows' ends, without copying them (for a quick look at the members).
    skip_rows: bool,
}

impl Default for RowScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl RowScanner {
    pub fn new() -> RowScanner {
        RowScanner {
            root: Root::Unknown,
            depth: 0,
            in_string: false,
            escaped: false,
            row: Vec::new(),
            in_row: false,
            key: Vec::new(),
            reading_key: false,
            expecting_key: false,
            member_value: Vec::new(),
            in_member_value: false,
            in_data: false,
            data_seen: false,
            members: HashMap::new(),
            skip_rows: false,
        }
    }

    fn row_depth(&self) -> u32 {
        if self.root == Root::Array { 1 } else { 2 }
    }

    /// Scans a row's bytes from `from`: the index just past the row's closing brace, or
    /// `None` when the chunk ends inside the row. Strings are skipped with `memchr`, which is
    /// what makes this fast: nearly all of a row is string bytes.
    fn row_end(&mut self, bytes: &[u8], from: usize) -> Option<usize> {
        let row_depth = self.row_depth();
        let mut i = from;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                let k = memchr::memchr2(b'"', b'\\', &bytes[i..])?;
                if bytes[i + k] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                i += k + 1;
                continue;
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == row_depth {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// Feeds bytes; calls `on_row` with each complete row's JSON text (straight from `bytes`
    /// when the row lies within them, else from the bytes kept since the row began).
    pub fn feed<E: From<DecodeError>>(
        &mut self,
        bytes: &[u8],
        mut on_row: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut next = 0;
        while next < bytes.len() {
            if self.in_row && self.skip_rows {
                match self.row_end(bytes, next) {
                    Some(end) => {
                        self.in_row = false;
                        next = end;
                    }
                    None => next = bytes.len(),
                }
                continue;
            }
            if self.in_row {
                let start = next;
                match self.row_end(bytes, start) {
                    Some(end) => {
                        self.in_row = false;
                        if self.row.is_empty() {
                            on_row(&bytes[start..end])?;
                        } else {
                            self.row.extend_from_slice(&bytes[start..end]);
                            on_row(&self.row)?;
                            self.row.clear();
                        }
                        next = end;
                    }
                    None => {
                        self.row.extend_from_slice(&bytes[start..]);
                        next = bytes.len();
                    }
                }
                continue;
            }
            let b = bytes[next];
            next += 1;
            // Rows are scanned by `row_end` above: from here on, the envelope.
            if self.in_string {
                if self.reading_key {
                    if !self.escaped && b == b'"' {
                        self.reading_key = false;
                    } else {
                        self.key.push(b);
                    }
                } else if self.in_member_value {
                    self.member_value.push(b);
                }
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            match self.root {
                Root::Done => {
                    return Err(
                        DecodeError::Shape("text after the end of the JSON answer".into()).into(),
                    );
                }
                Root::Unknown => {
                    // A UTF-8 byte-order mark before the JSON is tolerated.
                    if matches!(b, 0xEF | 0xBB | 0xBF) {
                        continue;
                    }
                    self.root = match b {
                        b'[' => Root::Array,
                        b'{' => {
                            self.expecting_key = true;
                            Root::Object
                        }
                        _ => {
                            return Err(DecodeError::Shape(format!(
                                "expected a JSON array or object, found `{}`",
                                b as char
                            ))
                            .into());
                        }
                    };
                    self.depth = 1;
                    continue;
                }
                _ => {}
            }
            let row_depth = self.row_depth();
            let rows_here = self.root == Root::Array || self.in_data;
            if rows_here && self.depth == row_depth {
                match b {
                    b',' => {}
                    b'{' => {
                        self.in_row = true;
                        // The row, brace included, is scanned by `row_end`.
                        next -= 1;
                    }
                    b']' => {
                        self.depth -= 1;
                        if self.root == Root::Array {
                            self.root = Root::Done;
                        } else {
                            self.in_data = false;
                        }
                    }
                    other => {
                        return Err(DecodeError::Shape(format!(
                            "expected a row object in the array, found `{}`",
                            other as char
                        ))
                        .into());
                    }
                }
                continue;
            }
            // Envelope members at depth 1 (and the values nested inside them).
            if self.in_member_value {
                let ends = self.depth == 1 && matches!(b, b',' | b'}');
                if !ends {
                    match b {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        // At depth 1 a `]` closes nothing that this member opened.
                        b'}' | b']' if self.depth > 1 => self.depth -= 1,
                        b'}' | b']' => {
                            return Err(DecodeError::Shape(format!(
                                "`{}` closes nothing in the page's envelope",
                                b as char
                            ))
                            .into());
                        }
                        _ => {}
                    }
                    self.member_value.push(b);
                    continue;
                }
                self.in_member_value = false;
                let key = String::from_utf8_lossy(&self.key).into_owned();
                let value = String::from_utf8_lossy(&self.member_value)
                    .trim()
                    .to_string();
                self.members.insert(key, value);
                self.member_value.clear();
            }
            match b {
                b'"' if self.expecting_key => {
                    self.in_string = true;
                    self.reading_key = true;
                    self.expecting_key = false;
                    self.key.clear();
                }
                b':' => {}
                b'[' if self.key == b"data" && self.depth == 1 && !self.in_data => {
                    self.in_data = true;
                    self.data_seen = true;
                    self.depth = 2;
                }
                b',' => self.expecting_key = true,
                b'}' => {
                    self.depth = 0;
                    self.root = Root::Done;
                }
                other => {
                    // The start of a member value other than `data`.
                    self.in_member_value = true;
                    self.member_value.push(other);
                    match other {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        _ => {}
                    }
                }
            }
        }
        if self
            .row
            .len()
            .max(self.member_value.len())
            .max(self.key.len())
            > MAX_ROW_BYTES
        {
            return Err(DecodeError::Shape(format!(
                "a row or member runs past {} MiB without ending",
                MAX_ROW_BYTES >> 20
            ))
            .into());
        }
        Ok(())
    }

    /// Checks that the answer ended where JSON ends.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.root != Root::Done {
            return Err(DecodeError::Shape(
                "the answer ended before its JSON did (cut short?)".into(),
            ));
        }
        Ok(())
    }

    /// The raw JSON text of an envelope member (`nextLink`, `id`), if the answer had one.
    pub fn member(&self, name: &str) -> Option<&str> {
        self.members.get(name).map(String::as_str)
    }

    /// The page's `nextLink`: None when null, empty or absent (the last page).
    pub fn next_link(&self) -> Result<Option<String>, DecodeError> {
        match self.member("nextLink") {
            None | Some("null") | Some("\"\"") => Ok(None),
            Some(raw) => serde_json::from_str::<String>(raw)
                .map(|s| Some(s).filter(|s| !s.trim().is_empty()))
                .map_err(|_| DecodeError::Shape(format!("nextLink is not a string: {raw}"))),
        }
    }

    /// The `nextLink` of a whole page, found without decoding its rows.
    pub fn next_link_of(page: &[u8]) -> Result<Option<String>, DecodeError> {
        let mut scanner = RowScanner::new();
        scanner.skip_rows = true;
        scanner.feed::<DecodeError>(page, |_| Ok(()))?;
        scanner.finish()?;
        scanner.next_link()
    }

    pub fn is_envelope(&self) -> bool {
        matches!(self.root, Root::Object) || (self.root == Root::Done && !self.members.is_empty())
    }

    /// Checks that a whole answer was a page as the API documents it: an object with a `data`
    /// array. Anything else (an `{"error": …}` sent with status 200, `data` as an object or a
    /// string, or no `data`) is refused, so that it cannot pass for an empty last page.
    pub fn check_page(&self) -> Result<(), DecodeError> {
        if self.root == Root::Done && self.data_seen {
            return Ok(());
        }
        if self.root != Root::Done || !self.is_envelope() {
            return Err(DecodeError::Shape(
                "expected a page {id, data, nextLink}".into(),
            ));
        }
        let said = |name: &str| {
            self.member(name)
                .map(|v| v.chars().take(200).collect::<String>())
        };
        Err(DecodeError::Shape(match (said("data"), said("error")) {
            (_, Some(error)) => format!("the page is an error, not data: {error}"),
            (Some(data), None) => format!("the page's `data` is not an array: {data}"),
            (None, None) => "the page has no `data` array".into(),
        }))
    }
}
