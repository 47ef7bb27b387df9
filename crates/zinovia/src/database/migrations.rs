//! The SQL migrations embedded in the binary (`migrations/` at the repository root), how
//! they are applied, and how far a database is from them.

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

/// Every migration, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Applies every pending migration. Idempotent; concurrent runs serialise on an advisory
/// lock, so two tasks migrating at once is safe.
pub async fn run(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}

/// How a database compares with the binary's migrations.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Migrations in the binary that the database has not applied.
    pub pending: Vec<(i64, String)>,
    /// Applied migrations whose checksum differs from the binary's (edited after release).
    pub changed: Vec<(i64, String)>,
    /// Applied migrations the binary does not know (the database is newer than the binary).
    pub unknown: Vec<i64>,
    /// Migrations that started but did not finish.
    pub failed: Vec<i64>,
}

impl Status {
    /// True when the database is exactly at the binary's migrations. A database that is
    /// *ahead* (unknown versions) is also acceptable: during a rolling deploy the old
    /// tasks keep serving after the new release migrated.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.changed.is_empty() && self.failed.is_empty()
    }

    /// The problems as readable lines.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.pending
                .iter()
                .map(|(v, d)| format!("pending: {v} {d}")),
        );
        out.extend(
            self.changed
                .iter()
                .map(|(v, d)| format!("checksum differs: {v} {d}")),
        );
        out.extend(self.failed.iter().map(|v| format!("failed: {v}")));
        out
    }
}

/// Compares the database's migration table with the embedded migrations.
pub async fn status(pool: &PgPool) -> Result<Status, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(&mut *conn)
        .await?;
    let applied: Vec<(i64, bool, Vec<u8>)> = if exists {
        sqlx::query_as("select version, success, checksum from _sqlx_migrations order by version")
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    let mut status = Status::default();
    for m in MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        match applied.iter().find(|(v, _, _)| *v == m.version) {
            None => status.pending.push((m.version, m.description.to_string())),
            Some((_, false, _)) => status.failed.push(m.version),
            Some((_, true, checksum)) if checksum.as_slice() != &*m.checksum => {
                status.changed.push((m.version, m.description.to_string()));
            }
            Some(_) => {}
        }
    }
    status.unknown = applied
        .iter()
        .map(|(v, _, _)| *v)
        .filter(|v| !MIGRATOR.iter().any(|m| m.version == *v))
        .collect();
    Ok(status)
}
