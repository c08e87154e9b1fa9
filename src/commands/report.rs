//! `costlake report`: the month-end report of a lake as one HTML file.

use std::process::ExitCode;

use costlake::report::{self, Definition};

use super::{UsageError, exit_code};
use crate::args::{ReportArgs, VERSION};
use crate::commands::query::open_session;

pub async fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.print_definition {
        print!("{}", report::MONTHLY);
        return Ok(ExitCode::SUCCESS);
    }
    let definition = match &args.definition {
        Some(path) => Definition::load(path).map_err(|e| UsageError(e.to_string()))?,
        None => Definition::monthly(),
    };
    let session = open_session(&args.lake).await?;
    let period = report::period(&session, args.period.as_deref()).await?;
    let written = report::compose(
        &session,
        &definition,
        &period,
        &format!("costlake {VERSION}"),
    )
    .await?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| format!("costlake-report-{period}.html").into());
    std::fs::write(&path, report::render(&written))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let problems: Vec<&String> = written.sections.iter().flat_map(|s| &s.problems).collect();
    for p in &problems {
        eprintln!("does not reconcile: {p}");
    }
    let missing = written
        .sections
        .iter()
        .filter(|s| s.missing.is_some())
        .count();
    println!(
        "{}: the report of {period}, {} sections{}{}",
        path.display(),
        written.sections.len(),
        if missing > 0 {
            format!(" ({missing} without data in this lake)")
        } else {
            String::new()
        },
        if problems.is_empty() {
            String::new()
        } else {
            format!("; {} things do not reconcile", problems.len())
        }
    );
    Ok(exit_code(written.reconciles()))
}
