//! A query session over a lake, and the one execute path that the REPL, `costlake sql`,
//! `costlake query` and `verify` share: statements planned by DataFusion against the catalog,
//! parameters bound as values, results written through `output`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{ViewTable, source_as_provider};
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use super::saved::{SavedQuery, library};
use super::{QueryError, catalog, describe, history, limits};
use crate::lake::Lake;
use crate::output::{self, PrintOptions};

/// One statement of a text of SQL.
pub type Statement = datafusion::sql::parser::Statement;

/// What SQL may do here: read. DDL (`CREATE EXTERNAL TABLE … LOCATION` anywhere, views, `DROP`)
/// and DML (`INSERT INTO` a table of the lake, `COPY … TO` any path) are refused by
/// DataFusion's own plan check before anything runs; `--output` is the one way a result is
/// written. Statements that only set or show options stay allowed.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(true)
}

/// What running one statement produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementReport {
    pub rows: u64,
    /// Rows not shown because of the table's row limit.
    pub hidden: u64,
    pub elapsed: Duration,
}

/// A query session over a lake.
pub struct Session {
    pub ctx: SessionContext,
    pub lake: Lake,
    pub queries: BTreeMap<String, SavedQuery>,
    /// The lake manifest's version when the session last listed the lake's files.
    listed_at: std::sync::Mutex<Option<String>>,
    /// The cluster (`df://HOST:PORT`) that runs the statements, when not this process.
    cluster: Option<String>,
}

impl Session {
    /// Opens the lake (which must exist) and registers its tables.
    pub async fn open(
        lake_location: &str,
        queries_dir: Option<&Path>,
    ) -> Result<Session, QueryError> {
        Session::open_on(catalog::session(), lake_location, queries_dir).await
    }

    /// Opens the lake on `ctx`: a context made by [`catalog::session`], or one whose statements
    /// a cluster runs, with the same settings and functions.
    pub async fn open_on(
        ctx: SessionContext,
        lake_location: &str,
        queries_dir: Option<&Path>,
    ) -> Result<Session, QueryError> {
        let lake = Lake::open(lake_location, false).await?;
        catalog::register(&ctx, &lake).await?;
        Ok(Session {
            listed_at: std::sync::Mutex::new(lake.manifest_version().await?),
            ctx,
            lake,
            queries: library(queries_dir)?,
            cluster: None,
        })
    }

    /// The session with `ctx` (given to [`Session::open_on`]) running statements on the
    /// cluster at `url`: each statement is checked to read only what the cluster can.
    pub fn on_cluster(mut self, url: &str) -> Session {
        self.cluster = Some(url.to_string());
        self
    }

    /// Where statements run: the cluster's URL, or `None` for this process.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// Forgets the lake's file listing and the files' statistics once a sync or an ingest (in
    /// this process or another) has published a partition since they were taken. DataFusion
    /// keeps both for the life of a session: without this, a REPL left open would answer from
    /// the files it first saw, and could plan with a replaced file's statistics. One metadata
    /// request per statement; both are reused while nothing changed. The `history` and
    /// `previous` schemas are refreshed from the manifest.
    async fn see_lake_changes(&self) -> Result<(), QueryError> {
        let version = self.lake.manifest_version().await?;
        if *self.listed_at.lock().expect("not poisoned") == version {
            return Ok(());
        }
        let caches = &self.ctx.runtime_env().cache_manager;
        if let Some(listings) = caches.get_list_files_cache() {
            listings.clear();
        }
        if let Some(statistics) = caches.get_file_statistic_cache() {
            statistics.clear();
        }
        // The changes table is read from the manifest, not listed.
        history::refresh(&self.ctx, &self.lake.manifest().await?).await?;
        *self.listed_at.lock().expect("not poisoned") = version;
        Ok(())
    }

    /// Finds a saved query by name, or reads it from a `.sql` file.
    pub fn saved(&self, name_or_file: &str) -> Result<SavedQuery, QueryError> {
        if let Some(q) = self.queries.get(name_or_file) {
            return Ok(q.clone());
        }
        let path = Path::new(name_or_file);
        if path.extension().is_some_and(|x| x == "sql") || path.exists() {
            let text = limits::read_sql_file(path)?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("query");
            return SavedQuery::parse(&text, name_or_file, stem);
        }
        let names: Vec<&str> = self.queries.keys().map(String::as_str).collect();
        Err(QueryError::Usage(format!(
            "no saved query named '{name_or_file}'; the library has: {}",
            names.join(", ")
        )))
    }

    /// The statements of a text of SQL, parsed, each within [`limits`].
    pub fn statements(sql: &str) -> Result<Vec<Statement>, QueryError> {
        limits::check_size(sql, "the SQL")?;
        let statements: Vec<Statement> = DFParser::parse_sql(sql)?.into_iter().collect();
        statements.iter().try_for_each(limits::check_depth)?;
        Ok(statements)
    }

    /// Runs every statement of `sql` and keeps each result in memory, unprinted: for
    /// benchmarks and callers that post-process small results.
    pub async fn collect(
        &self,
        sql: &str,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<Vec<Vec<arrow::record_batch::RecordBatch>>, QueryError> {
        let mut out = Vec::new();
        for statement in Session::statements(sql)? {
            out.push(self.frame(statement, params).await?.collect().await?);
        }
        Ok(out)
    }

    /// Runs every statement of `sql` but the last, and streams the last one's result: for
    /// callers that show a saved query's result their own way.
    pub async fn stream(
        &self,
        sql: &str,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream, QueryError> {
        let mut statements = Session::statements(sql)?;
        let last = statements
            .pop()
            .ok_or_else(|| QueryError::Usage("the SQL has no statement".into()))?;
        for statement in statements {
            self.frame(statement, params).await?.collect().await?;
        }
        Ok(self.frame(last, params).await?.execute_stream().await?)
    }

    /// One statement planned, with the parameters bound.
    async fn frame(
        &self,
        statement: Statement,
        params: &HashMap<String, ScalarValue>,
    ) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        self.see_lake_changes().await?;
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        read_only()
            .verify_plan(&plan)
            .map_err(|e| QueryError::ReadOnly(describe(&e)))?;
        if self.cluster.is_some() {
            held_here(&plan)?;
        }
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

    /// Runs one statement and writes its result as `print` says: into the file it names, else
    /// into `out`. A saved query gives a chart its title and columns.
    pub async fn execute(
        &self,
        statement: Statement,
        params: &HashMap<String, ScalarValue>,
        saved: Option<&SavedQuery>,
        print: &PrintOptions,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<StatementReport, QueryError> {
        let started = Instant::now();
        let stream = self
            .frame(statement, params)
            .await?
            .execute_stream()
            .await?;
        let (title, chart) = match saved {
            Some(q) => (q.name.as_str(), print.chart.or(&q.chart)),
            None => ("costlake", print.chart.clone()),
        };
        // A statement can fail while its rows stream: said as one sentence, as when planning.
        let written = output::write_result(stream, title, &chart, print, out)
            .await
            .map_err(|e| match e {
                output::OutputError::Query(e) => QueryError::Sql(e),
                other => other.into(),
            })?;
        Ok(StatementReport {
            rows: written.rows,
            hidden: written.hidden,
            elapsed: started.elapsed(),
        })
    }
}

/// Fails when `plan` reads a table the cluster's executors cannot: they open the lake's files
/// (listing tables, and the views over them), but a table held in this process's memory
/// (`history.changes`, `information_schema`) or made by a table function (`generate_series`)
/// would reach the cluster only as a plan it cannot decode.
fn held_here(plan: &LogicalPlan) -> Result<(), QueryError> {
    match held_table(plan)? {
        Some(table) => Err(QueryError::NotOnCluster(format!("`{table}`"))),
        None => Ok(()),
    }
}

/// The first table `plan` reads, through views, that is not the lake's files.
fn held_table(plan: &LogicalPlan) -> datafusion::error::Result<Option<String>> {
    let mut found = None;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = source_as_provider(&scan.source)?;
            found = match provider.downcast_ref::<ViewTable>() {
                Some(view) => held_table(view.logical_plan())?,
                None if provider.is::<ListingTable>() => None,
                None => Some(scan.table_name.to_string()),
            };
            if found.is_some() {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}
