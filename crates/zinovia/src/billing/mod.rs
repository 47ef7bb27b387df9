//! Payments: webhooks from the payment rail (verified, recorded once, applied by a job in
//! any order), the append-only ledger of creators' earnings, and the subscription and
//! purchase rows the one entitlement rule reads. Rails (Stripe, simulated) are translated
//! into our own events in `events.rs`; nothing outside this module knows a rail's shapes.

mod api;
pub mod db;
pub mod events;
mod service;
pub mod signature;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use service::{ApplyBillingEvent, Provider, platform_fee};

/// The JSON API (`/api/v1/billing/...`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}
