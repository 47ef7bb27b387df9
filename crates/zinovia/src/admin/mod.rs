//! The admin console (`/admin`, `/api/v1/admin/...`): operators' views across features —
//! the audit log today, and the queues of moderation as they land. Operators are
//! administrators and moderators, always from a session signed in with a second factor
//! (`RequireRole`); every action they take is written to the audit log with its reason.

mod api;
mod pages;

use axum::Router;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The JSON API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The pages.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::console))
        .route("/admin/audit", get(pages::audit))
}
