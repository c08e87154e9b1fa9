//! README's column tables are generated from `schema`, never written by hand.

use costlake::schema::markdown_columns;

const START: &str = "<!-- columns:start -->\n";
const END: &str = "<!-- columns:end -->";

#[test]
fn readme_columns_are_generated_from_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(START)
        .expect("README has the columns:start marker")
        + START.len();
    let end = readme.find(END).expect("README has the columns:end marker");
    let expected = markdown_columns();
    if readme[start..end] != expected {
        if std::env::var_os("COSTLAKE_UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        panic!(
            "README's column tables differ from src/schema.rs: run `COSTLAKE_UPDATE_README=1 cargo test readme` and commit README.md"
        );
    }
}
