//! `costlake ingest`: Cost Management exports into the lake.

use std::process::ExitCode;

use costlake::lake::Lake;
use costlake::source::exports::{self, ExportTree, IngestOptions};

use super::run_report::RunRecord;
use super::{UsageError, exit_code};
use crate::args::IngestArgs;
use crate::progress::{Lines, Progress, unit_line};
use crate::settings::{self, FileSettings};
use costlake::source::RunReport;

pub async fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let run = RunRecord::start("ingest", &args.report);
    let result = ingest(&args, run.on_stdout()).await;
    let report = run.finish(result, args.lake.as_deref())?;
    Ok(exit_code(report.ok()))
}

/// Ingests, printing each partition's line and the summary (on standard error when standard
/// output carries the JSON report).
async fn ingest(args: &IngestArgs, json_on_stdout: bool) -> anyhow::Result<RunReport> {
    let file = FileSettings::load(std::path::Path::new("."))?;
    if let Some(d) = args.datasets.iter().find(|d| !d.from_exports()) {
        return Err(UsageError(format!(
            "{} comes from the EA API, not from exports: use `costlake sync`",
            d.name()
        ))
        .into());
    }
    let mut opts = IngestOptions::default();
    if !args.datasets.is_empty() {
        opts.datasets = args.datasets.clone();
    }
    if let Some(jobs) = args.jobs.or(file.jobs) {
        opts.jobs = jobs;
    }
    if let Some(memory) = args.memory.or(file.memory) {
        opts.memory = memory;
    }
    let tree = ExportTree::open(&args.source).await?;
    let lake = Lake::open(&settings::lake_location(args.lake.as_deref(), &file), true).await?;
    // Each partition's line is printed with the report, in order; live progress only draws.
    let progress = Progress::new(args.quiet, Lines::None);
    let report = exports::ingest(&lake, &tree, &opts, &progress).await;
    progress.finish();
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet || !report.ok() {
        let say = |line: String| {
            if json_on_stdout {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        };
        for unit in &report.units {
            say(unit_line(unit));
        }
        say(report.summary());
    }
    if report.found.is_some_and(|(n, _)| n == 0) {
        anyhow::bail!(
            "no export runs under {}: costlake looks for the manifest.json each run writes last, \
             or a CSV per run under <export>/<yyyyMMdd-yyyyMMdd>/ for exports made before 2021",
            args.source
        );
    }
    Ok(report)
}
