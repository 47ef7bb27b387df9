//! The console's accounts: search and view (operators), role changes (administrators). A
//! suspension is moderation's action (`/api/v1/moderation/accounts/{id}/suspend`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::accounts::standing::{self, AccountSummary, Suspension};
use crate::accounts::{FieldCheck, Role, User, UserId};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{Admin, ApiJson, ClientMeta, Moderator, PathId, RequireRole};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_users))
        .routes(routes!(get_user))
        .routes(routes!(change_role))
}

/// Most accounts a search answers.
pub const MAX_RESULTS: i64 = 50;

/// An account in the console.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// Whether the address was confirmed.
    pub email_verified: bool,
    /// `suspended` or `banned`, if so.
    pub suspension: Option<Suspension>,
    /// Since when.
    pub suspended_at: Option<DateTime<Utc>>,
    /// Deleted by its owner.
    pub deleted: bool,
    /// Signs in with a second factor.
    pub two_factor: bool,
    /// Their creator handle.
    pub handle: Option<String>,
}

impl From<AccountSummary> for AccountResponse {
    fn from(a: AccountSummary) -> Self {
        AccountResponse {
            id: a.id,
            email: a.email,
            display_name: a.display_name,
            role: a.role,
            created_at: a.created_at,
            email_verified: a.email_verified,
            suspension: a.suspension,
            suspended_at: a.suspended_at,
            deleted: a.deleted,
            two_factor: a.two_factor,
            handle: a.handle,
        }
    }
}

/// A search.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserQuery {
    /// Part of an email, name or handle (empty: the newest accounts).
    pub q: String,
}

/// Accounts whose email, name or handle contains `q`, newest first (at most 50).
pub async fn search(state: &AppState, q: &str) -> Result<Vec<AccountSummary>, AppError> {
    if q.chars().count() > 254 {
        return Err(AppError::field("q", "is longer than 254 characters"));
    }
    if q.chars().any(char::is_control) {
        return Err(AppError::field("q", "cannot contain control characters"));
    }
    Ok(standing::search(&state.db, q, MAX_RESULTS).await?)
}

/// Searches accounts (operators).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    params(("q" = Option<String>, Query, description = "Part of an email, name or handle")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The accounts", body = Vec<AccountResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "The search is too long", body = ErrorBody),
    ))]
async fn search_users(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    Query(q): Query<UserQuery>,
) -> Result<axum::Json<Vec<AccountResponse>>, AppError> {
    let rows = search(&state, &q.q).await?;
    Ok(axum::Json(rows.into_iter().map(Into::into).collect()))
}

/// One account (operators).
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The account")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The account", body = AccountResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an operator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _who: RequireRole<Moderator>,
    PathId(id): PathId<UserId>,
) -> Result<axum::Json<AccountResponse>, AppError> {
    let a = standing::get(&state.db, id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(axum::Json(a.into()))
}

/// A role change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct RoleRequest {
    /// `fan`, `creator`, `moderator` or `admin`.
    #[schema(example = "moderator")]
    pub role: String,
    /// Why (required; kept in the audit log).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Changes an account's role (administrators; not their own). `creator` needs a creator
/// profile and `fan` an account without one. The account's sessions end, so no session
/// keeps the old role's power; an operator role takes effect from a sign-in with a second
/// factor.
pub async fn set_role(
    state: &AppState,
    admin: &User,
    user: Uuid,
    role: &str,
    reason: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let mut check = FieldCheck::default();
    let role = Role::parse(role.trim());
    if role.is_none() {
        check.add("role", "must be one of fan, creator, moderator, admin");
    }
    let reason = check.text("reason", reason, crate::audit::MAX_REASON, true);
    check.finish()?;
    let (Some(role), Some(reason)) = (role, reason) else {
        return Err(AppError::BadRequest("invalid role change".into()));
    };
    if user == admin.id.0 {
        return Err(AppError::Conflict("you cannot change your own role".into()));
    }
    let mut tx = state.db.begin().await?;
    let account = standing::lock(&mut tx, user)
        .await?
        .filter(|a| !a.deleted)
        .ok_or(AppError::NotFound)?;
    match (role, account.handle.is_some()) {
        (Role::Creator, false) => {
            return Err(AppError::field(
                "role",
                "creator needs a creator profile (the person sets it up)",
            ));
        }
        (Role::Fan, true) => {
            return Err(AppError::field(
                "role",
                "fan cannot be given to an account with a creator profile",
            ));
        }
        _ => {}
    }
    if account.role == role {
        return Err(AppError::Conflict(format!(
            "this account is already {role}"
        )));
    }
    standing::set_role(&mut tx, user, role).await?;
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(admin.id.0),
            action: "admin.change_role",
            subject_type: "user",
            subject_id: Some(user),
            reason: &reason,
            details: serde_json::json!({"from": account.role.as_str(), "to": role.as_str()}),
            ip: client.ip,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user, from = account.role.as_str(), to = role.as_str(), "role changed");
    Ok(())
}

/// Changes an account's role (administrators). Audited; the account's sessions end.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/role", tag = "admin",
    params(("id" = Uuid, Path, description = "The account")),
    request_body = RoleRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator, or not signed in with a second factor", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Your own account, or the role it has", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    ))]
async fn change_role(
    State(state): State<AppState>,
    who: RequireRole<Admin>,
    client: ClientMeta,
    PathId(id): PathId<UserId>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<StatusCode, AppError> {
    set_role(&state, &who.0.user, id.0, &req.role, &req.reason, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
