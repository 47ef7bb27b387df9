//! The console's pages: its front page, the audit log, and accounts (search, view,
//! suspend or ban and restore, role changes).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::api::AuditQuery;
use crate::accounts::standing::{self, AccountSummary, Suspension};
use crate::accounts::{Role, UserId};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{Admin, ClientMeta, Moderator, PathId, RequireRole};
use crate::site::{DoneQuery, FormErrors, Layout, Said};
use crate::state::AppState;

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (StatusCode::OK, Html(html)).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

#[derive(Template)]
#[template(path = "admin/console.html")]
struct ConsolePage {
    layout: Layout,
    admin: bool,
}

/// `GET /admin`: operators only.
pub(super) async fn console(layout: Layout, who: RequireRole<Moderator>) -> Response {
    render(&ConsolePage {
        layout,
        admin: who.0.user.role == Role::Admin,
    })
}

struct Line {
    when: String,
    actor: String,
    action: String,
    subject: String,
    reason: String,
    details: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    lines: Vec<Line>,
    actor: String,
    subject: String,
    action: String,
    next: String,
}

/// `GET /admin/audit`: the audit log, filtered (administrators).
pub(super) async fn audit(
    State(state): State<AppState>,
    layout: Layout,
    _admin: RequireRole<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let (filter, limit) = q.filter()?;
    let rows = crate::audit::list(&state.db, &filter, limit).await?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if let Some(a) = filter.actor {
                query.append_pair("actor", &a.to_string());
            }
            if let Some(s) = filter.subject {
                query.append_pair("subject", &s.to_string());
            }
            if let Some(a) = &filter.action {
                query.append_pair("action", a);
            }
            query.append_pair("before", &r.id.to_string());
            format!("/admin/audit?{}", query.finish())
        })
    } else {
        None
    };
    let lines = rows
        .into_iter()
        .map(|r| Line {
            when: r.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: match (r.actor_name, r.actor_id) {
                (Some(name), Some(id)) => format!("{name} ({id})"),
                (_, Some(id)) => id.to_string(),
                _ => "system".into(),
            },
            action: r.action,
            subject: format!(
                "{} {}",
                r.subject_type,
                r.subject_id.map(|s| s.to_string()).unwrap_or_default()
            ),
            reason: r.reason,
            details: if r.details == serde_json::json!({}) {
                String::new()
            } else {
                r.details.to_string()
            },
            ip: r.ip.unwrap_or_default(),
        })
        .collect();
    Ok(render(&AuditPage {
        layout,
        lines,
        actor: filter.actor.map(|a| a.to_string()).unwrap_or_default(),
        subject: filter.subject.map(|a| a.to_string()).unwrap_or_default(),
        action: filter.action.unwrap_or_default(),
        next: next.unwrap_or_default(),
    }))
}

struct AccountLine {
    id: String,
    email: String,
    name: String,
    role: String,
    status: String,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    admin: bool,
    q: String,
    lines: Vec<AccountLine>,
}

/// `GET /admin/users?q=`: account search (operators).
pub(super) async fn users(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    Query(q): Query<super::users::UserQuery>,
) -> Result<Response, AppError> {
    let lines = super::users::search(&state, &q.q)
        .await?
        .into_iter()
        .map(|a| AccountLine {
            id: a.id.to_string(),
            status: status_text(&a),
            email: a.email,
            name: a.display_name,
            role: a.role.to_string(),
            created: a.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    Ok(render(&UsersPage {
        layout,
        admin: who.0.user.role == Role::Admin,
        q: q.q,
        lines,
    }))
}

fn status_text(a: &AccountSummary) -> String {
    if a.deleted {
        "deleted".into()
    } else if let Some(s) = a.suspension {
        s.to_string()
    } else {
        "active".into()
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    layout: Layout,
    admin: bool,
    id: String,
    email: String,
    name: String,
    role: String,
    handle: String,
    status: String,
    created: String,
    verified: bool,
    two_factor: bool,
    suspended: bool,
    banned: bool,
    deleted: bool,
    operator: bool,
    notices: Vec<crate::moderation::NoticeLine>,
    roles: Vec<&'static str>,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for UserPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

async fn user_page(
    state: &AppState,
    layout: Layout,
    who: &RequireRole<Moderator>,
    id: Uuid,
    said: Said,
) -> Result<Response, AppError> {
    let a = standing::get(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let notices =
        crate::moderation::notice_lines(crate::moderation::notices(state, id).await?, false);
    let page = UserPage {
        layout,
        admin: who.0.user.role == Role::Admin,
        id: a.id.to_string(),
        status: status_text(&a),
        email: a.email,
        name: a.display_name,
        role: a.role.to_string(),
        handle: a.handle.unwrap_or_default(),
        created: a.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        verified: a.email_verified,
        two_factor: a.two_factor,
        suspended: a.suspension.is_some(),
        banned: a.suspension == Some(Suspension::Banned),
        deleted: a.deleted,
        operator: matches!(a.role, Role::Admin | Role::Moderator),
        notices,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        notice: said.notice,
        errors: said.errors,
        form_error: said.form_error,
    };
    match page.render() {
        Ok(html) => Ok((said.status, Html(html)).into_response()),
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

/// `GET /admin/users/{id}`.
pub(super) async fn user(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    PathId(id): PathId<UserId>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "suspended" => "The account is suspended; the owner is told.",
        "restored" => "The account is restored; the owner is told.",
        "role" => "The role is changed; the account's sessions ended.",
        _ => "",
    };
    user_page(&state, layout, &who, id.0, Said::ok(notice)).await
}

/// The account forms' fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AccountForm {
    reason: String,
    ban: Option<String>,
    role: String,
}

async fn after(
    state: &AppState,
    layout: Layout,
    who: &RequireRole<Moderator>,
    id: Uuid,
    done: &str,
    outcome: Result<(), AppError>,
) -> Result<Response, AppError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/admin/users/{id}?done={done}")).into_response()),
        Err(e) => user_page(state, layout, who, id, Said::refusal(e)?).await,
    }
}

/// `POST /admin/users/{id}/suspend`.
pub(super) async fn suspend(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<UserId>,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    let outcome = crate::moderation::suspend(
        &state,
        &who.0.user,
        id.0,
        f.ban.is_some(),
        &f.reason,
        &client,
    )
    .await
    .map(|_| ());
    after(&state, layout, &who, id.0, "suspended", outcome).await
}

/// `POST /admin/users/{id}/restore`: lifts the account's suspension or ban.
pub(super) async fn restore(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<UserId>,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    let outcome = async {
        let action = crate::moderation::live_suspension(&state, id.0)
            .await?
            .ok_or_else(|| AppError::Conflict("this account is not suspended".into()))?;
        crate::moderation::restore(&state, &who.0.user, action, &f.reason, &client).await
    }
    .await;
    after(&state, layout, &who, id.0, "restored", outcome).await
}

/// `POST /admin/users/{id}/role` (administrators).
pub(super) async fn role(
    State(state): State<AppState>,
    layout: Layout,
    who: RequireRole<Moderator>,
    client: ClientMeta,
    PathId(id): PathId<UserId>,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    if who.0.user.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let outcome =
        super::users::set_role(&state, &who.0.user, id.0, &f.role, &f.reason, &client).await;
    after(&state, layout, &who, id.0, "role", outcome).await
}
