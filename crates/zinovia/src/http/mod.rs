//! The HTTP server: the router that merges every feature's routes, the layers every request
//! goes through, and serving with graceful shutdown.

mod health;
pub mod middleware;
pub mod openapi;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use clap::ValueEnum;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
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

/// Every documented route: the JSON API plus the operational endpoints. Features add their
/// API routes here; the OpenAPI document is generated from exactly these.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base_document()).merge(health::router())
}

/// The OpenAPI document of the whole API, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_routes().into_openapi()
}

/// The complete router for a role, with every layer.
pub fn router(state: AppState, role: ServeRole) -> Router {
    let (documented, spec) = documented_routes().split_for_parts();
    let spec_json = Arc::new(spec.to_json().unwrap_or_else(|_| "{}".to_owned()));

    let mut app = Router::new()
        .merge(documented)
        .route("/assets/{file}", get(crate::assets::serve_asset));
    if role.api() {
        app = app.merge(openapi::router(spec_json));
    }
    if role.web() {
        app = app.merge(crate::site::router());
    }
    let settings = &state.settings;
    let timeout = settings.http.request_timeout.0;
    let body_limit = usize::try_from(settings.http.request_body_limit).unwrap_or(usize::MAX);
    let https = settings.served_over_https();

    app.fallback(not_found)
        // Innermost first: the body limit and timeout sit closest to the handlers, so the
        // responses they produce still pass through error rendering, headers and metrics.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            middleware::timeout(timeout, req, next)
        }))
        .layer(axum::middleware::from_fn(middleware::render_errors))
        .layer(axum::middleware::from_fn(move |req, next| {
            middleware::security_headers(https, req, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(CompressionLayer::new().gzip(true))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
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
    let server = axum::serve(listener, app)
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
