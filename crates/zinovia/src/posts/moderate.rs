//! What moderation does to posts and comments (posts owns their tables): a post or comment
//! removed or restored, every post of a suspended creator hidden and shown again. Each runs
//! in moderation's transaction; cached pages are dropped by the posts trigger's NOTIFY and by
//! the caller at once.

use sqlx::PgConnection;
use uuid::Uuid;

/// A post removed by a moderator: its creator and the files it shows.
#[derive(Debug, Clone)]
pub struct Removed {
    /// Whose it was.
    pub owner: Uuid,
    /// The creator whose pages show it (for comments: the post's creator).
    pub creator: Uuid,
    /// Its files (kept under a legal hold).
    pub assets: Vec<Uuid>,
}

/// Hides a live post from everyone (as deleted; its files stay). `None`: no live post.
pub async fn remove_post(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Removed>, sqlx::Error> {
    let Some(owner) = sqlx::query_scalar!(
        "update posts set deleted_at = now(), pinned = false where id = $1 and deleted_at is null returning creator_id",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let assets = post_assets(conn, id).await?;
    Ok(Some(Removed {
        owner,
        creator: owner,
        assets,
    }))
}

/// Shows a removed post again (unless its creator's account is gone; while the account is
/// suspended it comes back with the account).
pub async fn restore_post(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Removed>, sqlx::Error> {
    let Some(owner) = sqlx::query_scalar!(
        r#"update posts p set deleted_at = case when u.suspended_at is null then null else now() end,
                              hidden_by_suspension = u.suspended_at is not null
           from users u
           where p.id = $1 and p.deleted_at is not null and u.id = p.creator_id and u.deleted_at is null
           returning p.creator_id"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let assets = post_assets(conn, id).await?;
    Ok(Some(Removed {
        owner,
        creator: owner,
        assets,
    }))
}

async fn post_assets(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!("select asset_id from post_media where post_id = $1", id)
        .fetch_all(conn)
        .await
}

/// Hides a comment (its post's count goes down). `None`: no live comment.
pub async fn remove_comment(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Removed>, sqlx::Error> {
    set_comment(conn, id, true).await
}

/// Shows a removed comment again.
pub async fn restore_comment(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Removed>, sqlx::Error> {
    set_comment(conn, id, false).await
}

async fn set_comment(
    conn: &mut PgConnection,
    id: Uuid,
    hide: bool,
) -> Result<Option<Removed>, sqlx::Error> {
    let row = sqlx::query!(
        r#"with c as (
             update post_comments set deleted_at = case when $2 then now() else null end
             where id = $1 and (deleted_at is null) = $2
             returning author_id, post_id)
           update posts p set comment_count = greatest(p.comment_count + case when $2 then -1 else 1 end, 0)
           from c where p.id = c.post_id
           returning c.author_id, p.creator_id"#,
        id,
        hide
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Removed {
        owner: r.author_id,
        creator: r.creator_id,
        assets: Vec::new(),
    }))
}

/// Hides every live post of a suspended creator (marked, so restoring the account shows
/// exactly those again).
pub async fn hide_for_suspension(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "update posts set deleted_at = now(), hidden_by_suspension = true where creator_id = $1 and deleted_at is null",
        creator
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Shows again the posts a suspension hid.
pub async fn show_after_suspension(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "update posts set deleted_at = null, hidden_by_suspension = false where creator_id = $1 and hidden_by_suspension",
        creator
    )
    .execute(conn)
    .await?
    .rows_affected())
}
