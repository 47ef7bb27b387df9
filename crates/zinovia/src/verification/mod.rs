//! Creator verification (ADR 0031): legal name, date of birth (18+), an ID document and a
//! selfie in private storage, reviewed in the console; until approved a creator cannot
//! publish paid posts or messages, be sold to, or be paid. See docs/TRUST-AND-SAFETY.md.

mod api;
mod db;
mod jobs;
mod pages;
mod service;
mod types;

use axum::Router;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use jobs::{CheckDocuments, PurgeVerificationDocuments, TellPerson};
pub use service::{Manual, NOT_VERIFIED, NOT_VERIFIED_PAYOUTS, Provider, age_on, may_sell};
pub use types::{Document, VerificationId, VerificationStatus};

/// The JSON API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The pages.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/account/verification", get(pages::mine))
        .route("/account/verification/details", post(pages::details))
        .route("/account/verification/submit", post(pages::submit))
        .route("/admin/verifications", get(pages::queue))
        .route("/admin/verifications/{id}", get(pages::review))
        .route("/admin/verifications/{id}/decision", post(pages::decide))
}

/// Verification's jobs: checking documents, the person's emails, and the daily deletion of
/// documents past their keeping time.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<CheckDocuments>()
        .with::<TellPerson>()
        .with::<PurgeVerificationDocuments>()
        .every(
            std::time::Duration::from_secs(24 * 3600),
            "purge_verification_documents",
            &PurgeVerificationDocuments,
        )
}
