//! `costlake sync`: the EA Reporting API into the lake.

use std::process::ExitCode;

use costlake::http::{ApiKey, RetryConfig};
use costlake::model::{Dataset, PeriodSelection};
use costlake::source::ea_api::{self, DEFAULT_API_BASE, SyncOptions};

use super::{UsageError, exit_code};
use crate::args::{SyncArgs, parse_dataset};
use crate::progress::{Lines, Progress};
use crate::settings::{self, FileSettings};

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.datasets.iter().find(|d| d.from_exports()) {
        return Err(UsageError(format!(
            "{} comes from Cost Management exports, not the EA API: use `costlake ingest --source …`",
            d.name()
        ))
        .into());
    }
    let file = FileSettings::load(std::path::Path::new("."))?;
    let Some(enrollment) = args.enrollment.or(file.enrollment) else {
        return Err(UsageError(
            "which enrollment? pass --enrollment N (or set `enrollment` in costlake.toml)".into(),
        )
        .into());
    };
    let key = ApiKey::new(settings::api_key(args.api_key_file.as_deref(), &file)?)
        .map_err(|e| UsageError(e.to_string()))?;
    let periods = match (&args.periods, args.since, args.from, args.to) {
        (Some(r), ..) => PeriodSelection::parse_range(r).map_err(UsageError)?,
        (None, Some(p), ..) => PeriodSelection::Since(p),
        (None, None, Some(a), Some(b)) if a <= b => PeriodSelection::Dates(a, b),
        (None, None, Some(_), Some(_)) => {
            return Err(UsageError("--from comes after --to".into()).into());
        }
        _ => PeriodSelection::All,
    };
    let datasets = if !args.datasets.is_empty() {
        args.datasets
    } else if let Some(list) = &file.datasets {
        list.iter()
            .map(|d| parse_dataset(d).map_err(UsageError))
            .collect::<Result<_, _>>()?
    } else {
        Dataset::API.to_vec()
    };
    let opts = SyncOptions {
        enrollment,
        api_base: args
            .api_base
            .or(file.api_base.clone())
            .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
        key,
        lake: settings::lake_location(args.lake.as_deref(), &file),
        periods,
        datasets,
        jobs: args.jobs.or(file.jobs).unwrap_or(4),
        refresh: args.refresh,
        settle: chrono::Duration::days(args.settle_days.or(file.settle_days).unwrap_or(30)),
        retry: RetryConfig::default(),
        limits: file.limits(),
    };
    let progress = Progress::new(args.quiet, Lines::All);
    let report = ea_api::sync(&opts, &progress).await;
    progress.finish();
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet || !report.ok() {
        eprintln!("sync: {}", report.summary());
    }
    Ok(exit_code(report.ok()))
}
