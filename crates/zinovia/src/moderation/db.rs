//! Every SQL statement on `reports`, and the lookups of what a report names.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{ReportCategory, ReportStatus, ReportSubject};

/// A report to insert.
pub(super) struct NewReport<'a> {
    pub id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub reporter_email: &'a str,
    pub subject_type: ReportSubject,
    pub subject_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub category: ReportCategory,
    pub details: &'a str,
    pub due_at: DateTime<Utc>,
}

/// Inserts a report; a signed-in reporter's open report of the same thing is updated
/// instead. Returns the report's id and due time.
pub(super) async fn insert(
    conn: &mut PgConnection,
    r: &NewReport<'_>,
) -> Result<(Uuid, DateTime<Utc>), sqlx::Error> {
    let row = sqlx::query!(
        r#"
        insert into reports (id, reporter_id, reporter_email, subject_type, subject_id, owner_id, category, details, due_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        on conflict (subject_type, subject_id, reporter_id) where status = 'open' and reporter_id is not null
        do update set category = excluded.category, details = excluded.details
        returning id, due_at
        "#,
        r.id,
        r.reporter_id,
        r.reporter_email,
        r.subject_type.as_str(),
        r.subject_id,
        r.owner_id,
        r.category.as_str(),
        r.details,
        r.due_at,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.id, row.due_at))
}

/// Whether the thing exists (and is shown), with its owner.
pub(super) async fn subject_owner(
    conn: &mut PgConnection,
    kind: ReportSubject,
    id: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    let owner = match kind {
        ReportSubject::Profile => {
            sqlx::query_scalar!(
                "select c.user_id from creators c join users u on u.id = c.user_id where c.user_id = $1 and u.deleted_at is null and u.suspended_at is null",
                id
            )
            .fetch_optional(conn)
            .await?
        }
        ReportSubject::Post => {
            sqlx::query_scalar!(
                "select creator_id from posts where id = $1 and deleted_at is null",
                id
            )
            .fetch_optional(conn)
            .await?
        }
        ReportSubject::Comment => {
            sqlx::query_scalar!(
                "select author_id from post_comments where id = $1 and deleted_at is null",
                id
            )
            .fetch_optional(conn)
            .await?
        }
        ReportSubject::Message => {
            sqlx::query_scalar!(
                "select sender_id from messages where id = $1 and unsent_at is null",
                id
            )
            .fetch_optional(conn)
            .await?
        }
    };
    Ok(owner.map(Some))
}

/// A report as the queue shows it (the reporter's address stays out of it).
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub subject_type: ReportSubject,
    pub subject_id: Uuid,
    pub owner_id: Option<Uuid>,
    pub owner_name: Option<String>,
    pub category: ReportCategory,
    pub details: String,
    pub status: ReportStatus,
    pub due_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: String,
    pub created_at: DateTime<Utc>,
}

/// Reports in `status`, soonest due first (open) or newest resolved first.
pub(super) async fn list(
    conn: impl PgExecutor<'_>,
    status: ReportStatus,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as!(
        ReportRow,
        r#"
        select r.id, r.reporter_id, r.subject_type as "subject_type: ReportSubject",
               r.subject_id, r.owner_id, u.display_name as "owner_name?",
               r.category as "category: ReportCategory", r.details, r.status as "status: ReportStatus",
               r.due_at, r.resolved_at, r.resolution, r.created_at
        from reports r
        left join users u on u.id = r.owner_id
        where r.status = $1
        order by case when $1 = 'open' then r.due_at end asc, r.resolved_at desc, r.id
        limit $2
        "#,
        status.as_str(),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// One report's status and what it names.
pub(super) async fn get(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(ReportStatus, ReportSubject, Uuid)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select status as "status: ReportStatus", subject_type as "subject_type: ReportSubject", subject_id
           from reports where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| (r.status, r.subject_type, r.subject_id)))
}

/// One report, locked for resolving.
pub(super) async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(ReportStatus, ReportSubject, Uuid)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select status as "status: ReportStatus", subject_type as "subject_type: ReportSubject", subject_id
           from reports where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| (r.status, r.subject_type, r.subject_id)))
}

/// Closes a report with its outcome.
pub(super) async fn resolve(
    conn: &mut PgConnection,
    id: Uuid,
    status: ReportStatus,
    by: Uuid,
    resolution: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update reports set status = $2, resolved_at = now(), resolved_by = $3, resolution = $4 where id = $1",
        id,
        status.as_str(),
        by,
        resolution
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Open reports past their due time.
pub(super) async fn overdue(conn: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from reports where status = 'open' and due_at < now()"#
    )
    .fetch_one(conn)
    .await
}

/// A report's email, what it names and how it ended (for the reporter's emails).
pub(super) async fn for_email(
    conn: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<(String, ReportSubject, ReportStatus, String, DateTime<Utc>)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select reporter_email, subject_type as "subject_type: ReportSubject", status as "status: ReportStatus", resolution, due_at
           from reports where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| {
        (
            r.reporter_email,
            r.subject_type,
            r.status,
            r.resolution,
            r.due_at,
        )
    }))
}
