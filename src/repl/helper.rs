//! Line editing for the shell: statements end at `;` (until then a continuation prompt), and
//! Tab completes SQL keywords, table and column names (from `schema`) and backslash commands.

use std::borrow::Cow;

use costlake::model::Dataset;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use super::command::COMMANDS;

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
    "DATE_TRUNC",
    "TO_CHAR",
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

#[cfg(test)]
mod tests {
    use super::*;

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
