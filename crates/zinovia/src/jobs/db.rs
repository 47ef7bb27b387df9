//! Every SQL statement on the `jobs` and `job_schedules` tables.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use super::{JobId, NewJob, QueueStats};

/// A job a worker has claimed.
#[derive(Debug, Clone)]
pub(super) struct Claimed {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// One row of the operator's listing.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// Job id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// State.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// Attempt limit.
    pub max_attempts: i32,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// The last error, if any attempt failed.
    pub last_error: Option<String>,
    /// Which worker holds it, while running.
    pub locked_by: Option<String>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(super) async fn insert<'e>(
    conn: impl PgExecutor<'e>,
    job: &NewJob,
    run_at: Option<DateTime<Utc>>,
) -> Result<Option<JobId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"
        insert into jobs (kind, payload, max_attempts, priority, dedup_key, run_at)
        values ($1, $2, $3, $4, $5, coalesce($6, now()))
        on conflict (kind, dedup_key) where state = 'queued' and dedup_key is not null
        do nothing
        returning id
        "#,
        job.kind,
        job.payload,
        job.max_attempts,
        job.priority,
        job.dedup_key,
        run_at,
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(JobId))
}

/// Claims up to `limit` due jobs of the given kinds for `worker`, leased for `lease`.
pub(super) async fn claim(
    pool: &PgPool,
    worker: &str,
    kinds: &[String],
    limit: i64,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        update jobs
        set state = 'running',
            attempts = attempts + 1,
            locked_by = $1,
            locked_until = now() + make_interval(secs => $2),
            started_at = now()
        where id in (
            select id from jobs
            where state = 'queued' and run_at <= now() and kind = any($3)
            order by priority desc, run_at, id
            limit $4
            for update skip locked
        )
        returning id, kind, payload, attempts, max_attempts
        "#,
        worker,
        secs(lease),
        kinds,
        limit,
    )
    .fetch_all(pool)
    .await?;
    let mut claimed: Vec<Claimed> = rows
        .into_iter()
        .map(|r| Claimed {
            id: JobId(r.id),
            kind: r.kind,
            payload: r.payload,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
        })
        .collect();
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Renews the lease of every job `worker` holds; returns the ids still held.
pub(super) async fn heartbeat(
    pool: &PgPool,
    worker: &str,
    lease: Duration,
) -> Result<Vec<JobId>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        r#"
        update jobs set locked_until = now() + make_interval(secs => $2)
        where locked_by = $1 and state = 'running'
        returning id
        "#,
        worker,
        secs(lease),
    )
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(JobId).collect())
}

/// Marks a job succeeded; false if `worker` no longer holds it.
pub(super) async fn succeed(pool: &PgPool, id: JobId, worker: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"
        update jobs
        set state = 'succeeded', finished_at = now(), locked_by = null, locked_until = null
        where id = $1 and locked_by = $2 and state = 'running'
        "#,
        id.0,
        worker,
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks a job failed for good, with its error; false if `worker` no longer holds it.
pub(super) async fn fail(
    pool: &PgPool,
    id: JobId,
    worker: &str,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"
        update jobs
        set state = 'failed', finished_at = now(), locked_by = null, locked_until = null,
            last_error = $3
        where id = $1 and locked_by = $2 and state = 'running'
        "#,
        id.0,
        worker,
        error,
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts a job back in the queue to run after `delay`, recording `error` (if any).
/// `refund_attempt` undoes the attempt count (a job released at shutdown did not fail).
/// When an identical job (same dedup key) is already queued, this one is dropped instead:
/// the queued one will do the work. False if `worker` no longer holds it.
pub(super) async fn requeue(
    conn: &mut PgConnection,
    id: JobId,
    worker: &str,
    delay: Duration,
    error: Option<&str>,
    refund_attempt: bool,
) -> Result<bool, sqlx::Error> {
    let dropped = sqlx::query!(
        r#"
        delete from jobs j
        where j.id = $1 and j.locked_by = $2 and j.state = 'running' and j.dedup_key is not null
          and exists (
              select 1 from jobs d
              where d.kind = j.kind and d.dedup_key = j.dedup_key and d.state = 'queued'
          )
        "#,
        id.0,
        worker,
    )
    .execute(&mut *conn)
    .await?;
    if dropped.rows_affected() == 1 {
        return Ok(true);
    }
    let r = sqlx::query!(
        r#"
        update jobs
        set state = 'queued', locked_by = null, locked_until = null,
            run_at = now() + make_interval(secs => $3),
            last_error = coalesce($4, last_error),
            attempts = case when $5 then greatest(attempts - 1, 0) else attempts end
        where id = $1 and locked_by = $2 and state = 'running'
        "#,
        id.0,
        worker,
        secs(delay),
        error,
        refund_attempt,
    )
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Requeues jobs whose lease ran out (their worker died or hung), or fails them when
/// their attempts are used up. Returns `(id, kind, new state)` of each.
pub(super) async fn requeue_expired(
    pool: &PgPool,
) -> Result<Vec<(JobId, String, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let expired = sqlx::query!(
        r#"
        select id, kind, dedup_key, attempts, max_attempts from jobs
        where state = 'running' and locked_until < now()
        order by id
        for update skip locked
        "#
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(expired.len());
    for job in expired {
        let error = "lease expired: the worker running it stopped or stopped responding";
        if job.attempts >= job.max_attempts {
            sqlx::query!(
                r#"
                update jobs
                set state = 'failed', finished_at = now(), locked_by = null, locked_until = null,
                    last_error = $2
                where id = $1
                "#,
                job.id,
                format!("{error}; no attempts left"),
            )
            .execute(&mut *tx)
            .await?;
            out.push((JobId(job.id), job.kind, "failed".to_owned()));
            continue;
        }
        let holder = sqlx::query_scalar!("select locked_by from jobs where id = $1", job.id)
            .fetch_one(&mut *tx)
            .await?
            .unwrap_or_default();
        requeue(
            &mut tx,
            JobId(job.id),
            &holder,
            Duration::ZERO,
            Some(error),
            false,
        )
        .await?;
        out.push((JobId(job.id), job.kind, "queued".to_owned()));
    }
    tx.commit().await?;
    Ok(out)
}

/// Releases `ids` held by `worker` back to the queue without counting the attempt
/// (shutdown before they finished).
pub(super) async fn release(
    pool: &PgPool,
    ids: &[JobId],
    worker: &str,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for id in ids {
        if requeue(&mut tx, *id, worker, Duration::ZERO, None, true).await? {
            n += 1;
        }
    }
    tx.commit().await?;
    Ok(n)
}

/// If the schedule `name` is due, moves it forward by `every` and enqueues `job` in the
/// same transaction. Returns the enqueued job's id (None when not due, or deduplicated).
pub(super) async fn run_schedule(
    pool: &PgPool,
    name: &str,
    every: Duration,
    job: &NewJob,
) -> Result<Option<JobId>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into job_schedules (name, next_run_at) values ($1, now()) on conflict (name) do nothing",
        name
    )
    .execute(&mut *tx)
    .await?;
    let due = sqlx::query_scalar!(
        r#"
        update job_schedules
        set next_run_at = now() + make_interval(secs => $2), last_enqueued_at = now()
        where name = $1 and next_run_at <= now()
        returning name
        "#,
        name,
        secs(every),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let id = match due {
        Some(_) => insert(&mut *tx, job, None).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(id)
}

/// Jobs due and waiting to be claimed, and how long the oldest of them has waited (seconds).
pub(super) async fn depth(pool: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    let r = sqlx::query!(
        r#"
        select count(*) as "queued!",
               coalesce(extract(epoch from now() - min(run_at))::float8, 0) as "oldest!"
        from jobs where state = 'queued' and run_at <= now()
        "#
    )
    .fetch_one(pool)
    .await?;
    Ok((r.queued, r.oldest))
}

pub(super) async fn stats(pool: &PgPool) -> Result<QueueStats, sqlx::Error> {
    let by_state = sqlx::query!(r#"select state, count(*) as "n!" from jobs group by state"#)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.state, r.n))
        .collect();
    let oldest = sqlx::query_scalar!(
        r#"
        select coalesce(extract(epoch from now() - min(run_at))::float8, 0) as "age!"
        from jobs where state = 'queued' and run_at <= now()
        "#
    )
    .fetch_one(pool)
    .await?;
    Ok(QueueStats {
        by_state,
        oldest_due_seconds: oldest,
    })
}

pub(super) async fn prune_succeeded(
    pool: &PgPool,
    older_than: Duration,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "delete from jobs where state = 'succeeded' and finished_at < now() - make_interval(secs => $1)",
        secs(older_than),
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// Counts by kind and state, for the operator's listing.
pub(super) async fn counts(pool: &PgPool) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"select kind, state, count(*) as "n!" from jobs group by kind, state order by kind, state"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.kind, r.state, r.n))
    .collect())
}

/// The newest jobs, optionally of one state.
pub(super) async fn list(
    pool: &PgPool,
    state: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as!(
        JobRow,
        r#"
        select id, kind, state, attempts, max_attempts, run_at, finished_at, last_error, locked_by
        from jobs
        where $1::text is null or state = $1
        order by id desc
        limit $2
        "#,
        state,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// One job by id.
pub(super) async fn get(pool: &PgPool, id: i64) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as!(
        JobRow,
        r#"
        select id, kind, state, attempts, max_attempts, run_at, finished_at, last_error, locked_by
        from jobs where id = $1
        "#,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// Makes a failed (or waiting) job due now with fresh attempts, and wakes the workers.
pub(super) async fn retry(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let r = sqlx::query!(
        r#"
        update jobs
        set state = 'queued', attempts = 0, run_at = now(), finished_at = null,
            locked_by = null, locked_until = null
        where id = $1 and state in ('failed', 'queued')
        "#,
        id,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("select pg_notify($1, '')", super::CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}
