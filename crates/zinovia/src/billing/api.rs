//! Payment endpoints: the provider's webhooks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Provider};
use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook))
}

/// A webhook's receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// Always true: the event is recorded (its handling runs in the background).
    pub received: bool,
    /// The event had been received before (a redelivery): nothing was done again.
    pub duplicate: bool,
}

/// Events from the payment rail (`stripe`, or `simulated` for the local rail). The
/// `Stripe-Signature` header is verified over the raw body before anything is read
/// (HMAC-SHA256, every `v1`, 300 s tolerance); the event is recorded once and handled in
/// the background, so this answers fast; a redelivered event is acknowledged and ignored.
#[utoipa::path(post, path = "/api/v1/billing/webhooks/{provider}", tag = "billing",
    params(("provider" = String, Path, description = "`stripe` or `simulated` (only the configured rail answers)")),
    request_body(content = String, content_type = "application/json", description = "The provider's event, byte for byte"),
    responses(
        (status = 200, description = "Recorded (or recorded before)", body = Received),
        (status = 400, description = "Missing, malformed, stale or forged signature; not an event", body = ErrorBody),
        (status = 404, description = "Not the configured payment rail", body = ErrorBody),
    ))]
async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Received>, AppError> {
    let provider = Provider::parse(&provider).ok_or(AppError::NotFound)?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let new = service::receive(&state, provider, signature, &body).await?;
    Ok(axum::Json(Received {
        received: true,
        duplicate: !new,
    }))
}
