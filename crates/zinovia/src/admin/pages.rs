//! The console's pages: its front page (what waits for operators) and the audit log.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::api::AuditQuery;
use crate::accounts::Role;
use crate::error::AppError;
use crate::http::extract::{Admin, Moderator, RequireRole};
use crate::site::Layout;
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
