//! Payments: webhooks from the payment rail (verified, recorded once, applied by a job in
//! any order), the append-only ledger of creators' earnings, and the subscription and
//! purchase rows the one entitlement rule reads. Rails (Stripe, simulated) are translated
//! into our own events in `events.rs`; nothing outside this module knows a rail's shapes.

mod api;
pub mod ccbill;
mod checkout;
mod db;
pub mod events;
mod held;
mod jobs;
mod manage;
mod pages;
mod payouts;
mod service;
pub mod signature;
pub mod simulated;
pub mod stripe;
pub mod types;
mod views;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use checkout::{subscribed, trial_days_for};
pub use db::PayoutAccount;
pub use held::{bic, iban, run_schedules as run_scheduled_payouts};
pub use jobs::{
    ApplyBillingEvent, EndSubscription, ExpireCheckoutSession, RouteSubscriptions, TransferOwed,
};
pub use manage::{Payouts, onboard, payout_status};
pub use service::{close_account, platform_fee, suspend_account, webhook_secret};
pub use types::{CheckoutId, Provider};
pub use views::{Earnings, PeriodView, earnings};

/// The origins of the rails' own pages that our forms end at (a checkout, Stripe's card
/// portal and Connect onboarding answer a form with a redirect there): the pages' CSP
/// `form-action` must allow them, or the browser stops the redirect.
pub fn form_origins(b: &crate::config::BillingSettings) -> Vec<String> {
    let mut origins = Vec::new();
    if b.enabled(Provider::Stripe) {
        origins.extend(
            [
                "https://checkout.stripe.com",
                "https://billing.stripe.com",
                "https://connect.stripe.com",
            ]
            .map(str::to_owned),
        );
    }
    if b.enabled(Provider::Ccbill) {
        let origin = b.ccbill_form_base.origin().ascii_serialization();
        if origin != "null" {
            origins.push(origin);
        }
    }
    origins
}

/// The web pages: checkouts, the fan's subscriptions and purchases, the simulated rail's
/// checkout.
pub fn pages_router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/checkout", post(pages::start))
        .route(
            "/checkout/tip/{handle}",
            get(pages::tip_form).post(pages::tip),
        )
        .route("/checkout/{id}", get(pages::checkout_status))
        .route("/account/subscriptions", get(pages::subscriptions))
        .route(
            "/account/subscriptions/{handle}/cancel",
            post(pages::cancel),
        )
        .route("/account/billing-portal", post(pages::portal))
        .route("/account/purchases", get(pages::purchases))
        .route(
            "/billing/simulated/checkout/{id}",
            get(pages::checkout_page).post(pages::checkout_submit),
        )
        .merge(held::pages::router())
}

/// The JSON API (`/api/v1/billing/...`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router().merge(held::api::router())
}

/// Adds the jobs of payments (applying the rails' events, ending subscriptions and closing
/// checkouts at the rail, transferring what creators are owed and routing their early
/// subscriptions) to `registry`.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<ApplyBillingEvent>()
        .with::<EndSubscription>()
        .with::<ExpireCheckoutSession>()
        .with::<TransferOwed>()
        .with::<RouteSubscriptions>()
        .with::<jobs::CancelUngranted>()
        .with::<jobs::TellPayoutMethodChanged>()
        .with::<jobs::RequestScheduledPayouts>()
        .every(
            crate::jobs::HOURLY,
            "request_scheduled_payouts",
            &jobs::RequestScheduledPayouts {},
        )
}
