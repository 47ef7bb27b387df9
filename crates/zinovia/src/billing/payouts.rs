//! Paying creators what the platform holds for them (ADR 0020): transfers of held money to
//! their account at the rail once it can be paid out, and moving subscriptions made before
//! it could take charges onto it, so no renewal keeps paying the platform.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::db;
use super::stripe::{Form, StripeError, field};
use super::types::Provider;
use crate::jobs::JobError;
use crate::state::AppState;

/// Transfers what the platform holds for `creator` on `provider`, per currency, when their
/// account there can be paid out. The transfer is written first (one in flight per
/// currency), then asked of the rail under its own id as idempotency key; the rail's
/// `transfer.created` event records it in the ledger. A transfer a crash left unanswered is
/// asked again under the same key, so it is made once; the creator's account row stays
/// locked while the rail is asked, so two jobs never ask at once. Past Stripe's 24-hour
/// memory of a key (`STALE_AFTER`) an unanswered transfer is not asked again: an operator
/// checks Stripe first (runbooks/payments.md).
pub(super) async fn transfer_owed(
    state: &AppState,
    creator: Uuid,
    provider: Provider,
) -> Result<(), JobError> {
    if !state.settings.billing.splits(provider) {
        return Ok(()); // the platform pays creators of such a rail out itself
    }
    let mut tx = state.db.begin().await.map_err(JobError::retry)?;
    let Some(account) = db::payable_account_for_update(&mut tx, creator, provider)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    for owed in db::transferable(&mut tx, creator, provider)
        .await
        .map_err(JobError::retry)?
    {
        db::insert_transfer(&mut tx, creator, provider, &owed, &account)
            .await
            .map_err(JobError::retry)?;
    }
    tx.commit().await.map_err(JobError::retry)?;

    let mut conn = state.db.begin().await.map_err(JobError::retry)?;
    if db::payable_account_for_update(&mut conn, creator, provider)
        .await
        .map_err(JobError::retry)?
        .is_none()
    {
        return Ok(());
    }
    for t in db::requested_transfers(&mut conn, creator, provider)
        .await
        .map_err(JobError::retry)?
    {
        if t.created_at < Utc::now() - STALE_AFTER {
            tracing::error!(transfer = %t.id, %creator, rail = %provider,
                "a transfer unanswered for a day is not asked again: check the rail, then settle it by hand");
            continue;
        }
        let made = match provider {
            Provider::Stripe => {
                let stripe = super::manage::stripe(state)
                    .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                let mut f = Form::new();
                field(&mut f, "amount", t.amount_minor);
                field(&mut f, "currency", t.currency.to_ascii_lowercase());
                field(&mut f, "destination", &t.destination);
                field(&mut f, "description", "Earnings held by the platform");
                field(&mut f, "metadata[transfer_id]", t.id);
                field(&mut f, "metadata[creator_id]", creator);
                match stripe
                    .create("/v1/transfers", &format!("transfer-{}", t.id), &f)
                    .await
                {
                    Ok((id, _)) => id,
                    Err(StripeError::Refused {
                        status, message, ..
                    }) if (400..=404).contains(&status) => {
                        // Refused, so not made (the platform's balance is short, the account
                        // cannot receive): the transfer is dropped and decided again later,
                        // under a new key. (409, 429 and 5xx may hide a transfer made: those
                        // are asked again under the same key.)
                        db::drop_requested_transfer(&mut conn, t.id)
                            .await
                            .map_err(JobError::retry)?;
                        conn.commit().await.map_err(JobError::retry)?;
                        return Err(JobError::Retry(anyhow::anyhow!(
                            "Stripe refused a transfer of {} {} to {}: {message}",
                            t.amount_minor,
                            t.currency,
                            t.destination
                        )));
                    }
                    // Unknown outcome: asked again under the same key.
                    Err(e) => return Err(JobError::Retry(e.into())),
                }
            }
            Provider::Ccbill => return Ok(()),
            Provider::Simulated => {
                let id = format!("tr_sim_{}", t.id.simple());
                let object = json!({"id": id, "object": "transfer", "amount": t.amount_minor,
                    "currency": t.currency.to_ascii_lowercase(), "destination": t.destination,
                    "metadata": {"transfer_id": t.id.to_string(), "creator_id": creator.to_string()}});
                super::simulated::deliver(
                    state,
                    Utc::now().timestamp(),
                    vec![("transfer.created", object)],
                )
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                id
            }
        };
        db::transfer_sent(&mut conn, t.id, &made)
            .await
            .map_err(JobError::retry)?;
        tracing::info!(%creator, rail = %provider, transfer = %made, amount = t.amount_minor,
            currency = %t.currency, "held earnings transferred to the creator's account");
    }
    conn.commit().await.map_err(JobError::retry)?;
    Ok(())
}

/// How long an unanswered transfer is asked again under its key: less than the 24 hours
/// Stripe remembers idempotency keys.
const STALE_AFTER: chrono::Duration = chrono::Duration::hours(23);

/// Moves `creator`'s subscriptions on `provider` whose invoices do not pay their account
/// (made before it could take charges) onto it: from the next invoice on, the creator is
/// paid and the platform keeps its fee. The rail's subscription event then records where
/// the subscription pays.
pub(super) async fn route_subscriptions(
    state: &AppState,
    creator: Uuid,
    provider: Provider,
) -> Result<(), JobError> {
    if !state.settings.billing.splits(provider) {
        return Ok(());
    }
    let mut conn = state.db.acquire().await.map_err(JobError::retry)?;
    let Some(account) = db::payout_destination(&mut conn, creator, provider)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    let subs = db::unrouted_subscriptions(&mut conn, creator, provider, &account)
        .await
        .map_err(JobError::retry)?;
    drop(conn);
    let fee = state.settings.billing.platform_fee_percent;
    for sub in subs {
        match provider {
            Provider::Stripe => {
                let stripe = super::manage::stripe(state)
                    .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
                let mut f = Form::new();
                field(&mut f, "transfer_data[destination]", &account);
                field(&mut f, "application_fee_percent", fee);
                let id = &sub.provider_subscription_id;
                let moved = stripe
                    .post(
                        &format!("/v1/subscriptions/{id}"),
                        &format!("route-{id}-{account}"),
                        &f,
                    )
                    .await;
                super::manage::unless_gone(moved, id)?;
            }
            Provider::Ccbill => return Ok(()),
            Provider::Simulated => {
                let mut routed = sub.clone();
                routed.destination = Some(account.clone());
                let object = super::manage::simulated_subscription(
                    &routed,
                    sub.status,
                    sub.cancel_at_period_end,
                    sub.current_period_end,
                );
                super::simulated::deliver(
                    state,
                    Utc::now().timestamp(),
                    vec![("customer.subscription.updated", object)],
                )
                .await
                .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
            }
        }
        tracing::info!(subscription = %sub.provider_subscription_id, rail = %provider, %account,
            "subscription moved onto the creator's account");
    }
    Ok(())
}
