//! Payments' types: the rails, what a checkout is for and where it stands, a subscription's
//! status as its rail reports it, the ledger's kinds, where a purchase or tip stands, money,
//! checkout ids, and the shapes the fan's and creator's lists are answered in. Kinds and
//! states are stored as text through one mapping each (`text_enum!`); no other code spells
//! them as strings.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::database::text_enum;
use crate::id::id_type;

text_enum! {
    /// The payment rails.
    #[derive(clap::ValueEnum)]
    pub enum Provider {
        /// Local checkout pages that pay or fail on a click (development, demos, tests).
        Simulated = "simulated",
        /// Stripe with Stripe Connect.
        Stripe = "stripe",
        /// CCBill: an adult-content card processor; it bills fans, the platform holds the
        /// creators' share and pays them out (ADR 0022).
        Ccbill = "ccbill",
    }
}

impl Provider {
    /// How a fan choosing how to pay reads it.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Simulated => "Test payment (nobody is charged)",
            Provider::Stripe => "Card (Stripe)",
            Provider::Ccbill => "Card (CCBill)",
        }
    }

    /// Whether the rail pays creators into an account of theirs there (Stripe Connect, or
    /// the simulated stand-in); the others leave the platform holding their share.
    pub fn splits(self) -> bool {
        matches!(self, Provider::Simulated | Provider::Stripe)
    }
}

text_enum! {
    /// What a checkout pays for.
    pub enum CheckoutKind {
        /// A monthly subscription to a creator.
        Subscription = "subscription",
        /// One pay-per-view post.
        Ppv = "ppv",
        /// A tip to a creator.
        Tip = "tip",
        /// Unlocking a paid message.
        Message = "message",
    }
}

text_enum! {
    /// Where a checkout stands.
    pub enum CheckoutStatus {
        /// Started; the fan has not paid (or given up) yet.
        Open = "open",
        /// Paid.
        Completed = "completed",
        /// The payment failed, or the rail could not open the checkout.
        Failed = "failed",
        /// The rail's session expired unpaid.
        Expired = "expired",
        /// Closed by us: an account in it was deleted, or a newer checkout replaced it.
        Canceled = "canceled",
        /// Paid an amount or currency other than its own: nothing granted (an operator
        /// refunds it).
        Refused = "refused",
    }
}

text_enum! {
    /// A subscription's status, in its rail's words (Stripe's).
    pub enum SubscriptionStatus {
        /// Its first payment has not succeeded yet.
        Incomplete = "incomplete",
        /// Its first payment never succeeded; it is over.
        IncompleteExpired = "incomplete_expired",
        /// In its free trial.
        Trialing = "trialing",
        /// Paid.
        Active = "active",
        /// A renewal failed; the rail is retrying (access lasts `SUBSCRIPTION_GRACE`).
        PastDue = "past_due",
        /// Ended.
        Canceled = "canceled",
        /// The rail gave up retrying; not ended, not paid.
        Unpaid = "unpaid",
        /// Paused at the rail.
        Paused = "paused",
    }
}

impl SubscriptionStatus {
    /// Whether the rail may still bill it (it has not ended).
    pub fn billable(self) -> bool {
        !matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }

    /// Whether a fan holding it has begun a subscription (a trial or a payment): such a fan
    /// has had their free trial.
    pub fn started(self) -> bool {
        !matches!(
            self,
            SubscriptionStatus::Incomplete | SubscriptionStatus::IncompleteExpired
        )
    }
}

text_enum! {
    /// A ledger entry's kind: money in, or money going back.
    pub enum EntryKind {
        /// A subscription's payment (an invoice).
        Subscription = "subscription",
        /// A pay-per-view purchase.
        Ppv = "ppv",
        /// A tip.
        Tip = "tip",
        /// A paid message unlocked.
        Message = "message",
        /// Money refunded to the fan (negative).
        Refund = "refund",
        /// Money taken back by a dispute (negative).
        Dispute = "dispute",
        /// Money the platform held for the creator, moved to their own account at the rail
        /// (negative, held: it leaves what the platform owes them; not earnings).
        Transfer = "transfer",
        /// Money the platform held for the creator, paid to their bank account in a payout
        /// batch (negative, held; one entry per rail it was held on; not earnings).
        Payout = "payout",
    }
}

impl EntryKind {
    /// The entry a paid one-off checkout records (none for subscriptions: their invoices
    /// carry the money).
    pub fn of_checkout(kind: CheckoutKind) -> Option<EntryKind> {
        match kind {
            CheckoutKind::Subscription => None,
            CheckoutKind::Ppv => Some(EntryKind::Ppv),
            CheckoutKind::Tip => Some(EntryKind::Tip),
            CheckoutKind::Message => Some(EntryKind::Message),
        }
    }

    /// Whether it records money coming in (not going back).
    pub fn money_in(self) -> bool {
        matches!(
            self,
            EntryKind::Subscription | EntryKind::Ppv | EntryKind::Tip | EntryKind::Message
        )
    }
}

text_enum! {
    /// Where a transfer of held money to a creator's account stands.
    pub enum TransferStatus {
        /// Written; the rail has not answered yet (a retry asks again under the same key).
        Requested = "requested",
        /// The rail made the transfer; its event has not been recorded yet.
        Sent = "sent",
        /// In the ledger.
        Recorded = "recorded",
    }
}

text_enum! {
    /// When a creator's held money is requested for payout without them asking.
    pub enum PayoutSchedule {
        /// Only when the creator asks.
        Manual = "manual",
        /// Once a week (what is available, when it reaches `PAYOUT_MIN`).
        Weekly = "weekly",
        /// Once a month.
        Monthly = "monthly",
    }
}

text_enum! {
    /// Where a payout request stands.
    pub enum RequestStatus {
        /// Waiting for the next batch (the creator may still cancel it).
        Requested = "requested",
        /// In a batch an operator is paying.
        Batched = "batched",
        /// Paid (in the ledger).
        Paid = "paid",
        /// Canceled by the creator.
        Canceled = "canceled",
    }
}

text_enum! {
    /// Where a payout batch stands.
    pub enum BatchStatus {
        /// Made; its file is being paid at the bank.
        Open = "open",
        /// Marked paid by an operator (its payouts are in the ledger).
        Paid = "paid",
    }
}

text_enum! {
    /// Where a purchase or a tip stands.
    pub enum PaymentStatus {
        /// Paid (a purchase grants access).
        Paid = "paid",
        /// Refunded in full.
        Refunded = "refunded",
        /// Disputed by the fan's bank.
        Disputed = "disputed",
    }
}

pub use crate::money::Money;

id_type! {
    /// A checkout's id (the rail's `client_reference_id`).
    pub struct CheckoutId;
}

id_type! {
    /// A payout request's id.
    pub struct PayoutRequestId;
}

id_type! {
    /// A payout batch's id.
    pub struct PayoutBatchId;
}

text_enum! {
    /// A Stripe Checkout Session's mode (Stripe's words, which the simulated rail speaks
    /// too).
    pub enum SessionMode {
        /// A recurring subscription.
        Subscription = "subscription",
        /// A one-off payment.
        Payment = "payment",
    }
}

text_enum! {
    /// A Stripe Checkout Session's payment status (Stripe's words).
    pub enum SessionPaymentStatus {
        /// Paid.
        Paid = "paid",
        /// Not paid (yet: an asynchronous payment method, or a declined card).
        Unpaid = "unpaid",
        /// Nothing to pay now (a free trial).
        NoPaymentRequired = "no_payment_required",
    }
}

/// One of the fan's subscriptions (as the API shows it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The creator's handle.
    pub creator: String,
    /// The creator's name.
    pub creator_name: String,
    /// The rail's status.
    pub status: SubscriptionStatus,
    /// Paid (or trial) until.
    pub current_period_end: DateTime<Utc>,
    /// Ends at the period's end (canceled by the fan).
    pub cancel_at_period_end: bool,
    /// Price per month, minor units.
    pub price_minor: Option<i32>,
    /// Currency.
    pub currency: Option<String>,
    /// Whether it unlocks the creator's posts now (the one rule).
    pub access: bool,
}

/// A purchase or tip, for the fan's list (as the API shows it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyPayment {
    /// `ppv` or `tip`.
    pub kind: CheckoutKind,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// The creator's handle.
    #[serde(rename = "creator")]
    pub handle: String,
    /// Amount.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Tip note.
    pub message: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A creator's money in one currency, four figures that add up:
/// `earned_minor = paid_to_account_minor + paid_out_minor + owed_minor`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Balance {
    /// Currency.
    pub currency: String,
    /// Everything earned: payments after the platform's and the processor's fees, less
    /// refunds and disputes.
    pub earned_minor: i64,
    /// What reached the creator's own account at the rail: payments routed there as they
    /// were made, and transfers of what the platform held.
    pub paid_to_account_minor: i64,
    /// What the platform paid to the creator's bank account in payout batches.
    pub paid_out_minor: i64,
    /// What the platform holds for the creator and has not transferred or paid out yet
    /// (payments made before their payout account could take them, or on a rail that does
    /// not pay creators directly, less what went back); negative when more went back than
    /// it held.
    pub owed_minor: i64,
}

/// A ledger entry, for the creator's recent transactions (as the API shows it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transaction {
    /// Kind.
    pub kind: EntryKind,
    /// Gross.
    pub gross_minor: i64,
    /// Platform fee.
    pub platform_fee_minor: i64,
    /// Processor fee.
    pub processor_fee_minor: Option<i64>,
    /// Net.
    pub net_minor: i64,
    /// Currency.
    pub currency: String,
    /// The post (PPV).
    pub post_id: Option<Uuid>,
    /// The fan's public name.
    pub fan_name: Option<String>,
    /// The tip's note.
    pub message: Option<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_state_reads_back_from_its_text_and_nothing_else_does() {
        fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            text: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for v in all {
                assert_eq!(parse(text(*v)), Some(*v));
                assert_eq!(parse(&text(*v).to_uppercase()), None, "{v:?}");
            }
            assert_eq!(parse(""), None);
        }
        round_trip(CheckoutKind::ALL, CheckoutKind::as_str, CheckoutKind::parse);
        round_trip(
            CheckoutStatus::ALL,
            CheckoutStatus::as_str,
            CheckoutStatus::parse,
        );
        round_trip(
            SubscriptionStatus::ALL,
            SubscriptionStatus::as_str,
            SubscriptionStatus::parse,
        );
        round_trip(EntryKind::ALL, EntryKind::as_str, EntryKind::parse);
        round_trip(
            TransferStatus::ALL,
            TransferStatus::as_str,
            TransferStatus::parse,
        );
        round_trip(
            PaymentStatus::ALL,
            PaymentStatus::as_str,
            PaymentStatus::parse,
        );
        assert_eq!(
            serde_json::to_string(&SubscriptionStatus::PastDue).unwrap_or_default(),
            "\"past_due\""
        );
    }
}
