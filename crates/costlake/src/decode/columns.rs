//! The column builders of one dataset, filled a value at a time and taken as Arrow batches:
//! the one piece both the JSON and the table decoders build with, and the one place a value
//! becomes a typed cell (decimals from their text, never through f64).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, MapBuilder,
    MapFieldNames, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;

use super::json::parse_object;
use super::values::{parse_date, parse_timestamp};
use crate::model::Dataset;
use crate::model::decimal;
use crate::schema::{DECIMAL_PRECISION, DECIMAL_SCALE, Kind};

pub(super) enum Builder {
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
    pub(super) fn new(kind: Kind, rows: usize) -> Builder {
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

    pub(super) fn append_null(&mut self) {
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

    pub(super) fn finish(&mut self) -> ArrayRef {
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
pub(super) struct Columns {
    pub(super) dataset: Dataset,
    pub(super) builders: Vec<Builder>,
    /// The derived column (the parsed tags) and the column it reads, if the dataset has one.
    derived: Option<(usize, usize)>,
    pub(super) rows: usize,
}

impl Columns {
    /// Builders for `rows` rows (they grow past it).
    pub(super) fn new(dataset: Dataset, rows: usize) -> Columns {
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
    pub(super) fn feeds_derived(&self, index: usize) -> bool {
        self.derived.is_some_and(|(_, source)| source == index)
    }

    /// Ends a row: the derived column parses `tags`, the text of the column it reads.
    pub(super) fn end_row(&mut self, tags: Option<&str>) {
        if let Some((target, _)) = self.derived {
            let Builder::Map(map) = &mut self.builders[target] else {
                unreachable!("derived columns are maps")
            };
            append_tags(map, tags);
        }
        self.rows += 1;
    }

    /// Takes the rows as a batch (None when there are none).
    pub(super) fn finish(&mut self) -> Option<RecordBatch> {
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
pub(super) enum Scalar<'a> {
    Null,
    /// A string, unescaped.
    Str(std::borrow::Cow<'a, str>),
    /// A number, `true` or `false`: its literal text.
    Literal(&'a str),
    /// An object or array: its JSON text.
    Nested(&'a str),
}

/// Appends a value; Ok(false) when it was null (or the empty string, which the API sends for
/// "no value").
pub(super) fn append(
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
pub(super) fn append_tags(map: &mut MapBuilder<StringBuilder, StringBuilder>, text: Option<&str>) {
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
