//! Query results on the command line and in the shell: every statement of a text through the
//! library's one execute path, each result on standard output (or the file chosen), then its
//! footer on standard error: rows not shown, and the time taken when asked.

use std::io::IsTerminal;

use costlake::engine::{Params, QueryError, SavedQuery, Session, StatementReport};
use costlake::output::PrintOptions;

/// What the user chose about results: the library's print options, and whether to time.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub print: PrintOptions,
    pub timing: bool,
}

impl Shown {
    /// Fits tables and text charts to the terminal standard output is, if it is one, at its
    /// size now (a shell's terminal may be resized between statements).
    pub fn for_terminal(mut self) -> Shown {
        let (table, chart) = widths();
        self.print.table_width = table;
        self.print.chart_width = chart;
        self
    }
}

/// The terminal's width for tables (only when standard output is a terminal) and for text
/// charts: `COLUMNS` (so a script can set it), else the terminal's, else 100.
fn widths() -> (Option<usize>, usize) {
    let terminal = console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| cols as usize)
        .filter(|&c| c > 20);
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c: &usize| c > 20);
    let width = columns.or(terminal);
    let table = if std::io::stdout().is_terminal() {
        width
    } else {
        None
    };
    (table, width.unwrap_or(100))
}

/// Runs every statement of `sql` and shows each result.
pub async fn run(
    session: &Session,
    sql: &str,
    params: &Params,
    saved: Option<&SavedQuery>,
    shown: &Shown,
) -> Result<(), QueryError> {
    let mut out = std::io::stdout();
    for statement in Session::statements(sql)? {
        let report = session
            .execute(statement, params, saved, &shown.print, &mut out)
            .await?;
        footer(&report, shown.timing);
    }
    Ok(())
}

/// A saved query, with its parameters bound.
pub async fn run_saved(
    session: &Session,
    q: &SavedQuery,
    params: &Params,
    shown: &Shown,
) -> Result<(), QueryError> {
    run(session, &q.sql, params, Some(q), shown).await
}

fn footer(report: &StatementReport, timing: bool) {
    if report.hidden > 0 {
        eprintln!(
            "{} more rows not shown (of {}); --format csv, ndjson or parquet gives them all",
            report.hidden,
            report.rows + report.hidden
        );
    }
    if timing {
        eprintln!(
            "{} rows in {:.3} s",
            report.rows + report.hidden,
            report.elapsed.as_secs_f64()
        );
    }
}
