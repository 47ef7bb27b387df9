//! Moderation: reports from anyone about a profile, post, comment or message, the queue
//! with its due times (business days), and moderators' decisions — each with a reason,
//! audited, and emailed to the reporter. See docs/TRUST-AND-SAFETY.md.

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

pub use jobs::{CheckOverdueReports, TellReporter};
pub use service::{Filed, ReportInput, dismiss, file};
pub use types::{ReportCategory, ReportId, ReportStatus, ReportSubject, business_days_after};

/// The JSON API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The pages: the report form, and the console's reports queue.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/report", get(pages::report_page).post(pages::report))
        .route("/admin/reports", get(pages::queue))
        .route("/admin/reports/{id}/dismiss", post(pages::dismiss))
}

/// Moderation's jobs: the reporter's emails and the hourly overdue check.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<TellReporter>()
        .with::<CheckOverdueReports>()
        .every(
            crate::jobs::HOURLY,
            "check_overdue_reports",
            &CheckOverdueReports,
        )
}
