//! The audit log: what operators did, and the security-relevant changes to accounts, each
//! with who, to what, why and from where. Append-only (the application never updates or
//! deletes a row); features write through [`record`] inside the transaction of the change
//! itself, so an action and its row land together or not at all.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest reason kept (characters).
pub const MAX_REASON: usize = 2000;

/// One action to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Who acted (none: the system).
    pub actor: Option<Uuid>,
    /// What was done, `feature.verb` (e.g. `moderation.remove_post`).
    pub action: &'a str,
    /// The kind of thing acted on (`user`, `post`, `report`…).
    pub subject_type: &'a str,
    /// Its id.
    pub subject_id: Option<Uuid>,
    /// Why (required of operators; empty for a person's own account changes).
    pub reason: &'a str,
    /// Anything else worth keeping (no secrets).
    pub details: serde_json::Value,
    /// From where.
    pub ip: Option<IpAddr>,
}

/// Writes one row.
pub async fn record(conn: impl PgExecutor<'_>, e: &Entry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        insert into audit_log (id, actor_id, action, subject_type, subject_id, reason, details, ip)
        values ($1, $2, $3, $4, $5, $6, $7, $8::text::inet)
        "#,
        Uuid::now_v7(),
        e.actor,
        e.action,
        e.subject_type,
        e.subject_id,
        e.reason,
        e.details,
        e.ip.map(|ip| ip.to_string()),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded action, as the console lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRow {
    /// Id (time-ordered).
    pub id: Uuid,
    /// Who acted.
    pub actor_id: Option<Uuid>,
    /// Their name now (none: the system, or an account since deleted shows its tombstone).
    pub actor_name: Option<String>,
    /// What was done.
    pub action: String,
    /// The kind of thing acted on.
    pub subject_type: String,
    /// Its id.
    pub subject_id: Option<Uuid>,
    /// Why.
    pub reason: String,
    /// What else was kept.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// From where.
    pub ip: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which rows to list (every field narrows; all empty: everything, newest first).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Done by.
    pub actor: Option<Uuid>,
    /// Done to.
    pub subject: Option<Uuid>,
    /// This action, or actions starting with it followed by a dot (`moderation`).
    pub action: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// Older than this row (the next page).
    pub before: Option<Uuid>,
}

/// A page of rows, newest first.
pub async fn list(
    conn: impl PgExecutor<'_>,
    f: &Filter,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as!(
        AuditRow,
        r#"
        select a.id, a.actor_id, u.display_name as "actor_name?", a.action, a.subject_type,
               a.subject_id, a.reason, a.details, host(a.ip) as ip, a.created_at
        from audit_log a
        left join users u on u.id = a.actor_id
        where ($1::uuid is null or a.actor_id = $1)
          and ($2::uuid is null or a.subject_id = $2)
          and ($3::text is null or a.action = $3 or a.action like $3 || '.%')
          and ($4::timestamptz is null or a.created_at >= $4)
          and ($5::timestamptz is null or a.created_at < $5)
          and ($6::uuid is null or a.id < $6)
        order by a.id desc
        limit $7
        "#,
        f.actor,
        f.subject,
        f.action,
        f.since,
        f.until,
        f.before,
        limit,
    )
    .fetch_all(conn)
    .await
}
