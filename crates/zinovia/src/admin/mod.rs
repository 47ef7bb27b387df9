//! The admin console (`/admin`, `/api/v1/admin/...`): operators' views across features —
//! the audit log today, and the queues of moderation as they land. Operators are
//! administrators and moderators, always from a session signed in with a second factor
//! (`RequireRole`); every action they take is written to the audit log with its reason.

mod api;
mod pages;
mod users;

use axum::Router;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The JSON API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router().merge(users::router())
}

/// The pages.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::console))
        .route("/admin/audit", get(pages::audit))
        .route("/admin/users", get(pages::users))
        .route("/admin/users/{id}", get(pages::user))
        .route("/admin/users/{id}/suspend", post(pages::suspend))
        .route("/admin/users/{id}/restore", post(pages::restore))
        .route("/admin/users/{id}/role", post(pages::role))
}
