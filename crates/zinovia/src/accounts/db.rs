//! Every SQL statement on `users`, `sessions` and `account_tokens`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{Role, SessionId, User, UserId};

/// A row to insert into `users`.
pub(super) struct NewUserRow<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub email_verified: bool,
}

/// A session as listed to its owner.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Id.
    pub id: SessionId,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Last request with it (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// Browser or client that made it.
    pub user_agent: Option<String>,
    /// IP it logged in from.
    pub ip: Option<String>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub(super) async fn insert_user(
    conn: &mut PgConnection,
    row: &NewUserRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        insert into users (id, email, password_hash, display_name, role, adult_confirmed_at, email_verified_at)
        values ($1, $2, $3, $4, $5, now(), case when $6 then now() end)
        "#,
        row.id.0,
        row.email,
        row.password_hash,
        row.display_name,
        row.role.as_str(),
        row.email_verified,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A `users` row as read: the account and its password hash.
struct UserRecord {
    id: Uuid,
    email: String,
    email_verified_at: Option<DateTime<Utc>>,
    display_name: String,
    role: Role,
    created_at: DateTime<Utc>,
    password_hash: String,
}

impl UserRecord {
    fn split(self) -> (User, String) {
        (
            User {
                id: UserId(self.id),
                email: self.email,
                email_verified_at: self.email_verified_at,
                display_name: self.display_name,
                role: self.role,
                created_at: self.created_at,
            },
            self.password_hash,
        )
    }
}

/// The live (not deleted) account with this email, with its password hash.
pub(super) async fn find_for_login(
    conn: impl PgExecutor<'_>,
    email_lower: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let row = sqlx::query_as!(
        UserRecord,
        r#"
        select id, email, email_verified_at, display_name, role as "role: Role", created_at, password_hash
        from users
        where lower(email) = $1 and deleted_at is null
        "#,
        email_lower,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(UserRecord::split))
}

/// A live account by id, with its password hash.
pub(super) async fn get_user(
    conn: impl PgExecutor<'_>,
    id: UserId,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let row = sqlx::query_as!(
        UserRecord,
        r#"
        select id, email, email_verified_at, display_name, role as "role: Role", created_at, password_hash
        from users
        where id = $1 and deleted_at is null
        "#,
        id.0,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(UserRecord::split))
}

pub(super) async fn set_password_hash(
    conn: impl PgExecutor<'_>,
    id: UserId,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set password_hash = $2 where id = $1",
        id.0,
        hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn mark_verified(
    conn: impl PgExecutor<'_>,
    id: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set email_verified_at = coalesce(email_verified_at, now()) where id = $1",
        id.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletion: personal data goes at once; the row stays as a tombstone (ADR: account data).
pub(super) async fn scrub_user(conn: &mut PgConnection, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update users
        set email = 'deleted-' || id::text || '@deleted.invalid',
            display_name = 'Deleted account',
            password_hash = '!deleted',
            email_verified_at = null,
            deleted_at = now()
        where id = $1
        "#,
        id.0,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("delete from account_tokens where user_id = $1", id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn insert_session(
    conn: impl PgExecutor<'_>,
    id: SessionId,
    user: UserId,
    token_hash: &[u8],
    user_agent: Option<&str>,
    ip: Option<&str>,
    lifetime: Duration,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        insert into sessions (id, user_id, token_hash, user_agent, ip, expires_at)
        values ($1, $2, $3, $4, $5::text::inet, now() + make_interval(secs => $6))
        returning expires_at
        "#,
        id.0,
        user.0,
        token_hash,
        user_agent,
        ip,
        secs(lifetime),
    )
    .fetch_one(conn)
    .await
}

/// A valid session (within both its idle and absolute limits, of a live account).
pub(super) async fn find_session(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
    idle: Duration,
) -> Result<Option<(SessionId, DateTime<Utc>, User)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        select s.id as session_id, s.last_seen_at,
               u.id, u.email, u.email_verified_at, u.display_name, u.role as "role: Role", u.created_at
        from sessions s
        join users u on u.id = s.user_id
        where s.token_hash = $1
          and s.expires_at > now()
          and s.last_seen_at > now() - make_interval(secs => $2)
          and u.deleted_at is null
        "#,
        token_hash,
        secs(idle),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        (
            SessionId(r.session_id),
            r.last_seen_at,
            User {
                id: UserId(r.id),
                email: r.email,
                email_verified_at: r.email_verified_at,
                display_name: r.display_name,
                role: r.role,
                created_at: r.created_at,
            },
        )
    }))
}

pub(super) async fn touch_session(
    conn: impl PgExecutor<'_>,
    id: SessionId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update sessions set last_seen_at = now() where id = $1",
        id.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes one of `user`'s sessions; false if there is no such session of theirs.
pub(super) async fn delete_session(
    conn: impl PgExecutor<'_>,
    user: UserId,
    id: SessionId,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "delete from sessions where id = $1 and user_id = $2",
        id.0,
        user.0
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes every session of `user` except `keep`.
pub(super) async fn delete_sessions(
    conn: impl PgExecutor<'_>,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "delete from sessions where user_id = $1 and ($2::uuid is null or id <> $2)",
        user.0,
        keep.map(|k| k.0) as Option<Uuid>,
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

pub(super) async fn list_sessions(
    conn: impl PgExecutor<'_>,
    user: UserId,
    idle: Duration,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        select id, created_at, last_seen_at, expires_at, user_agent, host(ip) as ip
        from sessions
        where user_id = $1 and expires_at > now() and last_seen_at > now() - make_interval(secs => $2)
        order by last_seen_at desc
        "#,
        user.0,
        secs(idle),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SessionRow {
            id: SessionId(r.id),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            user_agent: r.user_agent,
            ip: r.ip,
        })
        .collect())
}

/// The purposes an emailed token can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

pub(super) async fn insert_token(
    conn: impl PgExecutor<'_>,
    user: UserId,
    purpose: Purpose,
    token_hash: &[u8],
    valid_for: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        insert into account_tokens (id, user_id, purpose, token_hash, expires_at)
        values ($1, $2, $3, $4, now() + make_interval(secs => $5))
        "#,
        Uuid::now_v7(),
        user.0,
        purpose.as_str(),
        token_hash,
        secs(valid_for),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a token once: marks it used and returns its account, if it is valid, unused,
/// unexpired, of that purpose and of a live account. Atomic, so two uses race safely.
pub(super) async fn use_token(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
    purpose: Purpose,
) -> Result<Option<UserId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"
        update account_tokens t
        set used_at = now()
        from users u
        where t.token_hash = $1 and t.purpose = $2 and t.used_at is null and t.expires_at > now()
          and u.id = t.user_id and u.deleted_at is null
        returning t.user_id
        "#,
        token_hash,
        purpose.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(UserId))
}

/// The account of a usable token (unused, unexpired, of a live account), without using it.
pub(super) async fn token_owner(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
    purpose: Purpose,
) -> Result<Option<UserId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"
        select t.user_id from account_tokens t join users u on u.id = t.user_id
        where t.token_hash = $1 and t.purpose = $2 and t.used_at is null and t.expires_at > now()
          and u.deleted_at is null
        "#,
        token_hash,
        purpose.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(UserId))
}

/// Voids every unused token of `user` for `purpose` (after a reset, older links die).
pub(super) async fn void_tokens(
    conn: impl PgExecutor<'_>,
    user: UserId,
    purpose: Purpose,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update account_tokens set used_at = now() where user_id = $1 and purpose = $2 and used_at is null",
        user.0,
        purpose.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes sessions past their absolute end and tokens expired over a day ago.
pub(super) async fn prune(conn: &mut PgConnection) -> Result<(u64, u64), sqlx::Error> {
    let sessions = sqlx::query!("delete from sessions where expires_at < now()")
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let tokens =
        sqlx::query!("delete from account_tokens where expires_at < now() - interval '1 day'")
            .execute(&mut *conn)
            .await?
            .rows_affected();
    Ok((sessions, tokens))
}

/// Locks these accounts' rows (shared) until the end of the transaction and answers whether
/// all exist and are open: a deletion in progress is waited for, then seen.
pub(super) async fn lock_open(conn: &mut PgConnection, ids: &[Uuid]) -> Result<bool, sqlx::Error> {
    let open = sqlx::query_scalar!(
        r#"select deleted_at is null as "open!" from users where id = any($1) order by id for share"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    Ok(open.len() == wanted.len() && open.iter().all(|o| *o))
}

/// Makes a fan a creator (admins keep their role).
pub(super) async fn promote_to_creator(
    conn: impl PgExecutor<'_>,
    user: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set role = 'creator' where id = $1 and role = 'fan'",
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}
