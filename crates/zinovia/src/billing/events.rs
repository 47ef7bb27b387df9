//! Provider events translated into our own: the only place that reads a provider's event
//! shapes. Stripe's objects are read field by field from JSON (tolerating the API versions
//! that moved `current_period_end` to subscription items and an invoice's subscription to
//! `parent.subscription_details`), so an unexpected shape becomes "ignored", never a panic.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::types::{SessionPaymentStatus, SubscriptionStatus};

/// A received event: its id, type, time and object.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The provider's event id (deduplication key).
    pub id: String,
    /// The provider's event type.
    pub kind: String,
    /// When the provider created it.
    pub created: DateTime<Utc>,
    /// `data.object`.
    pub object: Value,
}

impl Envelope {
    /// Reads an event body (already verified).
    pub fn parse(body: &[u8]) -> Result<Envelope, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let id = str_of(&v, "id").ok_or("no event id")?.to_owned();
        let kind = str_of(&v, "type").ok_or("no event type")?.to_owned();
        let created = v
            .get("created")
            .and_then(Value::as_i64)
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or("no event time")?;
        let object = v
            .get("data")
            .and_then(|d| d.get("object"))
            .cloned()
            .ok_or("no data.object")?;
        Ok(Envelope {
            id,
            kind,
            created,
            object,
        })
    }
}

/// A checkout session's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutOutcome {
    /// The provider's session id.
    pub session_id: String,
    /// Our checkout (`client_reference_id`).
    pub checkout: Option<Uuid>,
    /// The provider's customer.
    pub customer: Option<String>,
    /// The subscription it created (subscription checkouts).
    pub subscription: Option<String>,
    /// The payment (one-off checkouts).
    pub payment: Option<String>,
    /// Amount charged.
    pub amount_minor: i64,
    /// ISO currency, upper case.
    pub currency: String,
}

/// A subscription's state as the provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionState {
    /// The provider's id.
    pub id: String,
    /// The provider's customer.
    pub customer: Option<String>,
    /// Its status.
    pub status: SubscriptionStatus,
    /// End of the paid (or trial) period.
    pub current_period_end: Option<DateTime<Utc>>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Our ids, from the metadata we set at checkout.
    pub fan: Option<Uuid>,
    /// The creator.
    pub creator: Option<Uuid>,
    /// Price per period.
    pub price_minor: Option<i64>,
    /// Currency, upper case.
    pub currency: Option<String>,
    /// The creator's account its invoices pay (`transfer_data.destination`).
    pub routing: Routing,
}

/// Where a payment's (or a subscription's payments') money goes, as the rail states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// The object does not say (the subscription's last known destination decides).
    Unstated,
    /// To the platform, which holds it for the creator.
    Platform,
    /// To the creator's account at the rail.
    Account(String),
}

/// A paid or failed invoice of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceState {
    /// The provider's id.
    pub id: String,
    /// Its subscription.
    pub subscription: Option<String>,
    /// The payment (charge or payment intent).
    pub payment: Option<String>,
    /// Paid.
    pub amount_paid: i64,
    /// Currency, upper case.
    pub currency: String,
    /// End of the period it pays for.
    pub period_end: Option<DateTime<Utc>>,
    /// Where its money went (`transfer_data.destination`).
    pub routing: Routing,
}

impl Routing {
    /// Whether the object said; and the account it named, if any.
    pub fn stated(&self) -> (bool, Option<&str>) {
        match self {
            Routing::Unstated => (false, None),
            Routing::Platform => (true, None),
            Routing::Account(a) => (true, Some(a)),
        }
    }
}

/// A transfer of held money to a creator's account at the rail.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferState {
    /// The rail's id.
    pub id: String,
    /// Ours (`metadata[transfer_id]`): transfers we did not make have none.
    pub transfer: Option<Uuid>,
    /// Amount.
    pub amount_minor: i64,
    /// Currency, upper case.
    pub currency: String,
    /// The creator's account.
    pub destination: Option<String>,
}

/// Money returned: a refund (cumulative over the payment) or a dispute.
#[derive(Debug, Clone, PartialEq)]
pub struct Reversal {
    /// The refund's charge, or the dispute.
    pub id: String,
    /// The charge.
    pub charge: Option<String>,
    /// The payment intent.
    pub payment_intent: Option<String>,
    /// Amount: for a cumulative refund, refunded so far on the payment; otherwise this
    /// reversal's own amount.
    pub amount_minor: i64,
    /// Currency, upper case.
    pub currency: String,
    /// The rail's subscription the payment belongs to, when the rail says (the payment is
    /// then its latest one if no id above names it).
    pub subscription: Option<String>,
    /// Whether a refund's amount is the total refunded so far (Stripe's) rather than this
    /// refund's (CCBill's).
    pub cumulative: bool,
}

/// A payout account's state.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    /// The provider's id.
    pub id: String,
    /// May take charges.
    pub charges_enabled: bool,
    /// May be paid out.
    pub payouts_enabled: bool,
    /// Onboarding submitted.
    pub details_submitted: bool,
}

/// Our events.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A checkout was paid.
    CheckoutPaid(CheckoutOutcome),
    /// A checkout completed without the money yet (an asynchronous payment method).
    CheckoutPending(CheckoutOutcome),
    /// A checkout's payment failed.
    CheckoutFailed(CheckoutOutcome),
    /// A checkout's session expired unpaid.
    CheckoutExpired(CheckoutOutcome),
    /// A subscription was created or changed.
    Subscription(SubscriptionState),
    /// An invoice was paid.
    InvoicePaid(InvoiceState),
    /// An invoice's payment failed.
    InvoiceFailed(InvoiceState),
    /// A payment was (partly) refunded.
    Refunded(Reversal),
    /// A payment was disputed.
    Disputed(Reversal),
    /// A payout account changed.
    Account(AccountState),
    /// Held money was transferred to a creator's account.
    Transfer(TransferState),
    /// A subscription will not renew: it ends at its period's end (the rail's id).
    Canceling {
        /// The rail's subscription.
        subscription: String,
    },
    /// A subscription ended (the rail's id).
    Expired {
        /// The rail's subscription.
        subscription: String,
    },
    /// Anything else: acknowledged and ignored.
    Ignored,
}

/// Translates a Stripe event.
pub fn from_stripe(e: &Envelope) -> Event {
    let o = &e.object;
    match e.kind.as_str() {
        "checkout.session.completed" => match checkout(o) {
            Some(c)
                if str_of(o, "payment_status").and_then(SessionPaymentStatus::parse)
                    == Some(SessionPaymentStatus::Unpaid) =>
            {
                Event::CheckoutPending(c)
            }
            Some(c) => Event::CheckoutPaid(c),
            None => Event::Ignored,
        },
        "checkout.session.async_payment_succeeded" => {
            checkout(o).map_or(Event::Ignored, Event::CheckoutPaid)
        }
        "checkout.session.async_payment_failed" => {
            checkout(o).map_or(Event::Ignored, Event::CheckoutFailed)
        }
        "checkout.session.expired" => checkout(o).map_or(Event::Ignored, Event::CheckoutExpired),
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            subscription(o).map_or(Event::Ignored, Event::Subscription)
        }
        "invoice.paid" => invoice(o).map_or(Event::Ignored, Event::InvoicePaid),
        "invoice.payment_failed" => invoice(o).map_or(Event::Ignored, Event::InvoiceFailed),
        "charge.refunded" => (|| {
            Some(Event::Refunded(Reversal {
                id: str_of(o, "id")?.to_owned(),
                charge: str_of(o, "id").map(str::to_owned),
                payment_intent: id_of(o, "payment_intent"),
                amount_minor: o.get("amount_refunded")?.as_i64()?,
                currency: currency(o)?,
                subscription: None,
                cumulative: true,
            }))
        })()
        .unwrap_or(Event::Ignored),
        "charge.dispute.created" => (|| {
            Some(Event::Disputed(Reversal {
                id: str_of(o, "id")?.to_owned(),
                charge: id_of(o, "charge"),
                payment_intent: id_of(o, "payment_intent"),
                amount_minor: o.get("amount")?.as_i64()?,
                currency: currency(o)?,
                subscription: None,
                cumulative: true,
            }))
        })()
        .unwrap_or(Event::Ignored),
        "account.updated" => (|| {
            Some(Event::Account(AccountState {
                id: str_of(o, "id")?.to_owned(),
                charges_enabled: o.get("charges_enabled")?.as_bool()?,
                payouts_enabled: o.get("payouts_enabled")?.as_bool()?,
                details_submitted: o
                    .get("details_submitted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }))
        })()
        .unwrap_or(Event::Ignored),
        "transfer.created" => (|| {
            Some(Event::Transfer(TransferState {
                id: str_of(o, "id")?.to_owned(),
                transfer: o
                    .get("metadata")
                    .and_then(|m| str_of(m, "transfer_id"))
                    .and_then(|s| Uuid::parse_str(s).ok()),
                amount_minor: o.get("amount")?.as_i64()?,
                currency: currency(o)?,
                destination: id_of(o, "destination"),
            }))
        })()
        .unwrap_or(Event::Ignored),
        _ => Event::Ignored,
    }
}

/// `transfer_data.destination` of an object: absent field → unstated; null → the platform.
fn routing(o: &Value) -> Routing {
    match o.get("transfer_data") {
        None => Routing::Unstated,
        Some(t) => id_of(t, "destination").map_or(Routing::Platform, Routing::Account),
    }
}

fn checkout(o: &Value) -> Option<CheckoutOutcome> {
    Some(CheckoutOutcome {
        session_id: str_of(o, "id")?.to_owned(),
        checkout: str_of(o, "client_reference_id").and_then(|s| Uuid::parse_str(s).ok()),
        customer: id_of(o, "customer"),
        subscription: id_of(o, "subscription"),
        payment: id_of(o, "payment_intent"),
        amount_minor: o.get("amount_total").and_then(Value::as_i64).unwrap_or(0),
        currency: currency(o).unwrap_or_default(),
    })
}

fn subscription(o: &Value) -> Option<SubscriptionState> {
    let item = o
        .get("items")
        .and_then(|i| i.get("data"))
        .and_then(|d| d.get(0));
    let period_end = o
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| item?.get("current_period_end")?.as_i64())
        .and_then(|t| DateTime::from_timestamp(t, 0));
    let price = item.and_then(|i| i.get("price"));
    let meta = o.get("metadata");
    let meta_id = |k: &str| {
        meta.and_then(|m| str_of(m, k))
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    Some(SubscriptionState {
        id: str_of(o, "id")?.to_owned(),
        customer: id_of(o, "customer"),
        status: SubscriptionStatus::parse(str_of(o, "status")?)?,
        current_period_end: period_end,
        cancel_at_period_end: o
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        fan: meta_id("fan_id"),
        creator: meta_id("creator_id"),
        price_minor: price.and_then(|p| p.get("unit_amount")?.as_i64()),
        currency: price.and_then(currency),
        routing: routing(o),
    })
}

fn invoice(o: &Value) -> Option<InvoiceState> {
    let subscription = id_of(o, "subscription").or_else(|| {
        o.get("parent")?
            .get("subscription_details")
            .and_then(|d| id_of(d, "subscription"))
    });
    let period_end = o
        .get("lines")
        .and_then(|l| l.get("data"))
        .and_then(|d| d.get(0))
        .and_then(|line| line.get("period")?.get("end")?.as_i64())
        .or_else(|| o.get("period_end")?.as_i64())
        .and_then(|t| DateTime::from_timestamp(t, 0));
    Some(InvoiceState {
        id: str_of(o, "id")?.to_owned(),
        subscription,
        // Older API versions name the payment on the invoice; newer ones list it under
        // `payments` (an invoice payment pointing at its payment intent or charge).
        payment: id_of(o, "charge")
            .or_else(|| id_of(o, "payment_intent"))
            .or_else(|| {
                let p = o.get("payments")?.get("data")?.get(0)?.get("payment")?;
                id_of(p, "payment_intent").or_else(|| id_of(p, "charge"))
            }),
        amount_paid: o.get("amount_paid").and_then(Value::as_i64).unwrap_or(0),
        currency: currency(o)?,
        period_end,
        routing: routing(o),
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// An id field that may be expanded into its object.
fn id_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn currency(v: &Value) -> Option<String> {
    str_of(v, "currency").map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(kind: &str, object: Value) -> Envelope {
        let body = serde_json::to_vec(
            &json!({"id": "evt_1", "type": kind, "created": 1_700_000_000,
                                              "data": {"object": object}}),
        )
        .unwrap_or_default();
        Envelope::parse(&body).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn invoices_of_old_and_new_api_versions_name_their_subscription_and_payment() {
        let old = json!({"id": "in_1", "subscription": "sub_1", "charge": "ch_1", "amount_paid": 999,
                         "currency": "usd", "period_end": 1_700_000_100});
        let new = json!({"id": "in_1", "amount_paid": 999, "currency": "usd",
                         "parent": {"subscription_details": {"subscription": "sub_1"}},
                         "payments": {"data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_1"}}]},
                         "lines": {"data": [{"period": {"end": 1_700_000_100}}]}});
        for (object, payment) in [(old, "ch_1"), (new, "pi_1")] {
            let Event::InvoicePaid(i) = from_stripe(&envelope("invoice.paid", object)) else {
                panic!("not an invoice");
            };
            assert_eq!(i.subscription.as_deref(), Some("sub_1"));
            assert_eq!(i.payment.as_deref(), Some(payment));
            assert_eq!(i.currency, "USD");
            assert_eq!(i.period_end.map(|t| t.timestamp()), Some(1_700_000_100));
        }
    }

    #[test]
    fn invoices_say_where_their_money_went_and_transfers_name_ours() {
        let base =
            json!({"id": "in_1", "subscription": "sub_1", "amount_paid": 999, "currency": "usd"});
        let mut routed = base.clone();
        routed["transfer_data"] = json!({"destination": "acct_1", "amount": null});
        let mut held = base.clone();
        held["transfer_data"] = Value::Null;
        for (object, want) in [
            (base, Routing::Unstated),
            (held, Routing::Platform),
            (routed, Routing::Account("acct_1".into())),
        ] {
            let Event::InvoicePaid(i) = from_stripe(&envelope("invoice.paid", object)) else {
                panic!("not an invoice");
            };
            assert_eq!(i.routing, want);
        }
        let ours = Uuid::now_v7();
        let t = json!({"id": "tr_1", "object": "transfer", "amount": 1600, "currency": "usd",
                       "destination": "acct_1", "metadata": {"transfer_id": ours.to_string()}});
        assert_eq!(
            from_stripe(&envelope("transfer.created", t)),
            Event::Transfer(TransferState {
                id: "tr_1".into(),
                transfer: Some(ours),
                amount_minor: 1600,
                currency: "USD".into(),
                destination: Some("acct_1".into()),
            })
        );
        assert_eq!(
            from_stripe(&envelope("transfer.created", json!({"id": "tr_2"}))),
            Event::Ignored
        );
    }

    #[test]
    fn subscriptions_read_the_period_from_the_object_or_its_item_and_odd_shapes_are_ignored() {
        let top = json!({"id": "sub_1", "status": "active", "current_period_end": 1_700_000_500});
        let item = json!({"id": "sub_1", "status": "active",
                          "items": {"data": [{"current_period_end": 1_700_000_500,
                                              "price": {"unit_amount": 999, "currency": "eur"}}]}});
        for o in [top, item] {
            let Event::Subscription(s) = from_stripe(&envelope("customer.subscription.updated", o))
            else {
                panic!("not a subscription");
            };
            assert_eq!(
                s.current_period_end.map(|t| t.timestamp()),
                Some(1_700_000_500)
            );
        }
        assert_eq!(
            from_stripe(&envelope("customer.subscription.updated", json!({"id": 5}))),
            Event::Ignored
        );
        assert_eq!(
            from_stripe(&envelope("charge.refunded", json!({"id": "ch_1"}))),
            Event::Ignored
        );
        assert_eq!(
            from_stripe(&envelope("payout.paid", json!({"id": "po_1"}))),
            Event::Ignored
        );
        assert!(Envelope::parse(b"{}").is_err());
        assert!(Envelope::parse(b"not json").is_err());
    }
}
