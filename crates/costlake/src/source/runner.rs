//! Runs a source: takes the lake's writer lease, tidies what a killed run left, plans against
//! the manifest, fetches the units with bounded concurrency, and publishes each result through
//! the lake's one publish path.

use std::time::Instant;

use futures::StreamExt;

use super::{Fetched, Observer, Outcome, RunReport, Source, SourceError, UnitContext, UnitReport};
use crate::lake::Lake;
use crate::model::PartitionKey;

/// Runs `source` into `lake`, `jobs` units at a time. Failures that stop everything are
/// `Err`; a failed unit is reported in the [`RunReport`].
pub async fn run<S: Source>(
    source: &S,
    lake: &Lake,
    jobs: usize,
    observer: &dyn Observer,
) -> Result<RunReport, SourceError> {
    let started = Instant::now();
    // Held until the report is made: tidying, planning and publishing are one writer's.
    let lease = lake.lease(S::COMMAND).await?;
    let report = run_leased(source, lake, jobs, observer, started).await;
    lease.release().await;
    let memory = lake.memory();
    tracing::debug!(
        "memory budget: at most {} KiB of {} KiB held at once",
        memory.peak() >> 10,
        memory.bytes() >> 10
    );
    report
}

async fn run_leased<S: Source>(
    source: &S,
    lake: &Lake,
    jobs: usize,
    observer: &dyn Observer,
    started: Instant,
) -> Result<RunReport, SourceError> {
    lake.remove_stale_files().map_err(|e| {
        SourceError::Other(format!("cannot tidy the lake at {}: {e}", lake.location()))
    })?;
    let removed = lake.remove_unpublished_files().await?;
    let manifest = lake.manifest().await?;
    let plan = source.plan(&manifest).await?;
    let mut units = plan.skipped;
    let mut warnings = plan.warnings;
    if removed > 0 {
        warnings.push(format!(
            "removed {removed} files from the lake's table folders and history that its manifest does not record (left by a killed run, or put there by something else)"
        ));
    }
    let results: Vec<(UnitReport, Vec<String>)> = futures::stream::iter(plan.units)
        .map(|(key, unit)| run_unit(source, lake, key, unit, observer))
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    for (report, unit_warnings) in results {
        units.push(report);
        warnings.extend(unit_warnings);
    }
    units.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(RunReport {
        found: plan.found,
        written: S::WRITTEN,
        units,
        warnings,
        elapsed: started.elapsed(),
    })
}

async fn run_unit<S: Source>(
    source: &S,
    lake: &Lake,
    key: PartitionKey,
    unit: S::Unit,
    observer: &dyn Observer,
) -> (UnitReport, Vec<String>) {
    let started = Instant::now();
    let mut ctx = UnitContext {
        key: &key,
        lake,
        meter: observer.unit(&key),
        retries: 0,
        warnings: Vec::new(),
    };
    let fetched = source.fetch(unit, &mut ctx).await;
    let UnitContext {
        meter,
        retries,
        warnings,
        ..
    } = ctx;
    let (outcome, origin) = match fetched {
        Ok(Fetched::Written {
            written,
            provenance,
            rounded,
        }) => {
            let origin = provenance.describe();
            match lake.publish(&key, &written, provenance).await {
                Ok(()) => (
                    Outcome::Written {
                        rows: written.rows,
                        bytes: written.bytes,
                        rounded,
                    },
                    Some(origin),
                ),
                Err(e) => (Outcome::Failed(e.to_string()), Some(origin)),
            }
        }
        Ok(Fetched::Unchanged { provenance }) => {
            let origin = provenance.as_ref().map(|p| p.describe());
            let confirmed = match provenance {
                Some(p) => lake.confirm(&key, p).await,
                None => Ok(()),
            };
            match confirmed {
                Ok(()) => (Outcome::Unchanged, origin),
                Err(e) => (Outcome::Failed(e.to_string()), origin),
            }
        }
        Ok(Fetched::Kept) => (Outcome::Kept, None),
        Err(e) => (Outcome::Failed(e.to_string()), None),
    };
    let report = UnitReport {
        key,
        outcome,
        origin,
        retries,
        elapsed: started.elapsed(),
    };
    let ms = report.elapsed.as_millis() as u64;
    // Each unit once, at info: the run's summary already names the failed ones.
    let outcome = report.outcome.name();
    match &report.outcome {
        Outcome::Failed(error) => {
            tracing::info!(unit = %report.key, outcome, retries, ms, error = %error, "unit")
        }
        Outcome::Written { rows, bytes, .. } => {
            tracing::info!(unit = %report.key, outcome, rows, bytes, retries, ms, "unit")
        }
        _ => tracing::info!(unit = %report.key, outcome, retries, ms, "unit"),
    }
    meter.done(&report);
    (report, warnings)
}
