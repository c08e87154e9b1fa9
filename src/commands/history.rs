//! `costlake changes` and `costlake prune`: what replaced partitions held, and removing the
//! files kept of them.

use std::process::ExitCode;

use costlake::engine::history::{CHANGES_TABLE, HISTORY_SCHEMA};
use costlake::lake::Lake;

use super::query::{open_session, shown};
use crate::args::{ChangesArgs, PruneArgs};
use crate::results;
use crate::settings::{self, FileSettings};

/// Prints `history.changes` (since a day), oldest first.
pub async fn changes(args: ChangesArgs) -> anyhow::Result<ExitCode> {
    let session = open_session(&args.lake).await?;
    let since = args
        .since
        .map(|day| format!("WHERE replaced_at >= TIMESTAMP '{day}T00:00:00Z'"))
        .unwrap_or_default();
    let sql = format!(
        "SELECT billing_period, billing_account, dataset, cost_type, kind, \"column\", \
         before, after, difference, rows_before, rows_after, replaced_at \
         FROM {HISTORY_SCHEMA}.{CHANGES_TABLE} {since} \
         ORDER BY replaced_at, dataset, billing_account, cost_type, billing_period, \"column\""
    );
    let since_day = args.since;
    let replaced = session
        .lake
        .manifest()
        .await?
        .history
        .iter()
        .filter(|r| since_day.is_none_or(|d| r.replaced_at.date_naive() >= d))
        .count();
    if replaced == 0 {
        eprintln!(
            "no period's published data has been replaced{}: a period's data is kept when it is published again, different, after the period ended",
            since_day.map(|d| format!(" since {d}")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    results::run(
        &session,
        &sql,
        &Default::default(),
        None,
        &shown(&args.print),
    )
    .await?;
    let counted = match replaced {
        1 => "1 replacement".to_string(),
        n => format!("{n} replacements"),
    };
    eprintln!(
        "{counted}; `SELECT * FROM {HISTORY_SCHEMA}.{CHANGES_TABLE}` adds where each version came from, and `previous.focus` is the lake before each period's latest replacement"
    );
    Ok(ExitCode::SUCCESS)
}

/// Deletes kept files but each partition's latest `--keep`.
pub async fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let file = FileSettings::load(std::path::Path::new("."))?;
    let lake = Lake::open(
        &settings::lake_location(args.lake.lake.as_deref(), &file),
        false,
    )
    .await?;
    let lease = lake.lease("prune").await?;
    let pruned = lake.prune(args.keep).await;
    lease.release().await;
    let pruned = pruned?;
    println!(
        "removed {} kept files ({} bytes) of replaced partitions, keeping each partition's latest {}; `costlake changes` still lists every replacement",
        pruned.files, pruned.bytes, args.keep
    );
    Ok(ExitCode::SUCCESS)
}
