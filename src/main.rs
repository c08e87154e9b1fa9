//! The `costlake` command line: argument parsing only; the work is in the library.

use std::process::ExitCode;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use costlake::api::{self, ApiKey, RetryConfig};
use costlake::config::{self, FileSettings};
use costlake::emulator::{self, EmulatorConfig, Fault, FaultConfig, PeriodId};
use costlake::ingest::{self, IngestOptions};
use costlake::lake::Lake;
use costlake::output::Format;
use costlake::output::chart::ChartSpec;
use costlake::query::{PrintOptions, QueryError, Session};
use costlake::schema::Dataset;
use costlake::sync::{self, PeriodSelection, Progress, SyncOptions};

#[derive(Parser)]
#[command(
    name = "costlake",
    version,
    about = "Azure EA billing data in a local, queryable Parquet lake",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// With no command: the interactive SQL shell on this lake.
    #[command(flatten)]
    shell: LakeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Download billing periods, balance summaries, usage, marketplace charges and price sheets
    /// from the EA Reporting API into the lake.
    Sync(SyncArgs),
    /// Bring Cost Management exports (CSV, gzip CSV or Parquet parts with their manifest.json)
    /// from a folder or a container into the lake.
    Ingest(IngestArgs),
    /// Serve a local emulator of the EA Reporting API with a synthetic enrollment.
    Emulate(EmulateArgs),
    /// The whole loop with no Azure account: emulator, sync into ./costlake-demo, saved queries.
    Demo(DemoArgs),
    /// Run SQL against the lake and print the result.
    Sql(SqlArgs),
    /// Run a saved query by name (or a .sql file) with parameters.
    Query(QueryArgs),
    /// The interactive SQL shell on the lake (the default command).
    Repl(LakeArgs),
    /// The lake's tables: partitions and rows, and each table's columns.
    Tables(LakeArgs),
    /// Reconcile each period: usage and marketplace against the balance summary, rows against
    /// the manifest. Exit code 1 when a period does not reconcile.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    lake: LakeArgs,
    /// The largest difference accepted, in the billing currency (default 0: exact).
    #[arg(long, default_value = "0")]
    tolerance: String,
}

#[derive(Args, Clone)]
struct LakeArgs {
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    lake: Option<String>,
    /// A folder of .sql files that add to or override the built-in saved queries.
    #[arg(long, default_value = "queries")]
    queries: PathBuf,
}

#[derive(Args, Default)]
struct PrintArgs {
    /// Output format: table, csv, tsv, json, ndjson, markdown, parquet, chart (default: from
    /// the --output file's extension (.svg and .png draw a chart), else table).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Draw a chart: `[bar|line] [x=COLUMN] [y=COLUMN,...]` (implies --format chart; saved
    /// queries bring their own).
    #[arg(long, value_parser = parse_chart)]
    chart: Option<ChartSpec>,
    /// Print how long the statement took.
    #[arg(long)]
    timing: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Usage rows in each of the six billing periods.
    #[arg(long, default_value_t = 20_000)]
    rows_per_period: u64,
}

#[derive(Args)]
struct SqlArgs {
    #[command(flatten)]
    lake: LakeArgs,
    #[command(flatten)]
    print: PrintArgs,
    /// The SQL; several statements may be separated by `;`.
    sql: String,
}

#[derive(Args)]
struct QueryArgs {
    #[command(flatten)]
    lake: LakeArgs,
    #[command(flatten)]
    print: PrintArgs,
    /// A saved query's name, or a .sql file.
    name: String,
    /// A parameter, name=value (repeatable).
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
}

#[derive(Args)]
struct SyncArgs {
    /// Enrollment number (or `enrollment` in costlake.toml).
    #[arg(long)]
    enrollment: Option<u64>,
    /// API base URL: scheme, host and port.
    #[arg(long)]
    api_base: Option<String>,
    /// File holding the API key (else COSTLAKE_API_KEY).
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    lake: Option<String>,
    /// Billing periods, e.g. 202301..202306 or 202301.
    #[arg(long, conflicts_with_all = ["since", "from", "to"])]
    periods: Option<String>,
    /// Billing periods from this one on (yyyyMM).
    #[arg(long, value_parser = parse_period, conflicts_with_all = ["from", "to"])]
    since: Option<PeriodId>,
    /// First day (yyyy-MM-dd), through the custom-date endpoints; whole months are fetched.
    #[arg(long, requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last day (yyyy-MM-dd).
    #[arg(long, requires = "from")]
    to: Option<chrono::NaiveDate>,
    /// Datasets (comma-separated): billing_periods, balance_summary, usage_details,
    /// marketplace_charges, price_sheet. Default: all.
    #[arg(long, value_delimiter = ',', value_parser = parse_dataset)]
    datasets: Vec<Dataset>,
    /// Units fetched at once.
    #[arg(long)]
    jobs: Option<usize>,
    /// Fetch closed periods again too.
    #[arg(long)]
    refresh: bool,
    /// Days after a period's end before it counts as closed.
    #[arg(long)]
    settle_days: Option<i64>,
    /// Print only errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct IngestArgs {
    /// Where the exports are: a folder, or az://container/prefix, abfss://…, s3://…, gs://….
    #[arg(long)]
    source: String,
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    lake: Option<String>,
    /// Datasets (comma-separated): cost_details, focus_costs, export_price_sheet,
    /// reservation_details, reservation_transactions, reservation_recommendations. Default: all.
    #[arg(long, value_delimiter = ',', value_parser = parse_dataset)]
    datasets: Vec<Dataset>,
    /// Partitions ingested at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print only warnings and errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct EmulateArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Enrollment number served.
    #[arg(long, default_value_t = 100)]
    enrollment: u64,
    /// The one API key accepted (default: the demo key, printed at start).
    #[arg(long)]
    key: Option<String>,
    /// Seed of the synthetic enrollment: the same seed serves the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of billing periods.
    #[arg(long, default_value_t = 6)]
    periods: u32,
    /// Newest billing period, yyyyMM (default: the current month, which is then open).
    #[arg(long, value_parser = parse_period)]
    last_period: Option<PeriodId>,
    /// Usage rows in each billing period.
    #[arg(long, default_value_t = 20_000)]
    rows_per_period: u64,
    /// Usage rows per page.
    #[arg(long, default_value_t = emulator::DEFAULT_PAGE_SIZE)]
    page_size: usize,
    /// Probability of answering a request with a fault (default 0, or 0.1 when --faults is
    /// given).
    #[arg(long)]
    fault_rate: Option<f64>,
    /// Faults to draw from: 429, 503, 500, drop, slow (comma-separated; default all).
    #[arg(long, value_delimiter = ',', value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// Seconds a slow answer waits.
    #[arg(long, default_value_t = 3)]
    slow_secs: u64,
    /// Instead of serving the API, write the enrollment as Cost Management exports (runs,
    /// parts and manifests) into this folder or container, then exit.
    #[arg(long)]
    exports: Option<String>,
    /// With --exports: rows per part file.
    #[arg(long, default_value_t = 100_000)]
    part_rows: u64,
    /// With --exports: only these export types (ActualCost, AmortizedCost, FocusCost,
    /// PriceSheet; comma-separated). Default: all.
    #[arg(long, value_delimiter = ',')]
    export_types: Vec<String>,
}

fn parse_period(s: &str) -> Result<PeriodId, String> {
    PeriodId::parse(s)
        .ok_or_else(|| format!("'{s}' is not a billing period; write yyyyMM, e.g. 202406"))
}

fn parse_chart(s: &str) -> Result<ChartSpec, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_dataset(s: &str) -> Result<Dataset, String> {
    Dataset::parse(s).ok_or_else(|| {
        let names: Vec<_> = Dataset::ALL.iter().map(|d| d.name()).collect();
        format!("unknown dataset '{s}'; choose from {}", names.join(", "))
    })
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::parse(s)
        .ok_or_else(|| format!("unknown fault '{s}'; choose from 429, 503, 500, drop, slow"))
}

/// A mistake in how costlake was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn main() -> ExitCode {
    reset_sigpipe();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("COSTLAKE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    // Decoding runs on the blocking pool, at most a chunk per core at once: a thread per core
    // and two for file I/O are enough, and every extra thread keeps its own allocator arena
    // (a 5M-row ingest peaked at 362 MB with tokio's default of 512, 224 MB with four).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(std::thread::available_parallelism().map_or(2, |n| n.get()) + 2)
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(run(cli));
    // Work cancelled with Ctrl-C may still be winding down: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(err) => {
            // Each cause once: typed errors often repeat their source in their own message.
            let mut message = err.to_string();
            for cause in err.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            eprintln!("costlake: {message}");
            let usage = err.downcast_ref::<UsageError>().is_some()
                || err.downcast_ref::<config::ConfigError>().is_some()
                || err
                    .downcast_ref::<QueryError>()
                    .is_some_and(QueryError::is_usage);
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `costlake sql … | head` should end quietly when `head` stops reading, as Unix tools do,
/// rather than fail on a broken pipe.
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn progress_mode(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bars
    } else {
        Progress::Lines
    }
}

async fn run_sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.datasets.iter().find(|d| d.from_exports()) {
        return Err(UsageError(format!(
            "{} comes from Cost Management exports, not the EA API: use `costlake ingest --source …`",
            d.name()
        ))
        .into());
    }
    let file = FileSettings::load(std::path::Path::new("."))?;
    let number = |key: &str| -> anyhow::Result<Option<i64>> {
        file.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    UsageError(format!(
                        "{}: `{key}` must be a number, not '{v}'",
                        config::CONFIG_FILE
                    ))
                    .into()
                })
            })
            .transpose()
    };
    let enrollment = match args.enrollment.or(number("enrollment")?.map(|n| n as u64)) {
        Some(e) => e,
        None => {
            return Err(UsageError(
                "which enrollment? pass --enrollment N (or set `enrollment` in costlake.toml)"
                    .into(),
            )
            .into());
        }
    };
    let key = ApiKey::new(config::api_key(args.api_key_file.as_deref(), &file)?)
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
    } else if let Some(list) = file.get("datasets") {
        list.split(',')
            .map(|d| parse_dataset(d).map_err(UsageError))
            .collect::<Result<_, _>>()?
    } else {
        Dataset::API.to_vec()
    };
    let opts = SyncOptions {
        enrollment,
        api_base: args
            .api_base
            .or_else(|| file.get("api_base").map(str::to_string))
            .unwrap_or_else(|| api::DEFAULT_API_BASE.to_string()),
        key,
        lake: config::lake_location(args.lake.as_deref(), &file),
        periods,
        datasets,
        jobs: args
            .jobs
            .or(number("jobs")?.map(|n| n as usize))
            .unwrap_or(4),
        refresh: args.refresh,
        settle: chrono::Duration::days(args.settle_days.or(number("settle_days")?).unwrap_or(30)),
        retry: RetryConfig::default(),
        progress: progress_mode(args.quiet),
    };
    let quiet = args.quiet;
    let report = sync::run(opts).await?;
    if !quiet || !report.ok() {
        eprintln!("{}", report.summary());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn run_ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
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
        opts.datasets = args.datasets;
    }
    if let Some(jobs) = args.jobs {
        opts.jobs = jobs;
    }
    let source = ingest::Source::open(&args.source).await?;
    let lake = Lake::open(&config::lake_location(args.lake.as_deref(), &file), true).await?;
    let report = ingest::ingest(&lake, &source, &opts).await?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet || !report.ok() {
        print!("{}", report.render());
    }
    if report.runs_found == 0 {
        eprintln!(
            "no export runs under {}: costlake looks for the manifest.json each run writes last",
            args.source
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Repl(cli.shell)) {
        Command::Sync(args) => run_sync(args).await,
        Command::Ingest(args) => run_ingest(args).await,
        Command::Sql(args) => {
            let session = open_session(&args.lake, &args.print).await?;
            session.run(&args.sql, &Default::default()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(args) => {
            let session = open_session(&args.lake, &args.print).await?;
            let q = session.saved(&args.name)?;
            let given = costlake::repl::parse_params(args.params.iter().map(String::as_str))
                .map_err(UsageError)?;
            let params = session.bind(&q, &given).await?;
            session.run_saved(&q, &params).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Repl(args) => {
            let session = open_session(&args, &PrintArgs::default()).await?;
            costlake::repl::run(session).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            let session = open_session(&args.lake, &PrintArgs::default()).await?;
            let scale = costlake::schema::DECIMAL_SCALE as u32;
            let tolerance = costlake::decimal::parse(&args.tolerance, scale, 38).map_err(|_| {
                UsageError(format!("--tolerance '{}' is not a number", args.tolerance))
            })?;
            let checks = costlake::verify::verify(&session, tolerance.abs()).await?;
            print!("{}", costlake::verify::render(&checks));
            let failed: Vec<_> = checks.iter().filter(|c| !c.ok()).collect();
            if failed.is_empty() {
                println!(
                    "{} periods reconcile exactly (tolerance {}).",
                    checks.len(),
                    args.tolerance
                );
                Ok(ExitCode::SUCCESS)
            } else {
                for c in &failed {
                    eprintln!(
                        "period {} of enrollment {} does not reconcile: {}",
                        c.period,
                        c.enrollment,
                        c.problems.join("; ")
                    );
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Tables(args) => {
            let session = open_session(&args, &PrintArgs::default()).await?;
            print!("{}", costlake::repl::tables_overview(&session).await?);
            for d in Dataset::ALL {
                println!("\n{}:", d.name());
                print!(
                    "{}",
                    costlake::repl::describe_table(&session, d.name()).await?
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Emulate(args) => {
            let config = EmulatorConfig {
                enrollment: args.enrollment,
                key: args
                    .key
                    .clone()
                    .unwrap_or_else(|| emulator::DEMO_KEY.to_string()),
                seed: args.seed,
                periods: args.periods,
                last_period: args.last_period,
                rows_per_period: args.rows_per_period,
                page_size: args.page_size,
                faults: FaultConfig {
                    rate: args
                        .fault_rate
                        .unwrap_or(if args.faults.is_empty() { 0.0 } else { 0.1 }),
                    kinds: if args.faults.is_empty() {
                        Fault::ALL.to_vec()
                    } else {
                        args.faults
                    },
                    slow: std::time::Duration::from_secs(args.slow_secs),
                    ..FaultConfig::default()
                },
                ..EmulatorConfig::default()
            };
            if let Some(target) = &args.exports {
                let started = std::time::Instant::now();
                let store = Lake::open(target, true).await?.store();
                let opts = emulator::exports::ExportTreeOptions {
                    part_rows: args.part_rows,
                    types: args.export_types.clone(),
                    ..Default::default()
                };
                let written =
                    emulator::exports::write_tree(&config.enrollment(), store, &opts).await?;
                println!(
                    "wrote {} export runs ({} files, {:.1} MB) of enrollment {} into {target} in {:.1} s",
                    written.runs,
                    written.files,
                    written.bytes as f64 / 1e6,
                    config.enrollment,
                    started.elapsed().as_secs_f64()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let emu = emulator::Emulator::bind(config, ([127, 0, 0, 1], args.port).into()).await?;
            print_banner(&emu, args.key.is_none());
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = emu.wait() => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => run_demo(args.rows_per_period).await,
    }
}

async fn open_session(lake: &LakeArgs, print: &PrintArgs) -> anyhow::Result<Session> {
    let file = FileSettings::load(std::path::Path::new("."))?;
    let mut session = Session::open(
        &config::lake_location(lake.lake.as_deref(), &file),
        Some(&lake.queries),
    )
    .await?;
    let format = print
        .format
        .or_else(|| print.chart.as_ref().map(|_| Format::Chart))
        .or_else(|| print.output.as_deref().and_then(Format::from_extension))
        .unwrap_or(Format::Table);
    session.print = PrintOptions {
        format,
        max_rows: costlake::query::TABLE_ROW_LIMIT,
        timing: print.timing,
        output: print.output.clone(),
        chart: print.chart.clone().unwrap_or_default(),
    };
    Ok(session)
}

async fn run_demo(rows_per_period: u64) -> anyhow::Result<ExitCode> {
    let ok = costlake::demo::run(
        costlake::demo::DEMO_LAKE,
        rows_per_period,
        progress_mode(false),
    )
    .await?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_banner(emu: &emulator::Emulator, show_key: bool) {
    let e = emu.enrollment();
    let base = emu.base_url();
    println!("EA Reporting API emulator listening on {base}");
    println!(
        "  enrollment {}  seed {}  {} periods ({}..{})  {} usage rows per period",
        e.spec.number,
        e.spec.seed,
        e.periods.len(),
        e.periods[0].id,
        e.periods[e.periods.len() - 1].id,
        e.spec.rows_per_period
    );
    if show_key {
        println!("  API key (demo): {}", emulator::DEMO_KEY);
    }
    println!(
        "  try: curl -H 'Authorization: bearer <key>' {base}/v2/enrollments/{}/billingperiods",
        e.spec.number
    );
    println!("  swagger: {base}/swagger/docs/v3");
}
