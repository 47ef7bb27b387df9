//! Payments: the rail, its keys, the platform fee and the tip range.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Payments (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Payment settings")]
pub struct BillingSettings {
    /// The payment rails that take fans' money, comma-separated, the default first: fans
    /// choose among them at checkout; each receives its webhooks and renews the
    /// subscriptions made on it. `simulated` (local checkout pages that pay or fail on a
    /// click; refused in production), `stripe`.
    #[arg(
        long,
        env = "PAYMENT_PROVIDERS",
        value_enum,
        value_delimiter = ',',
        num_args = 1..,
        default_value = "simulated"
    )]
    pub payment_providers: Vec<crate::billing::Provider>,

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
                "PAYMENT_PROVIDERS",
                self.payment_providers
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
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

impl BillingSettings {
    /// The rail a checkout uses when the fan does not choose: the first listed.
    pub fn default_rail(&self) -> crate::billing::Provider {
        self.payment_providers
            .first()
            .copied()
            .unwrap_or(crate::billing::Provider::Simulated)
    }

    /// Whether `provider` is one of the rails.
    pub fn enabled(&self, provider: crate::billing::Provider) -> bool {
        self.payment_providers.contains(&provider)
    }

    /// The first rail that pays creators into their own account there (Stripe Connect, or
    /// the simulated rail's stand-in), where creators onboard for payouts.
    pub fn connect_rail(&self) -> Option<crate::billing::Provider> {
        self.payment_providers.first().copied()
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
        if b.payment_providers.is_empty() {
            hard.push(problem("PAYMENT_PROVIDERS", "must name at least one rail"));
        }
        for (i, p) in b.payment_providers.iter().enumerate() {
            if b.payment_providers[..i].contains(p) {
                hard.push(problem("PAYMENT_PROVIDERS", format!("names `{p}` twice")));
            }
        }
        for provider in &b.payment_providers {
            self.check_rail(*provider, role, hard, unsafe_);
        }
    }

    fn check_rail(
        &self,
        provider: crate::billing::Provider,
        role: Role,
        hard: &mut Vec<Problem>,
        unsafe_: &mut Vec<Problem>,
    ) {
        let b = &self.billing;
        match provider {
            crate::billing::Provider::Simulated => unsafe_.push(problem(
                "PAYMENT_PROVIDERS",
                "include `simulated`: nobody is charged; list `stripe` (and its keys) to take payments",
            )),
            crate::billing::Provider::Stripe => {
                match &b.stripe_secret_key {
                    None => hard.push(problem(
                        "STRIPE_SECRET_KEY",
                        "is required when PAYMENT_PROVIDERS include `stripe`",
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
                        "is required when PAYMENT_PROVIDERS include `stripe`: webhooks cannot be verified without it",
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
