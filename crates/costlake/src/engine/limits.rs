//! The bounds on the SQL a user or a file hands the engine: its size, and how deeply its
//! expressions nest. DataFusion plans and evaluates expressions recursively, so a generated
//! `1+1+…` of a few thousand terms would overflow the stack and take the process (and a REPL's
//! state) with it; it is refused here with a sentence instead. The CLI also runs on threads
//! with stacks large enough for the depth allowed here.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};

use super::{QueryError, Statement};

/// The most bytes of SQL in one text or `.sql` file. The longest saved query is a few
/// kilobytes; a megabyte leaves room for generated SQL with long `IN` lists.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// The deepest expressions may nest. Hand-written SQL rarely passes 30; a generated sum of a
/// few hundred columns still fits. A debug build plans 1,000 levels within 8 MiB of stack.
pub const MAX_EXPRESSION_DEPTH: usize = 1_000;

/// Refuses a text of SQL past [`MAX_SQL_BYTES`].
pub fn check_size(sql: &str, origin: &str) -> Result<(), QueryError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(too_long(origin));
    }
    Ok(())
}

fn too_long(origin: &str) -> QueryError {
    QueryError::Usage(format!(
        "{origin} is longer than {} KiB, the most SQL costlake reads at once",
        MAX_SQL_BYTES >> 10
    ))
}

/// Reads a `.sql` file, refusing one past [`MAX_SQL_BYTES`] without reading all of it.
pub fn read_sql_file(path: &Path) -> Result<String, QueryError> {
    let io = |e: std::io::Error| QueryError::Io(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_SQL_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    check_size(&text, &path.display().to_string())?;
    Ok(text)
}

/// Refuses a statement whose expressions nest deeper than [`MAX_EXPRESSION_DEPTH`]. The walk
/// stops at that depth, so checking is itself bounded.
pub fn check_depth(statement: &Statement) -> Result<(), QueryError> {
    let inner = match statement {
        Statement::Statement(s) => s.as_ref(),
        Statement::Explain(e) => return check_depth(&e.statement),
        _ => return Ok(()),
    };
    let mut depth = Depth::default();
    if inner.visit(&mut depth).is_break() {
        return Err(QueryError::Usage(format!(
            "an expression nests more than {MAX_EXPRESSION_DEPTH} levels deep, past what \
             costlake plans; split it, or sum columns with a subquery"
        )));
    }
    Ok(())
}

#[derive(Default)]
struct Depth {
    current: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_EXPRESSION_DEPTH {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn sum_of(terms: usize) -> String {
        format!("SELECT {}", vec!["1"; terms].join(" + "))
    }

    fn parsed(sql: &str) -> Vec<Statement> {
        DFParser::parse_sql(sql).unwrap().into_iter().collect()
    }

    #[test]
    fn deep_expressions_are_refused_and_shallow_ones_pass() {
        let ok = parsed(&sum_of(MAX_EXPRESSION_DEPTH - 1));
        assert!(check_depth(&ok[0]).is_ok());
        let deep = parsed(&sum_of(MAX_EXPRESSION_DEPTH + 2));
        let err = check_depth(&deep[0]).unwrap_err().to_string();
        assert!(err.contains("nests more than 1000"), "{err}");
        let explained = parsed(&format!("EXPLAIN {}", sum_of(MAX_EXPRESSION_DEPTH + 2)));
        assert!(check_depth(&explained[0]).is_err());
    }

    #[test]
    fn long_files_are_refused_without_reading_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.sql");
        std::fs::write(&path, "-- x\n".repeat(MAX_SQL_BYTES)).unwrap();
        let err = read_sql_file(&path).unwrap_err().to_string();
        assert!(err.contains("longer than 1024 KiB"), "{err}");
        std::fs::write(&path, "SELECT 1").unwrap();
        assert_eq!(read_sql_file(&path).unwrap(), "SELECT 1");
    }
}
