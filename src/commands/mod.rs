//! What each command does: settings resolved (`settings`), the library called, its report
//! printed. One module per command family.

pub mod demo;
pub mod emulate;
pub mod history;
pub mod ingest;
pub mod manual;
pub mod query;
pub mod sync;

use std::process::ExitCode;

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
