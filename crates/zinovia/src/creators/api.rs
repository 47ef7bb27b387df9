//! JSON handlers: a creator's public profile, and the caller's own creator profile.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, Found, ProfileInput};
use super::types::CreatorResponse;
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, CurrentUser, MaybeUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_creator))
        .routes(routes!(put_my_creator))
}

/// A creator's profile.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatorRequest {
    /// 3–30 of a-z, 0-9 and `_` (case folds, a leading `@` is dropped; reserved words
    /// such as `admin` or `explore` are refused).
    #[schema(example = "ada_lovelace", pattern = "^@?[A-Za-z0-9_]{3,30}$")]
    pub handle: String,
    /// Public name, 1–60 characters.
    #[schema(min_length = 1, max_length = 60)]
    pub display_name: String,
    /// About (plain text, at most 1,000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub bio: String,
    /// A ready image of yours uploaded with purpose `avatar`.
    #[serde(default)]
    pub avatar_id: Option<Uuid>,
    /// A ready image of yours uploaded with purpose `banner`.
    #[serde(default)]
    pub banner_id: Option<Uuid>,
    /// Monthly price in minor units (cents), within the site's limits.
    #[schema(example = 999)]
    pub price_minor: i64,
    /// ISO 4217 code among the site's currencies.
    #[schema(example = "USD")]
    pub currency: String,
    /// Free days before the first charge (0–90); each fan gets a trial once.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 90)]
    pub trial_days: i64,
    /// Sent to new subscribers (at most 2,000 characters).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub welcome_message: Option<String>,
}

/// A permanent redirect to the creator's current handle.
pub(crate) fn moved(path: String) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, path)]).into_response()
}

/// A creator's profile with counts (subscribers only for the creator). A previous handle
/// redirects (301) to the current one for a while after a change.
#[utoipa::path(get, path = "/api/v1/creators/{handle}", tag = "creators",
    params(("handle" = String, Path, description = "The creator's handle")),
    responses(
        (status = 200, description = "The profile", body = CreatorResponse),
        (status = 301, description = "The creator changed handle: see Location"),
        (status = 404, description = "No such creator", body = ErrorBody),
    ))]
async fn get_creator(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    let mut conn = state.db.acquire().await?;
    let found = service::find(&mut conn, &handle).await?;
    drop(conn);
    match found {
        Found::MovedTo(h) => Ok(moved(format!("/api/v1/creators/{h}"))),
        Found::Creator(c) => {
            let own = user.as_ref().is_some_and(|u| u.user.id.0 == c.user_id);
            Ok(axum::Json(service::profile(&state, c, own).await?).into_response())
        }
    }
}

/// Becomes a creator (first call; the account must have a verified email) or edits the
/// profile. A changed handle keeps the old one redirecting for `HANDLE_REDIRECT_FOR`.
#[utoipa::path(put, path = "/api/v1/me/creator", tag = "creators", request_body = CreatorRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Updated", body = CreatorResponse),
        (status = 201, description = "You are now a creator", body = CreatorResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Email not verified yet", body = ErrorBody),
        (status = 422, description = "Invalid fields (handle taken, price out of range...)", body = ErrorBody),
    ))]
async fn put_my_creator(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreatorRequest>,
) -> Result<Response, AppError> {
    let (creator, created) = service::put(
        &state,
        &user,
        ProfileInput {
            handle: req.handle,
            display_name: req.display_name,
            bio: req.bio,
            avatar_id: req.avatar_id,
            banner_id: req.banner_id,
            price_minor: req.price_minor,
            currency: req.currency,
            trial_days: req.trial_days,
            welcome_message: req.welcome_message,
        },
    )
    .await?;
    let body = service::profile(&state, creator, true).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(body)).into_response())
}
