//! Payment endpoints: the provider's webhooks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::checkout::{self, CheckoutRequest};
use super::service;
use super::simulated::{self, Outcome};
use super::types::{CheckoutId, CheckoutKind, Provider};
use super::views;
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, ClientMeta, CurrentUser, PathId};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook))
        .routes(routes!(ccbill_webhook))
        .routes(routes!(start_checkout))
        .routes(routes!(simulated_checkout))
        .routes(routes!(simulated_clock))
        .routes(routes!(my_subscriptions))
        .routes(routes!(my_purchases))
        .routes(routes!(my_earnings))
        .routes(routes!(cancel_subscription))
        .routes(routes!(card_portal))
        .routes(routes!(payouts))
}

/// A link to follow.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    /// Where to send the person.
    pub url: String,
}

/// Cancels your subscription to a creator at the end of the paid period (you keep access
/// until then). The rail confirms with an event; `GET /api/v1/me/subscriptions` then shows
/// `cancel_at_period_end`.
#[utoipa::path(post, path = "/api/v1/me/subscriptions/{creator}/cancel", tag = "billing",
    params(("creator" = String, Path, description = "The creator's handle")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 202, description = "Cancellation requested"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No live subscription to this creator", body = ErrorBody),
        (status = 503, description = "The payment rail did not answer", body = ErrorBody),
    ))]
async fn cancel_subscription(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(creator): Path<String>,
) -> Result<StatusCode, AppError> {
    super::manage::cancel(&state, &user.user, &creator).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Stripe's customer portal for your cards and invoices (and cancelling).
#[utoipa::path(post, path = "/api/v1/billing/portal", tag = "billing",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The portal", body = Link),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Nothing paid yet, or the simulated rail (no cards)", body = ErrorBody),
    ))]
async fn card_portal(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Link>, AppError> {
    Ok(axum::Json(Link {
        url: super::manage::portal(&state, &user.user).await?,
    }))
}

/// Sets up (or continues) being paid out: your connected account at the rail, and where to
/// finish onboarding. Until it can take charges, your share is kept by the platform and
/// recorded in your ledger.
#[utoipa::path(post, path = "/api/v1/me/creator/payouts", tag = "billing",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The account and where to finish onboarding", body = super::manage::Payouts),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 409, description = "No rail pays creators into an account of theirs (the platform pays them out)", body = ErrorBody),
    ))]
async fn payouts(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<super::manage::Payouts>, AppError> {
    Ok(axum::Json(super::manage::onboard(&state, &user).await?))
}

/// Your subscriptions, with whether each unlocks the creator's posts now.
#[utoipa::path(get, path = "/api/v1/me/subscriptions", tag = "billing",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Newest first", body = views::MySubscriptions),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_subscriptions(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<views::MySubscriptions>, AppError> {
    Ok(axum::Json(
        views::my_subscriptions(&state, user.user.id.0).await?,
    ))
}

/// Your pay-per-view purchases and tips.
#[utoipa::path(get, path = "/api/v1/me/purchases", tag = "billing",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Newest first", body = views::MyPurchases),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
async fn my_purchases(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<views::MyPurchases>, AppError> {
    Ok(axum::Json(
        views::my_purchases(&state, user.user.id.0).await?,
    ))
}

/// Your earnings as a creator: balance per currency (the sum of your ledger entries),
/// subscribers, money by day (30 days) and month (12 months), the latest transactions.
#[utoipa::path(get, path = "/api/v1/me/creator/earnings", tag = "billing",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Earnings", body = views::Earnings),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
    ))]
async fn my_earnings(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<views::Earnings>, AppError> {
    Ok(axum::Json(views::earnings(&state, user.user.id.0).await?))
}

/// A started checkout.
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    /// Ours.
    pub checkout_id: CheckoutId,
    /// The rail (`simulated` or `stripe`).
    pub provider: Provider,
    /// Send the fan here to pay.
    pub url: String,
}

/// Starts paying: a subscription to a creator, a pay-per-view post, or a tip. Answers the
/// payment page to send the fan to; access follows once the rail reports the payment.
#[utoipa::path(post, path = "/api/v1/billing/checkout", tag = "billing",
    request_body = CheckoutRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Checkout started", body = Started),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Already subscribed, or the post already bought", body = ErrorBody),
        (status = 422, description = "Bad kind, creator, post, amount, message or rail", body = ErrorBody),
    ))]
async fn start_checkout(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CheckoutRequest>,
) -> Result<Response, AppError> {
    let (c, url) = checkout::start(&state, &user.user, &req).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Started {
            checkout_id: c.id,
            provider: c.provider,
            url,
        }),
    )
        .into_response())
}

/// The simulated rail's decision.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulatedOutcome {
    /// `pay` or `decline`.
    #[schema(pattern = "^(pay|decline)$", example = "pay")]
    pub outcome: String,
}

/// The simulated rail's checkout, from an API client: pays or declines the caller's open
/// checkout (the page at the checkout's `url` does the same from a browser). The events a
/// real rail would send are delivered to the webhook; access follows when they are handled.
#[utoipa::path(post, path = "/api/v1/billing/simulated/checkouts/{id}", tag = "billing",
    params(("id" = Uuid, Path, description = "The checkout")),
    request_body = SimulatedOutcome,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Delivered", body = Completed),
        (status = 404, description = "Not your open checkout, or the rail is not `simulated`", body = ErrorBody),
        (status = 409, description = "Already completed or failed", body = ErrorBody),
        (status = 422, description = "Bad outcome", body = ErrorBody),
    ))]
async fn simulated_checkout(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<CheckoutId>,
    ApiJson(req): ApiJson<SimulatedOutcome>,
) -> Result<axum::Json<Completed>, AppError> {
    let outcome = match req.outcome.as_str() {
        "pay" => Outcome::Pay,
        "decline" => Outcome::Decline,
        _ => return Err(AppError::field("outcome", "must be pay or decline")),
    };
    let kind = simulated::complete(&state, user.user.id.0, id, outcome).await?;
    Ok(axum::Json(Completed {
        checkout_id: id,
        kind,
        outcome: req.outcome,
    }))
}

/// How long to let pass on the simulated rail's clock.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClockRequest {
    /// Days (1–400).
    #[schema(minimum = 1, maximum = 400)]
    pub days: i64,
}

/// The simulated rail's test clock, in the `local` environment only (404 elsewhere, and on
/// the Stripe rail, whose own test clocks do this): lets `days` pass for every simulated
/// subscription. Those whose period ends within them end if canceled, or renew; the rail's
/// events go through the webhook, and access follows when they are handled.
#[utoipa::path(post, path = "/api/v1/billing/simulated/clock", tag = "billing",
    request_body = ClockRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Time passed", body = simulated::TimePassed),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not the simulated rail in the local environment", body = ErrorBody),
        (status = 422, description = "Bad number of days", body = ErrorBody),
    ))]
async fn simulated_clock(
    State(state): State<AppState>,
    _available: simulated::ClockAvailable,
    _user: CurrentUser,
    ApiJson(req): ApiJson<ClockRequest>,
) -> Result<axum::Json<simulated::TimePassed>, AppError> {
    Ok(axum::Json(
        simulated::let_time_pass(&state, req.days).await?,
    ))
}

/// A simulated checkout's outcome, delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Completed {
    /// The checkout.
    pub checkout_id: CheckoutId,
    /// What it paid for.
    pub kind: CheckoutKind,
    /// pay or decline.
    pub outcome: String,
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

/// What CCBill appends to the webhook URL.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct CcbillQuery {
    /// The event's type (`NewSaleSuccess`, `RenewalSuccess`, `Cancellation`, …).
    #[serde(rename = "eventType")]
    #[param(rename = "eventType")]
    pub event_type: Option<String>,
}

/// Events from CCBill, whose webhooks are not signed: this answers only at its secret URL
/// (`CCBILL_WEBHOOK_TOKEN`, else 404) and only to CCBill's addresses
/// (`CCBILL_WEBHOOK_SOURCES`, else 403). The body is form-encoded or JSON, as the
/// endpoint is set up at CCBill; it is recorded once and handled in the background.
#[utoipa::path(post, path = "/api/v1/billing/webhooks/ccbill/{token}", tag = "billing",
    params(("token" = String, Path, description = "The secret given to CCBill"), CcbillQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CCBill's event fields"),
    responses(
        (status = 200, description = "Recorded (or recorded before)", body = Received),
        (status = 400, description = "No event type, or an unreadable body", body = ErrorBody),
        (status = 403, description = "Not from CCBill's addresses", body = ErrorBody),
        (status = 404, description = "CCBill is not one of the rails, or not the secret URL", body = ErrorBody),
    ))]
async fn ccbill_webhook(
    State(state): State<AppState>,
    Path(token): Path<String>,
    axum::extract::Query(query): axum::extract::Query<CcbillQuery>,
    client: ClientMeta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Received>, AppError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let new = service::receive_ccbill(
        &state,
        &token,
        client.ip,
        query.event_type.as_deref(),
        json,
        &body,
    )
    .await?;
    Ok(axum::Json(Received {
        received: true,
        duplicate: !new,
    }))
}
