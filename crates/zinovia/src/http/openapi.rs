//! The OpenAPI 3.1 document (generated from the handlers' annotations) and the API
//! reference page that renders it with a viewer served by the app itself.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use crate::error::{AppError, ErrorBody, ErrorDetail};
use crate::state::AppState;

/// Where the document is served.
pub const SPEC_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zinovia API",
        description = "The JSON API of Zinovia, a self-hostable creator-subscription platform. \
            Errors always use the envelope `{\"error\": {\"code\", \"message\", \"fields\"}}` \
            (see the `ErrorBody` schema); `code` is stable, `message` is for people.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    servers((url = "/", description = "This server")),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up, log-in, sessions, email verification, password reset"),
        (name = "creators", description = "Creator profiles: becoming a creator, handles, prices"),
        (name = "posts", description = "Posts, the creator page, the feed, explore, likes and comments; locked posts carry previews and never media URLs"),
        (name = "media", description = "Uploads straight to storage, processing state, signed URLs"),
        (name = "billing", description = "Payments: the payment rail's webhooks, checkouts, subscriptions, purchases, tips and creators' earnings"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The two ways to authenticate: a bearer token (API clients) or the session cookie
/// (browsers, whose state-changing requests also need the `X-CSRF-Token` header).
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `session.token` from sign-up or log-in"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "zinovia_session",
                "Set by the log-in page (`__Host-zinovia_session` over https); state changes also need `X-CSRF-Token`",
            ))),
        );
    }
}

/// The document's fixed parts; routes are added by the routers that serve them.
pub fn base_document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage<'a> {
    spec_url: &'a str,
}

/// `/api/v1/openapi.json` and `/api/docs`.
pub(super) fn router(spec_json: Arc<String>) -> Router<AppState> {
    Router::new()
        .route(
            SPEC_PATH,
            get(move || {
                let spec = Arc::clone(&spec_json);
                async move {
                    (
                        [
                            (
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            ),
                            (
                                header::CACHE_CONTROL,
                                HeaderValue::from_static("public, max-age=300"),
                            ),
                        ],
                        spec.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/api/docs", get(docs_page))
}

async fn docs_page() -> Result<Response, AppError> {
    let html = DocsPage {
        spec_url: SPEC_PATH,
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    let mut response = Html(html).into_response();
    // Swagger UI styles some elements inline; everything else stays as strict as the site.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    Ok(response)
}
