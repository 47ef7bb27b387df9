//! Protected HLS (ADR 0026): the master playlist is answered only to viewers the one
//! entitlement rule allows (`service::get`, as for every media URL). It points to the
//! rendition playlists, the storyboard and the key at app URLs carrying a grant — an HMAC
//! of (asset, viewer, expiry) — so a player needs no cookie or credential to follow them,
//! and each of those re-decides the viewer's entitlement, so a lapsed subscriber loses the
//! key at once. Rendition playlists point to segments signed for a short time
//! (`Storage::hls_urls`: one grant for the stream's folder locally and on CloudFront,
//! presigned files on S3); the segments are AES-128 encrypted with the key only this
//! module hands out.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service;
use super::types::{Kind, MediaId, State as MediaState};
use super::{db, types::Asset};
use crate::accounts::UserId;
use crate::crypto::{constant_time_eq, hmac_b64};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::MaybeUser;
use crate::state::AppState;
use crate::storage::StorageKey;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(master_playlist))
        .routes(routes!(rendition_playlist))
        .routes(routes!(hls_key))
        .routes(routes!(storyboard))
}

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

/// The master playlist's `EXT-X-SESSION-DATA` id naming the storyboard's cues.
pub const STORYBOARD_ID: &str = "com.zinovia.storyboard";

/// The grant every URL of a stream carries.
#[derive(Debug, Deserialize)]
pub struct Grant {
    /// The viewer it was made for (empty: signed out).
    #[serde(default)]
    viewer: String,
    /// When it stops working (Unix seconds).
    #[serde(default)]
    expires: i64,
    /// Its signature.
    #[serde(default)]
    token: String,
}

fn sign(state: &AppState, asset: MediaId, viewer: &str, expires: i64) -> Result<String, AppError> {
    let secret = state.session_secret()?;
    Ok(hmac_b64(
        secret.expose_secret().as_bytes(),
        format!("hls:{}:{viewer}:{expires}", asset.0).as_bytes(),
    ))
}

/// The query string of a fresh grant for `viewer`, valid for `MEDIA_URL_TTL`.
fn grant_query(
    state: &AppState,
    asset: MediaId,
    viewer: Option<UserId>,
) -> Result<String, AppError> {
    let viewer = viewer.map(|v| v.0.to_string()).unwrap_or_default();
    let ttl = i64::try_from(state.settings.media.media_url_ttl.0.as_secs()).unwrap_or(300);
    let expires = chrono::Utc::now().timestamp() + ttl;
    let token = sign(state, asset, &viewer, expires)?;
    Ok(format!("viewer={viewer}&expires={expires}&token={token}"))
}

/// The asset behind a grant, if the grant is genuine and current and its viewer may still
/// see the video (decided again, now).
async fn granted(state: &AppState, id: &str, g: &Grant) -> Result<(Asset, String), AppError> {
    let id = uuid::Uuid::parse_str(id)
        .map(MediaId)
        .map_err(|_| AppError::NotFound)?;
    if !constant_time_eq(&sign(state, id, &g.viewer, g.expires)?, &g.token) {
        return Err(AppError::Forbidden);
    }
    if g.expires < chrono::Utc::now().timestamp() {
        return Err(AppError::Forbidden);
    }
    let viewer = if g.viewer.is_empty() {
        None
    } else {
        let uid = uuid::Uuid::parse_str(&g.viewer).map_err(|_| AppError::Forbidden)?;
        Some(
            crate::accounts::find_user(state, UserId(uid))
                .await?
                .ok_or(AppError::Forbidden)?,
        )
    };
    let (asset, _, _) = service::get(state, viewer.as_ref(), id).await?;
    let query = grant_query(state, id, viewer.map(|u| u.id))?;
    Ok((asset, query))
}

/// The renditions recorded for a ready video, or 404.
async fn summary(state: &AppState, asset: &Asset) -> Result<serde_json::Value, AppError> {
    if asset.kind != Kind::Video || asset.state != MediaState::Ready {
        return Err(AppError::NotFound);
    }
    db::hls(&state.db, asset.id)
        .await?
        .ok_or(AppError::NotFound)
}

fn playlist(body: String, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A stored text file of the stream (a playlist or the storyboard's cues).
async fn stored_text(state: &AppState, asset: MediaId, rel: &str) -> Result<String, AppError> {
    let key = StorageKey::hls(asset.0, rel).ok_or(AppError::NotFound)?;
    let file = tempfile::NamedTempFile::new().map_err(|e| AppError::Internal(e.into()))?;
    state
        .storage()?
        .get_to_file(&key, file.path())
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    tokio::fs::read_to_string(file.path())
        .await
        .map_err(|e| AppError::Internal(e.into()))
}

/// A video's master playlist, for a viewer who may see it: its renditions (bandwidth,
/// resolution, codecs) and sound, at URLs that work without cookies for a few minutes.
#[utoipa::path(get, path = "/api/v1/media/{id}/hls/master.m3u8", tag = "media",
    params(("id" = MediaId, Path, description = "The video")),
    responses(
        (status = 200, description = "The master playlist", content_type = "application/vnd.apple.mpegurl", body = String),
        (status = 403, description = "You may not see this video", body = ErrorBody),
        (status = 404, description = "No such video, or not ready", body = ErrorBody),
    ))]
async fn master_playlist(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = uuid::Uuid::parse_str(&id)
        .map(MediaId)
        .map_err(|_| AppError::NotFound)?;
    let viewer = user.as_ref().map(|u| &u.user);
    let (asset, _, _) = service::get(&state, viewer, id).await?;
    let hls = summary(&state, &asset).await?;
    let q = grant_query(&state, id, viewer.map(|u| u.id))?;
    let renditions = hls["renditions"].as_array().cloned().unwrap_or_default();
    let audio = renditions
        .iter()
        .any(|r| r["codecs"].as_str().is_some_and(|c| c.contains("mp4a")));
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    // Where the storyboard is (players ignore data they do not know; ours reads it).
    if hls["storyboard"].is_object() {
        m.push_str(&format!(
            "#EXT-X-SESSION-DATA:DATA-ID=\"{STORYBOARD_ID}\",VALUE=\"storyboard.vtt?{q}\"\n"
        ));
    }
    if audio {
        m.push_str(&format!("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Sound\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8?{q}\"\n"));
    }
    for r in &renditions {
        let (Some(name), Some(codecs)) = (r["name"].as_str(), r["codecs"].as_str()) else {
            continue;
        };
        m.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{codecs}\"{}\n{name}/index.m3u8?{q}\n",
            r["bandwidth"], r["average_bandwidth"], r["width"], r["height"],
            if audio { ",AUDIO=\"audio\"" } else { "" },
        ));
    }
    Ok(playlist(m, PLAYLIST))
}

/// A rendition's playlist (or the sound's, `audio`): its init section and segments at
/// short-lived signed URLs, and the key's URL. Needs the grant of the master playlist.
#[utoipa::path(get, path = "/api/v1/media/{id}/hls/{rendition}/index.m3u8", tag = "media",
    params(
        ("id" = MediaId, Path, description = "The video"),
        ("rendition" = String, Path, description = "A rendition (`720p`) or `audio`"),
        ("viewer" = Option<String>, Query, description = "The grant's viewer (from the master playlist)"),
        ("expires" = i64, Query, description = "The grant's expiry (Unix seconds)"),
        ("token" = String, Query, description = "The grant's signature"),
    ),
    responses(
        (status = 200, description = "The media playlist", content_type = "application/vnd.apple.mpegurl", body = String),
        (status = 403, description = "The grant is not genuine, has expired, or its viewer may no longer see the video", body = ErrorBody),
        (status = 404, description = "No such video or rendition", body = ErrorBody),
    ))]
async fn rendition_playlist(
    State(state): State<AppState>,
    Path((id, rendition)): Path<(String, String)>,
    Query(g): Query<Grant>,
) -> Result<Response, AppError> {
    let (asset, q) = granted(&state, &id, &g).await?;
    let hls = summary(&state, &asset).await?;
    let known = rendition == "audio"
        || hls["renditions"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["name"] == rendition.as_str()));
    if !known {
        return Err(AppError::NotFound);
    }
    let text = stored_text(&state, asset.id, &format!("hls/{rendition}/index.m3u8")).await?;
    // The files it names, signed together.
    let mut files: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(init) = line
            .strip_prefix("#EXT-X-MAP:URI=\"")
            .and_then(|r| r.strip_suffix('"'))
        {
            files.push(format!("{rendition}/{init}"));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            files.push(format!("{rendition}/{}", line.trim()));
        }
    }
    let rels: Vec<&str> = files.iter().map(String::as_str).collect();
    let (urls, _) = state
        .storage()?
        .hls_urls(asset.id.0, &rels, state.settings.media.media_url_ttl.0)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut urls = urls.into_iter();
    let key_url = format!("/api/v1/media/{}/hls/key?{q}", asset.id.0);
    let mut out = String::with_capacity(text.len() * 3);
    for line in text.lines() {
        if line.starts_with("#EXT-X-MAP:") {
            out.push_str(&format!(
                "#EXT-X-MAP:URI=\"{}\"\n",
                urls.next().unwrap_or_default()
            ));
        } else if line.starts_with("#EXT-X-KEY:") {
            out.push_str(&format!("#EXT-X-KEY:METHOD=AES-128,URI=\"{key_url}\"\n"));
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            out.push_str(&urls.next().unwrap_or_default());
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(playlist(out, PLAYLIST))
}

/// A video's AES-128 segment key: 16 raw bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(dead_code, reason = "only describes the response body")]
struct KeyBytes(Vec<u8>);

/// The key of a video's segments (16 bytes), for a viewer who may still see it.
#[utoipa::path(get, path = "/api/v1/media/{id}/hls/key", tag = "media",
    params(
        ("id" = MediaId, Path, description = "The video"),
        ("viewer" = Option<String>, Query, description = "The grant's viewer (from the master playlist)"),
        ("expires" = i64, Query, description = "The grant's expiry (Unix seconds)"),
        ("token" = String, Query, description = "The grant's signature"),
    ),
    responses(
        (status = 200, description = "The AES-128 key", content_type = "application/octet-stream", body = KeyBytes),
        (status = 403, description = "The grant is not genuine, has expired, or its viewer may no longer see the video", body = ErrorBody),
        (status = 404, description = "No such video", body = ErrorBody),
    ))]
async fn hls_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(g): Query<Grant>,
) -> Result<Response, AppError> {
    let (asset, _) = granted(&state, &id, &g).await?;
    summary(&state, &asset).await?;
    let key = db::key(&state.db, asset.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        key,
    )
        .into_response())
}

/// The storyboard's WebVTT cues, pointing into its sprite sheets at signed URLs.
#[utoipa::path(get, path = "/api/v1/media/{id}/hls/storyboard.vtt", tag = "media",
    params(
        ("id" = MediaId, Path, description = "The video"),
        ("viewer" = Option<String>, Query, description = "The grant's viewer (from the master playlist)"),
        ("expires" = i64, Query, description = "The grant's expiry (Unix seconds)"),
        ("token" = String, Query, description = "The grant's signature"),
    ),
    responses(
        (status = 200, description = "WebVTT cues", content_type = "text/vtt", body = String),
        (status = 403, description = "The grant is not genuine, has expired, or its viewer may no longer see the video", body = ErrorBody),
        (status = 404, description = "No such video", body = ErrorBody),
    ))]
async fn storyboard(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(g): Query<Grant>,
) -> Result<Response, AppError> {
    let (asset, _) = granted(&state, &id, &g).await?;
    summary(&state, &asset).await?;
    let text = stored_text(&state, asset.id, "hls/storyboard.vtt").await?;
    let mut sheets: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('#').map(|(f, _)| f))
        .filter(|f| f.starts_with("sb/"))
        .collect();
    sheets.dedup();
    let (urls, _) = state
        .storage()?
        .hls_urls(asset.id.0, &sheets, state.settings.media.media_url_ttl.0)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut out = String::with_capacity(text.len() * 3);
    for line in text.lines() {
        match line.split_once('#') {
            Some((file, frag)) if file.starts_with("sb/") => {
                let url = sheets
                    .iter()
                    .position(|s| *s == file)
                    .and_then(|i| urls.get(i))
                    .cloned()
                    .unwrap_or_default();
                out.push_str(&format!("{url}#{frag}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(playlist(out, "text/vtt"))
}
