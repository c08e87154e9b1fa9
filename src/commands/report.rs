//! `costlake report`: the month-end report of a lake as one HTML file.

use std::path::PathBuf;
use std::process::ExitCode;

use costlake::engine::Session;
use costlake::report::{self, Definition, Report};

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
    let (path, written) = write(
        &session,
        &definition,
        args.period.as_deref(),
        args.output.clone(),
    )
    .await?;
    let period = &written.period;
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

/// Writes the report of `period` (else the last month that has ended) into `output` (else
/// `costlake-report-PERIOD.html`): what the command and the demo do alike.
pub async fn write(
    session: &Session,
    definition: &Definition,
    period: Option<&str>,
    output: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, Report)> {
    let period = report::period(session, period).await?;
    let written =
        report::compose(session, definition, &period, &format!("costlake {VERSION}")).await?;
    let path = output.unwrap_or_else(|| format!("costlake-report-{period}.html").into());
    std::fs::write(&path, report::render(&written))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok((path, written))
}
