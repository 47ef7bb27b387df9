//! JSON handlers of `/api/v1/media/...`: upload intents, completion, status, signed URLs,
//! deletion.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Access, UploadRequest};
use super::types::{Asset, Kind, MediaId, Purpose, State as MediaState, Variant};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, CurrentUser, MaybeUser, PathId};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_upload))
        .routes(routes!(complete_upload))
        .routes(routes!(get_media, delete_media))
        .routes(routes!(media_url))
        .routes(routes!(storage_usage))
}

/// What an account keeps in storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageResponse {
    /// Bytes kept: every file (unfinished uploads at their declared size) and the sizes
    /// made from them.
    pub used_bytes: i64,
    /// The most the account may keep (`MEDIA_STORAGE_QUOTA_BYTES`); an upload that would
    /// pass it is refused with 409.
    pub quota_bytes: i64,
}

/// Your storage: bytes used and your quota.
#[utoipa::path(get, path = "/api/v1/media/usage", tag = "media",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Bytes used and the quota", body = UsageResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn storage_usage(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<UsageResponse>, AppError> {
    let u = service::usage(&state, user.user.id).await?;
    Ok(axum::Json(UsageResponse {
        used_bytes: u.used_bytes,
        quota_bytes: u.quota_bytes,
    }))
}

/// Ask to upload a file.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUploadRequest {
    /// `image` or `video`.
    pub kind: Kind,
    /// The file's content type (JPEG, PNG, WebP, GIF for images; MP4, QuickTime, WebM for
    /// videos).
    #[schema(
        example = "image/jpeg",
        pattern = "^(image/(jpeg|png|webp|gif)|video/(mp4|quicktime|webm))$"
    )]
    pub content_type: String,
    /// The file's exact size in bytes (at most the site's limit for its kind).
    #[schema(example = 2_345_678, minimum = 1)]
    pub byte_size: i64,
    /// The file's name on the device (kept as information only; longer names are cut).
    #[serde(default)]
    #[schema(example = "IMG_0042.jpg")]
    pub filename: String,
    /// What it is for (default `post`; posts are for creators).
    #[serde(default)]
    pub purpose: Purpose,
}

/// How to send the bytes: exactly this request, straight to storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadInstructions {
    /// HTTP method (`PUT`).
    #[schema(example = "PUT")]
    pub method: String,
    /// Where to send it.
    pub url: String,
    /// Headers to send exactly as given (content type and length are signed).
    pub headers: BTreeMap<String, String>,
}

impl From<crate::storage::PresignedUpload> for UploadInstructions {
    fn from(u: crate::storage::PresignedUpload) -> Self {
        UploadInstructions {
            method: u.method,
            url: u.url,
            headers: u.headers,
        }
    }
}

/// A new upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreateUploadResponse {
    /// The new asset's id (then `POST /api/v1/media/{id}/complete`).
    pub asset_id: MediaId,
    /// The request that uploads the bytes.
    pub upload: UploadInstructions,
    /// When `upload` stops working.
    pub expires_at: DateTime<Utc>,
}

/// A processed file.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantResponse {
    /// Its name: `thumb`, `grid` or `full` (320, 960, 2048 px on the long edge) with `.webp`
    /// or `.jpg`, and for videos `video.mp4` or `video.webm`.
    pub name: String,
    /// Content type.
    pub content_type: String,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// Bytes.
    pub byte_size: i64,
}

/// An asset as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaResponse {
    /// Id.
    pub id: MediaId,
    /// `image` or `video`.
    pub kind: Kind,
    /// What it is for.
    pub purpose: Purpose,
    /// Where it is in its life.
    pub state: MediaState,
    /// Declared content type.
    pub content_type: String,
    /// Pixels (once processed).
    pub width: Option<i32>,
    /// Pixels (once processed).
    pub height: Option<i32>,
    /// Video length (once processed).
    pub duration_ms: Option<i32>,
    /// Placeholder to show while loading (once processed).
    pub blurhash: Option<String>,
    /// The processed files.
    pub variants: Vec<VariantResponse>,
    /// Owner only: the declared size.
    pub byte_size: Option<i64>,
    /// Owner only: the file name it was uploaded with.
    pub original_filename: Option<String>,
    /// Owner only: why it was refused.
    pub rejection_reason: Option<String>,
    /// Owner only: how far a video's transcode has got (percent), while it runs.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i16>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

fn media_response(asset: Asset, access: Access, variants: Vec<Variant>) -> MediaResponse {
    let owner = access == Access::Owner;
    MediaResponse {
        id: asset.id,
        kind: asset.kind,
        purpose: asset.purpose,
        state: asset.state,
        content_type: asset.content_type,
        width: asset.width,
        height: asset.height,
        duration_ms: asset.duration_ms,
        blurhash: asset.blurhash,
        variants: variants
            .into_iter()
            .map(|v| VariantResponse {
                name: v.name,
                content_type: v.content_type,
                width: v.width,
                height: v.height,
                byte_size: v.byte_size,
            })
            .collect(),
        byte_size: owner.then_some(asset.byte_size),
        original_filename: if owner { asset.original_filename } else { None },
        rejection_reason: if owner { asset.rejection_reason } else { None },
        progress: if owner { asset.progress } else { None },
        created_at: asset.created_at,
    }
}

/// A signed URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaUrlResponse {
    /// The URL (short-lived; the same for everyone asking within a minute).
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Which file to sign.
#[derive(Debug, Deserialize)]
pub struct UrlQuery {
    /// A variant name, or `original` (owner only). Default `original`.
    #[serde(default = "original")]
    pub variant: String,
}

fn original() -> String {
    "original".into()
}

/// Starts an upload: checks type and size, and returns a presigned request that sends the
/// file straight to storage (its signature covers the exact content type and length).
#[utoipa::path(post, path = "/api/v1/media/uploads", tag = "media", request_body = CreateUploadRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Upload instructions", body = CreateUploadResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Post media is for creators", body = ErrorBody),
        (status = 409, description = "Too many unfinished uploads, or the storage quota would be passed", body = ErrorBody),
        (status = 422, description = "Type not accepted, size over the limit, or a field of the wrong type", body = ErrorBody),
    ))]
async fn create_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateUploadRequest>,
) -> Result<Response, AppError> {
    let new = service::create_upload(
        &state,
        &user,
        UploadRequest {
            kind: req.kind,
            purpose: req.purpose,
            content_type: req.content_type,
            byte_size: req.byte_size,
            filename: req.filename,
        },
    )
    .await?;
    let body = CreateUploadResponse {
        asset_id: new.asset.id,
        upload: new.upload.into(),
        expires_at: new.expires_at,
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Marks an upload done once the bytes are in storage with the declared size; processing
/// starts. Calling it again is harmless.
#[utoipa::path(post, path = "/api/v1/media/{id}/complete", tag = "media",
    params(("id" = MediaId, Path, description = "The asset")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "Uploaded; processing", body = MediaResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such asset of yours", body = ErrorBody),
        (status = 409, description = "Not uploaded yet, or not the declared size", body = ErrorBody),
    ))]
async fn complete_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MediaId>,
) -> Result<Response, AppError> {
    let asset = service::complete(&state, &user, id).await?;
    let variants = Vec::new();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(media_response(asset, Access::Owner, variants)),
    )
        .into_response())
}

/// An asset's state, dimensions, placeholder and variants; owners also see its file
/// name, size and any rejection reason.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media",
    params(("id" = MediaId, Path, description = "The asset")),
    responses(
        (status = 200, description = "The asset", body = MediaResponse),
        (status = 403, description = "Not yours, and not public", body = ErrorBody),
        (status = 404, description = "No such asset", body = ErrorBody),
    ))]
async fn get_media(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    PathId(id): PathId<MediaId>,
) -> Result<axum::Json<MediaResponse>, AppError> {
    let viewer = user.as_ref().map(|u| &u.user);
    let (asset, access, variants) = service::get(&state, viewer, id).await?;
    Ok(axum::Json(media_response(asset, access, variants)))
}

/// Deletes an asset of yours: it disappears at once; its files are removed in the
/// background.
#[utoipa::path(delete, path = "/api/v1/media/{id}", tag = "media",
    params(("id" = MediaId, Path, description = "The asset")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "Deleting"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such asset of yours", body = ErrorBody),
    ))]
async fn delete_media(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MediaId>,
) -> Result<StatusCode, AppError> {
    service::delete(&state, &user, id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A short-lived signed URL for one of an asset's files. Asked for media you may not see,
/// it answers 403 and no URL.
#[utoipa::path(get, path = "/api/v1/media/{id}/url", tag = "media",
    params(
        ("id" = MediaId, Path, description = "The asset"),
        ("variant" = Option<String>, Query, description = "A variant name, or `original` (owner only; the default)"),
    ),
    responses(
        (status = 200, description = "The URL", body = MediaUrlResponse),
        (status = 403, description = "Not yours, and not public (or the original of someone else's)", body = ErrorBody),
        (status = 404, description = "No such asset or variant", body = ErrorBody),
        (status = 409, description = "Not uploaded yet", body = ErrorBody),
    ))]
async fn media_url(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    PathId(id): PathId<MediaId>,
    Query(q): Query<UrlQuery>,
) -> Result<axum::Json<MediaUrlResponse>, AppError> {
    let viewer = user.as_ref().map(|u| &u.user);
    let (url, expires_at) = service::url(&state, viewer, id, &q.variant).await?;
    Ok(axum::Json(MediaUrlResponse { url, expires_at }))
}
