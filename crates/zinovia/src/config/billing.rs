//! Payments: the rail, its keys, the platform fee and the tip range.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Payments (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Payment settings")]
pub struct BillingSettings {
    /// Which payment rail takes fans' money: `simulated` (local checkout pages that pay or
    /// fail on a click; refused in production) or `stripe`.
    #[arg(
        long,
        env = "PAYMENT_PROVIDER",
        value_enum,
        default_value_t = crate::billing::Provider::Simulated
    )]
    pub payment_provider: crate::billing::Provider,

    /// Stripe's secret API key (`sk_live_…`, `rk_live_…`; `sk_test_…` outside production).
    #[arg(long, env = "STRIPE_SECRET_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_secret_key: Option<SecretString>,

    /// The signing secret of Stripe's webhook endpoint (`whsec_…`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,

    /// Stripe's API (a local fake in tests).
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: Url,

    /// The platform's share of every payment, in percent (the rest is the creator's).
    #[arg(long, env = "PLATFORM_FEE_PERCENT", default_value = "20",
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub platform_fee_percent: u8,

    /// Smallest tip, in minor units.
    #[arg(long, env = "TIP_MIN", default_value = "100",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub tip_min: u32,

    /// Largest tip, in minor units.
    #[arg(long, env = "TIP_MAX", default_value = "50000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub tip_max: u32,
}

impl BillingSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            (
                "PAYMENT_PROVIDER",
                self.payment_provider.as_str().to_owned(),
            ),
            (
                "STRIPE_SECRET_KEY",
                redacted(self.stripe_secret_key.as_ref()),
            ),
            (
                "STRIPE_WEBHOOK_SECRET",
                redacted(self.stripe_webhook_secret.as_ref()),
            ),
            (
                "PLATFORM_FEE_PERCENT",
                self.platform_fee_percent.to_string(),
            ),
            ("STRIPE_API_BASE", self.stripe_api_base.to_string()),
            ("TIP_MIN", self.tip_min.to_string()),
            ("TIP_MAX", self.tip_max.to_string()),
        ]
    }
}

impl Settings {
    pub(super) fn check_billing(
        &self,
        role: Role,
        hard: &mut Vec<Problem>,
        unsafe_: &mut Vec<Problem>,
    ) {
        let b = &self.billing;
        if b.tip_min > b.tip_max {
            hard.push(problem("TIP_MIN", "must not be above TIP_MAX"));
        }
        match b.payment_provider {
            crate::billing::Provider::Simulated => unsafe_.push(problem(
                "PAYMENT_PROVIDER",
                "is `simulated`: nobody is charged; set `stripe` (and its keys) to take payments",
            )),
            crate::billing::Provider::Stripe => {
                match &b.stripe_secret_key {
                    None => hard.push(problem(
                        "STRIPE_SECRET_KEY",
                        "is required with PAYMENT_PROVIDER=stripe",
                    )),
                    Some(k)
                        if !["sk_", "rk_"]
                            .iter()
                            .any(|p| k.expose_secret().starts_with(p)) =>
                    {
                        hard.push(problem(
                            "STRIPE_SECRET_KEY",
                            "is not a Stripe secret or restricted key (sk_… or rk_…)",
                        ));
                    }
                    Some(k) if k.expose_secret().contains("_test_") => unsafe_.push(problem(
                        "STRIPE_SECRET_KEY",
                        "is a test-mode key: nobody is charged",
                    )),
                    Some(_) => {}
                }
                match &b.stripe_webhook_secret {
                    // Only the servers receive webhooks.
                    None if !role.uses_http() => {}
                    None => hard.push(problem(
                        "STRIPE_WEBHOOK_SECRET",
                        "is required with PAYMENT_PROVIDER=stripe: webhooks cannot be verified without it",
                    )),
                    Some(s) if !s.expose_secret().starts_with("whsec_") => hard.push(problem(
                        "STRIPE_WEBHOOK_SECRET",
                        "is not a webhook signing secret (whsec_…)",
                    )),
                    Some(_) => {}
                }
            }
        }
    }
}
