//! `costlake sync`: the Cost Management APIs (`--billing-account`, signed in with Microsoft
//! Entra ID) or the retired EA Reporting API (`--enrollment` with an API key) into the lake.

use std::process::ExitCode;
use std::sync::Arc;

use costlake::http::entra::ARM_RESOURCE;
use costlake::http::{ApiKey, EntraCredential, RetryConfig};
use costlake::model::{Dataset, PeriodSelection};
use costlake::source::cost_management::{self, ArmSyncOptions, DEFAULT_ARM_BASE};
use costlake::source::ea_api::{self, DEFAULT_API_BASE, SyncOptions};
use costlake::source::{RunReport, SyncSettings};

use super::run_report::RunRecord;
use super::{UsageError, exit_code};
use crate::args::{SyncArgs, parse_dataset};
use crate::progress::{Lines, Progress};
use crate::settings::{self, FileSettings};

/// The longest wait for one cost details report to be ready.
const REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60 * 60);

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let run = RunRecord::start("sync", &args.report);
    let result = sync(&args).await;
    let report = run.finish(result, args.lake.as_deref())?;
    finish(report, args.quiet)
}

async fn sync(args: &SyncArgs) -> anyhow::Result<RunReport> {
    let file = FileSettings::load(std::path::Path::new("."))?;
    let retry = RetryConfig {
        max_retries: args
            .retries
            .or(file.retries)
            .unwrap_or(RetryConfig::default().max_retries),
        ..RetryConfig::default()
    };
    let periods = periods(args)?;
    let datasets = if !args.datasets.is_empty() {
        Some(args.datasets.clone())
    } else if let Some(list) = &file.datasets {
        Some(
            list.iter()
                .map(|d| parse_dataset(d).map_err(UsageError))
                .collect::<Result<_, _>>()?,
        )
    } else {
        None
    };
    // Everything but the datasets, which depend on the API.
    let common = SyncSettings {
        periods,
        jobs: args.jobs.or(file.jobs).unwrap_or(4),
        memory: args
            .memory
            .or(file.memory)
            .unwrap_or(costlake::memory::DEFAULT_MEMORY),
        refresh: args.refresh,
        settle: chrono::Duration::days(args.settle_days.or(file.settle_days).unwrap_or(30)),
        limits: file.limits(),
        retry: retry.clone(),
        ..SyncSettings::new(
            settings::lake_location(args.lake.as_deref(), &file),
            Vec::new(),
        )
    };
    let billing_account = args.billing_account.clone().or_else(|| {
        args.enrollment
            .is_none()
            .then(|| file.billing_account.clone())?
    });
    let progress = Progress::new(args.quiet, Lines::All);
    let report = if let Some(billing_account) = billing_account {
        let datasets = datasets.unwrap_or_else(|| cost_management::DATASETS.to_vec());
        if let Some(d) = datasets
            .iter()
            .find(|d| !cost_management::DATASETS.contains(d))
        {
            return Err(UsageError(format!(
                "{} does not come from the Cost Management APIs: --billing-account syncs cost_details and balance_summary ({})",
                d.name(),
                if d.from_exports() {
                    "the others come from exports: `costlake ingest --source …`"
                } else {
                    "the others come from the retired EA API: --enrollment N"
                }
            ))
            .into());
        }
        let env = |name: &str| std::env::var(name).ok();
        let credential = EntraCredential::from_env(ARM_RESOURCE, &env, retry)
            .map_err(|e| UsageError(e.to_string()))?;
        let opts = ArmSyncOptions {
            billing_account,
            arm_base: args
                .arm_base
                .clone()
                .or(file.arm_base.clone())
                .unwrap_or_else(|| DEFAULT_ARM_BASE.to_string()),
            credential: Arc::new(credential),
            report_timeout: REPORT_TIMEOUT,
            settings: SyncSettings { datasets, ..common },
        };
        cost_management::sync(&opts, &progress).await
    } else {
        let datasets = datasets.unwrap_or_else(|| Dataset::API.to_vec());
        if let Some(d) = datasets.iter().find(|d| d.from_exports()) {
            return Err(UsageError(format!(
                "{} comes from Cost Management exports, not the EA API: use `costlake ingest --source …`",
                d.name()
            ))
            .into());
        }
        let Some(enrollment) = args.enrollment.or(file.enrollment) else {
            return Err(UsageError(
                "which billing account? pass --billing-account ID (the Cost Management APIs, signed in with Microsoft Entra ID) or --enrollment N (the retired EA API with an API key); or set `billing_account` or `enrollment` in costlake.toml".into(),
            )
            .into());
        };
        let key = ApiKey::new(settings::api_key(args.api_key_file.as_deref(), &file)?)
            .map_err(|e| UsageError(e.to_string()))?;
        let opts = SyncOptions {
            enrollment,
            api_base: args
                .api_base
                .clone()
                .or(file.api_base.clone())
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
            key,
            settings: SyncSettings { datasets, ..common },
        };
        ea_api::sync(&opts, &progress).await
    };
    progress.finish();
    Ok(report?)
}

fn periods(args: &SyncArgs) -> Result<PeriodSelection, UsageError> {
    Ok(match (&args.periods, args.since, args.from, args.to) {
        (Some(r), ..) => PeriodSelection::parse_range(r).map_err(UsageError)?,
        (None, Some(p), ..) => PeriodSelection::Since(p),
        (None, None, Some(a), Some(b)) if a <= b => PeriodSelection::Dates(a, b),
        (None, None, Some(_), Some(_)) => {
            return Err(UsageError("--from comes after --to".into()));
        }
        _ => PeriodSelection::All,
    })
}

/// The closing lines and the exit code of a run.
fn finish(report: RunReport, quiet: bool) -> anyhow::Result<ExitCode> {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !quiet || !report.ok() {
        eprintln!("sync: {}", report.summary());
    }
    Ok(exit_code(report.ok()))
}
