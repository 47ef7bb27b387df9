//! JSON handlers of `/api/v1/admin/...`.

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{AuditRow, Filter};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{Admin, RequireRole};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

/// Longest page of the audit log.
pub const MAX_PAGE: i64 = 200;

/// Which audit rows to list (as typed: each is checked and named when wrong).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Done by this account.
    pub actor: Option<String>,
    /// Done to this id.
    pub subject: Option<String>,
    /// An action, or a feature's actions.
    pub action: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<String>,
    /// Before (RFC 3339).
    pub until: Option<String>,
    /// Rows older than this one.
    pub before: Option<String>,
    /// Rows per page.
    pub limit: Option<String>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl AuditQuery {
    /// The filter, or what is wrong with the query (by field).
    pub fn filter(self) -> Result<(Filter, i64), AppError> {
        let mut check = crate::accounts::FieldCheck::default();
        let mut id = |field: &str, v: Option<String>| {
            given(v).and_then(|s| {
                check.check(
                    field,
                    Uuid::parse_str(&s).map_err(|_| "is not an id".to_owned()),
                )
            })
        };
        let actor = id("actor", self.actor);
        let subject = id("subject", self.subject);
        let before = id("before", self.before);
        let mut time = |field: &str, v: Option<String>| {
            given(v).and_then(|s| {
                check.check(
                    field,
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| {
                            "is not a time (RFC 3339, e.g. 2026-12-01T00:00:00Z)".to_owned()
                        }),
                )
            })
        };
        let since = time("since", self.since);
        let until = time("until", self.until);
        let limit = match given(self.limit) {
            None => Some(50),
            Some(s) => check.check(
                "limit",
                s.parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("must be a whole number between 1 and {MAX_PAGE}")),
            ),
        };
        let action = given(self.action);
        if action.as_ref().is_some_and(|a| {
            a.len() > 80
                || !a
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
        }) {
            check.add(
                "action",
                "is not an action name (e.g. moderation or account.two_factor_enabled)",
            );
        }
        check.finish()?;
        Ok((
            Filter {
                actor,
                subject,
                action,
                since,
                until,
                before,
            },
            limit.unwrap_or(50),
        ))
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Rows, newest first.
    pub items: Vec<AuditRow>,
    /// Pass as `before` for the next page (none: this was the last).
    pub next: Option<Uuid>,
}

/// The audit log: what operators did and the security changes of accounts, newest first,
/// filtered by actor, subject, action and time (administrators).
#[utoipa::path(get, path = "/api/v1/admin/audit-log", tag = "admin",
    params(("actor" = Option<Uuid>, Query, description = "Done by this account"),
        ("subject" = Option<Uuid>, Query, description = "Done to this id (an account, post, report…)"),
        ("action" = Option<String>, Query, description = "An action (`account.two_factor_enabled`) or a feature's actions (`account`)", max_length = 80),
        ("since" = Option<DateTime<Utc>>, Query, description = "At or after"),
        ("until" = Option<DateTime<Utc>>, Query, description = "Before"),
        ("before" = Option<Uuid>, Query, description = "`next` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Rows per page (1–200, default 50)", minimum = 1, maximum = 200)),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A page of rows", body = AuditPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator, or not signed in with a second factor", body = ErrorBody),
        (status = 422, description = "A filter that is not an id, time, action or limit", body = ErrorBody),
    ))]
async fn audit_log(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, AppError> {
    let (filter, limit) = q.filter()?;
    let items = crate::audit::list(&state.db, &filter, limit).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.id))
        .flatten();
    Ok(axum::Json(AuditPage { items, next }))
}
