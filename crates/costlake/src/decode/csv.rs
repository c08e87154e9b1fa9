//! Export CSV files, split as their bytes arrive, in two halves that run on different threads:
//! [`CsvRecordScanner`] only finds where records end (a quote-state scan cheap enough for the
//! thread that reads the file), and [`CsvSplitter`] splits a record into cells with
//! `csv-core` where the rows are decoded. The `csv` crate's reader does both in one place, so
//! the decoding could not be spread over the cores.

use super::DecodeError;

/// The longest record taken: far beyond any real export row (a few kilobytes), short enough
/// that a file without line breaks (or an inflated bomb of one byte) cannot exhaust memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Finds where CSV records end as the bytes arrive, in any chunking, without splitting their
/// cells: a line break outside quotes ends a record (a `""` escape toggles the quote state
/// twice). It is cheap enough for the thread that reads the file; the cells are split where
/// the rows are decoded. A UTF-8 byte order mark before the header is dropped, and blank
/// lines are not records.
#[derive(Default)]
pub struct CsvRecordScanner {
    /// The start of a record that the bytes so far have not ended.
    pending: Vec<u8>,
    in_quotes: bool,
    /// The first bytes, held until it is clear whether they are a byte order mark.
    head: Option<Vec<u8>>,
    started: bool,
}

impl CsvRecordScanner {
    pub fn new() -> CsvRecordScanner {
        CsvRecordScanner::default()
    }

    /// Feeds bytes, calling `on_record` with each whole record's bytes (line break included).
    pub fn feed<E: From<DecodeError>>(
        &mut self,
        input: &[u8],
        mut on_record: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        const BOM: &[u8] = b"\xef\xbb\xbf";
        let head;
        let mut bytes = input;
        if !self.started {
            let held = self.head.get_or_insert_with(Vec::new);
            held.extend_from_slice(input);
            if held.len() < BOM.len() && BOM.starts_with(held) {
                return Ok(());
            }
            self.started = true;
            head = self.head.take().unwrap_or_default();
            bytes = head.strip_prefix(BOM).unwrap_or(&head);
        }
        let mut start = 0;
        let mut at = 0;
        while let Some(found) = memchr::memchr2(b'"', b'\n', &bytes[at..]) {
            let i = at + found;
            at = i + 1;
            if bytes[i] == b'"' {
                self.in_quotes = !self.in_quotes;
                continue;
            }
            if self.in_quotes {
                continue;
            }
            if self.pending.is_empty() {
                emit(&bytes[start..at], &mut on_record)?;
            } else {
                self.pending.extend_from_slice(&bytes[start..at]);
                emit(&self.pending, &mut on_record)?;
                self.pending.clear();
            }
            start = at;
        }
        self.pending.extend_from_slice(&bytes[start..]);
        if self.pending.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::Csv(format!(
                "a record runs past {} MiB without ending: not a CSV export",
                MAX_RECORD_BYTES >> 20
            ))
            .into());
        }
        Ok(())
    }

    /// The end of the bytes: a last record without a line break is handed over. A quote still
    /// open is an error: the file was cut short inside a cell.
    pub fn finish<E: From<DecodeError>>(
        &mut self,
        mut on_record: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.started {
            self.started = true;
            let head = self.head.take().unwrap_or_default();
            self.pending.extend_from_slice(&head);
        }
        if self.in_quotes {
            return Err(DecodeError::Csv(
                "the file ends inside a quoted cell: it was cut short".into(),
            )
            .into());
        }
        let last = std::mem::take(&mut self.pending);
        emit(&last, &mut on_record)
    }
}

/// Hands over a record unless it is a blank line.
fn emit<E>(record: &[u8], on_record: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    if record.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return Ok(());
    }
    on_record(record)
}

/// Splits CSV bytes into cells, record by record, as they arrive in any chunking: `"` quotes,
/// `""` escapes, line breaks inside quotes, CRLF or LF.
pub struct CsvSplitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    out_len: usize,
    end_len: usize,
}

impl Default for CsvSplitter {
    fn default() -> Self {
        CsvSplitter::new()
    }
}

impl CsvSplitter {
    pub fn new() -> CsvSplitter {
        CsvSplitter {
            reader: csv_core::Reader::new(),
            out: vec![0; 64 * 1024],
            ends: vec![0; 256],
            out_len: 0,
            end_len: 0,
        }
    }

    /// Feeds bytes, calling `on_record` with each whole record's cells.
    pub fn feed<E: From<DecodeError>>(
        &mut self,
        input: &[u8],
        mut on_record: impl FnMut(&[&str]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut bytes = input;
        while !bytes.is_empty() {
            self.step(&mut bytes, &mut on_record)?;
        }
        Ok(())
    }

    /// The end of the bytes: a last record without a line break is handed over.
    pub fn finish<E: From<DecodeError>>(
        &mut self,
        mut on_record: impl FnMut(&[&str]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut input: &[u8] = &[];
        // With no input, csv_core reads end of data: at most one record, then End.
        for _ in 0..4 {
            if !self.step(&mut input, &mut on_record)? {
                break;
            }
        }
        Ok(())
    }

    /// One call into csv_core; false once it says the data ended.
    fn step<E: From<DecodeError>>(
        &mut self,
        input: &mut &[u8],
        on_record: &mut impl FnMut(&[&str]) -> Result<(), E>,
    ) -> Result<bool, E> {
        use csv_core::ReadRecordResult as R;
        let (result, read, written, ended) = self.reader.read_record(
            input,
            &mut self.out[self.out_len..],
            &mut self.ends[self.end_len..],
        );
        *input = &input[read..];
        self.out_len += written;
        self.end_len += ended;
        match result {
            R::InputEmpty => {}
            R::OutputFull => self.out.resize(self.out.len() * 2, 0),
            R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
            R::Record => {
                let record = &self.out[..self.out_len];
                let text = std::str::from_utf8(record).map_err(|e| {
                    DecodeError::Csv(format!(
                        "a record is not UTF-8 text (byte {} of it)",
                        e.valid_up_to()
                    ))
                })?;
                let mut cells = Vec::with_capacity(self.end_len);
                let mut start = 0;
                for &end in &self.ends[..self.end_len] {
                    cells.push(&text[start..end]);
                    start = end;
                }
                on_record(&cells)?;
                self.out_len = 0;
                self.end_len = 0;
            }
            R::End => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records found by the scanner in `chunk`-byte pieces, each split into cells.
    fn split(text: &[u8], chunk: usize) -> Vec<Vec<String>> {
        let mut scanner = CsvRecordScanner::new();
        let mut records: Vec<Vec<u8>> = Vec::new();
        for piece in text.chunks(chunk) {
            scanner
                .feed::<DecodeError>(piece, |r| {
                    records.push(r.to_vec());
                    Ok(())
                })
                .unwrap();
        }
        scanner
            .finish::<DecodeError>(|r| {
                records.push(r.to_vec());
                Ok(())
            })
            .unwrap();
        let mut out = Vec::new();
        for record in records {
            let mut splitter = CsvSplitter::new();
            let mut push = |cells: &[&str]| -> Result<(), DecodeError> {
                out.push(cells.iter().map(|c| c.to_string()).collect());
                Ok(())
            };
            splitter.feed(&record, &mut push).unwrap();
            splitter.finish(&mut push).unwrap();
        }
        out
    }

    #[test]
    fn splits_quoted_csv_with_a_bom_in_any_chunking() {
        let csv = "\u{feff}A,B,Tags\r\n1,\"x, \"\"y\"\"\",\"\"\"env\"\": \"\"prod\"\"\"\n\n2,\"two\nlines\",\n3,,last";
        for chunk in [1, 2, 5, 1000] {
            let records = split(csv.as_bytes(), chunk);
            assert_eq!(records.len(), 4, "chunk {chunk}");
            assert_eq!(records[0], ["A", "B", "Tags"]);
            assert_eq!(records[1], ["1", "x, \"y\"", "\"env\": \"prod\""]);
            assert_eq!(records[2], ["2", "two\nlines", ""]);
            assert_eq!(records[3], ["3", "", "last"]);
        }
    }
}
