//! The shell's backslash commands, parsed, and their help.

use std::path::PathBuf;
use std::str::FromStr;

use costlake::output::Format;
use costlake::output::chart::ChartSpec;

pub const COMMANDS: &[(&str, &str)] = &[
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
    (
        "\\cluster",
        "show where statements run: this process, or a cluster (--cluster)",
    ),
    ("\\?", "this help"),
    ("\\q", "quit (or Ctrl-D)"),
];

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
    Cluster,
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
            "\\cluster" => Ok(Command::Cluster),
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
}
