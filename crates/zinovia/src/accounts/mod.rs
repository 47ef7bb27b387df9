//! Accounts: sign-up, log-in, sessions, email verification, password reset and change,
//! deletion; the JSON API under `/api/v1/auth` and the pages. See docs/ACCOUNTS.md.

mod api;
mod db;
mod jobs;
mod pages;
mod password;
mod security_pages;
mod service;
pub mod standing;
mod totp;
mod two_factor;
mod types;

use axum::Router;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use db::SessionRow;
pub use jobs::{PruneAuthRecords, SendPasswordReset, SendVerificationEmail, TellSecurityChange};
pub use password::{PHC_PREFIX, PasswordHasher};
pub use service::{
    Authenticated, NewSession, authenticate, confirm_password, create_user, find_user, lock_open,
    promote_to_creator,
};
pub use totp::code_now as totp_code;
pub use two_factor::{require_fresh_code, required_for as second_factor_required_for};
pub use types::{Email, FieldCheck, Role, SessionId, User, UserId};

/// The JSON API (`/api/v1/auth/...`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The pages.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(pages::sign_up_page).post(pages::sign_up))
        .route("/login", get(pages::log_in_page).post(pages::log_in))
        .route(
            "/login/second-factor",
            get(security_pages::second_step_page).post(security_pages::second_step),
        )
        .route("/logout", post(pages::log_out))
        .route("/account/security", get(security_pages::security))
        .route("/account/security/totp", post(security_pages::begin))
        .route(
            "/account/security/totp/confirm",
            post(security_pages::confirm),
        )
        .route(
            "/account/security/recovery-codes",
            post(security_pages::recovery_codes),
        )
        .route("/account/security/disable", post(security_pages::disable))
        .route("/account", get(pages::account))
        .route("/account/password", post(pages::change_password))
        .route("/account/sessions/{id}/revoke", post(pages::revoke_session))
        .route("/account/logout-all", post(pages::log_out_everywhere))
        .route(
            "/account/verify-email/resend",
            post(pages::resend_verification),
        )
        .route("/account/delete", post(pages::delete_account))
        .route(
            "/verify-email",
            get(pages::verify_email_page).post(pages::verify_email),
        )
        .route(
            "/reset-password",
            get(pages::reset_request_page).post(pages::reset_request),
        )
        .route(
            "/reset-password/confirm",
            get(pages::reset_confirm_page).post(pages::reset_confirm),
        )
}

/// Adds the jobs of accounts (its emails, pruning expired sessions and links) to `registry`.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<SendVerificationEmail>()
        .with::<SendPasswordReset>()
        .with::<TellSecurityChange>()
        .with::<PruneAuthRecords>()
        .every(crate::jobs::HOURLY, "prune_auth_records", &PruneAuthRecords)
}
