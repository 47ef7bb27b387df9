//! Posts as the API shows them to one viewer.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::types::Visibility;
use crate::media::Kind;
use crate::storage::SignedUrl;

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
    #[schema(value_type = String)]
    pub name: Cow<'static, str>,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// Short-lived signed URL (the same for everyone within a minute).
    #[schema(value_type = String)]
    pub url: SignedUrl,
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
    /// Image or video.
    pub kind: Kind,
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

impl axum::response::IntoResponse for Listing {
    /// Written by [`Listing::write_json`] into one buffer sized from the page.
    fn into_response(self) -> axum::response::Response {
        let mut buf = Vec::with_capacity(self.json_size());
        match self.write_json(&mut buf) {
            Ok(()) => (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                buf,
            )
                .into_response(),
            Err(e) => crate::error::AppError::Internal(e.into()).into_response(),
        }
    }
}

impl Listing {
    /// About how long its JSON is (a page of 20 unlocked posts is ~100 KB; growing a small
    /// buffer copied it about ten times).
    fn json_size(&self) -> usize {
        64 + self
            .posts
            .iter()
            .map(|p| {
                let text = p.text.as_ref().map_or(0, String::len)
                    + p.text_html.as_ref().map_or(0, String::len);
                let files: usize = p.media.iter().map(|m| 160 + 520 * m.variants.len()).sum();
                800 + text + files
            })
            .sum::<usize>()
    }

    /// The same JSON as the derived `Serialize` (a test holds them equal), written directly:
    /// the listing is the hottest response, and serde's per-field and per-byte escaping
    /// was a sixth of its CPU. Signed URLs are copied in their cached JSON form.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut w = JsonOut(out);
        w.raw("{\"posts\":[");
        for (i, p) in self.posts.iter().enumerate() {
            if i > 0 {
                w.raw(",");
            }
            p.write_json(&mut w)?;
        }
        w.raw("],\"next_cursor\":");
        w.opt_str(self.next_cursor.as_deref())?;
        w.raw("}");
        Ok(())
    }
}

impl PostView {
    fn write_json(&self, w: &mut JsonOut<'_>) -> Result<(), serde_json::Error> {
        w.raw("{\"id\":");
        w.uuid(self.id);
        w.raw(",\"creator\":{\"handle\":");
        w.str(&self.creator.handle)?;
        w.raw(",\"display_name\":");
        w.str(&self.creator.display_name)?;
        w.raw("},\"visibility\":\"");
        w.raw(self.visibility.as_str());
        w.raw("\",\"price\":");
        match &self.price {
            Some(p) => {
                w.raw("{\"amount_minor\":");
                w.int(p.amount_minor);
                w.raw(",\"currency\":");
                w.str(&p.currency)?;
                w.raw("}");
            }
            None => w.raw("null"),
        }
        w.raw(",\"locked\":");
        w.bool(self.locked);
        w.raw(",\"text\":");
        w.opt_str(self.text.as_deref())?;
        w.raw(",\"text_html\":");
        w.opt_str(self.text_html.as_deref())?;
        w.raw(",\"text_is_teaser\":");
        w.bool(self.text_is_teaser);
        w.raw(",\"media_count\":");
        w.int(self.media_count);
        w.raw(",\"media\":[");
        for (i, m) in self.media.iter().enumerate() {
            if i > 0 {
                w.raw(",");
            }
            m.write_json(w)?;
        }
        w.raw("],\"published_at\":");
        w.serde(&self.published_at)?;
        w.raw(",\"expires_at\":");
        w.serde(&self.expires_at)?;
        w.raw(",\"scheduled\":");
        w.bool(self.scheduled);
        w.raw(",\"pinned\":");
        w.bool(self.pinned);
        w.raw(",\"like_count\":");
        w.int(self.like_count);
        w.raw(",\"comment_count\":");
        w.int(self.comment_count);
        w.raw(",\"liked\":");
        match self.liked {
            Some(b) => w.bool(b),
            None => w.raw("null"),
        }
        w.raw(",\"can_interact\":");
        w.bool(self.can_interact);
        w.raw(",\"own\":");
        w.bool(self.own);
        w.raw("}");
        Ok(())
    }
}

impl MediaView {
    fn write_json(&self, w: &mut JsonOut<'_>) -> Result<(), serde_json::Error> {
        w.raw("{");
        if let Some(id) = self.id {
            w.raw("\"id\":");
            w.uuid(id);
            w.raw(",");
        }
        w.raw("\"kind\":\"");
        w.raw(self.kind.as_str());
        w.raw("\",\"width\":");
        w.opt_int(self.width);
        w.raw(",\"height\":");
        w.opt_int(self.height);
        w.raw(",\"duration_ms\":");
        w.opt_int(self.duration_ms);
        w.raw(",\"blurhash\":");
        w.opt_str(self.blurhash.as_deref())?;
        w.raw(",\"variants\":[");
        for (i, v) in self.variants.iter().enumerate() {
            if i > 0 {
                w.raw(",");
            }
            w.raw("{\"name\":");
            w.str(&v.name)?;
            w.raw(",\"width\":");
            w.int(v.width);
            w.raw(",\"height\":");
            w.int(v.height);
            w.raw(",\"url\":");
            w.raw(v.url.json());
            w.raw("}");
        }
        w.raw("]}");
        Ok(())
    }
}

/// The few JSON writes a listing needs.
struct JsonOut<'a>(&'a mut Vec<u8>);

impl JsonOut<'_> {
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// A string: copied when nothing in it needs escaping (checked without branches, so
    /// the check vectorises), else escaped by serde_json.
    fn str(&mut self, s: &str) -> Result<(), serde_json::Error> {
        let plain = s
            .bytes()
            .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
        if plain {
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
            Ok(())
        } else {
            serde_json::to_writer(&mut *self.0, s)
        }
    }

    fn opt_str(&mut self, s: Option<&str>) -> Result<(), serde_json::Error> {
        match s {
            Some(s) => self.str(s),
            None => {
                self.raw("null");
                Ok(())
            }
        }
    }

    fn int(&mut self, n: impl itoa::Integer) {
        self.raw(itoa::Buffer::new().format(n));
    }

    fn opt_int(&mut self, n: Option<i32>) {
        match n {
            Some(n) => self.int(n),
            None => self.raw("null"),
        }
    }

    fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    fn uuid(&mut self, id: Uuid) {
        self.0.push(b'"');
        self.raw(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        self.0.push(b'"');
    }

    /// Anything else, through serde (timestamps: chrono's exact format).
    fn serde<T: Serialize>(&mut self, v: &T) -> Result<(), serde_json::Error> {
        serde_json::to_writer(&mut *self.0, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Listing {
        let url = |s: &str| SignedUrl::new(s.to_owned());
        let unlocked = PostView {
            id: Uuid::now_v7(),
            creator: CreatorRef {
                handle: "ana".into(),
                display_name: "Ana \"the\" Painter \\ 🎨\u{1}\n".into(),
            },
            visibility: Visibility::Ppv,
            price: Some(Price {
                amount_minor: 1299,
                currency: "EUR".into(),
            }),
            locked: false,
            text: Some("Line one\nline <two> & \"three\"\ttab\u{7f}\u{0}".into()),
            text_html: Some("Line one<br>\nline &lt;two&gt;".into()),
            text_is_teaser: true,
            media_count: 2,
            media: vec![
                MediaView {
                    position: 0,
                    id: Some(Uuid::now_v7()),
                    kind: Kind::Image,
                    width: Some(4000),
                    height: Some(3000),
                    duration_ms: None,
                    blurhash: Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj".into()),
                    variants: vec![
                        VariantUrl {
                            name: "thumb.webp".into(),
                            width: 320,
                            height: 240,
                            url: url(
                                "https://cdn.example/media/a/thumb.webp?X-Amz-Signature=ab&x-id=GetObject",
                            ),
                        },
                        VariantUrl {
                            name: String::from("grid.webp").into(),
                            width: 960,
                            height: 720,
                            url: url("https://cdn.example/a \"quoted\" \\ path\u{2}"),
                        },
                    ],
                },
                MediaView {
                    position: 1,
                    id: Some(Uuid::now_v7()),
                    kind: Kind::Video,
                    width: None,
                    height: Some(-1),
                    duration_ms: Some(i32::MAX),
                    blurhash: None,
                    variants: Vec::new(),
                },
            ],
            published_at: DateTime::<Utc>::from_timestamp_micros(1_764_300_000_123_456)
                .unwrap_or_default(),
            expires_at: DateTime::<Utc>::from_timestamp(1_900_000_000, 0),
            scheduled: true,
            pinned: true,
            like_count: 0,
            comment_count: i32::MIN,
            liked: Some(true),
            can_interact: true,
            own: false,
        };
        let locked = PostView {
            id: Uuid::nil(),
            visibility: Visibility::Subscribers,
            price: None,
            locked: true,
            text: None,
            text_html: None,
            text_is_teaser: false,
            media_count: 1,
            media: vec![MediaView {
                position: 0,
                id: None,
                kind: Kind::Image,
                width: Some(1),
                height: Some(1),
                duration_ms: None,
                blurhash: None,
                variants: Vec::new(),
            }],
            expires_at: None,
            scheduled: false,
            pinned: false,
            liked: None,
            can_interact: false,
            own: true,
            ..unlocked.clone()
        };
        Listing {
            posts: vec![unlocked, locked],
            next_cursor: Some("MTcwMDAwMDAwMDAwMDAwMA".into()),
        }
    }

    #[test]
    fn the_written_json_is_the_derived_json() {
        for l in [
            listing(),
            Listing {
                posts: Vec::new(),
                next_cursor: None,
            },
        ] {
            let mut fast = Vec::new();
            l.write_json(&mut fast).unwrap();
            let fast: serde_json::Value = serde_json::from_slice(&fast).unwrap();
            assert_eq!(fast, serde_json::to_value(&l).unwrap());
            assert!(l.json_size() >= 64);
        }
        // And what a client reads from it.
        let mut out = Vec::new();
        listing().write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["posts"][0]["creator"]["display_name"],
            "Ana \"the\" Painter \\ 🎨\u{1}\n"
        );
        assert_eq!(
            v["posts"][0]["media"][0]["variants"][1]["url"],
            "https://cdn.example/a \"quoted\" \\ path\u{2}"
        );
        assert_eq!(v["posts"][0]["published_at"], "2025-11-28T03:20:00.123456Z");
        assert!(v["posts"][1]["media"][0].get("id").is_none());
        assert_eq!(v["posts"][1]["liked"], serde_json::Value::Null);
    }
}
