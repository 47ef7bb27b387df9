//! An account's standing, as operators change it (accounts is the only writer of users):
//! suspension and ban (sessions end at once; signing in is refused until restored), the role,
//! and the console's view of accounts.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{Role, UserId};

crate::database::text_enum! {
    /// Why an account cannot be used.
    pub enum Suspension {
        /// Until a moderator restores it (on appeal, or when the matter is settled).
        Suspended = "suspended",
        /// For good; only an administrator lifts it.
        Banned = "banned",
    }
}

/// An account as the console shows it.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// Suspended or banned.
    pub suspension: Option<Suspension>,
    /// When.
    pub suspended_at: Option<DateTime<Utc>>,
    /// Deleted by its owner.
    pub deleted: bool,
    /// Signs in with a second factor.
    pub two_factor: bool,
    /// Their creator handle, if they set up a profile.
    pub handle: Option<String>,
}

/// Suspends or bans an account in the caller's transaction: every session ends now.
pub async fn suspend(
    conn: &mut PgConnection,
    user: Uuid,
    kind: Suspension,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set suspended_at = now(), suspension = $2 where id = $1",
        user,
        kind.as_str()
    )
    .execute(&mut *conn)
    .await?;
    super::db::delete_sessions(&mut *conn, UserId(user), None).await?;
    Ok(())
}

/// Lifts a suspension or ban.
pub async fn lift_suspension(conn: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set suspended_at = null, suspension = null where id = $1",
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets an account's role (the operator's change; becoming a creator goes through the
/// profile). Ends the account's sessions so no session keeps the old role's power.
pub async fn set_role(conn: &mut PgConnection, user: Uuid, role: Role) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set role = $2 where id = $1",
        user,
        role.as_str()
    )
    .execute(&mut *conn)
    .await?;
    super::db::delete_sessions(&mut *conn, UserId(user), None).await?;
    Ok(())
}

/// One account, locked for the caller's change (`for update`).
pub async fn lock(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<Option<AccountSummary>, sqlx::Error> {
    sqlx::query!("select id from users where id = $1 for update", user)
        .fetch_optional(&mut *conn)
        .await?;
    get(conn, user).await
}

/// One account.
pub async fn get(
    conn: impl PgExecutor<'_>,
    user: Uuid,
) -> Result<Option<AccountSummary>, sqlx::Error> {
    Ok(find(conn, None, Some(user), 1).await?.into_iter().next())
}

/// Accounts whose email or name contains `q` (case-insensitive), newest first.
pub async fn search(
    conn: impl PgExecutor<'_>,
    q: &str,
    limit: i64,
) -> Result<Vec<AccountSummary>, sqlx::Error> {
    find(conn, Some(q), None, limit).await
}

async fn find(
    conn: impl PgExecutor<'_>,
    q: Option<&str>,
    id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AccountSummary>, sqlx::Error> {
    let pattern = q.map(|q| {
        format!(
            "%{}%",
            q.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query!(
        r#"select u.id, u.email, u.display_name, u.role as "role: Role", u.created_at,
                  u.email_verified_at is not null as "verified!", u.suspension, u.suspended_at,
                  u.deleted_at is not null as "deleted!",
                  exists (select 1 from user_totp t where t.user_id = u.id and t.confirmed_at is not null) as "two_factor!",
                  c.handle as "handle?"
           from users u left join creators c on c.user_id = u.id
           where ($1::uuid is null or u.id = $1)
             and ($2::text is null or lower(u.email) like $2 or lower(u.display_name) like $2 or lower(c.handle) like $2)
           order by u.created_at desc, u.id desc
           limit $3"#,
        id,
        pattern,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AccountSummary {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            created_at: r.created_at,
            email_verified: r.verified,
            suspension: r.suspension.as_deref().and_then(Suspension::parse),
            suspended_at: r.suspended_at,
            deleted: r.deleted,
            two_factor: r.two_factor,
            handle: r.handle,
        })
        .collect())
}

/// Whether an account is suspended or banned (log-in asks after the password matched).
pub(super) async fn suspension_of(
    conn: impl PgExecutor<'_>,
    user: UserId,
) -> Result<Option<Suspension>, sqlx::Error> {
    let s = sqlx::query_scalar!("select suspension from users where id = $1", user.0)
        .fetch_optional(conn)
        .await?
        .flatten();
    Ok(s.as_deref().and_then(Suspension::parse))
}
