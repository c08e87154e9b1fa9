//! The one execute-and-print path that the REPL, `costlake sql` and `costlake query` share, and
//! saved queries: `.sql` files whose header declares a name, a description and typed parameters
//! with defaults, bound as values (never pasted into the SQL text).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::common::{ParamValues, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use crate::catalog;
use crate::lake::{Lake, LakeError};
use crate::output::chart::ChartSpec;
use crate::output::{self, Format, OutputError, Written};
use crate::schema::{Dataset, PARTITION_BILLING_PERIOD};

macro_rules! builtin {
    ($name:literal) => {
        ($name, include_str!(concat!("../queries/", $name, ".sql")))
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

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL failed: syntax, an unknown table or column, or execution.
    // Not a `#[source]`: `describe` already says it in one sentence, and error chains would
    // repeat it.
    #[error("{}", describe(.0))]
    Sql(DataFusionError),
    /// A mistake in how a saved query was called (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error("{file}: {message}")]
    Header { file: String, message: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{0}")]
    Io(String),
}

impl From<DataFusionError> for QueryError {
    fn from(err: DataFusionError) -> Self {
        QueryError::Sql(err)
    }
}

impl QueryError {
    /// Whether this is a usage error (exit code 2) rather than a failure (1).
    pub fn is_usage(&self) -> bool {
        matches!(self, QueryError::Usage(_) | QueryError::Header { .. })
    }
}

/// A DataFusion error as one plain sentence: the problem, and for syntax errors where.
pub fn describe(err: &DataFusionError) -> String {
    let err = err.find_root();
    let text = match err {
        DataFusionError::SQL(e, _) => format!(
            "SQL syntax error: {}",
            e.to_string().trim_start_matches("sql parser error: ")
        ),
        DataFusionError::Plan(m) => m.clone(),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        DataFusionError::Execution(m) => m.clone(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or_default().to_string()
}

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
            let text = std::fs::read_to_string(&path)
                .map_err(|e| QueryError::Io(format!("cannot read {}: {e}", path.display())))?;
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

/// README's table of the shipped library: name, what it answers, parameters.
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

/// The most rows a table or Markdown result holds and shows; the rest are counted, not kept,
/// so memory stays bounded however large a result is (the other formats stream).
pub const TABLE_ROW_LIMIT: usize = 10_000;

/// Where results go and how they look.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// The table shows at most this many rows (the rest are counted).
    pub max_rows: usize,
    pub timing: bool,
    /// A file instead of standard output.
    pub output: Option<PathBuf>,
    /// Chart columns and kind chosen by the user; a saved query's own spec fills the rest.
    pub chart: ChartSpec,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            format: Format::Table,
            max_rows: TABLE_ROW_LIMIT,
            timing: false,
            output: None,
            chart: ChartSpec::default(),
        }
    }
}

/// A query session over a lake.
pub struct Session {
    pub ctx: SessionContext,
    pub lake: Lake,
    pub queries: BTreeMap<String, SavedQuery>,
    pub print: PrintOptions,
    /// The lake manifest's version when the session last listed the lake's files.
    listed_at: std::sync::Mutex<Option<String>>,
}

impl Session {
    /// Opens the lake (which must exist) and registers its tables.
    pub async fn open(
        lake_location: &str,
        queries_dir: Option<&Path>,
    ) -> Result<Session, QueryError> {
        let lake = Lake::open(lake_location, false).await?;
        let ctx = catalog::session();
        catalog::register(&ctx, &lake).await?;
        Ok(Session {
            listed_at: std::sync::Mutex::new(lake.manifest_version().await?),
            ctx,
            lake,
            queries: library(queries_dir)?,
            print: PrintOptions::default(),
        })
    }

    /// Forgets the lake's file listing once a sync or an ingest (in this process or another)
    /// has published a partition since it was taken. DataFusion keeps listings for the life
    /// of a session: without this, a REPL left open would answer from the files it first
    /// saw. One metadata request per statement; the listing is reused while nothing changed.
    async fn see_lake_changes(&self) -> Result<(), QueryError> {
        let version = self.lake.manifest_version().await?;
        let mut listed_at = self.listed_at.lock().expect("not poisoned");
        if *listed_at != version {
            if let Some(listings) = self.ctx.runtime_env().cache_manager.get_list_files_cache() {
                listings.clear();
            }
            *listed_at = version;
        }
        Ok(())
    }

    /// Finds a saved query by name, or reads it from a `.sql` file.
    pub fn saved(&self, name_or_file: &str) -> Result<SavedQuery, QueryError> {
        if let Some(q) = self.queries.get(name_or_file) {
            return Ok(q.clone());
        }
        let path = Path::new(name_or_file);
        if path.extension().is_some_and(|x| x == "sql") || path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| QueryError::Io(format!("cannot read {name_or_file}: {e}")))?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("query");
            return SavedQuery::parse(&text, name_or_file, stem);
        }
        let names: Vec<&str> = self.queries.keys().map(String::as_str).collect();
        Err(QueryError::Usage(format!(
            "no saved query named '{name_or_file}'; the library has: {}",
            names.join(", ")
        )))
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
                    let v = crate::decimal::parse(&value, scale as u32, 38)
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
            return crate::emulator::PeriodId::parse(&v)
                .map(|p| p.to_string())
                .ok_or_else(|| {
                    QueryError::Usage(format!(
                        "'{value}' is not a billing period; write yyyyMM, latest or previous"
                    ))
                });
        }
        let sql = format!(
            "SELECT DISTINCT {PARTITION_BILLING_PERIOD} FROM {} ORDER BY 1 DESC LIMIT 2",
            Dataset::UsageDetails.name()
        );
        self.see_lake_changes().await?;
        let batches = self.ctx.sql(&sql).await?.collect().await?;
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

    /// Runs every statement of `sql` and prints each result: the one path of the REPL, `sql`
    /// and `query`.
    pub async fn run(
        &self,
        sql: &str,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<Written, QueryError> {
        self.execute(sql, params, None).await
    }

    /// Runs a saved query with bound parameters; a chart takes its title and columns from it.
    pub async fn run_saved(
        &self,
        q: &SavedQuery,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<Written, QueryError> {
        self.execute(&q.sql, params, Some(q)).await
    }

    /// Runs every statement of `sql` and keeps each result in memory, unprinted: for
    /// benchmarks and callers that post-process small results.
    pub async fn collect(
        &self,
        sql: &str,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<Vec<Vec<arrow::record_batch::RecordBatch>>, QueryError> {
        let mut out = Vec::new();
        for statement in DFParser::parse_sql(sql)? {
            out.push(self.frame(statement, params).await?.collect().await?);
        }
        Ok(out)
    }

    /// One statement planned, with the parameters bound.
    async fn frame(
        &self,
        statement: datafusion::sql::parser::Statement,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        self.see_lake_changes().await?;
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        let df = self.ctx.execute_logical_plan(plan).await?;
        if params.is_empty() {
            return Ok(df);
        }
        Ok(df.with_param_values(ParamValues::Map(
            params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect(),
        ))?)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &HashMap<String, ScalarValue>,
        saved: Option<&SavedQuery>,
    ) -> Result<Written, QueryError> {
        let statements = DFParser::parse_sql(sql)?;
        let mut total = Written::default();
        for statement in statements {
            let started = Instant::now();
            let stream = self
                .frame(statement, params)
                .await?
                .execute_stream()
                .await?;
            let written = self.print(stream, saved).await?;
            total.rows += written.rows;
            total.hidden += written.hidden;
            self.footer(written, started.elapsed())?;
        }
        Ok(total)
    }

    async fn print(
        &self,
        stream: datafusion::physical_plan::SendableRecordBatchStream,
        saved: Option<&SavedQuery>,
    ) -> Result<Written, QueryError> {
        let format = self.print.format;
        if format == Format::Chart {
            let (title, spec) = match saved {
                Some(q) => (q.name.as_str(), self.print.chart.or(&q.chart)),
                None => ("costlake", self.print.chart.clone()),
            };
            let path = self.print.output.as_deref();
            return Ok(output::write_chart(stream, title, &spec, path).await?);
        }
        match &self.print.output {
            Some(path) if format == Format::Parquet => {
                Ok(output::write_parquet(stream, path).await?)
            }
            None if format == Format::Parquet => Err(QueryError::Usage(
                "Parquet output needs a file: add --output FILE.parquet".into(),
            )),
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| QueryError::Io(format!("cannot write {}: {e}", path.display())))?;
                let mut out = std::io::BufWriter::new(file);
                Ok(output::write_stream(stream, format, &mut out, self.print.max_rows).await?)
            }
            None => {
                let mut out = std::io::stdout();
                Ok(output::write_stream(stream, format, &mut out, self.print.max_rows).await?)
            }
        }
    }

    fn footer(&self, written: Written, elapsed: Duration) -> Result<(), QueryError> {
        let mut notes = Vec::new();
        if written.hidden > 0 {
            notes.push(format!(
                "{} more rows not shown (of {}); --format csv, ndjson or parquet gives them all",
                written.hidden,
                written.rows + written.hidden
            ));
        }
        if self.print.timing {
            notes.push(format!(
                "{} rows in {:.3} s",
                written.rows + written.hidden,
                elapsed.as_secs_f64()
            ));
        }
        for n in notes {
            eprintln!("{n}");
        }
        Ok(())
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
