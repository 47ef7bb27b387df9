//! Several payment rails at once (`PAYMENT_PROVIDERS`): fans choose how to pay, each
//! subscription renews and is canceled on the rail it was made on, and changing the default
//! rail loses no subscriber.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;
use zinovia::accounts::Role;
use zinovia::billing::Provider;
use zinovia::config::Settings;

use crate::billing::{
    SECRET, click, count, deliver, event, invoice, locked_post, sees, start, subscription,
};
use crate::helpers::{FakeStripe, TestApp, TestDb, call, creator, member};

fn both_rails(s: &mut Settings, stripe: &str, rails: Vec<Provider>) {
    s.billing.payment_providers = rails;
    s.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
    s.billing.stripe_secret_key = Some("sk_test_zinovia".to_owned().into());
    s.billing.stripe_api_base = stripe.parse().unwrap();
    s.billing.platform_fee_percent = 20;
}

#[tokio::test]
async fn with_two_rails_fans_choose_each_unlocks_and_each_rail_renews_its_own_subscriptions() {
    let fake = FakeStripe::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_with(|s| {
        both_rails(s, &base, vec![Provider::Simulated, Provider::Stripe]);
    })
    .await;
    let db = &app.state.db;
    let c = creator(&app, "two_rails").await;
    let sim_fan = member(&app, Role::Fan).await;
    let card_fan = member(&app, Role::Fan).await;
    let post = locked_post(&app, &c, "subscribers").await;

    // No choice: the default (first) rail. A choice: that rail. A rail not offered: refused
    // by field, nothing recorded.
    let (status, on_sim) = start(
        &app,
        &sim_fan,
        json!({"kind": "subscription", "creator": "two_rails"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{on_sim}");
    assert_eq!(on_sim["provider"], "simulated");
    click(&app, &sim_fan, &on_sim, "pay").await;
    for bad in ["paypal", "STRIPE"] {
        let (status, body) = start(
            &app,
            &card_fan,
            json!({"kind": "subscription", "creator": "two_rails", "provider": bad}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            body["error"]["fields"]["provider"][0], "must be one of: simulated, stripe",
            "{body}"
        );
    }
    assert_eq!(
        count(
            db,
            "select count(*) from checkouts where provider = 'stripe'"
        )
        .await,
        0
    );
    let (status, on_card) = start(
        &app,
        &card_fan,
        json!({"kind": "subscription", "creator": "two_rails", "provider": "stripe"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{on_card}");
    assert_eq!(on_card["provider"], "stripe");
    assert!(
        on_card["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    deliver(
        &app,
        &event(
            "evt_two_1",
            "customer.subscription.created",
            now,
            subscription("sub_two", "active", &card_fan, &c, end),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_two_2",
            "invoice.paid",
            now,
            invoice("in_two_1", "sub_two", "ch_two_1", 999, end),
        ),
    )
    .await;
    assert!(sees(&app, "two_rails", &sim_fan, &post).await);
    assert!(sees(&app, "two_rails", &card_fan, &post).await);
    // The creator's earnings are the ledger's sum across the rails.
    let (_, earnings) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&c.token),
        None,
    )
    .await;
    let ledger_sum: i64 = sqlx::query_scalar(
        "select sum(net_minor)::bigint from ledger_entries where creator_id = $1",
    )
    .bind(c.id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(ledger_sum, 2 * (999 - 200));
    assert_eq!(earnings["balances"][0]["earned_minor"], json!(ledger_sum));
    assert_eq!(
        count(db, "select count(distinct provider) from ledger_entries").await,
        2
    );

    // Cancelling reaches each subscription's own rail: Stripe is asked for the card fan's.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/subscriptions/two_rails/cancel",
        Some(&card_fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let canceled = fake.calls_to("/v1/subscriptions/sub_two");
    assert_eq!(canceled.len(), 1);
    assert_eq!(canceled[0].get("cancel_at_period_end"), Some("true"));

    // The operator makes Stripe the default: the same database, the rails listed the other
    // way round. The simulated rail's subscriber keeps access, and its renewal (the test
    // clock, on the rail it was made on) still extends it; Stripe's renewal extends the card
    // fan's.
    let swapped = TestApp::spawn_on_pool(TestDb::new().await, db.clone(), |s| {
        both_rails(s, &base, vec![Provider::Stripe, Provider::Simulated]);
    })
    .await;
    assert!(sees(&swapped, "two_rails", &sim_fan, &post).await);
    let (status, started) = start(
        &swapped,
        &member(&swapped, Role::Fan).await,
        json!({"kind": "tip", "creator": "two_rails", "amount_minor": 500}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(started["provider"], "stripe", "the new default");
    let period_end = |provider: &'static str| async move {
        sqlx::query_scalar::<_, chrono::DateTime<Utc>>(
            "select current_period_end from subscriptions where provider = $1",
        )
        .bind(provider)
        .fetch_one(db)
        .await
        .unwrap()
    };
    let sim_end = period_end("simulated").await;
    let (status, passed) = call(
        &swapped,
        Method::POST,
        "/api/v1/billing/simulated/clock",
        Some(&sim_fan.token),
        Some(json!({"days": 31})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    swapped.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(passed["renewed"], 1, "{passed}");
    assert!(period_end("simulated").await > sim_end);
    let next = end + 30 * 86400;
    deliver(
        &swapped,
        &event(
            "evt_two_3",
            "invoice.paid",
            now + 1,
            invoice("in_two_2", "sub_two", "ch_two_2", 999, next),
        ),
    )
    .await;
    assert_eq!(period_end("stripe").await.timestamp(), next);
    assert!(sees(&swapped, "two_rails", &sim_fan, &post).await);
    assert!(sees(&swapped, "two_rails", &card_fan, &post).await);
}

#[tokio::test]
async fn with_two_rails_the_pages_ask_how_to_pay_and_send_the_fan_to_the_rail_chosen() {
    use crate::pages::{page, post_form, signed_up_browser};
    let fake = FakeStripe::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_with(|s| {
        both_rails(s, &base, vec![Provider::Simulated, Provider::Stripe]);
    })
    .await;
    creator(&app, "two_pages").await;
    let (b, csrf) = signed_up_browser(&app, &crate::helpers::unique_email("chooser")).await;
    // The subscribe button leads to the choice, nothing recorded yet.
    let subscribe = [
        ("csrf_token", csrf.as_str()),
        ("kind", "subscription"),
        ("creator", "two_pages"),
    ];
    let r = post_form(&b, &app, "/checkout", &subscribe).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Choose how to pay"), "{html}");
    for (value, label) in [
        ("simulated", "Test payment (nobody is charged)"),
        ("stripe", "Card (Stripe)"),
    ] {
        assert!(
            html.contains(&format!("name=\"provider\" value=\"{value}\"")) && html.contains(label),
            "{html}"
        );
    }
    assert_eq!(
        count(&app.state.db, "select count(*) from checkouts").await,
        0
    );
    // Choosing Stripe sends the fan to Stripe's page; a rail not offered is explained.
    let mut chosen = subscribe.to_vec();
    chosen.push(("provider", "stripe"));
    let r = post_form(&b, &app, "/checkout", &chosen).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("https://checkout.stripe.com/"), "{to}");
    chosen.pop();
    chosen.push(("provider", "paypal"));
    let r = post_form(&b, &app, "/checkout", &chosen).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("provider: must be one of"));
    // The tip form offers the rails, the default checked.
    let (_, html) = page(&b, &app, "/checkout/tip/two_pages").await;
    assert!(
        html.contains("<legend>Pay with</legend>") && html.contains("value=\"simulated\" checked"),
        "{html}"
    );
}
