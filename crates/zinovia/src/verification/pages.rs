//! Verification's pages: the person's own (`/account/verification`: details, the two
//! documents straight to private storage, submitting) and the reviewers' (`/admin/
//! verifications` and one attempt with its documents, each view audited).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::service;
use super::types::{VerificationId, VerificationStatus};
use crate::accounts::Role;
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{ClientMeta, CurrentUser, Moderator, PathId, RequireRole};
use crate::site::{DoneQuery, FormErrors, Layout, Said, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "verification/mine.html")]
struct MinePage {
    layout: Layout,
    /// `none`, or the attempt's status.
    status: String,
    required: bool,
    verified: bool,
    editable: bool,
    problem: String,
    legal_name: String,
    date_of_birth: String,
    id_document: bool,
    selfie: bool,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for MinePage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

async fn mine_page(
    state: &AppState,
    layout: Layout,
    who: &CurrentUser,
    typed: Option<(String, String)>,
    said: Said,
) -> Result<Response, AppError> {
    let v: super::api::MyVerification = service::mine(state, who.user.id.0).await?.into();
    let editable = !v.verified
        && !matches!(
            v.status,
            Some(VerificationStatus::Checking | VerificationStatus::Submitted)
        );
    let (legal_name, date_of_birth) = typed.unwrap_or_else(|| {
        (
            v.legal_name.clone(),
            v.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
        )
    });
    Ok(render(
        &MinePage {
            layout,
            status: v
                .status
                .map_or_else(|| "none".to_owned(), |s| s.to_string()),
            required: v.required,
            verified: v.verified,
            editable,
            problem: v.problem,
            legal_name,
            date_of_birth,
            id_document: v.id_document,
            selfie: v.selfie,
            notice: said.notice,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

/// `GET /account/verification`.
pub(super) async fn mine(
    State(state): State<AppState>,
    layout: Layout,
    who: CurrentUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "saved" => "Saved. Now add the two photos.",
        "submitted" => "Sent: our reviewers will look at it, usually within two business days.",
        _ => "",
    };
    mine_page(&state, layout, &who, None, Said::ok(notice)).await
}

/// The details form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DetailsForm {
    legal_name: String,
    date_of_birth: String,
}

/// `POST /account/verification/details`.
pub(super) async fn details(
    State(state): State<AppState>,
    layout: Layout,
    who: CurrentUser,
    Form(f): Form<DetailsForm>,
) -> Result<Response, AppError> {
    match service::set_details(&state, &who.user, &f.legal_name, &f.date_of_birth).await {
        Ok(()) => Ok(Redirect::to("/account/verification?done=saved").into_response()),
        Err(e) => {
            let said = Said::refusal(e)?;
            mine_page(
                &state,
                layout,
                &who,
                Some((f.legal_name, f.date_of_birth)),
                said,
            )
            .await
        }
    }
}

/// `POST /account/verification/submit`.
pub(super) async fn submit(
    State(state): State<AppState>,
    layout: Layout,
    who: CurrentUser,
) -> Result<Response, AppError> {
    match service::submit(&state, &who.user).await {
        Ok(_) => Ok(Redirect::to("/account/verification?done=submitted").into_response()),
        Err(e) => mine_page(&state, layout, &who, None, Said::refusal(e)?).await,
    }
}

struct QueueLine {
    id: String,
    name: String,
    email: String,
    handle: String,
    submitted: String,
    problem: String,
}

#[derive(Template)]
#[template(path = "verification/queue.html")]
struct QueuePage {
    layout: Layout,
    admin: bool,
    status: String,
    lines: Vec<QueueLine>,
    notice: &'static str,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct QueueQuery {
    status: Option<String>,
    done: String,
}

/// `GET /admin/verifications`.
pub(super) async fn queue(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, AppError> {
    let status = super::api::parse_status(q.status.as_deref())?;
    let lines = service::queue(&state, status)
        .await?
        .into_iter()
        .map(|r| QueueLine {
            id: r.id.to_string(),
            name: r.display_name,
            email: r.email,
            handle: r.handle.unwrap_or_default(),
            submitted: r
                .submitted_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            problem: r.problem,
        })
        .collect();
    Ok(render(
        &QueuePage {
            layout,
            admin: who.0.user.role == Role::Admin,
            status: status.to_string(),
            lines,
            notice: match q.done.as_str() {
                "approved" => "Approved: the creator may now sell and is told.",
                "rejected" => "Rejected; the person is told why.",
                "more_needed" => "Asked for more; the person is told what.",
                _ => "",
            },
        },
        StatusCode::OK,
    ))
}

#[derive(Template)]
#[template(path = "verification/review.html")]
struct ReviewPage {
    layout: Layout,
    admin: bool,
    id: String,
    user_id: String,
    name: String,
    email: String,
    legal_name: String,
    date_of_birth: String,
    age: String,
    status: String,
    problem: String,
    decidable: bool,
    id_document_url: String,
    selfie_url: String,
    deleted: bool,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for ReviewPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

async fn review_page(
    state: &AppState,
    layout: Layout,
    who: &RequireRole<Moderator>,
    client: &ClientMeta,
    id: VerificationId,
    said: Said,
) -> Result<Response, AppError> {
    let r = service::review(state, id).await?;
    let deleted = r.row.documents_deleted_at.is_some();
    // Each page view hands out (and audits) one short-lived URL per document.
    let (id_document_url, selfie_url) = if deleted {
        (String::new(), String::new())
    } else {
        (
            service::document_url(state, &who.0.user, id, "id_document", client)
                .await?
                .0,
            service::document_url(state, &who.0.user, id, "selfie", client)
                .await?
                .0,
        )
    };
    Ok(render(
        &ReviewPage {
            layout,
            admin: who.0.user.role == Role::Admin,
            id: id.to_string(),
            user_id: r.row.user_id.to_string(),
            name: r.account.display_name,
            email: r.account.email,
            legal_name: r.legal_name,
            date_of_birth: r.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
            age: r.age.map(|a| a.to_string()).unwrap_or_default(),
            status: r.row.status.to_string(),
            problem: r.row.problem,
            decidable: r.row.status == VerificationStatus::Submitted,
            id_document_url,
            selfie_url,
            deleted,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

/// `GET /admin/verifications/{id}`.
pub(super) async fn review(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<VerificationId>,
) -> Result<Response, AppError> {
    review_page(&state, layout, &who, &client, id, Said::default()).await
}

/// The decision form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DecisionForm {
    decision: String,
    reason: String,
}

/// `POST /admin/verifications/{id}/decision`.
pub(super) async fn decide(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<VerificationId>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    let decision = service::parse_decision(&f.decision)?;
    match service::decide(&state, &who.0.user, id, decision, &f.reason, &client).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/verifications?done={decision}")).into_response())
        }
        Err(e) => review_page(&state, layout, &who, &client, id, Said::refusal(e)?).await,
    }
}
