//! The job queue: transactional enqueue, exactly-once with several workers, retries,
//! failures that stay visible, leases, deduplication, schedules and shutdown.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use zinovia::config::HumanDuration;
use zinovia::jobs::{self, Canary, Job, JobContext, JobError, PruneFinishedJobs, Registry, Worker};

use crate::helpers::{Proc, TestApp, TestDb, wait_until, zinovia};

/// Records that it ran, once per run.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    key: String,
}

impl Job for Record {
    const KIND: &'static str = "test_record";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        sqlx::query("insert into job_effects (key) values ($1)")
            .bind(&self.key)
            .execute(&ctx.state.db)
            .await?;
        Ok(())
    }
}

/// Fails every time with a transient error.
#[derive(Debug, Serialize, Deserialize)]
struct AlwaysFails;

impl Job for AlwaysFails {
    const KIND: &'static str = "test_always_fails";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        Err(JobError::retry(anyhow::anyhow!(
            "storage timed out (attempt {})",
            ctx.attempt
        )))
    }
}

/// Fails on its first two attempts, then succeeds.
#[derive(Debug, Serialize, Deserialize)]
struct FlakyTwice {
    key: String,
}

impl Job for FlakyTwice {
    const KIND: &'static str = "test_flaky_twice";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if ctx.attempt <= 2 {
            return Err(JobError::retry(anyhow::anyhow!("transient")));
        }
        Record { key: self.key }.run(ctx).await
    }
}

/// Refuses its input: never retried.
#[derive(Debug, Serialize, Deserialize)]
struct Aborts;

impl Job for Aborts {
    const KIND: &'static str = "test_aborts";

    async fn run(self, _ctx: JobContext) -> Result<(), JobError> {
        Err(JobError::abort(anyhow::anyhow!("the file is not an image")))
    }
}

/// Panics.
#[derive(Debug, Serialize, Deserialize)]
struct Panics;

impl Job for Panics {
    const KIND: &'static str = "test_panics";
    const MAX_ATTEMPTS: i32 = 2;

    async fn run(self, _ctx: JobContext) -> Result<(), JobError> {
        panic!("decoder bug");
    }
}

/// Runs until told to stop.
#[derive(Debug, Serialize, Deserialize)]
struct Holds;

impl Job for Holds {
    const KIND: &'static str = "test_holds";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.cancelled().await;
        Err(JobError::retry(anyhow::anyhow!("stopped")))
    }
}

/// Keyed: at most one queued per key.
#[derive(Debug, Serialize, Deserialize)]
struct Keyed {
    key: String,
}

impl Job for Keyed {
    const KIND: &'static str = "test_keyed";

    fn dedup_key(&self) -> Option<String> {
        Some(self.key.clone())
    }

    async fn run(self, _ctx: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// The test jobs, the canary and the periodic prune of finished jobs (no other schedules,
/// so counts in these tests do not depend on the application's periodic jobs).
fn registry() -> Registry {
    Registry::default()
        .with::<Canary>()
        .with::<PruneFinishedJobs>()
        .every(
            Duration::from_secs(3600),
            "prune_finished_jobs",
            &PruneFinishedJobs,
        )
        .with::<Record>()
        .with::<AlwaysFails>()
        .with::<FlakyTwice>()
        .with::<Aborts>()
        .with::<Panics>()
        .with::<Holds>()
        .with::<Keyed>()
}

async fn effects_table(pool: &PgPool) {
    sqlx::query(
        "create table job_effects (key text not null, at timestamptz not null default now())",
    )
    .execute(pool)
    .await
    .unwrap();
}

async fn job_state(pool: &PgPool, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("select state, attempts, last_error from jobs where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    effects_table(pool).await;
    let mut tx = pool.begin().await.unwrap();
    let id = jobs::enqueue(
        &mut *tx,
        &Record {
            key: "ghost".into(),
        },
    )
    .await
    .unwrap();
    assert!(id.is_some());
    tx.rollback().await.unwrap();

    let ran = app
        .run_pending_jobs(&Registry::default().with::<Record>())
        .await;
    assert_eq!(ran, 0);
    let n: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = sqlx::query_scalar("select count(*) from job_effects")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn committed_jobs_run_exactly_once_with_two_workers_polling() {
    let app = TestApp::spawn_with(|s| {
        s.jobs.job_poll_interval = HumanDuration(Duration::from_millis(100));
        s.jobs.worker_concurrency = 3;
    })
    .await;
    let pool = app.state.db.clone();
    effects_table(&pool).await;
    let stop = CancellationToken::new();
    let w1 = Worker::new(app.state.clone(), registry());
    let w2 = Worker::new(app.state.clone(), registry());
    assert_ne!(w1.id(), w2.id());
    let t1 = tokio::spawn(w1.run(stop.clone()));
    let t2 = tokio::spawn(w2.run(stop.clone()));

    let mut tx = pool.begin().await.unwrap();
    for i in 0..60 {
        jobs::enqueue(
            &mut *tx,
            &Record {
                key: format!("k{i}"),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    wait_until(Duration::from_secs(30), "60 jobs to succeed", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from jobs where kind = 'test_record' and state = 'succeeded'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        n == 60
    })
    .await;
    stop.cancel();
    t1.await.unwrap().unwrap();
    t2.await.unwrap().unwrap();

    let (total, distinct): (i64, i64) =
        sqlx::query_as("select count(*), count(distinct key) from job_effects")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((total, distinct), (60, 60), "every job ran exactly once");
    let max_attempts: i32 =
        sqlx::query_scalar("select max(attempts) from jobs where kind = 'test_record'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(max_attempts, 1);
}

#[tokio::test]
async fn a_worker_wakes_on_notification_without_waiting_for_its_poll() {
    // Polling every 10 minutes: only LISTEN/NOTIFY can make this job run promptly.
    let app = TestApp::spawn_with(|s| {
        s.jobs.job_poll_interval = HumanDuration(Duration::from_secs(600));
        s.jobs.job_lease = HumanDuration(Duration::from_secs(600));
    })
    .await;
    let pool = app.state.db.clone();
    effects_table(&pool).await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(Worker::new(app.state.clone(), registry()).run(stop.clone()));
    // Let the worker reach its idle wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    jobs::enqueue(
        &pool,
        &Record {
            key: "woken".into(),
        },
    )
    .await
    .unwrap();
    wait_until(
        Duration::from_secs(20),
        "the notified job to run",
        || async {
            let n: i64 = sqlx::query_scalar("select count(*) from job_effects")
                .fetch_one(&pool)
                .await
                .unwrap();
            n == 1
        },
    )
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn transient_failures_are_retried_and_then_succeed() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    effects_table(pool).await;
    let id = jobs::enqueue(
        pool,
        &FlakyTwice {
            key: "eventually".into(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    app.run_pending_jobs(&registry()).await;
    let (state, attempts, error) = job_state(pool, id.0).await;
    assert_eq!((state.as_str(), attempts), ("succeeded", 3));
    assert_eq!(
        error.as_deref(),
        Some("transient"),
        "the last failure stays visible"
    );
}

#[tokio::test]
async fn retries_wait_with_backoff() {
    let app =
        TestApp::spawn_with(|s| s.jobs.job_retry_base = HumanDuration(Duration::from_secs(60)))
            .await;
    let pool = &app.state.db;
    let id = jobs::enqueue(pool, &AlwaysFails).await.unwrap().unwrap();
    assert_eq!(
        app.run_pending_jobs(&registry()).await,
        2,
        "the job and the periodic prune ran once each"
    );
    let (state, attempts, _) = job_state(pool, id.0).await;
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    let wait: f64 = sqlx::query_scalar(
        "select extract(epoch from run_at - now())::float8 from jobs where id = $1",
    )
    .bind(id.0)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        (40.0..=75.0).contains(&wait),
        "first retry ~60 s away (±20%), got {wait}"
    );
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_failed_with_its_error_and_can_be_retried() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    let id = jobs::enqueue(pool, &AlwaysFails).await.unwrap().unwrap();
    app.run_pending_jobs(&registry()).await;
    let (state, attempts, error) = job_state(pool, id.0).await;
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert_eq!(error.as_deref(), Some("storage timed out (attempt 3)"));

    // The operator's view lists it with its error.
    let listing = jobs::admin::failed(pool, 10).await.unwrap();
    assert!(
        listing.contains("test_always_fails") && listing.contains("storage timed out"),
        "{listing}"
    );

    // `zinovia jobs retry ID` revives it with fresh attempts.
    let out = zinovia()
        .args(["jobs", "retry", &id.0.to_string()])
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("job {id} is queued again")
    );
    let (state, attempts, _) = job_state(pool, id.0).await;
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    app.run_pending_jobs(&registry()).await;
    assert_eq!(
        job_state(pool, id.0).await.1,
        3,
        "it ran its attempts again"
    );

    // Retrying what cannot be retried says so.
    let out = zinovia()
        .args(["jobs", "retry", "999999"])
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job 999999"));
}

#[tokio::test]
async fn aborted_and_panicking_jobs_end_failed() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    let aborted = jobs::enqueue(pool, &Aborts).await.unwrap().unwrap();
    let panicked = jobs::enqueue(pool, &Panics).await.unwrap().unwrap();
    app.run_pending_jobs(&registry()).await;
    let (state, attempts, error) = job_state(pool, aborted.0).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("failed", 1),
        "aborts are never retried"
    );
    assert_eq!(error.as_deref(), Some("the file is not an image"));
    let (state, attempts, error) = job_state(pool, panicked.0).await;
    assert_eq!((state.as_str(), attempts), ("failed", 2));
    assert_eq!(error.as_deref(), Some("the job panicked: decoder bug"));
}

#[tokio::test]
async fn dedup_keys_keep_one_queued_job_per_key() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    let first = jobs::enqueue(
        pool,
        &Keyed {
            key: "asset-1".into(),
        },
    )
    .await
    .unwrap();
    let again = jobs::enqueue(
        pool,
        &Keyed {
            key: "asset-1".into(),
        },
    )
    .await
    .unwrap();
    let other = jobs::enqueue(
        pool,
        &Keyed {
            key: "asset-2".into(),
        },
    )
    .await
    .unwrap();
    assert!(first.is_some() && other.is_some());
    assert_eq!(again, None, "a queued duplicate is not enqueued twice");
    app.run_pending_jobs(&registry()).await;
    // Once it has run, the same key may be enqueued again (the data may have changed).
    let later = jobs::enqueue(
        pool,
        &Keyed {
            key: "asset-1".into(),
        },
    )
    .await
    .unwrap();
    assert!(later.is_some());
}

#[tokio::test]
async fn periodic_jobs_are_enqueued_once_per_interval() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    app.run_pending_jobs(&registry()).await;
    app.run_pending_jobs(&registry()).await;
    let w = Worker::new(app.state.clone(), registry());
    let stop = CancellationToken::new();
    let t = tokio::spawn(w.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    t.await.unwrap().unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from jobs where kind = 'prune_finished_jobs'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "one run per hour, however many workers look");
}

#[tokio::test]
async fn pruning_removes_old_succeeded_jobs_but_keeps_failures() {
    let app = TestApp::spawn().await;
    let pool = &app.state.db;
    sqlx::query(
        "insert into jobs (kind, state, max_attempts, finished_at) values
         ('old', 'succeeded', 1, now() - interval '8 days'),
         ('recent', 'succeeded', 1, now() - interval '1 day'),
         ('old_failure', 'failed', 1, now() - interval '30 days')",
    )
    .execute(pool)
    .await
    .unwrap();
    app.run_pending_jobs(&registry()).await;
    let kinds: Vec<String> =
        sqlx::query_scalar("select kind from jobs where kind not like 'prune_%' order by kind")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(kinds, ["old_failure", "recent"]);
}

#[tokio::test]
async fn shutdown_releases_jobs_that_do_not_finish_in_time() {
    let app = TestApp::spawn_with(|s| {
        s.lifecycle.shutdown_timeout = HumanDuration(Duration::from_millis(300));
        s.jobs.job_poll_interval = HumanDuration(Duration::from_millis(100));
    })
    .await;
    let pool = app.state.db.clone();
    let id = jobs::enqueue(&pool, &Holds).await.unwrap().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(Worker::new(app.state.clone(), registry()).run(stop.clone()));
    wait_until(Duration::from_secs(10), "the job to start", || async {
        job_state(&pool, id.0).await.0 == "running"
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap();
    let (state, attempts, _) = job_state(&pool, id.0).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("queued", 0),
        "released, and the attempt not counted"
    );
}

#[tokio::test]
async fn queue_depth_shows_in_metrics() {
    let app = TestApp::spawn().await;
    jobs::enqueue(&app.state.db, &Canary { hold_ms: 0 })
        .await
        .unwrap();
    jobs::enqueue(&app.state.db, &Canary { hold_ms: 0 })
        .await
        .unwrap();
    let (_, text) = app.get_text("/metrics").await;
    assert!(text.contains(r#"zinovia_jobs{state="queued"} 2"#), "{text}");
    app.run_pending_jobs(&registry()).await;
    let (_, text) = app.get_text("/metrics").await;
    assert!(
        text.contains(r#"zinovia_jobs{state="succeeded"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"zinovia_job_runs_total{kind="canary",outcome="succeeded"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_runs_again_once_its_lease_expires() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let worker = |db: &TestDb| {
        let mut cmd = zinovia();
        cmd.arg("worker")
            .env("DATABASE_URL", db.url())
            .env("JOB_LEASE", "2s")
            .env("JOB_POLL_INTERVAL", "200ms");
        Proc::start(cmd)
    };
    let id = jobs::enqueue(&pool, &Canary { hold_ms: 600_000 })
        .await
        .unwrap()
        .unwrap();
    let mut first = worker(&db);
    let first_pid = first.child.id();
    wait_until(
        Duration::from_secs(30),
        "the first worker to take the job",
        || async {
            let holder: Option<String> = sqlx::query_scalar(
                "select locked_by from jobs where id = $1 and state = 'running'",
            )
            .bind(id.0)
            .fetch_optional(&pool)
            .await
            .unwrap()
            .flatten();
            holder.is_some_and(|h| h.contains(&format!(":{first_pid}:")))
        },
    )
    .await;
    first.stop(Signal::SIGKILL, Duration::from_secs(10)).await;
    // The dead worker cannot release it: it stays running under its lease.
    assert_eq!(job_state(&pool, id.0).await.0, "running");
    // This time it need not hold its slot.
    sqlx::query("update jobs set payload = '{\"hold_ms\": 0}' where id = $1")
        .bind(id.0)
        .execute(&pool)
        .await
        .unwrap();

    let mut second = worker(&db);
    wait_until(
        Duration::from_secs(30),
        "the job to run again and succeed",
        || async { job_state(&pool, id.0).await.0 == "succeeded" },
    )
    .await;
    let (_, attempts, error) = job_state(&pool, id.0).await;
    assert_eq!(attempts, 2);
    assert!(error.unwrap_or_default().starts_with("lease expired"));
    let status = second.stop(Signal::SIGTERM, Duration::from_secs(30)).await;
    assert!(status.success(), "{:?}", second.output());
}

#[tokio::test]
async fn a_worker_runs_at_most_worker_concurrency_jobs_at_once() {
    let app = TestApp::spawn_with(|s| {
        s.jobs.worker_concurrency = 2;
        s.jobs.job_poll_interval = HumanDuration(Duration::from_millis(100));
        s.lifecycle.shutdown_timeout = HumanDuration(Duration::from_millis(200));
    })
    .await;
    let pool = app.state.db.clone();
    for _ in 0..5 {
        jobs::enqueue(&pool, &Holds).await.unwrap();
    }
    let stop = CancellationToken::new();
    let task = tokio::spawn(Worker::new(app.state.clone(), registry()).run(stop.clone()));
    let running = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from jobs where state = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    wait_until(Duration::from_secs(10), "two jobs to start", || async {
        running().await == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(running().await, 2, "never more than WORKER_CONCURRENCY");
    stop.cancel();
    task.await.unwrap().unwrap();
    let queued: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'test_holds' and state = 'queued' and attempts = 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(queued, 5, "all released untouched at shutdown");
}

#[tokio::test]
async fn the_worker_logs_the_queue_depth_as_the_deployments_alarm_reads_it() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // Three due jobs no worker runs, and one not due yet.
    for delay in ["0 seconds", "0 seconds", "0 seconds", "1 hour"] {
        sqlx::query(
            "insert into jobs (kind, max_attempts, run_at) values ('nobody_runs_this', 1, now() + $1::interval)",
        )
        .bind(delay)
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut cmd = zinovia();
    cmd.arg("worker")
        .env("DATABASE_URL", db.url())
        .env("JOB_POLL_INTERVAL", "200ms");
    let mut worker = Proc::start(cmd);
    let depth_line = |worker: &Proc| {
        let (out, err) = worker.output();
        out.lines()
            .chain(err.lines())
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["message"] == "queue depth")
    };
    wait_until(
        Duration::from_secs(30),
        "the worker to log the queue depth",
        || async { depth_line(&worker).is_some() },
    )
    .await;
    let line = depth_line(&worker).unwrap();
    assert_eq!(line["queued"], 3, "{line}");
    assert!(line["oldest_seconds"].as_f64().unwrap() >= 0.0, "{line}");
    // The deployment's metric filter reads exactly these fields of these lines.
    let alarms = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/aws/terraform/modules/alarms/main.tf"
    ))
    .unwrap();
    assert!(
        alarms.contains(r#"pattern        = "{ $.message = \"queue depth\" }""#)
            && alarms.contains(r#"value     = "$.queued""#),
        "the metric filter no longer matches the worker's line"
    );
    let status = worker.stop(Signal::SIGTERM, Duration::from_secs(30)).await;
    assert!(status.success(), "{:?}", worker.output());
}
