//! Saved queries: `.sql` files whose header declares a name, a one-line description, typed
//! parameters with defaults and how the result is best drawn. The library in `queries/` is
//! built in; a folder of `.sql` files adds to it or overrides it by name. Parameters are bound
//! as values, never pasted into the SQL text.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use datafusion::common::ScalarValue;

use super::{QueryError, Session};
use crate::model::{Dataset, PARTITION_BILLING_PERIOD, PeriodId};
use crate::output::{self, chart::ChartSpec};

macro_rules! builtin {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../queries/",
                $name,
                ".sql"
            )),
        )
    };
}

/// The shipped library, built into the binary so that it works from any folder.
pub static BUILTIN: &[(&str, &str)] = &[
    builtin!("charges_billed_separately"),
    builtin!("commitment_burndown"),
    builtin!("cost_by_department"),
    builtin!("cost_by_subscription"),
    builtin!("cost_by_tag"),
    builtin!("daily_trend"),
    builtin!("marketplace_by_publisher"),
    builtin!("meters_missing_from_price_sheet"),
    builtin!("monthly_summary"),
    builtin!("price_changes"),
    builtin!("service_movers"),
    builtin!("top_resources"),
    builtin!("untagged_resources"),
    builtin!("usage_vs_price_sheet"),
];

/// The type of a saved query's parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Int,
    Decimal,
    Date,
    /// A billing period `yyyyMM`, or `latest` / `previous` (resolved from the lake).
    Period,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        match s {
            "text" | "string" => Some(ParamType::Text),
            "int" | "integer" => Some(ParamType::Int),
            "decimal" | "number" => Some(ParamType::Decimal),
            "date" => Some(ParamType::Date),
            "period" => Some(ParamType::Period),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ParamType::Text => "text",
            ParamType::Int => "int",
            ParamType::Decimal => "decimal",
            ParamType::Date => "date",
            ParamType::Period => "period",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<String>,
}

impl Param {
    /// `top int = 20`, as the header declares it.
    pub fn declaration(&self) -> String {
        match &self.default {
            Some(d) => format!("{} {} = {d}", self.name, self.ty.name()),
            None => format!("{} {}", self.name, self.ty.name()),
        }
    }
}

/// A saved query.
#[derive(Debug, Clone)]
pub struct SavedQuery {
    pub name: String,
    pub description: String,
    pub params: Vec<Param>,
    pub sql: String,
    /// How the result is best drawn with `--format chart` (`-- chart: line x=date y=cost`).
    pub chart: ChartSpec,
    /// Where it came from: `built in` or a path.
    pub origin: String,
}

impl SavedQuery {
    /// Parses a `.sql` file: `-- name:`, `-- description:`, `-- param: NAME TYPE [= DEFAULT]`
    /// and `-- chart: [bar|line] [x=COLUMN] [y=COLUMN,...]` comment lines, then the SQL.
    pub fn parse(text: &str, origin: &str, fallback_name: &str) -> Result<SavedQuery, QueryError> {
        let header_err = |message: String| QueryError::Header {
            file: origin.to_string(),
            message,
        };
        let mut q = SavedQuery {
            name: fallback_name.to_string(),
            description: String::new(),
            params: Vec::new(),
            sql: String::new(),
            chart: ChartSpec::default(),
            origin: origin.to_string(),
        };
        for line in text.lines() {
            let Some(comment) = line.trim().strip_prefix("--") else {
                continue;
            };
            let comment = comment.trim();
            if let Some(v) = comment.strip_prefix("name:") {
                q.name = v.trim().to_string();
            } else if let Some(v) = comment.strip_prefix("description:") {
                q.description = v.trim().to_string();
            } else if let Some(v) = comment.strip_prefix("chart:") {
                q.chart = v.parse().map_err(header_err)?;
            } else if let Some(v) = comment.strip_prefix("param:") {
                let (decl, default) = match v.split_once('=') {
                    Some((d, def)) => (d.trim(), Some(def.trim().to_string())),
                    None => (v.trim(), None),
                };
                let mut words = decl.split_whitespace();
                let (Some(name), Some(ty), None) = (words.next(), words.next(), words.next())
                else {
                    return Err(header_err(format!(
                        "`-- param:{v}` should read `-- param: NAME TYPE [= DEFAULT]`"
                    )));
                };
                let ty = ParamType::parse(ty)
                    .ok_or_else(|| header_err(format!("parameter `{name}` has unknown type `{ty}` (text, int, decimal, date, period)")))?;
                q.params.push(Param {
                    name: name.to_string(),
                    ty,
                    default,
                });
            }
        }
        q.sql = text.to_string();
        Ok(q)
    }

    /// `name(a period = latest, top int = 20)`: the declared parameters, for messages.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.default {
                Some(_) => p.declaration(),
                None => format!("{} (required)", p.declaration()),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

/// The saved queries: the built-in library, then `.sql` files of `dir` (adding or overriding by
/// name).
pub fn library(dir: Option<&Path>) -> Result<BTreeMap<String, SavedQuery>, QueryError> {
    let mut out = BTreeMap::new();
    for (name, text) in BUILTIN {
        let q = SavedQuery::parse(text, "built in", name)?;
        out.insert(q.name.clone(), q);
    }
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| QueryError::Io(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for path in files {
            let text = super::limits::read_sql_file(&path)?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("query")
                .to_string();
            let q = SavedQuery::parse(&text, &path.display().to_string(), &stem)?;
            out.insert(q.name.clone(), q);
        }
    }
    Ok(out)
}

/// The table of the shipped library in `docs/query.md`: name, what it answers, parameters.
pub fn markdown_library() -> Result<String, QueryError> {
    let mut out = String::from("| query | what it answers | parameters |\n|---|---|---|\n");
    for q in library(None)?.values() {
        let params: Vec<String> = q
            .params
            .iter()
            .map(|p| format!("`{}`", p.declaration()))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            q.name,
            q.description.replace('|', "\\|"),
            params.join(", ")
        ));
    }
    Ok(out)
}

impl Session {
    /// Binds `given` (`name=value` pairs) to the query's declared parameters: every given
    /// name must be declared, every declared one given or defaulted, every value of its type.
    pub async fn bind(
        &self,
        q: &SavedQuery,
        given: &[(String, String)],
    ) -> Result<HashMap<String, ScalarValue>, QueryError> {
        let usage =
            |msg: String| QueryError::Usage(format!("{msg}; {} takes {}", q.name, q.signature()));
        for (name, _) in given {
            if !q.params.iter().any(|p| &p.name == name) {
                return Err(usage(format!("unknown parameter '{name}'")));
            }
        }
        let mut out = HashMap::new();
        for p in &q.params {
            let value = given
                .iter()
                .rev()
                .find(|(n, _)| n == &p.name)
                .map(|(_, v)| v.clone())
                .or_else(|| p.default.clone())
                .ok_or_else(|| usage(format!("missing parameter '{}'", p.name)))?;
            let bad = |what: &str| {
                usage(format!(
                    "parameter '{}' must be {what}, not '{value}'",
                    p.name
                ))
            };
            let scalar = match p.ty {
                ParamType::Text => ScalarValue::Utf8(Some(value.clone())),
                ParamType::Int => ScalarValue::Int64(Some(
                    value.trim().parse().map_err(|_| bad("a whole number"))?,
                )),
                ParamType::Decimal => {
                    let scale = crate::schema::DECIMAL_SCALE;
                    let v = crate::model::decimal::parse(&value, scale as u32, 38)
                        .map_err(|_| bad("a number"))?;
                    ScalarValue::Decimal128(Some(v), 38, scale)
                }
                ParamType::Date => {
                    let d = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                        .map_err(|_| bad("a date yyyy-MM-dd"))?;
                    ScalarValue::Date32(Some(crate::decode::days_since_epoch(d)))
                }
                ParamType::Period => {
                    ScalarValue::Utf8(Some(self.period(&value).await.map_err(|e| match e {
                        QueryError::Usage(m) => usage(m),
                        other => other,
                    })?))
                }
            };
            out.insert(p.name.clone(), scalar);
        }
        Ok(out)
    }

    /// Resolves `latest`, `previous` or a `yyyyMM` period against the lake's usage.
    async fn period(&self, value: &str) -> Result<String, QueryError> {
        let v = value.trim().to_ascii_lowercase();
        if v != "latest" && v != "previous" {
            return PeriodId::parse(&v).map(|p| p.to_string()).ok_or_else(|| {
                QueryError::Usage(format!(
                    "'{value}' is not a billing period; write yyyyMM, latest or previous"
                ))
            });
        }
        let sql = format!(
            "SELECT DISTINCT {PARTITION_BILLING_PERIOD} FROM {} ORDER BY 1 DESC LIMIT 2",
            Dataset::UsageDetails.name()
        );
        let batches = self.collect(&sql, &HashMap::new()).await?.concat();
        let mut periods = Vec::new();
        for b in &batches {
            for row in 0..b.num_rows() {
                if let Some(p) = output::cell(b.column(0).as_ref(), row)? {
                    periods.push(p);
                }
            }
        }
        let pick = if v == "latest" {
            periods.first()
        } else {
            periods.get(1)
        };
        pick.cloned().ok_or_else(|| {
            QueryError::Usage(format!(
                "the lake has no usage for a '{v}' period yet; run `costlake sync` first"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_declare_typed_parameters() {
        let q = SavedQuery::parse(
            "-- name: x\n-- description: Does x.\n-- param: period period = latest\n-- param: top int = 10\n-- param: who text\nSELECT 1",
            "t",
            "fallback",
        )
        .unwrap();
        assert_eq!(q.name, "x");
        assert_eq!(q.params.len(), 3);
        assert_eq!(
            q.params[1],
            Param {
                name: "top".into(),
                ty: ParamType::Int,
                default: Some("10".into())
            }
        );
        assert_eq!(
            q.signature(),
            "x(period period = latest, top int = 10, who text (required))"
        );
        assert!(SavedQuery::parse("-- param: top integer bogus", "t", "f").is_err());
        assert!(SavedQuery::parse("-- param: top money", "t", "f").is_err());
    }

    #[test]
    fn the_builtin_library_parses() {
        let lib = library(None).unwrap();
        assert_eq!(lib.len(), BUILTIN.len());
        for q in lib.values() {
            assert!(!q.description.is_empty(), "{} has a description", q.name);
        }
    }
}
