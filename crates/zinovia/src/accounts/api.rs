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
use super::two_factor::{self, LogIn};
use super::types::{Role, SessionId, User, UserId};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, CurrentUser, PathId};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_in_second_factor))
        .routes(routes!(two_factor_status, disable_two_factor))
        .routes(routes!(begin_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(new_recovery_codes))
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

/// The password was right; the account uses two factors. Send a code with the challenge
/// to `POST /api/v1/auth/login/second-factor`. The challenge is not a session: it reaches
/// nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorChallenge {
    /// The challenge token (secret).
    pub challenge: String,
    /// When it stops working (then log in again).
    pub expires_at: DateTime<Utc>,
    /// What may answer it: `totp` (the app's 6 digits) and `recovery_code`.
    pub methods: Vec<&'static str>,
}

/// Logs in. A wrong password and an unknown email get the same answer. Accounts with
/// two-factor sign-in get a challenge (202) instead of a session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LogInRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 202, description = "Password accepted; a second factor is needed", body = SecondFactorChallenge),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`account_suspended`: the password matched, but a moderator suspended or banned the account", body = ErrorBody),
        (status = 422, description = "Missing fields", body = ErrorBody),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = ErrorBody),
    ))]
async fn log_in(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<LogInRequest>,
) -> Result<Response, AppError> {
    Ok(
        match service::log_in(&state, &req.email, &req.password, &client).await? {
            LogIn::Session(user, session) => {
                axum::Json(auth_response(&user, &session)).into_response()
            }
            LogIn::SecondFactor(c) => (
                StatusCode::ACCEPTED,
                axum::Json(SecondFactorChallenge {
                    challenge: c.token.expose_secret().to_owned(),
                    expires_at: c.expires_at,
                    methods: vec!["totp", "recovery_code"],
                }),
            )
                .into_response(),
        },
    )
}

/// The second step of a log-in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct SecondFactorRequest {
    /// The challenge from `POST /api/v1/auth/login`.
    #[schema(min_length = 1, max_length = 128)]
    pub challenge: String,
    /// The 6 digits the authenticator app shows, or an unused recovery code.
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    pub code: String,
}

/// Finishes a log-in with a second factor. Each code works once; wrong codes are
/// throttled, and five void the challenge (401: log in again).
#[utoipa::path(post, path = "/api/v1/auth/login/second-factor", tag = "accounts", request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Logged in", body = AuthResponse),
        (status = 401, description = "Unknown, expired or used-up challenge: log in again", body = ErrorBody),
        (status = 422, description = "Wrong or reused code, or missing fields", body = ErrorBody),
        (status = 429, description = "Too many attempts; see `Retry-After`", body = ErrorBody),
    ))]
async fn log_in_second_factor(
    state: axum::extract::State<AppState>,
    client: ClientMeta,
    ApiJson(req): ApiJson<SecondFactorRequest>,
) -> Result<axum::Json<AuthResponse>, AppError> {
    let (user, session) =
        two_factor::complete_log_in(&state, &req.challenge, &req.code, &client).await?;
    Ok(axum::Json(auth_response(&user, &session)))
}

/// The caller's second factors.
#[derive(Debug, Serialize, ToSchema)]
pub struct TwoFactorStatus {
    /// An authenticator app is enrolled (two-factor sign-in is on).
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// The account's role requires two-factor sign-in (administrators, moderators).
    pub required: bool,
    /// This session signed in with a second factor.
    pub this_session: bool,
}

/// Whether two-factor sign-in is on.
#[utoipa::path(get, path = "/api/v1/auth/two-factor", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Second factors", body = TwoFactorStatus),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn two_factor_status(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<TwoFactorStatus>, AppError> {
    let s = two_factor::status(&state, &user).await?;
    Ok(axum::Json(TwoFactorStatus {
        totp: s.totp,
        recovery_codes_left: s.recovery_codes_left,
        required: s.required,
        this_session: s.this_session,
    }))
}

/// What an authenticator app needs to enrol (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// The shared secret, base32 (to type in by hand).
    pub secret: String,
    /// The `otpauth://` URI.
    pub uri: String,
    /// The URI as a QR code (an SVG document).
    pub qr_svg: String,
}

/// Starts enrolling an authenticator app (again: a new secret replaces an unconfirmed one).
/// Confirm with its first code.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/totp", tag = "accounts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Scan or type this into the app", body = TotpEnrolmentResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Two-factor sign-in is already on", body = ErrorBody),
    ))]
async fn begin_totp(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<TotpEnrolmentResponse>, AppError> {
    let e = two_factor::begin_totp(&state, &user).await?;
    Ok(axum::Json(TotpEnrolmentResponse {
        secret: e.secret,
        uri: e.uri,
        qr_svg: e.qr_svg,
    }))
}

/// A code from the authenticator app (or, where accepted, a recovery code).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CodeRequest {
    /// The 6 digits the app shows (or an unused recovery code).
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    pub code: String,
}

/// Recovery codes: each signs in once instead of the app. Shown once; keep them offline.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, `xxxxx-xxxxx`.
    pub recovery_codes: Vec<String>,
}

/// Turns two-factor sign-in on with the app's first code; this session counts as signed in
/// with it. Answers ten recovery codes.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/totp/confirm", tag = "accounts", request_body = CodeRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "On; the recovery codes", body = RecoveryCodes),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already on", body = ErrorBody),
        (status = 422, description = "Wrong code, or no enrolment started", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn confirm_totp(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<axum::Json<RecoveryCodes>, AppError> {
    let recovery_codes = two_factor::confirm_totp(&state, &user, &req.code, &client).await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

/// Replaces the recovery codes (the old ones stop working), with a fresh code.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/recovery-codes", tag = "accounts", request_body = CodeRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The new codes", body = RecoveryCodes),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Wrong code, or two-factor sign-in is off", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn new_recovery_codes(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<axum::Json<RecoveryCodes>, AppError> {
    let recovery_codes = two_factor::new_recovery_codes(&state, &user, &req.code, &client).await?;
    Ok(axum::Json(RecoveryCodes { recovery_codes }))
}

/// Turning two-factor sign-in off.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct DisableTwoFactorRequest {
    /// The account's password.
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// A current code (or an unused recovery code).
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

/// Turns two-factor sign-in off (password and a fresh code; not for operators). The owner
/// is emailed.
#[utoipa::path(delete, path = "/api/v1/auth/two-factor", tag = "accounts", request_body = DisableTwoFactorRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Off"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "The role requires it", body = ErrorBody),
        (status = 422, description = "Wrong password or code", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ))]
async fn disable_two_factor(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(req): ApiJson<DisableTwoFactorRequest>,
) -> Result<StatusCode, AppError> {
    two_factor::disable(&state, &user, &req.password, &req.code, &client).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let mut me = UserResponse::from(&user.user);
    me.role = user.account_role();
    axum::Json(me)
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
