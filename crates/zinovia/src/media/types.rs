//! Media's ids, states and validated upload requests.

use chrono::{DateTime, Utc};

use crate::accounts::UserId;

crate::id::id_type! {
    /// A media asset's id.
    pub struct MediaId;
}

crate::database::text_enum! {
    /// Image or video.
    pub enum Kind {
        /// A photo.
        Image = "image",
        /// A video clip.
        Video = "video",
    }
}

impl Kind {
    /// The content types accepted for this kind (HEIC/HEIF and AVIF photos when this build
    /// decodes them: the `heif` feature).
    pub fn allowed_types(self) -> &'static [&'static str] {
        self.types_for(zinovia_media::image::DECODES_HEIF)
    }

    fn types_for(self, heif: bool) -> &'static [&'static str] {
        match self {
            Kind::Image if heif => &[
                "image/jpeg",
                "image/png",
                "image/webp",
                "image/gif",
                "image/heic",
                "image/heif",
                "image/avif",
            ],
            Kind::Image => &["image/jpeg", "image/png", "image/webp", "image/gif"],
            Kind::Video => &[
                "video/mp4",
                "video/quicktime",
                "video/webm",
                "video/x-matroska",
            ],
        }
    }

    /// The file pickers' `accept` list for these kinds: their content types, and the file
    /// extensions of those some browsers give no type for (HEIC, AVIF, Matroska).
    pub fn accept(kinds: &[Kind]) -> String {
        let mut list: Vec<&str> = kinds
            .iter()
            .flat_map(|k| k.allowed_types())
            .copied()
            .collect();
        for (t, ext) in [
            ("image/heic", ".heic"),
            ("image/heif", ".heif"),
            ("image/avif", ".avif"),
            ("video/x-matroska", ".mkv"),
        ] {
            if list.contains(&t) {
                list.push(ext);
            }
        }
        list.join(",")
    }

    /// Why `content_type` (lowercase) is not accepted for this kind, if it is not.
    pub fn refusal(self, content_type: &str) -> Option<String> {
        self.refusal_for(content_type, zinovia_media::image::DECODES_HEIF)
    }

    fn refusal_for(self, content_type: &str, heif: bool) -> Option<String> {
        let allowed = self.types_for(heif);
        if allowed.contains(&content_type) {
            return None;
        }
        if self == Kind::Image && Kind::Image.types_for(true).contains(&content_type) {
            return Some(zinovia_media::image::NO_HEIF.to_owned());
        }
        Some(format!(
            "is not accepted for {}s; use one of {}",
            self.as_str(),
            allowed.join(", ")
        ))
    }
}

crate::database::text_enum! {
    /// What an asset is for.
    #[derive(Default)]
    pub enum Purpose {
        /// Media of a post (creators only).
        #[default]
        Post = "post",
        /// A profile picture (anyone; images only; shown publicly once ready).
        Avatar = "avatar",
        /// A profile banner (anyone; images only; shown publicly once ready).
        Banner = "banner",
    }
}

crate::database::text_enum! {
    /// Where an asset is in its life.
    pub enum State {
        /// Waiting for the client to upload the bytes.
        AwaitingUpload = "awaiting_upload",
        /// Uploaded; waiting for the worker.
        Uploaded = "uploaded",
        /// The worker is on it.
        Processing = "processing",
        /// Variants made; can be shown.
        Ready = "ready",
        /// Refused by the worker (see `rejection_reason`); its files are deleted.
        Rejected = "rejected",
        /// Processing kept failing for reasons that are not the file's (storage or the
        /// scanner down past every retry); the upload is kept and may be retried.
        Failed = "failed",
        /// Being deleted.
        Deleting = "deleting",
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
    /// A video's transcode, 0–100 %, while it runs.
    pub progress: Option<i16>,
    /// When the upload URL stops working.
    pub upload_expires_at: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
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

    #[test]
    fn phone_photo_types_follow_what_the_build_decodes() {
        for t in ["image/heic", "image/heif", "image/avif"] {
            assert_eq!(Kind::Image.refusal_for(t, true), None, "{t}");
            let refused = Kind::Image.refusal_for(t, false).unwrap();
            assert!(
                refused.contains("HEIC and AVIF photos cannot be read by this server"),
                "{refused}"
            );
            assert!(
                Kind::Video
                    .refusal_for(t, true)
                    .unwrap()
                    .contains("video/mp4")
            );
        }
        assert_eq!(Kind::Image.refusal_for("image/jpeg", false), None);
        let other = Kind::Image.refusal_for("image/svg+xml", true).unwrap();
        assert!(
            other.contains("image/avif") && other.contains("not accepted"),
            "{other}"
        );
        assert_eq!(
            Kind::Image.allowed_types().contains(&"image/heic"),
            cfg!(feature = "heif")
        );
    }
}
