//! README's column tables, FOCUS mapping and saved-query list are generated from the code,
//! never written by hand.

use costlake::schema::{focus, markdown_columns};

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` with `expected`
/// when COSTLAKE_UPDATE_README is set, else fails on any difference.
fn check_section(name: &str, expected: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start_marker = format!("<!-- {name}:start -->\n");
    let start = readme
        .find(&start_marker)
        .unwrap_or_else(|| panic!("README has the {name}:start marker"))
        + start_marker.len();
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .unwrap_or_else(|| panic!("README has the {name}:end marker"));
    if readme[start..end] != *expected {
        if std::env::var_os("COSTLAKE_UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        panic!(
            "README's {name} section differs from src/schema: run `COSTLAKE_UPDATE_README=1 cargo test readme` and commit README.md"
        );
    }
}

#[test]
fn readme_columns_are_generated_from_the_schema() {
    check_section("columns", &markdown_columns());
}

#[test]
fn readme_focus_mapping_is_generated_from_the_schema() {
    check_section("focus", &focus::markdown());
}

#[test]
fn readme_lists_the_shipped_saved_queries() {
    check_section("queries", &costlake::query::markdown_library().unwrap());
}
