//! Month-end reports: a definition (`reports/monthly.toml`, built in, or a file of the user's)
//! lists sections, each a saved query with its parameters; [`compose`] runs them against a
//! session for one billing period and keeps each result's first rows as exact text, with its
//! chart; `html` writes the whole as one self-contained HTML page. The `verify` section is the
//! one that is not a saved query: the lake's reconciliation, as `costlake verify` prints it.

mod html;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::datatypes::DataType;
use serde::Deserialize;

use crate::engine::{Need, QueryError, SavedQuery, Session, verify};
use crate::model::PeriodId;
use crate::output::chart::Chart;
use crate::output::{cell, keep_rows};

pub use html::{money_text, render};

/// The built-in definition.
pub const MONTHLY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../reports/monthly.toml"
));

/// What a report holds, in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub title: String,
    #[serde(rename = "section")]
    pub sections: Vec<SectionDefinition>,
}

/// One section: a saved query (or the reconciliation) and how to show it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDefinition {
    pub title: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub verify: bool,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub money: Vec<String>,
    #[serde(default = "default_places")]
    pub places: u32,
    #[serde(default = "default_rows")]
    pub rows: usize,
    #[serde(default = "shown")]
    pub chart: bool,
    #[serde(default)]
    pub note: Option<String>,
}

fn default_places() -> u32 {
    2
}

fn default_rows() -> usize {
    50
}

fn shown() -> bool {
    true
}

impl Definition {
    /// Parses a definition; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Definition, QueryError> {
        let bad = |message: String| QueryError::Usage(format!("{origin}: {message}"));
        let d: Definition = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        if d.sections.is_empty() {
            return Err(bad("a report needs at least one [[section]]".into()));
        }
        for s in &d.sections {
            if s.query.is_some() == s.verify {
                return Err(bad(format!(
                    "section '{}' needs either `query = \"NAME\"` or `verify = true`",
                    s.title
                )));
            }
            if s.places > 12 {
                return Err(bad(format!(
                    "section '{}': `places` is at most 12, the lake's scale",
                    s.title
                )));
            }
        }
        Ok(d)
    }

    /// The built-in monthly report.
    pub fn monthly() -> Definition {
        Definition::parse(MONTHLY, "reports/monthly.toml").expect("the built-in report parses")
    }

    /// A definition file.
    pub fn load(path: &Path) -> Result<Definition, QueryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| QueryError::Usage(format!("cannot read {}: {e}", path.display())))?;
        Definition::parse(&text, &path.display().to_string())
    }
}

/// A column of a section's table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// Numbers are aligned right.
    pub numeric: bool,
    /// Money is rounded for display, with the currency.
    pub money: bool,
}

/// A result as the report shows it: exact text per cell (`None` for null).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows of the result past the section's limit.
    pub hidden: u64,
}

/// A section, run.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    /// The saved query's name, or `verify`.
    pub query: String,
    pub description: String,
    pub note: Option<String>,
    /// How to get the same result on the command line.
    pub command: String,
    pub tables: Vec<Table>,
    pub chart: Option<Chart>,
    /// Why the section is empty: the lake lacks what its query reads.
    pub missing: Option<String>,
    /// For the reconciliation: what does not reconcile, one sentence each.
    pub problems: Vec<String>,
    /// Decimal places money is shown with.
    pub places: u32,
}

/// A report, run.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    /// The billing period, `yyyyMM`.
    pub period: String,
    /// The billing currencies of the period's charges.
    pub currencies: Vec<String>,
    pub lake: String,
    pub generated: chrono::DateTime<chrono::Utc>,
    /// The program that wrote it, for the page's footer.
    pub generator: String,
    pub sections: Vec<Section>,
}

impl Report {
    /// Whether every reconciled month and file matched.
    pub fn reconciles(&self) -> bool {
        self.sections.iter().all(|s| s.problems.is_empty())
    }
}

/// The period a report covers: `given` (`yyyyMM`, `latest` or `previous`), else the latest
/// month the lake holds cost for that has ended (a report goes out when the month is over),
/// else the latest.
pub async fn period(session: &Session, given: Option<&str>) -> Result<String, QueryError> {
    let manifest = session.lake.manifest().await?;
    let held = || {
        manifest
            .partitions
            .values()
            .filter(|e| Need::Focus.held_by(e))
            .filter_map(|e| e.billing_period.clone())
    };
    if let Some(given) = given {
        return crate::engine::saved::period(given, Need::Focus, held())
            .map_err(|e| QueryError::Usage(format!("--period: {e}")));
    }
    let this_month = PeriodId::of_date(chrono::Utc::now().date_naive()).to_string();
    let held: std::collections::BTreeSet<String> = held().collect();
    held.iter()
        .rev()
        .find(|p| **p < this_month)
        .or(held.iter().next_back())
        .cloned()
        .ok_or_else(|| {
            QueryError::Usage(format!(
                "this lake has no cost data yet: {}",
                Need::Focus.how_to_get()
            ))
        })
}

/// Runs every section of `definition` for `period` (`yyyyMM`).
pub async fn compose(
    session: &Session,
    definition: &Definition,
    period: &str,
    generator: &str,
) -> Result<Report, QueryError> {
    let id = PeriodId::parse(period).ok_or_else(|| {
        QueryError::Usage(format!("'{period}' is not a billing period; write yyyyMM"))
    })?;
    let previous = id.prev().to_string();
    let mut sections = Vec::new();
    for def in &definition.sections {
        let section = if def.verify {
            reconciliation(session, def).await?
        } else {
            let q = session.saved(def.query.as_deref().unwrap_or_default())?;
            let given = section_params(def, &q, period, &previous);
            saved_section(session, def, &q, &given).await?
        };
        sections.push(section);
    }
    Ok(Report {
        title: definition.title.clone(),
        currencies: currencies(session, period).await?,
        period: period.to_string(),
        lake: session
            .lake
            .location()
            .split('?')
            .next()
            .unwrap_or("")
            .to_string(),
        generated: chrono::Utc::now(),
        generator: generator.to_string(),
        sections,
    })
}

/// The parameters a section passes its query: the section's, with `{period}` and `{previous}`
/// filled in, and the report's period for a `period` the section leaves out. Names the query
/// does not declare are passed on, for `bind` to refuse.
fn section_params(
    def: &SectionDefinition,
    q: &SavedQuery,
    period: &str,
    previous: &str,
) -> Vec<(String, String)> {
    let declared = q.params.iter().filter_map(|p| {
        let value = match def.params.get(&p.name) {
            Some(v) => v.clone(),
            None if p.name == "period" => "{period}".to_string(),
            None => return None,
        };
        let value = value
            .replace("{period}", period)
            .replace("{previous}", previous);
        Some((p.name.clone(), value))
    });
    let undeclared = def
        .params
        .iter()
        .filter(|(k, _)| !q.params.iter().any(|p| &p.name == *k))
        .map(|(k, v)| (k.clone(), v.clone()));
    declared.chain(undeclared).collect()
}

/// A saved query's section: its first rows and its chart, or why the lake cannot answer it.
async fn saved_section(
    session: &Session,
    def: &SectionDefinition,
    q: &SavedQuery,
    given: &[(String, String)],
) -> Result<Section, QueryError> {
    let mut command = format!("costlake query {}", q.name);
    for (k, v) in given {
        command.push_str(&format!(" -p {k}={v}"));
    }
    let mut section = Section {
        title: def.title.clone(),
        query: q.name.clone(),
        description: q.description.clone(),
        note: def.note.clone(),
        command,
        tables: Vec::new(),
        chart: None,
        missing: session.missing(q).await?,
        problems: Vec::new(),
        places: def.places,
    };
    if section.missing.is_some() {
        return Ok(section);
    }
    let params = session.bind(q, given).await?;
    let mut stream = session.stream(&q.sql, &params).await?;
    let schema = stream.schema();
    let (kept, counts) = keep_rows(&mut stream, def.rows).await?;
    let columns: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| Column {
            name: f.name().clone(),
            numeric: f.data_type().is_numeric()
                || matches!(f.data_type(), DataType::Decimal128(..)),
            money: def.money.contains(f.name()),
        })
        .collect();
    let mut rows = Vec::new();
    for batch in &kept {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
    }
    if def.chart && q.chart != Default::default() && !rows.is_empty() {
        section.chart = Some(Chart::from_batches(&def.title, &schema, &kept, &q.chart)?);
    }
    section.tables.push(Table {
        columns,
        rows,
        hidden: counts.hidden,
    });
    Ok(section)
}

/// The reconciliation section: each month against its balance summary, each export partition
/// against its run.
async fn reconciliation(session: &Session, def: &SectionDefinition) -> Result<Section, QueryError> {
    let checks = verify::verify(session, 0).await?;
    let exports = verify::verify_exports(session).await?;
    let table = |(header, rows): (Vec<&str>, Vec<Vec<String>>)| Table {
        columns: header
            .iter()
            .map(|h| Column {
                name: h.to_string(),
                numeric: false,
                money: def.money.iter().any(|m| m == h),
            })
            .collect(),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect(),
        hidden: 0,
    };
    let mut tables = Vec::new();
    if !checks.is_empty() || exports.is_empty() {
        tables.push(table(verify::period_rows(&checks)));
    }
    if !exports.is_empty() {
        tables.push(table(verify::export_rows(&exports)));
    }
    let problems = checks
        .iter()
        .flat_map(|c| {
            c.problems
                .iter()
                .map(move |p| format!("{} of {}: {p}", c.period, c.enrollment))
        })
        .chain(exports.iter().flat_map(|c| {
            c.problems
                .iter()
                .map(move |p| format!("{}: {p}", c.partition))
        }))
        .collect();
    Ok(Section {
        title: def.title.clone(),
        query: "verify".into(),
        description: format!(
            "{} months and {} export partitions checked, exactly (tolerance 0).",
            checks.len(),
            exports.len()
        ),
        note: def.note.clone(),
        command: "costlake verify".into(),
        tables,
        chart: None,
        missing: None,
        problems,
        places: def.places,
    })
}

/// The billing currencies of a period's charges.
async fn currencies(session: &Session, period: &str) -> Result<Vec<String>, QueryError> {
    let params = std::collections::HashMap::from([(
        "period".to_string(),
        datafusion::common::ScalarValue::Utf8(Some(period.to_string())),
    )]);
    let sql = "SELECT DISTINCT \"BillingCurrency\" FROM focus WHERE \"x_BillingPeriod\" = $period AND \"BillingCurrency\" IS NOT NULL ORDER BY 1";
    let mut out = Vec::new();
    for batches in session.collect(sql, &params).await? {
        for batch in batches {
            for row in 0..batch.num_rows() {
                out.extend(cell(batch.column(0).as_ref(), row)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_report_names_built_in_queries() {
        let definition = Definition::monthly();
        let library = crate::engine::library(None).unwrap();
        for s in &definition.sections {
            if let Some(q) = &s.query {
                assert!(library.contains_key(q), "{q} is not a saved query");
            }
        }
        assert_eq!(definition.sections.iter().filter(|s| s.verify).count(), 1);
        assert!(
            Definition::parse(
                "title = 'x'\n[[section]]\ntitle = 'y'\nquery = 'a'\nbogus = 1\n",
                "f"
            )
            .is_err()
        );
        assert!(Definition::parse("title = 'x'\nsection = []\n", "f").is_err());
    }

    #[test]
    fn sections_fill_in_the_period_and_pass_on_what_the_query_does_not_declare() {
        let library = crate::engine::library(None).unwrap();
        let def = |params: &[(&str, &str)]| {
            let text = format!(
                "title = 'x'\n[[section]]\ntitle = 'y'\nquery = 'q'\nparams = {{ {} }}\n",
                params
                    .iter()
                    .map(|(k, v)| format!("{k} = '{v}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Definition::parse(&text, "t").unwrap().sections.remove(0)
        };
        let movers = &library["service_movers"];
        assert_eq!(
            section_params(&def(&[("top", "5")]), movers, "202611", "202610"),
            [
                ("period".to_string(), "202611".to_string()),
                ("top".to_string(), "5".to_string())
            ]
        );
        let prices = &library["price_changes"];
        assert_eq!(
            section_params(
                &def(&[("from", "{previous}"), ("to", "{period}"), ("x", "1")]),
                prices,
                "202611",
                "202610"
            ),
            [
                ("from".to_string(), "202610".to_string()),
                ("to".to_string(), "202611".to_string()),
                ("x".to_string(), "1".to_string())
            ]
        );
    }
}
