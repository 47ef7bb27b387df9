//! Every SQL statement on `verifications`.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{Document, VerificationStatus};

/// An attempt as stored (the name and date of birth still sealed).
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub legal_name_sealed: Option<Vec<u8>>,
    pub date_of_birth_sealed: Option<Vec<u8>>,
    pub id_document_type: Option<String>,
    pub selfie_type: Option<String>,
    pub status: VerificationStatus,
    pub problem: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub documents_deleted_at: Option<DateTime<Utc>>,
}

macro_rules! select_row {
    ($tail:literal $(, $arg:expr)*) => {
        sqlx::query_as!(
            Row,
            r#"select id, user_id, provider, legal_name_sealed, date_of_birth_sealed, id_document_type, selfie_type,
                      status as "status: VerificationStatus", problem, submitted_at, decided_at,
                      documents_deleted_at
               from verifications "# + $tail
            $(, $arg)*
        )
    };
}

/// A person's newest attempt (in progress, approved, or the last refused one).
pub(super) async fn latest(
    conn: impl PgExecutor<'_>,
    user: Uuid,
) -> Result<Option<Row>, sqlx::Error> {
    select_row!(
        "where user_id = $1 order by (status = 'approved') desc, created_at desc limit 1",
        user
    )
    .fetch_optional(conn)
    .await
}

/// One attempt, locked for a change.
pub(super) async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Row>, sqlx::Error> {
    select_row!("where id = $1 for update", id)
        .fetch_optional(conn)
        .await
}

/// A person's attempt in progress, locked.
pub(super) async fn lock_live(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<Option<Row>, sqlx::Error> {
    select_row!(
        "where user_id = $1 and status in ('started', 'checking', 'submitted', 'more_needed') for update",
        user
    )
    .fetch_optional(conn)
    .await
}

/// Starts an attempt (none may be in progress).
pub(super) async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into verifications (id, user_id) values ($1, $2)",
        id,
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the sealed details.
pub(super) async fn set_details(
    conn: &mut PgConnection,
    id: Uuid,
    name: &[u8],
    dob: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update verifications set legal_name_sealed = $2, date_of_birth_sealed = $3, updated_at = now() where id = $1",
        id,
        name,
        dob
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a document's declared type (its upload URL was handed out).
pub(super) async fn set_document(
    conn: &mut PgConnection,
    id: Uuid,
    doc: Document,
    content_type: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update verifications set
           id_document_type = case when $2 = 'id_document' then $3 else id_document_type end,
           selfie_type = case when $2 = 'selfie' then $3 else selfie_type end,
           updated_at = now()
         where id = $1",
        id,
        doc.as_str(),
        content_type
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an attempt on (with the problem to show, empty for none).
pub(super) async fn set_status(
    conn: impl PgExecutor<'_>,
    id: Uuid,
    status: VerificationStatus,
    problem: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update verifications set status = $2, problem = $3, updated_at = now(),
           submitted_at = case when $2 = 'submitted' then now() else submitted_at end
         where id = $1",
        id,
        status.as_str(),
        problem
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A reviewer's decision.
pub(super) async fn decide(
    conn: &mut PgConnection,
    id: Uuid,
    status: VerificationStatus,
    by: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update verifications set status = $2, problem = $4, updated_at = now(),
           decided_at = case when $2 in ('approved', 'rejected') then now() else decided_at end,
           decided_by = case when $2 in ('approved', 'rejected') then $3 else decided_by end
         where id = $1",
        id,
        status.as_str(),
        by,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An attempt in the reviewers' queue.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub email: String,
    pub handle: Option<String>,
    pub status: VerificationStatus,
    pub submitted_at: Option<DateTime<Utc>>,
    pub problem: String,
}

/// Attempts in `status`, oldest submitted first.
pub(super) async fn queue(
    conn: impl PgExecutor<'_>,
    status: VerificationStatus,
    limit: i64,
) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as!(
        QueueRow,
        r#"select v.id, v.user_id, u.display_name, u.email, c.handle as "handle?",
                  v.status as "status: VerificationStatus", v.submitted_at, v.problem
           from verifications v join users u on u.id = v.user_id left join creators c on c.user_id = v.user_id
           where v.status = $1
           order by v.submitted_at asc nulls last, v.updated_at desc, v.id
           limit $2"#,
        status.as_str(),
        limit
    )
    .fetch_all(conn)
    .await
}

/// Whether a person has an approved attempt.
pub(super) async fn approved(conn: impl PgExecutor<'_>, user: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from verifications where user_id = $1 and status = 'approved') as "x!""#,
        user
    )
    .fetch_one(conn)
    .await
}

/// Decided attempts whose documents are past their keeping time (oldest first).
pub(super) async fn expired_documents(
    conn: impl PgExecutor<'_>,
    approved_before: DateTime<Utc>,
    rejected_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select id from verifications
         where documents_deleted_at is null and status in ('approved', 'rejected')
           and decided_at < case when status = 'approved' then $1::timestamptz else $2::timestamptz end
         order by decided_at limit $3",
        approved_before,
        rejected_before,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Marks an attempt's documents deleted.
pub(super) async fn documents_deleted(
    conn: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update verifications set documents_deleted_at = now() where id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The address and name of an attempt's owner (for their emails).
pub(super) async fn owner_contact(
    conn: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<(String, String, VerificationStatus, String)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select u.email, u.display_name, v.status as "status: VerificationStatus", v.problem
           from verifications v join users u on u.id = v.user_id
           where v.id = $1 and u.deleted_at is null"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| (r.email, r.display_name, r.status, r.problem)))
}
