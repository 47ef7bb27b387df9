//! The public URL of the site (every role that builds links).

use clap::Args;
use url::Url;

use super::*;

/// Settings of every role that builds links to the site (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Site settings")]
pub struct SiteSettings {
    /// The URL people use to reach the site (links in emails, HSTS, cookie security).
    /// Unset: the local address the server listens on (local use only).
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<Url>,
}

impl SiteSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, s: &Settings) -> Vec<(&'static str, String)> {
        vec![(
            "PUBLIC_BASE_URL",
            match &self.public_base_url {
                Some(u) => u.to_string(),
                None => format!("(unset: {})", s.public_base_url()),
            },
        )]
    }
}

impl Settings {
    pub(super) fn check_site(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.site.public_base_url {
            None => unsafe_.push(problem(
                "PUBLIC_BASE_URL",
                "is not set: the https URL people use to reach the site is required",
            )),
            Some(u) if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() => {
                hard.push(problem(
                    "PUBLIC_BASE_URL",
                    "must be an http(s) URL with a host",
                ));
            }
            Some(u) if u.scheme() != "https" => unsafe_.push(problem(
                "PUBLIC_BASE_URL",
                "must be an https URL: sessions and payments need TLS",
            )),
            Some(_) => {}
        }
    }
}
