//! The reference in docs/ that is generated from the code (column tables, the FOCUS mapping,
//! the saved-query list) is never written by hand.

use costlake::schema::{focus, markdown_columns};

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in `file` with
/// `expected` when COSTLAKE_UPDATE_DOCS is set, else fails on any difference.
fn check_section(file: &str, name: &str, expected: &str) {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&path).unwrap();
    let start_marker = format!("<!-- {name}:start -->\n");
    let start = doc
        .find(&start_marker)
        .unwrap_or_else(|| panic!("{file} has the {name}:start marker"))
        + start_marker.len();
    let end = doc
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("{file} has the {name}:end marker"));
    if doc[start..end] != *expected {
        if std::env::var_os("COSTLAKE_UPDATE_DOCS").is_some() {
            let updated = format!("{}{expected}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "{file}'s {name} section differs from the code: run `COSTLAKE_UPDATE_DOCS=1 cargo test docs_` and commit {file}"
        );
    }
}

#[test]
fn docs_columns_are_generated_from_the_schema() {
    check_section("docs/columns.md", "columns", &markdown_columns());
}

#[test]
fn docs_focus_mapping_is_generated_from_the_schema() {
    check_section("docs/focus.md", "focus", &focus::markdown());
}

#[test]
fn docs_list_the_shipped_saved_queries() {
    check_section(
        "docs/query.md",
        "queries",
        &costlake::engine::markdown_library().unwrap(),
    );
}

/// README is read in five minutes: it stays short, and it links to the reference it left out.
#[test]
fn readme_is_short_and_links_the_reference() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 260, "README.md has {lines} lines");
    for doc in [
        "docs/architecture.md",
        "docs/columns.md",
        "docs/focus.md",
        "docs/query.md",
        "docs/lake.md",
        "docs/report.md",
        "docs/scheduling.md",
    ] {
        assert!(readme.contains(doc), "README does not link {doc}");
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(doc)
                .exists(),
            "{doc} is missing"
        );
    }
}

/// The commands in docs/scheduling.md (the cron entry, the CronJob's `args`), docs/report.md and
/// docs/cluster.md use only flags that costlake takes, and the report definition shown there
/// parses.
#[test]
fn docs_show_runnable_commands_and_definitions() {
    let read = |file: &str| {
        std::fs::read_to_string(format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let mut invocations: Vec<Vec<String>> = Vec::new();
    for doc in [read("scheduling.md"), read("report.md"), read("cluster.md")] {
        let mut in_code = false;
        let mut args: Option<Vec<String>> = None;
        for line in doc.lines() {
            if line.starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            // A CronJob's `args:` list.
            let item = line.trim().strip_prefix("- ");
            match (&mut args, item) {
                (Some(list), Some(word)) => list.push(word.trim_matches('"').to_string()),
                (Some(_), None) => invocations.push(args.take().unwrap()),
                (None, _) if line.trim() == "args:" => args = Some(Vec::new()),
                _ => {}
            }
            // A shell line: `costlake SUBCOMMAND --flag …` up to the next `||`, `&&` or `;`.
            for (i, _) in line.match_indices("costlake ") {
                let words: Vec<String> = line[i + "costlake ".len()..]
                    .split_whitespace()
                    .take_while(|w| !matches!(*w, "||" | "&&" | ";" | "#"))
                    .map(str::to_string)
                    .collect();
                if words.first().is_some_and(|w| {
                    [
                        "sync",
                        "ingest",
                        "report",
                        "query",
                        "verify",
                        "sql",
                        "scheduler",
                        "executor",
                    ]
                    .contains(&w.as_str())
                }) {
                    invocations.push(words);
                }
            }
        }
    }
    assert!(invocations.len() >= 5, "{invocations:?}");
    assert!(
        invocations
            .iter()
            .any(|i| i.contains(&"--log-format".to_string()))
    );
    for words in &invocations {
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_costlake"))
            .args([words[0].as_str(), "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap();
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "`costlake {}` takes no {flag} (docs: {words:?})",
                words[0]
            );
        }
    }
    let report = read("report.md");
    let toml = report
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/report.md shows a definition");
    costlake::report::Definition::parse(toml, "docs/report.md").unwrap();
}
