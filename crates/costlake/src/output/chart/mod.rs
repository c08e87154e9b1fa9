//! Charts of a query result: one label (or date) column against one or more numeric columns,
//! drawn as bars or lines in the terminal, or as an SVG or PNG image for a report.
//!
//! The images share one layout: [`Chart::scene`] places rectangles, lines and text in pixels
//! (`scene`, which also writes SVG), and the PNG writer rasterises the same shapes (`png`);
//! the terminal drawing is `terminal`.

mod png;
mod scene;
mod terminal;

pub(crate) use scene::xml_escape;

use std::str::FromStr;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::{OutputError, cell};

/// Bars or lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bar,
    Line,
}

/// What to draw, as a saved query's `-- chart:` line or `\chart` arguments give it:
/// `line x=date y=cost,trailing_mean`. Whatever is left out is chosen from the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartSpec {
    pub kind: Option<Kind>,
    pub x: Option<String>,
    pub y: Vec<String>,
}

impl FromStr for ChartSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<ChartSpec, String> {
        let mut spec = ChartSpec::default();
        for word in s.split_whitespace() {
            match word.to_ascii_lowercase().as_str() {
                "bar" | "bars" => spec.kind = Some(Kind::Bar),
                "line" | "lines" => spec.kind = Some(Kind::Line),
                _ => {
                    if let Some(x) = word.strip_prefix("x=") {
                        spec.x = Some(x.to_string());
                    } else if let Some(y) = word.strip_prefix("y=") {
                        spec.y = y.split(',').map(str::to_string).collect();
                    } else {
                        return Err(format!(
                            "'{word}' is not part of a chart: write [bar|line] [x=COLUMN] [y=COLUMN,...]"
                        ));
                    }
                }
            }
        }
        Ok(spec)
    }
}

impl ChartSpec {
    /// This spec, with what it leaves out taken from `fallback`.
    pub fn or(&self, fallback: &ChartSpec) -> ChartSpec {
        ChartSpec {
            kind: self.kind.or(fallback.kind),
            x: self.x.clone().or_else(|| fallback.x.clone()),
            y: if self.y.is_empty() {
                fallback.y.clone()
            } else {
                self.y.clone()
            },
        }
    }
}

/// The most points a chart draws; more are counted and left out (aggregate first).
pub const POINT_LIMIT: usize = 2_000;

/// One numeric column: the values to draw, and their exact text for labels.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub texts: Vec<String>,
}

/// A result, ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub kind: Kind,
    /// The label column's name.
    pub x: String,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
}

fn is_label_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
    )
}

fn is_number_type(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

impl Chart {
    /// Picks the columns (the spec's, else the first text or date column against the decimal
    /// columns, which in this lake are the money) and reads at most `POINT_LIMIT` rows.
    pub fn from_batches(
        title: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        spec: &ChartSpec,
    ) -> Result<Chart, OutputError> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let find = |name: &str| {
            schema.index_of(name).map_err(|_| {
                OutputError::Chart(format!(
                    "the result has no column '{name}'; it has {}",
                    names.join(", ")
                ))
            })
        };
        let x = match &spec.x {
            Some(name) => find(name)?,
            None => schema
                .fields()
                .iter()
                .position(|f| is_label_type(f.data_type()))
                .unwrap_or(0),
        };
        let y: Vec<usize> = if spec.y.is_empty() {
            let numeric = |decimal_only: bool| -> Vec<usize> {
                schema
                    .fields()
                    .iter()
                    .enumerate()
                    .filter(|(i, f)| {
                        *i != x
                            && f.name() != "rank"
                            && if decimal_only {
                                matches!(f.data_type(), DataType::Decimal128(..))
                            } else {
                                is_number_type(f.data_type())
                            }
                    })
                    .map(|(i, _)| i)
                    .collect()
            };
            let decimals = numeric(true);
            if decimals.is_empty() {
                numeric(false)
            } else {
                decimals
            }
        } else {
            spec.y.iter().map(|n| find(n)).collect::<Result<_, _>>()?
        };
        if y.is_empty() {
            return Err(OutputError::Chart(format!(
                "nothing to chart: no numeric column besides '{}' (columns: {})",
                names[x],
                names.join(", ")
            )));
        }
        for &i in &y {
            if !is_number_type(schema.field(i).data_type()) {
                return Err(OutputError::Chart(format!(
                    "column '{}' is {}, not a number",
                    names[i],
                    schema.field(i).data_type()
                )));
            }
        }
        let mut labels = Vec::new();
        let mut series: Vec<Series> = y
            .iter()
            .map(|&i| Series {
                name: names[i].to_string(),
                values: Vec::new(),
                texts: Vec::new(),
            })
            .collect();
        'batches: for batch in batches {
            let floats: Vec<_> = y
                .iter()
                .map(|&i| arrow::compute::cast(batch.column(i), &DataType::Float64))
                .collect::<Result<_, _>>()?;
            for row in 0..batch.num_rows() {
                if labels.len() >= POINT_LIMIT {
                    break 'batches;
                }
                labels.push(cell(batch.column(x).as_ref(), row)?.unwrap_or_default());
                for (k, s) in series.iter_mut().enumerate() {
                    let f = floats[k].as_primitive::<Float64Type>();
                    s.values.push(
                        (!f.is_null(row))
                            .then(|| f.value(row))
                            .filter(|v| v.is_finite()),
                    );
                    s.texts
                        .push(cell(batch.column(y[k]).as_ref(), row)?.unwrap_or_default());
                }
            }
        }
        let periods = labels.len() > 2
            && labels
                .iter()
                .all(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()));
        let kind = spec.kind.unwrap_or(
            if periods
                || matches!(
                    schema.field(x).data_type(),
                    DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
                )
            {
                Kind::Line
            } else {
                Kind::Bar
            },
        );
        Ok(Chart {
            title: title.to_string(),
            kind,
            x: names[x].to_string(),
            labels,
            series,
        })
    }

    /// The chart in words, for readers who cannot see it: what is drawn against what, and
    /// each series' lowest and highest point.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            Kind::Bar => "Bar chart",
            Kind::Line => "Line chart",
        };
        let names: Vec<&str> = self.series.iter().map(|s| s.name.as_str()).collect();
        let mut out = format!(
            "{kind} of {} by {}, {} {}",
            names.join(" and "),
            self.x,
            self.labels.len(),
            if self.labels.len() == 1 {
                "point"
            } else {
                "points"
            }
        );
        for s in &self.series {
            let points = || {
                s.values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some((i, (*v)?)))
            };
            let low = points().min_by(|a, b| a.1.total_cmp(&b.1));
            let high = points().max_by(|a, b| a.1.total_cmp(&b.1));
            if let (Some((lo, lv)), Some((hi, hv))) = (low, high) {
                out.push_str(&format!(
                    "; {}: lowest {} ({}), highest {} ({})",
                    s.name,
                    compact(lv),
                    self.labels[lo],
                    compact(hv),
                    self.labels[hi]
                ));
            }
        }
        out
    }

    /// The smallest and largest value drawn, always including zero for bars.
    fn range(&self) -> (f64, f64) {
        let values = self.series.iter().flat_map(|s| s.values.iter().flatten());
        let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if self.kind == Kind::Bar {
            (lo, hi) = (lo.min(0.0), hi.max(0.0));
        }
        if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
            hi = lo + 1.0;
        }
        (lo, hi)
    }
}

/// `text`, cut to `max` characters with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A number for an axis: `1.25M`, `830k`, `0.25`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (n, suffix) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if n.abs() >= 100.0 || n.fract().abs() < 1e-9 {
        format!("{n:.0}")
    } else if n.abs() >= 10.0 {
        format!("{n:.1}")
    } else {
        format!("{n:.2}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    let text = if text == "-0" { "0".into() } else { text };
    format!("{text}{suffix}")
}

/// Round axis ticks (steps of 1, 2 or 5 × 10ⁿ) covering `lo..hi`.
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn result() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("period", DataType::Utf8, false),
            Field::new("cost", DataType::Decimal128(38, 2), true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["202401", "202402", "202403"])),
                Arc::new(
                    Decimal128Array::from(vec![Some(100_000), None, Some(-25_050)])
                        .with_precision_and_scale(38, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn specs_parse_and_merge() {
        let spec: ChartSpec = "line x=date y=cost,trailing_mean".parse().unwrap();
        assert_eq!(spec.kind, Some(Kind::Line));
        assert_eq!(spec.y, ["cost", "trailing_mean"]);
        assert!("pie".parse::<ChartSpec>().is_err());
        let merged = ChartSpec {
            kind: Some(Kind::Bar),
            ..ChartSpec::default()
        }
        .or(&spec);
        assert_eq!(merged.kind, Some(Kind::Bar));
        assert_eq!(merged.x.as_deref(), Some("date"));
    }

    #[test]
    fn periods_draw_as_lines_and_nulls_leave_gaps() {
        let (schema, batch) = result();
        let chart = Chart::from_batches("t", &schema, &[batch], &ChartSpec::default()).unwrap();
        assert_eq!(chart.kind, Kind::Line);
        assert_eq!(chart.series[0].values, [Some(1000.0), None, Some(-250.5)]);
        assert_eq!(chart.series[0].texts[2], "-250.5");
        let text = chart.render_text(60);
        assert!(text.contains("202401") && text.contains('●'), "{text}");
        let bad = ChartSpec {
            y: vec!["nope".into()],
            ..ChartSpec::default()
        };
        assert!(Chart::from_batches("t", &schema, &[], &bad).is_err());
    }

    #[test]
    fn bars_keep_exact_text_and_images_encode() {
        let (schema, batch) = result();
        let spec: ChartSpec = "bar".parse().unwrap();
        let chart = Chart::from_batches("t", &schema, &[batch], &spec).unwrap();
        let text = chart.render_text(50);
        assert!(
            text.contains("█ 1000") && !text.contains('▒') && text.contains("-250.5"),
            "{text}"
        );
        let scene = chart.scene();
        assert!(scene.to_svg().starts_with("<svg"));
        let png = scene.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The CRC of IEND is the well-known constant.
        assert_eq!(&png[png.len() - 4..], [0xAE, 0x42, 0x60, 0x82]);
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(1_250_000.0), "1.25M");
        assert_eq!(compact(830_000.0), "830k");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(-0.0), "0");
        assert_eq!(nice_ticks(0.0, 93.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    }
}
