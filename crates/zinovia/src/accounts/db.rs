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

/// A row to insert into `sessions`.
pub(super) struct NewSessionRow<'a> {
    pub id: SessionId,
    pub user: UserId,
    pub token_hash: &'a [u8],
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub lifetime: Duration,
    pub second_factor: bool,
}

pub(super) async fn insert_session(
    conn: impl PgExecutor<'_>,
    row: &NewSessionRow<'_>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        insert into sessions (id, user_id, token_hash, user_agent, ip, expires_at, second_factor_at)
        values ($1, $2, $3, $4, $5::text::inet, now() + make_interval(secs => $6), case when $7 then now() end)
        returning expires_at
        "#,
        row.id.0,
        row.user.0,
        row.token_hash,
        row.user_agent,
        row.ip,
        secs(row.lifetime),
        row.second_factor,
    )
    .fetch_one(conn)
    .await
}

/// A valid session (within both its idle and absolute limits, of a live account): its
/// id, last use, whether it signed in with a second factor, and the account.
pub(super) async fn find_session(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
    idle: Duration,
) -> Result<Option<(SessionId, DateTime<Utc>, bool, User)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        select s.id as session_id, s.last_seen_at, s.second_factor_at is not null as "second_factor!",
               u.id, u.email, u.email_verified_at, u.display_name, u.role as "role: Role", u.created_at
        from sessions s
        join users u on u.id = s.user_id
        where s.token_hash = $1
          and s.expires_at > now()
          and s.last_seen_at > now() - make_interval(secs => $2)
          and u.deleted_at is null and u.suspended_at is null
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
            r.second_factor,
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
    sqlx::query!("delete from login_challenges where expires_at < now()")
        .execute(&mut *conn)
        .await?;
    Ok((sessions, tokens))
}

/// Locks these accounts' rows (shared) until the end of the transaction and answers whether
/// all exist and are open: a deletion in progress is waited for, then seen.
pub(super) async fn lock_open(conn: &mut PgConnection, ids: &[Uuid]) -> Result<bool, sqlx::Error> {
    let open = sqlx::query_scalar!(
        r#"select deleted_at is null and suspended_at is null as "open!" from users where id = any($1) order by id for share"#,
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

// --- second factors (migration 0013) ---------------------------------------------------

/// Whether an authenticator app is on, and how many recovery codes are unused.
pub(super) async fn second_factors(
    conn: impl PgExecutor<'_>,
    user: UserId,
) -> Result<(bool, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"
        select exists (select 1 from user_totp where user_id = $1 and confirmed_at is not null) as "on!",
               (select count(*) from recovery_codes where user_id = $1 and used_at is null) as "left!"
        "#,
        user.0,
    )
    .fetch_one(conn)
    .await?;
    Ok((r.on, r.left))
}

/// Stores a new secret awaiting its first code; false if one is already confirmed.
pub(super) async fn put_pending_totp(
    conn: impl PgExecutor<'_>,
    user: UserId,
    sealed: &[u8],
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"
        insert into user_totp (user_id, secret_sealed) values ($1, $2)
        on conflict (user_id) do update
            set secret_sealed = excluded.secret_sealed, last_step = 0, created_at = now()
            where user_totp.confirmed_at is null
        "#,
        user.0,
        sealed,
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The account's secret (sealed), the last step used, and whether it is confirmed; the
/// row locked until the transaction ends (two requests cannot spend one code).
pub(super) async fn totp_for_update(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Option<(Vec<u8>, i64, bool)>, sqlx::Error> {
    let r = sqlx::query!(
        "select secret_sealed, last_step, confirmed_at is not null as \"confirmed!\" from user_totp where user_id = $1 for update",
        user.0,
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map(|r| (r.secret_sealed, r.last_step, r.confirmed)))
}

pub(super) async fn confirm_totp(
    conn: &mut PgConnection,
    user: UserId,
    step: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update user_totp set confirmed_at = now(), last_step = $2 where user_id = $1",
        user.0,
        step
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn advance_totp(
    conn: &mut PgConnection,
    user: UserId,
    step: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update user_totp set last_step = greatest(last_step, $2) where user_id = $1",
        user.0,
        step
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user: UserId,
    hashes: &[Vec<u8>],
) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from recovery_codes where user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "insert into recovery_codes (user_id, code_hash) select $1, unnest($2::bytea[])",
        user.0,
        hashes,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks an unused recovery code used; false if there is none such.
pub(super) async fn spend_recovery_code(
    conn: &mut PgConnection,
    user: UserId,
    hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update recovery_codes set used_at = now() where user_id = $1 and code_hash = $2 and used_at is null",
        user.0,
        hash
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes the app and the recovery codes; the account's sessions no longer count as
/// signed in with a second factor.
pub(super) async fn remove_second_factors(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from user_totp where user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("delete from recovery_codes where user_id = $1", user.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "update sessions set second_factor_at = null where user_id = $1",
        user.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn mark_second_factor(
    conn: impl PgExecutor<'_>,
    session: SessionId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update sessions set second_factor_at = now() where id = $1",
        session.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_challenge(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user: UserId,
    user_agent: Option<&str>,
    ip: Option<&str>,
    valid_for: Duration,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query!(
        "delete from login_challenges where expires_at < now() and user_id = $1",
        user.0
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"
        insert into login_challenges (token_hash, user_id, user_agent, ip, expires_at)
        values ($1, $2, $3, $4::text::inet, now() + make_interval(secs => $5))
        returning expires_at
        "#,
        token_hash,
        user.0,
        user_agent,
        ip,
        secs(valid_for),
    )
    .fetch_one(conn)
    .await
}

/// The account a live challenge (not expired, attempts left) belongs to, locked.
pub(super) async fn challenge_for_update(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<UserId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"
        select c.user_id from login_challenges c join users u on u.id = c.user_id
        where c.token_hash = $1 and c.expires_at > now() and c.attempts < $2 and u.deleted_at is null
        for update of c
        "#,
        token_hash,
        super::two_factor::CHALLENGE_ATTEMPTS,
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(UserId))
}

/// Counts a wrong code; returns the attempts so far.
pub(super) async fn count_challenge_attempt(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        "update login_challenges set attempts = attempts + 1 where token_hash = $1 returning attempts",
        token_hash
    )
    .fetch_one(conn)
    .await
}

pub(super) async fn delete_challenge(
    conn: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from login_challenges where token_hash = $1",
        token_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a sign-in's device; true when it is new and the account had others.
pub(super) async fn note_device(
    conn: &mut PgConnection,
    user: UserId,
    device_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"
        with others as (select count(*) as n from user_devices where user_id = $1 and device_hash <> $2),
        up as (
            insert into user_devices (user_id, device_hash) values ($1, $2)
            on conflict (user_id, device_hash) do update set last_seen_at = now()
            returning (xmax = 0) as inserted
        )
        select (select inserted from up) as "inserted!", (select n from others) as "others!"
        "#,
        user.0,
        device_hash,
    )
    .fetch_one(conn)
    .await?;
    Ok(r.inserted && r.others > 0)
}
