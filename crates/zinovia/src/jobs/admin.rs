//! Operator commands on the queue (`zinovia jobs list|failed|retry`).

use std::fmt::Write;

use sqlx::PgPool;

use super::db;

pub use super::db::JobRow;

/// What `jobs retry` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The job is queued again with fresh attempts.
    Requeued,
    /// No such job.
    NotFound,
    /// The job is in a state that cannot be retried (running or succeeded).
    NotRetryable(String),
    /// An identical job (same dedup key) is already queued.
    Duplicate,
}

/// Text for `jobs list`: counts by kind and state, then the newest jobs.
pub async fn list(pool: &PgPool, state: Option<&str>, limit: i64) -> Result<String, sqlx::Error> {
    let mut out = String::new();
    let counts = db::counts(pool).await?;
    let _ = writeln!(out, "{:<32} {:<10} {:>8}", "KIND", "STATE", "COUNT");
    for (kind, st, n) in &counts {
        let _ = writeln!(out, "{kind:<32} {st:<10} {n:>8}");
    }
    if counts.is_empty() {
        let _ = writeln!(out, "(the queue is empty)");
    }
    let rows = db::list(pool, state, limit).await?;
    if !rows.is_empty() {
        let _ = writeln!(out);
        table(&mut out, &rows);
    }
    Ok(out)
}

/// Text for `jobs failed`: failed jobs with their last error, newest first.
pub async fn failed(pool: &PgPool, limit: i64) -> Result<String, sqlx::Error> {
    let rows = db::list(pool, Some("failed"), limit).await?;
    let mut out = String::new();
    if rows.is_empty() {
        let _ = writeln!(out, "no failed jobs");
        return Ok(out);
    }
    table(&mut out, &rows);
    Ok(out)
}

/// Makes a failed job run again with fresh attempts (or a waiting one run now).
pub async fn retry(pool: &PgPool, id: i64) -> Result<RetryOutcome, sqlx::Error> {
    match db::retry(pool, id).await {
        Ok(true) => Ok(RetryOutcome::Requeued),
        Ok(false) => Ok(match db::get(pool, id).await? {
            None => RetryOutcome::NotFound,
            Some(row) => RetryOutcome::NotRetryable(row.state),
        }),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("jobs_dedup_key") => {
            Ok(RetryOutcome::Duplicate)
        }
        Err(e) => Err(e),
    }
}

/// One job, for tests and tooling.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<JobRow>, sqlx::Error> {
    db::get(pool, id).await
}

fn table(out: &mut String, rows: &[JobRow]) {
    let _ = writeln!(
        out,
        "{:>8}  {:<28} {:<10} {:>8}  {:<20}  LAST ERROR",
        "ID", "KIND", "STATE", "ATTEMPTS", "RUN AT (UTC)"
    );
    for r in rows {
        let error = r.last_error.as_deref().unwrap_or("").replace('\n', " ");
        let error: String = error.chars().take(160).collect();
        let _ = writeln!(
            out,
            "{:>8}  {:<28} {:<10} {:>8}  {:<20}  {}",
            r.id,
            r.kind,
            r.state,
            format!("{}/{}", r.attempts, r.max_attempts),
            r.run_at.format("%Y-%m-%d %H:%M:%S"),
            error
        );
    }
}
