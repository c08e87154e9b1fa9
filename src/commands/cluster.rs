//! `costlake scheduler` and `costlake executor`: Ballista's, with costlake's functions and
//! stores (`crate::cluster`).

use std::process::ExitCode;

use crate::args::{ExecutorArgs, SchedulerArgs};

pub async fn scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    eprintln!("costlake scheduler on {}", args.bind);
    crate::cluster::scheduler(args.bind).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn executor(args: ExecutorArgs) -> anyhow::Result<ExitCode> {
    let vcores = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    eprintln!(
        "costlake executor on {} for the scheduler at {}:{}",
        args.bind, args.scheduler.0, args.scheduler.1
    );
    crate::cluster::executor(&args, vcores).await?;
    Ok(ExitCode::SUCCESS)
}
