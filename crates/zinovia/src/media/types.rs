//! Media's ids, states and validated upload requests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::UserId;

crate::id::id_type! {
    /// A media asset's id.
    pub struct MediaId;
}

/// Image or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A photo.
    Image,
    /// A video clip.
    Video,
}

impl Kind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
        }
    }

    /// From its stored form (the table allows only these two).
    pub fn from_db(s: &str) -> Kind {
        if s == "video" {
            Kind::Video
        } else {
            Kind::Image
        }
    }

    /// The content types accepted for this kind. HEIC/HEIF join when the worker decodes
    /// them; until then they would only be rejected after upload.
    pub fn allowed_types(self) -> &'static [&'static str] {
        match self {
            Kind::Image => &["image/jpeg", "image/png", "image/webp", "image/gif"],
            Kind::Video => &["video/mp4", "video/quicktime", "video/webm"],
        }
    }
}

/// What an asset is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Media of a post (creators only).
    #[default]
    Post,
    /// A profile picture (anyone; images only; shown publicly once ready).
    Avatar,
    /// A profile banner (anyone; images only; shown publicly once ready).
    Banner,
}

impl Purpose {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Post => "post",
            Purpose::Avatar => "avatar",
            Purpose::Banner => "banner",
        }
    }

    fn from_db(s: &str) -> Purpose {
        match s {
            "avatar" => Purpose::Avatar,
            "banner" => Purpose::Banner,
            _ => Purpose::Post,
        }
    }
}

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for the client to upload the bytes.
    AwaitingUpload,
    /// Uploaded; waiting for the worker.
    Uploaded,
    /// The worker is on it.
    Processing,
    /// Variants made; can be shown.
    Ready,
    /// Refused by the worker (see `rejection_reason`); its files are deleted.
    Rejected,
    /// Processing kept failing for reasons that are not the file's (storage or the
    /// scanner down past every retry); the upload is kept and may be retried.
    Failed,
    /// Being deleted.
    Deleting,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingUpload => "awaiting_upload",
            State::Uploaded => "uploaded",
            State::Processing => "processing",
            State::Ready => "ready",
            State::Rejected => "rejected",
            State::Failed => "failed",
            State::Deleting => "deleting",
        }
    }

    fn from_db(s: &str) -> State {
        match s {
            "uploaded" => State::Uploaded,
            "processing" => State::Processing,
            "ready" => State::Ready,
            "rejected" => State::Rejected,
            "failed" => State::Failed,
            "deleting" => State::Deleting,
            _ => State::AwaitingUpload,
        }
    }
}

/// A media asset.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Id.
    pub id: MediaId,
    /// Who uploaded it.
    pub owner_id: UserId,
    /// Image or video.
    pub kind: Kind,
    /// What it is for.
    pub purpose: Purpose,
    /// Where it is in its life.
    pub state: State,
    /// Declared content type.
    pub content_type: String,
    /// Declared (and signed) size.
    pub byte_size: i64,
    /// The uploader's file name, sanitised.
    pub original_filename: Option<String>,
    /// Where the upload is stored.
    pub object_key: String,
    /// Pixels (once processed).
    pub width: Option<i32>,
    /// Pixels (once processed).
    pub height: Option<i32>,
    /// Video length (once processed).
    pub duration_ms: Option<i32>,
    /// Placeholder (once processed).
    pub blurhash: Option<String>,
    /// Why the worker refused it.
    pub rejection_reason: Option<String>,
    /// When the upload URL stops working.
    pub upload_expires_at: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The raw row (the `db` module reads into it).
#[derive(Debug)]
pub(super) struct AssetRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub kind: String,
    pub purpose: String,
    pub state: String,
    pub content_type: String,
    pub byte_size: i64,
    pub original_filename: Option<String>,
    pub object_key: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub blurhash: Option<String>,
    pub rejection_reason: Option<String>,
    pub upload_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<AssetRow> for Asset {
    fn from(r: AssetRow) -> Asset {
        Asset {
            id: MediaId(r.id),
            owner_id: UserId(r.owner_id),
            kind: Kind::from_db(&r.kind),
            purpose: Purpose::from_db(&r.purpose),
            state: State::from_db(&r.state),
            content_type: r.content_type,
            byte_size: r.byte_size,
            original_filename: r.original_filename,
            object_key: r.object_key,
            width: r.width,
            height: r.height,
            duration_ms: r.duration_ms,
            blurhash: r.blurhash,
            rejection_reason: r.rejection_reason,
            upload_expires_at: r.upload_expires_at,
            created_at: r.created_at,
        }
    }
}

/// A processed file of an asset.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name (`thumb.webp`, `grid.jpg`, `full.webp`, `video.mp4`...).
    pub name: String,
    /// Where it is stored.
    pub object_key: String,
    /// Content type.
    pub content_type: String,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// Bytes.
    pub byte_size: i64,
}

/// Keeps the last path segment of a file name, without control characters, at most 255
/// characters. Only ever shown back to its uploader.
pub fn sanitize_filename(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .take(255)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty() && clean != "." && clean != "..").then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_reduced_to_a_harmless_base_name() {
        assert_eq!(
            sanitize_filename("IMG_0001.JPG").as_deref(),
            Some("IMG_0001.JPG")
        );
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("C:\\Users\\me\\cat.png").as_deref(),
            Some("cat.png")
        );
        assert_eq!(
            sanitize_filename("evil\u{202E}gpj.exe").as_deref(),
            Some("evilgpj.exe")
        );
        assert_eq!(sanitize_filename("a\nb").as_deref(), Some("ab"));
        assert_eq!(sanitize_filename("").as_deref(), None);
        assert_eq!(sanitize_filename("..").as_deref(), None);
        assert_eq!(
            sanitize_filename(&"x".repeat(400)).map(|s| s.len()),
            Some(255)
        );
    }
}
