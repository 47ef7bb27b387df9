//! Payments: webhooks signed as Stripe signs them, delivered twice, out of order, forged or
//! stale; the ledger and the access they grant and take back.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use zinovia::accounts::Role;
use zinovia::billing::Provider;
use zinovia::billing::signature;
use zinovia::config::{Environment, Role as ConfigRole, Settings};

use crate::helpers::TestApp;
use crate::helpers::{FakeStripe, Member, call, creator, member, post, ready_photo};

pub const SECRET: &str = "whsec_zinovia_tests_0123456789";

pub async fn app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.billing.payment_providers = vec![Provider::Stripe];
        s.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
        s.billing.platform_fee_percent = 20;
    })
    .await
}

/// Posts `event` to the Stripe webhook, signed at `signed_at` with `secret`.
pub async fn deliver_signed(
    app: &TestApp,
    event: &Value,
    secret: &str,
    signed_at: i64,
) -> (StatusCode, Value) {
    let body = serde_json::to_vec(event).unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/billing/webhooks/stripe", app.base))
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            signature::header(secret, signed_at, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Delivers `event` correctly signed now and runs the jobs it enqueued.
pub async fn deliver(app: &TestApp, event: &Value) -> Value {
    let (status, body) = deliver_signed(app, event, SECRET, Utc::now().timestamp()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    body
}

pub fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": created, "api_version": "2025-03-31.basil",
           "data": {"object": object}})
}

pub fn subscription(
    id: &str,
    status: &str,
    fan: &Member,
    creator: &Member,
    period_end: i64,
) -> Value {
    json!({"id": id, "object": "subscription", "customer": "cus_fan", "status": status,
           "cancel_at_period_end": false,
           "metadata": {"fan_id": fan.id.to_string(), "creator_id": creator.id.to_string()},
           "items": {"object": "list", "data": [{"id": "si_1", "current_period_end": period_end,
                      "price": {"id": "price_1", "unit_amount": 999, "currency": "usd"}}]}})
}

pub fn invoice(id: &str, subscription: &str, charge: &str, amount: i64, period_end: i64) -> Value {
    json!({"id": id, "object": "invoice", "amount_paid": amount, "currency": "usd", "charge": charge,
           "parent": {"subscription_details": {"subscription": subscription}},
           "lines": {"data": [{"period": {"start": period_end - 30 * 86400, "end": period_end}}]}})
}

/// Whether `viewer` sees the media of `post_id` on the creator's page.
pub async fn sees(app: &TestApp, handle: &str, viewer: &Member, post_id: &str) -> bool {
    let (status, page) = call(
        app,
        Method::GET,
        &format!("/api/v1/creators/{handle}/posts"),
        Some(&viewer.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let p = page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == post_id)
        .cloned()
        .unwrap();
    let unlocked = p["locked"] == false;
    let urls = p["media"][0]["variants"].as_array().map_or(0, Vec::len);
    assert_eq!(unlocked, urls > 0, "{p}");
    unlocked
}

pub async fn locked_post(app: &TestApp, who: &Member, visibility: &str) -> String {
    let photo = ready_photo(&app.state.db, who.id).await;
    let mut body = json!({"text": "for some", "media_ids": [photo], "visibility": visibility});
    if visibility == "ppv" {
        body["price_minor"] = json!(1500);
    }
    post(app, who, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn ledger(db: &PgPool, creator: Uuid) -> Vec<(String, i64, i64, i64)> {
    sqlx::query_as(
        "select kind, gross_minor, platform_fee_minor, net_minor from ledger_entries
         where creator_id = $1 order by id",
    )
    .bind(creator)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn balance(db: &PgPool, creator: Uuid) -> i64 {
    sqlx::query_scalar(
        "select coalesce(sum(net_minor), 0)::bigint from ledger_entries where creator_id = $1",
    )
    .bind(creator)
    .fetch_one(db)
    .await
    .unwrap()
}

pub async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn a_subscription_paid_through_webhooks_unlocks_for_that_fan_only_once_however_often_delivered()
 {
    let app = app().await;
    let c = creator(&app, "paid_creator").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    let post_id = locked_post(&app, &c, "subscribers").await;
    assert!(!sees(&app, "paid_creator", &fan, &post_id).await);

    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    let created = event(
        "evt_sub_created",
        "customer.subscription.created",
        now,
        subscription("sub_1", "active", &fan, &c, end),
    );
    let paid = event(
        "evt_inv_paid",
        "invoice.paid",
        now,
        invoice("in_1", "sub_1", "ch_1", 999, end),
    );
    for (i, e) in [&created, &paid, &created, &paid, &paid]
        .into_iter()
        .enumerate()
    {
        let receipt = deliver(&app, e).await;
        assert_eq!(receipt["duplicate"], i >= 2, "{receipt}");
    }
    assert!(sees(&app, "paid_creator", &fan, &post_id).await);
    assert!(!sees(&app, "paid_creator", &other, &post_id).await);
    let db = &app.state.db;
    assert_eq!(count(db, "select count(*) from subscriptions").await, 1);
    assert_eq!(
        ledger(db, c.id).await,
        [("subscription".to_owned(), 999, 200, 799)]
    );
    assert_eq!(
        count(
            db,
            "select count(*) from billing_events where processed_at is not null"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn events_in_any_order_end_in_the_state_the_latest_object_says() {
    let app = app().await;
    let c = creator(&app, "ordered").await;
    let (a, b) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    let post_id = locked_post(&app, &c, "subscribers").await;
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    // Fan A: deleted (newest) arrives before created.
    deliver(
        &app,
        &event(
            "evt_a3",
            "customer.subscription.deleted",
            now - 10,
            subscription("sub_a", "canceled", &a, &c, end),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_a1",
            "customer.subscription.created",
            now - 100,
            subscription("sub_a", "active", &a, &c, end),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_a2",
            "customer.subscription.updated",
            now - 50,
            subscription("sub_a", "active", &a, &c, end),
        ),
    )
    .await;
    // Fan B: updated (to active) arrives before created (incomplete).
    deliver(
        &app,
        &event(
            "evt_b2",
            "customer.subscription.updated",
            now - 20,
            subscription("sub_b", "active", &b, &c, end),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_b1",
            "customer.subscription.created",
            now - 60,
            subscription("sub_b", "incomplete", &b, &c, end),
        ),
    )
    .await;
    let status = |fan: Uuid| {
        let db = app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from subscriptions where fan_id = $1")
                .bind(fan)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(a.id).await, "canceled");
    assert_eq!(status(b.id).await, "active");
    assert!(!sees(&app, "ordered", &a, &post_id).await);
    assert!(sees(&app, "ordered", &b, &post_id).await);
}

#[tokio::test]
async fn forged_stale_or_unsigned_webhooks_are_refused_and_change_nothing() {
    let app = app().await;
    let c = creator(&app, "guarded").await;
    let fan = member(&app, Role::Fan).await;
    let now = Utc::now().timestamp();
    let e = event(
        "evt_forged",
        "customer.subscription.created",
        now,
        subscription("sub_f", "active", &fan, &c, now + 86400),
    );
    for (secret, at) in [
        ("whsec_someone_else", now),
        (SECRET, now - 301),
        (SECRET, now + 301),
    ] {
        let (status, body) = deliver_signed(&app, &e, secret, at).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("webhook refused"),
            "{body}"
        );
    }
    let r = app
        .client
        .post(format!("{}/api/v1/billing/webhooks/stripe", app.base))
        .body(serde_json::to_vec(&e).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A correctly signed body that is not an event.
    let (status, _) = deliver_signed(&app, &json!({"hello": "world"}), SECRET, now).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The rail that is not configured does not answer.
    let r = app
        .client
        .post(format!("{}/api/v1/billing/webhooks/simulated", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let db = &app.state.db;
    assert_eq!(count(db, "select count(*) from billing_events").await, 0);
    assert_eq!(count(db, "select count(*) from subscriptions").await, 0);
}

/// Inserts the checkout our checkout endpoint makes (its session id is the provider's).
async fn checkout(
    db: &PgPool,
    kind: &str,
    fan: &Member,
    creator: &Member,
    post: Option<&str>,
    amount: i32,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into checkouts (id, provider, session_id, fan_id, kind, creator_id, post_id, amount_minor, currency)
         values ($1, 'stripe', 'cs_' || $1, $2, $3, $4, $5::uuid, $6, 'USD')",
    )
    .bind(id)
    .bind(fan.id)
    .bind(kind)
    .bind(creator.id)
    .bind(post.map(|p| Uuid::parse_str(p).unwrap()))
    .bind(amount)
    .execute(db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn refunds_and_disputes_take_access_back_and_the_balance_is_the_sum_of_the_entries() {
    let app = app().await;
    let db = &app.state.db;
    let c = creator(&app, "refunds").await;
    let fan = member(&app, Role::Fan).await;
    let ppv = locked_post(&app, &c, "ppv").await;
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let now = Utc::now().timestamp();

    // A pay-per-view purchase, paid, then refunded in full.
    let co = checkout(db, "ppv", &fan, &c, Some(&ppv), 1500).await;
    let session = json!({"id": format!("cs_{co}"), "object": "checkout.session", "client_reference_id": co.to_string(),
                         "customer": "cus_fan", "payment_intent": "pi_ppv", "payment_status": "paid",
                         "status": "complete", "mode": "payment", "amount_total": 1500, "currency": "usd"});
    deliver(
        &app,
        &event("evt_co", "checkout.session.completed", now - 60, session),
    )
    .await;
    assert!(sees(&app, "refunds", &fan, &ppv).await);
    let charge = |refunded: i64| {
        json!({"id": "ch_ppv", "object": "charge", "payment_intent": "pi_ppv", "amount": 1500,
                                        "amount_refunded": refunded, "currency": "usd", "refunded": refunded == 1500})
    };
    deliver(
        &app,
        &event("evt_ref_part", "charge.refunded", now - 30, charge(500)),
    )
    .await;
    assert!(
        sees(&app, "refunds", &fan, &ppv).await,
        "a partial refund keeps the purchase"
    );
    deliver(
        &app,
        &event("evt_ref_full", "charge.refunded", now - 20, charge(1500)),
    )
    .await;
    deliver(
        &app,
        &event("evt_ref_part", "charge.refunded", now - 30, charge(500)),
    )
    .await; // redelivered
    assert!(!sees(&app, "refunds", &fan, &ppv).await);

    // A subscription payment, then disputed.
    let end = now + 30 * 86400;
    deliver(
        &app,
        &event(
            "evt_s",
            "customer.subscription.created",
            now - 60,
            subscription("sub_d", "active", &fan, &c, end),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_i",
            "invoice.paid",
            now - 60,
            invoice("in_d", "sub_d", "ch_sub", 999, end),
        ),
    )
    .await;
    assert!(sees(&app, "refunds", &fan, &subs_only).await);
    let dispute = json!({"id": "dp_1", "object": "dispute", "charge": "ch_sub", "amount": 999, "currency": "usd"});
    deliver(
        &app,
        &event("evt_dp", "charge.dispute.created", now - 5, dispute),
    )
    .await;
    assert!(!sees(&app, "refunds", &fan, &subs_only).await);
    // A later status update from the provider does not bring disputed access back.
    deliver(
        &app,
        &event(
            "evt_s2",
            "customer.subscription.updated",
            now,
            subscription("sub_d", "active", &fan, &c, end),
        ),
    )
    .await;
    assert!(!sees(&app, "refunds", &fan, &subs_only).await);

    assert_eq!(
        ledger(db, c.id).await,
        [
            ("ppv".to_owned(), 1500, 300, 1200),
            ("refund".to_owned(), -500, -100, -400),
            ("refund".to_owned(), -1000, -200, -800),
            ("subscription".to_owned(), 999, 200, 799),
            ("dispute".to_owned(), -999, -200, -799),
        ]
    );
    assert_eq!(balance(db, c.id).await, 0);
    let status: String =
        sqlx::query_scalar("select status from post_purchases where post_id = $1::uuid")
            .bind(&ppv)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(status, "refunded");
    // The ledger cannot be edited.
    let err = sqlx::query("update ledger_entries set net_minor = 0")
        .execute(db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("delete from ledger_entries")
        .execute(db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn a_failed_payment_keeps_access_through_the_grace_period_then_takes_it_until_recovery() {
    let app = TestApp::spawn_with(|s| {
        s.billing.payment_providers = vec![Provider::Stripe];
        s.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
        s.content.posts_cache_ttl.0 = std::time::Duration::ZERO;
    })
    .await;
    let c = creator(&app, "dunning").await;
    let (early, late) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    let post_id = locked_post(&app, &c, "subscribers").await;
    let now = Utc::now().timestamp();
    let end = now + 10 * 86400;
    let hours = |h: i64| h * 3600;
    for (fan, sub, failed_at) in [
        (&early, "sub_early", now - hours(1)),
        (&late, "sub_late", now - hours(24 * 4)),
    ] {
        deliver(
            &app,
            &event(
                &format!("evt_{sub}_c"),
                "customer.subscription.created",
                failed_at - 600,
                subscription(sub, "active", fan, &c, end),
            ),
        )
        .await;
        deliver(
            &app,
            &event(
                &format!("evt_{sub}_f"),
                "invoice.payment_failed",
                failed_at,
                invoice(&format!("in_{sub}"), sub, "ch_x", 0, end),
            ),
        )
        .await;
        deliver(
            &app,
            &event(
                &format!("evt_{sub}_u"),
                "customer.subscription.updated",
                failed_at,
                subscription(sub, "past_due", fan, &c, end),
            ),
        )
        .await;
    }
    // Grace is 3 days: failed an hour ago still sees; failed 4 days ago does not.
    assert!(sees(&app, "dunning", &early, &post_id).await);
    assert!(!sees(&app, "dunning", &late, &post_id).await);
    // The retry succeeds: access is back.
    let new_end = now + 30 * 86400;
    deliver(
        &app,
        &event(
            "evt_late_paid",
            "invoice.paid",
            now,
            invoice("in_late_2", "sub_late", "ch_late", 999, new_end),
        ),
    )
    .await;
    assert!(sees(&app, "dunning", &late, &post_id).await);
    let (status, since): (String, Option<chrono::DateTime<Utc>>) =
        sqlx::query_as("select status, past_due_since from subscriptions where fan_id = $1")
            .bind(late.id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), since), ("active", None));
    // An older "past due" arriving late changes nothing.
    deliver(
        &app,
        &event(
            "evt_late_old",
            "customer.subscription.updated",
            now - hours(24 * 4),
            subscription("sub_late", "past_due", &late, &c, end),
        ),
    )
    .await;
    assert!(sees(&app, "dunning", &late, &post_id).await);
}

#[test]
fn production_refuses_the_simulated_rail_and_stripe_without_its_secrets() {
    let mut s = Settings::defaults();
    s.core.environment = Environment::Production;
    let named = |s: &Settings, role: ConfigRole| {
        s.validate(role)
            .problems
            .iter()
            .map(|p| p.setting)
            .collect::<Vec<_>>()
    };
    assert!(named(&s, ConfigRole::Serve).contains(&"PAYMENT_PROVIDERS"));
    s.billing.payment_providers = vec![Provider::Stripe];
    let serve = named(&s, ConfigRole::Serve);
    assert!(serve.contains(&"STRIPE_WEBHOOK_SECRET"), "{serve:?}");
    assert!(serve.contains(&"STRIPE_SECRET_KEY"), "{serve:?}");
    assert!(!serve.contains(&"PAYMENT_PROVIDERS"), "{serve:?}");
    // The worker receives no webhooks.
    assert!(!named(&s, ConfigRole::Worker).contains(&"STRIPE_WEBHOOK_SECRET"));
    s.billing.stripe_secret_key = Some("sk_test_123".to_owned().into());
    s.billing.stripe_webhook_secret = Some("not-a-whsec".to_owned().into());
    let serve = named(&s, ConfigRole::Serve);
    assert!(serve.contains(&"STRIPE_WEBHOOK_SECRET"), "{serve:?}");
    assert!(
        serve.contains(&"STRIPE_SECRET_KEY"),
        "a test key in production: {serve:?}"
    );
    s.billing.stripe_secret_key = Some("sk_live_123".to_owned().into());
    s.billing.stripe_webhook_secret = Some("whsec_abc".to_owned().into());
    let serve = named(&s, ConfigRole::Serve);
    assert!(
        !serve
            .iter()
            .any(|p| p.starts_with("STRIPE") || *p == "PAYMENT_PROVIDERS"),
        "{serve:?}"
    );
}

/// A test app on the simulated rail (the embedded default).
pub async fn simulated_app() -> TestApp {
    TestApp::spawn_with(|s| s.billing.platform_fee_percent = 10).await
}

pub async fn start(app: &TestApp, fan: &Member, body: Value) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/billing/checkout",
        Some(&fan.token),
        Some(body),
    )
    .await
}

pub async fn click(
    app: &TestApp,
    fan: &Member,
    checkout: &Value,
    outcome: &str,
) -> (StatusCode, Value) {
    let id = checkout["checkout_id"].as_str().unwrap();
    let r = call(
        app,
        Method::POST,
        &format!("/api/v1/billing/simulated/checkouts/{id}"),
        Some(&fan.token),
        Some(json!({"outcome": outcome})),
    )
    .await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    r
}

#[tokio::test]
async fn on_the_simulated_rail_a_fan_subscribes_buys_and_tips_through_checkout_pages() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "sim_creator").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let ppv = locked_post(&app, &c, "ppv").await;

    // Subscribe: the checkout page is ours, and declining changes nothing.
    let (status, declined) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "sim_creator"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{declined}");
    assert_eq!(declined["provider"], "simulated");
    assert!(
        declined["url"]
            .as_str()
            .unwrap()
            .contains("/billing/simulated/checkout/"),
        "{declined}"
    );
    let (status, body) = click(&app, &other, &declined, "pay").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "someone else's checkout: {body}"
    );
    let (status, _) = click(&app, &fan, &declined, "decline").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!sees(&app, "sim_creator", &fan, &subs_only).await);
    let (status, _) = click(&app, &fan, &declined, "pay").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a failed checkout cannot be paid"
    );

    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "SIM_creator"}),
    )
    .await;
    let (status, body) = click(&app, &fan, &checkout, "pay").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(sees(&app, "sim_creator", &fan, &subs_only).await);
    assert!(!sees(&app, "sim_creator", &other, &subs_only).await);
    assert!(
        !sees(&app, "sim_creator", &fan, &ppv).await,
        "a subscription does not buy PPV posts"
    );
    let (status, again) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "sim_creator"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Buy the pay-per-view post, then tip.
    let (status, buy) = start(&app, &fan, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{buy}");
    click(&app, &fan, &buy, "pay").await;
    assert!(sees(&app, "sim_creator", &fan, &ppv).await);
    let (status, _) = start(&app, &fan, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, tip) = start(&app, &fan, json!({"kind": "tip", "creator": "sim_creator", "amount_minor": 500, "message": "Lovely work"})).await;
    assert_eq!(status, StatusCode::CREATED, "{tip}");
    click(&app, &fan, &tip, "pay").await;

    assert_eq!(
        ledger(db, c.id).await,
        [
            ("subscription".to_owned(), 999, 100, 899),
            ("ppv".to_owned(), 1500, 150, 1350),
            ("tip".to_owned(), 500, 50, 450),
        ]
    );
    assert_eq!(balance(db, c.id).await, 899 + 1350 + 450);
    let (message, status): (Option<String>, String) =
        sqlx::query_as("select message, status from tips where fan_id = $1")
            .bind(fan.id)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(
        (message.as_deref(), status.as_str()),
        (Some("Lovely work"), "paid")
    );
    assert_eq!(
        count(
            db,
            "select count(*) from checkouts where status = 'completed'"
        )
        .await,
        3
    );
    assert_eq!(
        count(db, "select count(*) from checkouts where status = 'failed'").await,
        1
    );

    // What the fan and the creator see.
    let (status, subs) = call(
        &app,
        Method::GET,
        "/api/v1/me/subscriptions",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{subs}");
    let subs = subs["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(subs[0]["creator"], "sim_creator");
    assert_eq!(subs[0]["status"], "active");
    assert_eq!(subs[0]["access"], true);
    assert_eq!(subs[0]["price_minor"], 999);
    let (_, bought) = call(
        &app,
        Method::GET,
        "/api/v1/me/purchases",
        Some(&fan.token),
        None,
    )
    .await;
    let kinds: Vec<&str> = bought["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tip", "ppv"], "{bought}");
    assert_eq!(bought["payments"][0]["message"], "Lovely work");
    assert_eq!(bought["payments"][1]["post_id"], ppv.as_str());
    let (_, none) = call(
        &app,
        Method::GET,
        "/api/v1/me/purchases",
        Some(&other.token),
        None,
    )
    .await;
    assert_eq!(none["payments"], json!([]));
    let (status, earnings) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{earnings}");
    // The creator had no payout account: the platform holds all of it for them.
    assert_eq!(
        earnings["balances"],
        json!([{"currency": "USD", "earned_minor": 899 + 1350 + 450, "paid_to_account_minor": 0,
                "paid_out_minor": 0, "owed_minor": 899 + 1350 + 450}])
    );
    assert_eq!(earnings["subscribers"], 1);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        earnings["by_day"],
        json!([{"period": today, "currency": "USD", "gross_minor": 2999, "platform_fee_minor": 300, "net_minor": 2699}])
    );
    assert_eq!(earnings["by_month"][0]["net_minor"], 2699);
    let recent: Vec<&str> = earnings["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(recent.len(), 3);
    assert!(recent.contains(&"tip") && recent.contains(&"ppv") && recent.contains(&"subscription"));
    assert_eq!(earnings["recent"][0]["fan_name"], "Someone");
    let tip = earnings["recent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "tip")
        .unwrap();
    assert_eq!(
        tip["message"], "Lovely work",
        "the creator reads the tip's note"
    );
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a fan has no earnings");
    let (status, _) = call(&app, Method::GET, "/api/v1/me/subscriptions", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn checkouts_refuse_bad_input_field_by_field_and_store_nothing() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "picky").await;
    let fan = member(&app, Role::Fan).await;
    let public =
        post(&app, &c, json!({"text": "free", "visibility": "public"})).await["id"].clone();
    for (body, field) in [
        (json!({}), "kind"),
        (json!({"kind": "gift"}), "kind"),
        (json!({"kind": "subscription"}), "creator"),
        (
            json!({"kind": "subscription", "creator": "nobody_here"}),
            "creator",
        ),
        (json!({"kind": "subscription", "creator": "???"}), "creator"),
        (json!({"kind": "ppv"}), "post_id"),
        (json!({"kind": "ppv", "post_id": "not-a-uuid"}), "post_id"),
        (json!({"kind": "ppv", "post_id": Uuid::now_v7()}), "post_id"),
        (json!({"kind": "ppv", "post_id": public}), "post_id"),
        (json!({"kind": "tip", "creator": "picky"}), "amount_minor"),
        (
            json!({"kind": "tip", "creator": "picky", "amount_minor": 99}),
            "amount_minor",
        ),
        (
            json!({"kind": "tip", "creator": "picky", "amount_minor": 50_001}),
            "amount_minor",
        ),
        (
            json!({"kind": "tip", "creator": "picky", "amount_minor": 500, "message": "x".repeat(501)}),
            "message",
        ),
        (
            json!({"kind": "tip", "creator": "picky", "amount_minor": 500, "message": "bad\u{0}"}),
            "message",
        ),
    ] {
        let (status, err) = start(&app, &fan, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        assert!(err["error"]["fields"][field].is_array(), "{body} → {err}");
    }
    for body in [
        json!({"kind": 5}),
        json!({"kind": "tip", "creator": "picky", "amount_minor": "five"}),
    ] {
        let (status, err) = start(&app, &fan, body.clone()).await;
        assert!(status.is_client_error(), "{body} → {status} {err}");
    }
    // Paying oneself.
    let (status, err) = start(
        &app,
        &c,
        json!({"kind": "subscription", "creator": "picky"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["error"]["fields"]["creator"].is_array(), "{err}");
    // Anonymous.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/billing/checkout",
        None,
        Some(json!({"kind": "subscription", "creator": "picky"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Bad outcomes and unknown checkouts.
    let (_, ok) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "picky"}),
    )
    .await;
    let (status, _) = click(&app, &fan, &ok, "maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = click(
        &app,
        &fan,
        &json!({"checkout_id": Uuid::now_v7().to_string()}),
        "pay",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(count(db, "select count(*) from checkouts").await, 1);
    assert_eq!(count(db, "select count(*) from billing_events").await, 0);
}

/// The Stripe rail (its API the local fake) with a creator `stripe_seller` at 9.99 USD, a
/// subscribers-only and a pay-per-view post, and two fans.
pub struct StripeScene {
    pub fake: FakeStripe,
    pub app: TestApp,
    pub c: Member,
    pub fan: Member,
    pub other: Member,
    pub subs_only: String,
    pub ppv: String,
}

pub async fn stripe_scene() -> StripeScene {
    let fake = FakeStripe::start().await;
    let base = fake.base.clone();
    let app = TestApp::spawn_with(move |s| {
        s.billing.payment_providers = vec![Provider::Stripe];
        s.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
        s.billing.stripe_secret_key = Some("sk_test_zinovia".to_owned().into());
        s.billing.stripe_api_base = base.parse().unwrap();
    })
    .await;
    let c = creator(&app, "stripe_seller").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let ppv = locked_post(&app, &c, "ppv").await;
    StripeScene {
        fake,
        app,
        c,
        fan,
        other,
        subs_only,
        ppv,
    }
}

/// The fan's subscription checkout on the Stripe scene: its id.
pub async fn stripe_subscription_checkout(scene: &StripeScene, fan: &Member) -> String {
    let (status, started) = start(
        &scene.app,
        fan,
        json!({"kind": "subscription", "creator": "stripe_seller"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    started["checkout_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn on_stripe_a_subscription_checkout_creates_customer_product_price_and_session_once() {
    let scene = stripe_scene().await;
    let StripeScene {
        fake,
        app,
        c,
        fan,
        other,
        ..
    } = &scene;
    let (status, started) = start(
        app,
        fan,
        json!({"kind": "subscription", "creator": "stripe_seller"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["provider"], "stripe");
    assert!(
        started["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/"),
        "{started}"
    );
    let calls = fake.calls();
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/customers",
            "/v1/products",
            "/v1/prices",
            "/v1/checkout/sessions"
        ]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.version == zinovia::billing::stripe::API_VERSION)
    );
    assert_eq!(calls[0].idempotency, format!("customer-{}", fan.id));
    assert_eq!(calls[2].get("unit_amount"), Some("999"));
    assert_eq!(calls[2].get("currency"), Some("usd"));
    assert_eq!(calls[2].get("recurring[interval]"), Some("month"));
    assert_eq!(calls[2].get("product"), Some("prod_2"));
    let session = &calls[3];
    let checkout_id = started["checkout_id"].as_str().unwrap();
    assert_eq!(session.idempotency, format!("checkout-{checkout_id}"));
    assert_eq!(session.get("mode"), Some("subscription"));
    assert_eq!(session.get("customer"), Some("cus_1"));
    assert_eq!(session.get("line_items[0][price]"), Some("price_3"));
    assert_eq!(session.get("client_reference_id"), Some(checkout_id));
    assert_eq!(
        session.get("subscription_data[metadata][fan_id]"),
        Some(fan.id.to_string().as_str())
    );
    assert_eq!(
        session.get("subscription_data[metadata][creator_id]"),
        Some(c.id.to_string().as_str())
    );
    assert_eq!(
        session.get("subscription_data[transfer_data][destination]"),
        None,
        "no payout account yet"
    );

    // Another fan: a new customer and session, the same price.
    let (status, _) = start(
        app,
        other,
        json!({"kind": "subscription", "creator": "stripe_seller"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let paths: Vec<String> = fake.calls()[4..].iter().map(|c| c.path.clone()).collect();
    assert_eq!(paths, ["/v1/customers", "/v1/checkout/sessions"]);
    assert_eq!(fake.calls()[5].get("line_items[0][price]"), Some("price_3"));
}

#[tokio::test]
async fn on_stripe_a_creator_who_can_take_charges_gets_the_money_routed_with_the_fee_kept() {
    let scene = stripe_scene().await;
    let StripeScene {
        fake,
        app,
        c,
        fan,
        ppv,
        ..
    } = &scene;
    let db = &app.state.db;
    // A creator with a payout account gets the money routed, the platform fee kept.
    sqlx::query("insert into payout_accounts (creator_id, provider, account_id, charges_enabled, payouts_enabled) values ($1, 'stripe', 'acct_1', true, true)")
        .bind(c.id)
        .execute(db)
        .await
        .unwrap();
    let (status, _) = start(app, fan, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED);
    let buy = fake.calls().last().cloned().unwrap();
    assert_eq!(buy.get("mode"), Some("payment"));
    assert_eq!(buy.get("customer"), Some("cus_1"), "the fan's customer");
    assert_eq!(
        buy.get("line_items[0][price_data][unit_amount]"),
        Some("1500")
    );
    assert_eq!(
        buy.get("payment_intent_data[application_fee_amount]"),
        Some("300")
    );
    assert_eq!(
        buy.get("payment_intent_data[transfer_data][destination]"),
        Some("acct_1")
    );
}

#[tokio::test]
async fn on_stripe_a_refused_call_fails_the_checkout_and_leaves_nothing_open() {
    let scene = stripe_scene().await;
    let StripeScene { app, fan, .. } = &scene;
    let db = &app.state.db;
    // Stripe refusing: 503, and the checkout ends failed (nothing half-open).
    let (status, body) = start(
        app,
        fan,
        json!({"kind": "tip", "creator": "stripe_seller", "amount_minor": 666}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        count(
            db,
            "select count(*) from checkouts where status = 'failed' and amount_minor = 666"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn on_stripe_signed_events_complete_a_subscription_checkout_and_unlock() {
    let scene = stripe_scene().await;
    let StripeScene {
        app,
        c,
        fan,
        other,
        subs_only,
        ..
    } = &scene;
    let db = &app.state.db;
    let checkout_id = &stripe_subscription_checkout(&scene, fan).await;
    // The signed events Stripe would send complete the subscription.
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    let mut sub = subscription("sub_live", "active", fan, c, end);
    sub["customer"] = json!("cus_1");
    deliver(
        app,
        &event("evt_1", "customer.subscription.created", now, sub),
    )
    .await;
    deliver(
        app,
        &event(
            "evt_2",
            "invoice.paid",
            now,
            invoice("in_live", "sub_live", "ch_live", 999, end),
        ),
    )
    .await;
    let completed = json!({"id": "cs_test_4", "object": "checkout.session",
                           "client_reference_id": checkout_id, "customer": "cus_1", "subscription": "sub_live",
                           "payment_status": "paid", "status": "complete", "mode": "subscription",
                           "amount_total": 999, "currency": "usd"});
    deliver(
        app,
        &event("evt_3", "checkout.session.completed", now, completed),
    )
    .await;
    assert!(sees(app, "stripe_seller", fan, subs_only).await);
    assert!(!sees(app, "stripe_seller", other, subs_only).await);
    let status: String = sqlx::query_scalar("select status from checkouts where id = $1::uuid")
        .bind(checkout_id)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(status, "completed");
}

#[tokio::test]
async fn on_stripe_a_changed_price_is_a_new_price_of_the_one_product() {
    let scene = stripe_scene().await;
    let StripeScene {
        fake, app, c, fan, ..
    } = &scene;
    let db = &app.state.db;
    stripe_subscription_checkout(&scene, fan).await;
    // A changed price is a new Price; existing subscribers keep theirs.
    let (status, _) = call(app, Method::PUT, "/api/v1/me/creator", Some(&c.token),
        Some(json!({"handle": "stripe_seller", "display_name": "Ada", "price_minor": 1299, "currency": "USD"}))).await;
    assert_eq!(status, StatusCode::OK);
    let third = member(app, Role::Fan).await;
    start(
        app,
        &third,
        json!({"kind": "subscription", "creator": "stripe_seller"}),
    )
    .await;
    let tail: Vec<(String, Option<String>)> = fake
        .calls()
        .iter()
        .rev()
        .take(2)
        .map(|c| (c.path.clone(), c.get("unit_amount").map(str::to_owned)))
        .collect();
    assert!(
        tail.iter()
            .any(|(p, a)| p == "/v1/prices" && a.as_deref() == Some("1299")),
        "{tail:?}"
    );
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| c.path == "/v1/products")
            .count(),
        1,
        "one product per creator"
    );
    let prices: i64 = count(db, "select count(*) from creator_prices").await;
    assert_eq!(prices, 2);
}

#[tokio::test]
async fn on_stripe_fans_cancel_at_the_period_end_and_manage_cards_in_the_portal() {
    let scene = stripe_scene().await;
    let StripeScene {
        fake, app, c, fan, ..
    } = &scene;
    stripe_subscription_checkout(&scene, fan).await;
    let now = Utc::now().timestamp();
    deliver(
        app,
        &event(
            "evt_1",
            "customer.subscription.created",
            now,
            subscription("sub_live", "active", fan, c, now + 30 * 86400),
        ),
    )
    .await;
    let third = member(app, Role::Fan).await;
    // The fan cancels at the period's end, and manages cards in Stripe's portal.
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/me/subscriptions/stripe_seller/cancel",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cancel = fake.calls().last().cloned().unwrap();
    assert_eq!(cancel.path, "/v1/subscriptions/sub_live");
    assert_eq!(cancel.get("cancel_at_period_end"), Some("true"));
    assert!(
        cancel.idempotency.starts_with("cancel-sub_live-"),
        "{}",
        cancel.idempotency
    );
    let (status, _) = call(
        app,
        Method::POST,
        "/api/v1/me/subscriptions/stripe_seller/cancel",
        Some(&third.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no live subscription");
    let (status, portal) = call(
        app,
        Method::POST,
        "/api/v1/billing/portal",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{portal}");
    assert!(
        portal["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.com/")
    );
    assert_eq!(fake.calls().last().unwrap().get("customer"), Some("cus_1"));
}

#[tokio::test]
async fn on_stripe_creators_onboard_for_payouts_with_controller_properties() {
    let scene = stripe_scene().await;
    let StripeScene { fake, app, fan, .. } = &scene;
    // A creator onboards for payouts: an account with controller properties, then a link.
    let seller2 = creator(app, "stripe_second").await;
    // Only from a session signed in with a second factor.
    let (status, body) = call(
        app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&seller2.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    crate::helpers::assert_error(&body, "second_factor_required");
    crate::helpers::with_second_factor(app, &seller2.token).await;
    let (status, payouts) = call(
        app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&seller2.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{payouts}");
    assert!(
        payouts["onboarding_url"]
            .as_str()
            .unwrap()
            .starts_with("https://connect.stripe.com/"),
        "{payouts}"
    );
    assert_eq!(payouts["charges_enabled"], false);
    let calls = fake.calls();
    let account = &calls[calls.len() - 2];
    assert_eq!(account.path, "/v1/accounts");
    assert_eq!(
        account.get("controller[stripe_dashboard][type]"),
        Some("express")
    );
    assert_eq!(account.get("controller[fees][payer]"), Some("application"));
    assert_eq!(
        account.get("controller[losses][payments]"),
        Some("application")
    );
    assert_eq!(account.idempotency, format!("account-{}", seller2.id));
    let link = calls.last().unwrap();
    assert_eq!(
        (link.path.as_str(), link.get("type")),
        ("/v1/account_links", Some("account_onboarding"))
    );
    let acct = payouts["account_id"].as_str().unwrap().to_owned();
    let updated = json!({"id": acct, "object": "account", "charges_enabled": true, "payouts_enabled": true, "details_submitted": true});
    deliver(
        app,
        &event(
            "evt_acct",
            "account.updated",
            Utc::now().timestamp(),
            updated,
        ),
    )
    .await;
    let (_, payouts) = call(
        app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&seller2.token),
        None,
    )
    .await;
    assert_eq!(payouts["charges_enabled"], true);
    assert_eq!(payouts["onboarding_url"], Value::Null);
    let (status, _) = call(
        app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "fans have no payouts");
}

#[tokio::test]
async fn on_the_simulated_rail_a_fan_cancels_keeping_access_to_the_period_end_and_creators_onboard()
{
    let app = simulated_app().await;
    let c = creator(&app, "sim_cancel").await;
    let fan = member(&app, Role::Fan).await;
    let post_id = locked_post(&app, &c, "subscribers").await;
    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "sim_cancel"}),
    )
    .await;
    click(&app, &fan, &checkout, "pay").await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/subscriptions/sim_cancel/cancel",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let (_, subs) = call(
        &app,
        Method::GET,
        "/api/v1/me/subscriptions",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(
        subs["subscriptions"][0]["cancel_at_period_end"], true,
        "{subs}"
    );
    assert_eq!(
        subs["subscriptions"][0]["access"], true,
        "access lasts to the period's end"
    );
    assert!(sees(&app, "sim_cancel", &fan, &post_id).await);
    // The period ends.
    sqlx::query("update subscriptions set current_period_end = now() - interval '1 second' where fan_id = $1")
        .bind(fan.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert!(!sees(&app, "sim_cancel", &fan, &post_id).await);
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/billing/portal",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "no cards on the simulated rail"
    );

    crate::helpers::with_second_factor(&app, &c.token).await;
    let (status, payouts) = call(
        &app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{payouts}");
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let (_, payouts) = call(
        &app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(payouts["charges_enabled"], true, "{payouts}");
    assert_eq!(payouts["payouts_enabled"], true);
    assert_eq!(payouts["onboarding_url"], Value::Null);
}

pub async fn clock(app: &TestApp, who: Option<&Member>, days: Value) -> (StatusCode, Value) {
    let r = call(
        app,
        Method::POST,
        "/api/v1/billing/simulated/clock",
        who.map(|m| m.token.as_str()),
        Some(json!({ "days": days })),
    )
    .await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    r
}

#[tokio::test]
async fn the_test_clock_ends_canceled_subscriptions_renews_the_others_and_exists_only_locally() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "sim_clock").await;
    let post_id = locked_post(&app, &c, "subscribers").await;
    let (leaving, staying) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    for fan in [&leaving, &staying] {
        let (_, checkout) = start(
            &app,
            fan,
            json!({"kind": "subscription", "creator": "sim_clock"}),
        )
        .await;
        click(&app, fan, &checkout, "pay").await;
        assert!(sees(&app, "sim_clock", fan, &post_id).await);
    }
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/subscriptions/sim_clock/cancel",
        Some(&leaving.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.run_pending_jobs(&zinovia::app::jobs()).await;

    // Bad input and strangers change nothing.
    for days in [json!(0), json!(401), json!(-3), json!("a month")] {
        let (status, body) = clock(&app, Some(&leaving), days.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{days}: {body}");
    }
    let (status, _) = clock(&app, None, json!(31)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Ten days: no period ends.
    let (status, passed) = clock(&app, Some(&leaving), json!(10)).await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(passed, json!({"ended": 0, "renewed": 0}));
    assert!(sees(&app, "sim_clock", &leaving, &post_id).await);

    // A month: the canceled one ends (locked again), the other renews and keeps access.
    let period_before: chrono::DateTime<Utc> =
        sqlx::query_scalar("select current_period_end from subscriptions where fan_id = $1")
            .bind(staying.id)
            .fetch_one(db)
            .await
            .unwrap();
    // Twice before the rail's events are handled: the same period is billed under the same
    // ids, and recorded once.
    let (status, passed) = call(
        &app,
        Method::POST,
        "/api/v1/billing/simulated/clock",
        Some(&staying.token),
        Some(json!({"days": 31})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(passed, json!({"ended": 1, "renewed": 1}));
    let (status, passed) = clock(&app, Some(&staying), json!(31)).await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(passed, json!({"ended": 1, "renewed": 1}));
    assert!(!sees(&app, "sim_clock", &leaving, &post_id).await);
    assert!(sees(&app, "sim_clock", &staying, &post_id).await);
    let statuses: Vec<(Uuid, String, chrono::DateTime<Utc>)> = sqlx::query_as(
        "select fan_id, status, current_period_end from subscriptions where creator_id = $1",
    )
    .bind(c.id)
    .fetch_all(db)
    .await
    .unwrap();
    for (fan, status, end) in statuses {
        if fan == leaving.id {
            assert_eq!(status, "canceled");
        } else {
            assert_eq!(status, "active");
            assert_eq!(end, period_before + chrono::Duration::days(30));
        }
    }
    let renewals = count(
        db,
        &format!(
            "select count(*) from ledger_entries where creator_id = '{}' and kind = 'subscription' and fan_id = '{}'",
            c.id, staying.id
        ),
    )
    .await;
    assert_eq!(renewals, 2, "the first payment and one renewal");
    // Nothing is left to end.
    let (_, passed) = clock(&app, Some(&staying), json!(1)).await;
    assert_eq!(passed, json!({"ended": 0, "renewed": 0}));

    // Only on the simulated rail, only in the local environment.
    let stripe = self::app().await;
    let someone = member(&stripe, Role::Fan).await;
    let (status, _) = clock(&stripe, Some(&someone), json!(31)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let staging = TestApp::spawn_with(|s| s.core.environment = Environment::Staging).await;
    let someone = member(&staging, Role::Fan).await;
    let (status, _) = clock(&staging, Some(&someone), json!(31)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Where it does not exist, it says nothing else either (no 401, no 422).
    let (status, _) = clock(&staging, None, json!("not a number")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
