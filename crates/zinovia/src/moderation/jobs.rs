//! Moderation's jobs: the reporter's acknowledgement and outcome emails, and the hourly
//! check that raises overdue reports (a metric and a warning for the alarm).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::db;
use super::types::{ReportStatus, ReportSubject};
use crate::jobs::{Job, JobContext, JobError};
use crate::mail::Email;

/// Emails the reporter: that the report arrived (with its due date), or how it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellReporter {
    /// The report.
    pub report_id: Uuid,
    /// The outcome (else the acknowledgement).
    pub outcome: bool,
}

fn what(kind: ReportSubject) -> &'static str {
    match kind {
        ReportSubject::Profile => "a creator's profile",
        ReportSubject::Post => "a post",
        ReportSubject::Comment => "a comment",
        ReportSubject::Message => "a message",
    }
}

impl Job for TellReporter {
    const KIND: &'static str = "tell_reporter";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}-{}", self.report_id, self.outcome))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some((to, kind, status, resolution, due_at)) =
            db::for_email(&state.db, self.report_id).await?
        else {
            return Ok(());
        };
        let reference = self.report_id.to_string();
        let (subject, text) = if self.outcome {
            let result = match status {
                ReportStatus::Dismissed => {
                    "We looked at it and found nothing that breaks our rules."
                }
                ReportStatus::Actioned => {
                    "We acted on it: what you reported no longer breaks our rules on Zinovia."
                }
                ReportStatus::Open => return Ok(()),
            };
            (
                "Your report to Zinovia: the outcome".to_owned(),
                format!(
                    "Hello,\n\nYou reported {} to Zinovia (reference {reference}).\n\n{result}\n\nWhat our moderator noted: {resolution}\n\nThank you for helping keep Zinovia safe.\n",
                    what(kind)
                ),
            )
        } else {
            (
                "We received your report".to_owned(),
                format!(
                    "Hello,\n\nWe received your report of {} (reference {reference}). A moderator will look at it\nand write to you with the outcome by {} at the latest.\n\nIf someone is in immediate danger, contact your local emergency services.\n",
                    what(kind),
                    due_at.format("%-d %B %Y")
                ),
            )
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&Email { to, subject, text })
            .await
            .map_err(JobError::from)
    }
}

/// Counts open reports past their due time: a gauge for the alarm, and a warning.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckOverdueReports;

impl Job for CheckOverdueReports {
    const KIND: &'static str = "check_overdue_reports";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("check".into())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let n = super::service::overdue(&ctx.state).await?;
        ctx.state.metrics.reports_overdue.set(n);
        if n > 0 {
            tracing::warn!(overdue = n, "reports are past their due time");
        }
        Ok(())
    }
}

/// Which notice an action's owner gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Something of theirs was removed, or their account suspended or banned.
    Taken,
    /// It was reversed.
    Restored,
    /// Their appeal was denied.
    AppealDenied,
}

/// Emails the owner of what a moderator acted on: what, why, and how to appeal (a
/// suspended account cannot sign in, so its notice carries a signed appeal link).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellOwner {
    /// The action.
    pub action_id: Uuid,
    /// Which notice.
    pub notice: Notice,
}

impl Job for TellOwner {
    const KIND: &'static str = "tell_moderation_owner";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}-{:?}", self.action_id, self.notice))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some((to, a, denied)) =
            super::actions_db::for_notice(&state.db, self.action_id).await?
        else {
            return Ok(());
        };
        let what = match a.subject_type.as_str() {
            "post" => "your post",
            "comment" => "your comment",
            "message" => "your message",
            _ => "your account",
        };
        let account = a.kind != super::types::ActionKind::Remove;
        let appeal_link = if account {
            let token = super::actions::appeal_token(state, a.id)
                .map_err(|e| JobError::Abort(anyhow::anyhow!("{e}")))?;
            state.settings.link(&format!(
                "/appeal?action={}&token={}",
                a.id,
                crate::posts::urlencode(&token)
            ))
        } else {
            state.settings.link("/notices")
        };
        let (subject, text) = match self.notice {
            Notice::Taken if account => {
                let verb = if a.kind == super::types::ActionKind::Ban {
                    "banned"
                } else {
                    "suspended"
                };
                (
                    format!("Your Zinovia account is {verb}"),
                    format!(
                        "Hello {},\n\nA Zinovia moderator {verb} your account.\n\nWhy: {}\n\nWhile it is {verb} you cannot sign in, your profile and posts are hidden,\nyour fans' subscriptions were canceled (they are not charged again) and payouts are on hold.\nThe money you earned stays recorded.\n\nIf you think this is a mistake, appeal here (the link works without signing in):\n{appeal_link}\n",
                        a.owner_name, a.reason
                    ),
                )
            }
            Notice::Taken => (
                "A moderator removed something of yours on Zinovia".to_owned(),
                format!(
                    "Hello {},\n\nA Zinovia moderator removed {what} {}.\n\nWhy: {}\n\nIt is hidden from everyone. Its files are kept while the decision can be reviewed.\nIf you think this is a mistake, appeal from your notices page:\n{appeal_link}\n",
                    a.owner_name,
                    if a.excerpt.trim().is_empty() {
                        format!("({})", a.subject_id)
                    } else {
                        format!("“{}”", a.excerpt.trim())
                    },
                    a.reason
                ),
            ),
            Notice::Restored => (
                "A moderation decision on Zinovia was reversed".to_owned(),
                format!(
                    "Hello {},\n\nA moderator reversed the decision on {what}: it is back.\n\nTheir note: {}\n",
                    a.owner_name,
                    a.restore_reason.unwrap_or_default()
                ),
            ),
            Notice::AppealDenied => (
                "Your appeal to Zinovia".to_owned(),
                format!(
                    "Hello {},\n\nA moderator looked at your appeal about {what} and the decision stands.\n\nWhy: {}\n",
                    a.owner_name,
                    denied.unwrap_or_default()
                ),
            ),
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&Email { to, subject, text })
            .await
            .map_err(JobError::from)
    }
}
