//! The decoders against each other and against serde_json: rows split at every chunk
//! boundary, values read exactly, fast date paths equal to chrono's.

use std::sync::Arc;

use arrow::array::{MapBuilder, StringBuilder};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;

use super::columns::{Scalar, append_tags};
use super::json::parse_object;
use super::values::*;
use super::*;
use crate::memory::MemoryBudget;
use crate::model::Dataset;
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
        let theirs: serde_json::Map<String, serde_json::Value> = serde_json::from_str(row).unwrap();
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
                (Scalar::Nested(n), serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {
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
            MemoryBudget::default(),
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

        let mut d = ParallelDecoder::with_format(
            Dataset::CostDetails,
            RowFormat::Csv(headers),
            8,
            MemoryBudget::default(),
        );
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
    // The quick look for the link skips the rows' strings without copying them.
    assert_eq!(
        RowScanner::next_link_of(page.as_bytes())
            .unwrap()
            .as_deref(),
        Some("https://h/v3/x?skiptoken=1")
    );
    let tricky = r#"{"data":[{"a":"\"],\"nextLink\":\"https://evil\"}"}],"nextLink":null}"#;
    assert_eq!(RowScanner::next_link_of(tricky.as_bytes()).unwrap(), None);
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

/// Usage rows whose strings and nested values hold what a cut between rows looks like
/// (`},{`, `}, {`), escaped quotes and backslashes before them, and a row longer than the
/// others.
fn tricky_rows() -> Vec<String> {
    let rows = [
        r#"{"date":"2024-01-01","cost":1.5,"meterId":"a},{\"b"}"#,
        r#"{"date":"2024-01-02","cost":"2.25","tags":"{\"k\":\"},{\"}","additionalInfo":{"x":[{"a":1},{"b":2}]}}"#,
        r#" {"date":"2024-01-03","cost":0,"meterId":"\\"} "#,
        r#"{"date":"2024-01-04","cost":-7E-3,"instanceId":"}, {\"date\":\"2024-01-09\",\"cost\":9}"}"#,
        r#"{"cost":3,"date":"2024-01-05","meterId":"ü €, {","tags":"{}"}"#,
    ];
    let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    rows.push(format!(
        r#"{{"date":"2024-01-06","cost":1,"meterId":"{}"}}"#,
        "},{".repeat(40)
    ));
    rows
}

/// Decodes a JSON array through `feed_array`, the text given in pieces of `piece` bytes and
/// cut into chunks of about `chunk` bytes.
async fn decode_array(text: &[u8], piece: usize, chunk: usize) -> Result<RecordBatch, DecodeError> {
    let mut d = ParallelDecoder::with_format(
        Dataset::UsageDetails,
        RowFormat::JsonArray,
        8192,
        MemoryBudget::default(),
    )
    .with_chunk_bytes(chunk);
    let mut batches = Vec::new();
    for bytes in text.chunks(piece) {
        d.feed_array(bytes)?;
        while let Some(batch) = d.next_batch(false).await {
            batches.push(batch?);
        }
    }
    while let Some(batch) = d.next_batch(true).await {
        batches.push(batch?);
    }
    let schema = Dataset::UsageDetails.file_schema();
    assert_eq!(
        d.rows() as usize,
        batches.iter().map(|b| b.num_rows()).sum::<usize>()
    );
    Ok(arrow::compute::concat_batches(&schema, &batches).unwrap())
}

/// The rows of a JSON array cut into chunks at every byte (wherever a cut is tried, the
/// pattern of a boundary inside strings and nested arrays included) decode to the same batch
/// as each row decoded on its own; errors name the same row wherever the cuts fall.
#[test]
fn json_array_rows_split_at_every_chunk_boundary_decode_the_same() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let rows = tricky_rows();
        let mut one_by_one = RowDecoder::new(Dataset::UsageDetails);
        for row in &rows {
            one_by_one.push_row(row.as_bytes()).unwrap();
        }
        let want = one_by_one.finish().unwrap();
        let text = format!("\u{feff} [{}]\n ", rows.join(",\n"));
        let text = text.as_bytes();
        for chunk in 1..=text.len() + 1 {
            for piece in [1, 7, text.len()] {
                let got = decode_array(text, piece, chunk).await.unwrap();
                assert_eq!(got, want, "chunks of {chunk} bytes, pieces of {piece}");
            }
        }
        // A row that is wrong is named by its number wherever the cuts fall.
        let mut bad = rows.clone();
        bad.insert(4, r#"{"date":"2024-01-07","cost":"1,5"}"#.to_string());
        let text = format!("[{}]", bad.join(","));
        for chunk in 1..=text.len() {
            let err = decode_array(text.as_bytes(), 5, chunk)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("row 4, field `cost`"),
                "chunks of {chunk}: {err}"
            );
        }
        // Not an array, an array cut short, text after it, a value that is not a row.
        for (text, said) in [
            (r#"{"data":[]}"#, "expected a JSON array"),
            (
                r#"[{"date":"2024-01-01","cost":1},"#,
                "ended before its JSON did",
            ),
            (
                r#"[{"date":"2024-01-01","cost":1}"#,
                "ended before its JSON did",
            ),
            (
                r#"[{"date":"2024-01-01","cost":"},{"#,
                "ended before its JSON did",
            ),
            ("", "ended before its JSON did"),
            (
                r#"[{"date":"2024-01-01","cost":1}] x"#,
                "text after the end",
            ),
            (
                r#"[{"date":"2024-01-01","cost":1},,{"cost":2}]"#,
                "expected a row object",
            ),
            (
                r#"[{"date":"2024-01-01","cost":1},]"#,
                "expected a row object",
            ),
            (
                r#"[{"date":"2024-01-01","cost":1} {"cost":2}]"#,
                "expected `,` or `]`",
            ),
            ("[1]", "expected a row object"),
        ] {
            for chunk in 1..=text.len().max(1) {
                let err = decode_array(text.as_bytes(), 3, chunk).await.unwrap_err();
                assert!(err.to_string().contains(said), "{text} ({chunk}): {err}");
            }
        }
        assert_eq!(decode_array(b" [ ] ", 1, 1).await.unwrap().num_rows(), 0);
    });
}

/// A row that never ends is refused once it passes the longest row. Each piece is searched for
/// a cut only where it is new: searching all the bytes again per piece would make this test
/// take hours.
#[test]
fn a_json_array_row_without_end_is_refused_past_the_longest_row() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut d = ParallelDecoder::with_format(
            Dataset::UsageDetails,
            RowFormat::JsonArray,
            8192,
            MemoryBudget::default(),
        );
        d.feed_array(br#"[{"date":"2024-01-01","meterId":""#)
            .unwrap();
        let piece = vec![b'}'; 16 << 10];
        let mut fed = 0;
        let err = loop {
            d.feed_array(&piece).unwrap();
            fed += piece.len();
            assert!(fed < 2 * json_scanner::MAX_ROW_BYTES, "never refused");
            if let Some(Err(e)) = d.next_batch(false).await {
                break e;
            }
        };
        assert!(err.to_string().contains("without ending"), "{err}");
        assert!(fed + 64 > json_scanner::MAX_ROW_BYTES);
    });
}
