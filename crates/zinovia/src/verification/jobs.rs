//! Verification's jobs: checking submitted documents (malware scan, real format), telling
//! the person a reviewer's decision, and deleting documents after their keeping time.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types::VerificationStatus;
use crate::jobs::{Job, JobContext, JobError};
use crate::mail::Email;

/// Scans and probes a submitted attempt's documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckDocuments {
    /// The attempt.
    pub verification_id: Uuid,
}

impl Job for CheckDocuments {
    const KIND: &'static str = "check_verification_documents";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(self.verification_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::service::check_documents(&ctx.state, self.verification_id)
            .await
            .map_err(JobError::Retry)
    }
}

/// Emails the person a reviewer's decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellPerson {
    /// The attempt.
    pub verification_id: Uuid,
    /// The decision.
    pub status: VerificationStatus,
}

impl Job for TellPerson {
    const KIND: &'static str = "tell_verification_decision";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}-{}", self.verification_id, self.status))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some((to, name, _, reason)) =
            super::db::owner_contact(&state.db, self.verification_id).await?
        else {
            return Ok(());
        };
        let link = state.settings.link("/account/verification");
        let (subject, text) = match self.status {
            VerificationStatus::Approved => (
                "Your identity is verified on Zinovia".to_owned(),
                format!(
                    "Hello {name},\n\nOur reviewers verified your identity. You can now publish paid posts and\nmessages, take subscriptions and set up payouts.\n\n{link}\n"
                ),
            ),
            VerificationStatus::Rejected => (
                "Your verification on Zinovia was not approved".to_owned(),
                format!(
                    "Hello {name},\n\nOur reviewers could not verify your identity.\n\nWhy: {reason}\n\nYou can start again with new documents:\n{link}\n"
                ),
            ),
            VerificationStatus::MoreNeeded => (
                "Zinovia needs more for your verification".to_owned(),
                format!(
                    "Hello {name},\n\nOur reviewers need more before they can verify your identity.\n\nWhat they ask: {reason}\n\nUpdate your verification here:\n{link}\n"
                ),
            ),
            _ => return Ok(()),
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&Email { to, subject, text })
            .await
            .map_err(JobError::from)
    }
}

/// Deletes documents past their keeping time (`VERIFICATION_KEEP_APPROVED`,
/// `VERIFICATION_KEEP_REJECTED`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeVerificationDocuments;

impl Job for PurgeVerificationDocuments {
    const KIND: &'static str = "purge_verification_documents";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("purge".into())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::service::purge_expired(&ctx.state)
            .await
            .map(|_| ())
            .map_err(JobError::Retry)
    }
}
