//! Fans managing subscriptions (cancel at the period's end, the rail's card portal) and
//! creators onboarding for payouts (ADR 0014: Connect accounts with controller properties).

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::stripe::{Form, Stripe, StripeError, field};
use super::types::{Provider, SubscriptionStatus};
use crate::accounts::User;
use crate::error::AppError;
use crate::jobs::JobError;
use crate::state::AppState;

pub(super) fn stripe(state: &AppState) -> Result<Stripe, AppError> {
    let b = &state.settings.billing;
    Stripe::new(b.stripe_api_base.clone(), b.stripe_secret_key.as_ref())
        .map_err(|e| AppError::Internal(e.into()))
}

fn refused(e: StripeError) -> AppError {
    tracing::error!(error = %e, "a Stripe call failed");
    AppError::Unavailable
}

/// Cancels the fan's subscription to `creator` at the end of the paid period (access lasts
/// until then), each on the rail it was made on. The rail confirms with a subscription
/// event, which updates our row.
pub async fn cancel(state: &AppState, fan: &User, handle: &str) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    let creator = match crate::creators::find(&mut conn, handle).await? {
        crate::creators::Found::Creator(c) => c,
        crate::creators::Found::MovedTo(_) => return Err(AppError::NotFound),
    };
    let subs = super::db::live_subscriptions(&mut conn, fan.id.0, creator.user_id).await?;
    if subs.is_empty() {
        return Err(AppError::NotFound);
    }
    drop(conn);
    // Each request is its own action with its own idempotency key: Stripe answers a reused
    // key with the first answer for 24 hours, so a second cancel (after the fan resumed in
    // the portal) under the first one's key would silently change nothing.
    let action = Uuid::now_v7();
    for sub in subs {
        match sub.provider {
            Provider::Stripe => {
                let mut f = Form::new();
                field(&mut f, "cancel_at_period_end", "true");
                stripe(state)?
                    .post(
                        &format!("/v1/subscriptions/{}", sub.provider_subscription_id),
                        &format!("cancel-{}-{}", sub.provider_subscription_id, action),
                        &f,
                    )
                    .await
                    .map_err(refused)?;
            }
            Provider::Ccbill => {
                match super::ccbill::cancel(&state.settings.billing, &sub.provider_subscription_id)
                    .await
                {
                    // Gone at CCBill already: nothing left to renew.
                    Ok(()) | Err(super::ccbill::DataLinkError::Refused(-3)) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "a CCBill cancel failed");
                        return Err(AppError::Unavailable);
                    }
                }
            }
            Provider::Simulated => {
                let object = simulated_subscription(&sub, sub.status, true, sub.current_period_end);
                super::simulated::deliver(
                    state,
                    Utc::now().timestamp(),
                    vec![("customer.subscription.updated", object)],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// A simulated subscription object as the rail would send it.
pub(super) fn simulated_subscription(
    sub: &super::db::LiveSubscription,
    status: SubscriptionStatus,
    cancel_at_period_end: bool,
    period_end: chrono::DateTime<Utc>,
) -> serde_json::Value {
    json!({"id": sub.provider_subscription_id, "object": "subscription", "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "transfer_data": sub.destination.as_ref().map(|d| json!({"destination": d})),
        "metadata": {"fan_id": sub.fan_id.to_string(), "creator_id": sub.creator_id.to_string()},
        "items": {"object": "list", "data": [{"current_period_end": period_end.timestamp(),
            "price": {"unit_amount": sub.price_minor, "currency": sub.currency.as_deref().map(str::to_ascii_lowercase)}}]}})
}

/// Cancels a subscription at its rail at once (no further charge): an account in it was
/// closed. The rail's `customer.subscription.deleted` event then ends our row through the
/// webhook path, on both rails. Idempotent: an ended subscription is left alone.
pub(super) async fn end_now(state: &AppState, id: Uuid) -> Result<(), JobError> {
    let mut conn = state.db.acquire().await.map_err(JobError::retry)?;
    let Some(sub) = super::db::subscription(&mut conn, id)
        .await
        .map_err(JobError::retry)?
    else {
        return Ok(());
    };
    drop(conn);
    if !sub.status.billable() {
        return Ok(());
    }
    match sub.provider {
        Provider::Stripe => {
            let stripe = stripe(state).map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
            let path = format!("/v1/subscriptions/{}", sub.provider_subscription_id);
            unless_gone(stripe.delete(&path).await, &sub.provider_subscription_id)?;
        }
        Provider::Ccbill => {
            match super::ccbill::cancel(&state.settings.billing, &sub.provider_subscription_id)
                .await
            {
                Ok(()) => {}
                // No such subscription at CCBill (any more): nothing left to bill.
                Err(super::ccbill::DataLinkError::Refused(-3)) => {
                    tracing::warn!(subscription = %sub.provider_subscription_id, "CCBill no longer knows this subscription");
                }
                Err(e) => return Err(JobError::Retry(e.into())),
            }
        }
        Provider::Simulated => {
            let now = Utc::now();
            let object = simulated_subscription(&sub, SubscriptionStatus::Canceled, false, now);
            super::simulated::deliver(
                state,
                now.timestamp(),
                vec![("customer.subscription.deleted", object)],
            )
            .await
            .map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
        }
    }
    tracing::info!(subscription = %sub.provider_subscription_id, rail = %sub.provider, "subscription canceled at the rail (account closed)");
    Ok(())
}

/// The outcome of a Stripe call about a subscription in a job: a 404 means Stripe no longer
/// knows it (it ended), so there is nothing left to bill or move; other failures retry.
pub(super) fn unless_gone(
    outcome: Result<serde_json::Value, StripeError>,
    subscription: &str,
) -> Result<(), JobError> {
    match outcome {
        Ok(_) => Ok(()),
        Err(StripeError::Refused { status: 404, .. }) => {
            tracing::warn!(subscription, "Stripe no longer knows this subscription");
            Ok(())
        }
        Err(e) => Err(JobError::Retry(e.into())),
    }
}

/// Expires an open Stripe Checkout Session, so nobody can pay it any more (its checkout was
/// closed by us). Stripe refuses to expire a session that is no longer open, which is the
/// outcome wanted anyway.
pub(super) async fn expire_session(state: &AppState, session: &str) -> Result<(), JobError> {
    let stripe = stripe(state).map_err(|e| JobError::Retry(anyhow::anyhow!("{e}")))?;
    match stripe
        .post(
            &format!("/v1/checkout/sessions/{session}/expire"),
            &format!("expire-{session}"),
            &Form::new(),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(StripeError::Refused {
            status: 400 | 404, ..
        }) => {
            tracing::info!(session, "checkout session was no longer open at Stripe");
            Ok(())
        }
        Err(e) => Err(JobError::Retry(e.into())),
    }
}

/// Where the fan manages cards and invoices (Stripe's customer portal).
pub async fn portal(state: &AppState, fan: &User) -> Result<String, AppError> {
    if !state.settings.billing.enabled(Provider::Stripe) {
        return Err(AppError::Conflict(
            "there are no saved cards to manage on this platform's payment rails".into(),
        ));
    }
    let mut conn = state.db.acquire().await?;
    let customer = super::db::customer_of(&mut conn, fan.id.0, Provider::Stripe)
        .await?
        .ok_or_else(|| AppError::Conflict("you have not paid anything yet".into()))?;
    let mut f = Form::new();
    field(&mut f, "customer", &customer);
    field(&mut f, "return_url", state.settings.link("/account"));
    let (_, url) = stripe(state)?
        .create(
            "/v1/billing_portal/sessions",
            &format!("portal-{}-{}", fan.id.0, Uuid::now_v7()),
            &f,
        )
        .await
        .map_err(refused)?;
    url.ok_or_else(|| AppError::Internal(anyhow::anyhow!("a portal session without a URL")))
}

/// Where a creator's payout onboarding stands on the rail that pays creators into their own
/// account (`None`: not started, or no such rail).
pub async fn payout_status(
    state: &AppState,
    creator: Uuid,
) -> Result<Option<super::db::PayoutAccount>, AppError> {
    let Some(provider) = state.settings.billing.connect_rail() else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    Ok(super::db::payout_account(&mut conn, creator, provider).await?)
}

/// A creator's payout onboarding.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payouts {
    /// The rail's account.
    pub account_id: String,
    /// May take charges (fans' money is routed to it).
    pub charges_enabled: bool,
    /// May be paid out.
    pub payouts_enabled: bool,
    /// Onboarding submitted.
    pub details_submitted: bool,
    /// Where to go to finish onboarding (absent once payouts are enabled).
    pub onboarding_url: Option<String>,
}

/// Starts or continues a creator's onboarding: creates their connected account once, and
/// answers where to finish it. On the simulated rail the account is enabled at once (by a
/// signed `account.updated`, as Stripe would send). Only from a session signed in with a
/// second factor: where money goes is what an account thief changes first.
pub async fn onboard(
    state: &AppState,
    who: &crate::accounts::Authenticated,
) -> Result<Payouts, AppError> {
    let creator = &who.user;
    let provider = state.settings.billing.connect_rail().ok_or_else(|| {
        AppError::Conflict("no payment rail pays creators into an account of theirs".into())
    })?;
    let mut conn = state.db.acquire().await?;
    if crate::creators::by_user(&mut *conn, creator.id.0)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    if !who.second_factor {
        return Err(AppError::SecondFactorRequired);
    }
    if !crate::verification::may_sell(state, creator.id.0).await? {
        return Err(AppError::Conflict(
            crate::verification::NOT_VERIFIED_PAYOUTS.into(),
        ));
    }
    let existing = super::db::payout_account(&mut conn, creator.id.0, provider).await?;
    let account = match (&existing, provider) {
        (Some(a), _) => a.account_id.clone(),
        (None, Provider::Stripe) => {
            let mut f = Form::new();
            field(&mut f, "email", &creator.email);
            field(&mut f, "controller[stripe_dashboard][type]", "express");
            field(&mut f, "controller[fees][payer]", "application");
            field(&mut f, "controller[losses][payments]", "application");
            field(&mut f, "controller[requirement_collection]", "stripe");
            field(&mut f, "capabilities[transfers][requested]", "true");
            field(&mut f, "metadata[creator_id]", creator.id.0);
            let (id, _) = stripe(state)?
                .create("/v1/accounts", &format!("account-{}", creator.id.0), &f)
                .await
                .map_err(refused)?;
            super::db::save_payout_account(&mut conn, creator.id.0, provider, &id).await?;
            id
        }
        // Not a connect rail (`connect_rail` never answers it).
        (None, Provider::Ccbill) => return Err(AppError::NotFound),
        (None, Provider::Simulated) => {
            let id = format!("acct_sim_{}", creator.id.0.simple());
            super::db::save_payout_account(&mut conn, creator.id.0, provider, &id).await?;
            let object = json!({"id": id, "object": "account", "charges_enabled": true,
                                "payouts_enabled": true, "details_submitted": true});
            super::simulated::deliver(
                state,
                Utc::now().timestamp(),
                vec![("account.updated", object)],
            )
            .await?;
            id
        }
    };
    let (charges, payouts, submitted) = existing.map_or((false, false, false), |a| {
        (a.charges_enabled, a.payouts_enabled, a.details_submitted)
    });
    let onboarding_url = match provider {
        Provider::Stripe if !payouts => {
            let mut f = Form::new();
            field(&mut f, "account", &account);
            field(&mut f, "type", "account_onboarding");
            field(
                &mut f,
                "refresh_url",
                state.settings.link("/account?payouts=refresh"),
            );
            field(
                &mut f,
                "return_url",
                state.settings.link("/account?payouts=return"),
            );
            // An account link has no id, only its one-time URL.
            let link = stripe(state)?
                .post(
                    "/v1/account_links",
                    &format!("account-link-{account}-{}", Uuid::now_v7()),
                    &f,
                )
                .await
                .map_err(refused)?;
            link["url"].as_str().map(str::to_owned)
        }
        _ => None,
    };
    Ok(Payouts {
        account_id: account,
        charges_enabled: charges,
        payouts_enabled: payouts,
        details_submitted: submitted,
        onboarding_url,
    })
}
