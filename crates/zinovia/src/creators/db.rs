//! Every SQL statement on `creators` and `creator_handle_redirects`.

use std::time::Duration;

use sqlx::PgExecutor;
use uuid::Uuid;

use super::types::Creator;

/// A profile as written.
pub(super) struct CreatorInput<'a> {
    pub user_id: Uuid,
    pub handle: &'a str,
    pub display_name: &'a str,
    pub bio: &'a str,
    pub avatar_id: Option<Uuid>,
    pub banner_id: Option<Uuid>,
    pub price_minor: i32,
    pub currency: &'a str,
    pub trial_days: i32,
    pub welcome_message: Option<&'a str>,
}

/// The creator with this handle (current handles only).
pub async fn by_handle(
    conn: impl PgExecutor<'_>,
    handle: &str,
) -> Result<Option<Creator>, sqlx::Error> {
    sqlx::query_as!(
        Creator,
        r#"
        select c.user_id, c.handle, c.display_name, c.bio, c.avatar_id, c.banner_id, c.price_minor,
               c.currency, c.trial_days, c.welcome_message, c.created_at
        from creators c join users u on u.id = c.user_id
        where c.handle = $1 and u.deleted_at is null and u.suspended_at is null
        "#,
        handle
    )
    .fetch_optional(conn)
    .await
}

/// The creator profile of a user, if they have one.
pub async fn by_user(
    conn: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<Creator>, sqlx::Error> {
    sqlx::query_as!(
        Creator,
        r#"
        select user_id, handle, display_name, bio, avatar_id, banner_id, price_minor, currency,
               trial_days, welcome_message, created_at
        from creators where user_id = $1
        "#,
        user_id
    )
    .fetch_optional(conn)
    .await
}

/// Clears a closed account's profile: name, bio, welcome message, avatar and banner. The row
/// and its handle stay (ledger rows point to it; the address fans knew is not given to
/// someone else).
pub(super) async fn scrub(conn: impl PgExecutor<'_>, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update creators set display_name = 'Deleted creator', bio = '', welcome_message = null,
                  avatar_id = null, banner_id = null
           where user_id = $1"#,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The current handle a previous handle redirects to (while the redirect lasts).
pub(super) async fn redirect(
    conn: impl PgExecutor<'_>,
    old: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        select c.handle from creator_handle_redirects r join creators c on c.user_id = r.creator_id
          join users u on u.id = c.user_id
        where r.handle = $1 and r.expires_at > now() and u.deleted_at is null and u.suspended_at is null
        "#,
        old
    )
    .fetch_optional(conn)
    .await
}

/// Whether `handle` is still redirecting for another creator.
pub(super) async fn held_by_other(
    conn: impl PgExecutor<'_>,
    handle: &str,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let held = sqlx::query_scalar!(
        r#"select exists (select 1 from creator_handle_redirects
                          where handle = $1 and creator_id <> $2 and expires_at > now()) as "held!""#,
        handle,
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(held)
}

pub(super) async fn insert(
    conn: impl PgExecutor<'_>,
    c: &CreatorInput<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        insert into creators (user_id, handle, display_name, bio, avatar_id, banner_id, price_minor,
                              currency, trial_days, welcome_message)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        "#,
        c.user_id,
        c.handle,
        c.display_name,
        c.bio,
        c.avatar_id,
        c.banner_id,
        c.price_minor,
        c.currency,
        c.trial_days,
        c.welcome_message,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn update(
    conn: impl PgExecutor<'_>,
    c: &CreatorInput<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update creators set handle = $2, display_name = $3, bio = $4, avatar_id = $5, banner_id = $6,
               price_minor = $7, currency = $8, trial_days = $9, welcome_message = $10
        where user_id = $1
        "#,
        c.user_id,
        c.handle,
        c.display_name,
        c.bio,
        c.avatar_id,
        c.banner_id,
        c.price_minor,
        c.currency,
        c.trial_days,
        c.welcome_message,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps `old` redirecting to its creator for `lasts`; a creator taking back their own
/// previous handle ends its redirect.
pub(super) async fn move_handle(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    old: &str,
    new: &str,
    lasts: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from creator_handle_redirects where handle = $1 or (handle = $2 and expires_at <= now())",
        new,
        old
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"
        insert into creator_handle_redirects (handle, creator_id, expires_at)
        values ($1, $2, now() + make_interval(secs => $3))
        on conflict (handle) do update set creator_id = excluded.creator_id, expires_at = excluded.expires_at
        "#,
        old,
        user_id,
        lasts.as_secs_f64()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A creator's counts, in one statement.
pub(super) struct Counts {
    pub posts: i64,
    pub images: i64,
    pub videos: i64,
    pub subscribers: i64,
}

pub(super) async fn counts(
    conn: impl PgExecutor<'_>,
    user_id: Uuid,
    grace: Duration,
) -> Result<Counts, sqlx::Error> {
    sqlx::query_as!(
        Counts,
        r#"
        select
          (select count(*) from posts p where p.creator_id = $1 and p.deleted_at is null
             and p.published_at <= now() and (p.expires_at is null or p.expires_at > now())) as "posts!",
          (select count(*) from posts p join post_media pm on pm.post_id = p.id
             join media_assets a on a.id = pm.asset_id
           where p.creator_id = $1 and p.deleted_at is null and p.published_at <= now()
             and (p.expires_at is null or p.expires_at > now()) and a.kind = 'image') as "images!",
          (select count(*) from posts p join post_media pm on pm.post_id = p.id
             join media_assets a on a.id = pm.asset_id
           where p.creator_id = $1 and p.deleted_at is null and p.published_at <= now()
             and (p.expires_at is null or p.expires_at > now()) and a.kind = 'video') as "videos!",
          creator_subscribers($1, make_interval(secs => $2), now()) as "subscribers!"
        "#,
        user_id,
        grace.as_secs_f64()
    )
    .fetch_one(conn)
    .await
}

/// `(user id, handle, display name)` of these creators.
pub async fn names(
    conn: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select user_id, handle, display_name from creators where user_id = any($1)",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.user_id, r.handle, r.display_name))
        .collect())
}

/// The creator's current handle, the row locked for an update (`None`: not a creator).
pub(super) async fn lock(
    conn: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select handle from creators where user_id = $1 for update",
        user_id
    )
    .fetch_optional(conn)
    .await
}
