//! The rules of reports: anyone may file one (throttled per address), the reporter is
//! acknowledged by email, moderators see the queue by due time and resolve each with a
//! reason that is audited and emailed back.

use chrono::Utc;
use uuid::Uuid;

use super::db::{self, NewReport, ReportRow};
use super::jobs::TellReporter;
use super::types::{ReportCategory, ReportId, ReportStatus, ReportSubject, business_days_after};
use crate::accounts::{FieldCheck, User};
use crate::error::AppError;
use crate::http::extract::ClientMeta;
use crate::state::AppState;

/// Longest details (characters).
pub const MAX_DETAILS: usize = 2000;
/// Longest resolution reason (characters).
pub const MAX_REASON: usize = crate::audit::MAX_REASON;

/// A report as received.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// `profile`, `post`, `comment` or `message`.
    pub subject_type: String,
    /// Its id.
    pub subject_id: String,
    /// Why.
    pub category: String,
    /// What is wrong (required for `other`).
    pub details: String,
    /// Where to write back (required when not signed in).
    pub email: String,
}

/// A report filed.
#[derive(Debug, Clone)]
pub struct Filed {
    /// Its id.
    pub id: ReportId,
    /// When it is answered at the latest.
    pub due_at: chrono::DateTime<Utc>,
}

/// Files a report. A signed-in reporter's address comes from the account; a visitor gives
/// one. What is reported must exist and be shown.
#[tracing::instrument(skip_all)]
pub async fn file(
    state: &AppState,
    reporter: Option<&User>,
    client: &ClientMeta,
    input: &ReportInput,
) -> Result<Filed, AppError> {
    let mut check = FieldCheck::default();
    let kind = ReportSubject::parse(input.subject_type.trim());
    if kind.is_none() {
        check.add(
            "subject_type",
            "must be one of profile, post, comment, message",
        );
    }
    let subject = Uuid::parse_str(input.subject_id.trim()).ok();
    if subject.is_none() {
        check.add("subject_id", "is not an id");
    }
    let category = ReportCategory::parse(input.category.trim());
    if category.is_none() {
        check.add(
            "category",
            "must be one of illegal, non_consensual, underage, copyright, spam, other",
        );
    }
    let details = check
        .text(
            "details",
            &input.details,
            MAX_DETAILS,
            category == Some(ReportCategory::Other),
        )
        .unwrap_or_default();
    let email = match reporter {
        Some(u) => Some(u.email.clone()),
        None => check
            .check("email", crate::accounts::Email::parse(&input.email))
            .map(|e| e.as_str().to_owned()),
    };
    check.finish()?;
    let (Some(kind), Some(subject), Some(category), Some(email)) = (kind, subject, category, email)
    else {
        return Err(AppError::BadRequest("invalid report".into()));
    };
    let ip = client
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    state
        .limiter()?
        .check("report", state.settings.auth.rate_limit_report, &ip)
        .await
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    if kind == ReportSubject::Message {
        // Only someone in the conversation has seen a message.
        let seen = match reporter {
            Some(u) => crate::messages::can_see_message(state, u, subject).await?,
            None => false,
        };
        if !seen {
            return Err(AppError::field(
                "subject_id",
                "is not a message that can be seen",
            ));
        }
    }
    let mut tx = state.db.begin().await?;
    let Some(owner) = db::subject_owner(&mut tx, kind, subject).await? else {
        return Err(AppError::field(
            "subject_id",
            format!("is not a {kind} that can be seen"),
        ));
    };
    let due = business_days_after(Utc::now(), state.settings.content.report_sla_business_days);
    let (id, due_at) = db::insert(
        &mut tx,
        &NewReport {
            id: Uuid::now_v7(),
            reporter_id: reporter.map(|u| u.id.0),
            reporter_email: &email,
            subject_type: kind,
            subject_id: subject,
            owner_id: owner,
            category,
            details: &details,
            due_at: due,
        },
    )
    .await?;
    crate::jobs::enqueue(
        &mut *tx,
        &TellReporter {
            report_id: id,
            outcome: false,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(report_id = %id, subject_type = kind.as_str(), category = category.as_str(), "report filed");
    Ok(Filed {
        id: ReportId(id),
        due_at,
    })
}

/// A report in the queue, with whether it is past due.
#[derive(Debug, Clone)]
pub struct QueuedReport {
    /// The row.
    pub row: ReportRow,
    /// Open and past its due time.
    pub overdue: bool,
}

/// The queue: open reports soonest due first, or resolved ones newest first.
pub async fn queue(
    state: &AppState,
    status: ReportStatus,
    limit: i64,
) -> Result<Vec<QueuedReport>, AppError> {
    let now = Utc::now();
    Ok(db::list(&state.db, status, limit)
        .await?
        .into_iter()
        .map(|row| QueuedReport {
            overdue: row.status == ReportStatus::Open && row.due_at < now,
            row,
        })
        .collect())
}

/// Closes an open report as needing nothing, with the reason (audited; the reporter is
/// told).
#[tracing::instrument(skip_all, fields(report_id = %id))]
pub async fn dismiss(
    state: &AppState,
    moderator: &User,
    ReportId(id): ReportId,
    reason: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let mut check = FieldCheck::default();
    let reason = check.text("reason", reason, MAX_REASON, true);
    check.finish()?;
    let reason = reason.unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let Some((status, kind, subject)) = db::get_for_update(&mut tx, id).await? else {
        return Err(AppError::NotFound);
    };
    if status != ReportStatus::Open {
        return Err(AppError::Conflict(format!(
            "this report is already {status}"
        )));
    }
    db::resolve(
        &mut tx,
        id,
        ReportStatus::Dismissed,
        moderator.id.0,
        &reason,
    )
    .await?;
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(moderator.id.0),
            action: "moderation.dismiss_report",
            subject_type: "report",
            subject_id: Some(id),
            reason: &reason,
            details: serde_json::json!({"subject_type": kind.as_str(), "subject_id": subject}),
            ip: client.ip,
        },
    )
    .await?;
    crate::jobs::enqueue(
        &mut *tx,
        &TellReporter {
            report_id: id,
            outcome: true,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!("report dismissed");
    Ok(())
}

/// Counts overdue reports (the metric and the warning the hourly check gives).
pub(super) async fn overdue(state: &AppState) -> Result<i64, sqlx::Error> {
    db::overdue(&state.db).await
}
