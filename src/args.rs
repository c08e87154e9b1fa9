//! The command line's grammar: every command, flag and value parser, with clap. What each
//! command does is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use costlake::model::{Dataset, PeriodId};
use costlake::output::Format;
use costlake::output::chart::ChartSpec;
use costlake_emulator::Fault;

/// `0.1.0 (3f2a9c1e7b)`: the package version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("COSTLAKE_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "costlake",
    version = VERSION,
    about = "Azure billing data in a queryable Parquet lake, with money as exact decimals",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// With no command: the interactive SQL shell on this lake.
    #[command(flatten)]
    pub shell: LakeArgs,
    /// What costlake logs on standard error: error, warn (the default), info (each unit, each
    /// retry), debug (each request) or trace. RUST_LOG, when set and this is not, chooses for
    /// costlake and its libraries alike.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,
    /// Log lines as text (the default) or as JSON objects, one per line.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Download cost details and balances from the Cost Management APIs (--billing-account),
    /// or billing periods, balance summaries, usage, marketplace charges and price sheets from
    /// the retired EA Reporting API (--enrollment), into the lake.
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
    /// Write the month-end report: one self-contained HTML page of saved queries' results
    /// and charts, with the lake's reconciliation. Exit code 1 when something does not
    /// reconcile (the report is written all the same).
    Report(ReportArgs),
    /// List the periods whose published data was replaced (a late correction, a re-run
    /// export): per billing account, dataset and cost type, the totals before and after.
    Changes(ChangesArgs),
    /// Delete the files kept of replaced partitions but each partition's latest N; the
    /// records of the replacements stay.
    Prune(PruneArgs),
    /// Run a Ballista scheduler that knows costlake's functions (`--cluster df://HOST:PORT`
    /// sends statements to it).
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor for a costlake scheduler.
    Executor(ExecutorArgs),
    /// Print the completion script of a shell: `source <(costlake completions bash)`.
    Completions(CompletionsArgs),
    /// Print costlake's man page (roff): `costlake man > costlake.1 && man -l costlake.1`.
    Man,
}

#[derive(Args)]
pub struct SchedulerArgs {
    /// Address and port to listen on (0.0.0.0:50050 for every interface).
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,
}

#[derive(Args)]
pub struct ExecutorArgs {
    /// The scheduler, as HOST:PORT (a name, such as a Kubernetes service, or an address).
    #[arg(long, default_value = "127.0.0.1:50050", value_parser = parse_host_port)]
    pub scheduler: (String, u16),
    /// Address and port of this executor's Arrow Flight service, which other executors read
    /// shuffles from and clients read results from.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: std::net::SocketAddr,
    /// The host name or address others reach this executor at (default: the --bind address;
    /// give it when binding 0.0.0.0, e.g. the pod's IP).
    #[arg(long, value_name = "HOST")]
    pub advertise: Option<String>,
    /// Tasks run at once (default: the number of cores).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Where shuffle files go.
    #[arg(long, default_value = "costlake-executor")]
    pub work_dir: PathBuf,
}

/// `HOST:PORT`, the host a name or an address.
fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text} is not HOST:PORT"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{port} is not a port number"))?;
    if host.is_empty() {
        return Err(format!("{text} names no host"));
    }
    Ok((host.to_string(), port))
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ChangesArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    /// Only replacements on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_day)]
    pub since: Option<chrono::NaiveDate>,
}

#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// How many of each partition's previous versions to keep (0 deletes them all).
    #[arg(long)]
    pub keep: usize,
}

fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a day as YYYY-MM-DD"))
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The billing period, yyyyMM, latest or previous (default: the latest month that has
    /// ended).
    #[arg(long)]
    pub period: Option<String>,
    /// The HTML file to write (default: costlake-report-PERIOD.html).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// A report definition of your own (TOML; `--print-definition` prints the built-in one to
    /// start from).
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Print the built-in report definition and exit.
    #[arg(long)]
    pub print_definition: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The largest difference accepted, in the billing currency (default 0: exact).
    #[arg(long, default_value = "0")]
    pub tolerance: String,
}

#[derive(Args, Clone)]
pub struct LakeArgs {
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    pub lake: Option<String>,
    /// A folder of .sql files that add to or override the built-in saved queries.
    #[arg(long, default_value = "queries")]
    pub queries: PathBuf,
    /// Run statements on a Ballista cluster: df://HOST:PORT of its scheduler (see `costlake
    /// scheduler` and `costlake executor`).
    #[arg(long, env = "COSTLAKE_CLUSTER", value_name = "URL")]
    pub cluster: Option<String>,
}

#[derive(Args, Default)]
pub struct PrintArgs {
    /// Output format: table, csv, tsv, json, ndjson, markdown, parquet, chart (default: from
    /// the --output file's extension (.svg and .png draw a chart), else table).
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Write the result to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Draw a chart: `[bar|line] [x=COLUMN] [y=COLUMN,...]` (implies --format chart; saved
    /// queries bring their own).
    #[arg(long, value_parser = parse_chart)]
    pub chart: Option<ChartSpec>,
    /// Print how long the statement took.
    #[arg(long)]
    pub timing: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Usage rows in each of the six billing periods.
    #[arg(long, default_value_t = 20_000)]
    pub rows_per_period: u64,
}

#[derive(Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    /// The SQL; several statements may be separated by `;`.
    pub sql: String,
}

#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub print: PrintArgs,
    /// A saved query's name, or a .sql file.
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the saved queries: what each answers, reads and takes.
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
    /// A parameter, name=value (repeatable).
    #[arg(long = "param", short = 'p')]
    pub params: Vec<String>,
}

#[derive(Args)]
pub struct SyncArgs {
    /// Billing account to sync from the Cost Management APIs, signed in with Microsoft Entra
    /// ID (AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, workload or managed
    /// identity, or `az login`): an EA enrollment number, or an MCA billing account id.
    #[arg(long, conflicts_with_all = ["enrollment", "api_base", "api_key_file"])]
    pub billing_account: Option<String>,
    /// Azure Resource Manager base URL (default https://management.azure.com).
    #[arg(long, conflicts_with_all = ["enrollment", "api_base", "api_key_file"])]
    pub arm_base: Option<String>,
    /// EA enrollment number, for the retired EA Reporting API with an API key (the archive
    /// path and the emulator; or `enrollment` in costlake.toml).
    #[arg(long)]
    pub enrollment: Option<u64>,
    /// API base URL: scheme, host and port.
    #[arg(long)]
    pub api_base: Option<String>,
    /// File holding the API key (else COSTLAKE_API_KEY).
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    pub lake: Option<String>,
    /// Billing periods, e.g. 202301..202306 or 202301.
    #[arg(long, conflicts_with_all = ["since", "from", "to"])]
    pub periods: Option<String>,
    /// Billing periods from this one on (yyyyMM).
    #[arg(long, value_parser = parse_period, conflicts_with_all = ["from", "to"])]
    pub since: Option<PeriodId>,
    /// First day (yyyy-MM-dd), through the custom-date endpoints; whole months are fetched.
    #[arg(long, requires = "to")]
    pub from: Option<chrono::NaiveDate>,
    /// Last day (yyyy-MM-dd).
    #[arg(long, requires = "from")]
    pub to: Option<chrono::NaiveDate>,
    /// Datasets (comma-separated): billing_periods, balance_summary, usage_details,
    /// marketplace_charges, price_sheet. Default: all.
    #[arg(long, value_delimiter = ',', value_parser = parse_dataset)]
    pub datasets: Vec<Dataset>,
    /// Units fetched at once.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Memory for buffers, shared by all units (e.g. 256MB, the default; 1GB).
    #[arg(long, value_name = "SIZE", value_parser = costlake::memory::parse_size)]
    pub memory: Option<u64>,
    /// Fetch closed periods again too.
    #[arg(long)]
    pub refresh: bool,
    /// Days after a period's end before it counts as closed.
    #[arg(long)]
    pub settle_days: Option<i64>,
    /// How many times a failed request is tried again before its unit fails (default 8).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub report: RunReportArgs,
}

#[derive(Args)]
pub struct IngestArgs {
    /// Where the exports are: a folder, or az://container/prefix, abfss://…, s3://…, gs://….
    #[arg(long)]
    pub source: String,
    /// The lake: a folder (default COSTLAKE_LAKE, `lake` in costlake.toml, ./costlake-data).
    #[arg(long)]
    pub lake: Option<String>,
    /// Datasets (comma-separated): cost_details, focus_costs, export_price_sheet,
    /// reservation_details, reservation_transactions, reservation_recommendations. Default: all.
    #[arg(long, value_delimiter = ',', value_parser = parse_dataset)]
    pub datasets: Vec<Dataset>,
    /// Partitions ingested at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Memory for buffers, shared by all partitions (e.g. 256MB, the default; 1GB).
    #[arg(long, value_name = "SIZE", value_parser = costlake::memory::parse_size)]
    pub memory: Option<u64>,
    /// Print only warnings and errors.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub report: RunReportArgs,
}

/// The machine-readable report of a `sync` or an `ingest` (docs/scheduling.md).
#[derive(Args)]
pub struct RunReportArgs {
    /// Print a report of the run in this format on standard output (`json`: one object, whose
    /// schema is docs/run-report.schema.json); the usual lines then go to standard error.
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    pub report: Option<String>,
    /// Write the JSON report of the run to this file instead.
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct EmulateArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Enrollment number served.
    #[arg(long, default_value_t = 100)]
    pub enrollment: u64,
    /// The one API key accepted (default: the demo key, printed at start).
    #[arg(long)]
    pub key: Option<String>,
    /// Seed of the synthetic enrollment: the same seed serves the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of billing periods.
    #[arg(long, default_value_t = 6)]
    pub periods: u32,
    /// Newest billing period, yyyyMM (default: the current month, which is then open).
    #[arg(long, value_parser = parse_period)]
    pub last_period: Option<PeriodId>,
    /// Usage rows in each billing period.
    #[arg(long, default_value_t = 20_000)]
    pub rows_per_period: u64,
    /// Usage rows per page.
    #[arg(long, default_value_t = costlake_emulator::DEFAULT_PAGE_SIZE)]
    pub page_size: usize,
    /// Probability of answering a request with a fault (default 0, or 0.1 when --faults is
    /// given).
    #[arg(long)]
    pub fault_rate: Option<f64>,
    /// Faults to draw from: 429, 503, 500, drop, slow (comma-separated; default all).
    #[arg(long, value_delimiter = ',', value_parser = parse_fault)]
    pub faults: Vec<Fault>,
    /// Seconds a slow answer waits.
    #[arg(long, default_value_t = 3)]
    pub slow_secs: u64,
    /// Instead of serving the API, write the enrollment as Cost Management exports (runs,
    /// parts and manifests) into this folder or container, then exit.
    #[arg(long)]
    pub exports: Option<String>,
    /// With --exports: rows per part file.
    #[arg(long, default_value_t = 100_000)]
    pub part_rows: u64,
    /// With --exports: only these export types (ActualCost, AmortizedCost, FocusCost,
    /// PriceSheet; comma-separated). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub export_types: Vec<String>,
    /// With --exports: every export's parts in this format (csv, gzip or parquet) instead of
    /// each export's own.
    #[arg(long, value_parser = parse_export_format)]
    pub export_format: Option<costlake_emulator::exports::Format>,
    /// With --exports: add the reservations' purchases, refunds and used hours to actual cost,
    /// and their amortized used and unused hours to amortized cost.
    #[arg(long)]
    pub commitments: bool,
}

fn parse_export_format(s: &str) -> Result<costlake_emulator::exports::Format, String> {
    use costlake_emulator::exports::Format;
    match s.to_ascii_lowercase().as_str() {
        "csv" => Ok(Format::Csv),
        "gzip" | "csv.gz" => Ok(Format::GzipCsv),
        "parquet" => Ok(Format::Parquet),
        _ => Err(format!(
            "'{s}' is not an export format; write csv, gzip or parquet"
        )),
    }
}

pub fn parse_period(s: &str) -> Result<PeriodId, String> {
    PeriodId::parse(s)
        .ok_or_else(|| format!("'{s}' is not a billing period; write yyyyMM, e.g. 202406"))
}

pub fn parse_chart(s: &str) -> Result<ChartSpec, String> {
    s.parse()
}

pub fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

pub fn parse_dataset(s: &str) -> Result<Dataset, String> {
    Dataset::parse(s).ok_or_else(|| {
        let names: Vec<_> = Dataset::ALL.iter().map(|d| d.name()).collect();
        format!("unknown dataset '{s}'; choose from {}", names.join(", "))
    })
}

pub fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::parse(s)
        .ok_or_else(|| format!("unknown fault '{s}'; choose from 429, 503, 500, drop, slow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduler_is_a_name_or_an_address_with_a_port() {
        assert_eq!(
            parse_host_port("costlake-scheduler:50050"),
            Ok(("costlake-scheduler".to_string(), 50050))
        );
        assert_eq!(
            parse_host_port("10.0.0.7:1"),
            Ok(("10.0.0.7".to_string(), 1))
        );
        assert!(parse_host_port("costlake-scheduler").is_err());
        assert!(parse_host_port(":50050").is_err());
        assert!(parse_host_port("host:99999").is_err());
    }
}
