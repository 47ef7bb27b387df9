//! Sending email: SMTP (`SMTP_URL`) or, as the embedded default, `.eml` files written under
//! `DATA_DIR/mail/` with a log line. Mail is sent from jobs, so a slow or failing server
//! never blocks or fails a request, and a failed send is retried.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::Settings;

/// One email to one person.
#[derive(Debug, Clone)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

impl From<MailError> for crate::jobs::JobError {
    /// Transient failures are retried; permanent ones end the job.
    fn from(e: MailError) -> crate::jobs::JobError {
        match e {
            MailError::Transient(_) => crate::jobs::JobError::Retry(e.into()),
            MailError::Permanent(_) => crate::jobs::JobError::Abort(e.into()),
        }
    }
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying (server down, timeout, 4xx).
    #[error("sending failed, will retry: {0:#}")]
    Transient(anyhow::Error),
    /// Will never work (the address is malformed, the server refused it for good).
    #[error("sending failed for good: {0:#}")]
    Permanent(anyhow::Error),
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Mailer {
    /// An SMTP server.
    Smtp {
        /// The transport (connects per send).
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender.
        from: Mailbox,
    },
    /// Files in a directory (the local default).
    Files {
        /// The mail directory.
        dir: PathBuf,
        /// The sender.
        from: Mailbox,
    },
}

impl Mailer {
    /// The mailer the settings ask for.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Mailer> {
        let from: Mailbox =
            settings.mail.mail_from.parse().with_context(|| {
                format!("MAIL_FROM `{}` is not a mailbox", settings.mail.mail_from)
            })?;
        Ok(match &settings.mail.smtp_url {
            Some(url) => Mailer::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .context("SMTP_URL is not usable")?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
                from,
            },
            None => Mailer::Files {
                dir: settings.data_dir().join("mail"),
                from,
            },
        })
    }

    /// Sends one email.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let (Mailer::Smtp { from, .. } | Mailer::Files { from, .. }) = self;
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| MailError::Permanent(anyhow::anyhow!("bad recipient address: {e}")))?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|e| MailError::Permanent(e.into()))?;
        match self {
            Mailer::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(MailError::Permanent(e.into())),
                Err(e) => Err(MailError::Transient(e.into())),
            },
            Mailer::Files { dir, .. } => {
                let path = write_file(dir, &message.formatted())
                    .await
                    .map_err(MailError::Transient)?;
                tracing::info!(path = %path.display(), subject = %email.subject, "mail written to the local mail folder");
                Ok(())
            }
        }
    }
}

/// Writes the message atomically (temp file, then rename) so readers never see half of it.
async fn write_file(dir: &std::path::Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        uuid::Uuid::new_v4().simple()
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    tokio::fs::write(&tmp, bytes)
        .await
        .with_context(|| format!("writing {}", tmp.display()))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .with_context(|| format!("moving mail into {}", dir.display()))?;
    Ok(path)
}
