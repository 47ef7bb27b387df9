//! JSON handlers: the person's own verification (`/api/v1/me/verification...`) and the
//! reviewers' (`/api/v1/moderation/verifications...`, moderators and administrators with a
//! second factor).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, Mine};
use super::types::{VerificationId, VerificationStatus};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, CurrentUser, Moderator, PathId, RequireRole};
use crate::media::UploadInstructions;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_verification, set_details))
        .routes(routes!(document_upload))
        .routes(routes!(submit))
        .routes(routes!(queue))
        .routes(routes!(review))
        .routes(routes!(document_url))
        .routes(routes!(decide))
}

/// A person's verification as they see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyVerification {
    /// Whether they may sell (publish paid posts, take money, be paid).
    pub verified: bool,
    /// Whether this platform verifies creators at all (`CREATOR_VERIFICATION`).
    pub required: bool,
    /// The newest attempt's state (none: never started).
    pub status: Option<VerificationStatus>,
    /// What the check or a reviewer said (why it was refused, what is asked).
    pub problem: String,
    /// The legal name given.
    pub legal_name: String,
    /// The date of birth given.
    pub date_of_birth: Option<NaiveDate>,
    /// Whether an ID document was sent.
    pub id_document: bool,
    /// Whether a selfie was sent.
    pub selfie: bool,
}

impl From<Mine> for MyVerification {
    fn from(m: Mine) -> Self {
        let row = m.row.as_ref();
        let live = row.is_some_and(|r| r.status != VerificationStatus::Rejected);
        MyVerification {
            verified: m.off || row.is_some_and(|r| r.status == VerificationStatus::Approved),
            required: !m.off,
            status: row.map(|r| r.status),
            problem: row.map(|r| r.problem.clone()).unwrap_or_default(),
            legal_name: if live { m.legal_name } else { String::new() },
            date_of_birth: if live { m.date_of_birth } else { None },
            id_document: live && row.is_some_and(|r| r.id_document_type.is_some()),
            selfie: live && row.is_some_and(|r| r.selfie_type.is_some()),
        }
    }
}

/// The caller's verification.
#[utoipa::path(get, path = "/api/v1/me/verification", tag = "verification",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The caller's verification", body = MyVerification),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_verification(
    State(state): State<AppState>,
    who: CurrentUser,
) -> Result<axum::Json<MyVerification>, AppError> {
    Ok(axum::Json(
        service::mine(&state, who.user.id.0).await?.into(),
    ))
}

/// The person's details.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DetailsRequest {
    /// The legal name, as on the ID document.
    #[schema(max_length = 200)]
    pub legal_name: String,
    /// The date of birth (`YYYY-MM-DD`); 18 or older.
    #[schema(example = "1990-04-21")]
    pub date_of_birth: String,
}

/// Saves the legal name and date of birth (sealed; reviewers see them). Starts an attempt
/// if none is in progress.
#[utoipa::path(put, path = "/api/v1/me/verification", tag = "verification", request_body = DetailsRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = MyVerification),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already verified, or with the reviewers", body = ErrorBody),
        (status = 422, description = "A field is wrong (under 18 included)", body = ErrorBody),
    ))]
async fn set_details(
    State(state): State<AppState>,
    who: CurrentUser,
    ApiJson(req): ApiJson<DetailsRequest>,
) -> Result<axum::Json<MyVerification>, AppError> {
    service::set_details(&state, &who.user, &req.legal_name, &req.date_of_birth).await?;
    Ok(axum::Json(
        service::mine(&state, who.user.id.0).await?.into(),
    ))
}

/// A document to upload.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DocumentRequest {
    /// `id_document` or `selfie`.
    #[schema(example = "id_document")]
    pub document: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// Its size in bytes (up to 15 MiB).
    pub byte_size: i64,
}

/// Where to send a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentUpload {
    /// The request that uploads it, straight to private storage.
    pub upload: UploadInstructions,
    /// When the upload URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// An upload URL for the ID document or the selfie: the file goes straight to private
/// storage (never through the CDN). Uploading again replaces it.
#[utoipa::path(post, path = "/api/v1/me/verification/documents", tag = "verification", request_body = DocumentRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Upload instructions", body = DocumentUpload),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already verified, or with the reviewers", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    ))]
async fn document_upload(
    State(state): State<AppState>,
    who: CurrentUser,
    ApiJson(req): ApiJson<DocumentRequest>,
) -> Result<(StatusCode, axum::Json<DocumentUpload>), AppError> {
    let (upload, expires_at) = service::document_upload(
        &state,
        &who.user,
        &req.document,
        &req.content_type,
        req.byte_size,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(DocumentUpload {
            upload: upload.into(),
            expires_at,
        }),
    ))
}

/// Where an attempt went.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// `checking`: the files are being scanned; then `submitted` (with the reviewers) or
    /// back to `started` with a `problem`.
    pub status: VerificationStatus,
}

/// Submits the attempt for review (the details and both documents must be there).
#[utoipa::path(post, path = "/api/v1/me/verification/submit", tag = "verification",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "Being checked", body = Submitted),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already verified, or with the reviewers", body = ErrorBody),
        (status = 422, description = "Something is missing (named by field)", body = ErrorBody),
    ))]
async fn submit(
    State(state): State<AppState>,
    who: CurrentUser,
) -> Result<(StatusCode, axum::Json<Submitted>), AppError> {
    let status = service::submit(&state, &who.user).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(Submitted { status })))
}

/// An attempt in the reviewers' queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedVerification {
    /// Id.
    pub id: VerificationId,
    /// The account.
    pub user_id: Uuid,
    /// Its name.
    pub display_name: String,
    /// Its creator handle.
    pub handle: Option<String>,
    /// Where it stands.
    pub status: VerificationStatus,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Which attempts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueueQuery {
    /// `submitted` (default) or any other state.
    pub status: Option<String>,
}

/// `?status=` read, or the field error.
pub(super) fn parse_status(raw: Option<&str>) -> Result<VerificationStatus, AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(VerificationStatus::Submitted),
        Some(s) => VerificationStatus::parse(s).ok_or_else(|| {
            AppError::field(
                "status",
                "must be started, checking, submitted, more_needed, approved or rejected",
            )
        }),
    }
}

/// The verification queue: submitted attempts oldest first (or those in another state).
#[utoipa::path(get, path = "/api/v1/moderation/verifications", tag = "verification",
    params(("status" = Option<VerificationStatus>, Query, description = "`submitted` (default) or another state")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The attempts", body = Vec<QueuedVerification>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "Unknown status", body = ErrorBody),
    ))]
async fn queue(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    Query(q): Query<QueueQuery>,
) -> Result<axum::Json<Vec<QueuedVerification>>, AppError> {
    let status = parse_status(q.status.as_deref())?;
    let rows = service::queue(&state, status).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| QueuedVerification {
                id: VerificationId(r.id),
                user_id: r.user_id,
                display_name: r.display_name,
                handle: r.handle,
                status: r.status,
                submitted_at: r.submitted_at,
            })
            .collect(),
    ))
}

/// An attempt as a reviewer sees it (the documents through their own short-lived URLs).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResponse {
    /// Id.
    pub id: VerificationId,
    /// The account.
    pub user_id: Uuid,
    /// Its email.
    pub email: String,
    /// The legal name given.
    pub legal_name: String,
    /// The date of birth given.
    pub date_of_birth: Option<NaiveDate>,
    /// Age today.
    pub age: Option<i32>,
    /// Where it stands.
    pub status: VerificationStatus,
    /// The last note (a refusal by the check, a question, a reason).
    pub problem: String,
    /// Who checks (`manual`).
    pub provider: String,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When it was approved or rejected.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the documents were deleted (after the decision's keeping time).
    pub documents_deleted_at: Option<DateTime<Utc>>,
}

/// One attempt (reviewers).
#[utoipa::path(get, path = "/api/v1/moderation/verifications/{id}", tag = "verification",
    params(("id" = Uuid, Path, description = "The attempt")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The attempt", body = ReviewResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such attempt", body = ErrorBody),
    ))]
async fn review(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    PathId(id): PathId<VerificationId>,
) -> Result<axum::Json<ReviewResponse>, AppError> {
    let r = service::review(&state, id).await?;
    Ok(axum::Json(ReviewResponse {
        id,
        user_id: r.row.user_id,
        email: r.account.email,
        legal_name: r.legal_name,
        date_of_birth: r.date_of_birth,
        age: r.age,
        status: r.row.status,
        problem: r.row.problem,
        provider: r.row.provider,
        submitted_at: r.row.submitted_at,
        decided_at: r.row.decided_at,
        documents_deleted_at: r.row.documents_deleted_at,
    }))
}

/// A document's URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentUrl {
    /// Where to read it (signed by the storage itself, never the CDN).
    pub url: String,
    /// When it stops working (two minutes).
    pub expires_at: DateTime<Utc>,
}

/// A short-lived URL of the ID document or the selfie (reviewers). Every URL handed out is
/// written to the audit log (`verification.view_document`).
#[utoipa::path(post, path = "/api/v1/moderation/verifications/{id}/documents/{document}/url", tag = "verification",
    params(("id" = Uuid, Path, description = "The attempt"), ("document" = String, Path, description = "`id_document` or `selfie`")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The URL", body = DocumentUrl),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such attempt or document", body = ErrorBody),
        (status = 409, description = "The documents were deleted after the decision", body = ErrorBody),
    ))]
async fn document_url(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    Path((id, document)): Path<(String, String)>,
) -> Result<axum::Json<DocumentUrl>, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let (url, expires_at) =
        service::document_url(&state, &who.0.user, VerificationId(id), &document, &client).await?;
    Ok(axum::Json(DocumentUrl { url, expires_at }))
}

/// A decision.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DecisionRequest {
    /// `approved`, `rejected` or `more_needed`.
    #[schema(example = "approved")]
    pub decision: String,
    /// Why (required; sent to the person, kept in the audit log).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Decides a submitted attempt: approve, reject, or ask for more (audited; the person is
/// emailed). Nobody decides their own.
#[utoipa::path(post, path = "/api/v1/moderation/verifications/{id}/decision", tag = "verification",
    params(("id" = Uuid, Path, description = "The attempt")),
    request_body = DecisionRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Decided"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not a moderator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such attempt", body = ErrorBody),
        (status = 409, description = "Not waiting for a decision, or one's own", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    ))]
async fn decide(
    State(state): State<AppState>,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<VerificationId>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<StatusCode, AppError> {
    let decision = service::parse_decision(&req.decision)?;
    service::decide(&state, &who.0.user, id, decision, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
