//! Posts and the paywall: writing posts, the one entitlement rule, the creator's page, the
//! feed, explore, likes and comments, and the per-process cache of hot creator pages.

mod api;
mod cache;
mod db;
pub mod entitlements;
pub mod moderate;
mod pages;
mod service;
mod types;
mod view;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use cache::{CHANNEL, PostsCache};
pub use db::{CREATOR_PAGE_SQL, ExploreRow, FEED_SQL, MEDIA_SQL};
pub use pages::{
    Card, CardMedia, card, card_media, cards, cursor_param, placeholder, summary, urlencode,
    video_length,
};
pub use service::{CreatorPage, DEFAULT_PAGE, ExploreRequest, creator_page, explore};
pub use service::{PpvOffer, asset_in_live_post, asset_visible, close_account, ppv_offer};
pub use types::{Cursor, DELIVERED, ExploreSort, Visibility, text_html};
pub use view::{CreatorRef, Listing, MediaView, PostView, Price, VariantUrl};

/// The JSON API (`/api/v1/posts...`, `/api/v1/creators/{handle}/posts`, `/api/v1/feed`,
/// `/api/v1/explore`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The web pages: the feed and the composer.
pub fn pages_router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/feed", get(pages::feed))
        .route(
            "/dashboard/compose",
            get(pages::compose).post(pages::publish),
        )
        .route("/posts/{id}", get(pages::post))
        .route("/posts/{id}/like", axum::routing::post(pages::like))
        .route("/posts/{id}/comments", axum::routing::post(pages::comment))
}
