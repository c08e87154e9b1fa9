//! Charts of a query result: one label (or date) column against one or more numeric columns,
//! drawn as bars or lines in the terminal, or as an SVG or PNG image for a report.
//!
//! The images share one layout: [`Chart::scene`] places rectangles, lines and text in pixels,
//! and the SVG and PNG writers only differ in how they put those shapes on the page.

use std::fmt::Write as _;
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
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub texts: Vec<String>,
}

/// A result, ready to draw.
pub struct Chart {
    pub title: String,
    pub kind: Kind,
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
            labels,
            series,
        })
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

    /// The chart as text for a terminal `width` columns wide.
    pub fn render_text(&self, width: usize) -> String {
        let mut out = String::new();
        if self.labels.is_empty() {
            return "(no rows to chart)\n".into();
        }
        if self.series.len() > 1 {
            let legend: Vec<String> = self
                .series
                .iter()
                .enumerate()
                .map(|(k, s)| format!("{} {}", self.glyph(k), s.name))
                .collect();
            let _ = writeln!(out, "{}", legend.join("   "));
        }
        match self.kind {
            Kind::Bar => self.text_bars(width, &mut out),
            Kind::Line => self.text_lines(width, &mut out),
        }
        out
    }

    fn glyph(&self, k: usize) -> char {
        match self.kind {
            Kind::Bar => ['█', '▒', '░', '▓'][k % 4],
            Kind::Line => ['●', '○', '◆', '▲', '■'][k % 5],
        }
    }

    fn text_bars(&self, width: usize, out: &mut String) {
        let label_width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .min(32);
        let text_width = self
            .series
            .iter()
            .flat_map(|s| s.texts.iter().map(|t| t.chars().count()))
            .max()
            .unwrap_or(0);
        let bar_width = width.saturating_sub(label_width + text_width + 4).max(10);
        let (lo, hi) = self.range();
        let scale = bar_width as f64 / (hi - lo);
        let zero = (-lo * scale).round() as usize;
        for (i, label) in self.labels.iter().enumerate() {
            for (k, s) in self.series.iter().enumerate() {
                let shown = if k == 0 {
                    clip(label, label_width)
                } else {
                    String::new()
                };
                let mut bar = vec![' '; bar_width];
                if let Some(v) = s.values[i] {
                    let end = (((v - lo) * scale).round() as usize).min(bar_width);
                    let (a, b) = if end < zero { (end, zero) } else { (zero, end) };
                    for c in &mut bar[a..b] {
                        *c = self.glyph(k);
                    }
                }
                let bar: String = bar.into_iter().collect();
                let _ = writeln!(
                    out,
                    "{shown:<label_width$} │{} {}",
                    bar.trim_end(),
                    s.texts[i]
                );
            }
        }
    }

    fn text_lines(&self, width: usize, out: &mut String) {
        const HEIGHT: usize = 15;
        let (lo, hi) = self.range();
        let axis: Vec<String> = (0..HEIGHT)
            .map(|r| compact(hi - (hi - lo) * r as f64 / (HEIGHT - 1) as f64))
            .collect();
        let axis_width = axis.iter().map(|a| a.len()).max().unwrap_or(0);
        let n = self.labels.len();
        // As wide as the terminal allows, up to three columns a point (but room for a shape).
        let plot_width = width
            .saturating_sub(axis_width + 2)
            .min((n * 3).max(60))
            .max(10);
        let col = |i: usize| {
            if n == 1 {
                0
            } else {
                i * (plot_width - 1) / (n - 1)
            }
        };
        let row = |v: f64| ((hi - v) / (hi - lo) * (HEIGHT - 1) as f64).round() as usize;
        let mut grid = vec![vec![' '; plot_width]; HEIGHT];
        for (k, s) in self.series.iter().enumerate() {
            // Dots between the points, then the points over them.
            for i in 1..n {
                if let (Some(a), Some(b)) = (s.values[i - 1], s.values[i]) {
                    let (c0, c1) = (col(i - 1), col(i));
                    for step in 1..c1 - c0 {
                        let v = a + (b - a) * step as f64 / (c1 - c0) as f64;
                        grid[row(v).min(HEIGHT - 1)][c0 + step] = '·';
                    }
                }
            }
            for i in 0..n {
                if let Some(v) = s.values[i] {
                    grid[row(v).min(HEIGHT - 1)][col(i)] = self.glyph(k);
                }
            }
        }
        for (r, line) in grid.iter().enumerate() {
            let label = if r % 7 == 0 || r == HEIGHT - 1 {
                axis[r].as_str()
            } else {
                ""
            };
            let line: String = line.iter().collect();
            let _ = writeln!(out, "{label:>axis_width$} ┤{}", line.trim_end());
        }
        let _ = writeln!(out, "{:>axis_width$} └{}", "", "─".repeat(plot_width));
        // First, middle and last labels under their points.
        let mut under = vec![' '; plot_width + 40];
        for i in [0, n / 2, n - 1] {
            let text: Vec<char> = self.labels[i].chars().collect();
            let start = col(i).saturating_sub(text.len() / 2).min(plot_width);
            if under[start..]
                .iter()
                .take(text.len() + 1)
                .all(|c| *c == ' ')
            {
                under[start..start + text.len()].copy_from_slice(&text);
            }
        }
        let under: String = under.into_iter().collect();
        let _ = writeln!(out, "{:>axis_width$}  {}", "", under.trim_end());
    }

    /// The chart laid out as shapes on a canvas, for the image writers.
    pub fn scene(&self) -> Scene {
        match self.kind {
            Kind::Bar => self.bar_scene(),
            Kind::Line => self.line_scene(),
        }
    }

    fn frame(&self, width: f64, height: f64) -> Scene {
        let mut scene = Scene {
            width,
            height,
            shapes: vec![Shape::Rect {
                x: 0.0,
                y: 0.0,
                w: width,
                h: height,
                color: WHITE,
            }],
        };
        scene.text(16.0, 20.0, &self.title, 2, Anchor::Start, INK);
        // The legend, under the title.
        let mut x = 16.0;
        for (k, s) in self.series.iter().enumerate() {
            scene.shapes.push(Shape::Rect {
                x,
                y: 38.0,
                w: 12.0,
                h: 12.0,
                color: PALETTE[k % PALETTE.len()],
            });
            scene.text(x + 18.0, 44.0, &s.name, 1, Anchor::Start, INK);
            x += 18.0 + 8.0 * s.name.chars().count() as f64 + 24.0;
        }
        scene
    }

    fn line_scene(&self) -> Scene {
        let (width, height) = (960.0, 480.0);
        let mut scene = self.frame(width, height);
        let (lo, hi) = self.range();
        let ticks = nice_ticks(lo, hi);
        let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
        let tick_width = ticks.iter().map(|t| compact(*t).len()).max().unwrap_or(1) as f64;
        let (x0, x1, y0, y1) = (24.0 + 8.0 * tick_width, width - 24.0, 70.0, height - 50.0);
        let y_of = |v: f64| y1 - (v - lo) / (hi - lo) * (y1 - y0);
        for t in &ticks {
            let y = y_of(*t).round();
            scene.line(vec![(x0, y), (x1, y)], 1.0, GRID);
            scene.text(x0 - 8.0, y, &compact(*t), 1, Anchor::End, INK);
        }
        let n = self.labels.len();
        let x_of = |i: usize| {
            if n <= 1 {
                (x0 + x1) / 2.0
            } else {
                x0 + (x1 - x0) * i as f64 / (n - 1) as f64
            }
        };
        let label_chars = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1);
        let room = ((x1 - x0) / (8.0 * label_chars as f64 + 16.0)).max(1.0) as usize;
        let step = n.div_ceil(room).max(1);
        for i in (0..n).step_by(step) {
            scene.line(vec![(x_of(i), y1), (x_of(i), y1 + 5.0)], 1.0, INK);
            scene.text(x_of(i), y1 + 18.0, &self.labels[i], 1, Anchor::Middle, INK);
        }
        scene.line(vec![(x0, y1), (x1, y1)], 1.0, INK);
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let mut run = Vec::new();
            for i in 0..n {
                match s.values[i] {
                    Some(v) => run.push((x_of(i), y_of(v))),
                    None => scene.line(std::mem::take(&mut run), 2.0, color),
                }
            }
            if n <= 62 {
                for &(x, y) in run.iter() {
                    scene.shapes.push(Shape::Rect {
                        x: x - 2.5,
                        y: y - 2.5,
                        w: 5.0,
                        h: 5.0,
                        color,
                    });
                }
            }
            scene.line(run, 2.0, color);
        }
        scene
    }

    fn bar_scene(&self) -> Scene {
        let n = self.labels.len().min(60);
        let per = self.series.len();
        let group = per as f64 * 14.0 + 10.0;
        let width = 960.0;
        let height = 110.0 + group * n as f64;
        let mut scene = self.frame(width, height);
        let (lo, hi) = self.range();
        let ticks = nice_ticks(lo, hi);
        let (lo, hi) = (ticks[0], ticks[ticks.len() - 1]);
        let label_chars = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1)
            .min(28) as f64;
        let (x0, x1, y0, y1) = (24.0 + 8.0 * label_chars, width - 90.0, 66.0, height - 40.0);
        let x_of = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
        for t in &ticks {
            let x = x_of(*t).round();
            scene.line(vec![(x, y0), (x, y1)], 1.0, GRID);
            scene.text(x, y1 + 16.0, &compact(*t), 1, Anchor::Middle, INK);
        }
        for i in 0..n {
            let top = y0 + 6.0 + group * i as f64;
            scene.text(
                x0 - 8.0,
                top + per as f64 * 7.0,
                &clip(&self.labels[i], 28),
                1,
                Anchor::End,
                INK,
            );
            for (k, s) in self.series.iter().enumerate() {
                let Some(v) = s.values[i] else { continue };
                let (a, b) = (x_of(0.0), x_of(v));
                let y = top + 14.0 * k as f64;
                scene.shapes.push(Shape::Rect {
                    x: a.min(b),
                    y,
                    w: (b - a).abs().max(1.0),
                    h: 12.0,
                    color: PALETTE[k % PALETTE.len()],
                });
                scene.text(a.max(b) + 6.0, y + 6.0, &compact(v), 1, Anchor::Start, INK);
            }
        }
        scene.line(vec![(x_of(0.0), y0), (x_of(0.0), y1)], 1.0, INK);
        scene
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

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [51, 51, 51];
const GRID: Rgb = [225, 225, 225];
const PALETTE: [Rgb; 6] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A shape in pixels; text is placed by its vertical middle and drawn 8 pixels per
/// character per `scale`.
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        color: Rgb,
    },
    Line {
        points: Vec<(f64, f64)>,
        width: f64,
        color: Rgb,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        scale: u32,
        anchor: Anchor,
        color: Rgb,
    },
}

/// A laid-out chart.
pub struct Scene {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
}

impl Scene {
    fn text(&mut self, x: f64, y: f64, text: &str, scale: u32, anchor: Anchor, color: Rgb) {
        self.shapes.push(Shape::Text {
            x,
            y,
            text: text.to_string(),
            scale,
            anchor,
            color,
        });
    }

    fn line(&mut self, points: Vec<(f64, f64)>, width: f64, color: Rgb) {
        if points.len() > 1 {
            self.shapes.push(Shape::Line {
                points,
                width,
                color,
            });
        }
    }

    pub fn to_svg(&self) -> String {
        let hex = |c: Rgb| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n",
            w = self.width,
            h = self.height
        );
        for shape in &self.shapes {
            match shape {
                Shape::Rect { x, y, w, h, color } => {
                    let _ = writeln!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                        hex(*color)
                    );
                }
                Shape::Line {
                    points,
                    width,
                    color,
                } => {
                    let pts: Vec<String> = points
                        .iter()
                        .map(|(x, y)| format!("{x:.1},{y:.1}"))
                        .collect();
                    let _ = writeln!(
                        out,
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"/>",
                        pts.join(" "),
                        hex(*color)
                    );
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    scale,
                    anchor,
                    color,
                } => {
                    let anchor = match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let _ = writeln!(
                        out,
                        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{}\" text-anchor=\"{anchor}\" dominant-baseline=\"middle\" fill=\"{}\">{}</text>",
                        13 * scale,
                        hex(*color),
                        xml_escape(text)
                    );
                }
            }
        }
        out.push_str("</svg>\n");
        out
    }

    /// The scene rasterised and encoded as a PNG file.
    pub fn to_png(&self) -> Result<Vec<u8>, OutputError> {
        let mut raster = Raster::new(self.width as usize, self.height as usize);
        for shape in &self.shapes {
            match shape {
                Shape::Rect { x, y, w, h, color } => raster.fill(*x, *y, *w, *h, *color),
                Shape::Line {
                    points,
                    width,
                    color,
                } => {
                    for pair in points.windows(2) {
                        raster.segment(pair[0], pair[1], *width, *color);
                    }
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    scale,
                    anchor,
                    color,
                } => raster.text(*x, *y, text, *scale, *anchor, *color),
            }
        }
        raster.encode()
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An RGB pixel buffer.
struct Raster {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Raster {
    fn new(width: usize, height: usize) -> Raster {
        Raster {
            width,
            height,
            pixels: vec![255; width * height * 3],
        }
    }

    fn put(&mut self, x: i64, y: i64, color: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    fn fill(&mut self, x: f64, y: f64, w: f64, h: f64, color: Rgb) {
        let (x0, y0) = (x.round() as i64, y.round() as i64);
        let (x1, y1) = ((x + w).round() as i64, (y + h).round() as i64);
        for py in y0..y1.max(y0 + 1) {
            for px in x0..x1.max(x0 + 1) {
                self.put(px, py, color);
            }
        }
    }

    /// A straight segment `width` pixels thick: squares stamped along it.
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), width: f64, color: Rgb) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        let half = (width / 2.0).floor();
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            self.fill(x - half, y - half, width.max(1.0), width.max(1.0), color);
        }
    }

    fn text(&mut self, x: f64, y: f64, text: &str, scale: u32, anchor: Anchor, color: Rgb) {
        use font8x8::UnicodeFonts;
        let size = 8 * scale as i64;
        let advance = size;
        let width = advance * text.chars().count() as i64;
        let left = match anchor {
            Anchor::Start => x.round() as i64,
            Anchor::Middle => x.round() as i64 - width / 2,
            Anchor::End => x.round() as i64 - width,
        };
        let top = y.round() as i64 - size / 2;
        for (n, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::LATIN_FONTS.get(ch))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..scale as i64 {
                            for dx in 0..scale as i64 {
                                self.put(
                                    left + n as i64 * advance + col * scale as i64 + dx,
                                    top + row as i64 * scale as i64 + dy,
                                    color,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn encode(&self) -> Result<Vec<u8>, OutputError> {
        use std::io::Write;
        let mut raw = Vec::with_capacity((self.width * 3 + 1) * self.height);
        for row in self.pixels.chunks(self.width * 3) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw)?;
        let data = z.finish()?;
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = Vec::new();
        header.extend_from_slice(&(self.width as u32).to_be_bytes());
        header.extend_from_slice(&(self.height as u32).to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
        png_chunk(&mut png, b"IHDR", &header);
        png_chunk(&mut png, b"IDAT", &data);
        png_chunk(&mut png, b"IEND", &[]);
        Ok(png)
    }
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(kind.iter().chain(data));
    out.extend_from_slice(&crc.to_be_bytes());
}

/// The CRC-32 (ISO 3309) that PNG chunks end with.
fn crc32<'a>(bytes: impl Iterator<Item = &'a u8>) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
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
