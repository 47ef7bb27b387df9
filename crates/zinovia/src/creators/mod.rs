//! Creators: becoming one, the profile (handle, prices, trial, images), and finding a
//! creator by handle (old handles redirect for a while).

mod api;
mod db;
mod pages;
mod service;
mod types;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use db::{by_handle, by_user, names};
pub use service::{Found, ProfileInput, avatar_urls, close_account, find, profile_images, put};
pub use types::{Creator, Handle};

/// A permanent redirect (a creator's previous handle).
pub fn api_moved(path: String) -> axum::response::Response {
    api::moved(path)
}

/// The JSON API (`/api/v1/creators/...`, `/api/v1/me/creator`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The web pages: profiles, creator settings, payouts and the dashboard.
pub fn pages_router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/{handle}", get(pages::profile))
        .route(
            "/settings/creator",
            get(pages::settings).post(pages::save_settings),
        )
        .route("/settings/payouts", post(pages::payouts))
        .route("/dashboard", get(pages::dashboard))
}
