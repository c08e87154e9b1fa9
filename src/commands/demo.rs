//! `costlake demo`: the main job on the embedded emulator, for someone with no Azure account:
//! the emulator on a loopback port; a sign-in to its Microsoft Entra tenant and six months of
//! cost details and balances from its Cost Management APIs, as a 2026 user syncs; the usage,
//! Marketplace and price tables of the archive EA API, which the saved queries still read; three
//! saved queries (one drawn as a chart), the month-end report of the last month that ended,
//! and how to go on from there. A second run reuses the lake.

use std::process::ExitCode;

use costlake::engine::{QueryError, Session, tables_overview};
use std::sync::Arc;

use costlake::http::entra::ARM_RESOURCE;
use costlake::http::{ApiKey, EntraCredential, RetryConfig};
use costlake::model::Dataset;
use costlake::output::{Format, thousands};
use costlake::report;
use costlake::source::cost_management::{self, ArmSyncOptions};
use costlake::source::ea_api::{self, SyncOptions};
use costlake::source::{RunReport, SourceError, SyncSettings};
use costlake_emulator::{DEMO_KEY, Emulator, EmulatorConfig};

use super::exit_code;
use crate::progress::{Lines, Progress};
use crate::results::{self, Shown};

/// Where the demo puts its lake: the working directory.
pub const DEMO_LAKE: &str = "./costlake-demo";

/// A saved query's name, its parameters, and the format it is shown in.
type Showcase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Format,
);

/// The saved queries the demo shows, with their parameters and how: the reconciliation, last
/// month's movers, and last month's daily trend as a chart (the current month is still open).
const SHOWCASE: &[Showcase] = &[
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
    Sync(#[from] SourceError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Report(#[from] anyhow::Error),
}

/// Runs the demo into `./costlake-demo`.
pub async fn run(rows_per_period: u64) -> anyhow::Result<ExitCode> {
    Ok(exit_code(demo(DEMO_LAKE, rows_per_period).await?))
}

/// Runs the demo into `lake`; returns whether every sync unit succeeded.
async fn demo(lake: &str, rows_per_period: u64) -> Result<bool, DemoError> {
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
    let ok = sync_cost_management(&emu, lake).await? & sync_archive(&emu, lake).await?;
    emu.stop().await;

    let session = Session::open(lake, None).await?;
    println!(
        "\nThe lake at {lake}:\n{}",
        tables_overview(&session).await?
    );
    for (name, given, format) in SHOWCASE {
        let q = session.saved(name)?;
        let given: Vec<(String, String)> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let params = session.bind(&q, &given).await?;
        println!("== {}: {}", q.name, q.description);
        let mut shown = Shown::default().for_terminal();
        shown.print.format = *format;
        results::run_saved(&session, &q, &params, &shown).await?;
        println!();
    }
    let (page, written) =
        super::report::write(&session, &report::Definition::monthly(), None, None).await?;
    println!(
        "The month-end report of {}, every saved query of it on one page: {} (open it in a browser, print it to PDF)\n",
        written.period,
        page.display()
    );
    if !on_path("costlake") {
        println!(
            "costlake is not on your PATH yet: `cargo install --locked --path .` in the checkout puts it there\n(until then, `cargo run --release --` stands for `costlake` below)."
        );
    }
    println!(
        "Go on in SQL:  costlake --lake {lake}            (the REPL; \\? for help, \\queries for the saved queries)"
    );
    println!(
        "          or:  costlake sql --lake {lake} \"SELECT meter_category, sum(cost) FROM usage_details GROUP BY 1 ORDER BY 2 DESC\""
    );
    println!(
        "          or:  costlake sql --lake {lake} 'SELECT \"x_BillingPeriod\", \"x_SourceDataset\", sum(\"BilledCost\") FROM focus GROUP BY 1, 2 ORDER BY 1'"
    );
    println!(
        "          or:  costlake query --lake {lake} commitment_burndown --output burndown.png   (a chart for the month-end email)"
    );
    Ok(ok && written.reconciles())
}

/// Signs in to the emulated tenant with its service principal (what AZURE_TENANT_ID,
/// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET give on a real one) and syncs the billing account's
/// cost details and balances from the Cost Management APIs.
async fn sync_cost_management(emu: &Emulator, lake: &str) -> Result<bool, DemoError> {
    let sign_in = emu.sign_in_env();
    let env = |name: &str| {
        sign_in
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let credential = EntraCredential::from_env(ARM_RESOURCE, &env, RetryConfig::default())
        .map_err(|e| SourceError::Other(e.to_string()))?;
    let account = emu.enrollment().spec.number.to_string();
    println!(
        "\nSigning in to the emulated Microsoft Entra tenant {} as service principal {}, then\n`costlake sync --billing-account {account}` through the Cost Management APIs:",
        emu.config().arm.tenant,
        emu.config().arm.client_id
    );
    let opts = ArmSyncOptions {
        billing_account: account,
        arm_base: emu.base_url(),
        credential: Arc::new(credential),
        report_timeout: std::time::Duration::from_secs(300),
        settings: SyncSettings::new(lake, cost_management::DATASETS.to_vec()),
    };
    let progress = Progress::new(false, Lines::All);
    let report = cost_management::sync(&opts, &progress).await;
    progress.finish();
    Ok(summarize("sync --billing-account", report?))
}

/// The usage, Marketplace and price tables of the archive EA API: the same months again, by
/// the protocol the retired API spoke. `focus` answers each month once, from the Cost
/// Management data.
async fn sync_archive(emu: &Emulator, lake: &str) -> Result<bool, DemoError> {
    println!(
        "\nThe same months from the retired EA Reporting API's archive path (`costlake sync --enrollment`);\nthe `focus` view, which the saved queries read, answers each month once, from the Cost Management data:"
    );
    let opts = SyncOptions {
        enrollment: emu.enrollment().spec.number,
        api_base: emu.base_url(),
        key: ApiKey::new(DEMO_KEY).map_err(|e| SourceError::Other(e.to_string()))?,
        settings: SyncSettings::new(
            lake,
            vec![
                Dataset::BillingPeriods,
                Dataset::UsageDetails,
                Dataset::MarketplaceCharges,
                Dataset::PriceSheet,
            ],
        ),
    };
    let progress = Progress::new(false, Lines::All);
    let report = ea_api::sync(&opts, &progress).await;
    progress.finish();
    Ok(summarize("sync", report?))
}

/// Prints a run's warnings and summary; whether every unit succeeded.
fn summarize(what: &str, report: RunReport) -> bool {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!("{what}: {}", report.summary());
    report.ok()
}

/// Whether `name` is an executable file in a folder of `PATH`.
fn on_path(name: &str) -> bool {
    let executable = |m: &std::fs::Metadata| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        {
            m.is_file()
        }
    };
    let file = if cfg!(windows) {
        format!("{name}.exe")
    } else {
        name.to_string()
    };
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(&file)).is_ok_and(|m| executable(&m)))
    })
}
