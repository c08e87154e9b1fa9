//! The machine-readable report of a `sync` or an `ingest` (`--report json`, `--report-file`):
//! the library's run report as JSON with what ran, when, on which lake and the exit code it
//! ends with. It is written even when the run fails before any unit (a refused sign-in, a
//! lake already being written), so a scheduler alerts on one object whatever happened. Its
//! schema is `docs/run-report.schema.json`.

use std::time::Instant;

use costlake::source::RunReport;

use super::{is_usage, one_sentence};
use crate::args::{RunReportArgs, VERSION};
use crate::settings::{self, FileSettings};

/// A run being recorded.
pub struct RunRecord<'a> {
    command: &'static str,
    args: &'a RunReportArgs,
    started: chrono::DateTime<chrono::Utc>,
    clock: Instant,
}

impl<'a> RunRecord<'a> {
    pub fn start(command: &'static str, args: &'a RunReportArgs) -> RunRecord<'a> {
        RunRecord {
            command,
            args,
            started: chrono::Utc::now(),
            clock: Instant::now(),
        }
    }

    /// Whether the report goes to standard output, so the usual lines must not.
    pub fn on_stdout(&self) -> bool {
        self.args.report.is_some() && self.args.report_file.is_none()
    }

    /// Writes the report, if one was asked for, and hands back the run's result.
    pub fn finish(
        &self,
        result: anyhow::Result<RunReport>,
        lake: Option<&str>,
    ) -> anyhow::Result<RunReport> {
        if self.args.report.is_none() && self.args.report_file.is_none() {
            return result;
        }
        let (mut value, error, exit_code) = match &result {
            Ok(report) => (report.json(), None, if report.ok() { 0 } else { 1 }),
            Err(err) => {
                let nothing = RunReport {
                    found: None,
                    written: "",
                    units: Vec::new(),
                    warnings: Vec::new(),
                    elapsed: self.clock.elapsed(),
                };
                let code = if is_usage(err) { 2 } else { 1 };
                (nothing.json(), Some(one_sentence(err)), code)
            }
        };
        let lake = FileSettings::load(std::path::Path::new("."))
            .ok()
            .map(|file| settings::lake_location(lake, &file));
        let object = value.as_object_mut().expect("a run report is an object");
        object.insert("ok".into(), (exit_code == 0).into());
        object.insert("exit_code".into(), exit_code.into());
        object.insert("error".into(), error.into());
        object.insert("command".into(), self.command.into());
        object.insert("costlake".into(), VERSION.into());
        object.insert("lake".into(), lake.into());
        object.insert("started".into(), self.started.to_rfc3339().into());
        object.insert("finished".into(), chrono::Utc::now().to_rfc3339().into());
        let text = serde_json::to_string_pretty(&value)? + "\n";
        match &self.args.report_file {
            Some(path) => std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
            None => print!("{text}"),
        }
        result
    }
}
