//! Every SQL statement on posts, their media, likes and comments. Listing statements are
//! constants so tests can `EXPLAIN` exactly what runs.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{Cursor, DELIVERED, MediaRow, PostRow, VariantRow, Visibility};
use crate::media::Kind;

const POST_COLUMNS: &str = "id, creator_id, body, visibility, price_minor, currency, text_is_teaser, \
     published_at, expires_at, pinned, like_count, comment_count, deleted_at, created_at";

/// A creator's page: pinned first, then newest first, after the cursor. `$2` = also the
/// scheduled and expired ones (for their creator and admins).
pub const CREATOR_PAGE_SQL: &str = "select id, creator_id, body, visibility, price_minor, currency, text_is_teaser, \
       published_at, expires_at, pinned, like_count, comment_count, deleted_at, created_at \
     from posts \
     where creator_id = $1 and deleted_at is null \
       and ($2 or (published_at <= now() and (expires_at is null or expires_at > now()))) \
       and (pinned, published_at, id) < ($3, $4, $5) \
     order by pinned desc, published_at desc, id desc \
     limit $6";

/// The fan's feed: live posts of the creators whose subscription grants access (`$2`) and
/// the posts they bought (`$1`'s purchases), newest first, after the cursor. Two branches,
/// each read through an index and limited, merged: an `or` across them would scan.
pub const FEED_SQL: &str = "select id, creator_id, body, visibility, price_minor, currency, text_is_teaser, \
       published_at, expires_at, pinned, like_count, comment_count, deleted_at, created_at \
     from ((select p.* from posts p \
            where p.creator_id = any($2) and p.deleted_at is null and p.published_at <= now() \
              and (p.expires_at is null or p.expires_at > now()) \
              and (p.published_at, p.id) < ($3, $4) \
            order by p.published_at desc, p.id desc limit $5) \
           union \
           (select p.* from post_purchases pp join posts p on p.id = pp.post_id \
            where pp.fan_id = $1 and pp.status = 'paid' and p.deleted_at is null \
              and p.published_at <= now() and (p.expires_at is null or p.expires_at > now()) \
              and (p.published_at, p.id) < ($3, $4) \
            order by p.published_at desc, p.id desc limit $5)) as feed \
     order by published_at desc, id desc \
     limit $5";

/// These posts' media, a row per item in post order, each with its delivered variants in
/// `$2`'s order as text: `index:width:height` (the 1-based position of the variant's name in
/// `$2`), comma-separated. A variant's key is `media/<asset>/<variant>` by construction, so
/// it is not read. (One row per item rather than per variant is a third of the rows, and
/// the text form decodes without an allocation per variant: the hot listing's rows were the
/// largest item of its CPU.)
pub const MEDIA_SQL: &str = "select pm.post_id, pm.position, a.id as asset_id, a.kind, a.width, a.height, \
       a.duration_ms, a.blurhash, v.variants \
     from post_media pm \
     join media_assets a on a.id = pm.asset_id \
     left join lateral ( \
       select string_agg(array_position($2, mv.variant) || ':' || mv.width || ':' || mv.height, ',' \
                         order by array_position($2, mv.variant)) as variants \
       from media_variants mv where mv.asset_id = a.id and mv.variant = any($2)) as v on true \
     where pm.post_id = any($1) \
     order by pm.post_id, pm.position";

/// Reads [`MEDIA_SQL`]'s `variants` column (entries that do not parse are left out).
fn variants_from(text: Option<&str>) -> Vec<VariantRow> {
    let Some(text) = text else {
        return Vec::new();
    };
    text.split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            let index: usize = parts.next()?.parse().ok()?;
            let width = parts.next()?.parse().ok()?;
            let height = parts.next()?.parse().ok()?;
            let name = *DELIVERED.get(index.checked_sub(1)?)?;
            Some(VariantRow {
                name,
                width,
                height,
            })
        })
        .collect()
}

/// Reads a post row (columns in `POST_COLUMNS` order; by position, which is cheaper than
/// by name on the hot path).
fn post_from(row: &sqlx::postgres::PgRow) -> Result<PostRow, sqlx::Error> {
    // The columns are ours (POST_COLUMNS, checked by the tests that run every listing), so
    // their types are not checked again for every row.
    let row = Unchecked(row);
    Ok(PostRow {
        id: row.try_get(0)?,
        creator_id: row.try_get(1)?,
        body: row.try_get(2)?,
        visibility: row.try_get(3)?,
        price_minor: row.try_get(4)?,
        currency: row.try_get(5)?,
        text_is_teaser: row.try_get(6)?,
        published_at: row.try_get(7)?,
        expires_at: row.try_get(8)?,
        pinned: row.try_get(9)?,
        like_count: row.try_get(10)?,
        comment_count: row.try_get(11)?,
        deleted_at: row.try_get(12)?,
        created_at: row.try_get(13)?,
    })
}

/// Positional reads without the per-value type check (for this module's own statements).
struct Unchecked<'r>(&'r sqlx::postgres::PgRow);

impl<'r> Unchecked<'r> {
    fn try_get<T: sqlx::Decode<'r, sqlx::Postgres>>(&self, i: usize) -> Result<T, sqlx::Error> {
        sqlx::Row::try_get_unchecked(self.0, i)
    }
}

/// A page of a creator's posts.
pub async fn creator_page(
    conn: impl PgExecutor<'_>,
    creator: Uuid,
    with_unpublished: bool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<PostRow>, sqlx::Error> {
    let rows = sqlx::query(CREATOR_PAGE_SQL)
        .bind(creator)
        .bind(with_unpublished)
        .bind(after.pinned)
        .bind(after.published_at)
        .bind(after.id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(post_from).collect()
}

/// A page of a fan's feed.
pub async fn feed_page(
    conn: impl PgExecutor<'_>,
    fan: Uuid,
    creators: &[Uuid],
    after: Cursor,
    limit: i64,
) -> Result<Vec<PostRow>, sqlx::Error> {
    let rows = sqlx::query(FEED_SQL)
        .bind(fan)
        .bind(creators)
        .bind(after.published_at)
        .bind(after.id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(post_from).collect()
}

/// These posts' media with their delivered variants.
pub async fn media_of(
    conn: impl PgExecutor<'_>,
    posts: &[Uuid],
) -> Result<Vec<MediaRow>, sqlx::Error> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(MEDIA_SQL)
        .bind(posts)
        .bind(DELIVERED.as_slice())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let r = Unchecked(r);
            Ok(MediaRow {
                post_id: r.try_get(0)?,
                position: r.try_get(1)?,
                asset_id: r.try_get(2)?,
                kind: r.try_get::<Kind>(3)?,
                width: r.try_get(4)?,
                height: r.try_get(5)?,
                duration_ms: r.try_get(6)?,
                blurhash: r.try_get(7)?,
                variants: variants_from(r.try_get(8)?),
            })
        })
        .collect()
}

/// One post (deleted ones too: the rule hides them).
pub async fn get(conn: impl PgExecutor<'_>, id: Uuid) -> Result<Option<PostRow>, sqlx::Error> {
    let sql = format!("select {POST_COLUMNS} from posts where id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(post_from).transpose()
}

/// One post, locked for an update.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<PostRow>, sqlx::Error> {
    let sql = format!("select {POST_COLUMNS} from posts where id = $1 for update");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(post_from).transpose()
}

/// The posts (not deleted) that show an asset.
pub async fn posts_with_asset(
    conn: impl PgExecutor<'_>,
    asset: Uuid,
) -> Result<Vec<PostRow>, sqlx::Error> {
    let sql = format!(
        "select {POST_COLUMNS} from posts where deleted_at is null \
         and id in (select post_id from post_media where asset_id = $1)"
    );
    let rows = sqlx::query(&sql).bind(asset).fetch_all(conn).await?;
    rows.iter().map(post_from).collect()
}

/// A post as written.
pub struct PostInput<'a> {
    pub body: &'a str,
    pub visibility: Visibility,
    pub price_minor: Option<i32>,
    pub currency: Option<&'a str>,
    pub text_is_teaser: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub pinned: bool,
}

pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    creator: Uuid,
    p: &PostInput<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        insert into posts (id, creator_id, body, visibility, price_minor, currency, text_is_teaser,
                           published_at, expires_at, pinned)
        values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()), $9, $10)
        "#,
        id,
        creator,
        p.body,
        p.visibility.as_str(),
        p.price_minor,
        p.currency,
        p.text_is_teaser,
        p.published_at,
        p.expires_at,
        p.pinned,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    p: &PostInput<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update posts set body = $2, visibility = $3, price_minor = $4, currency = $5,
               text_is_teaser = $6, published_at = coalesce($7, published_at), expires_at = $8,
               pinned = $9
        where id = $1
        "#,
        id,
        p.body,
        p.visibility.as_str(),
        p.price_minor,
        p.currency,
        p.text_is_teaser,
        p.published_at,
        p.expires_at,
        p.pinned,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a post's media with `assets`, in order.
pub async fn set_media(
    conn: &mut PgConnection,
    post: Uuid,
    assets: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from post_media where post_id = $1", post)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        r#"insert into post_media (post_id, position, asset_id)
           select $1, (t.ord - 1)::smallint, t.asset from unnest($2::uuid[]) with ordinality as t(asset, ord)"#,
        post,
        assets
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ready post images and videos among `assets` that `owner` owns.
pub async fn usable_assets(
    conn: impl PgExecutor<'_>,
    owner: Uuid,
    assets: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select id, state from media_assets where owner_id = $1 and id = any($2) and purpose = 'post'"#,
        owner,
        assets
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.state)).collect())
}

pub async fn soft_delete(conn: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update posts set deleted_at = now(), pinned = false where id = $1 and deleted_at is null",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes down every post of a closed account at once: deleted (hidden from everyone by the
/// rule) and its text cleared. The rows stay for the money facts that name them.
pub async fn take_down_all(conn: &mut PgConnection, creator: Uuid) -> Result<u64, sqlx::Error> {
    let n = sqlx::query!(
        r#"update posts set deleted_at = coalesce(deleted_at, now()), pinned = false, body = ''
           where creator_id = $1 and (deleted_at is null or body <> '')"#,
        creator
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n)
}

/// A pay-per-view post on sale (live, priced, its creator's account open): its creator, and
/// the price and currency fixed on the post (what the fan saw).
pub async fn ppv_offer(
    conn: impl PgExecutor<'_>,
    post: Uuid,
) -> Result<Option<(Uuid, i32, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select p.creator_id, p.price_minor as "price_minor!", p.currency as "currency!"
           from posts p join users u on u.id = p.creator_id
           where p.id = $1 and p.deleted_at is null and p.visibility = 'ppv' and p.price_minor is not null
             and p.currency is not null and u.deleted_at is null and u.suspended_at is null
             and p.published_at <= now() and (p.expires_at is null or p.expires_at > now())"#,
        post
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.creator_id, r.price_minor, r.currency)))
}

/// Likes (idempotent); keeps the post's count.
pub async fn set_like(
    conn: &mut PgConnection,
    post: Uuid,
    user: Uuid,
    like: bool,
) -> Result<(), sqlx::Error> {
    let changed = if like {
        sqlx::query!(
            "insert into post_likes (post_id, user_id) values ($1, $2) on conflict do nothing",
            post,
            user
        )
        .execute(&mut *conn)
        .await?
        .rows_affected()
    } else {
        sqlx::query!(
            "delete from post_likes where post_id = $1 and user_id = $2",
            post,
            user
        )
        .execute(&mut *conn)
        .await?
        .rows_affected()
    };
    if changed > 0 {
        let delta: i32 = if like { 1 } else { -1 };
        sqlx::query!(
            "update posts set like_count = greatest(like_count + $2, 0) where id = $1",
            post,
            delta
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether `user` likes each of `posts`.
pub async fn liked(
    conn: impl PgExecutor<'_>,
    user: Uuid,
    posts: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select post_id from post_likes where user_id = $1 and post_id = any($2)",
        user,
        posts
    )
    .fetch_all(conn)
    .await
}

/// A comment as shown.
#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_comment(
    conn: &mut PgConnection,
    id: Uuid,
    post: Uuid,
    author: Uuid,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into post_comments (id, post_id, author_id, body) values ($1, $2, $3, $4)",
        id,
        post,
        author,
        body
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update posts set comment_count = comment_count + 1 where id = $1",
        post
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn comments(
    conn: impl PgExecutor<'_>,
    post: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CommentRow>, sqlx::Error> {
    let (at, id) = (after.map(|a| a.0), after.map(|a| a.1));
    sqlx::query_as!(
        CommentRow,
        r#"
        select c.id, c.author_id, u.display_name as author_name, c.body, c.created_at
        from post_comments c join users u on u.id = c.author_id
        where c.post_id = $1 and c.deleted_at is null
          and ($2::timestamptz is null or (c.created_at, c.id) > ($2, $3::uuid))
        order by c.created_at, c.id
        limit $4
        "#,
        post,
        at,
        id,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Deletes a comment; returns its author and post's creator when it existed.
pub async fn comment_owner(
    conn: impl PgExecutor<'_>,
    post: Uuid,
    comment: Uuid,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select c.author_id, p.creator_id from post_comments c join posts p on p.id = c.post_id
           where c.id = $1 and c.post_id = $2 and c.deleted_at is null"#,
        comment,
        post
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.author_id, r.creator_id)))
}

pub async fn delete_comment(
    conn: &mut PgConnection,
    post: Uuid,
    comment: Uuid,
) -> Result<(), sqlx::Error> {
    let n = sqlx::query!(
        "update post_comments set deleted_at = now() where id = $1 and post_id = $2 and deleted_at is null",
        comment,
        post
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n > 0 {
        sqlx::query!(
            "update posts set comment_count = greatest(comment_count - 1, 0) where id = $1",
            post
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A creator for explore.
#[derive(Debug, Clone)]
pub struct ExploreRow {
    /// The creator's account.
    pub user_id: Uuid,
    /// Current handle.
    pub handle: String,
    /// Public name.
    pub display_name: String,
    /// About.
    pub bio: String,
    /// Their avatar (an asset), if any.
    pub avatar_id: Option<Uuid>,
    /// Monthly price, minor units.
    pub price_minor: i32,
    /// Its currency.
    pub currency: String,
    /// Since when.
    pub created_at: DateTime<Utc>,
    /// Fans whose subscription grants access now.
    pub subscribers: i64,
}

/// Creators with at least one live public post, newest creators first or most subscribed.
pub async fn explore(
    conn: impl PgExecutor<'_>,
    popular: bool,
    offset: i64,
    limit: i64,
    grace: std::time::Duration,
) -> Result<Vec<ExploreRow>, sqlx::Error> {
    sqlx::query_as!(
        ExploreRow,
        r#"
        select c.user_id, c.handle, c.display_name, c.bio, c.avatar_id, c.price_minor, c.currency,
               c.created_at,
               creator_subscribers(c.user_id, make_interval(secs => $4), now()) as "subscribers!"
        from creators c join users u on u.id = c.user_id
        where u.deleted_at is null and u.suspended_at is null and exists (
            select 1 from posts p where p.creator_id = c.user_id and p.visibility = 'public'
              and p.deleted_at is null and p.published_at <= now()
              and (p.expires_at is null or p.expires_at > now()))
        order by case when $1 then creator_subscribers(c.user_id, make_interval(secs => $4), now()) else 0 end desc,
                 c.created_at desc, c.user_id desc
        offset $2 limit $3
        "#,
        popular,
        offset,
        limit,
        grace.as_secs_f64()
    )
    .fetch_all(conn)
    .await
}

/// The creators among `creators` (all, when `None`) to whom `fan` holds a subscription that
/// grants access now: any of the fan's subscriptions to them (a fan may hold an ended one
/// and a new one) passing `subscription_grants`, the one definition (migration 0008).
pub async fn subscribed_creators(
    conn: &mut PgConnection,
    fan: Uuid,
    creators: Option<&[Uuid]>,
    grace: std::time::Duration,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select distinct creator_id from subscriptions
           where fan_id = $1 and ($2::uuid[] is null or creator_id = any($2))
             and subscription_grants(status, current_period_end, past_due_since, revoked_at,
                                     make_interval(secs => $3), now())"#,
        fan,
        creators as Option<&[Uuid]>,
        grace.as_secs_f64()
    )
    .fetch_all(conn)
    .await
}

/// The posts among `posts` that `fan` bought (paid, not refunded or disputed).
pub async fn bought(
    conn: &mut PgConnection,
    fan: Uuid,
    posts: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select post_id from post_purchases where fan_id = $1 and post_id = any($2) and status = 'paid'",
        fan,
        posts
    )
    .fetch_all(conn)
    .await
}

/// One audit row per subject.
pub async fn audit(
    conn: impl PgExecutor<'_>,
    actor: Uuid,
    action: &str,
    subject_type: &str,
    subjects: &[Uuid],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = subjects.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!(
        r#"insert into audit_log (id, actor_id, action, subject_type, subject_id)
           select id, $1, $2, $3, subject from unnest($4::uuid[], $5::uuid[]) as t(id, subject)"#,
        actor,
        action,
        subject_type,
        &ids,
        subjects
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a comment sits in its post's order.
pub async fn comment_position(
    conn: impl PgExecutor<'_>,
    post: Uuid,
    comment: Uuid,
) -> Result<Option<(DateTime<Utc>, Uuid)>, sqlx::Error> {
    let row = sqlx::query!(
        "select created_at, id from post_comments where id = $1 and post_id = $2",
        comment,
        post
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.created_at, r.id)))
}

/// Whether an asset is shown by a post that is not deleted.
pub async fn asset_in_live_post(
    conn: impl PgExecutor<'_>,
    asset: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from post_media pm join posts p on p.id = pm.post_id
                          where pm.asset_id = $1 and p.deleted_at is null) as "in_post!""#,
        asset
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_read_back_in_order_and_bad_entries_are_left_out() {
        let v = variants_from(Some("1:320:240,2:960:720,3:2048:1536"));
        let got: Vec<_> = v.iter().map(|v| (v.name, v.width, v.height)).collect();
        assert_eq!(
            got,
            [
                ("thumb.webp", 320, 240),
                ("grid.webp", 960, 720),
                ("full.webp", 2048, 1536)
            ]
        );
        assert!(variants_from(None).is_empty());
        let v = variants_from(Some("0:1:1,6:1:1,4:1920:1080,x:1:1,2:1,2:a:1,5:1280:720"));
        let got: Vec<_> = v.iter().map(|v| (v.name, v.width, v.height)).collect();
        assert_eq!(got, [("video.mp4", 1920, 1080), ("video.webm", 1280, 720)]);
    }
}
