//! The column reference in `docs/columns.md`, generated from the tables (a test keeps the
//! committed file equal to it).

use super::{ApiVersion, DECIMAL_PRECISION, DECIMAL_SCALE, Field, Kind};
use crate::model::Dataset;

/// A column's type as `docs/columns.md` shows it.
fn type_name(field: &Field) -> String {
    let ty = match field.kind {
        Kind::Decimal => format!("decimal({DECIMAL_PRECISION},{DECIMAL_SCALE})"),
        Kind::Text => "string".into(),
        Kind::Json => "string (JSON)".into(),
        Kind::Structured => "string (JSON array)".into(),
        Kind::Int64 => "int64".into(),
        Kind::Date => "date".into(),
        Kind::Timestamp => "timestamp(µs, UTC)".into(),
        Kind::Bool => "boolean".into(),
        Kind::TagsMap => "map<string,string>".into(),
    };
    if field.nullable {
        ty
    } else {
        format!("{ty} not null")
    }
}

/// A Markdown table of every dataset's columns, for `docs/columns.md` (generated, never
/// written by hand).
pub fn markdown_columns() -> String {
    let mut out = String::new();
    for d in Dataset::ALL {
        out.push_str(&format!("### `{}`\n\n{}\n\n", d.name(), d.doc()));
        if d.from_exports() {
            out.push_str(
                "| column | type | export header | other spellings | description |\n|---|---|---|---|---|\n",
            );
        } else {
            out.push_str(
                "| column | type | API field (v3) | v1 / v2 | description |\n|---|---|---|---|---|\n",
            );
        }
        for field in d.fields() {
            let api = if field.api.is_empty() {
                "(derived)".to_string()
            } else {
                format!("`{}`", field.api)
            };
            let versions = if d.from_exports() {
                let names: Vec<String> = field.aliases.iter().map(|a| format!("`{a}`")).collect();
                if names.is_empty() {
                    "–".to_string()
                } else {
                    names.join(", ")
                }
            } else {
                match (
                    field.api_name(ApiVersion::V1),
                    field.api_name(ApiVersion::V2),
                ) {
                    _ if field.api.is_empty() => "–".to_string(),
                    (Some(v1), Some(_)) if v1 != field.api => format!("v1 `{v1}`; v2 ✓"),
                    (Some(_), Some(_)) => "✓ / ✓".to_string(),
                    (None, Some(_)) => "– / ✓".to_string(),
                    (_, None) => "– / –".to_string(),
                }
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                field.column,
                type_name(field),
                api,
                versions,
                field.doc.replace('|', "\\|")
            ));
        }
        let parts: Vec<String> = d
            .partition_columns()
            .iter()
            .map(|p| format!("`{p}`"))
            .collect();
        out.push_str(&format!(
            "\nPartition columns (from the folder names): {}.\n\n",
            parts.join(", ")
        ));
    }
    out
}
