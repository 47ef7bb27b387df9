//! Posts as the API shows them to one viewer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::types::Visibility;

/// Who made a post.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CreatorRef {
    /// Current handle.
    pub handle: String,
    /// Public name.
    pub display_name: String,
}

/// An amount of money.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Price {
    /// Minor units (cents).
    pub amount_minor: i32,
    /// ISO 4217.
    pub currency: String,
}

/// A signed URL of one delivered file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantUrl {
    /// `thumb.webp`, `grid.webp`, `full.webp` (320, 960, 2048 px on the long edge; for a
    /// video, of its poster) or `video.mp4` / `video.webm`.
    pub name: String,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// Short-lived signed URL (the same for everyone within a minute).
    pub url: String,
}

/// One of a post's media. Locked: kind, size and placeholder only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MediaView {
    /// Order in the post.
    #[serde(skip)]
    pub position: i16,
    /// The asset (only when unlocked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// `image` or `video`.
    pub kind: String,
    /// Pixels.
    pub width: Option<i32>,
    /// Pixels.
    pub height: Option<i32>,
    /// Video length.
    pub duration_ms: Option<i32>,
    /// Blurred placeholder (4×3 blurhash).
    pub blurhash: Option<String>,
    /// Signed files (empty while locked).
    pub variants: Vec<VariantUrl>,
}

/// A post as one viewer may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostView {
    /// Id.
    pub id: Uuid,
    /// Its creator.
    pub creator: CreatorRef,
    /// Who it is for.
    pub visibility: Visibility,
    /// Unlock price (pay-per-view).
    pub price: Option<Price>,
    /// Whether the media is withheld from this viewer (no URLs).
    pub locked: bool,
    /// Plain text (absent when locked, unless the creator made it a teaser).
    pub text: Option<String>,
    /// The text as safe HTML: escaped, links clickable.
    pub text_html: Option<String>,
    /// Whether locked viewers see the text.
    pub text_is_teaser: bool,
    /// How many media.
    pub media_count: usize,
    /// The media, in order.
    pub media: Vec<MediaView>,
    /// When it appeared (or will: scheduled posts, creator only).
    pub published_at: DateTime<Utc>,
    /// When it disappears.
    pub expires_at: Option<DateTime<Utc>>,
    /// Not yet published (only its creator sees such posts).
    pub scheduled: bool,
    /// Pinned to the profile.
    pub pinned: bool,
    /// Likes.
    pub like_count: i32,
    /// Comments.
    pub comment_count: i32,
    /// Whether the viewer likes it (signed-in viewers).
    pub liked: Option<bool>,
    /// Whether the viewer may like and comment.
    pub can_interact: bool,
    /// Whether it is the viewer's own post.
    pub own: bool,
}

/// A page of posts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Listing {
    /// The posts.
    pub posts: Vec<PostView>,
    /// Pass as `cursor` for the next page; absent at the end.
    pub next_cursor: Option<String>,
}
