//! The background job queue, kept in PostgreSQL (see `docs/adr/0002-jobs-in-postgresql.md`).
//!
//! A job is a serialisable struct implementing [`Job`]. It is enqueued with [`enqueue`] on
//! the caller's connection or transaction, so it exists exactly when the write that needs it
//! commits. Workers ([`runner::Worker`]) claim due jobs with `FOR UPDATE SKIP LOCKED`, hold a
//! lease renewed by heartbeat, and record the outcome: success, a retry with exponential
//! backoff ([`JobError::Retry`]), or failure ([`JobError::Abort`], or attempts exhausted),
//! which stays visible with its last error until an operator retries it. Every job must be
//! idempotent: a job whose worker dies runs again once its lease expires.

pub mod admin;
mod db;
mod runner;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{PgExecutor, PgPool};
use tokio_util::sync::CancellationToken;

use crate::metrics::{JobStateLabels, Metrics};
use crate::state::AppState;

pub use runner::{Worker, run_pending_jobs};

/// The channel workers LISTEN on; the insert trigger of `jobs` notifies it.
pub const CHANNEL: &str = "zinovia_jobs";

/// A job's id in the `jobs` table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a job run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Transient (a timeout, a dependency down): try again later, with backoff, until the
    /// job's attempts are used up.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Permanent (bad input, a rule says no): never retried; the job ends failed.
    #[error("{0:#}")]
    Abort(anyhow::Error),
}

impl JobError {
    /// A transient failure.
    pub fn retry(e: impl Into<anyhow::Error>) -> JobError {
        JobError::Retry(e.into())
    }
    /// A permanent failure.
    pub fn abort(e: impl Into<anyhow::Error>) -> JobError {
        JobError::Abort(e.into())
    }
}

impl From<sqlx::Error> for JobError {
    /// Database errors are treated as transient.
    fn from(e: sqlx::Error) -> Self {
        JobError::Retry(e.into())
    }
}

/// What a running job can reach.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The application state (database, settings, metrics).
    pub state: AppState,
    /// This job's id.
    pub job_id: JobId,
    /// Which attempt this is (1 for the first run).
    pub attempt: i32,
    /// The job's attempt limit.
    pub max_attempts: i32,
    cancel: CancellationToken,
}

impl JobContext {
    /// Resolves when the job should stop early: the worker is shutting down past its grace
    /// period, or the job's lease was lost (another worker may be running it).
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// True once the job should stop early (see [`JobContext::cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// A kind of background job.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name stored in the `jobs.kind` column; never rename one that may be queued.
    const KIND: &'static str;
    /// Attempts before the job ends failed (retries and expired leases both count).
    const MAX_ATTEMPTS: i32 = 5;
    /// Higher runs first.
    const PRIORITY: i16 = 0;
    /// Longest a single run may take before it is stopped and retried.
    const TIMEOUT: Duration = Duration::from_secs(3600);

    /// A key that makes enqueueing idempotent: while a job with the same kind and key is
    /// queued (not yet started), enqueueing another is a no-op.
    fn dedup_key(&self) -> Option<String> {
        None
    }

    /// Does the work. Must be idempotent.
    fn run(self, ctx: JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// A job ready to insert: its kind, serialised payload and queue parameters.
#[derive(Debug, Clone)]
struct NewJob {
    kind: &'static str,
    payload: serde_json::Value,
    max_attempts: i32,
    priority: i16,
    dedup_key: Option<String>,
}

impl NewJob {
    fn of<J: Job>(job: &J) -> Result<NewJob, serde_json::Error> {
        Ok(NewJob {
            kind: J::KIND,
            payload: serde_json::to_value(job)?,
            max_attempts: J::MAX_ATTEMPTS.max(1),
            priority: J::PRIORITY,
            dedup_key: job.dedup_key(),
        })
    }
}

/// Enqueues `job` to run now, on the caller's connection or transaction: if the
/// transaction rolls back, the job never existed. Returns `None` when an identical job
/// (same kind and dedup key) is already queued.
pub async fn enqueue<'e, J: Job>(
    conn: impl PgExecutor<'e>,
    job: &J,
) -> Result<Option<JobId>, sqlx::Error> {
    enqueue_at(conn, job, None).await
}

/// Like [`enqueue`], to run no earlier than `run_at`.
pub async fn enqueue_at<'e, J: Job>(
    conn: impl PgExecutor<'e>,
    job: &J,
    run_at: Option<DateTime<Utc>>,
) -> Result<Option<JobId>, sqlx::Error> {
    let new = NewJob::of(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    db::insert(conn, &new, run_at).await
}

type Handler = Arc<
    dyn Fn(serde_json::Value, JobContext) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync,
>;

/// A registered job kind: how to run it and how long a run may take.
#[derive(Clone)]
struct Registered {
    handler: Handler,
    timeout: Duration,
}

/// Once an hour, for periodic jobs.
pub const HOURLY: Duration = Duration::from_secs(3600);

/// A periodic job: enqueued once per interval across all workers.
#[derive(Debug, Clone)]
struct Schedule {
    name: &'static str,
    every: Duration,
    job: NewJob,
}

/// Every job kind a worker can run, and the periodic jobs it schedules.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Registered>,
    schedules: Vec<Schedule>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .field("schedules", &self.schedules)
            .finish()
    }
}

impl Registry {
    /// The queue's own jobs: the canary (`zinovia jobs canary`) and pruning finished jobs.
    /// Features add theirs (`<feature>::jobs(registry)`); the application composes them
    /// (`app::jobs()`).
    pub fn core() -> Registry {
        Registry::default()
            .with::<Canary>()
            .with::<PruneFinishedJobs>()
            .every(HOURLY, "prune_finished_jobs", &PruneFinishedJobs)
    }

    /// Adds a job kind.
    #[must_use]
    pub fn with<J: Job>(mut self) -> Registry {
        let handler: Handler = Arc::new(|payload, ctx| {
            Box::pin(async move {
                let job: J = serde_json::from_value(payload).map_err(|e| {
                    JobError::Abort(anyhow::anyhow!(
                        "the payload does not match job `{}`: {e}",
                        J::KIND
                    ))
                })?;
                job.run(ctx).await
            })
        });
        self.kinds.insert(
            J::KIND,
            Registered {
                handler,
                timeout: J::TIMEOUT,
            },
        );
        self
    }

    /// Schedules `job` every `every` under the schedule `name` (the job kind must be
    /// registered too). With several workers, each interval's run is enqueued once.
    #[must_use]
    pub fn every<J: Job>(mut self, every: Duration, name: &'static str, job: &J) -> Registry {
        match NewJob::of(job) {
            Ok(job) => self.schedules.push(Schedule { name, every, job }),
            Err(e) => {
                tracing::error!(schedule = name, error = %e, "cannot serialise a periodic job; it will not run")
            }
        }
        self
    }

    fn kinds(&self) -> Vec<String> {
        let mut v: Vec<String> = self.kinds.keys().map(|k| (*k).to_owned()).collect();
        v.sort();
        v
    }
}

/// Queue depth by state and the age of the oldest due job, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// `(state, count)` for every state.
    pub by_state: Vec<(String, i64)>,
    /// Seconds the oldest due, unclaimed job has waited.
    pub oldest_due_seconds: f64,
}

impl QueueStats {
    /// Copies the figures into the metrics gauges.
    pub fn record(&self, m: &Metrics) {
        for state in ["queued", "running", "succeeded", "failed"] {
            let n = self
                .by_state
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            m.jobs_by_state
                .get_or_create(&JobStateLabels {
                    state: state.to_owned(),
                })
                .set(n);
        }
        m.jobs_oldest_due_seconds.set(self.oldest_due_seconds);
    }
}

/// Reads the queue's depth.
pub async fn queue_stats(pool: &PgPool) -> Result<QueueStats, sqlx::Error> {
    db::stats(pool).await
}

/// Deletes succeeded jobs older than `JOB_RETENTION` (failed ones stay for operators).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PruneFinishedJobs;

impl Job for PruneFinishedJobs {
    const KIND: &'static str = "prune_finished_jobs";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("prune".into())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let retention = ctx.state.settings.jobs.job_retention.0;
        let deleted = db::prune_succeeded(&ctx.state.db, retention).await?;
        if deleted > 0 {
            tracing::info!(deleted, "pruned finished jobs");
        }
        Ok(())
    }
}

/// Does nothing but wait `hold_ms`: operators enqueue it (`zinovia jobs canary`) after a
/// deploy to see that workers claim and finish jobs, and how long the queue takes.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Canary {
    /// How long the job holds its worker slot, in milliseconds.
    pub hold_ms: u64,
}

impl Job for Canary {
    const KIND: &'static str = "canary";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(self.hold_ms)) => Ok(()),
            () = ctx.cancelled() => Err(JobError::retry(anyhow::anyhow!("stopped before it finished"))),
        }
    }
}
