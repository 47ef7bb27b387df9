//! Site-wide pages that belong to no feature (the home page, the error pages) and the
//! layout every page shares.

mod pages;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::get;

use crate::error::AppError;
use crate::http::csrf::CsrfToken;
use crate::http::extract::MaybeUser;
use crate::state::AppState;

pub use pages::error_page;

/// The site's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(pages::home))
}

/// What the shared layout shows: who is signed in, and the CSRF token for its forms.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The signed-in person's display name.
    pub user_name: Option<String>,
    /// The CSRF token (empty on pages rendered outside the middleware, e.g. errors).
    pub csrf: String,
}

impl Layout {
    /// The layout for nobody signed in.
    pub fn anonymous(csrf: String) -> Layout {
        Layout {
            user_name: None,
            csrf,
        }
    }
}

impl FromRequestParts<AppState> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        Ok(Layout {
            user_name: user.map(|u| u.user.display_name.clone()),
            csrf,
        })
    }
}
