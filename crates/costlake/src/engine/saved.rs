//! Saved queries: `.sql` files whose header declares a name, a one-line description, the
//! datasets it reads, typed parameters with defaults and how the result is best drawn. The
//! library in `queries/` is built in; a folder of `.sql` files adds to it or overrides it by
//! name. Parameters are bound as values, never pasted into the SQL text. A query whose data the
//! lake lacks is refused with the one sentence that says how to get it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use datafusion::common::ScalarValue;

use super::{QueryError, Session};
use crate::lake::PartitionEntry;
use crate::model::{Dataset, PeriodId};
use crate::output::chart::ChartSpec;

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
    builtin!("anomalies"),
    builtin!("changed_costs"),
    builtin!("charges_billed_separately"),
    builtin!("commitment_savings"),
    builtin!("commitment_burndown"),
    builtin!("cost_by_currency"),
    builtin!("cost_by_department"),
    builtin!("cost_by_subscription"),
    builtin!("cost_by_tag"),
    builtin!("daily_trend"),
    builtin!("marketplace_by_publisher"),
    builtin!("meters_missing_from_price_sheet"),
    builtin!("month_end_forecast"),
    builtin!("monthly_summary"),
    builtin!("price_changes"),
    builtin!("reservation_utilization"),
    builtin!("service_movers"),
    builtin!("tag_coverage"),
    builtin!("top_resources"),
    builtin!("untagged_resources"),
    builtin!("usage_vs_price_sheet"),
];

/// The type of a saved query's parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Int,
    Decimal,
    Date,
    /// A billing period `yyyyMM`, or `latest` / `previous` (resolved from the lake).
    Period,
    /// One of a few words, declared `billed|effective`.
    Choice(Vec<String>),
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        match s {
            "text" | "string" => Some(ParamType::Text),
            "int" | "integer" => Some(ParamType::Int),
            "decimal" | "number" => Some(ParamType::Decimal),
            "date" => Some(ParamType::Date),
            "period" => Some(ParamType::Period),
            _ if s.contains('|') => {
                let words: Vec<String> = s.split('|').map(str::to_string).collect();
                let plain = |w: &String| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                };
                words.iter().all(plain).then_some(ParamType::Choice(words))
            }
            _ => None,
        }
    }

    fn name(&self) -> String {
        match self {
            ParamType::Text => "text".into(),
            ParamType::Int => "int".into(),
            ParamType::Decimal => "decimal".into(),
            ParamType::Date => "date".into(),
            ParamType::Period => "period".into(),
            ParamType::Choice(words) => words.join("|"),
        }
    }
}

/// What a saved query reads, declared `-- needs: focus, balance_summary`: a view, whose
/// sources are several datasets, or one dataset. The lake holds it when it has a partition of
/// one of those datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The `focus` view: cost from any source.
    Focus,
    /// The `prices` view: a price sheet from any source.
    Prices,
    Dataset(Dataset),
}

impl Need {
    fn parse(s: &str) -> Option<Need> {
        match s {
            "focus" => Some(Need::Focus),
            "prices" => Some(Need::Prices),
            _ => Dataset::ALL
                .into_iter()
                .find(|d| d.name() == s)
                .map(Need::Dataset),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Need::Focus => crate::schema::focus::FOCUS_VIEW,
            Need::Prices => crate::schema::prices::PRICES_VIEW,
            Need::Dataset(d) => d.name(),
        }
    }

    /// Whether a partition of the lake is data this need reads.
    pub(crate) fn held_by(self, entry: &PartitionEntry) -> bool {
        let is = |d: Dataset| entry.dataset == d.name();
        match self {
            Need::Focus => {
                is(Dataset::UsageDetails)
                    || is(Dataset::MarketplaceCharges)
                    || is(Dataset::FocusCosts)
                    || (is(Dataset::CostDetails) && entry.cost_type.as_deref() == Some("actual"))
            }
            Need::Prices => is(Dataset::PriceSheet) || is(Dataset::ExportPriceSheet),
            Need::Dataset(d) => is(d),
        }
    }

    /// The sentence that says what it is and how a lake gets it.
    pub(crate) fn how_to_get(self) -> String {
        let cost = "`costlake ingest --source EXPORTS` (Cost Management exports), `costlake sync --billing-account ID` (the Cost Management API) or `costlake sync --enrollment N` (the EA API)";
        match self {
            Need::Focus => format!("cost data (the `focus` view), which {cost} bring"),
            Need::Prices => "a price sheet (the `prices` view), which a price sheet export, `costlake sync --billing-account ID` or `costlake sync --enrollment N` bring".into(),
            Need::Dataset(Dataset::BalanceSummary) => "the balance summary (`balance_summary`), which `costlake sync --enrollment N` or `costlake sync --billing-account ID` for an EA billing account bring".into(),
            Need::Dataset(d) if crate::source::cost_management::DATASETS.contains(&d) => format!("`{}`, which `costlake ingest` of its export or `costlake sync --billing-account ID` bring", d.name()),
            Need::Dataset(d) if d.from_exports() => format!("`{}`, which `costlake ingest` of its export brings", d.name()),
            Need::Dataset(d) => format!("`{}`, which `costlake sync --enrollment N` brings", d.name()),
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
    /// What it reads (`-- needs:`); its first need's periods resolve `latest` and `previous`.
    pub needs: Vec<Need>,
    pub sql: String,
    /// How the result is best drawn with `--format chart` (`-- chart: line x=date y=cost`).
    pub chart: ChartSpec,
    /// Where it came from: `built in` or a path.
    pub origin: String,
}

impl SavedQuery {
    /// Parses a `.sql` file: `-- name:`, `-- description:`, `-- needs: VIEW_OR_DATASET,...`,
    /// `-- param: NAME TYPE [= DEFAULT]` and `-- chart: [bar|line] [x=COLUMN] [y=COLUMN,...]`
    /// comment lines, then the SQL.
    pub fn parse(text: &str, origin: &str, fallback_name: &str) -> Result<SavedQuery, QueryError> {
        let header_err = |message: String| QueryError::Header {
            file: origin.to_string(),
            message,
        };
        let mut q = SavedQuery {
            name: fallback_name.to_string(),
            description: String::new(),
            params: Vec::new(),
            needs: Vec::new(),
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
            } else if let Some(v) = comment.strip_prefix("needs:") {
                for word in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let need = Need::parse(word).ok_or_else(|| {
                        header_err(format!(
                            "`-- needs: {word}` is not a view (focus, prices) or a dataset of the lake"
                        ))
                    })?;
                    q.needs.push(need);
                }
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
                    .ok_or_else(|| header_err(format!("parameter `{name}` has unknown type `{ty}` (text, int, decimal, date, period, or words such as billed|effective)")))?;
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

    /// What it reads, for lists: `focus, balance_summary`, or `anything` when it does not say.
    pub fn reads(&self) -> String {
        if self.needs.is_empty() {
            return "anything".into();
        }
        let names: Vec<&str> = self.needs.iter().map(|n| n.name()).collect();
        names.join(", ")
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

/// The library as `costlake query --list` and the shell's `\\queries` show it: each query's
/// name and description, then what it reads and takes.
pub fn listing(queries: &BTreeMap<String, SavedQuery>) -> String {
    let mut out = String::new();
    for q in queries.values() {
        out.push_str(&format!(
            "{:<32} {}\n{:<32} reads {}; {}\n",
            q.name,
            q.description,
            "",
            q.reads(),
            q.signature()
        ));
    }
    out
}

/// The table of the shipped library in `docs/query.md`: name, what it answers, parameters.
pub fn markdown_library() -> Result<String, QueryError> {
    let mut out =
        String::from("| query | what it answers | reads | parameters |\n|---|---|---|---|\n");
    for q in library(None)?.values() {
        let params: Vec<String> = q
            .params
            .iter()
            .map(|p| format!("`{}`", p.declaration()))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            q.name,
            q.description.replace('|', "\\|"),
            q.reads(),
            params.join(", ").replace('|', "\\|")
        ));
    }
    Ok(out)
}

impl Session {
    /// What the lake lacks of the data `q` reads, in the one sentence that says how to get it;
    /// `None` when it holds some of each.
    pub async fn missing(&self, q: &SavedQuery) -> Result<Option<String>, QueryError> {
        let manifest = self.lake.manifest().await?;
        Ok(q.needs
            .iter()
            .find(|need| !manifest.partitions.values().any(|e| need.held_by(e)))
            .map(|need| {
                format!(
                    "{} needs {}, and this lake has none yet",
                    q.name,
                    need.how_to_get()
                )
            }))
    }

    /// Binds `given` (`name=value` pairs) to the query's declared parameters: every given
    /// name must be declared, every declared one given or defaulted, every value of its type.
    pub async fn bind(
        &self,
        q: &SavedQuery,
        given: &[(String, String)],
    ) -> Result<HashMap<String, ScalarValue>, QueryError> {
        let usage =
            |msg: String| QueryError::Usage(format!("{msg}; {} takes {}", q.name, q.signature()));
        if let Some(missing) = self.missing(q).await? {
            return Err(QueryError::Usage(missing));
        }
        let manifest = self.lake.manifest().await?;
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
            let scalar = match &p.ty {
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
                    let need = q.needs.first().copied().unwrap_or(Need::Focus);
                    let held = manifest.partitions.values().filter(|e| need.held_by(e));
                    let periods = held.filter_map(|e| e.billing_period.clone());
                    ScalarValue::Utf8(Some(period(&value, need, periods).map_err(usage)?))
                }
                ParamType::Choice(words) => {
                    let v = value.trim().to_ascii_lowercase();
                    if !words.contains(&v) {
                        return Err(bad(&format!("one of {}", words.join(", "))));
                    }
                    ScalarValue::Utf8(Some(v))
                }
            };
            out.insert(p.name.clone(), scalar);
        }
        Ok(out)
    }
}

/// Resolves `latest`, `previous` or a `yyyyMM` period against the periods the lake holds of
/// what the query reads.
pub(crate) fn period(
    value: &str,
    need: Need,
    held: impl Iterator<Item = String>,
) -> Result<String, String> {
    let v = value.trim().to_ascii_lowercase();
    if v != "latest" && v != "previous" {
        return PeriodId::parse(&v).map(|p| p.to_string()).ok_or_else(|| {
            format!("'{value}' is not a billing period; write yyyyMM, latest or previous")
        });
    }
    let periods: std::collections::BTreeSet<String> = held.collect();
    let pick = if v == "latest" {
        periods.iter().next_back()
    } else {
        periods.iter().nth_back(1)
    };
    pick.cloned().ok_or_else(|| {
        format!(
            "the lake has no '{v}' period of {} yet ({} period{} held)",
            need.name(),
            periods.len(),
            if periods.len() == 1 { "" } else { "s" }
        )
    })
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
        let q = SavedQuery::parse(
            "-- needs: focus, prices, balance_summary\n-- param: cost billed|effective = billed\nSELECT 1",
            "t",
            "f",
        )
        .unwrap();
        assert_eq!(
            q.needs,
            [
                Need::Focus,
                Need::Prices,
                Need::Dataset(Dataset::BalanceSummary)
            ]
        );
        assert_eq!(q.reads(), "focus, prices, balance_summary");
        assert_eq!(
            q.params[0].ty,
            ParamType::Choice(vec!["billed".into(), "effective".into()])
        );
        assert!(SavedQuery::parse("-- needs: usage", "t", "f").is_err());
        assert!(SavedQuery::parse("-- param: cost billed|", "t", "f").is_err());
        assert!(SavedQuery::parse("-- param: cost a|b'c", "t", "f").is_err());
        assert!(SavedQuery::parse("-- param: top money", "t", "f").is_err());
    }

    #[test]
    fn the_builtin_library_parses() {
        let lib = library(None).unwrap();
        assert_eq!(lib.len(), BUILTIN.len());
        for q in lib.values() {
            assert!(!q.description.is_empty(), "{} has a description", q.name);
            assert!(!q.needs.is_empty(), "{} says what it reads", q.name);
        }
    }

    #[test]
    fn periods_resolve_from_what_the_query_reads() {
        let held = || ["202401", "202403", "202402"].map(String::from).into_iter();
        assert_eq!(period("latest", Need::Focus, held()).unwrap(), "202403");
        assert_eq!(period("Previous", Need::Focus, held()).unwrap(), "202402");
        assert_eq!(period("202312", Need::Focus, held()).unwrap(), "202312");
        assert!(period("2023-12", Need::Focus, held()).is_err());
        let one = || std::iter::once("202401".to_string());
        assert_eq!(
            period("previous", Need::Prices, one()).unwrap_err(),
            "the lake has no 'previous' period of prices yet (1 period held)"
        );
    }
}
