//! Messaging's jobs: delivering a mass message in chunks, and emailing people about
//! messages left unread.

use serde::{Deserialize, Serialize};

use super::types::MassMessageId;
use crate::accounts::UserId;
use crate::jobs::{Job, JobContext, JobError};
use crate::mail::Email;

/// Delivers a mass message, one chunk of fans per transaction: each chunk inserts the
/// message once per conversation (a unique key), so a worker killed mid-chunk loses the
/// chunk's transaction and the retried job delivers it again — to nobody twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverMassMessage {
    /// The mass message.
    pub mass_message_id: MassMessageId,
}

impl Job for DeliverMassMessage {
    const KIND: &'static str = "deliver_mass_message";
    // Expired leases count as attempts: a worker killed several times must not fail it.
    const MAX_ATTEMPTS: i32 = 25;
    const PRIORITY: i16 = 5;

    fn dedup_key(&self) -> Option<String> {
        Some(self.mass_message_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        loop {
            let more = super::service::deliver_chunk(&ctx.state, self.mass_message_id)
                .await
                .map_err(JobError::retry)?;
            if !more {
                return Ok(());
            }
            if ctx.is_cancelled() {
                // The rest continues from the cursor at the next attempt.
                return Err(JobError::retry(anyhow::anyhow!("stopped between chunks")));
            }
        }
    }
}

/// Finds people whose messages stayed unread for `UNREAD_EMAIL_AFTER` with nothing newer
/// and queues one email each (every five minutes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailUnreadMessages;

impl Job for EmailUnreadMessages {
    const KIND: &'static str = "email_unread_messages";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        // In batches, each its own transaction, until nobody is due.
        while super::service::queue_unread_emails(&ctx.state, 500)
            .await
            .map_err(JobError::retry)?
            == 500
        {
            if ctx.is_cancelled() {
                break;
            }
        }
        Ok(())
    }
}

/// Emails one person that messages wait for them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendUnreadEmail {
    /// Who.
    pub user_id: UserId,
    /// How many were unread when it was queued.
    pub unread: i64,
}

impl Job for SendUnreadEmail {
    const KIND: &'static str = "send_unread_email";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(user) = crate::accounts::find_user(state, self.user_id).await? else {
            return Ok(()); // closed meanwhile
        };
        if !super::service::wants_emails(state, &user)
            .await
            .map_err(JobError::retry)?
        {
            return Ok(());
        }
        let what = if self.unread == 1 {
            "1 unread message".to_owned()
        } else {
            format!("{} unread messages", self.unread)
        };
        let email = Email {
            to: user.email.clone(),
            subject: format!("You have {what} on Zinovia"),
            text: format!(
                "Hi {},\n\nYou have {what} waiting:\n\n{}\n\n\
                 To stop these emails, turn them off here: {}\n",
                user.display_name,
                state.settings.link("/messages"),
                state.settings.link("/messages/settings"),
            ),
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&email)
            .await
            .map_err(JobError::from)
    }
}
