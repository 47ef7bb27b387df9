//! The rules of media: who may upload what and how much, completing an upload, who may
//! see an asset (the one entitlement check every URL goes through), deletion and cleanup.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{self, NewAsset};
use super::jobs::{DeleteMedia, ProcessMedia, ProcessVideo};
use super::types::{Asset, Kind, MediaId, Purpose, State, Variant, sanitize_filename};
use crate::accounts::{Authenticated, Role, User, UserId};
use crate::error::{AppError, FieldErrors};
use crate::state::AppState;
use crate::storage::{PresignedUpload, StorageKey};

/// An upload request, as received.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// `image` or `video`.
    pub kind: Kind,
    /// What it is for.
    pub purpose: Purpose,
    /// Declared content type (signed into the upload URL).
    pub content_type: String,
    /// Declared size in bytes (signed into the upload URL).
    pub byte_size: i64,
    /// The file's name on the uploader's device.
    pub filename: String,
}

/// A new upload: the asset and how to send its bytes.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The asset, awaiting its bytes.
    pub asset: Asset,
    /// The presigned request.
    pub upload: PresignedUpload,
    /// When the request stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a viewer may do with an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The owner: everything, the original included.
    Owner,
    /// Its processed variants only.
    Variants,
    /// Nothing.
    None,
}

/// The check that needs no database: owners see everything, and profile images (avatars
/// and banners, once ready) are public. Post media is decided by the posts' entitlement
/// rule in [`get`], which every media URL goes through.
pub fn access(viewer: Option<&User>, asset: &Asset) -> Access {
    if viewer.is_some_and(|v| v.id == asset.owner_id) {
        return Access::Owner;
    }
    let public =
        matches!(asset.purpose, Purpose::Avatar | Purpose::Banner) && asset.state == State::Ready;
    if public {
        Access::Variants
    } else {
        Access::None
    }
}

/// Validates an upload request, checks quotas, records the asset and signs the upload.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn create_upload(
    state: &AppState,
    who: &Authenticated,
    req: UploadRequest,
) -> Result<NewUpload, AppError> {
    let media = &state.settings.media;
    let mut fields = FieldErrors::new();
    let mut add = |field: &str, msg: String| fields.entry(field.to_owned()).or_default().push(msg);
    match req.purpose {
        Purpose::Post if !matches!(who.user.role, Role::Creator | Role::Admin) => {
            return Err(AppError::Forbidden);
        }
        Purpose::Avatar | Purpose::Banner if req.kind != Kind::Image => {
            add(
                "kind",
                format!("a {} must be an image", req.purpose.as_str()),
            );
        }
        _ => {}
    }
    let content_type = req.content_type.trim().to_ascii_lowercase();
    if let Some(refusal) = req.kind.refusal(&content_type) {
        add("content_type", refusal);
    }
    let limit = match req.kind {
        Kind::Image => media.media_max_image_bytes,
        Kind::Video => media.media_max_video_bytes,
    };
    let size = u64::try_from(req.byte_size).unwrap_or(0);
    if size == 0 {
        add("byte_size", "must be more than zero".into());
    } else if size > limit {
        add(
            "byte_size",
            format!("is over the {limit}-byte limit for {}s", req.kind.as_str()),
        );
    }
    if !fields.is_empty() {
        return Err(AppError::Validation(fields));
    }
    // The quota and the pending count are checked and the asset recorded under one lock
    // per account, so uploads started at the same moment cannot pass the limits together.
    let mut tx = state.db.begin().await?;
    db::lock_owner(&mut *tx, who.user.id).await?;
    let used = db::storage_used(&mut *tx, who.user.id).await?;
    let quota = media.media_storage_quota_bytes;
    if u64::try_from(used).unwrap_or(0).saturating_add(size) > quota {
        return Err(AppError::Conflict(format!(
            "this file would take your storage past its quota ({} of {} used); delete files you no longer need first",
            bytes_text(used),
            bytes_text(i64::try_from(quota).unwrap_or(i64::MAX))
        )));
    }
    let pending = db::count_awaiting(&mut *tx, who.user.id).await?;
    if pending >= i64::from(media.media_max_pending_uploads) {
        return Err(AppError::Conflict(format!(
            "you have {pending} unfinished uploads; finish or delete them first"
        )));
    }

    let id = MediaId(Uuid::now_v7());
    let key = StorageKey::upload(id.0);
    let filename = sanitize_filename(&req.filename);
    let valid_for = media.upload_url_ttl.0;
    let storage = state.storage()?;
    let (upload, expires_at) = storage
        .presign_upload(&key, &content_type, size, valid_for)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let asset = db::insert(
        &mut *tx,
        &NewAsset {
            id,
            owner: who.user.id,
            kind: req.kind,
            purpose: req.purpose,
            content_type: &content_type,
            byte_size: req.byte_size,
            original_filename: filename.as_deref(),
            object_key: key.as_str(),
            upload_valid_for: valid_for,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(media_id = %id, kind = req.kind.as_str(), size, "upload requested");
    Ok(NewUpload {
        asset,
        upload,
        expires_at,
    })
}

/// An account's storage: bytes used and its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes kept (files and the sizes made from them).
    pub used_bytes: i64,
    /// `MEDIA_STORAGE_QUOTA_BYTES`.
    pub quota_bytes: i64,
}

/// What `owner` keeps in storage, against the quota.
pub async fn usage(state: &AppState, owner: UserId) -> Result<Usage, AppError> {
    Ok(Usage {
        used_bytes: db::storage_used(&state.db, owner).await?,
        quota_bytes: i64::try_from(state.settings.media.media_storage_quota_bytes)
            .unwrap_or(i64::MAX),
    })
}

/// Bytes as people read them (`1.5 GB`, decimal units).
pub fn bytes_text(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    #[expect(clippy::cast_precision_loss, reason = "a rounded figure for people")]
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} {}", UNITS[0])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Hands an asset to deletion inside the caller's transaction (a profile image that was
/// replaced): hidden at once, its objects and row removed by a job.
pub async fn discard(conn: &mut sqlx::PgConnection, id: MediaId) -> Result<(), sqlx::Error> {
    db::mark_deleting(&mut *conn, id).await?;
    crate::jobs::enqueue(&mut *conn, &DeleteMedia { asset_id: id }).await?;
    Ok(())
}

/// Marks an upload complete once its object is in storage with the signed size, and
/// enqueues its processing in the same transaction. Completing twice is harmless.
#[tracing::instrument(skip_all, fields(media_id = %id))]
pub async fn complete(
    state: &AppState,
    who: &Authenticated,
    id: MediaId,
) -> Result<Asset, AppError> {
    let asset = db::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
    // Someone else's asset is as good as missing.
    if asset.owner_id != who.user.id {
        return Err(AppError::NotFound);
    }
    if asset.state != State::AwaitingUpload {
        return Ok(asset);
    }
    let object = state
        .storage()?
        .head(&StorageKey::trusted(asset.object_key.clone()))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or_else(|| AppError::Conflict("the file has not been uploaded yet".into()))?;
    if i64::try_from(object.size).ok() != Some(asset.byte_size) {
        return Err(AppError::Conflict(format!(
            "the stored file has {} bytes, not the declared {}",
            object.size, asset.byte_size
        )));
    }
    let mut tx = state.db.begin().await?;
    let Some(locked) = db::get_for_update(&mut tx, id).await? else {
        return Err(AppError::NotFound);
    };
    if locked.state == State::AwaitingUpload {
        db::mark_uploaded(&mut *tx, id).await?;
        // Typed, so the job's own priority and attempts apply.
        match locked.kind {
            Kind::Image => crate::jobs::enqueue(&mut *tx, &ProcessMedia { asset_id: id }).await?,
            Kind::Video => crate::jobs::enqueue(&mut *tx, &ProcessVideo { asset_id: id }).await?,
        };
    }
    let asset = db::get(&mut *tx, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    tracing::info!("upload completed");
    Ok(asset)
}

/// An asset as `viewer` may see it, with its variants.
pub async fn get(
    state: &AppState,
    viewer: Option<&User>,
    id: MediaId,
) -> Result<(Asset, Access, Vec<Variant>), AppError> {
    let asset = db::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let mut access = access(viewer, &asset);
    if access == Access::None
        && asset.purpose == Purpose::Post
        && asset.state == State::Ready
        && (crate::posts::asset_visible(state, viewer, asset.id.0).await?
            || crate::messages::asset_visible(state, viewer, asset.id.0).await?)
    {
        access = Access::Variants;
    }
    if access == Access::None {
        return Err(AppError::Forbidden);
    }
    let variants = db::variants(&state.db, id).await?;
    Ok((asset, access, variants))
}

/// A signed URL for one of an asset's files (`original` for the upload itself, which only
/// its owner may have). The entitlement check runs before anything is signed.
pub async fn url(
    state: &AppState,
    viewer: Option<&User>,
    id: MediaId,
    variant: &str,
) -> Result<(String, DateTime<Utc>), AppError> {
    let (asset, access, variants) = get(state, viewer, id).await?;
    let key = if variant == "original" {
        if access != Access::Owner {
            return Err(AppError::Forbidden);
        }
        if matches!(asset.state, State::AwaitingUpload) {
            return Err(AppError::Conflict(
                "the file has not been uploaded yet".into(),
            ));
        }
        StorageKey::trusted(asset.object_key)
    } else {
        let v = variants
            .into_iter()
            .find(|v| v.name == variant)
            .ok_or(AppError::NotFound)?;
        StorageKey::trusted(v.object_key)
    };
    state
        .storage()?
        .signed_url(&key, state.settings.media.media_url_ttl.0)
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// Deletes an asset of the caller's: hidden at once, objects and row removed by a job (so a
/// crash cannot leave orphans).
pub async fn delete(state: &AppState, who: &Authenticated, id: MediaId) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let asset = db::get_for_update(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if asset.owner_id != who.user.id {
        return Err(AppError::NotFound);
    }
    if db::legal_hold(&mut *tx, id).await? {
        return Err(AppError::Conflict(
            "this file is kept as evidence for a moderation case and cannot be deleted now".into(),
        ));
    }
    if crate::posts::asset_in_live_post(&mut tx, id.0).await? {
        return Err(AppError::Conflict(
            "this file is in a post; remove it from the post (or delete the post) first".into(),
        ));
    }
    db::mark_deleting(&mut *tx, id).await?;
    crate::jobs::enqueue(&mut *tx, &DeleteMedia { asset_id: id }).await?;
    tx.commit().await?;
    tracing::info!(media_id = %id, "media deletion requested");
    Ok(())
}

/// Deletes every file of an account being deleted, inside the deletion's transaction:
/// hidden at once (no URL is signed for an asset being deleted), objects and rows removed by
/// one deletion job each, on whichever storage holds them.
pub async fn close_account(
    conn: &mut sqlx::PgConnection,
    owner: UserId,
) -> Result<(), sqlx::Error> {
    let ids = db::mark_all_deleting(&mut *conn, owner).await?;
    for id in &ids {
        crate::jobs::enqueue(
            &mut *conn,
            &DeleteMedia {
                asset_id: MediaId(*id),
            },
        )
        .await?;
    }
    if !ids.is_empty() {
        tracing::info!(
            assets = ids.len(),
            "media handed to deletion with their account"
        );
    }
    Ok(())
}

/// Puts files under a legal hold (moderation keeps a removed post's or message's files as
/// evidence: neither their owner nor an account deletion can remove them) or lifts it, in
/// the caller's transaction.
pub async fn set_legal_hold(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
    on: bool,
) -> Result<(), sqlx::Error> {
    db::set_legal_hold(conn, ids, on).await
}

/// Removes an asset's objects, then its row (idempotent; the deletion job).
pub(super) async fn purge(state: &AppState, id: MediaId) -> Result<(), anyhow::Error> {
    // A hold placed after the deletion was asked for wins: the files are evidence.
    if db::legal_hold(&state.db, id).await? {
        tracing::info!(media_id = %id, "deletion skipped: the file is under a legal hold");
        return Ok(());
    }
    state.storage()?.delete_asset(id.0).await?;
    db::delete(&state.db, id).await?;
    Ok(())
}

/// Hands uploads abandoned for `UPLOAD_ABANDON_AFTER` to the deletion job, in batches.
pub(super) async fn abandon_stale_uploads(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut tx = state.db.begin().await?;
    let ids = db::abandon(&mut *tx, state.settings.media.upload_abandon_after.0, 500).await?;
    for id in &ids {
        crate::jobs::enqueue(
            &mut *tx,
            &DeleteMedia {
                asset_id: MediaId(*id),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// An asset by id (deleting ones are as good as gone), for other features' checks.
pub async fn find(
    conn: impl sqlx::PgExecutor<'_>,
    id: MediaId,
) -> Result<Option<Asset>, sqlx::Error> {
    db::get(conn, id).await
}

/// The ready variants called `names` of these assets (for public profile images).
pub async fn ready_variants(
    conn: impl sqlx::PgExecutor<'_>,
    ids: &[Uuid],
    names: &[&str],
) -> Result<Vec<(Uuid, Variant)>, sqlx::Error> {
    db::ready_variants(conn, ids, names).await
}
