//! The HTTP server: listening, session secret, Redis, timeouts, CORS, proxies.

use std::net::SocketAddr;

use clap::Args;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Settings of the HTTP server (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP settings")]
pub struct HttpSettings {
    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: SocketAddr,

    /// Secret that keys session-related signatures such as CSRF tokens (at least 32
    /// characters). Unset outside production: generated once into `DATA_DIR/session-secret`.
    #[arg(long, env = "SESSION_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub session_secret: Option<SecretString>,

    /// Secret that seals the stored fields nobody should read from a database dump:
    /// creators' bank details and tax ids (at least 32 characters; keep it apart from
    /// backups, and never change it while such fields exist). Unset outside production:
    /// generated once into `DATA_DIR/data-encryption-key`.
    #[arg(long, env = "DATA_ENCRYPTION_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub data_encryption_key: Option<SecretString>,

    /// Redis URL for rate limits shared by every server process. Unset: limits are kept
    /// per process (refused in production).
    #[arg(long, env = "REDIS_URL", value_parser = parse_secret, hide_env_values = true)]
    pub redis_url: Option<SecretString>,

    /// Longest time a request may take before it is answered with 503.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub request_timeout: HumanDuration,

    /// Largest request body accepted, in bytes (media bytes go straight to storage).
    #[arg(long, env = "REQUEST_BODY_LIMIT", default_value = "2097152",
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub request_body_limit: u64,

    /// Other origins whose pages may call the API with credentials, comma-separated
    /// (e.g. `https://app.example.com`). Empty: same-origin only.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Proxies whose `X-Forwarded-For` is believed (the load balancer's subnets),
    /// comma-separated CIDRs. Empty: the connecting address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,
}

impl HttpSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            ("BIND_ADDR", self.bind_addr.to_string()),
            (
                "SESSION_SECRET",
                match &self.session_secret {
                    None => format!(
                        "(unset: generated in {})",
                        s.data_dir().join(SESSION_SECRET_FILE).display()
                    ),
                    Some(_) => "[redacted]".to_owned(),
                },
            ),
            (
                "DATA_ENCRYPTION_KEY",
                match &self.data_encryption_key {
                    None => format!(
                        "(unset: generated in {})",
                        s.data_dir().join(DATA_KEY_FILE).display()
                    ),
                    Some(_) => "[redacted]".to_owned(),
                },
            ),
            (
                "REDIS_URL",
                match &self.redis_url {
                    None => "(unset: limits kept in-process)".to_owned(),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            ("REQUEST_TIMEOUT", self.request_timeout.to_string()),
            ("REQUEST_BODY_LIMIT", self.request_body_limit.to_string()),
            ("CORS_ORIGINS", list(self.cors_origins.clone())),
            (
                "TRUSTED_PROXIES",
                list(
                    self.trusted_proxies
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                ),
            ),
        ]
    }
}

impl Settings {
    pub(super) fn check_http(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        check_secret("SESSION_SECRET", self.http.session_secret.as_ref(), unsafe_);
        check_secret(
            "DATA_ENCRYPTION_KEY",
            self.http.data_encryption_key.as_ref(),
            unsafe_,
        );
        match &self.http.redis_url {
            None => unsafe_.push(problem(
                "REDIS_URL",
                "is not set: rate limits would be per process, not shared by every server",
            )),
            Some(r) => match Url::parse(r.expose_secret()) {
                Ok(u) if matches!(u.scheme(), "redis" | "rediss") => {}
                _ => hard.push(problem("REDIS_URL", "must be a redis:// or rediss:// URL")),
            },
        }
        if self.auth.session_idle_timeout.0 > self.auth.session_lifetime.0 {
            hard.push(problem(
                "SESSION_IDLE_TIMEOUT",
                "must not be longer than SESSION_LIFETIME",
            ));
        }
    }
}

/// A secret the servers need: set, long, not a well-known or trivial value.
fn check_secret(name: &'static str, value: Option<&SecretString>, unsafe_: &mut Vec<Problem>) {
    match value {
        None => unsafe_.push(problem(
            name,
            format!(
                "is not set: generate one with `openssl rand -base64 48` (at least {MIN_SECRET_LEN} characters)"
            ),
        )),
        Some(s) => {
            let s = s.expose_secret();
            if s.len() < MIN_SECRET_LEN {
                unsafe_.push(problem(
                    name,
                    format!("is shorter than {MIN_SECRET_LEN} characters"),
                ));
            } else if KNOWN_DEFAULT_SECRETS.iter().any(|d| s.eq_ignore_ascii_case(d))
                || s.chars().all(|c| c == s.chars().next().unwrap_or(c))
            {
                unsafe_.push(problem(name, "is a well-known or trivial value"));
            }
        }
    }
}
