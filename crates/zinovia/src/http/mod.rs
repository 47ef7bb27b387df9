//! The HTTP server: the router over the features' routes (composed by `app`), the layers
//! every request goes through, and serving with graceful shutdown.

pub mod csrf;
pub mod extract;
mod health;
pub mod middleware;
pub mod openapi;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use clap::ValueEnum;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

/// What one server process serves (`serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServeRole {
    /// The web pages (the app host).
    Web,
    /// The JSON API under `/api/v1` and its reference (the API host).
    Api,
    /// Both, on one listener (what `up` runs).
    All,
}

impl ServeRole {
    fn web(self) -> bool {
        matches!(self, ServeRole::Web | ServeRole::All)
    }
    fn api(self) -> bool {
        matches!(self, ServeRole::Api | ServeRole::All)
    }
}

/// What the features serve, composed by the application (`app::routes`): the JSON API (its
/// OpenAPI document is generated from exactly these routes) and the web pages.
pub struct Routes {
    /// The JSON API under `/api/v1`.
    pub api: OpenApiRouter<AppState>,
    /// The web pages.
    pub pages: Router<AppState>,
}

/// Every documented route: the JSON API plus the operational endpoints.
fn documented_routes(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base_document())
        .merge(health::router())
        .merge(api)
}

/// The OpenAPI document of `api` with the operational endpoints and the errors every
/// operation can answer.
pub fn openapi_document(api: OpenApiRouter<AppState>) -> utoipa::openapi::OpenApi {
    let mut doc = documented_routes(api).into_openapi();
    openapi::declare_common_errors(&mut doc);
    doc
}

/// The OpenAPI document as served by a server with `settings` (its limits in the schemas),
/// as pretty JSON.
pub fn openapi_json(
    api: OpenApiRouter<AppState>,
    settings: &crate::config::Settings,
) -> Result<String, serde_json::Error> {
    let mut doc = serde_json::to_value(openapi_document(api))?;
    openapi::apply_settings(&mut doc, settings);
    serde_json::to_string_pretty(&doc)
}

/// The complete router for a role, with every layer.
pub fn router(state: AppState, role: ServeRole, routes: Routes) -> Router {
    let Routes { api, pages } = routes;
    let spec_json =
        Arc::new(openapi_json(api.clone(), &state.settings).unwrap_or_else(|_| "{}".to_owned()));
    let (health, _) = OpenApiRouter::new()
        .merge(health::router())
        .split_for_parts();

    let mut app = Router::new()
        .merge(health)
        .route("/assets/{file}", get(crate::assets::serve_asset));
    if role.api() {
        let (api, _) = api.split_for_parts();
        app = app.merge(api).merge(openapi::router(spec_json));
    }
    if role.web() {
        app = app.merge(pages);
    }
    let settings = &state.settings;
    let timeout = settings.http.request_timeout.0;
    let body_limit = usize::try_from(settings.http.request_body_limit).unwrap_or(usize::MAX);
    let https = settings.served_over_https();
    let csp = middleware::csp(
        &middleware::media_origins(&settings.media),
        &crate::billing::form_origins(&settings.billing),
    );

    // Innermost first: the body limit and timeout sit closest to the handlers, so the
    // responses they produce still pass through error rendering, headers and metrics.
    let limited = app
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            middleware::timeout(timeout, req, next)
        }));
    // Local storage streams large, slow uploads to disk: no body limit, no timeout.
    limited
        .merge(crate::storage::local_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::csrf,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::client_and_rate_limit,
        ))
        .layer(axum::middleware::from_fn(middleware::render_errors))
        .layer(axum::middleware::from_fn(move |req, next| {
            middleware::security_headers(https, csp.clone(), req, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(cors(&settings.http.cors_origins))
        .layer(CompressionLayer::new().gzip(true))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

/// CORS for the origins in `CORS_ORIGINS` only, with credentials; nothing when empty.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(csrf::HEADER),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// Serves until `shutdown` is cancelled, then stops accepting connections and lets
/// in-flight requests finish for up to `grace`; requests still running then are dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let signal = shutdown.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { signal.cancelled().await })
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still running after the shutdown timeout were dropped");
            Ok(())
        }
    }
}
