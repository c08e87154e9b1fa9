//! The interactive shell: rustyline with history, completion of keywords, tables and columns,
//! multi-line statements ending at `;` with a continuation prompt, backslash commands, Ctrl-C
//! to cancel a running query. Every error is printed and the session goes on.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::output::Format;
use crate::output::chart::ChartSpec;
use crate::query::SavedQuery;
use crate::query::{QueryError, Session};
use crate::schema::Dataset;
use crate::sync::thousands;

const PROMPT: &str = "costlake> ";
const CONTINUATION: &str = "      ... ";
/// Rows the table shows before it says how many more there are.
pub const DEFAULT_MAX_ROWS: usize = 40;

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "INNER JOIN",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "DISTINCT",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "WITH",
    "UNION ALL",
    "DESC",
    "ASC",
    "BETWEEN",
    "LIKE",
    "CAST",
    "COALESCE",
    "ROUND",
    "OVER",
    "PARTITION BY",
    "EXPLAIN",
    "SHOW TABLES",
    "DESCRIBE",
    "CREATE VIEW",
    "DATE_TRUNC",
    "TO_CHAR",
];

const COMMANDS: &[(&str, &str)] = &[
    ("\\dt", "list tables with partitions and rows"),
    ("\\d TABLE", "describe a table's columns"),
    ("\\run NAME [k=v ...]", "run a saved query"),
    ("\\queries", "list saved queries"),
    ("\\i FILE.sql", "run the statements in a file"),
    (
        "\\chart [bar|line] [x=COL] [y=COL,...]",
        "draw the last result as a chart (with \\o FILE.svg or .png, as an image)",
    ),
    (
        "\\format NAME",
        "set the output format (table, csv, tsv, json, ndjson, markdown, chart)",
    ),
    (
        "\\o FILE",
        "send results to a file; \\o alone sends them back to the screen",
    ),
    ("\\timing", "show how long each statement takes"),
    ("\\?", "this help"),
    ("\\q", "quit (or Ctrl-D)"),
];

/// Completion of SQL keywords, table names, column names and backslash commands.
pub struct SqlHelper {
    words: Vec<String>,
}

impl SqlHelper {
    pub fn new() -> SqlHelper {
        let mut words: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
        for d in Dataset::ALL {
            words.push(d.name().to_string());
            for f in d.fields() {
                words.push(f.column.to_string());
            }
            for p in d.partition_columns() {
                words.push(p.to_string());
            }
        }
        words.sort();
        words.dedup();
        SqlHelper { words }
    }

    /// Candidates for the word that ends at `pos`.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        if before.trim_start().starts_with('\\') && !before.contains(' ') {
            let start = before.find('\\').unwrap_or(0);
            let typed = &before[start..];
            let cmds = COMMANDS
                .iter()
                .map(|(c, _)| c.split(' ').next().unwrap_or(c).to_string())
                .filter(|c| c.starts_with(typed))
                .collect();
            return (start, cmds);
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let typed = &before[start..];
        if typed.is_empty() {
            return (start, Vec::new());
        }
        let lower = typed.to_ascii_lowercase();
        let found = self
            .words
            .iter()
            .filter(|w| w.to_ascii_lowercase().starts_with(&lower))
            .map(|w| {
                if w.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && typed.chars().all(|c| !c.is_ascii_uppercase())
                {
                    w.to_ascii_lowercase()
                } else {
                    w.clone()
                }
            })
            .collect();
        (start, found)
    }
}

impl Default for SqlHelper {
    fn default() -> Self {
        Self::new()
    }
}

impl Completer for SqlHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Highlighter for SqlHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for SqlHelper {}
impl Helper for SqlHelper {}

/// Whether the text so far is a whole statement (ends with `;`) or a command.
pub fn is_complete(buffer: &str) -> bool {
    let t = buffer.trim();
    t.is_empty() || t.starts_with('\\') || t.ends_with(';')
}

/// A parsed backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ListTables,
    Describe(String),
    Run(String, Vec<(String, String)>),
    Queries,
    Include(PathBuf),
    Chart(ChartSpec),
    Format(Format),
    Output(Option<PathBuf>),
    Timing,
    Help,
    Quit,
}

impl FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> Result<Command, String> {
        let mut words = s.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let one = |what: &str| -> Result<String, String> {
            match rest.as_slice() {
                [x] => Ok(x.to_string()),
                _ => Err(format!("{cmd} takes {what}")),
            }
        };
        match cmd {
            "\\dt" => Ok(Command::ListTables),
            "\\d" => one("a table name").map(Command::Describe),
            "\\run" => {
                let (name, params) = rest
                    .split_first()
                    .ok_or("\\run takes a saved query's name; \\queries lists them")?;
                let params = parse_params(params.iter().copied())?;
                Ok(Command::Run(name.to_string(), params))
            }
            "\\queries" => Ok(Command::Queries),
            "\\i" => one("a file").map(|f| Command::Include(f.into())),
            "\\chart" => rest.join(" ").parse().map(Command::Chart),
            "\\format" => one("a format name").and_then(|f| f.parse().map(Command::Format)),
            "\\o" => match rest.as_slice() {
                [] => Ok(Command::Output(None)),
                [f] => Ok(Command::Output(Some(f.into()))),
                _ => Err("\\o takes one file name (or none)".into()),
            },
            "\\timing" => Ok(Command::Timing),
            "\\?" | "\\h" | "\\help" => Ok(Command::Help),
            "\\q" | "\\quit" => Ok(Command::Quit),
            other => Err(format!("unknown command {other}; \\? lists the commands")),
        }
    }
}

/// `name=value` pairs.
pub fn parse_params<'a>(
    items: impl Iterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, String> {
    items
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("parameter '{p}' should read name=value"))
        })
        .collect()
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("COSTLAKE_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".costlake_history"))
}

/// Runs the shell until `\q` or Ctrl-D.
pub async fn run(mut session: Session) -> Result<(), QueryError> {
    let mut editor: Editor<SqlHelper, DefaultHistory> =
        Editor::new().map_err(|e| QueryError::Io(format!("cannot start the shell: {e}")))?;
    editor.set_helper(Some(SqlHelper::new()));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    session.print.max_rows = DEFAULT_MAX_ROWS;
    println!(
        "costlake {} on {}. End statements with ';'. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        session.lake.location()
    );
    let mut buffer = String::new();
    let mut last: Option<Statement> = None;
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
                        Ok(cmd) => run_command(&mut session, cmd, &mut last).await,
                        Err(e) => eprintln!("{e}"),
                    }
                } else {
                    let statement = Statement::Sql(input.to_string());
                    run_cancellable(&session, &statement).await;
                    last = Some(statement);
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

/// What was last run, for `\\chart` to draw again.
enum Statement {
    Sql(String),
    Saved(SavedQuery, HashMap<String, datafusion::common::ScalarValue>),
}

/// Runs a statement; Ctrl-C cancels it and returns to the prompt. Errors are printed.
async fn run_cancellable(session: &Session, statement: &Statement) {
    let run = async {
        match statement {
            Statement::Saved(q, params) => session.run_saved(q, params).await,
            Statement::Sql(sql) => session.run(sql, &HashMap::new()).await,
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

async fn run_command(session: &mut Session, cmd: Command, last: &mut Option<Statement>) {
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
                Ok(params) => {
                    let statement = Statement::Saved(q, params);
                    run_cancellable(session, &statement).await;
                    *last = Some(statement);
                }
                Err(e) => eprintln!("Error: {e}"),
            }
        }
        Command::Queries => {
            for q in session.queries.values() {
                println!(
                    "{:<24} {}\n{:<24} {}",
                    q.name,
                    q.description,
                    "",
                    q.signature()
                );
            }
        }
        Command::Include(file) => match std::fs::read_to_string(&file) {
            Ok(sql) => {
                let statement = Statement::Sql(sql);
                run_cancellable(session, &statement).await;
                *last = Some(statement);
            }
            Err(e) => eprintln!("Error: cannot read {}: {e}", file.display()),
        },
        Command::Chart(spec) => {
            let Some(statement) = last.as_ref() else {
                return eprintln!("Error: nothing to chart yet: run a query first");
            };
            let chart = crate::query::PrintOptions {
                format: Format::Chart,
                chart: spec,
                ..session.print.clone()
            };
            let saved = std::mem::replace(&mut session.print, chart);
            run_cancellable(session, statement).await;
            session.print = saved;
        }
        Command::Format(Format::Parquet) => {
            eprintln!("Parquet needs a file: use `costlake sql --output x.parquet`")
        }
        Command::Format(f) => session.print.format = f,
        Command::Output(target) => {
            if let Some(path) = &target
                && let Err(e) = std::fs::File::create(path)
            {
                return eprintln!("Error: cannot write {}: {e}", path.display());
            }
            session.print.output = target;
        }
        Command::Timing => {
            session.print.timing = !session.print.timing;
            println!("timing {}", if session.print.timing { "on" } else { "off" });
        }
        Command::Help => {
            for (c, what) in COMMANDS {
                println!("  {c:<22} {what}");
            }
        }
        Command::Quit => {}
    }
}

/// Each table that holds data, with its partitions and rows, from the manifest (no file is
/// opened); the empty ones are named on one line.
pub async fn tables_overview(session: &Session) -> Result<String, QueryError> {
    let manifest = session.lake.manifest().await?;
    let counts: Vec<(Dataset, u64, u64)> = Dataset::ALL
        .iter()
        .map(|&d| {
            let (parts, rows) = manifest
                .of(d)
                .fold((0u64, 0u64), |(p, r), e| (p + 1, r + e.rows));
            (d, parts, rows)
        })
        .collect();
    let (held, empty): (Vec<_>, Vec<_>) = counts.into_iter().partition(|(_, parts, _)| *parts > 0);
    let width = held
        .iter()
        .map(|(d, ..)| d.name().len())
        .chain([22])
        .max()
        .unwrap_or(22);
    let mut out = String::new();
    for (d, parts, rows) in held {
        out.push_str(&format!(
            "{:<width$} {:>4} partitions {:>14} rows   {}\n",
            d.name(),
            parts,
            thousands(rows),
            d.doc()
        ));
    }
    if !empty.is_empty() {
        let names: Vec<&str> = empty.iter().map(|(d, ..)| d.name()).collect();
        out.push_str(&format!("empty: {}\n", names.join(", ")));
    }
    Ok(out)
}

/// A table's (or view's) columns and types.
pub async fn describe_table(session: &Session, table: &str) -> Result<String, QueryError> {
    let provider = session.ctx.table_provider(table).await?;
    let mut out = String::new();
    for f in provider.schema().fields() {
        let null = if f.is_nullable() { "" } else { " not null" };
        out.push_str(&format!("  {:<36} {}{null}\n", f.name(), f.data_type()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!("\\dt".parse(), Ok(Command::ListTables));
        assert_eq!(
            "\\d usage_details".parse(),
            Ok(Command::Describe("usage_details".into()))
        );
        assert_eq!(
            "\\run top_resources top=5".parse(),
            Ok(Command::Run(
                "top_resources".into(),
                vec![("top".into(), "5".into())]
            ))
        );
        assert_eq!("\\format csv".parse(), Ok(Command::Format(Format::Csv)));
        assert_eq!("\\o".parse(), Ok(Command::Output(None)));
        assert!("\\format xml".parse::<Command>().is_err());
        assert!("\\nope".parse::<Command>().is_err());
    }

    #[test]
    fn statements_end_at_semicolons() {
        assert!(!is_complete("SELECT 1"));
        assert!(is_complete("SELECT 1\nFROM t;"));
        assert!(is_complete("\\dt"));
    }

    #[test]
    fn completes_keywords_tables_and_columns() {
        let h = SqlHelper::new();
        let (start, words) = h.candidates("SELECT * FROM usage_de", 22);
        assert_eq!(start, 14);
        assert_eq!(words, vec!["usage_details"]);
        let (_, words) = h.candidates("select cos", 10);
        assert!(words.contains(&"cost".to_string()) && words.contains(&"cost_center".to_string()));
        let (_, words) = h.candidates("sel", 3);
        assert_eq!(words, vec!["select"]);
        let (_, words) = h.candidates("\\d", 2);
        assert!(words.contains(&"\\dt".to_string()));
    }
}
