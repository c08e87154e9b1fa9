//! The query side: the lake as DataFusion tables and views (`catalog`), a session over it with
//! the one execute path that the REPL, `costlake sql`, `costlake query` and `verify` share
//! (`session`), what replaced partitions held (`history`), saved queries and their parameters
//! (`saved`), the lake's table overview (`tables`), the reconciliation of each period
//! (`verify`), the bounds on the SQL it accepts (`limits`), and the object stores of a
//! cluster's sessions (`stores`).

pub mod catalog;
pub mod history;
pub mod limits;
pub(crate) mod saved;
mod session;
pub mod stores;
mod tables;
pub mod verify;

use datafusion::error::DataFusionError;

use crate::lake::LakeError;
use crate::output::OutputError;

pub use saved::{BUILTIN, Need, Param, ParamType, SavedQuery, library, listing, markdown_library};
pub use session::{Session, Statement, StatementReport};
pub use tables::{describe_table, tables_overview};

/// Values bound to a statement's `$name` parameters.
pub type Params = std::collections::HashMap<String, datafusion::common::ScalarValue>;

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
    /// A statement that would write or create something: the query side only reads.
    #[error(
        "costlake's SQL only reads the lake, and this statement would change something ({0}); write a result with --output FILE (or \\o FILE in the shell)"
    )]
    ReadOnly(String),
    /// A statement a cluster cannot run: it reads what only this process holds.
    #[error(
        "the cluster runs statements over the lake's files, and {0} lives only in this process; run the statement without --cluster"
    )]
    NotOnCluster(String),
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
        matches!(
            self,
            QueryError::Usage(_)
                | QueryError::ReadOnly(_)
                | QueryError::Header { .. }
                | QueryError::Output(OutputError::Usage(_))
        )
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
    let first = text.lines().next().unwrap_or_default();
    on_cluster(first).unwrap_or_else(|| first.to_string())
}

/// A cluster's failure in costlake's words: Ballista says only "Job ID failed: Cancelled" of
/// the statements costlake's scheduler stops when an executor leaves.
fn on_cluster(message: &str) -> Option<String> {
    let message = message.trim_start_matches("Execution error: ");
    let job = message
        .strip_prefix("Job ")?
        .strip_suffix(" failed: Cancelled")?;
    Some(format!(
        "the cluster stopped the statement (job {job}): an executor left while it ran, or the job was cancelled, and costlake does not re-run lost work (it can count rows twice); run the statement again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_cluster_job_is_said_plainly() {
        let e = DataFusionError::Execution("Job 038J3DCVX0000 failed: Cancelled".into());
        assert!(describe(&e).starts_with("the cluster stopped the statement (job 038J3DCVX0000)"));
        let other = DataFusionError::Execution("Job X failed: out of memory".into());
        assert_eq!(describe(&other), "Job X failed: out of memory");
    }
}
