//! The simulated rail (the embedded default, refused in production): its checkout page pays
//! or declines on a click, and the outcome is delivered as events shaped like Stripe's,
//! signed with the rail's webhook secret and received through the same verification,
//! recording and background handling as real webhooks.

use chrono::{Duration as Span, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::db::{self, Checkout};
use super::service;
use super::signature;
use super::types::{
    CheckoutId, CheckoutKind, CheckoutStatus, Provider, SessionMode, SessionPaymentStatus,
    SubscriptionStatus,
};
use crate::error::AppError;
use crate::state::AppState;

/// What the fan clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Pay.
    Pay,
    /// Decline (the payment fails).
    Decline,
}

/// The rail's checkout page of a checkout.
pub fn checkout_path(id: CheckoutId) -> String {
    format!("/billing/simulated/checkout/{id}")
}

/// A fan's open simulated checkout, with its creator's handle (for the page).
pub async fn open_checkout(
    state: &AppState,
    fan: Uuid,
    id: CheckoutId,
) -> Result<(Checkout, crate::creators::Creator), AppError> {
    if !state.settings.billing.enabled(Provider::Simulated) {
        return Err(AppError::NotFound);
    }
    let c = db::fans_checkout(&state.db, id, fan)
        .await?
        .filter(|c| c.provider == Provider::Simulated)
        .ok_or(AppError::NotFound)?;
    let creator = crate::creators::by_user(&state.db, c.creator_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((c, creator))
}

/// Completes a fan's open checkout: the events a real rail would send are signed and
/// received. Returns the checkout's kind.
pub async fn complete(
    state: &AppState,
    fan: Uuid,
    id: CheckoutId,
    outcome: Outcome,
) -> Result<CheckoutKind, AppError> {
    let (c, _) = open_checkout(state, fan, id).await?;
    if c.status != CheckoutStatus::Open {
        return Err(AppError::Conflict(format!("this checkout is {}", c.status)));
    }
    let now = Utc::now();
    let simple = |u: Uuid| u.simple().to_string();
    let session_id = format!("cs_sim_{}", simple(c.id.0));
    let customer = format!("cus_sim_{}", simple(fan));
    let currency = c.currency.to_ascii_lowercase();
    let mut events = Vec::new();
    let mode = if c.kind == CheckoutKind::Subscription {
        SessionMode::Subscription
    } else {
        SessionMode::Payment
    };
    let session = |payment_status: SessionPaymentStatus,
                   subscription: Option<&str>,
                   payment: Option<&str>| {
        json!({"id": session_id, "object": "checkout.session", "client_reference_id": c.id.to_string(),
               "customer": customer, "subscription": subscription, "payment_intent": payment,
               "mode": mode,
               "payment_status": payment_status, "status": "complete",
               "amount_total": c.amount_minor, "currency": currency})
    };
    match (outcome, c.kind) {
        (Outcome::Decline, _) => events.push((
            "checkout.session.async_payment_failed",
            session(SessionPaymentStatus::Unpaid, None, None),
        )),
        (Outcome::Pay, CheckoutKind::Subscription) => {
            let sub = format!("sub_sim_{}", simple(c.id.0));
            // The checkout's trial: none for a fan who subscribed to this creator before.
            let trial = c.trial_days > 0;
            let end = if trial {
                now + Span::days(i64::from(c.trial_days))
            } else {
                now + Span::days(30)
            };
            // Routed to the creator's account when it could take charges as the checkout
            // started (ADR 0020), as Stripe's `transfer_data` says.
            let transfer_data = c.destination.as_ref().map(|d| json!({"destination": d}));
            let subscription = json!({"id": sub, "object": "subscription", "customer": customer,
                "status": if trial { SubscriptionStatus::Trialing } else { SubscriptionStatus::Active },
                "cancel_at_period_end": false, "transfer_data": transfer_data,
                "metadata": {"fan_id": fan.to_string(), "creator_id": c.creator_id.to_string()},
                "items": {"object": "list", "data": [{"current_period_end": end.timestamp(),
                    "price": {"unit_amount": c.amount_minor, "currency": currency}}]}});
            let invoice = json!({"id": format!("in_sim_{}", simple(Uuid::now_v7())), "object": "invoice",
                "amount_paid": if trial { 0 } else { c.amount_minor }, "currency": currency,
                "transfer_data": transfer_data,
                "charge": format!("ch_sim_{}", simple(Uuid::now_v7())),
                "parent": {"subscription_details": {"subscription": sub}},
                "lines": {"data": [{"period": {"start": now.timestamp(), "end": end.timestamp()}}]}});
            events.push(("customer.subscription.created", subscription));
            events.push(("invoice.paid", invoice));
            events.push((
                "checkout.session.completed",
                session(
                    if trial {
                        SessionPaymentStatus::NoPaymentRequired
                    } else {
                        SessionPaymentStatus::Paid
                    },
                    Some(&sub),
                    None,
                ),
            ));
        }
        (Outcome::Pay, _) => {
            let payment = format!("pi_sim_{}", simple(c.id.0));
            events.push((
                "checkout.session.completed",
                session(SessionPaymentStatus::Paid, None, Some(&payment)),
            ));
        }
    }
    deliver(state, now.timestamp(), events).await?;
    Ok(c.kind)
}

/// Signs and receives events, as the rail's webhook deliveries.
pub(super) async fn deliver(
    state: &AppState,
    at: i64,
    events: Vec<(&str, Value)>,
) -> Result<(), AppError> {
    let secret = service::webhook_secret(state, Provider::Simulated).ok_or(AppError::NotFound)?;
    for (kind, object) in events {
        let body = serde_json::to_vec(&json!({
            "id": format!("evt_sim_{}", Uuid::now_v7().simple()), "object": "event", "type": kind,
            "created": at, "livemode": false, "data": {"object": object}}))
        .map_err(|e| AppError::Internal(e.into()))?;
        let header = signature::header(&secret, at, &body);
        service::receive(state, Provider::Simulated, Some(&header), &body).await?;
    }
    Ok(())
}

/// The test clock exists only on the simulated rail in the local environment (404 elsewhere).
pub fn clock_available(state: &AppState) -> Result<(), AppError> {
    if state.settings.billing.enabled(Provider::Simulated)
        && state.settings.core.environment == crate::config::Environment::Local
    {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// An extractor that answers 404 where the test clock does not exist, before anything else
/// about the request (session, body) is looked at.
#[derive(Debug, Clone, Copy)]
pub struct ClockAvailable;

impl axum::extract::FromRequestParts<AppState> for ClockAvailable {
    type Rejection = AppError;

    async fn from_request_parts(
        _parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        clock_available(state).map(|()| ClockAvailable)
    }
}

/// What letting time pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TimePassed {
    /// Subscriptions canceled by their fans that reached their period's end and ended.
    pub ended: u32,
    /// Subscriptions that renewed (paid for the next period) one or more times.
    pub renewed: u32,
}

/// The longest jump of the simulated rail's clock.
pub const MAX_DAYS: i64 = 400;

/// The simulated rail's test clock (local environment only): lets `days` pass for every
/// simulated subscription, as a provider's test clock does. A subscription whose period
/// ends within them ends if its fan canceled it, and renews (an invoice paid for each new
/// period) otherwise; the rail's events are delivered as they would be, so access follows
/// through the same webhooks.
pub async fn let_time_pass(state: &AppState, days: i64) -> Result<TimePassed, AppError> {
    clock_available(state)?;
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::field(
            "days",
            format!("must be between 1 and {MAX_DAYS}"),
        ));
    }
    // Payout holds count on the same clock.
    super::held::advance_clock(state, days).await?;
    let now = Utc::now();
    let until = now + Span::days(days);
    let due = db::due_subscriptions(&state.db, Provider::Simulated, until).await?;
    let mut passed = TimePassed::default();
    for s in due {
        let currency = s.currency.clone().unwrap_or_default().to_ascii_lowercase();
        let price = s.price_minor.unwrap_or(0);
        let transfer_data = s.destination.as_ref().map(|d| json!({"destination": d}));
        let mut events = Vec::new();
        if s.cancel_at_period_end {
            events.push((
                "customer.subscription.deleted",
                super::manage::simulated_subscription(
                    &s,
                    SubscriptionStatus::Canceled,
                    true,
                    s.current_period_end,
                ),
            ));
            passed.ended += 1;
        } else {
            let mut start = s.current_period_end;
            while start <= until {
                let end = start + Span::days(30);
                events.push((
                    "invoice.paid",
                    // Ids of the period, not random: letting time pass again before these
                    // events are handled bills the same period under the same ids, which
                    // the ledger records once.
                    json!({"id": format!("in_sim_{}_{}", s.provider_subscription_id, start.timestamp()), "object": "invoice",
                        "amount_paid": price, "currency": currency, "transfer_data": transfer_data,
                        "charge": format!("ch_sim_{}_{}", s.provider_subscription_id, start.timestamp()),
                        "parent": {"subscription_details": {"subscription": s.provider_subscription_id}},
                        "lines": {"data": [{"period": {"start": start.timestamp(), "end": end.timestamp()}}]}}),
                ));
                start = end;
            }
            events.push((
                "customer.subscription.updated",
                super::manage::simulated_subscription(&s, SubscriptionStatus::Active, false, start),
            ));
            passed.renewed += 1;
        }
        deliver(state, now.timestamp(), events).await?;
    }
    Ok(passed)
}
