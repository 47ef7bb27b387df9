//! Creators get paid what the platform holds for them (ADR 0020): money earned before their
//! payout account was ready is transferred once it can be paid out, exactly once, through
//! the rail's events; subscriptions made before are moved onto their account, so renewals
//! pay the creator. On Stripe (its API the local fake) and on the simulated rail.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zinovia::accounts::Role;

use crate::billing::{
    StripeScene, click, clock, count, deliver, event, invoice, simulated_app, start, stripe_scene,
    stripe_subscription_checkout, subscription,
};
use crate::helpers::{Member, TestApp, call, creator, member};

/// The creator's balances as the earnings API answers them.
async fn balances(app: &TestApp, c: &Member) -> Value {
    let (status, earnings) = call(
        app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{earnings}");
    earnings["balances"].clone()
}

fn usd(earned: i64, paid: i64, owed: i64) -> Value {
    json!([{"currency": "USD", "earned_minor": earned, "paid_to_account_minor": paid, "paid_out_minor": 0, "owed_minor": owed}])
}

/// The scene's creator starts onboarding (their account, from the fake), and Stripe says
/// it can take charges and be paid out (`account.updated` as `event_id`). Answers the
/// account.
async fn onboard(scene: &StripeScene, event_id: &str) -> String {
    crate::helpers::with_second_factor(&scene.app, &scene.c.token).await;
    let (status, payouts) = call(
        &scene.app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&scene.c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{payouts}");
    let account = payouts["account_id"].as_str().unwrap().to_owned();
    account_ready(scene, &account, event_id).await;
    account
}

async fn account_ready(scene: &StripeScene, account: &str, event_id: &str) {
    let ready = json!({"id": account, "object": "account", "charges_enabled": true,
                       "payouts_enabled": true, "details_submitted": true});
    deliver(
        &scene.app,
        &event(event_id, "account.updated", Utc::now().timestamp(), ready),
    )
    .await;
}

/// Before onboarding, on the Stripe scene: the fan subscribes (first invoice 9.99) and the
/// other fan buys the pay-per-view post (15.00), both paid to the platform. Answers what
/// the creator is owed (after the 20 % fee).
async fn sell_before_onboarding(scene: &StripeScene) -> i64 {
    let StripeScene {
        fake,
        app,
        c,
        fan,
        other,
        ppv,
        ..
    } = scene;
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    stripe_subscription_checkout(scene, fan).await;
    let session = fake.calls_to("/v1/checkout/sessions").pop().unwrap();
    assert_eq!(
        session.get("subscription_data[transfer_data][destination]"),
        None
    );
    let mut sub = subscription("sub_early", "active", fan, c, end);
    sub["transfer_data"] = Value::Null;
    deliver(
        app,
        &event("evt_sub_1", "customer.subscription.created", now, sub),
    )
    .await;
    let mut first = invoice("in_early_1", "sub_early", "ch_early_1", 999, end);
    first["transfer_data"] = Value::Null;
    deliver(app, &event("evt_inv_1", "invoice.paid", now, first)).await;

    let (status, started) = start(app, other, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let session = fake.calls_to("/v1/checkout/sessions").pop().unwrap();
    assert_eq!(
        session.get("payment_intent_data[transfer_data][destination]"),
        None
    );
    let paid = json!({"id": "cs_early_ppv", "object": "checkout.session",
                      "client_reference_id": started["checkout_id"], "customer": "cus_other",
                      "payment_intent": "pi_early", "payment_status": "paid", "status": "complete",
                      "mode": "payment", "amount_total": 1500, "currency": "usd"});
    deliver(
        app,
        &event("evt_ppv_1", "checkout.session.completed", now, paid),
    )
    .await;
    (999 - 200) + (1500 - 300)
}

#[tokio::test]
async fn on_stripe_what_was_earned_before_onboarding_is_transferred_once_and_renewals_then_pay_the_creator()
 {
    let scene = stripe_scene().await;
    let StripeScene {
        fake, app, c, fan, ..
    } = &scene;
    let db = &app.state.db;
    let owed = sell_before_onboarding(&scene).await;
    assert_eq!(balances(app, c).await, usd(owed, 0, owed));
    assert!(fake.calls_to("/v1/transfers").is_empty(), "no account yet");

    // Onboarding finishes: one transfer of exactly what is owed; the early subscription is
    // moved onto the creator's account with the platform's fee.
    let account = onboard(&scene, "evt_acct_1").await;
    let transfers = fake.calls_to("/v1/transfers");
    assert_eq!(transfers.len(), 1);
    let t = &transfers[0];
    let owed_text = owed.to_string();
    assert_eq!(
        (t.get("amount"), t.get("currency"), t.get("destination")),
        (
            Some(owed_text.as_str()),
            Some("usd"),
            Some(account.as_str())
        )
    );
    let ours = t.get("metadata[transfer_id]").unwrap().to_owned();
    assert_eq!(t.idempotency, format!("transfer-{ours}"));
    let c_id = c.id.to_string();
    assert_eq!(t.get("metadata[creator_id]"), Some(c_id.as_str()));
    let route = fake.calls_to("/v1/subscriptions/sub_early");
    assert_eq!(route.len(), 1);
    assert_eq!(
        route[0].get("transfer_data[destination]"),
        Some(account.as_str())
    );
    assert_eq!(route[0].get("application_fee_percent"), Some("20"));
    assert_eq!(route[0].idempotency, format!("route-sub_early-{account}"));

    // Stripe saying the account is ready again changes nothing while the transfer is on its
    // way; its event, delivered again and under another event id, is recorded once.
    account_ready(&scene, &account, "evt_acct_2").await;
    assert_eq!(fake.calls_to("/v1/transfers").len(), 1);
    let made: String = sqlx::query_scalar(
        "select transfer_id from creator_transfers where id = $1::uuid and status = 'sent'",
    )
    .bind(&ours)
    .fetch_one(db)
    .await
    .unwrap();
    let transfer = json!({"id": made, "object": "transfer", "amount": owed, "currency": "usd",
                          "destination": account, "metadata": {"transfer_id": ours, "creator_id": c_id}});
    let now = Utc::now().timestamp();
    for id in ["evt_tr_1", "evt_tr_1", "evt_tr_2"] {
        deliver(app, &event(id, "transfer.created", now, transfer.clone())).await;
    }
    assert_eq!(
        count(
            db,
            "select count(*) from ledger_entries where kind = 'transfer'"
        )
        .await,
        1
    );
    assert_eq!(balances(app, c).await, usd(owed, owed, 0));
    account_ready(&scene, &account, "evt_acct_3").await;
    assert_eq!(
        fake.calls_to("/v1/transfers").len(),
        1,
        "nothing more is owed"
    );

    // Stripe confirms the move; the next renewal's invoice pays the creator's account: not
    // held, nothing to transfer.
    let end = now + 60 * 86400;
    let mut moved = subscription("sub_early", "active", fan, c, end);
    moved["transfer_data"] = json!({"destination": account});
    deliver(
        app,
        &event("evt_sub_2", "customer.subscription.updated", now + 1, moved),
    )
    .await;
    let mut renewal = invoice("in_early_2", "sub_early", "ch_early_2", 999, end);
    renewal["transfer_data"] = json!({"destination": account, "amount": null});
    deliver(app, &event("evt_inv_2", "invoice.paid", now + 2, renewal)).await;
    assert_eq!(
        balances(app, c).await,
        usd(owed + 799, owed + 799, 0),
        "the renewal paid the creator's account"
    );
    assert_eq!(fake.calls_to("/v1/transfers").len(), 1);
    // A renewal whose invoice does not say where it went follows its subscription's account.
    let mut unstated = invoice("in_early_3", "sub_early", "ch_early_3", 999, end + 86400);
    unstated.as_object_mut().unwrap().remove("transfer_data");
    deliver(app, &event("evt_inv_3", "invoice.paid", now + 3, unstated)).await;
    assert_eq!(
        balances(app, c).await,
        usd(owed + 2 * 799, owed + 2 * 799, 0)
    );
}

#[tokio::test]
async fn on_stripe_a_refused_transfer_is_not_made_and_is_asked_again_later_under_a_new_key() {
    let scene = stripe_scene().await;
    let StripeScene { fake, app, c, .. } = &scene;
    let db = &app.state.db;
    let owed = sell_before_onboarding(&scene).await;
    // The platform's balance is short: Stripe refuses every try of the job (each a new
    // decision under a new key), nothing is recorded as sent, what is owed stays owed.
    fake.refuse_transfers(true);
    let account = onboard(&scene, "evt_acct_1").await;
    let refused = fake.calls_to("/v1/transfers");
    assert!(!refused.is_empty());
    let keys: std::collections::HashSet<&str> =
        refused.iter().map(|c| c.idempotency.as_str()).collect();
    assert_eq!(
        keys.len(),
        refused.len(),
        "a refused transfer is not asked again"
    );
    assert_eq!(count(db, "select count(*) from creator_transfers").await, 0);
    assert_eq!(balances(app, c).await, usd(owed, 0, owed));
    // Once Stripe accepts, the next decision makes one transfer of what is owed.
    fake.refuse_transfers(false);
    account_ready(&scene, &account, "evt_acct_2").await;
    let transfers = fake.calls_to("/v1/transfers");
    assert_eq!(transfers.len(), refused.len() + 1);
    let last = transfers.last().unwrap();
    assert!(!keys.contains(last.idempotency.as_str()));
    let owed_text = owed.to_string();
    assert_eq!(last.get("amount"), Some(owed_text.as_str()));
    assert_eq!(
        count(
            db,
            "select count(*) from creator_transfers where status = 'sent'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn on_the_simulated_rail_earnings_before_onboarding_are_transferred_and_renewals_pay_the_creator()
 {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "sim_early").await;
    let fan = member(&app, Role::Fan).await;
    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "sim_early"}),
    )
    .await;
    click(&app, &fan, &checkout, "pay").await;
    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "tip", "creator": "sim_early", "amount_minor": 500}),
    )
    .await;
    click(&app, &fan, &checkout, "pay").await;
    // 9.99 and 5.00 less the 10 % fee, held by the platform.
    let owed = (999 - 100) + (500 - 50);
    assert_eq!(balances(&app, &c).await, usd(owed, 0, owed));

    // Onboarding on the simulated rail is immediate: the transfer and the move follow
    // through its signed events.
    crate::helpers::with_second_factor(&app, &c.token).await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(balances(&app, &c).await, usd(owed, owed, 0));
    let routed: Option<String> =
        sqlx::query_scalar("select destination from subscriptions where fan_id = $1")
            .bind(fan.id)
            .fetch_one(db)
            .await
            .unwrap();
    assert!(routed.is_some_and(|a| a.starts_with("acct_sim_")));

    // A month passes: the renewal pays the creator's account; nothing is held.
    let (status, passed) = clock(&app, Some(&fan), json!(31)).await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(balances(&app, &c).await, usd(owed + 899, owed + 899, 0));
    assert_eq!(
        count(
            db,
            "select count(*) from ledger_entries where kind = 'transfer'"
        )
        .await,
        1
    );
    // A later sale goes to the account directly.
    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "tip", "creator": "sim_early", "amount_minor": 1000}),
    )
    .await;
    click(&app, &fan, &checkout, "pay").await;
    assert_eq!(
        balances(&app, &c).await,
        usd(owed + 899 + 900, owed + 899 + 900, 0)
    );
}

#[tokio::test]
async fn on_stripe_a_transfer_whose_outcome_is_unknown_is_asked_again_under_its_key_for_a_day_only()
{
    let scene = stripe_scene().await;
    let StripeScene { fake, app, .. } = &scene;
    let db = &app.state.db;
    sell_before_onboarding(&scene).await;
    // Stripe fails in a way that may hide a transfer made: every try asks again under the
    // same key, and the transfer stays written.
    fake.fail_transfers(500);
    let account = onboard(&scene, "evt_acct_1").await;
    let tries = fake.calls_to("/v1/transfers");
    assert!(tries.len() > 1, "retried");
    assert!(tries.iter().all(|c| c.idempotency == tries[0].idempotency));
    assert_eq!(
        count(
            db,
            "select count(*) from creator_transfers where status = 'requested'"
        )
        .await,
        1
    );
    // A day later Stripe has forgotten the key: the job no longer asks; an operator checks.
    sqlx::query("update creator_transfers set created_at = now() - interval '25 hours'")
        .execute(db)
        .await
        .unwrap();
    fake.fail_transfers(0);
    account_ready(&scene, &account, "evt_acct_2").await;
    assert_eq!(fake.calls_to("/v1/transfers").len(), tries.len());
    assert_eq!(
        count(
            db,
            "select count(*) from creator_transfers where status = 'requested'"
        )
        .await,
        1
    );
}
