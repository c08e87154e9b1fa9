//! Results for eyes: an aligned table (numbers right-justified, decimals padded so their points
//! line up) and Markdown. A table given a terminal's width is fitted to it the way DuckDB's
//! CLI does: long text cells are shortened with an ellipsis, and when the columns still do not
//! fit, the middle ones are elided behind a `…` column. Numbers are never shortened. Widths are
//! measured in terminal columns (a CJK character takes two).

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use unicode_width::UnicodeWidthStr;

use super::{OutputError, cell, is_numeric};

/// A text column is not shortened below this many terminal columns.
const MIN_TEXT_WIDTH: usize = 12;
/// What stands for the elided columns, and ends a shortened cell.
const ELLIPSIS: &str = "…";

/// The cells of the kept rows, with decimal columns padded to a common number of places so
/// that points line up.
fn cells(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, OutputError> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut r = Vec::with_capacity(batch.num_columns());
            for column in batch.columns() {
                r.push(cell(column.as_ref(), row)?.unwrap_or_else(|| "NULL".into()));
            }
            rows.push(r);
        }
    }
    for (c, field) in schema.fields().iter().enumerate() {
        if !matches!(field.data_type(), DataType::Decimal128(..)) {
            continue;
        }
        let places = rows
            .iter()
            .map(|r| r[c].split_once('.').map_or(0, |(_, f)| f.len()))
            .max()
            .unwrap_or(0);
        for r in rows.iter_mut() {
            if r[c] == "NULL" || places == 0 {
                continue;
            }
            let have = r[c].split_once('.').map_or(0, |(_, f)| f.len());
            if have == 0 {
                r[c].push('.');
            }
            r[c].extend(std::iter::repeat_n('0', places - have));
        }
    }
    Ok(rows)
}

/// Terminal columns a text takes.
fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` shortened to at most `max` terminal columns, ending in an ellipsis when cut. The text is
/// measured whole as it grows: some characters (emoji with a variation selector) take more
/// room together than apart.
fn shorten(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let room = max.saturating_sub(width(ELLIPSIS));
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if width(&out) > room {
            out.pop();
            break;
        }
    }
    out.push_str(ELLIPSIS);
    out
}

/// A cell as one line: the control characters that would break the table's rows shown as
/// their escapes.
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\n', '\r', '\t']) {
        s.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t")
            .into()
    } else {
        s.into()
    }
}

/// Which columns are shown at what width, so that the table fits `max_width`.
struct Layout {
    /// Column index and width, in order; `None` is the marker of elided columns.
    shown: Vec<(Option<usize>, usize)>,
    elided: usize,
}

impl Layout {
    /// The width of a table with these column widths: `| a | b |`.
    fn total(widths: impl Iterator<Item = usize>) -> usize {
        widths.map(|w| w + 3).sum::<usize>() + 1
    }

    /// Fits columns of `natural` widths into `max_width`: each column may shrink to its
    /// `floor` (a text column to [`MIN_TEXT_WIDTH`], a number's to its widest value), then
    /// the middle columns are elided.
    fn fit(natural: &[usize], floor: &[usize], max_width: Option<usize>) -> Layout {
        let shown = |widths: Vec<usize>| Layout {
            shown: widths
                .into_iter()
                .enumerate()
                .map(|(c, w)| (Some(c), w))
                .collect(),
            elided: 0,
        };
        let Some(max) = max_width else {
            return shown(natural.to_vec());
        };
        if Layout::total(natural.iter().copied()) <= max {
            return shown(natural.to_vec());
        }
        // Shorten the wide columns to the largest common cap that fits.
        let capped = |cap: usize| -> Vec<usize> {
            natural
                .iter()
                .zip(floor)
                .map(|(&w, &least)| w.min(cap.max(least)))
                .collect()
        };
        let fits = |cap: usize| Layout::total(capped(cap).into_iter()) <= max;
        if fits(0) {
            // The widest cap that fits: the total only grows with the cap.
            let (mut lo, mut hi) = (0, natural.iter().copied().max().unwrap_or(0));
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if fits(mid) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return shown(capped(lo));
        }
        // Still too wide: keep columns from both ends, the first ones first, and mark the gap.
        let widths = capped(0);
        let marker = width(ELLIPSIS) + 3;
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let (mut lo, mut hi) = (0, widths.len());
        let mut used = 1 + marker;
        while lo < hi {
            let take_left = left.len() <= right.len();
            let c = if take_left { lo } else { hi - 1 };
            if used + widths[c] + 3 > max && !(left.is_empty() && right.is_empty()) {
                break;
            }
            used += widths[c] + 3;
            if take_left {
                left.push((Some(c), widths[c]));
                lo += 1;
            } else {
                right.push((Some(c), widths[c]));
                hi -= 1;
            }
        }
        let elided = hi - lo;
        let mut shown = left;
        if elided > 0 {
            shown.push((None, width(ELLIPSIS)));
        }
        shown.extend(right.into_iter().rev());
        Layout { shown, elided }
    }
}

/// An aligned table: numbers right-justified, text left; fitted to `max_width` terminal
/// columns when given.
pub fn render_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    max_width: Option<usize>,
) -> Result<String, OutputError> {
    let rows = cells(schema, batches)?;
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    let data: Vec<usize> = (0..names.len())
        .map(|c| {
            rows.iter()
                .map(|r| width(&one_line(&r[c])))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let natural: Vec<usize> = (0..names.len())
        .map(|c| data[c].max(width(names[c])))
        .collect();
    // A number is never shortened, but its header may be; text shortens to a minimum.
    let floor: Vec<usize> = (0..names.len())
        .map(|c| {
            if numeric[c] {
                data[c].max(width(names[c]).min(MIN_TEXT_WIDTH))
            } else {
                natural[c].min(MIN_TEXT_WIDTH)
            }
        })
        .collect();
    let layout = Layout::fit(&natural, &floor, max_width);
    let rule: String = layout
        .shown
        .iter()
        .map(|(_, w)| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |value: &dyn Fn(usize) -> String, header: bool| -> String {
        let mut s = String::new();
        for &(column, w) in &layout.shown {
            let (text, right) = match column {
                Some(c) => (shorten(&one_line(&value(c)), w), numeric[c] && !header),
                None => (ELLIPSIS.to_string(), false),
            };
            let pad = " ".repeat(w.saturating_sub(width(&text)));
            if right {
                s.push_str(&format!("| {pad}{text} "));
            } else {
                s.push_str(&format!("| {text}{pad} "));
            }
        }
        s + "|\n"
    };
    let mut out = rule.clone();
    out.push_str(&line(&|c| names[c].to_string(), true));
    out.push_str(&rule);
    for r in &rows {
        out.push_str(&line(&|c| r[c].clone(), false));
    }
    if !rows.is_empty() {
        out.push_str(&rule);
    }
    if layout.elided > 0 {
        out.push_str(&format!(
            "{} of {} columns shown; other formats show them all\n",
            names.len() - layout.elided,
            names.len()
        ));
    }
    Ok(out)
}

pub fn render_markdown(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String, OutputError> {
    let rows = cells(schema, batches)?;
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("|");
    for f in schema.fields() {
        out.push_str(&format!(" {} |", esc(f.name())));
    }
    out.push_str("\n|");
    for f in schema.fields() {
        out.push_str(if is_numeric(f.data_type()) {
            "---:|"
        } else {
            "---|"
        });
    }
    out.push('\n');
    for r in rows {
        out.push('|');
        for v in r {
            out.push_str(&format!(" {} |", esc(&v)));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sample_batch as batch;
    use arrow::array::{Decimal128Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn table_aligns_exact_decimals() {
        let b = batch();
        let text = render_table(&b.schema(), &[b], None).unwrap();
        assert!(text.contains("| a, \"b\" | 12.50 |"), "{text}");
        assert!(text.contains("| NULL   |  3.25 |"), "{text}");
    }

    /// Every line of `text` fits `max` terminal columns.
    fn fits(text: &str, max: usize) -> bool {
        text.lines().all(|l| width(l) <= max)
    }

    #[test]
    fn long_text_is_shortened_to_the_terminal_and_numbers_are_not() {
        let long = "/subscriptions/0000/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/vm-0001";
        let schema = Arc::new(Schema::new(vec![
            Field::new("resource", DataType::Utf8, false),
            Field::new("cost", DataType::Decimal128(38, 12), false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![long])),
                Arc::new(
                    Decimal128Array::from(vec![123_456_789_012_345_678_901])
                        .with_precision_and_scale(38, 12)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        let text = render_table(&schema, &[b], Some(60)).unwrap();
        assert!(fits(&text, 60), "{text}");
        assert!(text.contains("/subscriptions/0000/resour"), "{text}");
        assert!(text.contains('…'), "{text}");
        assert!(text.contains("123456789.012345678901"), "{text}");
    }

    #[test]
    fn wide_tables_elide_middle_columns_and_say_so() {
        let fields: Vec<Field> = (0..20)
            .map(|i| Field::new(format!("column_{i}"), DataType::Int64, false))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let columns = (0..20)
            .map(|i| Arc::new(Int64Array::from(vec![i as i64 * 1000])) as _)
            .collect();
        let b = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let text = render_table(&schema, std::slice::from_ref(&b), Some(80)).unwrap();
        assert!(fits(&text, 80), "{text}");
        assert!(
            text.contains("column_0 ") && text.contains("column_19"),
            "{text}"
        );
        assert!(text.contains("| … |"), "{text}");
        assert!(text.contains("of 20 columns shown"), "{text}");
        // Without a width everything is shown.
        let all = render_table(&schema, &[b], None).unwrap();
        assert!(all.contains("column_10") && !all.contains('…'));
    }

    #[test]
    fn headers_are_whole_when_the_table_fits() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "a_rather_long_header_for_a_number",
            DataType::Int64,
            false,
        )]));
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1]))])
            .unwrap();
        let text = render_table(&schema, &[b], Some(80)).unwrap();
        assert!(text.contains("a_rather_long_header_for_a_number"), "{text}");
    }

    /// Newlines, tabs and emoji in long cells neither break rows nor the arithmetic of widths.
    #[test]
    fn control_characters_and_emoji_keep_rows_whole() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("note", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let texts = [
            "line one\nline two\r\n\tand a tab, then more text to be shortened",
            "❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️❤️ love",
            "👩‍👩‍👧‍👦 family 👩‍👩‍👧‍👦 family 👩‍👩‍👧‍👦 family 👩‍👩‍👧‍👦 family",
        ];
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(texts.to_vec())),
                Arc::new(Int64Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        for max in [None, Some(20), Some(25), Some(31), Some(40)] {
            let text = render_table(&schema, std::slice::from_ref(&b), max).unwrap();
            assert_eq!(text.lines().count(), 7, "{text}");
            if let Some(max) = max {
                assert!(fits(&text, max), "{text}");
            }
        }
    }

    #[test]
    fn cjk_text_is_measured_in_terminal_columns() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["東京リージョン", "x"])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let text = render_table(&schema, std::slice::from_ref(&b), None).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| width(l) == width(lines[0])), "{text}");
        let long: String = "東京".repeat(30);
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![long.as_str(), "x"])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let text = render_table(&schema, &[b], Some(40)).unwrap();
        assert!(fits(&text, 40), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| width(l) == width(lines[0])), "{text}");
    }
}
