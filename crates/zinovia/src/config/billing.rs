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

    /// CCBill: the merchant account number (6 digits).
    #[arg(long, env = "CCBILL_CLIENT_ACCNUM")]
    pub ccbill_client_accnum: Option<String>,

    /// CCBill: the subaccount fans are billed under (4 digits).
    #[arg(long, env = "CCBILL_CLIENT_SUBACC")]
    pub ccbill_client_subacc: Option<String>,

    /// CCBill: the FlexForm (its id, a UUID) that shows the payment page.
    #[arg(long, env = "CCBILL_FLEXFORM_ID")]
    pub ccbill_flexform_id: Option<String>,

    /// CCBill: the encryption key ("salt") its form digests are made with.
    #[arg(long, env = "CCBILL_SALT", value_parser = parse_secret, hide_env_values = true)]
    pub ccbill_salt: Option<SecretString>,

    /// CCBill: the secret last segment of the webhook URL given to CCBill
    /// (`/api/v1/billing/webhooks/ccbill/<token>`; at least 32 characters). CCBill does not
    /// sign its webhooks.
    #[arg(long, env = "CCBILL_WEBHOOK_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub ccbill_webhook_token: Option<SecretString>,

    /// CCBill: the addresses its webhooks come from (CIDRs, comma-separated; the client
    /// address as `TRUSTED_PROXIES` work it out).
    #[arg(
        long,
        env = "CCBILL_WEBHOOK_SOURCES",
        value_delimiter = ',',
        default_value = "64.38.212.0/24,64.38.215.0/24,64.38.240.0/24,64.38.241.0/24"
    )]
    pub ccbill_webhook_sources: Vec<ipnet::IpNet>,

    /// CCBill: the DataLink user that cancels subscriptions.
    #[arg(long, env = "CCBILL_DATALINK_USERNAME")]
    pub ccbill_datalink_username: Option<String>,

    /// CCBill: the DataLink user's password.
    #[arg(long, env = "CCBILL_DATALINK_PASSWORD", value_parser = parse_secret, hide_env_values = true)]
    pub ccbill_datalink_password: Option<SecretString>,

    /// CCBill's FlexForms (a local fake in tests).
    #[arg(
        long,
        env = "CCBILL_FORM_BASE",
        default_value = "https://api.ccbill.com/wap-frontflex/flexforms/"
    )]
    pub ccbill_form_base: Url,

    /// CCBill's DataLink subscription management (a local fake in tests).
    #[arg(
        long,
        env = "CCBILL_DATALINK_URL",
        default_value = "https://datalink.ccbill.com/utils/subscriptionManagement.cgi"
    )]
    pub ccbill_datalink_url: Url,

    /// Route payments on the rails that can split them (`stripe`, `simulated`) straight to
    /// creators' accounts there. `false`: the platform holds every rail's money and pays
    /// creators by bank transfer in payout batches, as it always does for `ccbill`.
    #[arg(long, env = "SPLIT_PAYMENTS", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub split_payments: bool,

    /// How long a sale the platform holds stays pending before it can be paid out (the
    /// window in which most refunds and chargebacks arrive).
    #[arg(long, env = "PAYOUT_HOLD", default_value = "7d", value_parser = parse_duration)]
    pub payout_hold: HumanDuration,

    /// The hold of a new creator's sales (made within `PAYOUT_NEW_CREATOR_PERIOD` of their
    /// creator profile's start).
    #[arg(long, env = "PAYOUT_HOLD_NEW_CREATOR", default_value = "21d", value_parser = parse_duration)]
    pub payout_hold_new_creator: HumanDuration,

    /// How long a creator counts as new for `PAYOUT_HOLD_NEW_CREATOR`.
    #[arg(long, env = "PAYOUT_NEW_CREATOR_PERIOD", default_value = "60d", value_parser = parse_duration)]
    pub payout_new_creator_period: HumanDuration,

    /// Smallest payout, in minor units of its currency.
    #[arg(long, env = "PAYOUT_MIN", default_value = "2000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub payout_min: u32,

    /// The platform's bank account payouts are paid from: its holder's name (the debtor
    /// of the SEPA credit-transfer file of a payout batch).
    #[arg(long, env = "PAYOUT_DEBTOR_NAME")]
    pub payout_debtor_name: Option<String>,

    /// The IBAN payouts are paid from.
    #[arg(long, env = "PAYOUT_DEBTOR_IBAN")]
    pub payout_debtor_iban: Option<String>,

    /// The BIC of the bank payouts are paid from (optional within SEPA).
    #[arg(long, env = "PAYOUT_DEBTOR_BIC")]
    pub payout_debtor_bic: Option<String>,

    /// Creators whose gross sales in a calendar year reach this many minor units of a
    /// currency are listed in the operator's tax report.
    #[arg(long, env = "TAX_REPORT_THRESHOLD", default_value = "200000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub tax_report_threshold: u64,

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
            (
                "CCBILL_CLIENT_ACCNUM",
                self.ccbill_client_accnum.clone().unwrap_or_default(),
            ),
            (
                "CCBILL_CLIENT_SUBACC",
                self.ccbill_client_subacc.clone().unwrap_or_default(),
            ),
            (
                "CCBILL_FLEXFORM_ID",
                self.ccbill_flexform_id.clone().unwrap_or_default(),
            ),
            ("CCBILL_SALT", redacted(self.ccbill_salt.as_ref())),
            (
                "CCBILL_WEBHOOK_TOKEN",
                redacted(self.ccbill_webhook_token.as_ref()),
            ),
            (
                "CCBILL_WEBHOOK_SOURCES",
                self.ccbill_webhook_sources
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "CCBILL_DATALINK_USERNAME",
                self.ccbill_datalink_username.clone().unwrap_or_default(),
            ),
            (
                "CCBILL_DATALINK_PASSWORD",
                redacted(self.ccbill_datalink_password.as_ref()),
            ),
            ("CCBILL_FORM_BASE", self.ccbill_form_base.to_string()),
            ("CCBILL_DATALINK_URL", self.ccbill_datalink_url.to_string()),
            ("SPLIT_PAYMENTS", self.split_payments.to_string()),
            ("PAYOUT_HOLD", self.payout_hold.to_string()),
            (
                "PAYOUT_HOLD_NEW_CREATOR",
                self.payout_hold_new_creator.to_string(),
            ),
            (
                "PAYOUT_NEW_CREATOR_PERIOD",
                self.payout_new_creator_period.to_string(),
            ),
            ("PAYOUT_MIN", self.payout_min.to_string()),
            (
                "PAYOUT_DEBTOR_NAME",
                self.payout_debtor_name.clone().unwrap_or_default(),
            ),
            (
                "PAYOUT_DEBTOR_IBAN",
                self.payout_debtor_iban.clone().unwrap_or_default(),
            ),
            (
                "PAYOUT_DEBTOR_BIC",
                self.payout_debtor_bic.clone().unwrap_or_default(),
            ),
            (
                "TAX_REPORT_THRESHOLD",
                self.tax_report_threshold.to_string(),
            ),
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

    /// Whether `provider`'s payments go to creators' own accounts there (it can split
    /// them and `SPLIT_PAYMENTS` is on); otherwise the platform holds them and pays
    /// creators out in batches.
    pub fn splits(&self, provider: crate::billing::Provider) -> bool {
        self.split_payments && provider.splits()
    }

    /// The rails whose held money the platform pays out in batches (the others' held money
    /// is transferred to creators' accounts there).
    pub fn held_rails(&self) -> Vec<crate::billing::Provider> {
        crate::billing::Provider::ALL
            .iter()
            .copied()
            .filter(|p| !self.splits(*p))
            .collect()
    }

    /// The first rail that pays creators into their own account there (Stripe Connect, or
    /// the simulated rail's stand-in), where creators onboard for payouts.
    pub fn connect_rail(&self) -> Option<crate::billing::Provider> {
        self.payment_providers
            .iter()
            .copied()
            .find(|p| self.splits(*p))
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
        if b.payout_hold_new_creator.0 < b.payout_hold.0 {
            hard.push(problem(
                "PAYOUT_HOLD_NEW_CREATOR",
                "must not be shorter than PAYOUT_HOLD",
            ));
        }
        if let Some(iban) = &b.payout_debtor_iban
            && let Err(e) = crate::billing::iban(iban)
        {
            hard.push(problem("PAYOUT_DEBTOR_IBAN", e));
        }
        if let Some(bic) = &b.payout_debtor_bic
            && let Err(e) = crate::billing::bic(bic)
        {
            hard.push(problem("PAYOUT_DEBTOR_BIC", e));
        }
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
            crate::billing::Provider::Ccbill => self.check_ccbill(role, hard),
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

impl Settings {
    /// CCBill's settings, when it is one of the rails: every problem named.
    fn check_ccbill(&self, role: Role, hard: &mut Vec<Problem>) {
        let b = &self.billing;
        let digits = |v: &Option<String>, n: usize| {
            v.as_deref()
                .is_some_and(|v| v.len() == n && v.bytes().all(|c| c.is_ascii_digit()))
        };
        let with = "when PAYMENT_PROVIDERS include `ccbill`";
        if !digits(&b.ccbill_client_accnum, 6) {
            hard.push(problem(
                "CCBILL_CLIENT_ACCNUM",
                format!("must be the 6-digit account number {with}"),
            ));
        }
        if !digits(&b.ccbill_client_subacc, 4) {
            hard.push(problem(
                "CCBILL_CLIENT_SUBACC",
                format!("must be the 4-digit subaccount {with}"),
            ));
        }
        if b.ccbill_flexform_id
            .as_deref()
            .is_none_or(|f| uuid::Uuid::parse_str(f).is_err())
        {
            hard.push(problem(
                "CCBILL_FLEXFORM_ID",
                format!("must be the FlexForm's id (a UUID) {with}"),
            ));
        }
        if b.ccbill_salt
            .as_ref()
            .is_none_or(|s| s.expose_secret().trim().is_empty())
        {
            hard.push(problem(
                "CCBILL_SALT",
                format!("is required {with}: form digests cannot be made without it"),
            ));
        }
        // Only the servers receive webhooks.
        if role.uses_http()
            && b.ccbill_webhook_token
                .as_ref()
                .is_none_or(|t| t.expose_secret().len() < 32)
        {
            hard.push(problem(
                "CCBILL_WEBHOOK_TOKEN",
                format!("must be a secret of at least 32 characters {with}: CCBill does not sign its webhooks"),
            ));
        }
        if b.ccbill_webhook_sources.is_empty() {
            hard.push(problem(
                "CCBILL_WEBHOOK_SOURCES",
                format!("must name CCBill's addresses {with}"),
            ));
        }
        if b.ccbill_datalink_username
            .as_deref()
            .is_none_or(str::is_empty)
        {
            hard.push(problem(
                "CCBILL_DATALINK_USERNAME",
                format!("is required {with}: subscriptions cannot be canceled without it"),
            ));
        }
        if b.ccbill_datalink_password.is_none() {
            hard.push(problem(
                "CCBILL_DATALINK_PASSWORD",
                format!("is required {with}"),
            ));
        }
    }
}
