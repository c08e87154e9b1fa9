//! `costlake demo`: the main job on the embedded default, for someone with no Azure account:
//! the emulator on a loopback port, six periods synced into a local lake, three saved queries
//! (one drawn as a chart), and how to go on from there. A second run reuses the lake.

use crate::api::{ApiKey, RetryConfig};
use crate::emulator::{DEMO_KEY, Emulator, EmulatorConfig};
use crate::output::Format;
use crate::query::{QueryError, Session};
use crate::repl::tables_overview;
use crate::schema::Dataset;
use crate::sync::{self, PeriodSelection, Progress, SyncError, SyncOptions, thousands};

/// Where the demo puts its lake: the working directory.
pub const DEMO_LAKE: &str = "./costlake-demo";

/// A saved query's name, its parameters, and the format it is shown in.
type Shown = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Format,
);

/// The saved queries the demo shows, with their parameters and how: the reconciliation, last
/// month's movers, and last month's daily trend as a chart (the current month is still open).
const SHOWN: &[Shown] = &[
    ("monthly_summary", &[], Format::Table),
    (
        "service_movers",
        &[("period", "previous"), ("top", "5")],
        Format::Table,
    ),
    ("daily_trend", &[("period", "previous")], Format::Chart),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the emulator: {0}")]
    Emulator(#[from] std::io::Error),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// Runs the demo into `lake`; returns whether every sync unit succeeded.
pub async fn run(lake: &str, rows_per_period: u64, progress: Progress) -> Result<bool, DemoError> {
    let emu = Emulator::start(EmulatorConfig {
        rows_per_period,
        ..EmulatorConfig::default()
    })
    .await?;
    let e = emu.enrollment();
    println!(
        "Emulated EA enrollment {} on {} ({} billing periods, {} usage rows each; no Azure account involved)",
        e.spec.number,
        emu.base_url(),
        e.periods.len(),
        thousands(e.spec.rows_per_period)
    );
    let opts = SyncOptions {
        enrollment: e.spec.number,
        api_base: emu.base_url(),
        key: ApiKey::new(DEMO_KEY).map_err(|e| SyncError::Other(e.to_string()))?,
        lake: lake.to_string(),
        periods: PeriodSelection::All,
        datasets: Dataset::API.to_vec(),
        jobs: 4,
        refresh: false,
        settle: chrono::Duration::days(30),
        retry: RetryConfig::default(),
        progress,
    };
    let report = sync::run(opts).await?;
    println!("{}", report.summary());
    emu.stop().await;

    let mut session = Session::open(lake, None).await?;
    println!(
        "\nThe lake at {lake}:\n{}",
        tables_overview(&session).await?
    );
    for (name, given, format) in SHOWN {
        let q = session.saved(name)?;
        let given: Vec<(String, String)> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let params = session.bind(&q, &given).await?;
        println!("== {}: {}", q.name, q.description);
        session.print.format = *format;
        session.run_saved(&q, &params).await?;
        println!();
    }
    println!(
        "Go on in SQL:  costlake --lake {lake}            (the REPL; \\? for help, \\queries for the saved queries)"
    );
    println!(
        "          or:  costlake sql --lake {lake} \"SELECT meter_category, sum(cost) FROM usage_details GROUP BY 1 ORDER BY 2 DESC\""
    );
    println!(
        "          or:  costlake query --lake {lake} commitment_burndown --output burndown.png   (a chart for the month-end email)"
    );
    Ok(report.ok())
}
