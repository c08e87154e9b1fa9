//! The query commands: `sql`, `query`, the shell, `tables` and `verify`, over one session.

use std::process::ExitCode;

use costlake::engine::{Session, describe_table, tables_overview, verify};
use costlake::model::Dataset;
use costlake::output::{Format, PrintOptions, TABLE_ROW_LIMIT};

use super::UsageError;
use crate::args::{LakeArgs, PrintArgs, QueryArgs, SqlArgs, VerifyArgs};
use crate::repl;
use crate::results::{self, Shown};
use crate::settings::{self, FileSettings};

/// Opens the lake the flags, environment or `costlake.toml` name, on the cluster they name.
pub async fn open_session(lake: &LakeArgs) -> anyhow::Result<Session> {
    let file = FileSettings::load(std::path::Path::new("."))?;
    let location = settings::lake_location(lake.lake.as_deref(), &file);
    // The flag or COSTLAKE_CLUSTER, else `cluster` in the file.
    match lake.cluster.as_ref().or(file.cluster.as_ref()) {
        Some(url) => {
            let ctx = crate::cluster::client(url).await?;
            let session = Session::open_on(ctx, &location, Some(&lake.queries)).await?;
            Ok(session.on_cluster(url))
        }
        None => Ok(Session::open(&location, Some(&lake.queries)).await?),
    }
}

/// How results are shown, from the print flags.
pub fn shown(print: &PrintArgs) -> Shown {
    let format = print
        .format
        .or_else(|| print.chart.as_ref().map(|_| Format::Chart))
        .or_else(|| print.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(Format::Table);
    Shown {
        print: PrintOptions {
            format,
            max_rows: TABLE_ROW_LIMIT,
            output: print.output.clone(),
            chart: print.chart.clone().unwrap_or_default(),
            ..PrintOptions::default()
        },
        timing: print.timing,
    }
    .for_terminal()
}

pub async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(&args.lake).await?;
    results::run(
        &session,
        &args.sql,
        &Default::default(),
        None,
        &shown(&args.print),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let Some(name) = args.name.as_deref() else {
        // The library needs no lake.
        let queries = costlake::engine::library(Some(&args.lake.queries))?;
        print!("{}", costlake::engine::listing(&queries));
        return Ok(ExitCode::SUCCESS);
    };
    let session = open_session(&args.lake).await?;
    let q = session.saved(name)?;
    let given = repl::parse_params(args.params.iter().map(String::as_str)).map_err(UsageError)?;
    let params = session.bind(&q, &given).await?;
    results::run_saved(&session, &q, &params, &shown(&args.print)).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn shell(args: LakeArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(&args).await?;
    repl::run(session, shown(&PrintArgs::default())).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn tables(args: LakeArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(&args).await?;
    print!("{}", tables_overview(&session).await?);
    for d in Dataset::ALL {
        println!("\n{}:", d.name());
        print!("{}", describe_table(&session, d.name()).await?);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(&args.lake).await?;
    let scale = costlake::schema::DECIMAL_SCALE as u32;
    let tolerance = costlake::model::decimal::parse(&args.tolerance, scale, 38)
        .map_err(|_| UsageError(format!("--tolerance '{}' is not a number", args.tolerance)))?;
    let checks = verify::verify(&session, tolerance.abs()).await?;
    let exports = verify::verify_exports(&session).await?;
    if !checks.is_empty() || exports.is_empty() {
        print!("{}", verify::render(&checks));
    }
    if !exports.is_empty() {
        if !checks.is_empty() {
            println!();
        }
        print!("{}", verify::render_exports(&exports));
    }
    let unpublished = session.lake.unpublished_files().await?;
    for file in &unpublished {
        eprintln!("{file}: in the lake but not in its manifest; queries count its rows too");
    }
    if !unpublished.is_empty() {
        eprintln!(
            "{} files the manifest does not publish: the next `costlake sync` or `costlake ingest` removes them",
            unpublished.len()
        );
    }
    let failed: Vec<_> = checks.iter().filter(|c| !c.ok()).collect();
    let failed_exports: Vec<_> = exports.iter().filter(|c| !c.ok()).collect();
    for c in &failed {
        eprintln!(
            "period {} of enrollment {} does not reconcile: {}",
            c.period,
            c.enrollment,
            c.problems.join("; ")
        );
    }
    for c in &failed_exports {
        eprintln!(
            "{} does not match its export: {}",
            c.partition,
            c.problems.join("; ")
        );
    }
    if failed.is_empty() && failed_exports.is_empty() && unpublished.is_empty() {
        println!(
            "{} periods reconcile exactly (tolerance {}); {} export partitions hold the rows their runs counted.",
            checks.len(),
            args.tolerance,
            exports.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    Ok(ExitCode::from(1))
}
