//! JSON handlers: `POST /api/v1/reports` (anyone) and `/api/v1/moderation/...` (moderators
//! and administrators, from a session signed in with a second factor).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, QueuedReport, ReportInput};
use super::types::{ReportCategory, ReportId, ReportStatus, ReportSubject};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, MaybeUser, Moderator, PathId, RequireRole};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(file_report))
        .routes(routes!(report_queue))
        .routes(routes!(dismiss_report))
}

/// A report.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ReportRequest {
    /// `profile`, `post`, `comment` or `message`.
    #[schema(example = "post")]
    pub subject_type: String,
    /// The id of what is reported (for a profile: the creator's account id).
    #[schema(format = Uuid)]
    pub subject_id: String,
    /// `illegal`, `non_consensual`, `underage`, `copyright`, `spam` or `other`.
    #[schema(example = "non_consensual")]
    pub category: String,
    /// What is wrong (up to 2,000 characters; required for `other`).
    #[schema(max_length = 2000)]
    pub details: String,
    /// Where to send the acknowledgement and the outcome (required when not signed in;
    /// signed-in reporters are written to at their account's address).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// A report received.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportReceived {
    /// Its reference.
    pub id: ReportId,
    /// When it is answered at the latest.
    pub due_at: DateTime<Utc>,
}

/// Reports a profile, post, comment or message (signed in or not). The reporter gets an
/// acknowledgement and, later, the outcome by email.
#[utoipa::path(post, path = "/api/v1/reports", tag = "moderation", request_body = ReportRequest,
    responses(
        (status = 201, description = "Received", body = ReportReceived),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is wrong, or the thing is not there", body = ErrorBody),
        (status = 429, description = "Too many reports from this address", body = ErrorBody),
    ))]
async fn file_report(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<ReportRequest>,
) -> Result<(StatusCode, axum::Json<ReportReceived>), AppError> {
    let filed = service::file(
        &state,
        user.as_ref().map(|u| &u.user),
        &client,
        &ReportInput {
            subject_type: req.subject_type,
            subject_id: req.subject_id,
            category: req.category,
            details: req.details,
            email: req.email,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ReportReceived {
            id: filed.id,
            due_at: filed.due_at,
        }),
    ))
}

/// A report in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedReportResponse {
    /// Id.
    pub id: ReportId,
    /// What is reported.
    pub subject_type: ReportSubject,
    /// Its id.
    pub subject_id: Uuid,
    /// Whose it is.
    pub owner_id: Option<Uuid>,
    /// Their name.
    pub owner_name: Option<String>,
    /// Why.
    pub category: ReportCategory,
    /// What the reporter wrote.
    pub details: String,
    /// Signed-in reporter (none: a visitor).
    pub reporter_id: Option<Uuid>,
    /// Where.
    pub status: ReportStatus,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Open and past its due time.
    pub overdue: bool,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The moderator's reason.
    pub resolution: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<QueuedReport> for QueuedReportResponse {
    fn from(q: QueuedReport) -> Self {
        let r = q.row;
        QueuedReportResponse {
            id: ReportId(r.id),
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            category: r.category,
            details: r.details,
            reporter_id: r.reporter_id,
            status: r.status,
            due_at: r.due_at,
            overdue: q.overdue,
            resolved_at: r.resolved_at,
            resolution: r.resolution,
            created_at: r.created_at,
        }
    }
}

/// Which reports to list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    /// `open` (default), `dismissed` or `actioned`.
    pub status: Option<String>,
}

/// The reports queue: open reports soonest due first (overdue ones flagged), or resolved
/// ones newest first (at most 200).
#[utoipa::path(get, path = "/api/v1/moderation/reports", tag = "moderation",
    params(("status" = Option<ReportStatus>, Query, description = "`open` (default), `dismissed` or `actioned`")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The reports", body = Vec<QueuedReportResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "Unknown status", body = ErrorBody),
    ))]
async fn report_queue(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    Query(q): Query<QueueQuery>,
) -> Result<axum::Json<Vec<QueuedReportResponse>>, AppError> {
    let status = parse_status(q.status.as_deref())?;
    let items = service::queue(&state, status, 200).await?;
    Ok(axum::Json(items.into_iter().map(Into::into).collect()))
}

/// `?status=` read, or the field error.
pub(super) fn parse_status(raw: Option<&str>) -> Result<ReportStatus, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(ReportStatus::Open),
        Some(s) => ReportStatus::parse(s)
            .ok_or_else(|| AppError::field("status", "must be open, dismissed or actioned")),
    }
}

/// Why a report is closed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ResolveRequest {
    /// The reason (required; kept in the audit log and sent to the reporter).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Dismisses an open report: nothing breaks the rules. Audited; the reporter is told.
#[utoipa::path(post, path = "/api/v1/moderation/reports/{id}/dismiss", tag = "moderation",
    params(("id" = Uuid, Path, description = "The report")),
    request_body = ResolveRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Dismissed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such report", body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 422, description = "No reason", body = ErrorBody),
    ))]
async fn dismiss_report(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<ReportId>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<StatusCode, AppError> {
    service::dismiss(&state, &who.0.user, id, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
