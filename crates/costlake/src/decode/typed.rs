//! Typed columns (Parquet export parts read with their own Arrow schema) into batches of a
//! dataset, a column at a time with Arrow kernels: strings renamed, decimals rescaled, integers,
//! dates, instants and booleans cast. Only a column whose type genuinely differs from its lake
//! column (a double for money, an integer for an id kept as text, nanosecond instants) is read as
//! text, cell by cell, by the same rules as a CSV cell; so a part gives the same lake as the CSV
//! of the same export, byte for byte.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, StringArray, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::nullif;
use arrow::datatypes::{DataType, Decimal128Type, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::DecodeError;
use super::columns::{Builder, Scalar, append, append_tags};
use super::table::{HeaderMatch, tags_text};
use crate::model::Dataset;
use crate::schema::{Col, DECIMAL_PRECISION, DECIMAL_SCALE, Field, Kind};

/// How a lake column is made from the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// The part lacks the column: nulls.
    Absent,
    /// The tags map, parsed from the tags column.
    Derived,
    /// Text to text: the empty string and `NULL` become null, as in a CSV.
    Text,
    /// A decimal of another precision or scale: rescaled, rounding half to even.
    Rescale(i8),
    /// An Arrow cast that loses nothing (integers, 32-bit dates, instants to µs, booleans).
    Cast,
    /// The cell's text read by the CSV rules: types whose meaning differs (doubles, whose
    /// shortest text is what the export's CSV prints), and anything not above.
    Parse,
}

/// Converts the batches of one part, whose columns have `schema`, into batches of `dataset`.
#[derive(Debug)]
pub struct TypedTable {
    dataset: Dataset,
    fields: &'static [Field],
    /// For each field: the part's column it is read from, and how.
    plan: Vec<(Option<usize>, Conversion)>,
    /// For each field, the header the part gives it, for error messages.
    source_headers: Vec<String>,
    unknown: Vec<String>,
}

impl TypedTable {
    pub fn new(dataset: Dataset, schema: &SchemaRef) -> TypedTable {
        let headers: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let matched = HeaderMatch::new(dataset, &headers);
        let fields = dataset.fields();
        let plan = fields
            .iter()
            .zip(&matched.sources)
            .map(|(field, source)| {
                if field.derived_from.is_some() {
                    return (None, Conversion::Derived);
                }
                let Some(index) = *source else {
                    return (None, Conversion::Absent);
                };
                let from = schema.field(index).data_type();
                (Some(index), conversion(field, from))
            })
            .collect();
        TypedTable {
            dataset,
            fields,
            plan,
            source_headers: matched.source_headers,
            unknown: matched.unknown,
        }
    }

    /// Headers that no column of the dataset takes.
    pub fn unknown_headers(&self) -> &[String] {
        &self.unknown
    }

    /// The part's batch whose first row is data row `first` (from 0) as a batch of the
    /// dataset, and how many decimals were rounded beyond the lake's scale.
    pub fn convert(
        &self,
        batch: &RecordBatch,
        first: u64,
    ) -> Result<(RecordBatch, u64), DecodeError> {
        let rows = batch.num_rows();
        let mut rounded = 0u64;
        let mut columns: Vec<Option<ArrayRef>> = Vec::with_capacity(self.fields.len());
        let mut tags: Option<ArrayRef> = None;
        for (i, (field, (source, how))) in self.fields.iter().zip(&self.plan).enumerate() {
            let column = match (source, how) {
                (_, Conversion::Derived) => None,
                (None, _) => Some(new_null_array(&field.kind.data_type(), rows)),
                (Some(index), how) => {
                    let from = batch.column(*index);
                    let converted = match how {
                        _ if field.col == Col::Tags => None,
                        Conversion::Text => Some(text(from)),
                        Conversion::Rescale(scale) => rescale(from, *scale, &mut rounded),
                        Conversion::Cast => {
                            arrow::compute::cast(from, &field.kind.data_type()).ok()
                        }
                        _ => None,
                    };
                    // Anything the kernels did not take (an overflow, a failed cast) is read
                    // as text, which names the row and the value.
                    let column = match converted {
                        Some(column) => column,
                        None => self.parse(i, from, first, &mut rounded)?,
                    };
                    if field.col == Col::Tags {
                        tags = Some(column.clone());
                    }
                    Some(column)
                }
            };
            if let Some(column) = &column
                && !field.nullable
                && column.null_count() > 0
            {
                let row = (0..rows).find(|&r| column.is_null(r)).unwrap_or(0);
                return Err(DecodeError::Missing {
                    row: first + row as u64 + 1,
                    field: self.source_headers[i].clone(),
                });
            }
            columns.push(column);
        }
        let columns = columns
            .into_iter()
            .map(|column| column.unwrap_or_else(|| tags_map(tags.as_deref(), rows)))
            .collect();
        let batch = RecordBatch::try_new(self.dataset.file_schema(), columns)
            .map_err(|e| DecodeError::Shape(format!("a converted part is not the lake's: {e}")))?;
        Ok((batch, rounded))
    }

    /// Reads column `from` as text cells by the rules of a CSV cell, into lake field `i`.
    fn parse(
        &self,
        i: usize,
        from: &ArrayRef,
        first: u64,
        rounded: &mut u64,
    ) -> Result<ArrayRef, DecodeError> {
        let field = &self.fields[i];
        let texts =
            arrow::compute::cast(from, &DataType::Utf8).map_err(|e| DecodeError::Value {
                row: first + 1,
                field: self.source_headers[i].clone(),
                value: from.data_type().to_string(),
                reason: format!("a column of this type cannot be read: {e}"),
            })?;
        let texts = texts.as_string::<i32>();
        let mut builder = Builder::new(field.kind, texts.len());
        for row in 0..texts.len() {
            let text = Some(texts.value(row))
                .filter(|t| texts.is_valid(row) && !t.is_empty() && *t != "NULL");
            let text = match text {
                Some(t) if field.col == Col::Tags => Some(tags_text(t)),
                Some(t) => Some(std::borrow::Cow::Borrowed(t)),
                None => None,
            };
            let value = match &text {
                Some(t) => Scalar::Str(std::borrow::Cow::Borrowed(t.as_ref())),
                None => Scalar::Null,
            };
            append(&mut builder, field.kind, &value, rounded).map_err(|reason| {
                DecodeError::Value {
                    row: first + row as u64 + 1,
                    field: self.source_headers[i].clone(),
                    value: text.as_deref().unwrap_or("").chars().take(80).collect(),
                    reason,
                }
            })?;
        }
        Ok(builder.finish())
    }
}

/// How a column of type `from` becomes lake field `field`.
fn conversion(field: &Field, from: &DataType) -> Conversion {
    use DataType::*;
    let integer = matches!(from, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32);
    match field.kind {
        Kind::Text | Kind::Json | Kind::Structured
            if matches!(from, Utf8 | LargeUtf8 | Utf8View) =>
        {
            Conversion::Text
        }
        Kind::Decimal => match from {
            Decimal128(_, scale) => Conversion::Rescale(*scale),
            _ if integer => Conversion::Cast,
            _ => Conversion::Parse,
        },
        Kind::Int64 if integer => Conversion::Cast,
        Kind::Date if *from == Date32 => Conversion::Cast,
        Kind::Timestamp => match from {
            Timestamp(TimeUnit::Second | TimeUnit::Millisecond | TimeUnit::Microsecond, tz)
                if tz.as_deref().is_none_or(is_utc) =>
            {
                Conversion::Cast
            }
            _ => Conversion::Parse,
        },
        Kind::Bool if *from == Boolean => Conversion::Cast,
        _ => Conversion::Parse,
    }
}

/// Whether a time zone is UTC, as Parquet writers name it.
fn is_utc(tz: &str) -> bool {
    matches!(tz, "UTC" | "utc" | "+00:00" | "Z" | "Etc/UTC")
}

/// Text as the lake holds it: the empty string and `NULL` are null, as they are in a CSV.
/// (Found from the offsets: arrow's `eq` with a scalar compares every value's bytes.)
fn text(from: &ArrayRef) -> ArrayRef {
    let strings = arrow::compute::cast(from, &DataType::Utf8).expect("strings cast to Utf8");
    let strings: &StringArray = strings.as_string::<i32>();
    let offsets = strings.value_offsets();
    let bytes = strings.value_data();
    let blank = BooleanBuffer::collect_bool(strings.len(), |i| {
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        start == end || &bytes[start..end] == b"NULL"
    });
    if blank.count_set_bits() == 0 {
        return Arc::new(strings.clone());
    }
    nullif::nullif(strings, &BooleanArray::new(blank, None)).expect("same lengths")
}

/// A decimal column of scale `scale` at the lake's scale, rounding half to even as the text
/// path does (and counting the values that lost digits); None when a value would overflow
/// the lake's precision, so that the text path names it.
fn rescale(from: &ArrayRef, scale: i8, rounded: &mut u64) -> Option<ArrayRef> {
    let values = from.as_primitive::<Decimal128Type>();
    let limit = 10i128.pow(DECIMAL_PRECISION as u32);
    let shift = i32::from(DECIMAL_SCALE) - i32::from(scale);
    let out: Decimal128Array = if shift >= 0 {
        let factor = 10i128.checked_pow(shift as u32)?;
        values
            .try_unary(|v| {
                v.checked_mul(factor)
                    .filter(|m| m.unsigned_abs() < limit as u128)
                    .ok_or(arrow::error::ArrowError::ComputeError(String::new()))
            })
            .ok()?
    } else {
        let Some(divisor) = 10i128.checked_pow(shift.unsigned_abs()) else {
            // More places than an i128 has digits: every value is below the lake's scale.
            *rounded += values.iter().flatten().filter(|v| *v != 0).count() as u64;
            return Some(Arc::new(
                values
                    .unary::<_, Decimal128Type>(|_| 0)
                    .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
                    .ok()?,
            ));
        };
        let divisor = divisor as u128;
        let out = values.unary(|v| {
            let (quotient, remainder) = (v.unsigned_abs() / divisor, v.unsigned_abs() % divisor);
            let half = divisor / 2;
            let up = remainder > half || (remainder == half && quotient % 2 == 1);
            let magnitude = (quotient + u128::from(up)) as i128;
            if v < 0 { -magnitude } else { magnitude }
        });
        let lost = values
            .iter()
            .flatten()
            .filter(|v| v.unsigned_abs() % divisor != 0)
            .count() as u64;
        *rounded += lost;
        out
    };
    out.with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
        .ok()
        .map(|a| Arc::new(a) as ArrayRef)
}

/// The tags map of each row, parsed from the tags text as the text path parses it.
fn tags_map(tags: Option<&dyn Array>, rows: usize) -> ArrayRef {
    let mut builder = Builder::new(Kind::TagsMap, rows);
    let Builder::Map(map) = &mut builder else {
        unreachable!("the tags map's builder is a map")
    };
    let tags = tags.map(|t| t.as_string::<i32>());
    for row in 0..rows {
        let text = tags.filter(|t| t.is_valid(row)).map(|t| t.value(row));
        append_tags(map, text);
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::table::TableDecoder;
    use arrow::array::{
        BooleanArray, Date32Array, Float64Array, Int64Array, LargeStringArray, StringViewArray,
        TimestampMillisecondArray, TimestampNanosecondArray,
    };
    use arrow::datatypes::{Field as ArrowField, Schema};

    /// Converts typed columns, and decodes the text a CSV of the same values holds; the two
    /// batches must be equal, and so must the decimals rounded.
    fn same_as_csv(dataset: Dataset, columns: Vec<(&str, ArrayRef, Vec<&str>)>) {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(h, a, _)| ArrowField::new(*h, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let typed = RecordBatch::try_new(
            schema.clone(),
            columns.iter().map(|(_, a, _)| a.clone()).collect(),
        )
        .unwrap();
        let headers: Vec<&str> = columns.iter().map(|(h, _, _)| *h).collect();
        let mut csv = TableDecoder::new(dataset, &headers);
        for row in 0..typed.num_rows() {
            let cells: Vec<&str> = columns.iter().map(|(_, _, cells)| cells[row]).collect();
            csv.push_record(&cells).unwrap();
        }
        let want_rounded = csv.rounded();
        let want = csv.finish().unwrap();
        let (got, rounded) = TypedTable::new(dataset, &schema)
            .convert(&typed, 0)
            .unwrap();
        for (i, field) in want.schema().fields().iter().enumerate() {
            assert_eq!(
                got.column(i).as_ref(),
                want.column(i).as_ref(),
                "{}",
                field.name()
            );
        }
        assert_eq!(rounded, want_rounded);
    }

    fn decimals(values: &[Option<i128>], precision: u8, scale: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(precision, scale)
                .unwrap(),
        )
    }

    #[test]
    fn typed_columns_read_as_their_csv_text_would() {
        same_as_csv(
            Dataset::CostDetails,
            vec![
                // Doubles as the CSV prints them: their shortest text, exponents included.
                (
                    "CostInBillingCurrency",
                    Arc::new(Float64Array::from(vec![
                        Some(0.000011139),
                        Some(1e-7),
                        Some(123.456),
                        None,
                        Some(-2.5e-13),
                        Some(0.1),
                    ])),
                    vec!["0.000011139", "1e-7", "123.456", "", "-2.5e-13", "0.1"],
                ),
                // Decimals of a larger scale, rounded half to even, ties both ways.
                (
                    "Quantity",
                    decimals(
                        &[Some(125), Some(135), Some(-125), Some(1), None, Some(10)],
                        20,
                        13,
                    ),
                    vec![
                        "0.0000000000125",
                        "0.0000000000135",
                        "-0.0000000000125",
                        "0.0000000000001",
                        "",
                        "0.0000000000010",
                    ],
                ),
                // A smaller scale, and integers, widened.
                (
                    "UnitPrice",
                    decimals(
                        &[Some(12345), Some(-1), None, Some(0), Some(7), Some(99)],
                        9,
                        4,
                    ),
                    vec!["1.2345", "-0.0001", "", "0", "0.0007", "0.0099"],
                ),
                (
                    "EffectivePrice",
                    Arc::new(Int64Array::from(vec![
                        Some(3),
                        Some(-4),
                        None,
                        Some(0),
                        Some(i64::MAX),
                        Some(1),
                    ])),
                    vec!["3", "-4", "", "0", "9223372036854775807", "1"],
                ),
                // Text: the empty string and NULL are null, as in a CSV.
                (
                    "SubscriptionId",
                    Arc::new(StringViewArray::from(vec![
                        Some("abc"),
                        Some(""),
                        Some("NULL"),
                        None,
                        Some(" x "),
                        Some("null"),
                    ])),
                    vec!["abc", "", "NULL", "", " x ", "null"],
                ),
                // An id written as a number is kept as its text.
                (
                    "BillingAccountId",
                    Arc::new(Int64Array::from(vec![
                        Some(8611537),
                        None,
                        Some(-1),
                        Some(0),
                        Some(1),
                        Some(2),
                    ])),
                    vec!["8611537", "", "-1", "0", "1", "2"],
                ),
                (
                    "Date",
                    Arc::new(Date32Array::from(vec![
                        Some(19621),
                        Some(0),
                        None,
                        Some(-1),
                        Some(19622),
                        Some(19623),
                    ])),
                    vec![
                        "2023-09-21",
                        "1970-01-01",
                        "",
                        "1969-12-31",
                        "09/22/2023",
                        "2023-09-23",
                    ],
                ),
                (
                    "IsAzureCreditEligible",
                    Arc::new(BooleanArray::from(vec![
                        Some(true),
                        Some(false),
                        None,
                        Some(true),
                        Some(false),
                        Some(true),
                    ])),
                    vec!["True", "false", "", "1", "0", "true"],
                ),
                // Tags without their braces, as EA exports print them, large strings.
                (
                    "Tags",
                    Arc::new(LargeStringArray::from(vec![
                        Some("\"env\": \"prod\""),
                        Some("{\"a\":\"b\"}"),
                        None,
                        Some(""),
                        Some("not json"),
                        Some("\"Env\": \"x\",\"env\": \"y\""),
                    ])),
                    vec![
                        "\"env\": \"prod\"",
                        "{\"a\":\"b\"}",
                        "",
                        "",
                        "not json",
                        "\"Env\": \"x\",\"env\": \"y\"",
                    ],
                ),
            ],
        );
        // Instants: milliseconds without a zone (UTC), nanoseconds read as their text.
        same_as_csv(
            Dataset::FocusCosts,
            vec![
                (
                    "ChargePeriodStart",
                    Arc::new(TimestampMillisecondArray::from(vec![
                        Some(1_695_254_400_000),
                        None,
                        Some(1_695_254_400_123),
                    ])),
                    vec!["2023-09-21T00:00:00Z", "", "2023-09-21T00:00:00.123"],
                ),
                (
                    "ChargePeriodEnd",
                    Arc::new(
                        TimestampNanosecondArray::from(vec![
                            Some(1_695_340_800_000_000_000),
                            Some(1_695_340_800_000_001_999),
                            None,
                        ])
                        .with_timezone("UTC"),
                    ),
                    vec!["2023-09-22T00:00:00Z", "2023-09-22T00:00:00.000001999Z", ""],
                ),
            ],
        );
    }

    #[test]
    fn a_bad_value_names_its_row_and_header() {
        let schema = Arc::new(Schema::new(vec![ArrowField::new(
            "CostInBillingCurrency",
            DataType::Utf8,
            true,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec!["1.5", "1,5"]))],
        )
        .unwrap();
        let err = TypedTable::new(Dataset::CostDetails, &schema)
            .convert(&batch, 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 12") && err.contains("`CostInBillingCurrency`"),
            "{err}"
        );
    }
}
