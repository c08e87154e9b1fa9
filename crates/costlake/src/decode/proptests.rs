//! Property tests of the two record finders that every byte of input passes through: the JSON
//! row scanner and the CSV record splitter. The same input, split at every chunk boundary, must
//! give what `serde_json` and the `csv` crate read from it whole; cut short or mutated, it must
//! give an error or fewer rows, never a panic.

use proptest::prelude::*;

use super::DecodeError;
use super::RowScanner;
use super::csv::CsvSplitter;

fn cell() -> impl Strategy<Value = String> {
    "[a-z0-9,\"\\n\\r \\{\\}\\[\\]\\\\é]{0,6}"
}

fn json_rows() -> impl Strategy<Value = Vec<serde_json::Value>> {
    prop::collection::vec(
        prop::collection::btree_map("[a-zA-Z]{1,5}", cell(), 0..4).prop_map(|m| {
            serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, v.into())).collect())
        }),
        0..5,
    )
}

/// The rows the scanner finds in `chunks`, parsed, or its error.
fn scan(chunks: &[&[u8]]) -> Result<Vec<serde_json::Value>, DecodeError> {
    let mut scanner = RowScanner::new();
    let mut rows = Vec::new();
    for chunk in chunks {
        scanner.feed(chunk, |row: &[u8]| {
            rows.push(serde_json::from_slice(row).map_err(|e| DecodeError::Shape(e.to_string()))?);
            Ok::<_, DecodeError>(())
        })?;
    }
    scanner.finish()?;
    Ok(rows)
}

fn split(chunks: &[&[u8]]) -> Result<Vec<Vec<String>>, DecodeError> {
    let mut splitter = CsvSplitter::new();
    let mut out = Vec::new();
    let mut take = |cells: &[&str]| {
        out.push(cells.iter().map(|c| c.to_string()).collect());
        Ok::<_, DecodeError>(())
    };
    for chunk in chunks {
        splitter.feed(chunk, &mut take)?;
    }
    splitter.finish(&mut take)?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn json_rows_are_found_at_every_chunk_boundary(rows in json_rows(), bare in any::<bool>()) {
        let array = serde_json::Value::Array(rows.clone());
        let text = if bare {
            serde_json::to_vec(&array).unwrap()
        } else {
            serde_json::to_vec(&serde_json::json!({"id": "x", "data": array, "nextLink": null}))
                .unwrap()
        };
        prop_assert_eq!(&scan(&[&text]).unwrap(), &rows);
        for at in 0..=text.len() {
            let (a, b) = text.split_at(at);
            prop_assert_eq!(&scan(&[a, b]).unwrap(), &rows, "split at {}", at);
        }
    }

    #[test]
    fn cut_or_mutated_json_never_panics(rows in json_rows(), cut in any::<prop::sample::Index>(),
                                       flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let text = serde_json::to_vec(&serde_json::json!({"data": rows.clone()})).unwrap();
        let at = cut.index(text.len() + 1);
        if let Ok(found) = scan(&[&text[..at]]) {
            prop_assert!(found.len() <= rows.len());
        }
        let mut mutated = text.clone();
        mutated[flip.index(text.len())] = byte;
        let _ = scan(&[&mutated]);
    }

    #[test]
    fn csv_records_match_the_csv_crate_at_every_chunk_boundary(
        records in prop::collection::vec(prop::collection::vec(cell(), 1..4), 1..5),
        crlf in any::<bool>(),
    ) {
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        for r in &records {
            writer.write_record(r).unwrap();
        }
        let text = writer.into_inner().unwrap();
        let expected: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&text[..])
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        for at in 0..=text.len() {
            let (a, b) = text.split_at(at);
            prop_assert_eq!(&split(&[a, b]).unwrap(), &expected, "split at {}", at);
        }
    }

    #[test]
    fn cut_csv_never_panics(records in prop::collection::vec(prop::collection::vec(cell(), 1..4), 1..5),
                            cut in any::<prop::sample::Index>()) {
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        for r in &records {
            writer.write_record(r).unwrap();
        }
        let text = writer.into_inner().unwrap();
        let _ = split(&[&text[..cut.index(text.len() + 1)]]);
    }
}
