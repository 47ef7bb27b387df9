//! Messaging's pages: `/messages` (the inbox), `/messages/{id}` (a thread with its composer;
//! live with JavaScript, a plain reload without), `/dashboard/messages/mass` (segments,
//! schedule, figures) and `/dashboard/vault`. Every message shown comes from the service,
//! through the one rule.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::service::{self, MassRequest, Outgoing};
use super::types::{ConversationId, ConversationView, MassMessageId, MessageId, MessageView};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{Creator, CurrentUser, PathId, RequireRole};
use crate::posts::CardMedia;
use crate::site::{self, FormErrors, Layout, Said};
use crate::state::AppState;

pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/messages", get(inbox))
        .route("/messages/open", post(open))
        .route("/messages/settings", get(settings_page).post(settings_save))
        .route("/messages/{id}", get(thread).post(send))
        .route("/messages/{id}/since", get(since))
        .route("/messages/{id}/block", post(block))
        .route("/messages/m/{id}", get(to_message))
        .route("/dashboard/messages/mass", get(mass_page).post(mass_send))
        .route("/dashboard/messages/mass/{id}/unsend", post(mass_unsend))
        .route("/dashboard/vault", get(vault_page).post(vault_tag))
}

struct InboxLine {
    id: Uuid,
    name: String,
    last: String,
    when: String,
    unread: i32,
}

#[derive(Template)]
#[template(path = "messages/inbox.html")]
struct InboxPage {
    layout: Layout,
    lines: Vec<InboxLine>,
    unread_total: i64,
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// `GET /messages`: the inbox.
async fn inbox(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let inbox = service::inbox(&state, &user.user, None, 100).await?;
    let lines = inbox
        .conversations
        .into_iter()
        .map(|c| InboxLine {
            id: c.id.0,
            name: c.with.display_name,
            last: c.last_message.unwrap_or_default(),
            when: c.last_message_at.map(when).unwrap_or_default(),
            unread: c.unread,
        })
        .collect();
    Ok(site::render(
        &InboxPage {
            layout,
            lines,
            unread_total: inbox.unread_total,
        },
        StatusCode::OK,
    ))
}

/// A message as the thread shows it.
pub(super) struct Bubble {
    id: Uuid,
    mine: bool,
    text_html: String,
    when: String,
    when_iso: String,
    locked: bool,
    price: String,
    tip: String,
    summary: String,
    placeholder: String,
    media: Vec<CardMedia>,
    bought: bool,
    unsent: bool,
    read: bool,
    mass: bool,
}

fn bubble(m: &MessageView) -> Bubble {
    let count = |n: usize, one: &str| match n {
        0 => None,
        1 => Some(format!("1 {one}")),
        n => Some(format!("{n} {one}s")),
    };
    let videos = count(m.videos, "video").map(|v| v + &crate::posts::video_length(&m.media));
    let summary = [count(m.photos, "photo"), videos]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    Bubble {
        id: m.id.0,
        mine: m.mine,
        text_html: m.text_html.clone(),
        when: when(m.created_at),
        when_iso: m.created_at.to_rfc3339(),
        locked: m.locked,
        price: m
            .price
            .as_ref()
            .map(|p| site::money(i64::from(p.amount_minor), &p.currency))
            .unwrap_or_default(),
        tip: m
            .tip
            .as_ref()
            .map(|p| site::money(i64::from(p.amount_minor), &p.currency))
            .unwrap_or_default(),
        summary,
        placeholder: if m.locked {
            m.media
                .first()
                .map(crate::posts::placeholder)
                .unwrap_or_default()
        } else {
            String::new()
        },
        media: if m.locked {
            Vec::new()
        } else {
            m.media.iter().map(crate::posts::card_media).collect()
        },
        bought: m.unlocked_by_purchase,
        unsent: m.unsent,
        read: m.read,
        mass: m.mass_message_id.is_some(),
    }
}

struct Pick {
    id: Uuid,
    thumb: String,
    video: bool,
    sent: bool,
    bought: bool,
}

#[derive(Template)]
#[template(path = "messages/thread.html")]
struct ThreadPage {
    layout: Layout,
    conversation: ConversationView,
    bubbles: Vec<Bubble>,
    last_id: String,
    vault: Vec<Pick>,
    text: String,
    price: String,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for ThreadPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Template)]
#[template(path = "messages/bubbles.html")]
struct Bubbles {
    bubbles: Vec<Bubble>,
    csrf: String,
}

async fn thread_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    id: ConversationId,
    form: &SendForm,
    said: Said,
) -> Result<Response, AppError> {
    let t = service::thread(state, &user.user, id, None, None, 50).await?;
    if t.conversation.unread > 0 {
        service::read(state, &user.user, id).await?;
    }
    let vault = if t.conversation.as_creator {
        service::vault(state, &user.user, None, Some(t.conversation.with.id))
            .await?
            .into_iter()
            .take(60)
            .map(|v| Pick {
                id: v.id,
                thumb: v.thumb_url.unwrap_or_default(),
                video: v.kind == crate::media::Kind::Video,
                sent: v.sent_to_fan,
                bought: v.bought_by_fan,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut bubbles: Vec<Bubble> = t.messages.iter().map(bubble).collect();
    bubbles.reverse();
    let page = ThreadPage {
        layout,
        last_id: t
            .messages
            .first()
            .map(|m| m.id.to_string())
            .unwrap_or_default(),
        conversation: t.conversation,
        bubbles,
        vault,
        text: form.text.clone(),
        price: form.price.clone(),
        errors: said.errors,
        form_error: said.form_error,
    };
    Ok(site::render(&page, said.status))
}

/// `GET /messages/{id}`: a thread, newest at the bottom; marks it read.
async fn thread(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
) -> Result<Response, AppError> {
    thread_page(
        &state,
        layout,
        &user,
        id,
        &SendForm::default(),
        Said::ok(""),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SinceQuery {
    after: String,
}

/// `GET /messages/{id}/since?after=…`: the messages after one (without `after`: the newest
/// page), oldest first, as HTML (the live thread appends them); marks the conversation read.
async fn since(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
    Query(q): Query<SinceQuery>,
) -> Result<Response, AppError> {
    let after = match q.after.as_str() {
        "" => None,
        raw => Some(
            Uuid::parse_str(raw)
                .map(MessageId)
                .map_err(|_| AppError::field("after", "must be a message id"))?,
        ),
    };
    let mut t = service::thread(&state, &user.user, id, None, after, 100).await?;
    if after.is_none() {
        // The newest page, oldest first like a catch-up.
        t.messages.reverse();
    }
    if t.conversation.unread > 0 {
        service::read(&state, &user.user, id).await?;
    }
    let page = Bubbles {
        bubbles: t.messages.iter().map(bubble).collect(),
        csrf: layout.csrf,
    };
    Ok(site::render(&page, StatusCode::OK))
}

/// What the composer sends.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SendForm {
    text: String,
    price: String,
    media: Vec<String>,
}

/// Parses a price typed as `4.99` into minor units (empty: none).
fn minor(price: &str) -> Result<Option<i64>, AppError> {
    let p = price.trim();
    if p.is_empty() || p.eq_ignore_ascii_case("free") {
        return Ok(None);
    }
    crate::money::minor_units(p)
        .map(Some)
        .ok_or_else(|| AppError::field("price_minor", "enter a price such as 4.99"))
}

/// `POST /messages/{id}`: sends (form fields `text`, creators also `media` and `price`).
async fn send(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let form = parse_send_form(&body);
    let result = match (
        minor(&form.price),
        form.media
            .iter()
            .map(|m| Uuid::parse_str(m))
            .collect::<Result<Vec<_>, _>>(),
    ) {
        (Err(e), _) => Err(e),
        (_, Err(_)) => Err(AppError::field("media_ids", "pick items from your vault")),
        (Ok(price_minor), Ok(media)) => service::send(
            &state,
            &user.user,
            id,
            &Outgoing {
                text: form.text.clone(),
                media,
                price_minor,
            },
        )
        .await
        .map(|_| ()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/messages/{id}#message-composer")).into_response()),
        Err(e) => thread_page(&state, layout, &user, id, &form, Said::refusal(e)?).await,
    }
}

/// Reads the composer's form (`media` may repeat).
fn parse_send_form(body: &[u8]) -> SendForm {
    let mut form = SendForm::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "text" => form.text = v.into_owned(),
            "price" => form.price = v.into_owned(),
            "media" => form.media.push(v.into_owned()),
            _ => {}
        }
    }
    form
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OpenForm {
    creator: String,
}

/// `POST /messages/open`: a fan opens the conversation with a creator (the button on the
/// creator's page).
async fn open(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<OpenForm>,
) -> Result<Response, AppError> {
    match service::open(&state, &user.user, Some(&form.creator), None).await {
        Ok(c) => Ok(Redirect::to(&format!("/messages/{}", c.id)).into_response()),
        Err(AppError::Conflict(_)) => Ok(Redirect::to(&format!(
            "/{}?message=subscribe",
            form.creator.trim_start_matches('@')
        ))
        .into_response()),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BlockForm {
    block: String,
}

/// `POST /messages/{id}/block`: the creator blocks (`block=1`) or unblocks the fan.
async fn block(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
    Form(form): Form<BlockForm>,
) -> Result<Response, AppError> {
    service::block(&state, &user.user, id, form.block == "1").await?;
    Ok(Redirect::to(&format!("/messages/{id}")).into_response())
}

/// `GET /messages/m/{id}`: a message's place in its thread (after a checkout).
async fn to_message(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MessageId>,
) -> Result<Response, AppError> {
    let m = service::message_view(&state, &user.user, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Redirect::to(&format!("/messages/{}#message-{}", m.conversation_id, m.id)).into_response())
}

struct MassLine {
    id: Uuid,
    when: String,
    segment: &'static str,
    text: String,
    status: &'static str,
    sent: i32,
    read: i64,
    unlocked: i64,
    revenue: String,
    can_unsend: bool,
}

#[derive(Template)]
#[template(path = "messages/mass.html")]
struct MassPage {
    layout: Layout,
    lines: Vec<MassLine>,
    vault: Vec<Pick>,
    form: MassForm,
    errors: FieldErrors,
    form_error: String,
    notice: &'static str,
}

impl FormErrors for MassPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
struct MassForm {
    segment: String,
    min_spend: String,
    post_id: String,
    text: String,
    price: String,
    send_at: String,
    media: Vec<String>,
}

fn segment_label(s: super::types::Segment) -> &'static str {
    use super::types::Segment;
    match s {
        Segment::Active => "Active subscribers",
        Segment::Expired => "Expired subscribers",
        Segment::Spenders => "Top spenders",
        Segment::Buyers => "Buyers of a post",
    }
}

async fn mass_render(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    form: MassForm,
    said: Said,
) -> Result<Response, AppError> {
    use super::types::MassStatus;
    let lines = service::mass_list(state, &user.user, None)
        .await?
        .into_iter()
        .map(|m| MassLine {
            id: m.id.0,
            when: when(m.send_at),
            segment: segment_label(m.segment),
            text: m.text.chars().take(80).collect(),
            status: match m.status {
                MassStatus::Scheduled => "Scheduled",
                MassStatus::Sending => "Sending",
                MassStatus::Sent => "Sent",
                MassStatus::Unsent => "Unsent",
            },
            can_unsend: m.status != MassStatus::Unsent,
            sent: m.sent,
            read: m.read,
            unlocked: m.unlocked,
            revenue: m
                .price
                .as_ref()
                .map(|p| site::money(m.revenue_minor, &p.currency))
                .unwrap_or_default(),
        })
        .collect();
    let vault = service::vault(state, &user.user, None, None)
        .await?
        .into_iter()
        .take(60)
        .map(|v| Pick {
            id: v.id,
            thumb: v.thumb_url.unwrap_or_default(),
            video: v.kind == crate::media::Kind::Video,
            sent: false,
            bought: false,
        })
        .collect();
    let page = MassPage {
        layout,
        lines,
        vault,
        form,
        errors: said.errors,
        form_error: said.form_error,
        notice: said.notice,
    };
    Ok(site::render(&page, said.status))
}

/// `GET /dashboard/messages/mass`.
async fn mass_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let form = MassForm {
        segment: "active".into(),
        ..MassForm::default()
    };
    mass_render(&state, layout, &user, form, Said::ok("")).await
}

fn parse_mass_form(body: &[u8]) -> MassForm {
    let mut f = MassForm::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "segment" => f.segment = v,
            "min_spend" => f.min_spend = v,
            "post_id" => f.post_id = v,
            "text" => f.text = v,
            "price" => f.price = v,
            "send_at" => f.send_at = v,
            "media" => f.media.push(v),
            _ => {}
        }
    }
    f
}

/// `POST /dashboard/messages/mass`: sends (or schedules) a mass message.
async fn mass_send(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let form = parse_mass_form(&body);
    let request = || -> Result<MassRequest, AppError> {
        let min_spend = match form.min_spend.trim() {
            "" => None,
            s => Some(crate::money::minor_units(s).ok_or_else(|| {
                AppError::field("min_spend_minor", "enter an amount such as 50.00")
            })?),
        };
        let post_id = match form.post_id.trim() {
            "" => None,
            s => Some(
                Uuid::parse_str(s)
                    .map_err(|_| AppError::field("post_id", "paste the post's id"))?,
            ),
        };
        let send_at = match form.send_at.trim() {
            "" => None,
            s => Some(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                    .map(|n| n.and_utc())
                    .map_err(|_| AppError::field("send_at", "pick a date and time (UTC)"))?,
            ),
        };
        let media = form
            .media
            .iter()
            .map(|m| Uuid::parse_str(m))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| AppError::field("media_ids", "pick items from your vault"))?;
        Ok(MassRequest {
            out: Outgoing {
                text: form.text.clone(),
                media,
                price_minor: minor(&form.price)?,
            },
            segment: form.segment.clone(),
            min_spend_minor: min_spend,
            post_id,
            send_at,
        })
    };
    let result = match request() {
        Ok(r) => service::create_mass(&state, &user.user, &r)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/dashboard/messages/mass?sent=1").into_response()),
        Err(e) => mass_render(&state, layout, &user, form, Said::refusal(e)?).await,
    }
}

/// `POST /dashboard/messages/mass/{id}/unsend`.
async fn mass_unsend(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MassMessageId>,
) -> Result<Response, AppError> {
    service::unsend_mass(&state, &user.user, id).await?;
    Ok(Redirect::to("/dashboard/messages/mass").into_response())
}

struct VaultLine {
    id: Uuid,
    thumb: String,
    video: bool,
    tags: String,
    posts: usize,
    messages: i64,
    when: String,
}

#[derive(Template)]
#[template(path = "messages/vault.html")]
struct VaultPage {
    layout: Layout,
    items: Vec<VaultLine>,
    tag: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VaultQuery {
    tag: String,
}

/// `GET /dashboard/vault`: every ready photo and video, with tags and where each is used.
async fn vault_page(
    State(state): State<AppState>,
    layout: Layout,
    role: RequireRole<Creator>,
    Query(q): Query<VaultQuery>,
) -> Result<Response, AppError> {
    let user = role.0;
    let tag = q.tag.trim().to_lowercase();
    let items = service::vault(&state, &user.user, Some(tag.as_str()), None)
        .await?
        .into_iter()
        .map(|v| VaultLine {
            id: v.id,
            thumb: v.thumb_url.unwrap_or_default(),
            video: v.kind == crate::media::Kind::Video,
            tags: v.tags.join(" "),
            posts: v.posts.len(),
            messages: v.messages,
            when: when(v.created_at),
        })
        .collect();
    Ok(site::render(
        &VaultPage { layout, items, tag },
        StatusCode::OK,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TagForm {
    id: String,
    tags: String,
}

/// `POST /dashboard/vault`: replaces one item's tags (space- or comma-separated).
async fn vault_tag(
    State(state): State<AppState>,
    role: RequireRole<Creator>,
    Form(form): Form<TagForm>,
) -> Result<Response, AppError> {
    let user = role.0;
    let id = Uuid::parse_str(&form.id).map_err(|_| AppError::field("id", "is not an item"))?;
    let tags: Vec<String> = form
        .tags
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    service::tag(&state, &user.user, id, &tags).await?;
    Ok(Redirect::to("/dashboard/vault").into_response())
}

#[derive(Template)]
#[template(path = "messages/settings.html")]
struct SettingsPage {
    layout: Layout,
    emails: bool,
    notice: &'static str,
}

/// `GET /messages/settings`: whether unread messages are emailed.
async fn settings_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<SavedQuery>,
) -> Result<Response, AppError> {
    let emails = service::wants_emails(&state, &user.user).await?;
    let notice = if q.saved.is_empty() { "" } else { "Saved." };
    Ok(site::render(
        &SettingsPage {
            layout,
            emails,
            notice,
        },
        StatusCode::OK,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SavedQuery {
    saved: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SettingsForm {
    emails: String,
}

/// `POST /messages/settings`.
async fn settings_save(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    service::set_wants_emails(&state, &user.user, form.emails == "on").await?;
    Ok(Redirect::to("/messages/settings?saved=1").into_response())
}
