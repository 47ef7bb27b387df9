//! Site-wide pages that belong to no feature: the home page and the error pages.

mod pages;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use pages::error_page;

/// The site's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(pages::home))
}
