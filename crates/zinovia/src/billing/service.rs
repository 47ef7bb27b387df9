//! Receiving webhooks (verify, record once, enqueue) and applying events to the ledger and
//! the entitlement rows, in any order and any number of times.

use chrono::Utc;

use super::db::{self, ClosedCheckout, Entry};
use super::events::{self, Envelope, Event, Reversal, Routing};
use super::signature::{self, SignatureError};
use super::types::{
    CheckoutKind, CheckoutStatus, EntryKind, PaymentStatus, Provider, SubscriptionStatus,
    TransferStatus,
};
use crate::error::AppError;
use crate::jobs::{self, JobError};
use crate::state::AppState;

/// The signing secret of webhooks from `provider`: `None` unless it is one of the rails. Stripe's is `STRIPE_WEBHOOK_SECRET`; the simulated rail's is derived from the
/// session secret (the server signs its own deliveries).
pub fn webhook_secret(state: &AppState, provider: Provider) -> Option<String> {
    use secrecy::ExposeSecret;
    let billing = &state.settings.billing;
    if !billing.enabled(provider) {
        return None;
    }
    match provider {
        Provider::Stripe => billing
            .stripe_webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned()),
        // CCBill does not sign: its webhooks come to a secret URL from its addresses.
        Provider::Ccbill => None,
        Provider::Simulated => {
            let key = state.session_secret().ok()?;
            Some(format!(
                "whsec_sim_{}",
                crate::crypto::hmac_b64(
                    key.expose_secret().as_bytes(),
                    b"zinovia simulated webhooks"
                )
            ))
        }
    }
}

/// The platform's part of `gross` at `percent` (rounded half away from zero, so a
/// reversal's fee mirrors its payment's).
pub fn platform_fee(gross: i64, percent: u8) -> i64 {
    let scaled = i128::from(gross) * i128::from(percent);
    let fee = (scaled.abs() + 50) / 100;
    i64::try_from(if scaled < 0 { -fee } else { fee }).unwrap_or(0)
}

/// Verifies a webhook, records its event once and enqueues its handling, in one
/// transaction. A redelivered event is acknowledged and not enqueued again.
pub async fn receive(
    state: &AppState,
    provider: Provider,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<bool, AppError> {
    let secret = webhook_secret(state, provider).ok_or(AppError::NotFound)?;
    signature::verify(
        &secret,
        signature_header,
        body,
        Utc::now().timestamp(),
        signature::TOLERANCE_SECS,
    )
    .map_err(|e: SignatureError| AppError::BadRequest(format!("webhook refused: {e}")))?;
    let envelope = Envelope::parse(body).map_err(AppError::BadRequest)?;
    let payload: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut tx = state.db.begin().await?;
    let new = db::record_event(&mut *tx, provider, &envelope.id, &envelope.kind, &payload).await?;
    if new {
        jobs::enqueue(
            &mut *tx,
            &super::jobs::ApplyBillingEvent {
                provider,
                event_id: envelope.id.clone(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(provider = provider.as_str(), event_id = %envelope.id, event_type = %envelope.kind, duplicate = !new, "billing event received");
    Ok(new)
}

/// Receives a CCBill webhook: only at the secret URL (`CCBILL_WEBHOOK_TOKEN`, else 404) and
/// from CCBill's addresses (`CCBILL_WEBHOOK_SOURCES`, the client address as
/// `TRUSTED_PROXIES` work it out; else 403), as CCBill does not sign. Recorded once under
/// a key made of its type, subscription, transaction and time, and applied by a job.
pub async fn receive_ccbill(
    state: &AppState,
    token: &str,
    client: Option<std::net::IpAddr>,
    event_type: Option<&str>,
    json: bool,
    body: &[u8],
) -> Result<bool, AppError> {
    use secrecy::ExposeSecret;
    let b = &state.settings.billing;
    let provider = Provider::Ccbill;
    let expected = b
        .ccbill_webhook_token
        .as_ref()
        .filter(|_| b.enabled(provider))
        .ok_or(AppError::NotFound)?;
    if !crate::crypto::constant_time_eq(token, expected.expose_secret()) {
        return Err(AppError::NotFound);
    }
    let from_ccbill =
        client.is_some_and(|ip| b.ccbill_webhook_sources.iter().any(|net| net.contains(&ip)));
    if !from_ccbill {
        tracing::warn!(client = ?client, "a CCBill webhook from an address not CCBill's; refused");
        return Err(AppError::Forbidden);
    }
    let event_type = event_type
        .filter(|t| !t.is_empty() && t.len() <= 64 && t.bytes().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| AppError::BadRequest("webhook refused: no eventType".into()))?;
    let fields = super::ccbill::fields(event_type, json, body)
        .map_err(|e| AppError::BadRequest(format!("webhook refused: {e}")))?;
    let id = super::ccbill::event_id(&fields);
    let payload = serde_json::Value::Object(fields);
    let mut tx = state.db.begin().await?;
    let new = db::record_event(&mut *tx, provider, &id, event_type, &payload).await?;
    if new {
        jobs::enqueue(
            &mut *tx,
            &super::jobs::ApplyBillingEvent {
                provider,
                event_id: id.clone(),
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(provider = provider.as_str(), event_id = %id, event_type, duplicate = !new, "billing event received");
    Ok(new)
}

/// Closes `user`'s part in payments as their account is deleted, inside the deletion's
/// transaction: every subscription they pay or are paid by stops granting access now and is
/// canceled at its rail by a job (no further charge), and every open checkout they are in is
/// closed (and expired at Stripe, so it cannot be paid). The ledger is not touched: money
/// already earned stays recorded.
pub async fn close_account(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    end_payments(conn, user, "account deleted").await
}

/// The same for an account being suspended or banned (moderation's transaction): fans'
/// subscriptions stop and are canceled at their rail, open checkouts close. Held payouts wait
/// while the account is suspended (a batch passes its requests by).
pub async fn suspend_account(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    end_payments(conn, user, "account suspended").await
}

async fn end_payments(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
    why: &str,
) -> Result<(), sqlx::Error> {
    for subscription_id in db::revoke_subscriptions_of(conn, user).await? {
        jobs::enqueue(
            &mut *conn,
            &super::jobs::EndSubscription { subscription_id },
        )
        .await?;
    }
    let closed = db::cancel_open_checkouts(conn, user, None, why).await?;
    expire_at_rail(conn, closed).await
}

/// Enqueues the expiry at Stripe of each closed checkout that has a Stripe session (the
/// simulated rail's page refuses a closed checkout by itself).
pub(super) async fn expire_at_rail(
    conn: &mut sqlx::PgConnection,
    closed: Vec<ClosedCheckout>,
) -> Result<(), sqlx::Error> {
    for c in closed {
        if let (Provider::Stripe, Some(session_id)) = (c.provider, c.session_id) {
            jobs::enqueue(
                &mut *conn,
                &super::jobs::ExpireCheckoutSession { session_id },
            )
            .await?;
        }
    }
    Ok(())
}

/// Why an event could not be applied yet.
#[derive(Debug, thiserror::Error)]
enum Wait {
    /// What it refers to has not arrived yet (events come in any order): retried later.
    #[error("{0}")]
    NotYet(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Applies one recorded event (the `apply_billing_event` job's work).
pub(super) async fn apply(
    state: &AppState,
    provider: Provider,
    event_id: &str,
) -> Result<(), JobError> {
    let mut tx = state
        .db
        .begin()
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    let Some(payload) = db::take_event(&mut tx, provider, event_id)
        .await
        .map_err(|e| JobError::Retry(e.into()))?
    else {
        return Ok(()); // applied already
    };
    // The rail's event in ours (a CCBill sale is several of ours), and when it happened.
    let (at, events) = match provider {
        Provider::Ccbill => {
            let fields = payload.as_object().cloned().unwrap_or_default();
            let at = super::ccbill::occurred(&fields).unwrap_or_else(Utc::now);
            (at, super::ccbill::translate(&fields))
        }
        Provider::Stripe | Provider::Simulated => {
            let body = serde_json::to_vec(&payload).map_err(|e| JobError::Abort(e.into()))?;
            let envelope =
                Envelope::parse(&body).map_err(|e| JobError::Abort(anyhow::anyhow!(e)))?;
            (envelope.created, vec![events::from_stripe(&envelope)])
        }
    };
    let events = if provider == Provider::Ccbill {
        bind_sale(&mut tx, events)
            .await
            .map_err(|e| JobError::Retry(e.into()))?
    } else {
        events
    };
    let fee = state.settings.billing.platform_fee_percent;
    for event in &events {
        match apply_event(&mut tx, provider, fee, at, event).await {
            Ok(()) => {}
            Err(Wait::NotYet(why)) => {
                return Err(JobError::Retry(anyhow::anyhow!(
                    "event {event_id} waits: {why}"
                )));
            }
            Err(Wait::Db(e)) => return Err(JobError::Retry(e.into())),
        }
    }
    db::event_done(&mut tx, provider, event_id)
        .await
        .map_err(|e| JobError::Retry(e.into()))?;
    tx.commit().await.map_err(|e| JobError::Retry(e.into()))?;
    if events.iter().all(|e| *e == Event::Ignored) {
        tracing::info!(
            provider = provider.as_str(),
            event_id,
            "billing event ignored (a type we do not act on)"
        );
    }
    Ok(())
}

async fn apply_event(
    conn: &mut sqlx::PgConnection,
    provider: Provider,
    fee_percent: u8,
    at: chrono::DateTime<Utc>,
    event: &Event,
) -> Result<(), Wait> {
    match event {
        Event::CheckoutPaid(c) => {
            let Some(checkout) =
                db::checkout_for_update(conn, provider, c.checkout, &c.session_id).await?
            else {
                tracing::warn!(session = %c.session_id, "a paid checkout we did not start; ignored");
                return Ok(());
            };
            if let Some(customer) = &c.customer {
                db::save_customer(conn, checkout.fan_id, provider, customer).await?;
            }
            let paid = crate::money::Money::new(c.amount_minor, c.currency.clone());
            if checkout.kind != CheckoutKind::Subscription && paid != checkout.amount() {
                // What was paid is not what the fan was shown: nothing is granted or
                // recorded as earned; an operator settles it with the fan (refund).
                let reason = format!(
                    "paid {} for a checkout of {}",
                    paid.text(),
                    checkout.amount().text()
                );
                tracing::error!(checkout = %checkout.id, session = %c.session_id, %reason,
                    "a checkout was paid an amount or currency other than its own; refused");
                db::refuse_checkout(conn, checkout.id, &c.session_id, &reason).await?;
                return Ok(());
            }
            if checkout.status == CheckoutStatus::Canceled {
                // Closed by us (an account in it was deleted) but paid at the rail anyway.
                tracing::error!(checkout = %checkout.id, session = %c.session_id,
                    "a checkout closed by an account deletion was paid at the rail; nothing granted, refund it");
                return Ok(());
            }
            db::set_checkout_status(conn, checkout.id, CheckoutStatus::Completed, &c.session_id)
                .await?;
            // Invoices carry a subscription's money, its events the access.
            let Some(kind) = EntryKind::of_checkout(checkout.kind) else {
                return Ok(());
            };
            let payment = c.payment.clone().unwrap_or_else(|| c.session_id.clone());
            if db::payment_reversed(conn, provider, &payment).await? {
                return Ok(());
            }
            let gross = c.amount_minor;
            match (checkout.kind, checkout.post_id) {
                (CheckoutKind::Ppv, Some(post)) => {
                    db::purchase_paid(conn, provider, &checkout, post, &payment).await?
                }
                (CheckoutKind::Ppv, None) => {
                    tracing::warn!(checkout = %checkout.id, "a paid post purchase whose post is gone");
                }
                (CheckoutKind::Message, _) => match checkout.message_id {
                    Some(message) => {
                        db::message_purchase_paid(conn, provider, &checkout, message, &payment)
                            .await?;
                        crate::messages::unlocked(conn, message).await?;
                    }
                    None => {
                        tracing::warn!(checkout = %checkout.id, "a paid message purchase whose message is gone");
                    }
                },
                _ => {
                    // The tip, with its note, arrives in the conversation (once).
                    if db::tip_paid(conn, provider, &checkout, &payment).await? {
                        crate::messages::tip_arrived(
                            conn,
                            checkout.fan_id,
                            checkout.creator_id,
                            checkout.amount_minor,
                            &checkout.currency,
                            checkout.message.as_deref(),
                        )
                        .await?;
                    }
                }
            }
            db::append(
                conn,
                &Entry {
                    creator_id: checkout.creator_id,
                    kind,
                    provider,
                    source_id: &payment,
                    payment_id: Some(&payment),
                    fan_id: Some(checkout.fan_id),
                    post_id: checkout.post_id,
                    subscription_id: None,
                    currency: &checkout.currency,
                    gross_minor: gross,
                    platform_fee_minor: platform_fee(gross, fee_percent),
                    held: checkout.destination.is_none(),
                    occurred_at: at,
                },
            )
            .await?;
            if checkout.destination.is_none() {
                owed_grew(conn, provider, checkout.creator_id).await?;
            }
        }
        Event::CheckoutPending(_) => {}
        Event::CheckoutFailed(c) | Event::CheckoutExpired(c) => {
            if let Some(checkout) =
                db::checkout_for_update(conn, provider, c.checkout, &c.session_id).await?
                && checkout.status == CheckoutStatus::Open
            {
                let status = if matches!(event, Event::CheckoutExpired(_)) {
                    CheckoutStatus::Expired
                } else {
                    CheckoutStatus::Failed
                };
                db::set_checkout_status(conn, checkout.id, status, &c.session_id).await?;
            }
        }
        Event::Subscription(s) => {
            let (fan, creator) = match (s.fan, s.creator) {
                (Some(f), Some(c)) => (f, c),
                _ => match db::subscription_by_provider_id(conn, provider, &s.id).await? {
                    Some(held) => (held.fan_id, held.creator_id),
                    None => {
                        tracing::warn!(subscription = %s.id, "a subscription without our metadata; ignored");
                        return Ok(());
                    }
                },
            };
            db::apply_subscription(conn, provider, fan, creator, s, at).await?;
            // A subscription of a closed account (a checkout paid as it closed, or an event
            // that crossed the closing) is ended at once, as the closing did for the others.
            for party in [fan, creator] {
                // Waits for a deletion in progress, then sees it.
                if !crate::accounts::lock_open(conn, &[party]).await? {
                    for subscription_id in db::revoke_subscriptions_of(conn, party).await? {
                        jobs::enqueue(
                            &mut *conn,
                            &super::jobs::EndSubscription { subscription_id },
                        )
                        .await?;
                    }
                }
            }
            // A fan whose subscription starts gets the creator's welcome message: once per
            // fan and creator, never again on renewals or a later subscription.
            if matches!(
                s.status,
                SubscriptionStatus::Active | SubscriptionStatus::Trialing
            ) && crate::accounts::lock_open(conn, &[fan, creator]).await?
            {
                crate::messages::welcome(conn, creator, fan).await?;
            }
        }
        Event::InvoicePaid(i) => {
            let Some(sub_id) = &i.subscription else {
                return Ok(()); // not a subscription's invoice
            };
            let Some(sub) = db::subscription_by_provider_id(conn, provider, sub_id).await? else {
                return Err(Wait::NotYet(format!("subscription {sub_id} not known yet")));
            };
            db::invoice_paid(conn, provider, sub_id, i.period_end, at).await?;
            if i.amount_paid > 0 {
                let payment = i.payment.clone().unwrap_or_else(|| i.id.clone());
                // The invoice's own statement of where its money went; the subscription's
                // last known destination where it does not say.
                let held = match &i.routing {
                    Routing::Account(_) => false,
                    Routing::Platform => true,
                    Routing::Unstated => sub.destination.is_none(),
                };
                db::append(
                    conn,
                    &Entry {
                        creator_id: sub.creator_id,
                        kind: EntryKind::Subscription,
                        provider,
                        source_id: &i.id,
                        payment_id: Some(&payment),
                        fan_id: Some(sub.fan_id),
                        post_id: None,
                        subscription_id: Some(sub.id),
                        currency: &i.currency,
                        gross_minor: i.amount_paid,
                        platform_fee_minor: platform_fee(i.amount_paid, fee_percent),
                        held,
                        occurred_at: at,
                    },
                )
                .await?;
                if held {
                    owed_grew(conn, provider, sub.creator_id).await?;
                }
            }
        }
        Event::InvoiceFailed(i) => {
            if let Some(sub_id) = &i.subscription {
                if db::subscription_by_provider_id(conn, provider, sub_id)
                    .await?
                    .is_none()
                {
                    return Err(Wait::NotYet(format!("subscription {sub_id} not known yet")));
                }
                db::invoice_failed(conn, provider, sub_id, at).await?;
            }
        }
        Event::Refunded(r) => reverse(conn, provider, fee_percent, r, at, true).await?,
        Event::Disputed(r) => reverse(conn, provider, fee_percent, r, at, false).await?,
        Event::Account(a) => {
            let Some(creator_id) = db::account_updated(
                conn,
                provider,
                &a.id,
                a.charges_enabled,
                a.payouts_enabled,
                a.details_submitted,
            )
            .await?
            else {
                tracing::warn!(account = %a.id, "an update of a payout account we do not know; ignored");
                return Ok(());
            };
            // The account can take charges: subscriptions made before are moved onto it.
            if a.charges_enabled {
                jobs::enqueue(
                    &mut *conn,
                    &super::jobs::RouteSubscriptions {
                        creator_id,
                        provider,
                    },
                )
                .await?;
            }
            // It can be paid out: what the platform holds for the creator is transferred.
            if a.payouts_enabled {
                jobs::enqueue(
                    &mut *conn,
                    &super::jobs::TransferOwed {
                        creator_id,
                        provider,
                    },
                )
                .await?;
            }
        }
        Event::Canceling { subscription } | Event::Expired { subscription } => {
            if db::subscription_by_provider_id(conn, provider, subscription)
                .await?
                .is_none()
            {
                // A one-off sale is a "subscription" at CCBill too, and it expires: nothing
                // of ours ends with it.
                if db::paid_entry(conn, provider, std::slice::from_ref(subscription))
                    .await?
                    .is_some()
                {
                    return Ok(());
                }
                return Err(Wait::NotYet(format!(
                    "subscription {subscription} not known yet"
                )));
            }
            if matches!(event, Event::Expired { .. }) {
                db::subscription_expired(conn, provider, subscription, at).await?;
            } else {
                db::subscription_canceling(conn, provider, subscription, at).await?;
            }
        }
        Event::Transfer(t) => {
            let Some(ours) = t.transfer else {
                tracing::warn!(transfer = %t.id, "a transfer we did not make (no metadata[transfer_id]); ignored");
                return Ok(());
            };
            let Some(made) = db::record_transfer(conn, provider, ours, &t.id).await? else {
                tracing::warn!(transfer = %t.id, "a transfer naming a transfer of ours we do not know; ignored");
                return Ok(());
            };
            if made.status == TransferStatus::Recorded {
                return Ok(()); // recorded already (the same transfer told twice)
            }
            if t.amount_minor != made.amount_minor || t.currency != made.currency {
                tracing::error!(transfer = %t.id, asked = made.amount_minor, made = t.amount_minor,
                    "the rail transferred another amount than asked; the ledger records what it made");
            }
            // What the rail moved leaves what the platform holds (recorded once per transfer).
            db::append(
                conn,
                &Entry {
                    creator_id: made.creator_id,
                    kind: EntryKind::Transfer,
                    provider,
                    source_id: &t.id,
                    payment_id: None,
                    fan_id: None,
                    post_id: None,
                    subscription_id: None,
                    currency: &t.currency,
                    gross_minor: -t.amount_minor,
                    platform_fee_minor: 0,
                    held: true,
                    occurred_at: at,
                },
            )
            .await?;
            // More may have been earned while it was in flight.
            owed_grew(conn, provider, made.creator_id).await?;
        }
        Event::Ignored => {}
    }
    Ok(())
}

/// A CCBill sale names its checkout, fan and creator in pass-through fields the fan's browser
/// carries unsigned (only the price is signed). So what it grants comes from the checkout
/// row alone: the sale must be of that open checkout's kind, price and currency, and its
/// subscription is the checkout's fan's to the checkout's creator. A sale that does not
/// match (or pays a checkout already paid, closed or unknown) grants and records nothing; it
/// is refused and logged for an operator to refund.
async fn bind_sale(
    conn: &mut sqlx::PgConnection,
    mut events: Vec<Event>,
) -> Result<Vec<Event>, sqlx::Error> {
    let Some(paid) = events.iter().find_map(|e| match e {
        Event::CheckoutPaid(c) => Some(c.clone()),
        _ => None,
    }) else {
        return Ok(events);
    };
    let checkout = match paid.checkout {
        Some(id) => db::checkout_for_update(conn, Provider::Ccbill, Some(id), &paid.session_id)
            .await?
            .filter(|c| c.id.0 == id),
        None => None,
    };
    let Some(checkout) = checkout else {
        tracing::error!(sale = %paid.session_id, "a CCBill sale naming no checkout of ours; nothing granted, refund it");
        return Ok(Vec::new());
    };
    let recurring = events.iter().find_map(|e| match e {
        Event::Subscription(s) => Some((s.price_minor, s.currency.clone())),
        _ => None,
    });
    let mut problems = Vec::new();
    if !matches!(
        checkout.status,
        CheckoutStatus::Open | CheckoutStatus::Failed
    ) {
        problems.push(format!("its checkout is {}", checkout.status));
    }
    if recurring.is_some() != (checkout.kind == CheckoutKind::Subscription) {
        problems.push(format!("a {} checkout paid as another kind", checkout.kind));
    }
    if crate::money::Money::new(paid.amount_minor, paid.currency.clone()) != checkout.amount() {
        problems.push(format!(
            "paid {} {} for {}",
            paid.amount_minor,
            paid.currency,
            checkout.amount().text()
        ));
    }
    if let Some((price, currency)) = &recurring
        && (*price != Some(i64::from(checkout.amount_minor))
            || currency.as_deref() != Some(checkout.currency.as_str()))
    {
        problems.push("renews at a price other than the checkout's".to_owned());
    }
    if !problems.is_empty() {
        let reason = problems.join("; ");
        tracing::error!(checkout = %checkout.id, sale = %paid.session_id, %reason,
            "a CCBill sale that does not match its checkout; nothing granted (a subscription is canceled at CCBill), refund it");
        if matches!(
            checkout.status,
            CheckoutStatus::Open | CheckoutStatus::Failed
        ) {
            db::refuse_checkout(conn, checkout.id, &paid.session_id, &reason).await?;
        }
        // A recurring sale would bill the fan again: it is canceled at CCBill.
        if recurring.is_some() {
            jobs::enqueue(
                &mut *conn,
                &super::jobs::CancelUngranted {
                    subscription: paid.session_id.clone(),
                },
            )
            .await?;
        }
        return Ok(Vec::new());
    }
    for e in &mut events {
        if let Event::Subscription(s) = e {
            s.fan = Some(checkout.fan_id);
            s.creator = Some(checkout.creator_id);
        }
    }
    Ok(events)
}

/// Money the platform holds for `creator` grew (or a transfer of it was recorded): once
/// their account can be paid out, a transfer job is queued (one at a time per creator).
async fn owed_grew(
    conn: &mut sqlx::PgConnection,
    provider: Provider,
    creator_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    if db::payout_account(conn, creator_id, provider)
        .await?
        .is_some_and(|a| a.payouts_enabled)
    {
        jobs::enqueue(
            &mut *conn,
            &super::jobs::TransferOwed {
                creator_id,
                provider,
            },
        )
        .await?;
    }
    Ok(())
}

/// A refund (cumulative amount over the payment) or a dispute: a negative entry for what
/// went back, and the access it paid for withdrawn (for refunds, once fully refunded).
async fn reverse(
    conn: &mut sqlx::PgConnection,
    provider: Provider,
    fee_percent: u8,
    r: &Reversal,
    at: chrono::DateTime<Utc>,
    refund: bool,
) -> Result<(), Wait> {
    let ids: Vec<String> = [r.charge.clone(), r.payment_intent.clone()]
        .into_iter()
        .flatten()
        .collect();
    let mut found = db::paid_entry(conn, provider, &ids).await?;
    if found.is_none()
        && let Some(sub) = &r.subscription
    {
        found = db::latest_paid_of_subscription(conn, provider, sub).await?;
    }
    let Some(paid) = found else {
        return Err(Wait::NotYet(format!("payment {ids:?} not recorded yet")));
    };
    let (amount, source) = if refund && r.cumulative {
        // Refund events carry the total refunded so far: record only what is new (an older
        // event arriving late adds nothing).
        (
            r.amount_minor - paid.refunded_minor,
            format!("{}:{}", r.id, r.amount_minor),
        )
    } else if !r.cumulative {
        // This reversal's own amount, never more than what is left of the payment.
        (
            r.amount_minor
                .min(paid.gross_minor - paid.refunded_minor)
                .max(0),
            r.id.clone(),
        )
    } else {
        (r.amount_minor, r.id.clone())
    };
    if amount > 0 {
        let gross = -amount.min(paid.gross_minor);
        // The platform gives back its part of what goes back.
        let fee = if paid.gross_minor > 0 {
            -platform_fee(-gross, fee_percent)
        } else {
            0
        };
        db::append(
            conn,
            &Entry {
                creator_id: paid.creator_id,
                kind: if refund {
                    EntryKind::Refund
                } else {
                    EntryKind::Dispute
                },
                provider,
                source_id: &source,
                payment_id: Some(&paid.payment_id),
                fan_id: paid.fan_id,
                post_id: paid.post_id,
                subscription_id: paid.subscription_id,
                currency: &paid.currency,
                gross_minor: gross,
                platform_fee_minor: fee,
                held: paid.held,
                occurred_at: at,
            },
        )
        .await?;
    }
    let fully_refunded = if r.cumulative {
        r.amount_minor >= paid.gross_minor
    } else {
        paid.refunded_minor + r.amount_minor >= paid.gross_minor
    };
    if !refund || fully_refunded {
        db::withdraw(
            conn,
            provider,
            &paid,
            if refund {
                PaymentStatus::Refunded
            } else {
                PaymentStatus::Disputed
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_half_away_from_zero_and_mirror_for_reversals() {
        assert_eq!(platform_fee(999, 20), 200);
        assert_eq!(platform_fee(1000, 20), 200);
        assert_eq!(platform_fee(1002, 20), 200);
        assert_eq!(platform_fee(1003, 20), 201);
        assert_eq!(platform_fee(-1003, 20), -201);
        assert_eq!(platform_fee(0, 20), 0);
        assert_eq!(platform_fee(12_345, 0), 0);
        assert_eq!(platform_fee(12_345, 100), 12_345);
    }
}
