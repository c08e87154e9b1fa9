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
