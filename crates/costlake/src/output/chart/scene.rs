//! A chart laid out as shapes in pixels (rectangles, polylines, text), and that layout written
//! as SVG. The PNG writer draws the same scene.

use std::fmt::Write as _;

use super::{Chart, Kind, clip, compact, nice_ticks};

impl Chart {
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
            title: self.title.clone(),
            shapes: vec![Shape::Rect {
                x: 0.0,
                y: 0.0,
                w: width,
                h: height,
                color: WHITE,
                series: None,
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
                series: None,
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
                    None => scene.series_line(std::mem::take(&mut run), color, k),
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
                        series: Some(k),
                    });
                }
            }
            scene.series_line(run, color, k);
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
                    series: Some(k),
                });
                scene.text(a.max(b) + 6.0, y + 6.0, &compact(v), 1, Anchor::Start, INK);
            }
        }
        scene.line(vec![(x_of(0.0), y0), (x_of(0.0), y1)], 1.0, INK);
        scene
    }
}

pub(super) type Rgb = [u8; 3];
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
/// character per `scale`. A shape that draws a value names its series (the index of its
/// column), which SVG keeps as `data-series` so a reader of the image can tell them apart.
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        color: Rgb,
        series: Option<usize>,
    },
    Line {
        points: Vec<(f64, f64)>,
        width: f64,
        color: Rgb,
        series: Option<usize>,
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
    /// The chart's title, which SVG also gives as the image's accessible name.
    pub title: String,
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
        self.push_line(points, width, color, None);
    }

    /// A series' line, two pixels wide.
    fn series_line(&mut self, points: Vec<(f64, f64)>, color: Rgb, series: usize) {
        self.push_line(points, 2.0, color, Some(series));
    }

    fn push_line(
        &mut self,
        points: Vec<(f64, f64)>,
        width: f64,
        color: Rgb,
        series: Option<usize>,
    ) {
        if points.len() > 1 {
            self.shapes.push(Shape::Line {
                points,
                width,
                color,
                series,
            });
        }
    }

    pub fn to_svg(&self) -> String {
        let hex = |c: Rgb| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
        let tag = |series: &Option<usize>| match series {
            Some(k) => format!(" data-series=\"{k}\""),
            None => String::new(),
        };
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n<title>{title}</title>\n",
            w = self.width,
            h = self.height,
            title = xml_escape(&self.title)
        );
        for shape in &self.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    color,
                    series,
                } => {
                    let _ = writeln!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\"{}/>",
                        hex(*color),
                        tag(series)
                    );
                }
                Shape::Line {
                    points,
                    width,
                    color,
                    series,
                } => {
                    let pts: Vec<String> = points
                        .iter()
                        .map(|(x, y)| format!("{x:.1},{y:.1}"))
                        .collect();
                    let _ = writeln!(
                        out,
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{}/>",
                        pts.join(" "),
                        hex(*color),
                        tag(series)
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
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
