//! Posts' visibility, rows, opaque cursors and the text's HTML rendering.

use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::entitlements::PostFacts;
use crate::media::Kind;

crate::database::text_enum! {
    /// Who a post is for.
    pub enum Visibility {
        /// Everyone.
        Public = "public",
        /// The creator's subscribers.
        Subscribers = "subscribers",
        /// Whoever buys it (`price_minor`).
        Ppv = "ppv",
    }
}

/// A post as stored.
#[derive(Debug, Clone)]
pub struct PostRow {
    /// Id.
    pub id: Uuid,
    /// Creator (user id).
    pub creator_id: Uuid,
    /// Plain text.
    pub body: String,
    /// Who it is for.
    pub visibility: Visibility,
    /// PPV price.
    pub price_minor: Option<i32>,
    /// PPV currency.
    pub currency: Option<String>,
    /// Text shown while locked.
    pub text_is_teaser: bool,
    /// When it appears.
    pub published_at: DateTime<Utc>,
    /// When it disappears.
    pub expires_at: Option<DateTime<Utc>>,
    /// Pinned to the profile.
    pub pinned: bool,
    /// Likes.
    pub like_count: i32,
    /// Comments.
    pub comment_count: i32,
    /// Soft-deleted.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl PostRow {
    /// What the entitlement rule reads.
    pub fn facts(&self) -> PostFacts {
        PostFacts {
            id: self.id,
            creator_id: self.creator_id,
            visibility: self.visibility,
            published_at: self.published_at,
            expires_at: self.expires_at,
            deleted: self.deleted_at.is_some(),
        }
    }
}

/// One of a post's media, with its delivered variants (none yet for an asset still being
/// processed).
#[derive(Debug, Clone)]
pub struct MediaRow {
    /// Post.
    pub post_id: Uuid,
    /// Order in the post.
    pub position: i16,
    /// Asset.
    pub asset_id: Uuid,
    /// Image or video.
    pub kind: Kind,
    /// Pixels.
    pub width: Option<i32>,
    /// Pixels.
    pub height: Option<i32>,
    /// Video length.
    pub duration_ms: Option<i32>,
    /// Placeholder.
    pub blurhash: Option<String>,
    /// Delivered variants, in [`DELIVERED`] order.
    pub variants: Vec<VariantRow>,
}

/// One delivered variant of a post's media.
#[derive(Debug, Clone, Copy)]
pub struct VariantRow {
    /// Its name (one of [`DELIVERED`]).
    pub name: &'static str,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
}

/// The variants a listing delivers: WebP sizes (photos and video posters) and the video.
pub const DELIVERED: [&str; 5] = [
    "thumb.webp",
    "grid.webp",
    "full.webp",
    "video.mp4",
    "video.webm",
];

/// A position in a listing: `(pinned, published_at, id)` of the last post seen, opaque to
/// clients (URL-safe base64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Pinned (profile listings only; `false` elsewhere).
    pub pinned: bool,
    /// Publication time.
    pub published_at: DateTime<Utc>,
    /// Id.
    pub id: Uuid,
}

impl Cursor {
    /// Before every post: the first page.
    pub fn start() -> Cursor {
        Cursor {
            pinned: true,
            published_at: DateTime::<Utc>::MAX_UTC,
            id: Uuid::max(),
        }
    }

    /// The cursor after `post`.
    pub fn after(post: &PostRow, with_pinned: bool) -> Cursor {
        Cursor {
            pinned: with_pinned && post.pinned,
            published_at: post.published_at,
            id: post.id,
        }
    }

    /// Opaque form.
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}:{}:{}",
            u8::from(self.pinned),
            self.published_at.timestamp_micros(),
            self.id
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses an opaque cursor.
    pub fn decode(s: &str) -> Result<Cursor, String> {
        let bad = || "is not a cursor this server made".to_owned();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, ':');
        let pinned = match parts.next() {
            Some("1") => true,
            Some("0") => false,
            _ => return Err(bad()),
        };
        let micros: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let published_at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = parts
            .next()
            .and_then(|p| Uuid::parse_str(p).ok())
            .ok_or_else(bad)?;
        Ok(Cursor {
            pinned,
            published_at,
            id,
        })
    }
}

/// The text as HTML: everything escaped, `http(s)://` links made clickable (opening
/// without the page's referrer or window), line breaks kept.
pub fn text_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while !rest.is_empty() {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = next else {
            escape_into(&mut out, rest);
            break;
        };
        escape_into(&mut out, &rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(tail.len());
        // Trailing punctuation is the sentence's, not the link's.
        let link = tail[..end].trim_end_matches(['.', ',', ')', '!', '?', ';', ':']);
        let scheme_only = link == "https://" || link == "http://";
        if scheme_only {
            escape_into(&mut out, link);
        } else {
            out.push_str("<a href=\"");
            escape_into(&mut out, link);
            out.push_str("\" rel=\"nofollow noopener noreferrer ugc\" target=\"_blank\">");
            escape_into(&mut out, link);
            out.push_str("</a>");
        }
        rest = &tail[link.len()..];
    }
    out.replace('\n', "<br>\n")
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let c = Cursor {
            pinned: true,
            published_at: DateTime::<Utc>::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "x", "MTox", "Mjox OjEyMw", &c.encode()[1..]] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_is_escaped_and_links_are_clickable() {
        let html = text_html("<script>alert(1)</script> see https://example.com/a?b=1&c=2.\nbye");
        assert_eq!(
            html,
            "&lt;script&gt;alert(1)&lt;/script&gt; see <a href=\"https://example.com/a?b=1&amp;c=2\" \
             rel=\"nofollow noopener noreferrer ugc\" target=\"_blank\">https://example.com/a?b=1&amp;c=2</a>.<br>\nbye"
        );
        assert_eq!(text_html("javascript:alert(1)"), "javascript:alert(1)");
        assert_eq!(
            text_html("x https://\"onmouseover=alert(1)"),
            "x https://&quot;onmouseover=alert(1)"
        );
    }
}

/// How explore orders creators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ExploreSort {
    /// The newest creators first.
    Newest,
    /// The most subscribed first.
    Popular,
}

impl ExploreSort {
    /// From the query string (absent or empty: newest).
    pub fn parse(raw: Option<&str>) -> Option<ExploreSort> {
        match raw {
            None | Some("" | "newest") => Some(ExploreSort::Newest),
            Some("popular") => Some(ExploreSort::Popular),
            Some(_) => None,
        }
    }
}

crate::id::id_type! {
    /// A post's id.
    pub struct PostId;
}

crate::id::id_type! {
    /// A comment's id.
    pub struct CommentId;
}
