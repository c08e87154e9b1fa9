//! Charts drawn as text for a terminal: horizontal bars for labels, a line of dots for dates
//! and periods, with an axis of compact numbers.

use std::fmt::Write as _;

use super::{Chart, Kind, clip, compact};

impl Chart {
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
}
