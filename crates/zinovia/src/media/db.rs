//! Every SQL statement on `media_assets` and `media_variants`.

use std::time::Duration;

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::types::{Asset, Kind, MediaId, Purpose, State, Variant};
use crate::accounts::UserId;

/// A new asset awaiting its upload.
pub(super) struct NewAsset<'a> {
    pub id: MediaId,
    pub owner: UserId,
    pub kind: Kind,
    pub purpose: Purpose,
    pub content_type: &'a str,
    pub byte_size: i64,
    pub original_filename: Option<&'a str>,
    pub object_key: &'a str,
    pub upload_valid_for: Duration,
}

pub(super) async fn insert(
    conn: impl PgExecutor<'_>,
    a: &NewAsset<'_>,
) -> Result<Asset, sqlx::Error> {
    sqlx::query_as!(
        Asset,
        r#"
        insert into media_assets
            (id, owner_id, kind, purpose, content_type, byte_size, original_filename, object_key, upload_expires_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
        returning id as "id: MediaId", owner_id as "owner_id: UserId", kind as "kind: Kind",
                  purpose as "purpose: Purpose", state as "state: State", content_type, byte_size, original_filename, object_key,
                  width, height, duration_ms, blurhash, rejection_reason, progress, upload_expires_at, created_at
        "#,
        a.id.0,
        a.owner.0,
        a.kind.as_str(),
        a.purpose.as_str(),
        a.content_type,
        a.byte_size,
        a.original_filename,
        a.object_key,
        a.upload_valid_for.as_secs_f64(),
    )
    .fetch_one(conn)
    .await
}

/// An asset (deleting ones are as good as gone).
pub(super) async fn get(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<Option<Asset>, sqlx::Error> {
    sqlx::query_as!(
        Asset,
        r#"
        select id as "id: MediaId", owner_id as "owner_id: UserId", kind as "kind: Kind",
               purpose as "purpose: Purpose", state as "state: State", content_type, byte_size, original_filename, object_key,
               width, height, duration_ms, blurhash, rejection_reason, progress, upload_expires_at, created_at
        from media_assets where id = $1 and state <> 'deleting'
        "#,
        id.0,
    )
    .fetch_optional(conn)
    .await
}

/// The same, locked for the rest of the transaction.
pub(super) async fn get_for_update(
    conn: &mut PgConnection,
    id: MediaId,
) -> Result<Option<Asset>, sqlx::Error> {
    sqlx::query_as!(
        Asset,
        r#"
        select id as "id: MediaId", owner_id as "owner_id: UserId", kind as "kind: Kind",
               purpose as "purpose: Purpose", state as "state: State", content_type, byte_size, original_filename, object_key,
               width, height, duration_ms, blurhash, rejection_reason, progress, upload_expires_at, created_at
        from media_assets where id = $1 and state <> 'deleting'
        for update
        "#,
        id.0,
    )
    .fetch_optional(conn)
    .await
}

pub(super) async fn variants(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<Vec<Variant>, sqlx::Error> {
    sqlx::query_as!(
        Variant,
        r#"
        select variant as name, object_key, content_type, width, height, byte_size
        from media_variants where asset_id = $1 order by width
        "#,
        id.0,
    )
    .fetch_all(conn)
    .await
}

/// The variants called `names` of those of `ids` that are ready, as `(asset, variant)`.
pub(super) async fn ready_variants(
    conn: impl PgExecutor<'_>,
    ids: &[Uuid],
    names: &[&str],
) -> Result<Vec<(Uuid, Variant)>, sqlx::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let rows = sqlx::query!(
        r#"select v.asset_id, v.variant, v.object_key, v.content_type, v.width, v.height, v.byte_size
           from media_variants v join media_assets a on a.id = v.asset_id
           where v.asset_id = any($1) and a.state = 'ready' and v.variant = any($2)
           order by v.width"#,
        ids,
        &names
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.asset_id,
                Variant {
                    name: r.variant,
                    object_key: r.object_key,
                    content_type: r.content_type,
                    width: r.width,
                    height: r.height,
                    byte_size: r.byte_size,
                },
            )
        })
        .collect())
}

/// Serialises, until the end of the transaction, what counts an account's storage against
/// its limits (a transaction-scoped advisory lock keyed by the account).
pub(super) async fn lock_owner(
    conn: impl PgExecutor<'_>,
    owner: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1::text, 727002))",
        owner.0.to_string()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What an account keeps in storage: its assets (unfinished uploads at their declared size)
/// and every file made from them; assets being deleted no longer count.
pub(super) async fn storage_used(
    conn: impl PgExecutor<'_>,
    owner: UserId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select (coalesce(sum(a.byte_size), 0)
                   + coalesce((select sum(v.byte_size) from media_variants v join media_assets va on va.id = v.asset_id
                               where va.owner_id = $1 and va.state <> 'deleting'), 0))::bigint as "used!"
           from media_assets a where a.owner_id = $1 and a.state <> 'deleting'"#,
        owner.0,
    )
    .fetch_one(conn)
    .await
}

/// Unfinished uploads of an account.
pub(super) async fn count_awaiting(
    conn: impl PgExecutor<'_>,
    owner: UserId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from media_assets where owner_id = $1 and state = 'awaiting_upload'"#,
        owner.0,
    )
    .fetch_one(conn)
    .await
}

pub(super) async fn mark_uploaded(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update media_assets set state = 'uploaded', uploaded_at = now() where id = $1 and state = 'awaiting_upload'",
        id.0,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn mark_deleting(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update media_assets set state = 'deleting' where id = $1",
        id.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks every asset of `owner` as deleting (hidden at once); returns their ids.
pub(super) async fn mark_all_deleting(
    conn: impl PgExecutor<'_>,
    owner: UserId,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "update media_assets set state = 'deleting' where owner_id = $1 and state <> 'deleting' and not legal_hold returning id",
        owner.0
    )
    .fetch_all(conn)
    .await
}

/// Deletes the row (its variants go with it).
pub(super) async fn delete(conn: impl PgExecutor<'_>, id: MediaId) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from media_assets where id = $1", id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks uploads never completed and older than `age`, and profile images (avatars,
/// banners) older than `age` that no profile uses, as deleting; returns their ids.
pub(super) async fn abandon(
    conn: impl PgExecutor<'_>,
    age: Duration,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        update media_assets set state = 'deleting'
        where id in (
            select a.id from media_assets a
            where a.created_at < now() - make_interval(secs => $1)
              and (a.state = 'awaiting_upload'
                   or (a.purpose in ('avatar', 'banner') and a.state <> 'deleting'
                       and not exists (select 1 from creators c
                                       where c.avatar_id = a.id or c.banner_id = a.id)))
            order by a.created_at
            limit $2
            for update of a skip locked
        )
        returning id
        "#,
        age.as_secs_f64(),
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The worker has started on an asset (again).
pub(super) async fn mark_processing(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update media_assets set state = 'processing' where id = $1 and state in ('uploaded', 'processing', 'failed')",
        id.0,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What processing found out about an asset.
pub(super) struct Finished<'a> {
    pub width: i32,
    pub height: i32,
    pub duration_ms: Option<i32>,
    pub blurhash: &'a str,
    /// A video's renditions and storyboard.
    pub hls: Option<serde_json::Value>,
}

/// How far a video's transcode has got, 0–100.
pub(super) async fn set_progress(
    conn: impl PgExecutor<'_>,
    id: MediaId,
    percent: i16,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update media_assets set progress = $2 where id = $1 and state = 'processing'",
        id.0,
        percent,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What was made of a ready video: renditions and storyboard.
pub(super) async fn hls(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "select hls from media_assets where id = $1 and state = 'ready'",
        id.0
    )
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// The key of a video's HLS segments.
pub(super) async fn key(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "select hls_key from media_assets where id = $1 and state = 'ready'",
        id.0
    )
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// The asset's HLS key: the one it has, or `fresh` stored as its key.
pub(super) async fn hls_key(
    conn: impl PgExecutor<'_>,
    id: MediaId,
    fresh: &[u8; 16],
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update media_assets set hls_key = coalesce(hls_key, $2) where id = $1 returning hls_key as "key!""#,
        id.0,
        &fresh[..],
    )
    .fetch_optional(conn)
    .await
}

pub(super) async fn mark_ready(
    conn: impl PgExecutor<'_>,
    id: MediaId,
    f: Finished<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update media_assets
        set state = 'ready', width = $2, height = $3, duration_ms = $4, blurhash = $5,
            hls = $6, progress = null, rejection_reason = null, processed_at = now()
        where id = $1
        "#,
        id.0,
        f.width,
        f.height,
        f.duration_ms,
        f.blurhash,
        f.hls,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn mark_rejected(
    conn: impl PgExecutor<'_>,
    id: MediaId,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update media_assets
        set state = 'rejected', rejection_reason = $2, width = null, height = null,
            duration_ms = null, blurhash = null, progress = null, hls = null, processed_at = now()
        where id = $1
        "#,
        id.0,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Processing gave up on our side; the upload is kept.
pub(super) async fn mark_failed(
    conn: impl PgExecutor<'_>,
    id: MediaId,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        update media_assets set state = 'failed', rejection_reason = $2, processed_at = now()
        where id = $1 and state in ('uploaded', 'processing')
        "#,
        id.0,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A processed file to record.
pub(super) struct NewVariant {
    pub name: String,
    pub object_key: String,
    pub content_type: &'static str,
    pub width: i32,
    pub height: i32,
    pub byte_size: i64,
}

/// Makes the asset's variant rows exactly `variants`: one row per name, updated in place
/// when a re-run made it again.
pub(super) async fn replace_variants(
    conn: &mut PgConnection,
    id: MediaId,
    variants: &[NewVariant],
) -> Result<(), sqlx::Error> {
    let names: Vec<String> = variants.iter().map(|v| v.name.clone()).collect();
    sqlx::query!(
        "delete from media_variants where asset_id = $1 and variant <> all($2::text[])",
        id.0,
        &names,
    )
    .execute(&mut *conn)
    .await?;
    for v in variants {
        sqlx::query!(
            r#"
            insert into media_variants (asset_id, variant, object_key, content_type, width, height, byte_size)
            values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (asset_id, variant) do update
            set object_key = excluded.object_key, content_type = excluded.content_type,
                width = excluded.width, height = excluded.height, byte_size = excluded.byte_size
            "#,
            id.0,
            v.name,
            v.object_key,
            v.content_type,
            v.width,
            v.height,
            v.byte_size,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Puts files under a legal hold (evidence of a moderation case) or lifts it.
pub(super) async fn set_legal_hold(
    conn: impl PgExecutor<'_>,
    ids: &[Uuid],
    on: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update media_assets set legal_hold = $2 where id = any($1)",
        ids,
        on
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a file is under a legal hold.
pub(super) async fn legal_hold(
    conn: impl PgExecutor<'_>,
    id: MediaId,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar!("select legal_hold from media_assets where id = $1", id.0)
            .fetch_optional(conn)
            .await?
            .unwrap_or(false),
    )
}
