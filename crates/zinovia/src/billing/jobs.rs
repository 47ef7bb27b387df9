//! Payments' background jobs: applying a received event; ending subscriptions and closing
//! checkouts at the rail when an account in them is closed; paying creators what the
//! platform holds for them and routing their early subscriptions to their account.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types::Provider;
use crate::jobs::{Job, JobContext, JobError};

/// Applies one recorded event (the webhook's slow half), in any order and any number of
/// times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyBillingEvent {
    /// Its provider.
    pub provider: Provider,
    /// Its id there.
    pub event_id: String,
}

impl Job for ApplyBillingEvent {
    const KIND: &'static str = "apply_billing_event";
    const MAX_ATTEMPTS: i32 = 8;
    const PRIORITY: i16 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.provider.as_str(), self.event_id))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::service::apply(&ctx.state, self.provider, &self.event_id).await
    }
}

/// Cancels one subscription at its rail at once (an account in it was closed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndSubscription {
    /// Our subscription row.
    pub subscription_id: Uuid,
}

impl Job for EndSubscription {
    const KIND: &'static str = "end_subscription";
    const MAX_ATTEMPTS: i32 = 12;
    const PRIORITY: i16 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(self.subscription_id.to_string())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::manage::end_now(&ctx.state, self.subscription_id).await
    }
}

/// Expires an open Stripe Checkout Session whose checkout we closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireCheckoutSession {
    /// Stripe's session id.
    pub session_id: String,
}

impl Job for ExpireCheckoutSession {
    const KIND: &'static str = "expire_checkout_session";
    const MAX_ATTEMPTS: i32 = 8;
    const PRIORITY: i16 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(self.session_id.clone())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::manage::expire_session(&ctx.state, &self.session_id).await
    }
}

/// Cancels at CCBill a subscription we never granted (its sale did not match its checkout),
/// so CCBill does not bill the fan again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelUngranted {
    /// CCBill's subscription id.
    pub subscription: String,
}

impl Job for CancelUngranted {
    const KIND: &'static str = "cancel_ungranted";
    const MAX_ATTEMPTS: i32 = 12;
    const PRIORITY: i16 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(self.subscription.clone())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        match super::ccbill::cancel(&ctx.state.settings.billing, &self.subscription).await {
            Ok(()) | Err(super::ccbill::DataLinkError::Refused(-3)) => Ok(()),
            Err(e) => Err(JobError::Retry(e.into())),
        }
    }
}

/// Transfers what the platform holds for a creator to their account at the rail, once it
/// can be paid out (ADR 0020).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferOwed {
    /// The creator.
    pub creator_id: Uuid,
    /// The rail.
    pub provider: Provider,
}

impl Job for TransferOwed {
    const KIND: &'static str = "transfer_owed";
    const MAX_ATTEMPTS: i32 = 12;
    const PRIORITY: i16 = 5;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.provider.as_str(), self.creator_id))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::payouts::transfer_owed(&ctx.state, self.creator_id, self.provider).await
    }
}

/// Moves a creator's subscriptions made before their account could take charges onto it,
/// so their next renewals pay the creator (ADR 0020).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteSubscriptions {
    /// The creator.
    pub creator_id: Uuid,
    /// The rail.
    pub provider: Provider,
}

impl Job for RouteSubscriptions {
    const KIND: &'static str = "route_subscriptions";
    const MAX_ATTEMPTS: i32 = 12;
    const PRIORITY: i16 = 5;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.provider.as_str(), self.creator_id))
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        super::payouts::route_subscriptions(&ctx.state, self.creator_id, self.provider).await
    }
}

/// Tells a creator that where they are paid changed (to the account's address, so a thief
/// who changed it cannot hide it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TellPayoutMethodChanged {
    /// The creator.
    pub creator_id: Uuid,
    /// The new account, masked.
    pub masked: String,
}

impl Job for TellPayoutMethodChanged {
    const KIND: &'static str = "tell_payout_method_changed";
    const MAX_ATTEMPTS: i32 = 8;

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(user) =
            crate::accounts::find_user(state, crate::accounts::UserId(self.creator_id)).await?
        else {
            return Ok(()); // closed meanwhile
        };
        let email = crate::mail::Email {
            to: user.email.clone(),
            subject: "Your payout account was changed".to_owned(),
            text: format!(
                "Hi {},\n\n\
                 The bank account your Zinovia earnings are paid to was just changed to {}.\n\n\
                 If you did this, there is nothing else to do. If you did not, sign in, change \
                 your password and set your bank account again at {}, and write to us: \
                 payouts already requested go to the new account.\n",
                user.display_name,
                self.masked,
                state.settings.link("/dashboard/payouts")
            ),
        };
        state
            .mailer()
            .map_err(JobError::Abort)?
            .send(&email)
            .await
            .map_err(JobError::from)
    }
}

/// Requests the payouts of creators whose weekly or monthly schedule is due.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestScheduledPayouts {}

impl Job for RequestScheduledPayouts {
    const KIND: &'static str = "request_scheduled_payouts";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedup_key(&self) -> Option<String> {
        Some("all".to_owned())
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let made = super::held::run_schedules(&ctx.state)
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
        if made > 0 {
            tracing::info!(requests = made, "scheduled payouts requested");
        }
        Ok(())
    }
}
