//! The `costlake` command: parses the command line, runs the command on a tokio runtime, and
//! turns its result into an exit code (0 success, 1 a runtime failure, 2 a usage error) and one
//! sentence on standard error. The work is in the `costlake` library; `commands` calls it.

mod args;
mod cluster;
mod commands;
mod progress;
mod repl;
mod results;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// The stack of the thread that parses and plans statements.
const COMMAND_STACK: usize = 256 << 20;
/// The stack of each tokio worker, which evaluates expressions.
const WORKER_STACK: usize = 32 << 20;
/// How long the end of a command waits for the runtime's threads to end.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server must outlive a peer that hangs up: hyper's vectored writes to a closed socket
    // raise SIGPIPE, which would end a scheduler or executor without a word.
    if !matches!(
        cli.command,
        Some(Command::Scheduler(_) | Command::Executor(_))
    ) {
        reset_sigpipe();
    }
    if matches!(cli.command, Some(Command::Sync(_) | Command::Ingest(_))) {
        tune_malloc();
    }
    init_logs(cli.log_level.as_deref(), &cli.log_format);
    // Planning and evaluating SQL recurse once per level of an expression: the command runs
    // on a thread, and tokio's workers, with stacks for the depth `engine::limits` allows
    // (reserved address space; memory is used only as deep as a statement goes).
    let result = std::thread::Builder::new()
        .name("costlake".into())
        .stack_size(COMMAND_STACK)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_stack_size(WORKER_STACK)
                // Decoding runs on the blocking pool, at most a chunk per core at once: a
                // thread per core and two for file I/O are enough, and every idle thread keeps
                // an allocator arena of its own, which shows in peak memory.
                .max_blocking_threads(
                    std::thread::available_parallelism().map_or(2, |n| n.get()) + 2,
                )
                .build()
                .expect("tokio runtime");
            let result = runtime.block_on(run(cli));
            // Work cancelled with Ctrl-C may still be winding down: wait for it only briefly.
            // Not `shutdown_background`: it drops the handles of threads that are exiting at
            // that moment, and glibc 2.36's `pthread_detach` can then read the descriptor of a
            // thread that has just freed it, a segfault. Threads that end within the wait are
            // joined instead.
            runtime.shutdown_timeout(SHUTDOWN_WAIT);
            result
        })
        .expect("a thread for the command")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("costlake: {}", commands::one_sentence(&err));
            if commands::is_usage(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Repl(cli.shell)) {
        Command::Sync(args) => commands::sync::run(args).await,
        Command::Ingest(args) => commands::ingest::run(args).await,
        Command::Sql(args) => commands::query::sql(args).await,
        Command::Query(args) => commands::query::query(args).await,
        Command::Repl(args) => commands::query::shell(args).await,
        Command::Tables(args) => commands::query::tables(args).await,
        Command::Verify(args) => commands::query::verify(args).await,
        Command::Report(args) => commands::report::run(args).await,
        Command::Changes(args) => commands::history::changes(args).await,
        Command::Prune(args) => commands::history::prune(args).await,
        Command::Scheduler(args) => commands::cluster::scheduler(args).await,
        Command::Executor(args) => commands::cluster::executor(args).await,
        Command::Completions(args) => commands::manual::completions(args.shell),
        Command::Man => commands::manual::man(),
        Command::Emulate(args) => commands::emulate::run(args).await,
        Command::Demo(args) => commands::demo::run(args.rows_per_period).await,
    }
}

/// Logs on standard error, as text or JSON lines. `--log-level` sets costlake's own level
/// (its libraries stay at warn); else `RUST_LOG`, else `COSTLAKE_LOG`, else warn. costlake logs
/// URLs through `redact_query` and never a header, key, secret or token.
fn init_logs(level: Option<&str>, format: &str) {
    use tracing_subscriber::EnvFilter;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // costlake's executors report no operator metrics (`cluster::stage`), which Ballista's
    // scheduler would warn of once per stage; and costlake says itself why a job failed.
    let quiet = "ballista_scheduler::state::execution_stage=error,\
                 ballista_core::execution_plans::distributed_query=off";
    let directives = match level {
        Some(l) => format!("warn,{quiet},costlake={l},costlake_cli={l},costlake_emulator={l}"),
        None => env("RUST_LOG")
            .or_else(|| env("COSTLAKE_LOG"))
            .unwrap_or_else(|| format!("warn,{quiet}")),
    };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("costlake: ignoring the log filter '{directives}': {e}");
        EnvFilter::new("warn")
    });
    use std::io::IsTerminal;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// glibc gives threads that allocate at once arenas of their own (up to eight per core), keeps
/// freed memory in the arena that held it, and raises the size from which it maps blocks apart
/// each time one is freed, so the decoding buffers that come and go on the blocking pool's
/// threads stayed in the heap: a sync of four periods measured 368 MB where these settings
/// give 268 MB, as fast (`benches/RESULTS.md`). Two arenas, and blocks from 256 KiB mapped
/// apart (given back to the system when freed). `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` and
/// `GLIBC_TUNABLES` still decide when set. Only `sync` and `ingest` take these: a query's
/// Arrow buffers are mostly above 256 KiB, and mapping each of them apart made the saved
/// queries up to half again as slow.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |name: &str| std::env::var_os(name).is_some();
        if set("GLIBC_TUNABLES") {
            return;
        }
        // SAFETY: setting allocator parameters before any thread starts.
        unsafe {
            if !set("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
            if !set("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
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
