//! Messaging in the JSON API: conversations, threads, sending, read receipts, unsending,
//! blocks, reports, the creator's messaging settings, mass messages, the vault, and the
//! live stream.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, MAX_PAGE, MassRequest, Outgoing};
use super::types::{
    ConversationId, ConversationView, Inbox, MassMessageId, MassMessageView, MessageId,
    MessageView, MessagesFrom, Thread, VaultItem,
};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, Creator, CurrentUser, PathId, RequireRole};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox, open_conversation))
        .routes(routes!(thread))
        .routes(routes!(send))
        .routes(routes!(read))
        .routes(routes!(block, unblock))
        .routes(routes!(unsend))
        .routes(routes!(report))
        .routes(routes!(live))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(mass_list, mass_create))
        .routes(routes!(mass_recipients))
        .routes(routes!(mass_get, mass_unsend))
        .routes(routes!(vault))
        .routes(routes!(vault_tags))
        .routes(routes!(get_emails, put_emails))
}

fn page_limit(raw: Option<&str>, default: i64) -> Result<i64, AppError> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(AppError::field("limit", format!("must be 1–{MAX_PAGE}"))),
        },
    }
}

fn message_id(field: &str, raw: Option<&str>) -> Result<Option<MessageId>, AppError> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Uuid::parse_str(s)
            .map(|u| Some(MessageId(u)))
            .map_err(|_| AppError::field(field, "must be a message id")),
    }
}

/// Paging through an inbox.
#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Conversations per page (1–100, default 30).
    pub limit: Option<String>,
}

/// Your conversations, newest first, with the last message, your unread count and the other
/// side; and your unread total.
#[utoipa::path(get, path = "/api/v1/messages/conversations", tag = "messages",
    params(("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Conversations per page (1–100, default 30)", minimum = 1, maximum = 100)),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A page of your inbox", body = Inbox),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad cursor or limit", body = ErrorBody),
    ))]
async fn inbox(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<InboxQuery>,
) -> Result<axum::Json<Inbox>, AppError> {
    let limit = page_limit(q.limit.as_deref(), 30)?;
    Ok(axum::Json(
        service::inbox(&state, &user.user, q.cursor.as_deref(), limit).await?,
    ))
}

/// Whom to write to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenRequest {
    /// A creator's handle (a fan writing to a creator).
    #[schema(pattern = "^@?[A-Za-z0-9_]{3,30}$")]
    pub creator: Option<String>,
    /// A fan's account id (a creator writing to a fan who subscribes or ever subscribed or
    /// bought from them).
    pub fan_id: Option<Uuid>,
}

/// Opens the conversation with a creator (or, for a creator, with a fan); the existing one
/// if there is one.
#[utoipa::path(post, path = "/api/v1/messages/conversations", tag = "messages",
    request_body = OpenRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The conversation", body = ConversationView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The creator blocked you", body = ErrorBody),
        (status = 409, description = "The creator reads messages from subscribers only", body = ErrorBody),
        (status = 422, description = "No such creator or fan, or not someone you may write to", body = ErrorBody),
    ))]
async fn open_conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<OpenRequest>,
) -> Result<axum::Json<ConversationView>, AppError> {
    Ok(axum::Json(
        service::open(&state, &user.user, input.creator.as_deref(), input.fan_id).await?,
    ))
}

/// Paging through a thread.
#[derive(Debug, Deserialize)]
pub struct ThreadQuery {
    /// `next_cursor` of the previous page: older messages.
    pub before: Option<String>,
    /// Only messages after this one, oldest first (catching up).
    pub after: Option<String>,
    /// Messages per page (1–100, default 50).
    pub limit: Option<String>,
}

/// A conversation's messages, newest first. Paid messages you have not bought show their
/// price and, per item, only kind, size and a blurred placeholder.
#[utoipa::path(get, path = "/api/v1/messages/conversations/{id}", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation"),
        ("before" = Option<uuid::Uuid>, Query, description = "`next_cursor` of the previous page"),
        ("after" = Option<uuid::Uuid>, Query, description = "Only messages after this one, oldest first"),
        ("limit" = Option<i64>, Query, description = "Messages per page (1–100, default 50)", minimum = 1, maximum = 100)),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A page of the thread", body = Thread),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation of yours", body = ErrorBody),
        (status = 422, description = "Bad before, after or limit", body = ErrorBody),
    ))]
async fn thread(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
    Query(q): Query<ThreadQuery>,
) -> Result<axum::Json<Thread>, AppError> {
    let limit = page_limit(q.limit.as_deref(), 50)?;
    let before = message_id("before", q.before.as_deref())?;
    let after = message_id("after", q.after.as_deref())?;
    Ok(axum::Json(
        service::thread(&state, &user.user, id, before, after, limit).await?,
    ))
}

/// A message to send.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendRequest {
    /// Plain text (at most 2,000 characters; links become clickable).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub text: String,
    /// Creators: your ready photos and videos (purpose `post`), in order; at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub media_ids: Vec<Uuid>,
    /// Creators: the price to unlock the media, minor units of your currency
    /// (`PPV_PRICE_MIN`–`PPV_PRICE_MAX`); absent: free.
    pub price_minor: Option<i64>,
}

impl SendRequest {
    fn outgoing(self) -> Outgoing {
        Outgoing {
            text: self.text,
            media: self.media_ids,
            price_minor: self.price_minor,
        }
    }
}

/// Sends a message. Fans send text (media and prices are the creator's); a creator may attach
/// their own ready media, free or for a price. Delivered live to the other side.
#[utoipa::path(post, path = "/api/v1/messages/conversations/{id}/messages", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    request_body = SendRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Sent", body = MessageView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The creator blocked you", body = ErrorBody),
        (status = 404, description = "No such conversation of yours", body = ErrorBody),
        (status = 409, description = "The creator reads messages from subscribers only, or an account is closed", body = ErrorBody),
        (status = 422, description = "Bad text, media or price", body = ErrorBody),
        (status = 429, description = "Too many messages (RATE_LIMIT_MESSAGES)", body = ErrorBody),
    ))]
async fn send(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
    ApiJson(input): ApiJson<SendRequest>,
) -> Result<Response, AppError> {
    let m = service::send(&state, &user.user, id, &input.outgoing()).await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

/// Marks the conversation read (the other side sees the read receipt).
#[utoipa::path(post, path = "/api/v1/messages/conversations/{id}/read", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Read"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such conversation of yours", body = ErrorBody),
    ))]
async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
) -> Result<StatusCode, AppError> {
    service::read(&state, &user.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creators: blocks the fan of this conversation (they cannot write to you and get no mass
/// message).
#[utoipa::path(put, path = "/api/v1/messages/conversations/{id}/block", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Blocked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the creator blocks", body = ErrorBody),
        (status = 404, description = "No such conversation of yours", body = ErrorBody),
    ))]
async fn block(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
) -> Result<StatusCode, AppError> {
    service::block(&state, &user.user, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creators: unblocks the fan of this conversation.
#[utoipa::path(delete, path = "/api/v1/messages/conversations/{id}/block", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The conversation")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only the creator blocks", body = ErrorBody),
        (status = 404, description = "No such conversation of yours", body = ErrorBody),
    ))]
async fn unblock(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<ConversationId>,
) -> Result<StatusCode, AppError> {
    service::block(&state, &user.user, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creators: takes back a message you sent; it disappears for the fan unless they bought it.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The message")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Unsent"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a message you sent as the creator", body = ErrorBody),
        (status = 404, description = "No such message of yours", body = ErrorBody),
    ))]
async fn unsend(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MessageId>,
) -> Result<StatusCode, AppError> {
    service::unsend(&state, &user.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A report of a message.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    /// `illegal`, `non_consensual`, `underage`, `copyright`, `spam` or `other`.
    #[serde(default)]
    #[schema(value_type = super::types::ReportReason)]
    pub reason: String,
    /// What is wrong (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub details: String,
}

/// Reports a message you can see (kept for moderation).
#[utoipa::path(post, path = "/api/v1/messages/{id}/report", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The message")),
    request_body = ReportRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Reported"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such message you can see", body = ErrorBody),
        (status = 422, description = "Bad reason or details", body = ErrorBody),
    ))]
async fn report(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    PathId(id): PathId<MessageId>,
    ApiJson(input): ApiJson<ReportRequest>,
) -> Result<StatusCode, AppError> {
    service::report(
        &state,
        &user.user,
        &client,
        id,
        &input.reason,
        &input.details,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One event of the live stream as a client parses it (the stream itself is written by
/// axum's SSE encoder; this type documents its shape for the OpenAPI document).
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveEvent {
    /// What happened.
    pub event: LiveEventName,
    /// A JSON object: `hello` `{unread_total}`; `message` and `unlocked`
    /// `{message, unread_total}`; `unsent` `{message_id}`; `read`
    /// `{conversation_id, unread_total}`; `resync` `{conversation_id}` (null: everything).
    #[schema(content_media_type = "application/json")]
    pub data: String,
    /// Set on `message` events: the message id, to send back as `Last-Event-ID`.
    pub id: Option<String>,
}

/// The kinds of live event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveEventName {
    /// First event: your unread total.
    Hello,
    /// A new message in one of your conversations.
    Message,
    /// A message's media was unlocked.
    Unlocked,
    /// A message was unsent.
    Unsent,
    /// A read receipt, or your own read in another tab.
    Read,
    /// Reload what you show.
    Resync,
}

impl LiveEventName {
    /// The event's name on the wire (`event:` line).
    pub(super) fn as_str(&self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Message => "message",
            Self::Unlocked => "unlocked",
            Self::Unsent => "unsent",
            Self::Read => "read",
            Self::Resync => "resync",
        }
    }

    /// An event of this kind carrying `data`.
    pub(super) fn event(self, data: serde_json::Value) -> axum::response::sse::Event {
        axum::response::sse::Event::default()
            .event(self.as_str())
            .data(data.to_string())
    }
}

/// Your live stream (Server-Sent Events, `text/event-stream`): `hello` (your unread total),
/// then `message` (a new message as you may see it, with your unread total; its event id is
/// the message id), `unlocked`, `unsent`, `read` (a read receipt or your own read elsewhere,
/// with your unread total) and `resync` (reload); a comment heartbeat every 15 s. Reconnect
/// with `Last-Event-ID` to receive the messages you missed. See docs/API.md.
#[utoipa::path(get, path = "/api/v1/messages/live", tag = "messages",
    params(("Last-Event-ID" = Option<uuid::Uuid>, Header, description = "The last message id received (reconnecting)")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The event stream, one `LiveEvent` per event", content_type = "text/event-stream", body = LiveEvent),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn live(State(state): State<AppState>, user: CurrentUser, headers: HeaderMap) -> Response {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok());
    super::live::stream(state, user.auth.user, last).into_response()
}

/// A creator's messaging settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessagingSettings {
    /// Who may write to you: `subscribers` (default) or `anyone` signed in.
    pub messages_from: MessagesFrom,
    /// Sent to each new subscriber once (at most 2,000 characters); null: none.
    #[schema(max_length = 2000)]
    pub welcome_message: Option<String>,
    /// Media with the welcome message (your ready photos and videos, at most 20).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub welcome_media: Vec<Uuid>,
    /// A price to unlock the welcome media (minor units); null: free.
    pub welcome_price_minor: Option<i64>,
}

impl From<service::Settings> for MessagingSettings {
    fn from(s: service::Settings) -> MessagingSettings {
        MessagingSettings {
            messages_from: s.messages_from,
            welcome_message: s.welcome_message,
            welcome_media: s.welcome_media,
            welcome_price_minor: s.welcome_price_minor,
        }
    }
}

/// Creators: who may write to you, and your welcome message.
#[utoipa::path(get, path = "/api/v1/me/creator/messaging", tag = "messages",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The settings", body = MessagingSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a creator", body = ErrorBody),
    ))]
async fn get_settings(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<MessagingSettings>, AppError> {
    Ok(axum::Json(
        service::settings(&state, &user.user).await?.into(),
    ))
}

/// Creators: sets who may write to you and your welcome message.
#[utoipa::path(put, path = "/api/v1/me/creator/messaging", tag = "messages",
    request_body = MessagingSettings,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = MessagingSettings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad welcome text, media or price", body = ErrorBody),
    ))]
async fn put_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MessagingSettings>,
) -> Result<axum::Json<MessagingSettings>, AppError> {
    let s = service::Settings {
        messages_from: input.messages_from,
        welcome_message: input.welcome_message,
        welcome_media: input.welcome_media,
        welcome_price_minor: input.welcome_price_minor,
    };
    Ok(axum::Json(
        service::set_settings(&state, &user.user, &s).await?.into(),
    ))
}

/// A mass message to send.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MassMessageRequest {
    /// Plain text (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub text: String,
    /// Your ready photos and videos; at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub media_ids: Vec<Uuid>,
    /// Price to unlock the media (minor units); absent: free.
    pub price_minor: Option<i64>,
    /// `active`, `expired`, `spenders` or `buyers`.
    #[serde(default)]
    #[schema(value_type = super::types::Segment)]
    pub segment: String,
    /// `spenders`: fans who spent more than this with you (minor units, net of refunds).
    pub min_spend_minor: Option<i64>,
    /// `buyers`: fans who bought this post of yours.
    pub post_id: Option<Uuid>,
    /// Send later (within 90 days); absent: now.
    pub send_at: Option<DateTime<Utc>>,
}

impl MassMessageRequest {
    fn request(self) -> MassRequest {
        MassRequest {
            out: Outgoing {
                text: self.text,
                media: self.media_ids,
                price_minor: self.price_minor,
            },
            segment: self.segment,
            min_spend_minor: self.min_spend_minor,
            post_id: self.post_id,
            send_at: self.send_at,
        }
    }
}

/// Creators: your mass messages with their figures (sent, read, unlocked, revenue), newest
/// first.
#[utoipa::path(get, path = "/api/v1/messages/mass", tag = "messages",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Mass messages", body = Vec<MassMessageView>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn mass_list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<MassMessageView>>, AppError> {
    Ok(axum::Json(
        service::mass_list(&state, &user.user, None).await?,
    ))
}

/// Creators: sends one message to a segment of your fans (never to blocked ones), now or at
/// `send_at`; delivered by the worker in chunks, once per fan.
#[utoipa::path(post, path = "/api/v1/messages/mass", tag = "messages",
    request_body = MassMessageRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Queued", body = MassMessageView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad text, media, price, segment or time", body = ErrorBody),
        (status = 429, description = "Too many messages (RATE_LIMIT_MESSAGES)", body = ErrorBody),
    ))]
async fn mass_create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MassMessageRequest>,
) -> Result<Response, AppError> {
    let m = service::create_mass(&state, &user.user, &input.request()).await?;
    Ok((StatusCode::CREATED, axum::Json(m)).into_response())
}

/// How many fans a segment reaches now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipients {
    /// Fans.
    pub count: i64,
}

/// Creators: how many fans a mass message to this segment would reach now (text and media
/// are not needed).
#[utoipa::path(post, path = "/api/v1/messages/mass/recipients", tag = "messages",
    request_body = MassMessageRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The count", body = Recipients),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad segment", body = ErrorBody),
    ))]
async fn mass_recipients(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MassMessageRequest>,
) -> Result<axum::Json<Recipients>, AppError> {
    let count = service::recipients(&state, &user.user, &input.request()).await?;
    Ok(axum::Json(Recipients { count }))
}

/// Creators: one mass message with its figures.
#[utoipa::path(get, path = "/api/v1/messages/mass/{id}", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The mass message")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The mass message", body = MassMessageView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such mass message of yours", body = ErrorBody),
    ))]
async fn mass_get(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MassMessageId>,
) -> Result<axum::Json<MassMessageView>, AppError> {
    Ok(axum::Json(
        service::mass_view(&state, &user.user, id).await?,
    ))
}

/// Creators: unsends a mass message: delivery stops, and it disappears for every fan who has
/// not unlocked it.
#[utoipa::path(delete, path = "/api/v1/messages/mass/{id}", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The mass message")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Unsent", body = MassMessageView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such mass message of yours", body = ErrorBody),
    ))]
async fn mass_unsend(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<MassMessageId>,
) -> Result<axum::Json<MassMessageView>, AppError> {
    Ok(axum::Json(
        service::unsend_mass(&state, &user.user, id).await?,
    ))
}

/// Filtering the vault.
#[derive(Debug, Deserialize)]
pub struct VaultQuery {
    /// Only items with this tag.
    pub tag: Option<String>,
    /// Mark what was already sent to, or bought by, this fan.
    pub fan_id: Option<String>,
}

/// Creators: your vault — every ready photo and video, newest first (at most 500), with
/// tags, where each is used, and, for `fan_id`, whether it was already sent to or bought by
/// that fan.
#[utoipa::path(get, path = "/api/v1/vault", tag = "messages",
    params(("tag" = Option<String>, Query, description = "Only items with this tag (1–30 of a-z, 0-9, `_` and `-`; case does not matter)"),
        ("fan_id" = Option<uuid::Uuid>, Query, description = "Mark what this fan was sent or bought")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Vault items", body = Vec<VaultItem>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad fan_id or tag", body = ErrorBody),
    ))]
async fn vault(
    State(state): State<AppState>,
    role: RequireRole<Creator>,
    Query(q): Query<VaultQuery>,
) -> Result<axum::Json<Vec<VaultItem>>, AppError> {
    let user = role.0;
    let fan = match q.fan_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Uuid::parse_str(s).map_err(|_| AppError::field("fan_id", "must be an account id"))?,
        ),
    };
    Ok(axum::Json(
        service::vault(&state, &user.user, q.tag.as_deref(), fan).await?,
    ))
}

/// Tags for a vault item.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Tags {
    /// At most 20, each 1–30 of a-z, 0-9, `_` and `-` (lower-cased).
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
}

/// Creators: replaces the tags of one of your vault items.
#[utoipa::path(put, path = "/api/v1/vault/{id}/tags", tag = "messages",
    params(("id" = uuid::Uuid, Path, description = "The media item")),
    request_body = Tags,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The tags now", body = Tags),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a creator (`forbidden`), or a browser request without its CSRF token (`csrf_failed`)", body = ErrorBody),
        (status = 404, description = "No such item of yours", body = ErrorBody),
        (status = 422, description = "Bad tags", body = ErrorBody),
    ))]
async fn vault_tags(
    State(state): State<AppState>,
    role: RequireRole<Creator>,
    PathId(id): PathId<crate::media::MediaId>,
    ApiJson(input): ApiJson<Tags>,
) -> Result<axum::Json<Tags>, AppError> {
    let user = role.0;
    let tags = service::tag(&state, &user.user, id.0, &input.tags).await?;
    Ok(axum::Json(Tags { tags }))
}

/// Whether unread messages are emailed to you.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct MessageEmails {
    /// On (the default): one email when messages stay unread for `UNREAD_EMAIL_AFTER` with
    /// nothing newer.
    pub enabled: bool,
}

/// Whether unread messages are emailed to you.
#[utoipa::path(get, path = "/api/v1/me/message-emails", tag = "messages",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The setting", body = MessageEmails),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn get_emails(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<MessageEmails>, AppError> {
    let enabled = service::wants_emails(&state, &user.user).await?;
    Ok(axum::Json(MessageEmails { enabled }))
}

/// Turns emails about unread messages on or off.
#[utoipa::path(put, path = "/api/v1/me/message-emails", tag = "messages",
    request_body = MessageEmails,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = MessageEmails),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn put_emails(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MessageEmails>,
) -> Result<axum::Json<MessageEmails>, AppError> {
    service::set_wants_emails(&state, &user.user, input.enabled).await?;
    Ok(axum::Json(input))
}
