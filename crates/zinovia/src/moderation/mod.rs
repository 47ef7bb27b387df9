//! Moderation: reports from anyone about a profile, post, comment or message, the queue
//! with its due times (business days), and moderators' decisions — each with a reason,
//! audited, and emailed to the reporter. See docs/TRUST-AND-SAFETY.md.

mod actions;
mod actions_api;
mod actions_db;
mod actions_pages;
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

pub use actions::{appeal, deny, live_suspension, notices, remove, restore, suspend};
pub use actions_db::ActionRow;
pub use actions_pages::{NoticeLine, notice_lines};
pub use jobs::{CheckOverdueReports, Notice, TellOwner, TellReporter};
pub use service::{Filed, ReportInput, dismiss, file};
pub use types::{
    ActionId, ActionKind, AppealId, AppealStatus, ReportCategory, ReportId, ReportStatus,
    ReportSubject, business_days_after,
};

/// The JSON API.
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router().merge(actions_api::router())
}

/// The pages: the report form, and the console's reports queue.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/report", get(pages::report_page).post(pages::report))
        .route("/admin/reports", get(pages::queue))
        .route("/admin/reports/{id}/dismiss", post(pages::dismiss))
        .route(
            "/admin/reports/{id}/remove",
            post(actions_pages::remove_reported),
        )
        .route("/admin/appeals", get(actions_pages::appeals))
        .route("/admin/appeals/{id}/grant", post(actions_pages::grant))
        .route("/admin/appeals/{id}/deny", post(actions_pages::deny))
        .route("/notices", get(actions_pages::notices))
        .route("/notices/{id}/appeal", post(actions_pages::appeal_notice))
        .route(
            "/appeal",
            get(actions_pages::appeal_page).post(actions_pages::appeal),
        )
}

/// Moderation's jobs: the reporter's emails and the hourly overdue check.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<TellReporter>()
        .with::<TellOwner>()
        .with::<CheckOverdueReports>()
        .every(
            crate::jobs::HOURLY,
            "check_overdue_reports",
            &CheckOverdueReports,
        )
}
