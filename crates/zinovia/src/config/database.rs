//! Settings of every command that talks to PostgreSQL.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Settings of every command that talks to PostgreSQL.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database settings")]
pub struct DatabaseSettings {
    /// PostgreSQL URL. Unset: a private cluster under `DATA_DIR/postgres`, started from the
    /// machine's PostgreSQL server binaries. Set: used as is; the database is created when
    /// missing and the role may create it.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Largest number of connections this process keeps to PostgreSQL.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "10",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection before failing with 503.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub database_acquire_timeout: HumanDuration,
}

impl DatabaseSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            (
                "DATABASE_URL",
                match &self.database_url {
                    None => format!(
                        "(unset: embedded cluster in {})",
                        crate::database::embedded::cluster_dir(&s.data_dir()).display()
                    ),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            (
                "DATABASE_MAX_CONNECTIONS",
                self.database_max_connections.to_string(),
            ),
            (
                "DATABASE_ACQUIRE_TIMEOUT",
                self.database_acquire_timeout.to_string(),
            ),
        ]
    }
}

impl Settings {
    pub(super) fn check_database(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        let Some(url) = &self.database.database_url else {
            unsafe_.push(problem(
                "DATABASE_URL",
                "is not set: the embedded PostgreSQL cluster is for local use only",
            ));
            return;
        };
        match Url::parse(url.expose_secret()) {
            Err(_) => hard.push(problem("DATABASE_URL", "is not a valid URL")),
            Ok(u) if !matches!(u.scheme(), "postgres" | "postgresql") => hard.push(problem(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            )),
            Ok(u) => {
                let ssl = u
                    .query_pairs()
                    .find(|(k, _)| k == "sslmode")
                    .map(|(_, v)| v.into_owned());
                let socket = u.host_str().is_none_or(str::is_empty)
                    || u.query_pairs().any(|(k, _)| k == "host");
                if !socket
                    && !matches!(
                        ssl.as_deref(),
                        Some("require" | "verify-ca" | "verify-full")
                    )
                {
                    unsafe_.push(problem(
                        "DATABASE_URL",
                        "must set sslmode=require, verify-ca or verify-full: the connection carries passwords and private data",
                    ));
                }
            }
        }
    }
}
