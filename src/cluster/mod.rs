//! The lake's SQL on an Apache DataFusion Ballista cluster: `costlake scheduler` and
//! `costlake executor` embed Ballista's scheduler and executor with costlake's functions and
//! settings, and `--cluster df://HOST:PORT` plans a statement here and has the cluster run it.
//! Every role builds its sessions from the same [`state`]: a plan names `unit_block_size` by
//! name only, so the scheduler and each executor must know it as the client does, and each
//! opens the lake's buckets itself ([`LakeStores`]) with its own credentials. Two parts
//! differ from Ballista's defaults, each for a failure measured here: the executors' engine
//! (`stage`) and what the scheduler does when an executor leaves (`loss`).

mod loss;
mod stage;

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::{
    SessionConfigExt, ballista_aggregate_functions, ballista_scalar_functions,
    ballista_window_functions,
};
use ballista_core::optimizer::ballista_default_optimizer_rules;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::execution_engine::DefaultExecutionEngine;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use costlake::engine::catalog;
use costlake::engine::stores::LakeStores;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::args::ExecutorArgs;

/// Ballista's session config with costlake's settings, and Ballista's static planner, which
/// plans each job's stages once: the planner costlake's cluster tests run (the adaptive one
/// plans stages again as they finish, and its recovery paths are others).
fn config() -> SessionConfig {
    catalog::configure(SessionConfig::new_with_ballista()).set_str(
        ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
        "false",
    )
}

/// A session state as every role builds it: Ballista's rules and functions, and costlake's.
fn state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let mut scalars = ballista_scalar_functions();
    scalars.push(Arc::new(catalog::block_size_udf()));
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime(None)?)
        .with_optimizer_rules(ballista_default_optimizer_rules())
        .with_scalar_functions(scalars)
        .with_aggregate_functions(ballista_aggregate_functions())
        .with_window_functions(ballista_window_functions())
        .build())
}

/// A runtime that opens each bucket a plan names ([`LakeStores`]), with spill files in
/// `temp` when given.
fn runtime(temp: Option<&str>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let builder = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(LakeStores::new()));
    match temp {
        Some(dir) => builder.with_temp_file_path(dir).build_arc(),
        None => builder.build_arc(),
    }
}

/// Runs a scheduler on `bind` until the process ends.
pub async fn scheduler(bind: SocketAddr) -> anyhow::Result<()> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: 20,
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: 30,
        override_config_producer: Some(Arc::new(config) as ConfigProducer),
        override_session_builder: Some(Arc::new(state) as SessionBuilder),
        ..Default::default()
    };
    config.validate()?;
    let memory = BallistaCluster::new_from_config(&config).await?;
    let scheduler = loss::Scheduler::default();
    let cluster = BallistaCluster::new(
        Arc::new(loss::LossCancelsJobs {
            inner: memory.cluster_state(),
            scheduler: scheduler.clone(),
        }),
        memory.job_state(),
    );
    let server = create_scheduler(cluster, Arc::new(config)).await?;
    let _ = scheduler.set(server.clone());
    start_grpc_service(bind, server).await?;
    Ok(())
}

/// Runs an executor until the process ends or the scheduler stops it.
pub async fn executor(args: &ExecutorArgs, vcores: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.work_dir)?;
    let work = args.work_dir.display().to_string();
    let bind = args.bind;
    let registry = BallistaFunctionRegistry::from(&state(config())?);
    let temp = work.clone();
    let config = ExecutorProcessConfig {
        bind_host: bind.ip().to_string(),
        port: bind.port(),
        external_host: args.advertise.clone(),
        scheduler_host: args.scheduler.0.clone(),
        scheduler_port: args.scheduler.1,
        scheduler_connect_timeout_seconds: 30,
        vcores,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work),
        // Shuffle files of finished jobs go after six hours: a pull-mode executor serves no
        // RPC, so the scheduler's own clean-up request never reaches it.
        job_data_ttl_seconds: 6 * 3600,
        job_data_clean_up_interval_seconds: 600,
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(config) as ConfigProducer),
        override_runtime_producer: Some(
            Arc::new(move |_: &SessionConfig| runtime(Some(&temp))) as RuntimeProducer
        ),
        ..Default::default()
    };
    let config = ExecutorProcessConfig {
        // Without Ballista's pool of Flight clients (not public in 55.0.0): each shuffle read
        // connects anew, which on a LAN costs a handshake per stage input.
        override_execution_engine: Some(Arc::new(
            stage::StageEngine(DefaultExecutionEngine::new()),
        )),
        ..config
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// A context whose statements the cluster at `url` (`df://HOST:PORT`) runs.
pub async fn client(url: &str) -> anyhow::Result<SessionContext> {
    let Some((host, port)) = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "df")
        .and_then(|u| Some((u.host_str()?.to_string(), u.port()?)))
    else {
        return Err(crate::commands::UsageError(format!(
            "--cluster takes the scheduler as df://HOST:PORT (as `costlake scheduler` prints it), not {url}"
        ))
        .into());
    };
    // Ballista connects when the first statement runs and reports a refused connection as a
    // transport error: one connection first, to say plainly that the scheduler is not there.
    let reach = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let why = match reach {
        Ok(Ok(_)) => None,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some("nothing listens there".to_string())
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer in 10 s".to_string()),
    };
    if let Some(why) = why {
        anyhow::bail!(
            "cannot reach the cluster's scheduler at {url}: {why}; is `costlake scheduler` running there?"
        );
    }
    let ctx = SessionContext::remote_with_state(url, state(config())?).await?;
    // Making the state Ballista's replaced its scalar functions: costlake's again.
    ctx.register_udf(catalog::block_size_udf());
    Ok(ctx)
}
