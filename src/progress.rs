//! Progress of a sync or an ingest as the user sees it: a live line per running unit on a
//! terminal (rows, bytes, rate, retries), a plain line per finished unit otherwise, and
//! nothing but failures when quiet. The library reports through its `Observer`; this is the
//! only place that draws.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use costlake::model::PartitionKey;
use costlake::output::{human_bytes, thousands};
use costlake::source::{Observer, Outcome, UnitMeter, UnitReport};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Which finished units get a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Every unit but those skipped without a request.
    All,
    /// Only failures.
    Failures,
    /// None: the caller prints the report itself.
    None,
}

/// Draws a run's progress on standard error.
pub struct Progress {
    /// Live lines, on a terminal.
    bars: Option<MultiProgress>,
    lines: Lines,
}

impl Progress {
    /// Live lines when standard error is a terminal (and not `quiet`), and `lines` for the
    /// units that finish.
    pub fn new(quiet: bool, lines: Lines) -> Progress {
        let live = !quiet && std::io::stderr().is_terminal();
        Progress {
            bars: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            lines: if quiet && lines == Lines::All {
                Lines::Failures
            } else {
                lines
            },
        }
    }

    /// Clears the live lines once the run is over.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
    }
}

/// A line above the live ones, or on its own without them.
fn println(bars: Option<&MultiProgress>, line: String) {
    match bars {
        Some(bars) => {
            let _ = bars.println(line);
        }
        None => eprintln!("{line}"),
    }
}

impl Observer for Progress {
    fn unit(&self, key: &PartitionKey) -> Box<dyn UnitMeter> {
        let name = key.to_string();
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<28} {msg}").expect("template"),
            );
            bar.set_prefix(name.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Box::new(Meter {
            bar,
            started: Instant::now(),
            lines: self.lines,
            bars: self.bars.clone(),
        })
    }
}

/// The live line of one unit.
struct Meter {
    bar: Option<ProgressBar>,
    started: Instant,
    lines: Lines,
    bars: Option<MultiProgress>,
}

impl UnitMeter for Meter {
    fn update(&self, rows: u64, bytes: u64, retries: u32) {
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} rows  {}  {:.0} rows/s  {} retries",
                thousands(rows),
                human_bytes(bytes),
                rows as f64 / secs,
                retries
            ));
        }
    }

    fn done(self: Box<Self>, report: &UnitReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let show = match self.lines {
            Lines::All => !matches!(report.outcome, Outcome::Skipped),
            Lines::Failures => matches!(report.outcome, Outcome::Failed(_)),
            Lines::None => false,
        };
        if show {
            println(self.bars.as_ref(), unit_line(report));
        }
    }
}

/// One line for a finished unit: what it wrote, or why not.
pub fn unit_line(u: &UnitReport) -> String {
    let name = u.key.to_string();
    let from = u
        .origin
        .as_deref()
        .map(|o| format!(" from {o}"))
        .unwrap_or_default();
    match &u.outcome {
        Outcome::Written {
            rows,
            bytes,
            rounded,
        } => {
            let mut line = format!(
                "{name:<28} {} rows, {} Parquet, {} retries, {:.1?}{from}",
                thousands(*rows),
                human_bytes(*bytes),
                u.retries,
                u.elapsed
            );
            if *rounded > 0 {
                line.push_str(&format!(
                    "; {rounded} values had more than {} decimal places and were rounded half to even",
                    costlake::schema::DECIMAL_SCALE
                ));
            }
            line
        }
        Outcome::Unchanged => format!("{name:<28} unchanged{from}"),
        Outcome::Skipped => format!("{name:<28} skipped (closed, held{from})"),
        Outcome::Kept => format!("{name:<28} kept as it was: no complete run with rows"),
        Outcome::Failed(why) => format!("{name:<28} FAILED: {why}"),
    }
}
