//! Posts as web pages: the cards every listing shows (locked: a blurred placeholder, a lock,
//! what is inside and the unlock price; unlocked: responsive lazy images, a lightbox, a
//! video player), the fan's feed with infinite scroll, and the creator's composer.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::service::{self, PostChanges};
use super::types::{PostId, Visibility};
use super::view::{Listing, MediaView, PostView};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{CurrentUser, PathId};
use crate::media::Kind;
use crate::site::{self, FormErrors, Layout, Said};
use crate::state::AppState;

/// One photo or video of an unlocked post.
pub struct CardMedia {
    /// A video (else a photo).
    pub video: bool,
    /// The grid-sized image (a video's poster).
    pub src: String,
    /// Every image width, for `srcset`.
    pub srcset: String,
    /// The largest image (the lightbox; a video's poster).
    pub full: String,
    /// Pixels.
    pub width: i32,
    /// Pixels.
    pub height: i32,
    /// The blurred placeholder (`data:` PNG), empty without a blurhash.
    pub placeholder: String,
    /// The video file.
    pub video_src: String,
    /// A video's HLS master playlist (the app's URL; it decides entitlement again).
    pub hls: String,
}

/// A post as a card.
pub struct Card {
    /// Id.
    pub id: Uuid,
    /// Creator's handle.
    pub handle: String,
    /// Creator's name.
    pub creator_name: String,
    /// Media withheld.
    pub locked: bool,
    /// Safe HTML of the text (empty when none or withheld).
    pub text_html: String,
    /// When (UTC date and time).
    pub when: String,
    /// Machine-readable time.
    pub when_iso: String,
    /// Not yet published.
    pub scheduled: bool,
    /// Pinned.
    pub pinned: bool,
    /// `Everyone`, `Subscribers`, `Pay-per-view`.
    pub audience: &'static str,
    /// Unlock price, formatted (PPV).
    pub price: String,
    /// `2 photos · 1 video`.
    pub summary: String,
    /// A locked post's placeholder (its first media's blurhash).
    pub placeholder: String,
    /// Placeholder width (proportion only).
    pub ph_width: i32,
    /// Placeholder height.
    pub ph_height: i32,
    /// Unlocked media.
    pub media: Vec<CardMedia>,
    /// Likes.
    pub likes: i32,
    /// Comments.
    pub comments: i32,
    /// The viewer's own.
    pub own: bool,
    /// Locked behind a price: offer to unlock.
    pub unlockable: bool,
    /// Locked behind a subscription: offer to subscribe.
    pub for_subscribers: bool,
    /// The viewer may like it (creator, subscribers, buyers).
    pub can_interact: bool,
    /// The viewer likes it.
    pub liked: bool,
}

/// A media item's blurred placeholder as a `data:` PNG (empty without a blurhash).
pub fn placeholder(m: &MediaView) -> String {
    m.blurhash
        .as_deref()
        .and_then(|h| zinovia_media::placeholder_png(h, m.width, m.height))
        .map(|png| {
            format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(png)
            )
        })
        .unwrap_or_default()
}

/// A media item as a card shows it.
pub fn card_media(m: &MediaView) -> CardMedia {
    let find = |name: &str| {
        m.variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.url.as_str().to_owned())
            .unwrap_or_default()
    };
    let srcset = m
        .variants
        .iter()
        .filter(|v| v.name.ends_with(".webp"))
        .map(|v| format!("{} {}w", v.url.as_str(), v.width))
        .collect::<Vec<_>>()
        .join(", ");
    let video = m.kind == Kind::Video;
    CardMedia {
        video,
        src: find("grid.webp"),
        srcset,
        full: find("full.webp"),
        width: m.width.unwrap_or(4),
        height: m.height.unwrap_or(3),
        placeholder: placeholder(m),
        video_src: if video {
            find("video.mp4")
        } else {
            String::new()
        },
        hls: match m.id {
            Some(id) if video => format!("/api/v1/media/{id}/hls/master.m3u8"),
            _ => String::new(),
        },
    }
}

/// `0:42`, `12:05`, `1:02:09`.
fn clock(ms: i64) -> String {
    let s = (ms + 500) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The length of the videos among `media` (` (1:05)` for one, their total for several;
/// empty when none has one): a locked card still tells what is inside.
pub fn video_length(media: &[MediaView]) -> String {
    let total: i64 = media
        .iter()
        .filter(|m| m.kind == Kind::Video)
        .filter_map(|m| m.duration_ms)
        .map(|d| i64::from(d.max(0)))
        .sum();
    if total > 0 {
        format!(" ({})", clock(total))
    } else {
        String::new()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2 photos · 1 video` (or `Text only`).
pub fn summary(media: &[MediaView]) -> String {
    let videos = media.iter().filter(|m| m.kind == Kind::Video).count();
    let photos = media.len() - videos;
    let mut parts = Vec::new();
    if photos > 0 {
        parts.push(plural(photos, "photo", "photos"));
    }
    if videos > 0 {
        parts.push(plural(videos, "video", "videos") + &video_length(media));
    }
    if parts.is_empty() {
        "Text only".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// A post as its card.
pub fn card(p: &PostView) -> Card {
    let first = p.media.first();
    Card {
        id: p.id,
        handle: p.creator.handle.clone(),
        creator_name: p.creator.display_name.clone(),
        locked: p.locked,
        text_html: p.text_html.clone().unwrap_or_default(),
        when: p.published_at.format("%-d %b %Y, %H:%M UTC").to_string(),
        when_iso: p.published_at.to_rfc3339(),
        scheduled: p.scheduled,
        pinned: p.pinned,
        audience: match p.visibility {
            Visibility::Public => "Everyone",
            Visibility::Subscribers => "Subscribers",
            Visibility::Ppv => "Pay-per-view",
        },
        price: p
            .price
            .as_ref()
            .map(|pr| site::money(i64::from(pr.amount_minor), &pr.currency))
            .unwrap_or_default(),
        summary: summary(&p.media),
        placeholder: if p.locked {
            first.map(placeholder).unwrap_or_default()
        } else {
            String::new()
        },
        ph_width: first.and_then(|m| m.width).unwrap_or(4),
        ph_height: first.and_then(|m| m.height).unwrap_or(3),
        media: if p.locked {
            Vec::new()
        } else {
            p.media.iter().map(card_media).collect()
        },
        likes: p.like_count,
        comments: p.comment_count,
        own: p.own,
        unlockable: p.locked && p.visibility == Visibility::Ppv,
        for_subscribers: p.locked && p.visibility == Visibility::Subscribers,
        can_interact: p.can_interact,
        liked: p.liked.unwrap_or(false),
    }
}

/// Every post of a listing as cards.
pub fn cards(listing: &Listing) -> Vec<Card> {
    listing.posts.iter().map(card).collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CursorQuery {
    cursor: String,
}

#[derive(Template)]
#[template(path = "posts/feed.html")]
struct FeedPage {
    layout: Layout,
    csrf: String,
    back: String,
    cards: Vec<Card>,
    next: Option<String>,
}

/// `GET /feed`: posts of the fan's subscriptions and purchases, newest first; the next page
/// is a link (infinite scroll follows it).
pub(super) async fn feed(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<CursorQuery>,
) -> Result<Response, AppError> {
    let mut after = cursor_param(&q.cursor)?;
    after.pinned = false;
    let listing = service::feed(&state, &user.user, after, service::DEFAULT_PAGE).await?;
    Ok(site::render(
        &FeedPage {
            csrf: layout.csrf.clone(),
            back: "/feed".into(),
            layout,
            cards: cards(&listing),
            next: listing
                .next_cursor
                .map(|c| format!("/feed?cursor={}", urlencode(&c))),
        },
        StatusCode::OK,
    ))
}

/// A comment as the post's page shows it.
pub struct CommentLine {
    id: String,
    author: String,
    body: String,
    when: String,
    when_iso: String,
}

#[derive(Template)]
#[template(path = "posts/post.html")]
struct PostPage {
    layout: Layout,
    csrf: String,
    back: String,
    signed_in: bool,
    cards: Vec<Card>,
    comments: Vec<CommentLine>,
    text: String,
    errors: FieldErrors,
}

impl FormErrors for PostPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// Most comments one page shows (the oldest first).
const COMMENTS_SHOWN: i64 = 200;

async fn post_page(
    state: &AppState,
    layout: Layout,
    viewer: Option<&crate::accounts::User>,
    id: PostId,
    text: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let view = service::get(state, viewer, id).await?;
    let comments = if view.locked {
        Vec::new()
    } else {
        service::comments(state, viewer, id, None, COMMENTS_SHOWN)
            .await?
            .into_iter()
            .map(|c| CommentLine {
                id: c.id.to_string(),
                author: c.author_name,
                body: c.body,
                when: c.created_at.format("%-d %b %Y, %H:%M UTC").to_string(),
                when_iso: c.created_at.to_rfc3339(),
            })
            .collect()
    };
    let page = PostPage {
        csrf: layout.csrf.clone(),
        back: format!("/posts/{id}"),
        signed_in: viewer.is_some(),
        layout,
        cards: vec![card(&view)],
        comments,
        text,
        errors,
    };
    Ok(site::render(&page, status))
}

/// `GET /posts/{id}`: one post with its comments (for whoever may see its media) and the
/// form to add one.
pub(super) async fn post(
    State(state): State<AppState>,
    layout: Layout,
    crate::http::extract::MaybeUser(viewer): crate::http::extract::MaybeUser,
    PathId(id): PathId<PostId>,
) -> Result<Response, AppError> {
    let viewer = viewer.as_ref().map(|v| &v.user);
    post_page(
        &state,
        layout,
        viewer,
        id,
        String::new(),
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// The comment form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CommentForm {
    text: String,
}

/// `POST /posts/{id}/comments`: adds the comment, or shows the form again with its error.
pub(super) async fn comment(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
    Form(form): Form<CommentForm>,
) -> Result<Response, AppError> {
    match service::add_comment(&state, &user.user, id, &form.text).await {
        Ok(_) => Ok(Redirect::to(&format!("/posts/{id}#comments")).into_response()),
        Err(AppError::Validation(errors)) => {
            post_page(
                &state,
                layout,
                Some(&user.user),
                id,
                form.text,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// The like button's form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LikeForm {
    like: String,
    back: String,
}

/// `POST /posts/{id}/like`: likes (`like=1`) or takes the like back (`like=0`), then returns
/// to the card on the page it was pressed on.
pub(super) async fn like(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
    Form(form): Form<LikeForm>,
) -> Result<Response, AppError> {
    let like = match form.like.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(AppError::field("like", "must be 1 or 0")),
    };
    service::like(&state, &user.user, id, like).await?;
    let back = site::local_path(&state.settings.public_base_url(), &form.back, "/feed");
    Ok(Redirect::to(&format!("{back}#post-{id}")).into_response())
}

/// A page's `cursor` parameter (absent: the first page; not one of ours: no such page).
pub fn cursor_param(raw: &str) -> Result<super::Cursor, AppError> {
    service::cursor(Some(raw)).map_err(|_| AppError::NotFound)
}

/// A query-string value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Template)]
#[template(path = "posts/compose.html")]
struct ComposePage {
    layout: Layout,
    form: ComposeForm,
    currency: String,
    ppv_min: String,
    ppv_max: String,
    /// `1.2 GB of 50.0 GB`: the creator's storage against the quota.
    storage: String,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for ComposePage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// The composer's fields. `media_ids` is filled by the page's script as files become ready.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ComposeForm {
    text: String,
    media_ids: String,
    visibility: String,
    price: String,
    teaser: Option<String>,
    publish_at: String,
    /// The schedule as an RFC 3339 instant (the script converts the local time).
    publish_at_utc: String,
}

async fn compose_page(
    state: &AppState,
    user: &CurrentUser,
    layout: Layout,
    form: ComposeForm,
    said: Said,
) -> Result<Response, AppError> {
    let creator = crate::creators::by_user(&state.db, user.user.id.0)
        .await?
        .ok_or_else(|| AppError::Conflict("become a creator first".into()))?;
    let c = &state.settings.content;
    let usage = crate::media::usage(state, user.user.id).await?;
    Ok(site::render(
        &ComposePage {
            layout,
            form,
            storage: format!(
                "{} of {}",
                crate::media::bytes_text(usage.used_bytes),
                crate::media::bytes_text(usage.quota_bytes)
            ),
            currency: creator.currency,
            ppv_min: site::decimal(i64::from(c.ppv_price_min)),
            ppv_max: site::decimal(i64::from(c.ppv_price_max)),
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

/// `GET /dashboard/compose`: the composer (creators; others are sent to become one).
pub(super) async fn compose(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    if crate::creators::by_user(&state.db, user.user.id.0)
        .await?
        .is_none()
    {
        return Ok(Redirect::to("/settings/creator").into_response());
    }
    let form = ComposeForm {
        visibility: Visibility::Subscribers.as_str().into(),
        ..ComposeForm::default()
    };
    compose_page(&state, &user, layout, form, Said::ok("")).await
}

fn changes(form: &ComposeForm, errors: &mut FieldErrors) -> PostChanges {
    let mut add = |field: &str, message: &str| {
        errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    };
    let media_ids: Vec<Uuid> = form
        .media_ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| match Uuid::parse_str(s) {
            Ok(id) => Some(id),
            Err(_) => {
                add("media_ids", "one of the files is not an upload");
                None
            }
        })
        .collect();
    let visibility = Visibility::parse(&form.visibility);
    if visibility.is_none() {
        add("visibility", "choose who the post is for");
    }
    let price_minor = match (visibility, form.price.trim()) {
        (Some(Visibility::Ppv), typed) => match site::minor_units(typed) {
            Some(m) => Some(Some(m)),
            None => {
                add("price_minor", "enter a price such as 4.99");
                None
            }
        },
        _ => Some(None),
    };
    let publish_at = match (form.publish_at_utc.trim(), form.publish_at.trim()) {
        ("", "") => None,
        (iso, _) if !iso.is_empty() => match DateTime::parse_from_rfc3339(iso) {
            Ok(t) => Some(Some(t.with_timezone(&Utc))),
            Err(_) => {
                add("publish_at", "is not a date and time");
                None
            }
        },
        (_, local) => match NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M") {
            Ok(t) => Some(Some(t.and_utc())),
            Err(_) => {
                add("publish_at", "is not a date and time");
                None
            }
        },
    };
    PostChanges {
        text: Some(form.text.clone()),
        media_ids: Some(media_ids),
        visibility,
        price_minor,
        text_is_teaser: Some(form.teaser.is_some()),
        publish_at,
        expires_at: None,
        pinned: None,
    }
}

/// `POST /dashboard/compose`: publishes (or schedules) the post, then shows it on the
/// creator's page; field errors come back next to their fields.
pub(super) async fn publish(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<ComposeForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let changes = changes(&form, &mut errors);
    let outcome = if errors.is_empty() {
        service::create(&state, &user, changes).await
    } else {
        Err(AppError::Validation(errors))
    };
    match outcome {
        Ok(post) => Ok(
            Redirect::to(&format!("/{}?published={}", post.creator.handle, post.id))
                .into_response(),
        ),
        Err(e) => compose_page(&state, &user, layout, form, Said::refusal(e)?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(visibility: &str, price: &str, media: &str, at: &str, at_utc: &str) -> ComposeForm {
        ComposeForm {
            text: "hello".into(),
            media_ids: media.into(),
            visibility: visibility.into(),
            price: price.into(),
            teaser: None,
            publish_at: at.into(),
            publish_at_utc: at_utc.into(),
        }
    }

    #[test]
    fn the_composer_form_becomes_the_post_or_says_which_field_is_wrong() {
        let id = Uuid::now_v7();
        let mut errors = FieldErrors::new();
        let c = changes(&form("ppv", "4.99", &format!("{id},"), "", ""), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.price_minor, Some(Some(499)));
        assert_eq!(c.media_ids, Some(vec![id]));
        assert_eq!(c.visibility, Some(Visibility::Ppv));
        assert_eq!(c.publish_at, None);

        let c = changes(
            &form(
                "subscribers",
                "ignored",
                "",
                "2030-01-02T03:04",
                "2030-01-02T02:04:00Z",
            ),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.price_minor, Some(None));
        assert_eq!(
            c.publish_at.flatten().map(|t| t.to_rfc3339()),
            Some("2030-01-02T02:04:00+00:00".to_owned())
        );
        let c = changes(&form("public", "", "", "2030-01-02T03:04", ""), &mut errors);
        assert_eq!(
            c.publish_at.flatten().map(|t| t.to_rfc3339()),
            Some("2030-01-02T03:04:00+00:00".to_owned())
        );

        changes(&form("secret", "", "nope", "soon", ""), &mut errors);
        let mut fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["media_ids", "publish_at", "visibility"]);
        let mut errors = FieldErrors::new();
        changes(&form("ppv", "free", "", "", ""), &mut errors);
        assert!(errors.contains_key("price_minor"));
    }

    #[test]
    fn summaries_count_photos_and_videos() {
        assert_eq!(summary(&[]), "Text only");
    }
}
