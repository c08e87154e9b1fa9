//! What a run of a source reports: each unit's outcome, warnings, and a closing summary that
//! reads the same whichever source ran.

use std::time::Duration;

use crate::model::PartitionKey;
use crate::output::{human_bytes, thousands};

/// How a unit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New data published. `rounded` counts decimals that had non-zero digits beyond the
    /// lake's twelve places (exports print .NET decimals to 28).
    Written {
        rows: u64,
        bytes: u64,
        rounded: u64,
    },
    /// The source's data had not changed since the lake took it.
    Unchanged,
    /// Closed, already in the lake: no request made.
    Skipped,
    /// Nothing complete to take: the partition (if any) stays as it was.
    Kept,
    Failed(String),
}

impl Outcome {
    /// The outcome in one word, as logs and the JSON run report name it.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Written { .. } => "written",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Kept => "kept",
            Outcome::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct UnitReport {
    pub key: PartitionKey,
    pub outcome: Outcome,
    /// What the partition holds now (or was to hold), in the source's words.
    pub origin: Option<String>,
    pub retries: u32,
    pub elapsed: Duration,
}

impl UnitReport {
    /// A closed partition the lake holds, skipped without a request.
    pub fn skipped(key: PartitionKey, held: &crate::model::Provenance) -> UnitReport {
        UnitReport {
            key,
            outcome: Outcome::Skipped,
            origin: Some(held.describe()),
            retries: 0,
            elapsed: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
    /// How many things the source listed, and what they are ("runs"), where it counts them.
    pub found: Option<(usize, &'static str)>,
    /// How the summary counts the partitions filled ("fetched", "partitions ingested").
    pub written: &'static str,
    /// Every unit, in partition order (dataset, account, cost type, period).
    pub units: Vec<UnitReport>,
    /// What was skipped and why (incomplete or empty export runs, narrower scopes).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn failed(&self) -> impl Iterator<Item = &UnitReport> {
        self.units
            .iter()
            .filter(|u| matches!(u.outcome, Outcome::Failed(_)))
    }

    /// Whether every unit succeeded.
    pub fn ok(&self) -> bool {
        self.failed().next().is_none()
    }

    pub fn rows_written(&self) -> u64 {
        self.units
            .iter()
            .map(|u| match u.outcome {
                Outcome::Written { rows, .. } => rows,
                _ => 0,
            })
            .sum()
    }

    /// The run as JSON, for a scheduler to alert on (`docs/run-report.schema.json`): the
    /// totals, the warnings and one object per unit with its outcome, rows, bytes, retries,
    /// duration and error.
    pub fn json(&self) -> serde_json::Value {
        let count = |name: &str| {
            self.units
                .iter()
                .filter(|u| u.outcome.name() == name)
                .count()
        };
        let (mut bytes, mut rounded) = (0u64, 0u64);
        let units: Vec<serde_json::Value> = self
            .units
            .iter()
            .map(|u| {
                let (rows, size, cut) = match u.outcome {
                    Outcome::Written {
                        rows,
                        bytes: b,
                        rounded: r,
                    } => {
                        bytes += b;
                        rounded += r;
                        (Some(rows), Some(b), Some(r))
                    }
                    _ => (None, None, None),
                };
                serde_json::json!({
                    "partition": u.key.dir(),
                    "dataset": u.key.dataset.name(),
                    "account": u.key.account,
                    "cost_type": u.key.cost_type,
                    "period": u.key.period.map(|p| p.to_string()),
                    "outcome": u.outcome.name(),
                    "rows": rows,
                    "bytes": size,
                    "rounded": cut,
                    "retries": u.retries,
                    "seconds": u.elapsed.as_secs_f64(),
                    "origin": u.origin,
                    "error": match &u.outcome {
                        Outcome::Failed(why) => Some(why.as_str()),
                        _ => None,
                    },
                })
            })
            .collect();
        serde_json::json!({
            "ok": self.ok(),
            "found": self.found.map(|(n, what)| serde_json::json!({"count": n, "what": what})),
            "totals": {
                "units": self.units.len(),
                "written": count("written"),
                "unchanged": count("unchanged"),
                "skipped": count("skipped"),
                "kept": count("kept"),
                "failed": count("failed"),
                "rows": self.rows_written(),
                "bytes": bytes,
                "rounded": rounded,
                "retries": self.units.iter().map(|u| u.retries).sum::<u32>(),
            },
            "seconds": self.elapsed.as_secs_f64(),
            "warnings": self.warnings,
            "units": units,
        })
    }

    /// The closing summary, then a line per failed unit.
    pub fn summary(&self) -> String {
        let count = |f: fn(&Outcome) -> bool| self.units.iter().filter(|u| f(&u.outcome)).count();
        let bytes: u64 = self
            .units
            .iter()
            .map(|u| match u.outcome {
                Outcome::Written { bytes, .. } => bytes,
                _ => 0,
            })
            .sum();
        let retries: u32 = self.units.iter().map(|u| u.retries).sum();
        let mut s = match self.found {
            Some((n, what)) => format!("{n} {what} found; "),
            None => String::new(),
        };
        s.push_str(&format!(
            "{} {} ({} rows), {} unchanged, {} skipped (closed), {} kept, {} failed; {} of Parquet, {retries} retries, {:.1} s",
            count(|o| matches!(o, Outcome::Written { .. })),
            self.written,
            thousands(self.rows_written()),
            count(|o| *o == Outcome::Unchanged),
            count(|o| *o == Outcome::Skipped),
            count(|o| *o == Outcome::Kept),
            count(|o| matches!(o, Outcome::Failed(_))),
            human_bytes(bytes),
            self.elapsed.as_secs_f64(),
        ));
        for u in self.failed() {
            if let Outcome::Failed(why) = &u.outcome {
                s.push_str(&format!("\n  failed: {}: {why}", u.key));
            }
        }
        s
    }
}
