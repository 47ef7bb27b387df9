//! Running jobs: the worker loop (claim, heartbeat, requeue expired leases, schedules,
//! graceful shutdown) and the deterministic `run_pending_jobs` used by tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;
use sqlx::postgres::PgListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::db::{self, Claimed};
use super::{CHANNEL, JobContext, JobError, JobId, Registry};
use crate::state::AppState;

/// Longest retry delay, however many attempts failed.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Runs jobs for one process: claims due jobs up to `WORKER_CONCURRENCY`, runs them, and
/// keeps their leases alive.
#[derive(Debug)]
pub struct Worker {
    exec: Arc<Executor>,
}

/// What the worker loop and the test helper share: the identity that holds leases, the
/// registry, and the jobs in flight (with the token that stops each one).
#[derive(Debug)]
struct Executor {
    state: AppState,
    registry: Registry,
    worker_id: String,
    kinds: Vec<String>,
    in_flight: Mutex<HashMap<JobId, CancellationToken>>,
}

/// How often a worker logs the queue depth (ADR 0016: CloudWatch reads it from the logs).
const DEPTH_REPORT_EVERY: Duration = Duration::from_secs(60);

fn worker_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &tag[..8])
}

impl Worker {
    /// A worker for `registry`'s jobs.
    pub fn new(state: AppState, registry: Registry) -> Worker {
        Worker {
            exec: Arc::new(Executor::new(state, registry)),
        }
    }

    /// This worker's lease-holder id (`host:pid:tag`).
    pub fn id(&self) -> &str {
        &self.exec.worker_id
    }

    /// Runs until `shutdown` is cancelled; then stops claiming, gives running jobs
    /// `SHUTDOWN_TIMEOUT` to finish, and releases the rest back to the queue.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let exec = self.exec;
        let settings = &exec.state.settings;
        let concurrency = usize::try_from(settings.jobs.worker_concurrency)
            .unwrap_or(1)
            .max(1);
        let poll = settings.jobs.job_poll_interval.0;
        let lease = settings.jobs.job_lease.0;
        let grace = settings.lifecycle.shutdown_timeout.0;
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut tasks: JoinSet<()> = JoinSet::new();
        let heartbeat =
            tokio::spawn(Arc::clone(&exec).heartbeat_loop(lease, shutdown.child_token()));
        let mut listener = listen(&exec.state).await;
        let mut last_maintenance: Option<Instant> = None;
        let mut last_depth: Option<Instant> = None;
        tracing::info!(worker = %exec.worker_id, concurrency, kinds = ?exec.kinds, "worker started");

        while !shutdown.is_cancelled() {
            if last_depth.is_none_or(|t| t.elapsed() >= DEPTH_REPORT_EVERY) {
                exec.report_depth().await;
                last_depth = Some(Instant::now());
            }
            if last_maintenance.is_none_or(|t| t.elapsed() >= poll) {
                exec.maintenance().await;
                last_maintenance = Some(Instant::now());
            }
            let free = permits.available_permits();
            if free > 0 {
                match db::claim(
                    &exec.state.db,
                    &exec.worker_id,
                    &exec.kinds,
                    free as i64,
                    lease,
                )
                .await
                {
                    Ok(jobs) => {
                        for job in jobs {
                            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                                break;
                            };
                            let exec = Arc::clone(&exec);
                            tasks.spawn(async move {
                                exec.execute(job).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed; retrying"),
                }
            }
            let idle = permits.available_permits() > 0;
            tokio::select! {
                () = shutdown.cancelled() => break,
                // A finished job frees a slot: look for more work at once.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                // A new job was enqueued somewhere.
                notified = recv(&mut listener), if idle && listener.is_some() => {
                    if !notified {
                        listener = None;
                    }
                }
                () = tokio::time::sleep(poll) => {
                    if listener.is_none() {
                        listener = listen(&exec.state).await;
                    }
                }
            }
        }

        tracing::info!(
            running = tasks.len(),
            grace_ms = grace.as_millis() as u64,
            "worker stopping"
        );
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        if !drained {
            let ids = exec.cancel_all();
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            match db::release(&exec.state.db, &ids, &exec.worker_id).await {
                Ok(n) => {
                    tracing::warn!(
                        released = n,
                        "jobs still running at the shutdown timeout were released to the queue"
                    );
                    for _ in 0..n {
                        exec.state.metrics.observe_job("any", "released", 0.0);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "releasing jobs failed; their leases will expire instead")
                }
            }
        }
        heartbeat.abort();
        let _ = heartbeat.await;
        tracing::info!("worker stopped");
        Ok(())
    }
}

async fn listen(state: &AppState) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(&state.db).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling only until it works");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling only until it works");
            None
        }
    }
}

/// Waits for a notification; false when the listener broke (fall back to polling).
async fn recv(listener: &mut Option<PgListener>) -> bool {
    match listener.as_mut() {
        Some(l) => match l.recv().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "job notifications interrupted; polling until reconnected");
                false
            }
        },
        None => std::future::pending().await,
    }
}

impl Executor {
    fn new(state: AppState, registry: Registry) -> Executor {
        let kinds = registry.kinds();
        Executor {
            state,
            registry,
            worker_id: worker_id(),
            kinds,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn track(&self, id: JobId) -> CancellationToken {
        let token = CancellationToken::new();
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, token.clone());
        token
    }

    fn untrack(&self, id: JobId) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    fn cancel_all(&self) -> Vec<JobId> {
        let map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for token in map.values() {
            token.cancel();
        }
        map.keys().copied().collect()
    }

    /// Requeues expired leases and enqueues due periodic jobs.
    /// Logs how many due jobs wait (`queue depth`, with `queued` and `oldest_seconds`): the
    /// deployment turns these lines into its queue-depth metric and alarm.
    async fn report_depth(&self) {
        match db::depth(&self.state.db).await {
            Ok((queued, oldest_seconds)) => {
                tracing::info!(queued, oldest_seconds, "queue depth");
            }
            Err(e) => tracing::warn!(error = %e, "reading the queue depth failed"),
        }
    }

    async fn maintenance(&self) {
        match db::requeue_expired(&self.state.db).await {
            Ok(jobs) => {
                for (id, kind, state) in jobs {
                    tracing::warn!(job_id = %id, kind, new_state = state, "a job's lease expired");
                    self.state.metrics.observe_job(&kind, "lease_expired", 0.0);
                }
            }
            Err(e) => tracing::warn!(error = %e, "requeueing expired jobs failed"),
        }
        for s in &self.registry.schedules {
            match db::run_schedule(&self.state.db, s.name, s.every, &s.job).await {
                Ok(Some(id)) => {
                    tracing::debug!(schedule = s.name, job_id = %id, "enqueued a periodic job")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(schedule = s.name, error = %e, "scheduling a periodic job failed")
                }
            }
        }
    }

    /// Renews the leases of every job in flight; a job whose lease was lost (this process
    /// stalled past the lease and another worker requeued it) is told to stop.
    async fn heartbeat_loop(self: Arc<Self>, lease: Duration, stop: CancellationToken) {
        let every = (lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let tracked: Vec<JobId> = {
                let map = self
                    .in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                map.keys().copied().collect()
            };
            if tracked.is_empty() {
                continue;
            }
            match db::heartbeat(&self.state.db, &self.worker_id, lease).await {
                Ok(held) => {
                    let map = self
                        .in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    for id in tracked.iter().filter(|id| !held.contains(id)) {
                        if let Some(token) = map.get(id) {
                            tracing::warn!(job_id = %id, "lost the lease of a running job; stopping it");
                            token.cancel();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "job heartbeat failed"),
            }
        }
    }

    /// Runs one claimed job to its outcome and records it.
    async fn execute(&self, job: Claimed) {
        let Some(registered) = self.registry.kinds.get(job.kind.as_str()).cloned() else {
            // Cannot happen: we only claim registered kinds.
            return;
        };
        let cancel = self.track(job.id);
        let ctx = JobContext {
            state: self.state.clone(),
            job_id: job.id,
            attempt: job.attempts,
            max_attempts: job.max_attempts,
            cancel: cancel.clone(),
        };
        let span =
            tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts);
        self.state.metrics.jobs_in_flight.inc();
        let start = Instant::now();
        // A spawned task, so a panic in the job is caught and recorded like an error.
        let handle = tokio::spawn(tracing::Instrument::instrument(
            (registered.handler)(job.payload.clone(), ctx),
            span.clone(),
        ));
        let abort = handle.abort_handle();
        let result = tokio::select! {
            joined = handle => match joined {
                Ok(r) => Some(r),
                Err(e) if e.is_panic() => Some(Err(JobError::Retry(anyhow::anyhow!("the job panicked: {}", panic_text(e))))),
                Err(_) => None,
            },
            () = tokio::time::sleep(registered.timeout) => {
                abort.abort();
                Some(Err(JobError::Retry(anyhow::anyhow!("timed out after {}s", registered.timeout.as_secs()))))
            }
            () = cancel.cancelled() => {
                // Shutdown past its grace period, or lease lost: give the job a moment to
                // notice, then stop it. Its row is released (or already requeued).
                tokio::time::sleep(Duration::from_millis(500)).await;
                abort.abort();
                None
            }
        };
        let elapsed = start.elapsed().as_secs_f64();
        self.state.metrics.jobs_in_flight.dec();
        self.untrack(job.id);
        let Some(result) = result else {
            return;
        };
        let outcome = self.record(&job, result).await;
        self.state.metrics.observe_job(&job.kind, outcome, elapsed);
        let _entered = span.enter();
        match outcome {
            "succeeded" => tracing::info!(seconds = elapsed, "job succeeded"),
            "retried" => tracing::warn!(seconds = elapsed, "job failed; it will be retried"),
            "failed" => tracing::error!(seconds = elapsed, "job failed for good"),
            _ => tracing::warn!(
                outcome,
                "job outcome not recorded: its lease was lost meanwhile"
            ),
        }
    }

    /// Writes the outcome; returns its metric label.
    async fn record(&self, job: &Claimed, result: Result<(), JobError>) -> &'static str {
        let pool = &self.state.db;
        let written = match &result {
            Ok(()) => db::succeed(pool, job.id, &self.worker_id)
                .await
                .map(|ok| (ok, "succeeded")),
            Err(JobError::Retry(e)) if job.attempts < job.max_attempts => {
                tracing::warn!(job_id = %job.id, error = %format!("{e:#}"), "job attempt failed");
                let delay = backoff(self.state.settings.jobs.job_retry_base.0, job.attempts);
                match pool.acquire().await {
                    Ok(mut conn) => db::requeue(
                        &mut conn,
                        job.id,
                        &self.worker_id,
                        delay,
                        Some(&format!("{e:#}")),
                        false,
                    )
                    .await
                    .map(|ok| (ok, "retried")),
                    Err(e) => Err(e),
                }
            }
            Err(JobError::Retry(e) | JobError::Abort(e)) => {
                let error = format!("{e:#}");
                tracing::error!(job_id = %job.id, error, "job failed");
                db::fail(pool, job.id, &self.worker_id, &error)
                    .await
                    .map(|ok| (ok, "failed"))
            }
        };
        match written {
            Ok((true, outcome)) => outcome,
            Ok((false, _)) => "lost",
            Err(e) => {
                // The lease will expire and the job will run again: jobs are idempotent.
                tracing::error!(job_id = %job.id, error = %e, "recording a job's outcome failed");
                "unrecorded"
            }
        }
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// `base × 2^(attempt-1)`, capped at an hour, with ±20% jitter so retries of many jobs
/// that failed together do not return together.
fn backoff(base: Duration, attempt: i32) -> Duration {
    if base.is_zero() {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    let raw = base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(MAX_BACKOFF);
    let jitter: f64 = rand::rng().random_range(0.8..1.2);
    raw.mul_f64(jitter).min(MAX_BACKOFF)
}

/// Runs every due job of `registry` in this task, one at a time, until none is due; returns
/// how many ran. Jobs enqueued by jobs run too. Retries that are due again at once (with
/// `JOB_RETRY_BASE=0`) run in the same call. For tests and one-off tooling.
pub async fn run_pending_jobs(state: &AppState, registry: &Registry) -> anyhow::Result<usize> {
    let exec = Executor::new(state.clone(), registry.clone());
    let lease = state.settings.jobs.job_lease.0;
    let mut ran = 0;
    loop {
        exec.maintenance().await;
        let jobs = db::claim(&state.db, &exec.worker_id, &exec.kinds, 1, lease).await?;
        let Some(job) = jobs.into_iter().next() else {
            return Ok(ran);
        };
        exec.execute(job).await;
        ran += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let base = Duration::from_secs(10);
        for (attempt, expected) in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0)] {
            let d = backoff(base, attempt).as_secs_f64();
            assert!(
                d >= expected * 0.8 - 1e-9 && d <= expected * 1.2 + 1e-9,
                "{attempt}: {d}"
            );
        }
        assert!(backoff(base, 100) <= MAX_BACKOFF);
        assert_eq!(backoff(Duration::ZERO, 5), Duration::ZERO);
    }
}
