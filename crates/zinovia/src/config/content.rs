//! Creators, posts and the paywall: prices, currencies, the grace period, handles, the page cache.

use clap::{Args, ValueEnum};

use super::*;

/// How creators are verified before they may sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerificationMode {
    /// Reviewers check a legal name, date of birth, ID document and selfie in the console.
    Manual,
    /// Nobody is verified and everyone may sell (refused in production): platforms without
    /// adult content, and the test command's shared browser server.
    Off,
}

/// Creators, posts and the paywall (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Content settings")]
pub struct ContentSettings {
    /// Lowest monthly subscription price a creator may set, in minor units (cents).
    #[arg(long, env = "CREATOR_PRICE_MIN", default_value = "300",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub creator_price_min: u32,

    /// Highest monthly subscription price, in minor units.
    #[arg(long, env = "CREATOR_PRICE_MAX", default_value = "50000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub creator_price_max: u32,

    /// Lowest pay-per-view price of a post, in minor units.
    #[arg(long, env = "PPV_PRICE_MIN", default_value = "300",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub ppv_price_min: u32,

    /// Highest pay-per-view price of a post, in minor units.
    #[arg(long, env = "PPV_PRICE_MAX", default_value = "100000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub ppv_price_max: u32,

    /// Currencies creators may price in (ISO 4217 codes).
    #[arg(
        long,
        env = "CURRENCIES",
        value_delimiter = ',',
        default_value = "USD,EUR,GBP"
    )]
    pub currencies: Vec<String>,

    /// How long a past-due subscription (a failed renewal) keeps its access.
    #[arg(long, env = "SUBSCRIPTION_GRACE", default_value = "3d", value_parser = parse_positive_duration)]
    pub subscription_grace: HumanDuration,

    /// How long a creator's previous handle keeps redirecting (and stays reserved).
    #[arg(long, env = "HANDLE_REDIRECT_FOR", default_value = "30d", value_parser = parse_positive_duration)]
    pub handle_redirect_for: HumanDuration,

    /// How long a creator page's rows may be served from this process's memory. Any write
    /// to the creator's posts drops them at once in every process (PostgreSQL
    /// LISTEN/NOTIFY); `0s` turns the cache off.
    #[arg(long, env = "POSTS_CACHE_TTL", default_value = "30s")]
    pub posts_cache_ttl: HumanDuration,

    /// Business days (Monday to Friday) within which a report must be resolved; open
    /// reports past it are flagged in the queue and counted by `zinovia_reports_overdue`.
    #[arg(long, env = "REPORT_SLA_BUSINESS_DAYS", default_value = "7",
          value_parser = clap::value_parser!(u32).range(1..=60))]
    pub report_sla_business_days: u32,

    /// How creators are verified before they may publish paid posts, be sold to or be
    /// paid: `manual` (reviewers in the console) or `off` (refused in production).
    #[arg(
        long,
        env = "CREATOR_VERIFICATION",
        value_enum,
        default_value = "manual"
    )]
    pub creator_verification: VerificationMode,

    /// How long an approved verification's ID document and selfie are kept after the
    /// decision (the record-keeping period), then deleted.
    #[arg(long, env = "VERIFICATION_KEEP_APPROVED", default_value = "2555d", value_parser = parse_positive_duration)]
    pub verification_keep_approved: HumanDuration,

    /// How long a rejected verification's documents are kept after the decision.
    #[arg(long, env = "VERIFICATION_KEEP_REJECTED", default_value = "30d", value_parser = parse_positive_duration)]
    pub verification_keep_rejected: HumanDuration,
}

impl ContentSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            ("CREATOR_PRICE_MIN", self.creator_price_min.to_string()),
            ("CREATOR_PRICE_MAX", self.creator_price_max.to_string()),
            ("PPV_PRICE_MIN", self.ppv_price_min.to_string()),
            ("PPV_PRICE_MAX", self.ppv_price_max.to_string()),
            ("CURRENCIES", list(self.currencies.clone())),
            ("SUBSCRIPTION_GRACE", self.subscription_grace.to_string()),
            ("HANDLE_REDIRECT_FOR", self.handle_redirect_for.to_string()),
            ("POSTS_CACHE_TTL", self.posts_cache_ttl.to_string()),
            (
                "REPORT_SLA_BUSINESS_DAYS",
                self.report_sla_business_days.to_string(),
            ),
            (
                "CREATOR_VERIFICATION",
                format!("{:?}", self.creator_verification).to_lowercase(),
            ),
            (
                "VERIFICATION_KEEP_APPROVED",
                self.verification_keep_approved.to_string(),
            ),
            (
                "VERIFICATION_KEEP_REJECTED",
                self.verification_keep_rejected.to_string(),
            ),
        ]
    }
}

impl Settings {
    pub(super) fn check_content(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        let c = &self.content;
        if c.creator_verification == VerificationMode::Off {
            unsafe_.push(problem(
                "CREATOR_VERIFICATION",
                "is `off`: anyone may sell without a verified identity and age; use `manual`",
            ));
        }
        if c.creator_price_min > c.creator_price_max {
            hard.push(problem(
                "CREATOR_PRICE_MIN",
                "must not be above CREATOR_PRICE_MAX",
            ));
        }
        if c.ppv_price_min > c.ppv_price_max {
            hard.push(problem("PPV_PRICE_MIN", "must not be above PPV_PRICE_MAX"));
        }
        if c.currencies.is_empty()
            || c.currencies
                .iter()
                .any(|x| x.len() != 3 || !x.bytes().all(|b| b.is_ascii_uppercase()))
        {
            hard.push(problem(
                "CURRENCIES",
                "must be ISO 4217 codes in capitals, e.g. USD,EUR",
            ));
        }
    }
}
