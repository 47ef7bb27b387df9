//! Payments: webhooks from the payment rail (verified, recorded once, applied by a job in
//! any order), the append-only ledger of creators' earnings, and the subscription and
//! purchase rows the one entitlement rule reads. Rails (Stripe, simulated) are translated
//! into our own events in `events.rs`; nothing outside this module knows a rail's shapes.

mod api;
mod checkout;
pub mod db;
pub mod events;
mod manage;
mod pages;
mod service;
pub mod signature;
pub mod simulated;
pub mod stripe;
mod views;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use service::{ApplyBillingEvent, Provider, platform_fee};

/// The web pages (the simulated rail's checkout).
pub fn pages_router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/billing/simulated/checkout/{id}",
        axum::routing::get(pages::checkout_page).post(pages::checkout_submit),
    )
}

/// The JSON API (`/api/v1/billing/...`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}
