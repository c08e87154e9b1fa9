//! What each command does: settings resolved (`settings`), the library called, its report
//! printed. One module per command family.

pub mod cluster;
pub mod demo;
pub mod emulate;
pub mod history;
pub mod ingest;
pub mod manual;
pub mod query;
pub mod report;
pub mod run_report;
pub mod sync;

use std::process::ExitCode;

use costlake::engine::QueryError;

/// A mistake in how costlake was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code 0 when everything succeeded, else 1.
pub fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// An error and its causes, each said once: typed errors often repeat their source in their
/// own message.
pub fn one_sentence(err: &anyhow::Error) -> String {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message = format!("{message}: {cause}");
        }
    }
    message
}

/// Whether the error is a mistake in how costlake was called (exit code 2).
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<crate::settings::ConfigError>().is_some()
        || err
            .downcast_ref::<QueryError>()
            .is_some_and(QueryError::is_usage)
}
