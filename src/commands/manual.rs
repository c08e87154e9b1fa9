//! `costlake completions SHELL` and `costlake man`: the shell completion scripts and the man
//! page, made by clap's own generators from the command line's grammar (`args`), so they never
//! drift from it.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::args::Cli;

/// Writes `shell`'s completion script to standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "costlake",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the man page, in roff, to standard output.
pub fn man() -> anyhow::Result<ExitCode> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}
