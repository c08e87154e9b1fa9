//! What the scheduler does when an executor leaves while statements run: it cancels them.
//!
//! Ballista 55.0.0 recovers from a lost executor by re-running the lost tasks and the stages
//! that read their output. On this machine that recovery gave a wrong answer: `tag_coverage`
//! with one of two executors killed four seconds in came back after 44 s with every tagged
//! share halved, the month's total counted twice. An answer that may be wrong is worse than
//! none for money, so costlake's scheduler cancels every running job as soon as it removes an
//! executor, before Ballista's own recovery sees the loss: the statement fails with a clear
//! error and can be run again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use ballista_core::JobId;
use ballista_core::error::Result;
use ballista_core::serde::protobuf::ExecutorHeartbeat;
use ballista_core::serde::scheduler::{ExecutorData, ExecutorMetadata};
use ballista_scheduler::cluster::{BoundTask, ClusterState, ClusterStateEventStream, ExecutorSlot};
use ballista_scheduler::config::TaskDistributionPolicy;
use ballista_scheduler::scheduler_server::SchedulerServer;
use ballista_scheduler::state::task_manager::JobInfoCache;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

/// The scheduler, set once it exists (it is built from the cluster state it is given).
pub type Scheduler = Arc<OnceLock<SchedulerServer<LogicalPlanNode, PhysicalPlanNode>>>;

/// Ballista's cluster state, which cancels the running jobs when an executor is removed.
pub struct LossCancelsJobs {
    pub inner: Arc<dyn ClusterState>,
    pub scheduler: Scheduler,
}

#[async_trait::async_trait]
impl ClusterState for LossCancelsJobs {
    async fn remove_executor(&self, executor_id: &str) -> Result<()> {
        // Ballista posts its own ExecutorLost event after this returns: the cancellations
        // posted here come first in the scheduler's one event queue.
        if let Some(scheduler) = self.scheduler.get() {
            let jobs: Vec<JobId> = scheduler
                .state
                .task_manager
                .get_running_job_cache()
                .keys()
                .cloned()
                .collect();
            for job in jobs {
                tracing::warn!(
                    "executor {executor_id} left while job {job} ran: cancelling the job rather than re-running lost work"
                );
                if let Err(e) = scheduler.cancel_job(job.clone()).await {
                    tracing::error!("could not cancel job {job}: {e}");
                }
            }
        }
        self.inner.remove_executor(executor_id).await
    }

    async fn init(&self) -> Result<()> {
        self.inner.init().await
    }

    async fn bind_schedulable_tasks(
        &self,
        distribution: TaskDistributionPolicy,
        active_jobs: Arc<HashMap<JobId, JobInfoCache>>,
        executors: Option<HashSet<String>>,
    ) -> Result<Vec<BoundTask>> {
        self.inner
            .bind_schedulable_tasks(distribution, active_jobs, executors)
            .await
    }

    async fn unbind_tasks(&self, executor_slots: Vec<ExecutorSlot>) -> Result<()> {
        self.inner.unbind_tasks(executor_slots).await
    }

    async fn register_executor(
        &self,
        metadata: ExecutorMetadata,
        spec: ExecutorData,
    ) -> Result<()> {
        self.inner.register_executor(metadata, spec).await
    }

    async fn save_executor_metadata(&self, metadata: ExecutorMetadata) -> Result<()> {
        self.inner.save_executor_metadata(metadata).await
    }

    async fn get_executor_metadata(&self, executor_id: &str) -> Result<ExecutorMetadata> {
        self.inner.get_executor_metadata(executor_id).await
    }

    async fn registered_executor_metadata(&self) -> Vec<ExecutorMetadata> {
        self.inner.registered_executor_metadata().await
    }

    async fn save_executor_heartbeat(&self, heartbeat: ExecutorHeartbeat) -> Result<()> {
        self.inner.save_executor_heartbeat(heartbeat).await
    }

    fn executor_heartbeats(&self) -> HashMap<String, ExecutorHeartbeat> {
        self.inner.executor_heartbeats()
    }

    fn get_executor_heartbeat(&self, executor_id: &str) -> Option<ExecutorHeartbeat> {
        self.inner.get_executor_heartbeat(executor_id)
    }

    async fn cluster_state_events(&self) -> Result<ClusterStateEventStream> {
        self.inner.cluster_state_events().await
    }
}
