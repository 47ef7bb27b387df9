//! JSON handlers of `/api/v1/auth/...`. API clients authenticate with the returned token as
//! `Authorization: Bearer`; browsers use the session cookie set by the pages.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, NewSession, SignUpInput};
use super::types::{Role, SessionId, User, UserId};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, CurrentUser, PathId};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_out))
        .routes(routes!(log_out_everywhere))
        .routes(routes!(me, delete_account))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(change_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
}

/// Sign-up.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SignUpRequest {
    /// Email address (unique, case-insensitive).
    #[schema(example = "ana@example.com", format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// 8–1024 characters, exactly as typed; common passwords and the email itself are
    /// refused.
    #[schema(
        example = "purple lighthouse at dawn",
        min_length = 8,
        max_length = 1024
    )]
    pub password: String,
    /// Public name, 1–80 characters (no invisible or control characters).
    #[schema(example = "Ana", min_length = 1, max_length = 80)]
    pub display_name: String,
    /// Must be `true`: the person confirms being 18 or older.
    pub confirm_adult: bool,
}

/// Log-in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct LogInRequest {
    /// Email address.
    #[schema(example = "ana@example.com", format = Email, min_length = 3, max_length = 254)]
    pub email: String,
    /// Password.
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

/// An account, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// Id.
    pub id: UserId,
    /// Email address.
    pub email: String,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// Public name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        UserResponse {
            id: u.id,
            email: u.email.clone(),
            email_verified: u.email_verified_at.is_some(),
            display_name: u.display_name.clone(),
            role: u.role,
            created_at: u.created_at,
        }
    }
}

/// A new session's token: send it as `Authorization: Bearer <token>`. Shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// The bearer token.
    pub token: String,
    /// The session's id (for `DELETE /api/v1/auth/sessions/{id}`).
    pub session_id: SessionId,
    /// When the session ends at the latest.
    pub expires_at: DateTime<Utc>,
}

/// An account with a new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    /// The account.
    pub user: UserResponse,
    /// The session.
    pub session: SessionToken,
}

fn auth_response(user: &User, session: &NewSession) -> AuthResponse {
    AuthResponse {
        user: user.into(),
        session: SessionToken {
            token: session.token.expose_secret().to_owned(),
            session_id: session.id,
            expires_at: session.expires_at,
        },
    }
}

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Id.
    pub id: SessionId,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Last use (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// The browser or client.
    pub user_agent: Option<String>,
    /// Where it logged in from.
    pub ip: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

/// Password change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChangePasswordRequest {
    /// The current password.
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// The new password (same rules as at sign-up).
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// A token from an emailed verification link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct VerifyEmailRequest {
    /// The `token` parameter of the link.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$", min_length = 1, max_length = 128)]
    pub token: String,
}

/// Ask for a password-reset email.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PasswordResetRequest {
    /// The account's email address.
    #[schema(format = Email, min_length = 3, max_length = 254)]
    pub email: String,
}

/// Choose a new password with a reset link's token.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct PasswordResetConfirm {
    /// The `token` parameter of the link.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$", min_length = 1, max_length = 128)]
    pub token: String,
    /// The new password (same rules as at sign-up).
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// Account deletion.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DeleteAccountRequest {
    /// The account's password, typed again.
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

/// Creates an account and logs it in; a verification email is on its way.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "accounts", request_body = SignUpRequest,
    responses(
        (status = 201, description = "Account created and logged in", body = AuthResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields (`validation_failed`, per field)", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address", body = ErrorBody),
    ))]
async fn sign_up(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<Response, AppError> {
    let input = SignUpInput {
        email: req.email,
        password: req.password,
        display_name: req.display_name,
        confirm_adult: req.confirm_adult,
    };
    let (user, session) = service::sign_up(&state, input, &client).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(auth_response(&user, &session)),
    )
        .into_response())
}

/// Logs in. A wrong password and an unknown email get the same answer.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LogInRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 422, description = "Missing fields", body = ErrorBody),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = ErrorBody),
    ))]
async fn log_in(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<LogInRequest>,
) -> Result<axum::Json<AuthResponse>, AppError> {
    let (user, session) = service::log_in(&state, &req.email, &req.password, &client).await?;
    Ok(axum::Json(auth_response(&user, &session)))
}

/// Ends the session making the request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Cookie session without a CSRF token", body = ErrorBody),
    ))]
async fn log_out(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode, AppError> {
    service::log_out(&state, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the account, this one included.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn log_out_everywhere(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode, AppError> {
    service::log_out_everywhere(&state, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The account", body = UserResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn me(user: CurrentUser) -> axum::Json<UserResponse> {
    axum::Json((&user.user).into())
}

/// Deletes the account (password required): personal data is erased and every session
/// ends at once.
#[utoipa::path(delete, path = "/api/v1/auth/me", tag = "accounts", request_body = DeleteAccountRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Wrong password", body = ErrorBody),
    ))]
async fn delete_account(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<DeleteAccountRequest>,
) -> Result<StatusCode, AppError> {
    service::delete_account(&state, &user, &req.password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's live sessions.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Sessions, most recently used first", body = [SessionResponse]),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn list_sessions(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<SessionResponse>>, AppError> {
    let rows = service::list_sessions(&state, &user).await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|s| SessionResponse {
                current: s.id == user.session_id,
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect(),
    ))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "accounts",
    params(("id" = SessionId, Path, description = "The session's id")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such session of yours", body = ErrorBody),
    ))]
async fn revoke_session(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<SessionId>,
) -> Result<StatusCode, AppError> {
    service::revoke_session(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password; every other session ends.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "accounts", request_body = ChangePasswordRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Wrong current password or a weak new one", body = ErrorBody),
    ))]
async fn change_password(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, AppError> {
    service::change_password(
        &state,
        &user,
        &req.current_password,
        &req.new_password,
        &client,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms an email address with the token from the emailed link (single use).
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "accounts", request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "Confirmed"),
        (status = 422, description = "Invalid, used or expired token", body = ErrorBody),
    ))]
async fn verify_email(
    state: axum::extract::State<AppState>,
    ApiJson(req): ApiJson<VerifyEmailRequest>,
) -> Result<StatusCode, AppError> {
    service::verify_email(&state, &req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends the verification email again.
#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "On its way (nothing to do if already confirmed)"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 429, description = "Asked too often", body = ErrorBody),
    ))]
async fn resend_verification(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    user: CurrentUser,
) -> Result<StatusCode, AppError> {
    service::resend_verification(&state, &user, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Emails a password-reset link if the address has an account; the answer is the same
/// either way.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "If the address has an account, a link is on its way"),
        (status = 422, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Asked too often", body = ErrorBody),
    ))]
async fn request_password_reset(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<PasswordResetRequest>,
) -> Result<StatusCode, AppError> {
    service::request_password_reset(&state, &req.email, &client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset link's token (single use); every session ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed; log in again"),
        (status = 422, description = "Invalid, used or expired token, or a weak password", body = ErrorBody),
    ))]
async fn confirm_password_reset(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<PasswordResetConfirm>,
) -> Result<StatusCode, AppError> {
    service::reset_password(&state, &req.token, &req.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
