//! Sessions and rate limits.

use clap::Args;

use super::*;

/// Sessions and rate limits (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Session and rate-limit settings")]
pub struct AuthSettings {
    /// A session not used for this long ends.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "30d", value_parser = parse_positive_duration)]
    pub session_idle_timeout: HumanDuration,

    /// A session ends this long after log-in, however much it is used.
    #[arg(long, env = "SESSION_LIFETIME", default_value = "90d", value_parser = parse_positive_duration)]
    pub session_lifetime: HumanDuration,

    /// Requests per client IP to the whole site (health checks and static assets aside).
    #[arg(long, env = "RATE_LIMIT_API", default_value = "1200/1m")]
    pub rate_limit_api: Rate,

    /// Log-in attempts per account from one IP (the account's owner elsewhere is not
    /// affected).
    #[arg(long, env = "RATE_LIMIT_LOGIN", default_value = "10/15m")]
    pub rate_limit_login: Rate,

    /// Log-in attempts per IP, whatever the account (credential stuffing).
    #[arg(long, env = "RATE_LIMIT_LOGIN_IP", default_value = "50/15m")]
    pub rate_limit_login_ip: Rate,

    /// Reports (of profiles, posts, comments, messages) per IP.
    #[arg(long, env = "RATE_LIMIT_REPORT", default_value = "20/1h")]
    pub rate_limit_report: Rate,

    /// Sign-ups per IP.
    #[arg(long, env = "RATE_LIMIT_SIGNUP", default_value = "10/1h")]
    pub rate_limit_signup: Rate,

    /// Password-reset and verification emails requested per IP, and per account.
    #[arg(long, env = "RATE_LIMIT_EMAIL", default_value = "5/1h")]
    pub rate_limit_email: Rate,

    /// Password-reset confirmations, password changes and account deletions per IP, and
    /// per account (each checks or sets a password with Argon2).
    #[arg(long, env = "RATE_LIMIT_PASSWORD", default_value = "10/15m")]
    pub rate_limit_password: Rate,

    /// Messages sent per account (direct messages; a mass message counts once). The benchmark
    /// raises it.
    #[arg(long, env = "RATE_LIMIT_MESSAGES", default_value = "60/1m")]
    pub rate_limit_messages: Rate,
}

impl AuthSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            (
                "SESSION_IDLE_TIMEOUT",
                self.session_idle_timeout.to_string(),
            ),
            ("SESSION_LIFETIME", self.session_lifetime.to_string()),
            ("RATE_LIMIT_API", self.rate_limit_api.to_string()),
            ("RATE_LIMIT_LOGIN", self.rate_limit_login.to_string()),
            ("RATE_LIMIT_LOGIN_IP", self.rate_limit_login_ip.to_string()),
            ("RATE_LIMIT_SIGNUP", self.rate_limit_signup.to_string()),
            ("RATE_LIMIT_REPORT", self.rate_limit_report.to_string()),
            ("RATE_LIMIT_EMAIL", self.rate_limit_email.to_string()),
            ("RATE_LIMIT_PASSWORD", self.rate_limit_password.to_string()),
            ("RATE_LIMIT_MESSAGES", self.rate_limit_messages.to_string()),
        ]
    }
}
