//! Pages of moderators' actions: Remove on a report, the appeals queue (`/admin/appeals`),
//! the owner's notices (`/notices`, with the appeal form) and the appeal form a suspended
//! account reaches from its email (`/appeal`).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::actions::{self};
use super::actions_db::ActionRow;
use super::types::{ActionId, ActionKind, AppealId, AppealStatus, ReportId, ReportStatus};
use crate::accounts::Role;
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{ClientMeta, CurrentUser, Moderator, PathId, RequireRole};
use crate::site::{FormErrors, Layout, Said, render};
use crate::state::AppState;

/// A form with a reason.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ReasonForm {
    reason: String,
}

/// `POST /admin/reports/{id}/remove`: removes what the report names.
pub(super) async fn remove_reported(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<ReportId>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, AppError> {
    match actions::remove_reported(&state, &who.0.user, id, &f.reason, &client).await {
        Ok(_) => Ok(Redirect::to("/admin/reports?done=removed").into_response()),
        Err(e) => {
            let said = Said::refusal(e)?;
            super::pages::queue_page(&state, layout, &who, ReportStatus::Open, said).await
        }
    }
}

struct AppealLine {
    id: String,
    what: String,
    owner: String,
    owner_id: String,
    action_reason: String,
    body: String,
    decision: String,
    ban: bool,
}

#[derive(Template)]
#[template(path = "moderation/appeals.html")]
struct AppealsPage {
    layout: Layout,
    admin: bool,
    status: &'static str,
    lines: Vec<AppealLine>,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for AppealsPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AppealsQuery {
    status: Option<String>,
    done: String,
}

async fn appeals_page(
    state: &AppState,
    layout: Layout,
    who: &RequireRole<Moderator>,
    status: AppealStatus,
    said: Said,
) -> Result<Response, AppError> {
    let lines = actions::appeals(state, status)
        .await?
        .into_iter()
        .map(|a| AppealLine {
            id: a.id.to_string(),
            what: format!("{} of {} {}", a.kind, a.subject_type, a.subject_id),
            owner: a.owner_name,
            owner_id: a.owner_id.to_string(),
            action_reason: a.action_reason,
            body: a.body,
            decision: a.decision.unwrap_or_default(),
            ban: a.kind == ActionKind::Ban,
        })
        .collect();
    Ok(render(
        &AppealsPage {
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

/// `GET /admin/appeals`.
pub(super) async fn appeals(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    Query(q): Query<AppealsQuery>,
) -> Result<Response, AppError> {
    let status = super::actions_api::parse_appeal_status(q.status.as_deref())?;
    let notice = match q.done.as_str() {
        "granted" => "The appeal is granted: the decision is reversed and the owner told.",
        "denied" => "The appeal is denied; the owner is told.",
        _ => "",
    };
    appeals_page(&state, layout, &who, status, Said::ok(notice)).await
}

/// `POST /admin/appeals/{id}/grant`.
pub(super) async fn grant(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<AppealId>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, AppError> {
    let done = async {
        let action = actions::appeal_action(&state, id).await?;
        actions::restore(&state, &who.0.user, action, &f.reason, &client).await
    }
    .await;
    match done {
        Ok(()) => Ok(Redirect::to("/admin/appeals?done=granted").into_response()),
        Err(e) => appeals_page(&state, layout, &who, AppealStatus::Open, Said::refusal(e)?).await,
    }
}

/// `POST /admin/appeals/{id}/deny`.
pub(super) async fn deny(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<AppealId>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, AppError> {
    match actions::deny(&state, &who.0.user, id, &f.reason, &client).await {
        Ok(()) => Ok(Redirect::to("/admin/appeals?done=denied").into_response()),
        Err(e) => appeals_page(&state, layout, &who, AppealStatus::Open, Said::refusal(e)?).await,
    }
}

/// A notice as its owner's page shows it.
pub struct NoticeLine {
    /// The action.
    pub id: String,
    /// What happened, in words.
    pub what: String,
    /// Link to the thing (posts), if it is shown again.
    pub link: String,
    /// Why.
    pub reason: String,
    /// When.
    pub when: String,
    /// Reversed, with the note.
    pub restored: Option<String>,
    /// An appeal waits.
    pub appealed: bool,
}

/// Lines for an owner's notices (`own`), or the console's account view.
pub fn notice_lines(rows: Vec<ActionRow>, own: bool) -> Vec<NoticeLine> {
    rows.into_iter()
        .map(|a| {
            let whose = if own { "Your" } else { "The" };
            let thing = match a.subject_type.as_str() {
                "account" => format!("{whose} account"),
                t if a.excerpt.trim().is_empty() => format!("{whose} {t} {}", a.subject_id),
                t => format!("{whose} {t} “{}”", a.excerpt.trim()),
            };
            let verb = match a.kind {
                ActionKind::Remove => "was removed",
                ActionKind::Suspend => "was suspended",
                ActionKind::Ban => "was banned",
            };
            NoticeLine {
                id: a.id.to_string(),
                what: format!("{thing} {verb}"),
                link: if a.subject_type == "post" && a.restored_at.is_some() {
                    format!("/posts/{}", a.subject_id)
                } else {
                    String::new()
                },
                reason: a.reason,
                when: a.created_at.format("%-d %B %Y %H:%M UTC").to_string(),
                restored: a.restored_at.map(|_| a.restore_reason.unwrap_or_default()),
                appealed: a.appeal.is_some(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "moderation/notices.html")]
struct NoticesPage {
    layout: Layout,
    lines: Vec<NoticeLine>,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for NoticesPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

async fn notices_page(
    state: &AppState,
    layout: Layout,
    who: &CurrentUser,
    said: Said,
) -> Result<Response, AppError> {
    let lines = notice_lines(actions::notices(state, who.user.id.0).await?, true);
    Ok(render(
        &NoticesPage {
            layout,
            lines,
            notice: said.notice,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

/// `GET /notices`: what moderators did to my things, with the appeal forms.
pub(super) async fn notices(
    State(state): State<AppState>,
    layout: Layout,
    who: CurrentUser,
    Query(q): Query<crate::site::DoneQuery>,
) -> Result<Response, AppError> {
    let notice = if q.done == "appealed" {
        "Your appeal is sent. A moderator will look at it and write to you."
    } else {
        ""
    };
    notices_page(&state, layout, &who, Said::ok(notice)).await
}

/// The appeal form's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AppealForm {
    action: String,
    token: String,
    body: String,
}

/// `POST /notices/{id}/appeal`.
pub(super) async fn appeal_notice(
    State(state): State<AppState>,
    layout: Layout,
    who: CurrentUser,
    PathId(id): PathId<ActionId>,
    Form(f): Form<AppealForm>,
) -> Result<Response, AppError> {
    match actions::appeal(&state, Some(&who.user), id, &f.body, "").await {
        Ok(_) => Ok(Redirect::to("/notices?done=appealed").into_response()),
        Err(e) => notices_page(&state, layout, &who, Said::refusal(e)?).await,
    }
}

#[derive(Template)]
#[template(path = "moderation/appeal.html")]
struct AppealPage {
    layout: Layout,
    action: String,
    token: String,
    body: String,
    sent: bool,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for AppealPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// `GET /appeal?action=…&token=…`: the form a suspension notice links to.
pub(super) async fn appeal_page(layout: Layout, Query(f): Query<AppealForm>) -> Response {
    render(
        &AppealPage {
            layout,
            action: f.action,
            token: f.token,
            body: String::new(),
            sent: false,
            errors: FieldErrors::new(),
            form_error: String::new(),
        },
        StatusCode::OK,
    )
}

/// `POST /appeal`.
pub(super) async fn appeal(
    State(state): State<AppState>,
    layout: Layout,
    Form(f): Form<AppealForm>,
) -> Result<Response, AppError> {
    let outcome = match uuid::Uuid::parse_str(f.action.trim()) {
        Ok(id) => actions::appeal(&state, None, ActionId(id), &f.body, &f.token)
            .await
            .map(|_| ()),
        Err(_) => Err(AppError::NotFound),
    };
    let (sent, said) = match outcome {
        Ok(()) => (true, Said::default()),
        Err(AppError::NotFound) => (
            false,
            Said {
                form_error: "This appeal link is not valid: use the link in the email we sent."
                    .into(),
                status: StatusCode::NOT_FOUND,
                ..Said::default()
            },
        ),
        Err(e) => (false, Said::refusal(e)?),
    };
    Ok(render(
        &AppealPage {
            layout,
            action: f.action,
            token: f.token,
            body: if sent { String::new() } else { f.body },
            sent,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}
