//! The report form (`/report?subject_type=…&subject_id=…`, for anyone) and the console's
//! reports queue (`/admin/reports`, operators).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::service::{self, ReportInput};
use super::types::{ReportCategory, ReportId, ReportStatus};
use crate::accounts::Role;
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{ClientMeta, MaybeUser, Moderator, PathId, RequireRole};
use crate::site::{FormErrors, Layout, Said, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "moderation/report.html")]
struct ReportPage {
    layout: Layout,
    signed_in: bool,
    subject_type: String,
    subject_id: String,
    category: String,
    details: String,
    email: String,
    categories: Vec<(&'static str, &'static str)>,
    filed: Option<String>,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for ReportPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

fn categories() -> Vec<(&'static str, &'static str)> {
    ReportCategory::ALL
        .iter()
        .map(|c| {
            (
                c.as_str(),
                match c {
                    ReportCategory::Illegal => "Illegal content",
                    ReportCategory::NonConsensual => "Shared without consent",
                    ReportCategory::Underage => "Someone under 18",
                    ReportCategory::Copyright => "Copyright (my work)",
                    ReportCategory::Spam => "Spam",
                    ReportCategory::Other => "Something else",
                },
            )
        })
        .collect()
}

/// The form's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReportForm {
    subject_type: String,
    subject_id: String,
    category: String,
    details: String,
    email: String,
}

/// `GET /report`.
pub(super) async fn report_page(
    layout: Layout,
    MaybeUser(user): MaybeUser,
    Query(f): Query<ReportForm>,
) -> Response {
    render(
        &ReportPage {
            layout,
            signed_in: user.is_some(),
            subject_type: f.subject_type,
            subject_id: f.subject_id,
            category: String::new(),
            details: String::new(),
            email: String::new(),
            categories: categories(),
            filed: None,
            errors: FieldErrors::new(),
            form_error: String::new(),
        },
        StatusCode::OK,
    )
}

/// `POST /report`: the thanks (with the due date), or the form with its errors.
pub(super) async fn report(
    State(state): State<AppState>,
    layout: Layout,
    MaybeUser(user): MaybeUser,
    client: ClientMeta,
    Form(f): Form<ReportForm>,
) -> Result<Response, AppError> {
    let input = ReportInput {
        subject_type: f.subject_type.clone(),
        subject_id: f.subject_id.clone(),
        category: f.category.clone(),
        details: f.details.clone(),
        email: f.email.clone(),
    };
    let outcome = service::file(&state, user.as_ref().map(|u| &u.user), &client, &input).await;
    let (filed, said) = match outcome {
        Ok(filed) => (
            Some(filed.due_at.format("%-d %B %Y").to_string()),
            Said::default(),
        ),
        Err(e) => (None, Said::refusal(e)?),
    };
    Ok(render(
        &ReportPage {
            layout,
            signed_in: user.is_some(),
            subject_type: f.subject_type,
            subject_id: f.subject_id,
            category: f.category,
            details: f.details,
            email: f.email,
            categories: categories(),
            filed,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

struct Line {
    id: String,
    what: String,
    link: String,
    owner: String,
    owner_id: String,
    removable: bool,
    category: String,
    details: String,
    due: String,
    overdue: bool,
    resolution: String,
}

#[derive(Template)]
#[template(path = "moderation/queue.html")]
struct QueuePage {
    layout: Layout,
    admin: bool,
    status: &'static str,
    lines: Vec<Line>,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for QueuePage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct QueueQuery {
    status: Option<String>,
    done: String,
}

pub(super) async fn queue_page(
    state: &AppState,
    layout: Layout,
    who: &RequireRole<Moderator>,
    status: ReportStatus,
    said: Said,
) -> Result<Response, AppError> {
    let lines = service::queue(state, status, 200)
        .await?
        .into_iter()
        .map(|q| {
            let r = q.row;
            let link = match r.subject_type {
                super::types::ReportSubject::Post => format!("/posts/{}", r.subject_id),
                _ => String::new(),
            };
            Line {
                id: r.id.to_string(),
                what: format!("{} {}", r.subject_type, r.subject_id),
                link,
                owner: r.owner_name.unwrap_or_default(),
                owner_id: r.owner_id.map(|o| o.to_string()).unwrap_or_default(),
                removable: r.subject_type != super::types::ReportSubject::Profile,
                category: r.category.to_string(),
                details: r.details,
                due: r.due_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                overdue: q.overdue,
                resolution: r.resolution,
            }
        })
        .collect();
    Ok(render(
        &QueuePage {
            layout,
            admin: who.0.user.role == Role::Admin,
            status: status.as_str(),
            lines,
            notice: said.notice,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

/// `GET /admin/reports`.
pub(super) async fn queue(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, AppError> {
    let status = super::api::parse_status(q.status.as_deref())?;
    let notice = match q.done.as_str() {
        "dismissed" => "The report is dismissed; the reporter is told.",
        "removed" => {
            "Removed: it is hidden, its files are held, the owner and the reporters are told."
        }
        _ => "",
    };
    queue_page(&state, layout, &who, status, Said::ok(notice)).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReasonForm {
    reason: String,
}

/// `POST /admin/reports/{id}/dismiss`.
pub(super) async fn dismiss(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<ReportId>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, AppError> {
    match service::dismiss(&state, &who.0.user, id, &f.reason, &client).await {
        Ok(()) => Ok(Redirect::to("/admin/reports?done=dismissed").into_response()),
        Err(e) => {
            let said = Said::refusal(e)?;
            queue_page(&state, layout, &who, ReportStatus::Open, said).await
        }
    }
}
