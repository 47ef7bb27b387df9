//! Every SQL statement on `moderation_actions` and `appeals`, and closing the reports an
//! action answers.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{ActionKind, AppealStatus};

/// An action to record.
pub(super) struct NewAction<'a> {
    pub id: Uuid,
    pub kind: ActionKind,
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    pub owner_id: Uuid,
    pub reason: &'a str,
    pub report_id: Option<Uuid>,
    pub actor_id: Uuid,
}

pub(super) async fn insert(
    conn: impl PgExecutor<'_>,
    a: &NewAction<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into moderation_actions (id, kind, subject_type, subject_id, owner_id, reason, report_id, actor_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        a.id,
        a.kind.as_str(),
        a.subject_type,
        a.subject_id,
        a.owner_id,
        a.reason,
        a.report_id,
        a.actor_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An action as recorded.
#[derive(Debug, Clone)]
pub struct ActionRow {
    /// Id.
    pub id: Uuid,
    /// What was done.
    pub kind: ActionKind,
    /// `post`, `comment`, `message` or `account`.
    pub subject_type: String,
    /// Its id.
    pub subject_id: Uuid,
    /// Whose it is.
    pub owner_id: Uuid,
    /// Their name.
    pub owner_name: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was reversed.
    pub restored_at: Option<DateTime<Utc>>,
    /// Why it was reversed.
    pub restore_reason: Option<String>,
    /// The start of the post's, comment's or message's text (empty for an account).
    pub excerpt: String,
    /// Its open appeal's text, if any.
    pub appeal: Option<String>,
}

/// Actions on one owner's things, newest first (their notices; the console's account view).
pub(super) async fn for_owner(
    conn: impl PgExecutor<'_>,
    owner: Uuid,
) -> Result<Vec<ActionRow>, sqlx::Error> {
    sqlx::query_as!(
        ActionRow,
        r#"select a.id, a.kind as "kind: ActionKind", a.subject_type, a.subject_id, a.owner_id,
                  u.display_name as owner_name, a.reason, a.created_at, a.restored_at, a.restore_reason,
                  coalesce(case a.subject_type
                      when 'post' then (select left(x.body, 80) from posts x where x.id = a.subject_id)
                      when 'comment' then (select left(x.body, 80) from post_comments x where x.id = a.subject_id)
                      when 'message' then (select left(x.body, 80) from messages x where x.id = a.subject_id)
                  end, '') as "excerpt!",
                  (select p.body from appeals p where p.action_id = a.id and p.status = 'open') as "appeal?"
           from moderation_actions a join users u on u.id = a.owner_id
           where a.owner_id = $1
           order by a.created_at desc, a.id desc
           limit 100"#,
        owner
    )
    .fetch_all(conn)
    .await
}

/// One action, locked for a change.
pub(super) async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ActionRow>, sqlx::Error> {
    sqlx::query_as!(
        ActionRow,
        r#"select a.id, a.kind as "kind: ActionKind", a.subject_type, a.subject_id, a.owner_id,
                  u.display_name as owner_name, a.reason, a.created_at, a.restored_at, a.restore_reason,
                  coalesce(case a.subject_type
                      when 'post' then (select left(x.body, 80) from posts x where x.id = a.subject_id)
                      when 'comment' then (select left(x.body, 80) from post_comments x where x.id = a.subject_id)
                      when 'message' then (select left(x.body, 80) from messages x where x.id = a.subject_id)
                  end, '') as "excerpt!",
                  (select p.body from appeals p where p.action_id = a.id and p.status = 'open') as "appeal?"
           from moderation_actions a join users u on u.id = a.owner_id
           where a.id = $1
           for update of a"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Marks an action reversed.
pub(super) async fn mark_restored(
    conn: impl PgExecutor<'_>,
    id: Uuid,
    by: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update moderation_actions set restored_at = now(), restored_by = $2, restore_reason = $3 where id = $1",
        id,
        by,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The live suspension action of an account (the one restoring it reverses).
pub(super) async fn live_suspension(
    conn: &mut PgConnection,
    owner: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select id from moderation_actions where owner_id = $1 and subject_type = 'account' and restored_at is null
         order by created_at desc limit 1",
        owner
    )
    .fetch_optional(conn)
    .await
}

/// Closes every open report of a thing as acted on; answers their ids (each reporter is told).
pub(super) async fn action_reports(
    conn: &mut PgConnection,
    subject_type: &str,
    subject_id: Uuid,
    by: Uuid,
    resolution: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "update reports set status = 'actioned', resolved_at = now(), resolved_by = $3, resolution = $4
         where subject_type = $1 and subject_id = $2 and status = 'open' returning id",
        subject_type,
        subject_id,
        by,
        resolution
    )
    .fetch_all(conn)
    .await
}

/// Files an appeal (one open per action).
pub(super) async fn insert_appeal(
    conn: &mut PgConnection,
    id: Uuid,
    action: Uuid,
    user: Uuid,
    body: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "insert into appeals (id, action_id, user_id, body) values ($1, $2, $3, $4)
         on conflict (action_id) where status = 'open' do nothing",
        id,
        action,
        user,
        body
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// An appeal as the queue shows it, with its action.
#[derive(Debug, Clone)]
pub struct AppealRow {
    pub id: Uuid,
    pub action_id: Uuid,
    pub kind: ActionKind,
    pub subject_type: String,
    pub subject_id: Uuid,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub action_reason: String,
    pub body: String,
    pub status: AppealStatus,
    pub decision: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Appeals in `status`, oldest open first (or newest decided first).
pub(super) async fn appeals(
    conn: impl PgExecutor<'_>,
    status: AppealStatus,
    limit: i64,
) -> Result<Vec<AppealRow>, sqlx::Error> {
    sqlx::query_as!(
        AppealRow,
        r#"select p.id, p.action_id, a.kind as "kind: ActionKind", a.subject_type, a.subject_id, a.owner_id,
                  u.display_name as owner_name, a.reason as action_reason, p.body,
                  p.status as "status: AppealStatus", p.decision, p.created_at
           from appeals p join moderation_actions a on a.id = p.action_id join users u on u.id = a.owner_id
           where p.status = $1
           order by case when $1 = 'open' then p.created_at end asc, p.decided_at desc, p.id
           limit $2"#,
        status.as_str(),
        limit
    )
    .fetch_all(conn)
    .await
}

/// One appeal's action and status, locked.
pub(super) async fn appeal_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(Uuid, AppealStatus)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select action_id, status as "status: AppealStatus" from appeals where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| (r.action_id, r.status)))
}

/// Decides an action's open appeal (if it has one); answers its id.
pub(super) async fn decide_appeal(
    conn: &mut PgConnection,
    action: Uuid,
    status: AppealStatus,
    by: Uuid,
    decision: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "update appeals set status = $2, decided_at = now(), decided_by = $3, decision = $4
         where action_id = $1 and status = 'open' returning id",
        action,
        status.as_str(),
        by,
        decision
    )
    .fetch_optional(conn)
    .await
}

/// What the owner's email says about an action: their address, the action, and the last
/// denied appeal's decision.
pub(super) async fn for_notice(
    conn: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<(String, ActionRow, Option<String>)>, sqlx::Error> {
    let r = sqlx::query!(
        r#"select u.email, a.id, a.kind as "kind: ActionKind", a.subject_type, a.subject_id, a.owner_id,
                  u.display_name as owner_name, a.reason, a.created_at, a.restored_at, a.restore_reason,
                  coalesce(case a.subject_type
                      when 'post' then (select left(x.body, 80) from posts x where x.id = a.subject_id)
                      when 'comment' then (select left(x.body, 80) from post_comments x where x.id = a.subject_id)
                      when 'message' then (select left(x.body, 80) from messages x where x.id = a.subject_id)
                  end, '') as "excerpt!",
                  (select p.decision from appeals p where p.action_id = a.id and p.status = 'denied'
                   order by p.decided_at desc limit 1) as "denied?"
           from moderation_actions a join users u on u.id = a.owner_id
           where a.id = $1 and u.deleted_at is null"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| {
        (
            r.email,
            ActionRow {
                id: r.id,
                kind: r.kind,
                subject_type: r.subject_type,
                subject_id: r.subject_id,
                owner_id: r.owner_id,
                owner_name: r.owner_name,
                reason: r.reason,
                created_at: r.created_at,
                restored_at: r.restored_at,
                restore_reason: r.restore_reason,
                excerpt: r.excerpt,
                appeal: None,
            },
            r.denied,
        )
    }))
}
