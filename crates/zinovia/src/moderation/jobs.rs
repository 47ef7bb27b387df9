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
