//! JSON from the API into Arrow batches, driven by `schema`: a streaming scanner that finds the
//! rows of a bare array or of a page's `data` array as the bytes arrive, and a row decoder that
//! reads every value exactly (decimals from their text, never through f64) and leniently
//! (numbers or strings for ids, `"False"` or `false`, dates with or without `Z`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, MapBuilder,
    MapFieldNames, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate, NaiveDateTime};

pub mod table;

use crate::decimal;
use crate::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, Dataset, Field, Kind};

/// A value that cannot be decoded, or JSON that is not what the API sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("row {row}, field `{field}`: {reason} (value: {value})")]
    Value {
        row: u64,
        field: String,
        value: String,
        reason: String,
    },
    #[error("row {row}: required field `{field}` is missing or null")]
    Missing { row: u64, field: String },
    #[error("row {row} is not a JSON object: {reason}")]
    Row { row: u64, reason: String },
    #[error("the answer is not the JSON the API sends: {0}")]
    Shape(String),
}

/// Days from 0001-01-01 to 1970-01-01, for Date32.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

enum Builder {
    Text(StringBuilder),
    Int64(Int64Builder),
    Decimal(Decimal128Builder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
    Map(Box<MapBuilder<StringBuilder, StringBuilder>>),
}

impl Builder {
    /// A builder with room for `rows` values (text: 16 bytes each), so that a chunk's
    /// columns are not grown by doubling, value by value.
    fn new(kind: Kind, rows: usize) -> Builder {
        match kind {
            Kind::Text | Kind::Json | Kind::Structured => {
                Builder::Text(StringBuilder::with_capacity(rows, rows * 16))
            }
            Kind::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
            Kind::Decimal => Builder::Decimal(
                Decimal128Builder::with_capacity(rows)
                    .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                    .expect("valid decimal type"),
            ),
            Kind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            Kind::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            Kind::TagsMap => Builder::Map(Box::new(MapBuilder::with_capacity(
                Some(MapFieldNames {
                    entry: "entries".into(),
                    key: "keys".into(),
                    value: "values".into(),
                }),
                StringBuilder::new(),
                StringBuilder::new(),
                rows,
            ))),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Text(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Decimal(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Map(b) => b.append(false).expect("map append"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Map(b) => Arc::new(b.finish()),
        }
    }
}

/// The column builders of one dataset, filled a row at a time and taken as batches: the one
/// piece both the JSON and the table decoders build with.
struct Columns {
    dataset: Dataset,
    builders: Vec<Builder>,
    /// The derived column (the parsed tags) and the column it reads, if the dataset has one.
    derived: Option<(usize, usize)>,
    rows: usize,
}

impl Columns {
    /// Builders for `rows` rows (they grow past it).
    fn new(dataset: Dataset, rows: usize) -> Columns {
        let fields = dataset.fields();
        let mut derived = None;
        for (i, field) in fields.iter().enumerate() {
            if let Some(from) = field.derived_from {
                let source = fields
                    .iter()
                    .position(|f| f.col == from)
                    .expect("derived column's source exists");
                assert!(derived.is_none(), "one derived column per dataset");
                derived = Some((i, source));
            }
        }
        Columns {
            dataset,
            builders: fields.iter().map(|f| Builder::new(f.kind, rows)).collect(),
            derived,
            rows: 0,
        }
    }

    /// Whether field `index` is the one the derived column reads.
    fn feeds_derived(&self, index: usize) -> bool {
        self.derived.is_some_and(|(_, source)| source == index)
    }

    /// Ends a row: the derived column parses `tags`, the text of the column it reads.
    fn end_row(&mut self, tags: Option<&str>) {
        if let Some((target, _)) = self.derived {
            let Builder::Map(map) = &mut self.builders[target] else {
                unreachable!("derived columns are maps")
            };
            append_tags(map, tags);
        }
        self.rows += 1;
    }

    /// Takes the rows as a batch (None when there are none).
    fn finish(&mut self) -> Option<RecordBatch> {
        if self.rows == 0 {
            return None;
        }
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        Some(
            RecordBatch::try_new(self.dataset.file_schema(), columns)
                .expect("builders match the schema"),
        )
    }
}

/// A JSON value of one field, borrowed from the row text.
enum Scalar<'a> {
    Null,
    /// A string, unescaped.
    Str(std::borrow::Cow<'a, str>),
    /// A number, `true` or `false`: its literal text.
    Literal(&'a str),
    /// An object or array: its JSON text.
    Nested(&'a str),
}

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
    rounded: u64,
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

/// Appends a value; Ok(false) when it was null (or the empty string, which the API sends for
/// "no value").
fn append(
    builder: &mut Builder,
    kind: Kind,
    value: &Scalar<'_>,
    rounded: &mut u64,
) -> Result<bool, String> {
    let text: &str = match value {
        Scalar::Null => {
            builder.append_null();
            return Ok(false);
        }
        Scalar::Str(s) => s,
        Scalar::Literal(s) | Scalar::Nested(s) => s,
    };
    if text.is_empty() && !matches!(kind, Kind::Text | Kind::Json) {
        builder.append_null();
        return Ok(false);
    }
    match (builder, kind) {
        (Builder::Text(b), Kind::Text | Kind::Json | Kind::Structured) => b.append_value(text),
        (Builder::Int64(b), _) => {
            if matches!(value, Scalar::Nested(_)) {
                return Err("expected an integer".into());
            }
            let v = match text.trim().parse::<i64>() {
                Ok(v) => v,
                // A whole number printed with a fraction or an exponent (`123.0`, `1E3`).
                Err(_) => match decimal::parse(text, 0, 19) {
                    Ok(v) if decimal::parse(text, 6, 25).is_ok_and(|m| m % 1_000_000 == 0) => {
                        i64::try_from(v).map_err(|_| "integer out of range".to_string())?
                    }
                    _ => return Err("expected an integer".into()),
                },
            };
            b.append_value(v)
        }
        (Builder::Decimal(b), _) => {
            if matches!(value, Scalar::Nested(_)) {
                return Err("expected a number".into());
            }
            let (v, lost) =
                decimal::parse_rounding(text, DECIMAL_SCALE as u32, DECIMAL_PRECISION as u32)
                    .map_err(|e| e.to_string())?;
            *rounded += u64::from(lost);
            b.append_value(v)
        }
        (Builder::Date(b), _) => b.append_value(parse_date(text)?),
        (Builder::Timestamp(b), _) => b.append_value(parse_timestamp(text)?),
        (Builder::Bool(b), _) => b.append_value(match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err("expected true or false".into()),
        }),
        _ => unreachable!("builder made from the same kind"),
    }
    Ok(true)
}

/// The tags' JSON object as map entries, read the way a JSON object reads (keys in order, the
/// last of a repeated key winning); text that is not an object gives a null map.
fn append_tags(map: &mut MapBuilder<StringBuilder, StringBuilder>, text: Option<&str>) {
    let members = text
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_object(t.as_bytes()).ok());
    let Some(mut members) = members else {
        map.append(false).expect("map append");
        return;
    };
    members.sort_by(|a, b| a.0.cmp(&b.0)); // stable: a repeated key's spellings stay in order
    for (i, (key, raw, value)) in members.iter().enumerate() {
        if members.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue;
        }
        map.keys().append_value(key);
        match value {
            Scalar::Str(s) => map.values().append_value(s),
            Scalar::Null => map.values().append_null(),
            // Numbers, booleans and nested values as compact JSON text.
            Scalar::Literal(_) | Scalar::Nested(_) => map.values().append_value(
                serde_json::from_str::<serde_json::Value>(raw)
                    .map_or_else(|_| raw.to_string(), |v| v.to_string()),
            ),
        }
    }
    map.append(true).expect("map append");
}

/// How the rows given to a [`ParallelDecoder`] are written.
#[derive(Debug, Clone)]
pub enum RowFormat {
    /// A JSON object per row (the API's pages).
    Json,
    /// Whole CSV records (from [`table::CsvRecordScanner`]) under these headers: their cells
    /// are split in the decoding task.
    Csv(Arc<[String]>),
    /// Text cells under these headers (Parquet rows seen as text).
    Cells(Arc<[String]>),
}

/// Rows decoded into batches on the blocking thread pool, a chunk of rows per task, while
/// the caller goes on scanning (and fetching): decoding is the costly part of ingest, and this
/// spreads it over the machine's cores. Batches come back in the order the rows came.
pub struct ParallelDecoder {
    dataset: Dataset,
    format: RowFormat,
    chunk_rows: usize,
    /// The rows found and not yet handed to a task: their bytes, and where each ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// For cells: where each cell ends in `bytes`, and where each row's cells end in that list.
    cell_ends: Vec<usize>,
    row_cells: Vec<usize>,
    /// Rows found so far.
    rows: u64,
    /// Decimals rounded beyond the lake's scale, over the chunks decoded so far.
    rounded: u64,
    /// Chunks being decoded, oldest first.
    decoding: std::collections::VecDeque<
        tokio::task::JoinHandle<Result<(RecordBatch, u64), DecodeError>>,
    >,
    /// At most one chunk per core is decoded at once, which bounds memory to a few chunks.
    in_flight: usize,
}

impl ParallelDecoder {
    pub fn new(dataset: Dataset, chunk_rows: usize) -> ParallelDecoder {
        ParallelDecoder::with_format(dataset, RowFormat::Json, chunk_rows)
    }

    pub fn with_format(dataset: Dataset, format: RowFormat, chunk_rows: usize) -> ParallelDecoder {
        ParallelDecoder {
            dataset,
            format,
            chunk_rows,
            bytes: Vec::new(),
            ends: Vec::new(),
            cell_ends: Vec::new(),
            row_cells: Vec::new(),
            rows: 0,
            rounded: 0,
            decoding: Default::default(),
            in_flight: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// Rows found so far (decoded or not).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Decimals rounded beyond the lake's scale in the batches returned so far.
    pub fn rounded(&self) -> u64 {
        self.rounded
    }

    /// Takes one row's JSON text, or one CSV record's bytes.
    pub fn push_row(&mut self, row: &[u8]) {
        self.bytes.extend_from_slice(row);
        self.ends.push(self.bytes.len());
        self.rows += 1;
    }

    /// Takes one row's cells.
    pub fn push_cells(&mut self, cells: &[&str]) {
        for cell in cells {
            self.bytes.extend_from_slice(cell.as_bytes());
            self.cell_ends.push(self.bytes.len());
        }
        self.row_cells.push(self.cell_ends.len());
        self.ends.push(self.bytes.len());
        self.rows += 1;
    }

    /// Feeds answer bytes through `scanner`, keeping the rows it finds.
    pub fn feed(&mut self, scanner: &mut RowScanner, bytes: &[u8]) -> Result<(), DecodeError> {
        scanner.feed::<DecodeError>(bytes, |row| {
            self.push_row(row);
            Ok(())
        })
    }

    fn start_chunk(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        let ends = std::mem::take(&mut self.ends);
        let cell_ends = std::mem::take(&mut self.cell_ends);
        let row_cells = std::mem::take(&mut self.row_cells);
        let first = self.rows - ends.len() as u64;
        let dataset = self.dataset;
        let format = self.format.clone();
        self.decoding
            .push_back(tokio::task::spawn_blocking(move || match format {
                RowFormat::Json => {
                    let mut decoder =
                        RowDecoder::starting_at(dataset, first).with_capacity(ends.len());
                    let mut start = 0;
                    for end in ends {
                        decoder.push_row(&bytes[start..end])?;
                        start = end;
                    }
                    let rounded = decoder.rounded;
                    Ok((decoder.finish().expect("a chunk has rows"), rounded))
                }
                RowFormat::Csv(headers) => {
                    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                    let mut decoder = table::TableDecoder::starting_at(dataset, &headers, first)
                        .with_capacity(ends.len());
                    let mut splitter = table::CsvSplitter::new();
                    let mut pushed = 0u64;
                    let mut push = |cells: &[&str]| {
                        pushed += 1;
                        decoder.push_record(cells)
                    };
                    // The splitter knows no row numbers: its errors get the chunk's.
                    splitter
                        .feed(&bytes, &mut push)
                        .and_then(|()| splitter.finish(&mut push))
                        .map_err(|e| match e {
                            DecodeError::Shape(reason) => {
                                DecodeError::Shape(format!("row {}: {reason}", first + pushed + 1))
                            }
                            other => other,
                        })?;
                    let rounded = decoder.rounded();
                    Ok((decoder.finish().expect("a chunk has rows"), rounded))
                }
                RowFormat::Cells(headers) => {
                    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                    let mut decoder = table::TableDecoder::starting_at(dataset, &headers, first)
                        .with_capacity(row_cells.len());
                    let text = std::str::from_utf8(&bytes).expect("cells are text");
                    let (mut start, mut cell) = (0, 0);
                    let mut cells = Vec::with_capacity(headers.len());
                    for row_end in row_cells {
                        cells.clear();
                        for &end in &cell_ends[cell..row_end] {
                            cells.push(&text[start..end]);
                            start = end;
                        }
                        cell = row_end;
                        decoder.push_record(&cells)?;
                    }
                    let rounded = decoder.rounded();
                    Ok((decoder.finish().expect("a chunk has rows"), rounded))
                }
            }));
    }

    /// The next decoded batch in order, when one should be taken now: a full chunk starts
    /// decoding, and a batch is waited for once too many are in flight. With `all`, every
    /// remaining row is decoded and returned, batch by batch, until `None`.
    pub async fn next_batch(&mut self, all: bool) -> Option<Result<RecordBatch, DecodeError>> {
        if self.ends.len() >= self.chunk_rows || (all && !self.ends.is_empty()) {
            self.start_chunk();
        }
        if self.decoding.len() >= self.in_flight || (all && !self.decoding.is_empty()) {
            let task = self.decoding.pop_front()?;
            let done = task.await.unwrap_or_else(|e| {
                Err(DecodeError::Shape(format!("a decoding task failed: {e}")))
            });
            return Some(done.map(|(batch, rounded)| {
                self.rounded += rounded;
                batch
            }));
        }
        None
    }
}

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
fn fast_date(b: &[u8]) -> Option<NaiveDate> {
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
fn fast_us_date(b: &[u8]) -> Option<NaiveDate> {
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
fn fast_timestamp(b: &[u8]) -> Option<i64> {
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

/// The members of a JSON object (a row, or its tags), in order: each key, the value's JSON
/// text (for error messages) and the value. Read by hand in one pass: through serde_json's
/// `RawValue` every string was read twice, and that was the largest part of decoding.
fn parse_object(json: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let text = std::str::from_utf8(json).map_err(|e| format!("not UTF-8: {e}"))?;
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
    r.skip_space();
    if r.pos != text.len() {
        return Err(r.expected("the end of the row"));
    }
    Ok(members)
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
            if self.in_row && !self.skip_rows {
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
            if self.in_string {
                if self.in_row && !self.skip_rows {
                    self.row.push(b);
                } else if self.reading_key {
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
                if self.in_row && !self.skip_rows {
                    self.row.push(b);
                }
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
            if self.in_row {
                if !self.skip_rows {
                    self.row.push(b);
                }
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == row_depth {
                            self.in_row = false;
                            on_row(&self.row)?;
                            self.row.clear();
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if rows_here && self.depth == row_depth {
                match b {
                    b',' => {}
                    b'{' => {
                        self.in_row = true;
                        if self.skip_rows {
                            self.depth += 1;
                        } else {
                            // The row, brace included, is scanned by `row_end`.
                            next -= 1;
                        }
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
                        b'}' | b']' => self.depth -= 1,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Decimal128Type;

    /// Tags become the map serde_json's `Map` reads from them: keys sorted, the last of a
    /// repeated key winning, non-string values as compact JSON, and no map for anything else.
    #[test]
    fn tags_map_as_serde_json_reads_the_object() {
        let texts = [
            r#"{"team":"a","env":"prod"}"#,
            r#"{"env":"dev","Env":"x","env":"prod"}"#,
            r#" {"n": 1.50, "b": true, "z": null, "o": {"k": [1, 2]}, "e": "\u00e9\"q"} "#,
            "{}",
            "",
            "   ",
            "not json",
            r#"["a"]"#,
            r#"{"a":"b"} trailing"#,
            r#"{"a":}"#,
        ];
        for text in texts {
            let mut ours = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
            append_tags(&mut ours, Some(text));
            let ours = ours.finish();
            let theirs = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text);
            match theirs {
                Err(_) => assert!(ours.is_null(0), "{text}"),
                Ok(theirs) => {
                    let entries = ours.value(0);
                    let keys = entries.column(0).as_string::<i32>();
                    let values = entries.column(1).as_string::<i32>();
                    let read: Vec<(String, Option<String>)> = (0..entries.len())
                        .map(|i| {
                            let v = values.is_valid(i).then(|| values.value(i).to_string());
                            (keys.value(i).to_string(), v)
                        })
                        .collect();
                    let expected: Vec<(String, Option<String>)> = theirs
                        .into_iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => (k, Some(s)),
                            serde_json::Value::Null => (k, None),
                            other => (k, Some(other.to_string())),
                        })
                        .collect();
                    assert_eq!(read, expected, "{text}");
                }
            }
        }
        let mut none = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        append_tags(&mut none, None);
        assert!(none.finish().is_null(0));
    }

    /// The row reader against serde_json: the same members and values for valid rows, and an
    /// error wherever serde_json has one.
    #[test]
    fn rows_read_as_serde_json_reads_them() {
        let valid = [
            r#"{}"#,
            r#" { "a" : 1 , "b":"x" } "#,
            r#"{"n":null,"t":true,"f":false,"z":0,"neg":-12.5e-3,"big":1E+30,"frac":0.125}"#,
            r#"{"tags":"{\"env\": \"prod\", \"team\":\"a\\\\b\"}","s":"\u00e9\ud83d\ude00\/\b\f\n\r\t"}"#,
            r#"{"nested":{"a":[1,{"b":"}]\"["}],"c":null},"arr":[],"e\u0041":"k"}"#,
            "{\"unicode\":\"日本語 ✓\"}",
        ];
        for row in valid {
            let ours = parse_object(row.as_bytes()).unwrap_or_else(|e| panic!("{row}: {e}"));
            let theirs: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(row).unwrap();
            assert_eq!(ours.len(), theirs.len(), "{row}");
            for (key, raw, value) in &ours {
                let v = &theirs[key.as_ref()];
                assert_eq!(&serde_json::from_str::<serde_json::Value>(raw).unwrap(), v);
                match (value, v) {
                    (Scalar::Null, serde_json::Value::Null) => {}
                    (Scalar::Str(s), serde_json::Value::String(t)) => assert_eq!(s, t),
                    (Scalar::Literal(l), serde_json::Value::Bool(b)) => {
                        assert_eq!(*l, b.to_string())
                    }
                    (Scalar::Literal(l), serde_json::Value::Number(_)) => assert_eq!(l, raw),
                    (
                        Scalar::Nested(n),
                        serde_json::Value::Object(_) | serde_json::Value::Array(_),
                    ) => {
                        assert_eq!(n, raw)
                    }
                    _ => panic!("{row}: {key} read differently"),
                }
            }
        }
        let invalid = [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1 \"b\":2}",
            "{a:1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":{\"b\":1}",
            "{\"a\":[1,]}",
            "{\"a\":{b:1}}",
            "{\"a\":1} x",
            "{\"a\":\"\\",
        ];
        for row in invalid {
            assert!(
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(row).is_err(),
                "{row}"
            );
            assert!(parse_object(row.as_bytes()).is_err(), "{row} was read");
        }
    }

    #[test]
    fn csv_record_errors_name_their_row_in_the_file() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let headers: Arc<[String]> = vec!["Cost".to_string(), "Date".to_string()].into();
            let mut d = ParallelDecoder::with_format(
                Dataset::CostDetails,
                RowFormat::Csv(headers.clone()),
                2,
            );
            for record in [
                &b"1.5,09/21/2023\n"[..],
                b"\"2,5\",09/22/2023\n",
                b"3,09/23/2023",
            ] {
                d.push_row(record);
            }
            let err = d.next_batch(true).await.unwrap().unwrap_err().to_string();
            assert!(err.contains("row 2") && err.contains("`Cost`"), "{err}");

            let mut d =
                ParallelDecoder::with_format(Dataset::CostDetails, RowFormat::Csv(headers), 8);
            d.push_row(b"1,09/21/2023\n");
            d.push_row(b"\xff,09/22/2023\n");
            let err = d.next_batch(true).await.unwrap().unwrap_err().to_string();
            assert!(err.contains("row 2: a record is not UTF-8"), "{err}");
        });
    }

    fn rows(json: &str, chunk: usize) -> (Vec<String>, RowScanner) {
        let mut scanner = RowScanner::new();
        let mut out = Vec::new();
        for piece in json.as_bytes().chunks(chunk) {
            scanner
                .feed::<DecodeError>(piece, |row| {
                    out.push(String::from_utf8(row.to_vec()).unwrap());
                    Ok(())
                })
                .unwrap();
        }
        (out, scanner)
    }

    #[test]
    fn scans_bare_arrays_and_envelopes_in_any_chunking() {
        let page = r#" {"id":"x\"}","data":[{"a":"]}\\","b":[1,{"c":2}]}, {"a":null}],"nextLink":"https://h/v3/x?skiptoken=1"} "#;
        for chunk in [1, 2, 3, 7, 1000] {
            let (r, s) = rows(page, chunk);
            assert_eq!(
                r,
                vec![r#"{"a":"]}\\","b":[1,{"c":2}]}"#, r#"{"a":null}"#],
                "chunk {chunk}"
            );
            assert_eq!(
                s.next_link().unwrap().as_deref(),
                Some("https://h/v3/x?skiptoken=1")
            );
            assert_eq!(s.member("id"), Some(r#""x\"}""#));
            s.finish().unwrap();
        }
        let (r, s) = rows("\u{feff}[{\"a\":1},{\"a\":2}]", 3);
        assert_eq!(r.len(), 2);
        assert_eq!(s.next_link().unwrap(), None);
        s.finish().unwrap();
        let (r, s) = rows(r#"{"data":[],"nextLink":null,"id":"1"}"#, 4);
        assert!(r.is_empty());
        assert_eq!(s.next_link().unwrap(), None);
        let (_, s) = rows(r#"{"data":[{"a":1}],"nextLink":""}"#, 4);
        assert_eq!(s.next_link().unwrap(), None);
        let (_, s) = rows(r#"{"data":[{"a":1}]}"#, 4);
        assert_eq!(s.next_link().unwrap(), None);
        s.finish().unwrap();
    }

    #[test]
    fn the_fast_date_paths_agree_with_chrono() {
        for t in [
            "2024-05-01",
            "2024-05-01T10:20:30",
            "2024-05-01T10:20:30Z",
            "2024-02-29 23:59:59",
        ] {
            let slow = chrono::NaiveDateTime::parse_from_str(
                &format!("{}T00:00:00", &t[..10]),
                "%Y-%m-%dT%H:%M:%S",
            )
            .unwrap()
            .and_utc()
            .timestamp_micros();
            let with_time = if t.len() > 10 {
                slow + (t[11..13].parse::<i64>().unwrap() * 3600
                    + t[14..16].parse::<i64>().unwrap() * 60
                    + t[17..19].parse::<i64>().unwrap())
                    * 1_000_000
            } else {
                slow
            };
            assert_eq!(parse_timestamp(t), Ok(with_time), "{t}");
        }
        assert!(fast_timestamp(b"2023-02-29").is_none(), "no such day");
        assert_eq!(
            parse_timestamp("2017-04-27T23:01:43.799Z"),
            Ok(
                chrono::DateTime::parse_from_rfc3339("2017-04-27T23:01:43.799Z")
                    .unwrap()
                    .timestamp_micros()
            )
        );
        assert_eq!(
            parse_timestamp("2024-05-01T00:00:00.0000000"),
            parse_timestamp("2024-05-01")
        );
        assert_eq!(
            parse_date("2024-05-01T00:00:00.000Z"),
            parse_date("2024-05-01")
        );
        assert!(parse_timestamp("2024-13-01").is_err());
        assert_eq!(
            parse_date("2024-05-01T23:00:00+02:00"),
            parse_date("2024-05-01")
        );
    }

    #[test]
    fn cut_short_answers_are_caught() {
        let (_, s) = rows(r#"{"data":[{"a":1},{"a""#, 4);
        assert!(s.finish().is_err());
        let mut s = RowScanner::new();
        assert!(s.feed::<DecodeError>(b"<html>", |_| Ok(())).is_err());
    }

    #[test]
    fn decodes_values_exactly_and_leniently() {
        let mut d = RowDecoder::new(Dataset::UsageDetails);
        d.push_row(br#"{"cost":2.5E-05,"date":"2024-05-01T00:00:00","subscriptionId":"23467313421","chargesBilledSeparately":"False","tags":"{\"env\":\"prod\",\"n\":1}","accountId":100,"unknownNewField":1}"#).unwrap();
        d.push_row(br#"{"cost":"12","date":"2024-05-02T00:00:00.000Z","subscriptionId":23467313421,"chargesBilledSeparately":true,"tags":"","consumedQuantity":1E3}"#).unwrap();
        d.push_row(br#"{"extendedCost":0.1,"date":"2017-04-27T23:01:43.799Z","tags":null}"#)
            .unwrap();
        let batch = d.finish().unwrap();
        let cost = batch
            .column_by_name("cost")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        assert_eq!(cost.value(0), 25_000_000);
        assert_eq!(cost.value(1), 12_000_000_000_000);
        assert_eq!(cost.value(2), 100_000_000_000);
        let sub = batch
            .column_by_name("subscription_id")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(sub.value(0), 23_467_313_421);
        assert_eq!(sub.value(1), 23_467_313_421);
        let cbs = batch
            .column_by_name("charges_billed_separately")
            .unwrap()
            .as_boolean();
        assert!(!cbs.value(0) && cbs.value(1) && cbs.is_null(2));
        let date = batch
            .column_by_name("date")
            .unwrap()
            .as_primitive::<arrow::datatypes::Date32Type>();
        assert_eq!(
            date.value(0),
            days_since_epoch(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap())
        );
        assert_eq!(
            date.value(2),
            days_since_epoch(NaiveDate::from_ymd_opt(2017, 4, 27).unwrap())
        );
        let tags = batch.column_by_name("tags_map").unwrap().as_map();
        assert!(tags.is_valid(0) && tags.is_null(1) && tags.is_null(2));
        assert_eq!(tags.value(0).len(), 2);
        let q = batch
            .column_by_name("consumed_quantity")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        assert_eq!(q.value(1), 1000 * 10i128.pow(12));
    }

    #[test]
    fn bad_values_name_row_and_field() {
        let mut d = RowDecoder::new(Dataset::UsageDetails);
        d.push_row(br#"{"cost":1,"date":"2024-05-01"}"#).unwrap();
        let err = d
            .push_row(br#"{"cost":"1,5","date":"2024-05-01"}"#)
            .unwrap_err();
        assert!(
            matches!(&err, DecodeError::Value { row: 1, field, .. } if field == "cost"),
            "{err}"
        );
        let mut d = RowDecoder::new(Dataset::UsageDetails);
        let err = d.push_row(br#"{"cost":1}"#).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Missing { field, .. } if field == "date"),
            "{err}"
        );
        let mut d = RowDecoder::new(Dataset::UsageDetails);
        let err = d.push_row(br#"{"cost":1,"date":"yesterday"}"#).unwrap_err();
        assert!(err.to_string().contains("`date`"), "{err}");
        let err = RowDecoder::new(Dataset::UsageDetails)
            .push_row(br#"[1]"#)
            .unwrap_err();
        assert!(matches!(err, DecodeError::Row { .. }));
    }
}
