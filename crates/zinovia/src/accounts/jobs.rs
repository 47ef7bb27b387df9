//! Accounts' background jobs: the emails with links (the link's token is made inside the
//! job, so no usable token ever sits in the queue), and pruning of expired sessions and
//! tokens.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::db::Purpose;
use super::service;
use super::types::{User, UserId};
use crate::jobs::{Job, JobContext, JobError};
use crate::mail::Email;

/// Makes a single-use link for `user` and emails it; the text is written around the link.
async fn mail_link(
    ctx: &JobContext,
    user: &User,
    purpose: Purpose,
    subject: &str,
    text: impl FnOnce(&str) -> String,
) -> Result<(), JobError> {
    let state = &ctx.state;
    let link = service::issue_link(state, user.id, purpose).await?;
    let email = Email {
        to: user.email.clone(),
        subject: subject.to_owned(),
        text: text(link.expose_secret()),
    };
    state
        .mailer()
        .map_err(JobError::Abort)?
        .send(&email)
        .await
        .map_err(JobError::from)
}

/// Emails a link that confirms the account's address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendVerificationEmail {
    /// The account.
    pub user_id: UserId,
}

impl Job for SendVerificationEmail {
    const KIND: &'static str = "send_verification_email";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(user) = service::find_user(state, self.user_id).await? else {
            return Ok(()); // deleted meanwhile
        };
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let name = user.display_name.clone();
        mail_link(&ctx, &user, Purpose::VerifyEmail, "Confirm your email for Zinovia", |link| {
            format!(
                "Hi {name},\n\n\
                 Welcome to Zinovia. Confirm your email address by opening this link within 48 hours:\n\n\
                 {link}\n\n\
                 If you did not sign up for Zinovia, ignore this email; nothing will happen.\n"
            )
        })
        .await
    }
}

/// Emails a single-use link to choose a new password.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendPasswordReset {
    /// The account.
    pub user_id: UserId,
}

impl Job for SendPasswordReset {
    const KIND: &'static str = "send_password_reset";
    const MAX_ATTEMPTS: i32 = 8;

    fn dedup_key(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(user) = service::find_user(state, self.user_id).await? else {
            return Ok(());
        };
        let name = user.display_name.clone();
        mail_link(
            &ctx,
            &user,
            Purpose::ResetPassword,
            "Reset your Zinovia password",
            |link| {
                format!(
                    "Hi {name},\n\n\
                 Someone (hopefully you) asked to reset the password of your Zinovia account.\n\
                 Choose a new password by opening this link within an hour; it works once:\n\n\
                 {link}\n\n\
                 Resetting your password logs you out everywhere. If you did not ask for this,\n\
                 ignore this email: your password stays as it is.\n"
                )
            },
        )
        .await
    }
}

/// A change to how an account signs in that its owner must hear about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecurityChange {
    /// A sign-in from a browser or app the account has not used before.
    NewDevice {
        /// Its user agent.
        user_agent: Option<String>,
        /// Its address.
        ip: Option<String>,
        /// When.
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Two-factor sign-in was turned off.
    TwoFactorOff,
}

/// Emails the owner about a sign-in from a new device or a weakened sign-in, with what to
/// do if it was not them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellSecurityChange {
    /// The account.
    pub user_id: UserId,
    /// What happened.
    pub change: SecurityChange,
}

impl Job for TellSecurityChange {
    const KIND: &'static str = "tell_security_change";
    const MAX_ATTEMPTS: i32 = 8;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(user) = service::find_user(state, self.user_id).await? else {
            return Ok(());
        };
        let not_you = format!(
            "If this was not you, change your password now ({}) and log out\n\
             every other session there; then turn on two-factor sign-in ({}).\n",
            state.settings.link("/account"),
            state.settings.link("/account/security"),
        );
        let (subject, body) = match &self.change {
            SecurityChange::NewDevice { user_agent, ip, at } => (
                "New sign-in to your Zinovia account".to_owned(),
                format!(
                    "Hi {},\n\nYour account was signed in from a device it has not used before:\n\n\
                     When: {}\nDevice: {}\nAddress: {}\n\n{not_you}",
                    user.display_name,
                    at.format("%-d %b %Y, %H:%M UTC"),
                    user_agent.as_deref().unwrap_or("unknown"),
                    ip.as_deref().unwrap_or("unknown"),
                ),
            ),
            SecurityChange::TwoFactorOff => (
                "Two-factor sign-in was turned off".to_owned(),
                format!(
                    "Hi {},\n\nTwo-factor sign-in was just turned off for your Zinovia account;\n\
                     your password alone now signs in.\n\n{not_you}",
                    user.display_name
                ),
            ),
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&Email {
                to: user.email,
                subject,
                text: body,
            })
            .await
            .map_err(JobError::from)
    }
}

/// Deletes sessions past their absolute end and link tokens expired a day ago.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneAuthRecords;

impl Job for PruneAuthRecords {
    const KIND: &'static str = "prune_auth_records";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("prune".into())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let (sessions, tokens) = service::prune(&ctx.state).await?;
        if sessions + tokens > 0 {
            tracing::info!(sessions, tokens, "pruned expired sessions and link tokens");
        }
        Ok(())
    }
}
