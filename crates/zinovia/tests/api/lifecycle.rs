//! The edges around the paywall: closing accounts (both rails, both storages), a trial once
//! per fan and creator, subscriptions as the rail's history, return paths, caching,
//! password throttles, cancel keys, the PPV price and its reconciliation, the storage quota
//! and profile images, counts by the one rule, typed job priority.

use chrono::{Duration as Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;
use zinovia::billing::{Provider, signature};
use zinovia::jobs::Job;

use crate::billing::{
    SECRET, click, clock, count, deliver, event, invoice, ledger, locked_post, sees, simulated_app,
    start, subscription,
};
use crate::helpers::{FakeStripe, S3Server, TestApp, grant_subscription, unique_email, upload};
use crate::helpers::{Member, call, creator, member, post};
use crate::pages::{browser, csrf_of, page, post_form};
use crate::processing::jpeg;

const PASSWORD: &str = "purple lighthouse at dawn";

async fn jobs(app: &TestApp) {
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

pub async fn delete_account(app: &TestApp, who: &Member) {
    let (status, body) = call(
        app,
        Method::DELETE,
        "/api/v1/auth/me",
        Some(&who.token),
        Some(json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// Subscribes `fan` to `handle` through the simulated rail's checkout.
pub async fn subscribe(app: &TestApp, fan: &Member, handle: &str) -> Value {
    let (status, checkout) =
        start(app, fan, json!({"kind": "subscription", "creator": handle})).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    let (status, body) = click(app, fan, &checkout, "pay").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    checkout
}

/// The fan's subscription to `handle` as `GET /api/v1/me/subscriptions` lists it.
pub async fn my_subscription(app: &TestApp, fan: &Member, handle: &str) -> Value {
    let (status, body) = app.get_auth("/api/v1/me/subscriptions", &fan.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["creator"] == handle)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Cancels at the period's end, and lets the rail's confirmation be applied.
async fn cancel(app: &TestApp, fan: &Member, handle: &str) -> StatusCode {
    let (status, _) = call(
        app,
        Method::POST,
        &format!("/api/v1/me/subscriptions/{handle}/cancel"),
        Some(&fan.token),
        None,
    )
    .await;
    jobs(app).await;
    status
}

/// Statuses of `fan`'s subscription rows, oldest first.
pub async fn statuses(app: &TestApp, fan: Uuid) -> Vec<String> {
    sqlx::query_scalar("select status from subscriptions where fan_id = $1 order by created_at")
        .bind(fan)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

async fn objects_of(app: &TestApp, id: &str) -> Vec<String> {
    let all = app.state.storage().unwrap().list().await.unwrap();
    all.into_iter().filter(|k| k.contains(id)).collect()
}

/// The app on Stripe's rail, its API being the local fake.
async fn stripe_app(fake: &FakeStripe) -> TestApp {
    let base = fake.base.clone();
    TestApp::spawn_with(move |s| {
        s.billing.payment_providers = vec![Provider::Stripe];
        s.billing.stripe_webhook_secret = Some(SECRET.to_owned().into());
        s.billing.stripe_secret_key = Some("sk_test_zinovia".to_owned().into());
        s.billing.stripe_api_base = base.parse().unwrap();
        s.billing.platform_fee_percent = 20;
    })
    .await
}

/// Sets a creator's profile fields (handle, price, currency, trial).
async fn profile(app: &TestApp, c: &Member, handle: &str, currency: &str, trial_days: i64) {
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&c.token),
        Some(
            json!({"handle": handle, "display_name": "Ada", "price_minor": 999,
                    "currency": currency, "trial_days": trial_days}),
        ),
    )
    .await;
    assert!(status.is_success(), "{body}");
}

// --- 1. Closing accounts -------------------------------------------------------------

/// A creator with subscribers, a buyer and a fan in the middle of a checkout deletes the
/// account: at once nothing of theirs is served or sold to anyone, the subscriber's access
/// ends; jobs cancel the subscription at the rail and remove every file from storage; the
/// test clock renews nothing; the money already earned stays in the ledger.
async fn a_deleted_creator_is_taken_down_everywhere(app: TestApp) {
    let db = &app.state.db;
    // Under a handle given up before: it redirects while the account lives.
    let c = creator(&app, "leaving_before").await;
    profile(&app, &c, "leaving", "USD", 0).await;
    assert_eq!(
        app.get("/api/v1/creators/leaving_before").await.status(),
        StatusCode::MOVED_PERMANENTLY
    );
    let mut photos = Vec::new();
    for name in ["a.jpg", "b.jpg"] {
        photos.push(upload(&app, &c.token, "image", "image/jpeg", name, jpeg(640, 480)).await);
    }
    jobs(&app).await;
    let public = post(
        &app,
        &c,
        json!({"text": "hello", "media_ids": [photos[0]], "visibility": "public"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ppv = post(
        &app,
        &c,
        json!({"text": "paid", "media_ids": [photos[1]], "visibility": "ppv", "price_minor": 1500}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let subscriber = member(&app, Role::Fan).await;
    let buyer = member(&app, Role::Fan).await;
    let pending = member(&app, Role::Fan).await;
    let stranger = member(&app, Role::Fan).await;
    subscribe(&app, &subscriber, "leaving").await;
    let (_, bought) = start(&app, &buyer, json!({"kind": "ppv", "post_id": ppv})).await;
    click(&app, &buyer, &bought, "pay").await;
    let (status, open) = start(&app, &pending, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    assert!(sees(&app, "leaving", &subscriber, &subs_only).await);
    assert!(sees(&app, "leaving", &buyer, &ppv).await);
    let money = ledger(db, c.id).await;
    assert_eq!(money.len(), 2, "a subscription and a purchase: {money:?}");
    for id in &photos {
        assert!(!objects_of(&app, id).await.is_empty(), "{id} is stored");
    }

    delete_account(&app, &c).await;

    // At once, before any job ran: nothing of theirs is served, to anyone.
    for id in [&public, &ppv, &subs_only] {
        for token in [
            None,
            Some(subscriber.token.as_str()),
            Some(buyer.token.as_str()),
        ] {
            let (status, body) = call(
                &app,
                Method::GET,
                &format!("/api/v1/posts/{id}"),
                token,
                None,
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "post {id}: {body}");
        }
    }
    for id in &photos {
        for token in [None, Some(buyer.token.as_str())] {
            let (status, body) = call(
                &app,
                Method::GET,
                &format!("/api/v1/media/{id}/url?variant=thumb.webp"),
                token,
                None,
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "media {id}: {body}");
        }
    }
    for path in [
        "/api/v1/creators/leaving",
        "/api/v1/creators/leaving/posts",
        "/api/v1/creators/leaving_before",
        "/leaving",
        "/leaving_before",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Nothing can be bought, not even through a checkout opened before.
    let (status, body) = start(&app, &stranger, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["post_id"].is_array(), "{body}");
    let (status, body) = start(
        &app,
        &stranger,
        json!({"kind": "subscription", "creator": "leaving"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = click(&app, &pending, &open, "pay").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        count(db, "select count(*) from checkouts where status = 'open'").await,
        0
    );
    let kept: (String, String, Option<String>) = sqlx::query_as(
        "select display_name, bio, welcome_message from creators where user_id = $1",
    )
    .bind(c.id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(
        kept,
        ("Deleted creator".to_owned(), String::new(), None),
        "the profile is cleared"
    );
    // The subscription stopped granting at once...
    assert_eq!(
        my_subscription(&app, &subscriber, "leaving").await["access"],
        false
    );

    // ...and the jobs cancel it at the rail and delete every file.
    jobs(&app).await;
    assert_eq!(statuses(&app, subscriber.id).await, ["canceled"]);
    for id in &photos {
        assert!(objects_of(&app, id).await.is_empty(), "{id} was deleted");
    }
    assert_eq!(
        count(
            db,
            &format!(
                "select count(*) from media_assets where owner_id = '{}'",
                c.id
            )
        )
        .await,
        0
    );
    // It never renews; the money already earned stays.
    let (status, passed) = clock(&app, Some(&stranger), json!(31)).await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(passed["renewed"], 0, "{passed}");
    assert_eq!(ledger(db, c.id).await, money);
    assert_eq!(
        cancel(&app, &subscriber, "leaving").await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_deleted_creator_is_taken_down_at_once_on_local_storage() {
    a_deleted_creator_is_taken_down_everywhere(TestApp::spawn().await).await;
}

#[tokio::test]
async fn a_deleted_creator_is_taken_down_at_once_on_s3() {
    let s3 = S3Server::start().await;
    a_deleted_creator_is_taken_down_everywhere(TestApp::spawn_s3(&s3, |_| {}).await).await;
}

#[tokio::test]
async fn a_deleted_fan_is_never_charged_again() {
    let app = simulated_app().await;
    let db = &app.state.db;
    creator(&app, "kept_creator").await;
    let (leaving, staying) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    subscribe(&app, &leaving, "kept_creator").await;
    subscribe(&app, &staying, "kept_creator").await;
    let (status, open) = start(
        &app,
        &leaving,
        json!({"kind": "tip", "creator": "kept_creator", "amount_minor": 500}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{open}");

    delete_account(&app, &leaving).await;
    assert_eq!(
        count(db, "select count(*) from checkouts where status = 'open'").await,
        0,
        "the fan's open checkout is closed"
    );
    jobs(&app).await;
    assert_eq!(statuses(&app, leaving.id).await, ["canceled"]);
    assert_eq!(statuses(&app, staying.id).await, ["active"]);

    let (status, passed) = clock(&app, Some(&staying), json!(31)).await;
    assert_eq!(status, StatusCode::OK, "{passed}");
    assert_eq!(passed["renewed"], 1, "{passed}");
    let charged = |fan: Uuid| format!("select count(*) from ledger_entries where fan_id = '{fan}'");
    assert_eq!(
        count(db, &charged(leaving.id)).await,
        1,
        "only the first month"
    );
    assert_eq!(
        count(db, &charged(staying.id)).await,
        2,
        "the first month and a renewal"
    );
}

#[tokio::test]
async fn on_stripe_closing_an_account_cancels_its_subscriptions_and_expires_its_checkouts_there() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let c = creator(&app, "stripe_leaving").await;
    let (a, b, pending) = (
        member(&app, Role::Fan).await,
        member(&app, Role::Fan).await,
        member(&app, Role::Fan).await,
    );
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    for (sub, fan) in [("sub_a", &a), ("sub_b", &b)] {
        deliver(
            &app,
            &event(
                &format!("evt_{sub}"),
                "customer.subscription.created",
                now,
                subscription(sub, "active", fan, &c, end),
            ),
        )
        .await;
    }
    let (status, open) = start(
        &app,
        &pending,
        json!({"kind": "subscription", "creator": "stripe_leaving"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    let session = fake.calls().last().unwrap().clone();
    assert_eq!(session.path, "/v1/checkout/sessions");
    let session_id = format!("cs_test_{}", fake.calls().len());

    delete_account(&app, &c).await;
    jobs(&app).await;
    let mut canceled: Vec<String> = fake
        .calls()
        .iter()
        .filter(|k| k.method == "DELETE")
        .map(|k| k.path.clone())
        .collect();
    canceled.sort();
    assert_eq!(
        canceled,
        ["/v1/subscriptions/sub_a", "/v1/subscriptions/sub_b"]
    );
    let expire = fake
        .calls()
        .into_iter()
        .find(|k| k.path.ends_with("/expire"))
        .expect("the open session is expired at Stripe");
    assert_eq!(
        expire.path,
        format!("/v1/checkout/sessions/{session_id}/expire")
    );
    assert_eq!(expire.method, "POST");
    // Stripe confirms through the webhook path; the rows end.
    for (sub, fan) in [("sub_a", &a), ("sub_b", &b)] {
        deliver(
            &app,
            &event(
                &format!("evt_{sub}_end"),
                "customer.subscription.deleted",
                now + 1,
                subscription(sub, "canceled", fan, &c, now + 1),
            ),
        )
        .await;
        assert_eq!(statuses(&app, fan.id).await, ["canceled"]);
    }

    // A fan who deletes their account: canceled at Stripe too, and a subscription of theirs
    // that Stripe tells us about only afterwards is canceled as soon as we hear of it.
    let c2 = creator(&app, "stripe_staying").await;
    let d = member(&app, Role::Fan).await;
    deliver(
        &app,
        &event(
            "evt_sub_d",
            "customer.subscription.created",
            now,
            subscription("sub_d", "active", &d, &c2, end),
        ),
    )
    .await;
    delete_account(&app, &d).await;
    jobs(&app).await;
    deliver(
        &app,
        &event(
            "evt_sub_late",
            "customer.subscription.created",
            now + 5,
            subscription("sub_late", "active", &d, &c2, end),
        ),
    )
    .await;
    let deleted: Vec<String> = fake
        .calls()
        .iter()
        .filter(|k| k.method == "DELETE")
        .map(|k| k.path.clone())
        .collect();
    assert!(
        deleted.contains(&"/v1/subscriptions/sub_d".to_owned())
            && deleted.contains(&"/v1/subscriptions/sub_late".to_owned()),
        "{deleted:?}"
    );
    assert_eq!(deleted.len(), 4, "each once: {deleted:?}");
}

// --- 2. A trial once per fan and creator ----------------------------------------------

#[tokio::test]
async fn a_free_trial_is_given_once_per_fan_and_creator() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "trial_once").await;
    profile(&app, &c, "trial_once", "USD", 7).await;
    let fan = member(&app, Role::Fan).await;
    // Two checkouts opened before either is paid: only the newest can be paid, so the trial
    // decided at their start is collected once.
    let body = json!({"kind": "subscription", "creator": "trial_once"});
    let (_, older) = start(&app, &fan, body.clone()).await;
    let (_, newer) = start(&app, &fan, body).await;
    let (status, _) = click(&app, &fan, &newer, "pay").await;
    assert_eq!(status, StatusCode::OK);
    let (status, replaced) = click(&app, &fan, &older, "pay").await;
    assert_eq!(status, StatusCode::CONFLICT, "{replaced}");
    assert_eq!(statuses(&app, fan.id).await, ["trialing"]);
    assert_eq!(
        my_subscription(&app, &fan, "trial_once").await["status"],
        "trialing"
    );
    assert!(ledger(db, c.id).await.is_empty(), "a trial costs nothing");
    assert_eq!(cancel(&app, &fan, "trial_once").await, StatusCode::ACCEPTED);
    let (_, passed) = clock(&app, Some(&fan), json!(8)).await;
    assert_eq!(passed["ended"], 1, "{passed}");
    assert_eq!(
        my_subscription(&app, &fan, "trial_once").await["access"],
        false
    );

    // Back again: no second trial, the first month is paid at once.
    let (status, page) = crate::pages::page_as(&app, Some(&fan.token), "/trial_once").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("days are free"), "no trial promised again");
    subscribe(&app, &fan, "trial_once").await;
    let mine = my_subscription(&app, &fan, "trial_once").await;
    assert_eq!(
        (mine["status"].as_str(), mine["access"].as_bool()),
        (Some("active"), Some(true))
    );
    let money = ledger(db, c.id).await;
    assert_eq!(money.len(), 1, "{money:?}");
    assert_eq!((money[0].0.as_str(), money[0].1), ("subscription", 999));
    assert_eq!(
        statuses(&app, fan.id).await,
        ["canceled", "active"],
        "history kept"
    );
    // Someone new still gets the trial.
    let newcomer = member(&app, Role::Fan).await;
    subscribe(&app, &newcomer, "trial_once").await;
    assert_eq!(
        my_subscription(&app, &newcomer, "trial_once").await["status"],
        "trialing"
    );
}

#[tokio::test]
async fn on_stripe_a_returning_fan_is_sent_without_a_trial() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let c = creator(&app, "stripe_trial").await;
    profile(&app, &c, "stripe_trial", "USD", 7).await;
    let fan = member(&app, Role::Fan).await;
    let body = json!({"kind": "subscription", "creator": "stripe_trial"});
    let (status, _) = start(&app, &fan, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let first = fake.calls().last().unwrap().clone();
    assert_eq!(first.get("subscription_data[trial_period_days]"), Some("7"));
    let now = Utc::now().timestamp();
    deliver(
        &app,
        &event(
            "evt_t1",
            "customer.subscription.created",
            now - 100,
            subscription("sub_t", "trialing", &fan, &c, now + 7 * 86400),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_t2",
            "customer.subscription.deleted",
            now - 50,
            subscription("sub_t", "canceled", &fan, &c, now - 50),
        ),
    )
    .await;
    let (status, _) = start(&app, &fan, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = fake.calls().last().unwrap().clone();
    assert_eq!(second.path, "/v1/checkout/sessions");
    assert_eq!(second.get("subscription_data[trial_period_days]"), None);
    assert_eq!(
        sqlx::query_scalar::<_, i32>(
            "select trial_days from checkouts where fan_id = $1 order by created_at"
        )
        .bind(fan.id)
        .fetch_all(&app.state.db)
        .await
        .unwrap(),
        [7, 0]
    );
}

// --- 3. Subscriptions are the rail's, kept as history -----------------------------------

#[tokio::test]
async fn on_stripe_a_late_event_about_an_old_subscription_never_touches_the_new_one() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let c = creator(&app, "late_events").await;
    let fan = member(&app, Role::Fan).await;
    let post_id = locked_post(&app, &c, "subscribers").await;
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    let send = |id: &str, kind: &str, at: i64, sub: &str, status: &str, period_end: i64| {
        event(
            id,
            kind,
            at,
            subscription(sub, status, &fan, &c, period_end),
        )
    };
    deliver(
        &app,
        &send(
            "e1",
            "customer.subscription.created",
            now - 300,
            "sub_old",
            "active",
            end,
        ),
    )
    .await;
    deliver(
        &app,
        &send(
            "e2",
            "customer.subscription.deleted",
            now - 200,
            "sub_old",
            "canceled",
            now - 200,
        ),
    )
    .await;
    assert!(!sees(&app, "late_events", &fan, &post_id).await);
    deliver(
        &app,
        &send(
            "e3",
            "customer.subscription.created",
            now - 100,
            "sub_new",
            "active",
            end,
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "e4",
            "invoice.paid",
            now - 100,
            invoice("in_new", "sub_new", "ch_new", 999, end),
        ),
    )
    .await;
    assert!(sees(&app, "late_events", &fan, &post_id).await);
    // Events about the old subscription, newer than anything about the new one.
    deliver(
        &app,
        &send(
            "e5",
            "customer.subscription.updated",
            now,
            "sub_old",
            "canceled",
            now - 200,
        ),
    )
    .await;
    deliver(
        &app,
        &send(
            "e6",
            "customer.subscription.deleted",
            now + 10,
            "sub_old",
            "canceled",
            now - 200,
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "e7",
            "invoice.payment_failed",
            now + 20,
            invoice("in_old", "sub_old", "ch_old", 999, end),
        ),
    )
    .await;
    assert!(sees(&app, "late_events", &fan, &post_id).await);
    assert_eq!(statuses(&app, fan.id).await, ["canceled", "active"]);
    assert_eq!(
        my_subscription(&app, &fan, "late_events").await["status"],
        "active"
    );
    // Cancelling now reaches the live subscription at Stripe, not the old one.
    assert_eq!(
        cancel(&app, &fan, "late_events").await,
        StatusCode::ACCEPTED
    );
    let paths: Vec<String> = fake.calls().iter().map(|k| k.path.clone()).collect();
    assert_eq!(paths, ["/v1/subscriptions/sub_new"]);
}

#[tokio::test]
async fn on_the_simulated_rail_a_late_event_about_an_ended_subscription_leaves_the_new_one() {
    let app = simulated_app().await;
    let c = creator(&app, "sim_late").await;
    let fan = member(&app, Role::Fan).await;
    let post_id = locked_post(&app, &c, "subscribers").await;
    let first = subscribe(&app, &fan, "sim_late").await;
    assert_eq!(cancel(&app, &fan, "sim_late").await, StatusCode::ACCEPTED);
    clock(&app, Some(&fan), json!(31)).await;
    assert!(!sees(&app, "sim_late", &fan, &post_id).await);
    subscribe(&app, &fan, "sim_late").await;
    assert!(sees(&app, "sim_late", &fan, &post_id).await);

    // The rail redelivers the old subscription's end, later than the new one began.
    let old = format!(
        "sub_sim_{}",
        Uuid::parse_str(first["checkout_id"].as_str().unwrap())
            .unwrap()
            .simple()
    );
    let later = Utc::now().timestamp() + 60;
    let body = serde_json::to_vec(&json!({"id": "evt_sim_late", "object": "event",
        "type": "customer.subscription.deleted", "created": later,
        "data": {"object": {"id": old, "object": "subscription", "status": "canceled",
            "cancel_at_period_end": true,
            "metadata": {"fan_id": fan.id.to_string(), "creator_id": c.id.to_string()},
            "items": {"data": [{"current_period_end": later}]}}}}))
    .unwrap();
    let secret = zinovia::billing::webhook_secret(&app.state, Provider::Simulated).unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/billing/webhooks/simulated", app.base))
        .header(
            "stripe-signature",
            signature::header(&secret, Utc::now().timestamp(), &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    jobs(&app).await;
    assert!(sees(&app, "sim_late", &fan, &post_id).await);
    assert_eq!(statuses(&app, fan.id).await, ["canceled", "active"]);
}

// --- 4. Return paths stay on this site ------------------------------------------------------

#[tokio::test]
async fn next_never_leaves_the_site_nor_breaks_the_page() {
    let app = TestApp::spawn().await;
    let email = unique_email("next");
    app.sign_up(&email, PASSWORD).await;
    let cases = [
        ("/\t/evil.example", "/account"),
        ("/\r\n/x", "/account"),
        ("//evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("https://evil.example/", "/account"),
        ("/feed?x=1", "/feed?x=1"),
    ];
    for (next, to) in cases {
        let query: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let b = browser();
        let (status, html) = page(&b, &app, &format!("/login?next={query}")).await;
        assert_eq!(status, StatusCode::OK, "{next:?}");
        assert!(
            html.contains(&format!(
                "name=\"next\" value=\"{}\"",
                to.replace('&', "&amp;")
            )),
            "{next:?} should become {to:?}"
        );
        let csrf = csrf_of(&html);
        let r = post_form(
            &b,
            &app,
            "/login",
            &[
                ("csrf_token", &csrf),
                ("email", &email),
                ("password", PASSWORD),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(r.headers()["location"], to, "{next:?}");
    }
}

// --- 5. Nothing that depends on the viewer is cacheable by shared caches ------------------

#[tokio::test]
async fn per_viewer_answers_are_private_and_no_store_and_assets_are_cached_for_long() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "cached_one").await;
    let public = locked_post(&app, &c, "public").await;
    let fan = member(&app, Role::Fan).await;
    let check = |r: &reqwest::Response, what: &str| {
        let cc = r
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(cc, "private, no-store", "{what}");
    };
    for path in [
        "/".to_owned(),
        "/explore".to_owned(),
        "/cached_one".to_owned(),
        format!("/posts/{public}"),
        "/login".to_owned(),
        "/api/v1/explore".to_owned(),
        "/api/v1/creators/cached_one".to_owned(),
        "/api/v1/creators/cached_one/posts".to_owned(),
        format!("/api/v1/posts/{public}"),
        format!("/api/v1/posts/{}", Uuid::now_v7()),
    ] {
        let r = app.get(&path).await;
        check(&r, &format!("anonymous {path}"));
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&fan.token)
            .send()
            .await
            .unwrap();
        check(&r, &format!("signed in {path}"));
    }
    for path in [
        "/feed",
        "/account",
        "/account/subscriptions",
        "/api/v1/feed",
        "/api/v1/auth/me",
        "/api/v1/me/subscriptions",
    ] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&fan.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        check(&r, path);
    }
    let r = app.get(&zinovia::assets::url("app.js")).await;
    let cc = r.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cc.contains("public") && cc.contains("immutable"), "{cc}");
}

// --- 6. Passwords: the link is checked first, attempts are limited ------------------------

#[tokio::test]
async fn bogus_reset_confirmations_cost_no_hashing_and_are_throttled_like_password_checks() {
    // The test is the trusted proxy that names each request's client.
    let app =
        TestApp::spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()])
            .await;
    let before = app.state.passwords.runs();
    let mut answers = Vec::new();
    for _ in 0..60 {
        let r = app
            .client
            .post(format!("{}/api/v1/auth/password-reset/confirm", app.base))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&json!({"token": zinovia::crypto::random_token(),
                          "new_password": "a brand new passphrase"}))
            .send()
            .await
            .unwrap();
        answers.push(r.status().as_u16());
    }
    assert_eq!(
        app.state.passwords.runs(),
        before,
        "no Argon2 for a bad link"
    );
    assert!(answers[..10].iter().all(|s| *s == 422), "{answers:?}");
    assert!(answers[10..].iter().all(|s| *s == 429), "{answers:?}");
    // Another address is not affected.
    let r = app
        .client
        .post(format!("{}/api/v1/auth/password-reset/confirm", app.base))
        .header("x-forwarded-for", "198.51.100.8")
        .json(&json!({"token": "not-a-real-token", "new_password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Password changes and deletions are limited per account, whatever the address.
    let who = member(&app, Role::Fan).await;
    let mut answers = Vec::new();
    for i in 0..12 {
        let (method, path, body) = if i % 2 == 0 {
            (
                Method::POST,
                "/api/v1/auth/password",
                json!({"current_password": "not my password at all", "new_password": "another fine passphrase"}),
            )
        } else {
            (
                Method::DELETE,
                "/api/v1/auth/me",
                json!({"password": "not my password at all"}),
            )
        };
        let r = app
            .client
            .request(method, format!("{}{path}", app.base))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .bearer_auth(&who.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        answers.push(r.status().as_u16());
    }
    assert!(answers[..10].iter().all(|s| *s == 422), "{answers:?}");
    assert!(answers[10..].iter().all(|s| *s == 429), "{answers:?}");
}

// --- 7. Every cancel is its own action at Stripe ------------------------------------------

#[tokio::test]
async fn on_stripe_each_cancel_carries_its_own_idempotency_key() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let c = creator(&app, "cancel_twice").await;
    let fan = member(&app, Role::Fan).await;
    let now = Utc::now().timestamp();
    let end = now + 30 * 86400;
    deliver(
        &app,
        &event(
            "evt_c1",
            "customer.subscription.created",
            now - 100,
            subscription("sub_twice", "active", &fan, &c, end),
        ),
    )
    .await;
    assert_eq!(
        cancel(&app, &fan, "cancel_twice").await,
        StatusCode::ACCEPTED
    );
    let mut canceled = subscription("sub_twice", "active", &fan, &c, end);
    canceled["cancel_at_period_end"] = json!(true);
    deliver(
        &app,
        &event(
            "evt_c2",
            "customer.subscription.updated",
            now - 50,
            canceled,
        ),
    )
    .await;
    // The fan resumes in Stripe's portal, then cancels again the same day.
    deliver(
        &app,
        &event(
            "evt_c3",
            "customer.subscription.updated",
            now - 10,
            subscription("sub_twice", "active", &fan, &c, end),
        ),
    )
    .await;
    assert_eq!(
        cancel(&app, &fan, "cancel_twice").await,
        StatusCode::ACCEPTED
    );
    let keys: Vec<String> = fake
        .calls()
        .iter()
        .filter(|k| k.path == "/v1/subscriptions/sub_twice" && k.method == "POST")
        .map(|k| k.idempotency.clone())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_ne!(
        keys[0], keys[1],
        "a second cancel is a new request at Stripe"
    );
}

// --- 8. A pay-per-view post costs what it shows ------------------------------------------

#[tokio::test]
async fn a_ppv_post_is_sold_in_its_own_currency_and_a_paid_amount_must_match_the_checkout() {
    // The simulated rail.
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "ppv_currency").await;
    let ppv = locked_post(&app, &c, "ppv").await;
    profile(&app, &c, "ppv_currency", "EUR", 0).await;
    let (status, edited) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{ppv}"),
        Some(&c.token),
        Some(json!({"text": "a typo fixed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (_, shown) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{ppv}"),
        None,
        None,
    )
    .await;
    assert_eq!(shown["price"]["currency"], "USD", "{shown}");
    let fan = member(&app, Role::Fan).await;
    let (status, checkout) = start(&app, &fan, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    click(&app, &fan, &checkout, "pay").await;
    let row: (i32, String) =
        sqlx::query_as("select amount_minor, currency from checkouts where fan_id = $1")
            .bind(fan.id)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(row, (1500, "USD".to_owned()));
    let paid: (i64, String) = sqlx::query_as(
        "select gross_minor, currency from ledger_entries where creator_id = $1 and kind = 'ppv'",
    )
    .bind(c.id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(paid, (1500, "USD".to_owned()));

    // Stripe: the session asks the post's currency; an event paying something else is refused.
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake).await;
    let db = &app.state.db;
    let c = creator(&app, "ppv_stripe").await;
    let ppv = locked_post(&app, &c, "ppv").await;
    profile(&app, &c, "ppv_stripe", "GBP", 0).await;
    let (cheat, honest) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    let mut ids = Vec::new();
    for fan in [&cheat, &honest] {
        let (status, checkout) = start(&app, fan, json!({"kind": "ppv", "post_id": ppv})).await;
        assert_eq!(status, StatusCode::CREATED, "{checkout}");
        let session = fake.calls().last().unwrap().clone();
        assert_eq!(
            session.get("line_items[0][price_data][currency]"),
            Some("usd")
        );
        assert_eq!(
            session.get("line_items[0][price_data][unit_amount]"),
            Some("1500")
        );
        ids.push(checkout["checkout_id"].as_str().unwrap().to_owned());
    }
    let now = Utc::now().timestamp();
    let completed = |checkout: &str, amount: i64, currency: &str| {
        json!({"id": format!("cs_{checkout}"), "object": "checkout.session", "client_reference_id": checkout,
               "customer": "cus_x", "payment_intent": format!("pi_{checkout}"), "payment_status": "paid",
               "status": "complete", "mode": "payment", "amount_total": amount, "currency": currency})
    };
    deliver(
        &app,
        &event(
            "evt_cheat",
            "checkout.session.completed",
            now,
            completed(&ids[0], 100, "usd"),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_fx",
            "checkout.session.completed",
            now,
            completed(&ids[1], 1500, "gbp"),
        ),
    )
    .await;
    assert!(!sees(&app, "ppv_stripe", &cheat, &ppv).await);
    assert!(!sees(&app, "ppv_stripe", &honest, &ppv).await);
    assert!(
        ledger(db, c.id).await.is_empty(),
        "nothing earned from a mismatch"
    );
    assert_eq!(
        count(
            db,
            "select count(*) from checkouts where status = 'refused'"
        )
        .await,
        2
    );
    // The right amount in the right currency unlocks.
    let (_, again) = start(&app, &honest, json!({"kind": "ppv", "post_id": ppv})).await;
    let id = again["checkout_id"].as_str().unwrap();
    deliver(
        &app,
        &event(
            "evt_ok",
            "checkout.session.completed",
            now,
            completed(id, 1500, "usd"),
        ),
    )
    .await;
    assert!(sees(&app, "ppv_stripe", &honest, &ppv).await);
    assert_eq!(ledger(db, c.id).await.len(), 1);
}

// --- 9. Storage quota and profile images --------------------------------------------------

async fn upload_intent(app: &TestApp, token: &str, byte_size: i64) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/media/uploads",
        Some(token),
        &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": byte_size, "filename": "x.jpg"}),
    )
    .await
}

/// Uploads a real photo as an avatar or banner and lets the worker process it.
async fn profile_image(app: &TestApp, who: &Member, purpose: &str) -> String {
    let bytes = jpeg(400, 400);
    let (status, body) = app
        .post_json(
            "/api/v1/media/uploads",
            Some(&who.token),
            &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": bytes.len(),
                    "filename": "me.jpg", "purpose": purpose}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["asset_id"].as_str().unwrap().to_owned();
    let mut req = reqwest::Client::new().put(body["upload"]["url"].as_str().unwrap());
    for (k, v) in body["upload"]["headers"].as_object().unwrap() {
        if k != "content-length" {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
    }
    assert!(req.body(bytes).send().await.unwrap().status().is_success());
    let (status, _) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(&who.token),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    jobs(app).await;
    id
}

#[tokio::test]
async fn storage_is_limited_per_account_and_profile_images_are_kept_only_while_used() {
    let app = TestApp::spawn_with(|s| s.media.media_storage_quota_bytes = 200_000).await;
    let c = creator(&app, "quota_keeper").await;
    let (status, first) = upload_intent(&app, &c.token, 150_000).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, usage) = app.get_auth("/api/v1/media/usage", &c.token).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(
        usage,
        json!({"used_bytes": 150_000, "quota_bytes": 200_000})
    );
    let (status, refused) = upload_intent(&app, &c.token, 60_000).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quota"),
        "{refused}"
    );
    let (_, html) = crate::pages::page_as(&app, Some(&c.token), "/dashboard/compose").await;
    assert!(
        html.contains("Storage used: 150.0 kB of 200.0 kB"),
        "the composer shows it"
    );
    // Uploads asked at the same moment cannot pass the quota together.
    let racer = creator(&app, "quota_racer").await;
    let answers =
        futures::future::join_all((0..8).map(|_| upload_intent(&app, &racer.token, 120_000))).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    let id = first["asset_id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/media/{id}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = upload_intent(&app, &c.token, 60_000).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "room again after a deletion: {body}"
    );

    // Profile images: a replaced avatar goes; one never used goes after a while.
    let app = TestApp::spawn().await;
    let c = creator(&app, "avatar_keeper").await;
    let set_avatar = |id: String| {
        let app = &app;
        let token = c.token.clone();
        async move {
            let (status, body) = call(
                app,
                Method::PUT,
                "/api/v1/me/creator",
                Some(&token),
                Some(
                    json!({"handle": "avatar_keeper", "display_name": "Ada", "price_minor": 999,
                            "currency": "USD", "avatar_id": id}),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    let first = profile_image(&app, &c, "avatar").await;
    set_avatar(first.clone()).await;
    let second = profile_image(&app, &c, "avatar").await;
    set_avatar(second.clone()).await;
    let (status, _) = app
        .get_auth(&format!("/api/v1/media/{first}"), &c.token)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the replaced avatar is gone at once"
    );
    jobs(&app).await;
    assert!(objects_of(&app, &first).await.is_empty());
    assert!(!objects_of(&app, &second).await.is_empty());
    let unused = profile_image(&app, &c, "banner").await;
    sqlx::query("update media_assets set created_at = now() - interval '2 days'")
        .execute(&app.state.db)
        .await
        .unwrap();
    zinovia::jobs::enqueue(&app.state.db, &zinovia::media::AbandonStaleUploads)
        .await
        .unwrap();
    jobs(&app).await;
    assert!(
        objects_of(&app, &unused).await.is_empty(),
        "an unused banner is deleted"
    );
    let (status, _) = app
        .get_auth(&format!("/api/v1/media/{second}"), &c.token)
        .await;
    assert_eq!(status, StatusCode::OK, "the avatar in use stays");
}

// --- 10. Counts follow the one rule --------------------------------------------------------

#[tokio::test]
async fn subscriber_counts_and_popular_ranking_follow_the_entitlement_rule() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let (x, y) = (
        creator(&app, "counted_x").await,
        creator(&app, "counted_y").await,
    );
    locked_post(&app, &x, "public").await;
    locked_post(&app, &y, "public").await;
    let now = Utc::now();
    // X: two who really have access (paid; past due within the 3-day grace).
    let grants = [
        (&x, "active", None),
        (&x, "past_due", Some(now - Days::days(1))),
        // Y: three who do not (past due beyond the grace; revoked).
        (&y, "past_due", Some(now - Days::days(5))),
        (&y, "past_due", Some(now - Days::days(6))),
        (&y, "active", None),
    ];
    for (c, status, since) in grants {
        let fan = member(&app, Role::Fan).await;
        grant_subscription(db, fan.id, c.id, status, now + Days::days(20), since)
            .await
            .unwrap();
    }
    sqlx::query(
        "update subscriptions set revoked_at = now() where creator_id = $1 and status = 'active'",
    )
    .bind(y.id)
    .execute(db)
    .await
    .unwrap();
    for (c, handle, n) in [(&x, "counted_x", 2), (&y, "counted_y", 0)] {
        let (_, profile) = app
            .get_auth(&format!("/api/v1/creators/{handle}"), &c.token)
            .await;
        assert_eq!(profile["counts"]["subscribers"], n, "{handle}: {profile}");
        let (_, earnings) = app.get_auth("/api/v1/me/creator/earnings", &c.token).await;
        assert_eq!(earnings["subscribers"], n, "{handle}: {earnings}");
    }
    let (_, explore) = app.get_json("/api/v1/explore?sort=popular").await;
    let ranked: Vec<(String, i64)> = explore["creators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["handle"].as_str().unwrap().to_owned(),
                c["subscribers"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [("counted_x".to_owned(), 2), ("counted_y".to_owned(), 0)]
    );
}

#[tokio::test]
async fn the_one_definition_of_a_subscription_that_grants() {
    let app = TestApp::spawn().await;
    let grace = "interval '72 hours'";
    for (status, end_h, past_due_h_ago, revoked, grants) in [
        ("active", 1, None, false, true),
        ("trialing", 1, None, false, true),
        ("active", -1, None, false, false),
        ("past_due", 24, Some(24), false, true),
        ("past_due", 24, Some(100), false, false),
        ("past_due", 24, None, false, false),
        ("canceled", 24, None, false, false),
        ("unpaid", 24, None, false, false),
        ("incomplete", 24, None, false, false),
        ("incomplete_expired", 24, None, false, false),
        ("paused", 24, None, false, false),
        ("active", 24, None, true, false),
    ] {
        let since = past_due_h_ago.map_or("null".to_owned(), |h| {
            format!("now() - interval '{h} hours'")
        });
        let revoked_at = if revoked { "now()" } else { "null" };
        let sql = format!(
            "select subscription_grants('{status}', now() + interval '{end_h} hours', {since}, {revoked_at}, {grace}, now())"
        );
        let got: bool = sqlx::query_scalar(&sql)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(
            got, grants,
            "{status} {end_h}h {past_due_h_ago:?} revoked={revoked}"
        );
    }
}

// --- 11. Typed jobs keep their priority ---------------------------------------------------

#[tokio::test]
async fn processing_is_queued_with_the_jobs_own_priority() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "prioritised").await;
    let id = upload(&app, &c.token, "image", "image/jpeg", "p.jpg", jpeg(64, 64)).await;
    let (kind, priority, attempts): (String, i16, i32) = sqlx::query_as(
        "select kind, priority, max_attempts from jobs where payload->>'asset_id' = $1",
    )
    .bind(&id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(kind, zinovia::media::ProcessMedia::KIND);
    assert_eq!(priority, zinovia::media::ProcessMedia::PRIORITY);
    assert_eq!(attempts, zinovia::media::ProcessMedia::MAX_ATTEMPTS);
    assert!(priority > 0, "ahead of the default");
}

// --- 12. The OpenAPI document says what the server does -----------------------------------

#[tokio::test]
async fn every_operation_declares_the_common_errors_and_schemas_state_the_real_limits() {
    let app = TestApp::spawn_with(|s| {
        s.content.creator_price_min = 400;
        s.content.creator_price_max = 9_000;
        s.content.currencies = vec!["EUR".into(), "USD".into()];
    })
    .await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            operations += 1;
            let has = |code: &str| {
                responses.get(code).is_some_and(|r| {
                    r["content"]["application/json"]["schema"].is_object()
                        || r["content"].as_object().is_some_and(|c| !c.is_empty())
                })
            };
            let what = format!("{method} {path}");
            for code in ["500", "503"] {
                assert!(has(code), "{what} lacks {code}");
            }
            if path.starts_with("/api/") {
                for code in ["400", "429"] {
                    assert!(has(code), "{what} lacks {code}");
                }
            }
            if op["requestBody"].is_object() {
                for code in ["413", "415", "422"] {
                    assert!(has(code), "{what} lacks {code}");
                }
            }
            let secured = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            if secured {
                assert!(has("401"), "{what} lacks 401");
            }
            if path.starts_with("/api/") && method != "get" {
                assert!(has("403"), "{what} lacks 403");
            }
        }
    }
    assert!(operations > 40, "{operations}");
    let schema =
        |name: &str, field: &str| doc["components"]["schemas"][name]["properties"][field].clone();
    let password = schema("SignUpRequest", "password");
    assert_eq!(
        (
            password["minLength"].as_i64(),
            password["maxLength"].as_i64()
        ),
        (Some(8), Some(1024))
    );
    assert!(
        doc["components"]["schemas"]["SignUpRequest"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("password")),
        "a field that must not be empty is required"
    );
    assert_eq!(
        schema("CreatorRequest", "handle")["pattern"],
        "^@?[A-Za-z0-9_]{3,30}$"
    );
    let price = schema("CreatorRequest", "price_minor");
    assert_eq!(
        (price["minimum"].as_i64(), price["maximum"].as_i64()),
        (Some(400), Some(9_000))
    );
    assert_eq!(
        schema("CreatorRequest", "currency")["enum"],
        json!(["EUR", "USD"])
    );
    assert_eq!(schema("CreatorRequest", "trial_days")["maximum"], 90);
    assert_eq!(
        schema("CheckoutRequest", "kind")["$ref"],
        "#/components/schemas/CheckoutKind"
    );
    assert_eq!(
        doc["components"]["schemas"]["CheckoutKind"]["enum"],
        json!(["subscription", "ppv", "tip", "message"])
    );
    assert_eq!(schema("SendRequest", "text")["maxLength"], 2000);
    assert_eq!(schema("SendRequest", "media_ids")["maxItems"], 20);
    assert_eq!(
        doc["components"]["schemas"]["Segment"]["enum"],
        json!(["active", "expired", "spenders", "buyers"])
    );
    assert!(schema("CheckoutRequest", "amount_minor")["minimum"].is_number());
    assert!(schema("PostRequest", "price_minor")["maximum"].is_number());
    assert_eq!(schema("PostRequest", "media_ids")["maxItems"], 20);
    assert!(schema("CreateUploadRequest", "byte_size")["maximum"].is_number());
    assert_eq!(schema("ClockRequest", "days")["maximum"], 400);
    let explore = &doc["paths"]["/api/v1/explore"]["get"]["parameters"];
    let sort = explore
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "sort")
        .unwrap();
    assert_eq!(sort["schema"]["enum"], json!(["newest", "popular"]));
    // What the document says is what the server does: a price below the served minimum is
    // refused, one at it is accepted.
    let c = member(&app, Role::Fan).await;
    for (price, ok) in [(399, false), (400, true)] {
        let (status, body) = call(&app, Method::PUT, "/api/v1/me/creator", Some(&c.token),
            Some(json!({"handle": "documented", "display_name": "Doc", "price_minor": price, "currency": "EUR"}))).await;
        assert_eq!(status.is_success(), ok, "{price}: {body}");
    }
}
