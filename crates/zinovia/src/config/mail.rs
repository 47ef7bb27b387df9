//! Email: the SMTP server and the sender.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Settings of the roles that send email (`up`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mail settings")]
pub struct MailSettings {
    /// SMTP server, e.g. `smtps://user:pass@smtp.example.com:465` or
    /// `smtp://smtp.example.com:587?tls=required`. Unset: mail is written to
    /// `DATA_DIR/mail/` and logged (refused in production).
    #[arg(long, env = "SMTP_URL", value_parser = parse_secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// The sender of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Zinovia <no-reply@zinovia.localhost>"
    )]
    pub mail_from: String,
}

impl MailSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            (
                "SMTP_URL",
                match &self.smtp_url {
                    None => format!(
                        "(unset: mail written to {})",
                        s.data_dir().join("mail").display()
                    ),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            ("MAIL_FROM", self.mail_from.clone()),
        ]
    }
}

impl Settings {
    pub(super) fn check_mail(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.mail.smtp_url {
            None => unsafe_.push(problem(
                "SMTP_URL",
                "is not set: mail would be written to files instead of being sent",
            )),
            Some(u) => match Url::parse(u.expose_secret()) {
                Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some() => {
                    let tls = u
                        .query_pairs()
                        .find(|(k, _)| k == "tls")
                        .map(|(_, v)| v.into_owned());
                    if u.scheme() == "smtp" && tls.as_deref() != Some("required") {
                        unsafe_.push(problem(
                            "SMTP_URL",
                            "must use TLS: smtps://... or smtp://...?tls=required (mail carries sign-in links)",
                        ));
                    }
                }
                _ => hard.push(problem(
                    "SMTP_URL",
                    "must be an smtp:// or smtps:// URL with a host",
                )),
            },
        }
        if self
            .mail
            .mail_from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            hard.push(problem(
                "MAIL_FROM",
                "is not a mailbox like `Zinovia <no-reply@example.com>`",
            ));
        }
    }
}
