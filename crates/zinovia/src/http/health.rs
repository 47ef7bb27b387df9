//! Operational endpoints: liveness, readiness and Prometheus metrics.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::database::{self, Readiness};
use crate::error::AppError;
use crate::state::AppState;

/// Readiness must answer well within a load balancer's health-check timeout (ALB: 5 s by
/// default), even when the database hangs.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `ok`, `unavailable` or `migrations_pending`.
    #[schema(example = "ok")]
    pub database: &'static str,
    /// Why it is not ready (empty when ready).
    pub problems: Vec<String>,
}

/// Liveness: the process is up and serving. Never touches the database, so a database
/// outage does not get healthy tasks killed.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers and every migration of this binary is applied.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Ready),
        (status = 503, description = "Database unreachable or migrations pending", body = Ready),
    ))]
async fn readyz(State(state): State<AppState>) -> Response {
    let (status, database, problems) = match database::readiness(&state.db, READY_TIMEOUT).await {
        Readiness::Ready => (StatusCode::OK, "ok", Vec::new()),
        Readiness::DatabaseUnavailable(why) => {
            tracing::warn!(reason = %why, "not ready: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                vec!["the database is unavailable".to_owned()],
            )
        }
        Readiness::MigrationsPending(list) => {
            (StatusCode::SERVICE_UNAVAILABLE, "migrations_pending", list)
        }
    };
    let body = Ready {
        status: if status.is_success() {
            "ready"
        } else {
            "not_ready"
        },
        database,
        problems,
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Prometheus metrics: requests by route and status, latency histograms, database pool,
/// job queue depth by state and job outcomes.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4", body = String)))]
async fn metrics(State(state): State<AppState>) -> Result<Response, AppError> {
    let m = &state.metrics;
    let pool = &state.db;
    m.db_pool_connections.set(i64::from(pool.size()));
    m.db_pool_idle
        .set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
    m.db_pool_max
        .set(i64::from(pool.options().get_max_connections()));
    // Queue depth comes from the database; if it is down, the rest is still worth serving,
    // so give the query at most half the request's time.
    let limit = READY_TIMEOUT.min(state.settings.http.request_timeout.0 / 2);
    match tokio::time::timeout(limit, crate::jobs::queue_stats(pool)).await {
        Ok(Ok(stats)) => stats.record(m),
        Ok(Err(e)) => tracing::warn!(error = %e, "queue depth unavailable for /metrics"),
        Err(_) => tracing::warn!("queue depth timed out for /metrics"),
    }
    let text = m.encode().map_err(|e| AppError::Internal(e.into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response())
}
