//! The interactive shell: rustyline with history (`helper`), multi-line statements ending at
//! `;`, backslash commands (`command`), Ctrl-C to cancel a running query. Every error is
//! printed and the session goes on.

mod command;
mod helper;

use std::path::PathBuf;

use costlake::engine::{Params, QueryError, SavedQuery, Session, describe_table, tables_overview};
use costlake::output::Format;
use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;

use crate::results::{self, Shown};
pub use command::parse_params;
use command::{COMMANDS, Command};
use helper::{SqlHelper, is_complete};

const PROMPT: &str = "costlake> ";
const CONTINUATION: &str = "      ... ";
/// Rows the table shows before it says how many more there are.
pub const DEFAULT_MAX_ROWS: usize = 40;

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("COSTLAKE_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".costlake_history"))
}

/// What was last run, for `\chart` to draw again.
enum Statement {
    Sql(String),
    Saved(Box<SavedQuery>, Params),
}

/// A shell's state: the session, how results are shown, and what ran last.
struct Shell {
    session: Session,
    shown: Shown,
    last: Option<Statement>,
}

/// Runs the shell until `\q` or Ctrl-D.
pub async fn run(session: Session, mut shown: Shown) -> Result<(), QueryError> {
    let mut editor: Editor<SqlHelper, DefaultHistory> =
        Editor::new().map_err(|e| QueryError::Io(format!("cannot start the shell: {e}")))?;
    editor.set_helper(Some(SqlHelper::new()));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    shown.print.max_rows = DEFAULT_MAX_ROWS;
    println!(
        "costlake {} on {}. End statements with ';'. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        session.lake.location()
    );
    let mut shell = Shell {
        session,
        shown,
        last: None,
    };
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        let line = tokio::task::block_in_place(|| editor.readline(prompt));
        match line {
            Ok(line) => {
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                if !is_complete(&buffer) {
                    continue;
                }
                let input = std::mem::take(&mut buffer);
                let input = input.trim();
                if input.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(input);
                if let Some(h) = &history {
                    let _ = editor.save_history(h);
                }
                if input.starts_with('\\') {
                    match input.parse::<Command>() {
                        Ok(Command::Quit) => break,
                        Ok(cmd) => shell.command(cmd).await,
                        Err(e) => eprintln!("{e}"),
                    }
                } else {
                    shell.run(Statement::Sql(input.to_string())).await;
                }
            }
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error reading input: {e}");
                break;
            }
        }
    }
    Ok(())
}

impl Shell {
    /// Runs a statement and remembers it.
    async fn run(&mut self, statement: Statement) {
        run_cancellable(&self.session, &statement, &self.shown).await;
        self.last = Some(statement);
    }

    async fn command(&mut self, cmd: Command) {
        let session = &self.session;
        match cmd {
            Command::ListTables => match tables_overview(session).await {
                Ok(text) => print!("{text}"),
                Err(e) => eprintln!("Error: {e}"),
            },
            Command::Describe(table) => match describe_table(session, &table).await {
                Ok(text) => print!("{text}"),
                Err(e) => eprintln!("Error: {e}"),
            },
            Command::Run(name, given) => {
                let q = match session.saved(&name) {
                    Ok(q) => q,
                    Err(e) => return eprintln!("Error: {e}"),
                };
                match session.bind(&q, &given).await {
                    Ok(params) => self.run(Statement::Saved(Box::new(q), params)).await,
                    Err(e) => eprintln!("Error: {e}"),
                }
            }
            Command::Queries => print!("{}", costlake::engine::listing(&session.queries)),
            Command::Cluster => match session.cluster() {
                Some(url) => println!("Statements run on the cluster at {url}."),
                None => println!(
                    "Statements run in this process (--cluster df://HOST:PORT sends them to a cluster)."
                ),
            },
            Command::Include(file) => match costlake::engine::limits::read_sql_file(&file) {
                Ok(sql) => self.run(Statement::Sql(sql)).await,
                Err(e) => eprintln!("Error: {e}"),
            },
            Command::Chart(spec) => {
                let Some(statement) = self.last.as_ref() else {
                    return eprintln!("Error: nothing to chart yet: run a query first");
                };
                let mut chart = self.shown.clone();
                chart.print.format = Format::Chart;
                chart.print.chart = spec;
                run_cancellable(session, statement, &chart).await;
            }
            Command::Format(Format::Parquet) => {
                eprintln!("Parquet needs a file: use `costlake sql --output x.parquet`")
            }
            Command::Format(f) => self.shown.print.format = f,
            Command::Output(target) => {
                if let Some(path) = &target
                    && let Err(e) = std::fs::File::create(path)
                {
                    return eprintln!("Error: cannot write {}: {e}", path.display());
                }
                self.shown.print.output = target;
            }
            Command::Timing => {
                self.shown.timing = !self.shown.timing;
                println!("timing {}", if self.shown.timing { "on" } else { "off" });
            }
            Command::Help => {
                for (c, what) in COMMANDS {
                    println!("  {c:<22} {what}");
                }
            }
            Command::Quit => {}
        }
    }
}

/// Runs a statement; Ctrl-C cancels it and returns to the prompt. Errors are printed.
async fn run_cancellable(session: &Session, statement: &Statement, shown: &Shown) {
    let shown = &shown.clone().for_terminal();
    let run = async {
        match statement {
            Statement::Saved(q, params) => results::run_saved(session, q, params, shown).await,
            Statement::Sql(sql) => results::run(session, sql, &Params::new(), None, shown).await,
        }
    };
    tokio::select! {
        result = run => {
            if let Err(e) = result {
                eprintln!("Error: {e}");
            }
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("cancelled");
        }
    }
}
