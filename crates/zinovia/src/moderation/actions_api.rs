//! JSON handlers for moderators' actions (`/api/v1/moderation/...`: removals, suspensions,
//! restoring, appeals) and for owners (`/api/v1/notices`, `/api/v1/appeals`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::actions;
use super::actions_db::{ActionRow, AppealRow};
use super::api::ResolveRequest;
use super::types::{ActionId, ActionKind, AppealId, AppealStatus, ReportSubject};
use crate::accounts::UserId;
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{
    ApiJson, ClientMeta, CurrentUser, MaybeUser, Moderator, PathId, RequireRole,
};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(remove))
        .routes(routes!(suspend))
        .routes(routes!(restore))
        .routes(routes!(appeal_queue))
        .routes(routes!(grant_appeal))
        .routes(routes!(deny_appeal))
        .routes(routes!(my_notices))
        .routes(routes!(file_appeal))
}

/// What to remove.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RemovalRequest {
    /// `post`, `comment` or `message`.
    #[schema(example = "post")]
    pub subject_type: String,
    /// Its id.
    #[schema(example = "01a2470d-b494-7566-ac4e-793138c9a778")]
    pub subject_id: String,
    /// Why (required; sent to the owner and the reporters, kept in the audit log).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// An action taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionTaken {
    /// Its id (what an appeal or a restore names).
    pub action_id: ActionId,
}

/// Removes a post, comment or message: hidden from everyone at once, its files kept under a
/// legal hold, the owner told why, its open reports closed as acted on (each reporter told).
#[utoipa::path(post, path = "/api/v1/moderation/removals", tag = "moderation", request_body = RemovalRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Removed", body = ActionTaken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "A field is wrong, or the thing is not shown", body = ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    ApiJson(req): ApiJson<RemovalRequest>,
) -> Result<(StatusCode, axum::Json<ActionTaken>), AppError> {
    let mut check = crate::accounts::FieldCheck::default();
    let kind = ReportSubject::parse(req.subject_type.trim());
    if kind.is_none() {
        check.add("subject_type", "must be one of post, comment, message");
    }
    let id = Uuid::parse_str(req.subject_id.trim()).ok();
    if id.is_none() {
        check.add("subject_id", "is not an id");
    }
    if req.reason.trim().is_empty() {
        check.add("reason", "is required");
    }
    check.finish()?;
    let (Some(kind), Some(id)) = (kind, id) else {
        return Err(AppError::BadRequest("invalid removal".into()));
    };
    let action_id = actions::remove(&state, &who.0.user, kind, id, &req.reason, &client).await?;
    Ok((StatusCode::CREATED, axum::Json(ActionTaken { action_id })))
}

/// A suspension.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SuspendRequest {
    /// Why (required; sent to the owner, kept in the audit log).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    /// A ban (lifted by an administrator only) rather than a suspension.
    pub ban: bool,
}

/// Suspends or bans an account: sessions end, signing in is refused, the profile, posts and
/// checkouts behave as a deleted account's, fans' subscriptions are canceled at their rail,
/// held payouts wait. The owner is emailed the reason and a link to appeal.
#[utoipa::path(post, path = "/api/v1/moderation/accounts/{id}/suspend", tag = "moderation",
    params(("id" = Uuid, Path, description = "The account")),
    request_body = SuspendRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Suspended", body = ActionTaken),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Already suspended or banned, or an operator's account", body = ErrorBody),
        (status = 422, description = "No reason", body = ErrorBody),
    ))]
async fn suspend(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<UserId>,
    ApiJson(req): ApiJson<SuspendRequest>,
) -> Result<(StatusCode, axum::Json<ActionTaken>), AppError> {
    let action_id =
        actions::suspend(&state, &who.0.user, id.0, req.ban, &req.reason, &client).await?;
    Ok((StatusCode::CREATED, axum::Json(ActionTaken { action_id })))
}

/// Reverses an action: removed content shown again (its legal hold lifted), a suspended
/// account usable again with its posts. A ban is lifted by an administrator only.
/// Subscriptions a suspension canceled stay canceled.
#[utoipa::path(post, path = "/api/v1/moderation/actions/{id}/restore", tag = "moderation",
    params(("id" = Uuid, Path, description = "The action")),
    request_body = ResolveRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Reversed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator (a ban: not an administrator), or no second factor", body = ErrorBody),
        (status = 404, description = "No such action", body = ErrorBody),
        (status = 409, description = "Already reversed, or the thing was deleted since", body = ErrorBody),
        (status = 422, description = "No reason", body = ErrorBody),
    ))]
async fn restore(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<ActionId>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<StatusCode, AppError> {
    actions::restore(&state, &who.0.user, id, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A moderation action, as its owner and moderators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResponse {
    /// Id.
    pub id: ActionId,
    /// `remove`, `suspend` or `ban`.
    pub kind: ActionKind,
    /// `post`, `comment`, `message` or `account`.
    pub subject_type: String,
    /// Its id.
    pub subject_id: Uuid,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was reversed.
    pub restored_at: Option<DateTime<Utc>>,
    /// The moderator's note on reversing it.
    pub restore_reason: Option<String>,
    /// The text of an appeal waiting for a moderator.
    pub open_appeal: Option<String>,
}

impl From<ActionRow> for ActionResponse {
    fn from(a: ActionRow) -> Self {
        ActionResponse {
            id: ActionId(a.id),
            kind: a.kind,
            subject_type: a.subject_type,
            subject_id: a.subject_id,
            reason: a.reason,
            created_at: a.created_at,
            restored_at: a.restored_at,
            restore_reason: a.restore_reason,
            open_appeal: a.appeal,
        }
    }
}

/// What moderators did to the caller's things, newest first (each can be appealed).
#[utoipa::path(get, path = "/api/v1/notices", tag = "moderation",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The notices", body = Vec<ActionResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_notices(
    State(state): State<AppState>,
    who: CurrentUser,
) -> Result<axum::Json<Vec<ActionResponse>>, AppError> {
    let rows = actions::notices(&state, who.user.id.0).await?;
    Ok(axum::Json(rows.into_iter().map(Into::into).collect()))
}

/// An appeal.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct AppealRequest {
    /// The action appealed.
    #[schema(example = "01a2470d-b494-7566-ac4e-793138c9a778")]
    pub action_id: String,
    /// Why it is wrong (up to 4,000 characters).
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
    /// The token from a suspension notice (a suspended account cannot sign in); not needed
    /// when signed in as the owner.
    pub token: String,
}

/// An appeal received.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppealFiled {
    /// Its id.
    pub id: AppealId,
}

/// Appeals a moderation action, as its owner (signed in, or with the notice's token).
#[utoipa::path(post, path = "/api/v1/appeals", tag = "moderation", request_body = AppealRequest,
    responses(
        (status = 201, description = "Filed", body = AppealFiled),
        (status = 404, description = "No such action of yours", body = ErrorBody),
        (status = 409, description = "Already reversed, or an appeal is waiting", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    ))]
async fn file_appeal(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiJson(req): ApiJson<AppealRequest>,
) -> Result<(StatusCode, axum::Json<AppealFiled>), AppError> {
    let id = Uuid::parse_str(req.action_id.trim())
        .map_err(|_| AppError::field("action_id", "is not an id"))?;
    let filed = actions::appeal(
        &state,
        user.as_ref().map(|u| &u.user),
        ActionId(id),
        &req.body,
        &req.token,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(AppealFiled { id: filed })))
}

/// An appeal in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppealResponse {
    /// Id.
    pub id: AppealId,
    /// The action appealed.
    pub action: ActionId,
    /// What it was.
    pub kind: ActionKind,
    /// On what.
    pub subject_type: String,
    /// Its id.
    pub subject_id: Uuid,
    /// Whose.
    pub owner_id: Uuid,
    /// Their name.
    pub owner_name: String,
    /// The action's reason.
    pub action_reason: String,
    /// What the owner wrote.
    pub body: String,
    /// Where it stands.
    pub status: AppealStatus,
    /// The moderator's decision.
    pub decision: Option<String>,
    /// When it was filed.
    pub created_at: DateTime<Utc>,
}

impl From<AppealRow> for AppealResponse {
    fn from(a: AppealRow) -> Self {
        AppealResponse {
            id: AppealId(a.id),
            action: ActionId(a.action_id),
            kind: a.kind,
            subject_type: a.subject_type,
            subject_id: a.subject_id,
            owner_id: a.owner_id,
            owner_name: a.owner_name,
            action_reason: a.action_reason,
            body: a.body,
            status: a.status,
            decision: a.decision,
            created_at: a.created_at,
        }
    }
}

/// Which appeals.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AppealQuery {
    /// `open` (default), `granted` or `denied`.
    pub status: Option<String>,
}

/// `?status=` read, or the field error.
pub(super) fn parse_appeal_status(raw: Option<&str>) -> Result<AppealStatus, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(AppealStatus::Open),
        Some(s) => AppealStatus::parse(s)
            .ok_or_else(|| AppError::field("status", "must be open, granted or denied")),
    }
}

/// The appeals queue: open appeals oldest first, or decided ones newest first.
#[utoipa::path(get, path = "/api/v1/moderation/appeals", tag = "moderation",
    params(("status" = Option<AppealStatus>, Query, description = "`open` (default), `granted` or `denied`")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The appeals", body = Vec<AppealResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "Unknown status", body = ErrorBody),
    ))]
async fn appeal_queue(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    Query(q): Query<AppealQuery>,
) -> Result<axum::Json<Vec<AppealResponse>>, AppError> {
    let status = parse_appeal_status(q.status.as_deref())?;
    let rows = actions::appeals(&state, status).await?;
    Ok(axum::Json(rows.into_iter().map(Into::into).collect()))
}

/// Grants an appeal: the action is reversed (as restoring it), the owner told.
#[utoipa::path(post, path = "/api/v1/moderation/appeals/{id}/grant", tag = "moderation",
    params(("id" = Uuid, Path, description = "The appeal")),
    request_body = ResolveRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Granted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator (a ban: not an administrator), or no second factor", body = ErrorBody),
        (status = 404, description = "No such appeal", body = ErrorBody),
        (status = 409, description = "Already decided", body = ErrorBody),
        (status = 422, description = "No reason", body = ErrorBody),
    ))]
async fn grant_appeal(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<AppealId>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<StatusCode, AppError> {
    let action = actions::appeal_action(&state, id).await?;
    actions::restore(&state, &who.0.user, action, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Denies an appeal with a reason: the action stands; the owner is told.
#[utoipa::path(post, path = "/api/v1/moderation/appeals/{id}/deny", tag = "moderation",
    params(("id" = Uuid, Path, description = "The appeal")),
    request_body = ResolveRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Denied"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such appeal", body = ErrorBody),
        (status = 409, description = "Already decided", body = ErrorBody),
        (status = 422, description = "No reason", body = ErrorBody),
    ))]
async fn deny_appeal(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<AppealId>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<StatusCode, AppError> {
    actions::deny(&state, &who.0.user, id, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
