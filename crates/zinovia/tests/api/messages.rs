//! Messaging (ADR 0024, 0025): the entitlement matrix extended to messages (creator,
//! recipient fan, other fan, anonymous, admin × free / paid-locked / paid-unlocked /
//! refunded / unsent), unlocking on the simulated rail into the ledger, who may write to
//! whom, blocks, the welcome message once, tips in chat, mass messages delivered exactly
//! once with workers killed mid-send, and live delivery across two server processes.

use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use zinovia::accounts::Role;

use crate::billing::{click, clock, simulated_app, start};
use crate::helpers::{
    Member, Proc, TestApp, assert_error, call, creator, member, ready_photo, subscribe, wait_until,
    zinovia,
};

/// Opens the conversation of `creator` with `fan` (as the creator).
async fn conversation(app: &TestApp, creator: &Member, fan: &Member) -> String {
    let (status, conv) = call(
        app,
        Method::POST,
        "/api/v1/messages/conversations",
        Some(&creator.token),
        Some(json!({"fan_id": fan.id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{conv}");
    conv["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, who: &Member, conv: &str, body: Value) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        &format!("/api/v1/messages/conversations/{conv}/messages"),
        Some(&who.token),
        Some(body),
    )
    .await
}

async fn sent(app: &TestApp, who: &Member, conv: &str, body: Value) -> String {
    let (status, m) = send(app, who, conv, body).await;
    assert_eq!(status, StatusCode::CREATED, "{m}");
    m["id"].as_str().unwrap().to_owned()
}

async fn thread(app: &TestApp, who: Option<&Member>, conv: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::GET,
        &format!("/api/v1/messages/conversations/{conv}"),
        who.map(|m| m.token.as_str()),
        None,
    )
    .await
}

async fn media_url(app: &TestApp, who: Option<&Member>, asset: Uuid) -> StatusCode {
    call(
        app,
        Method::GET,
        &format!("/api/v1/media/{asset}/url?variant=grid.webp"),
        who.map(|m| m.token.as_str()),
        None,
    )
    .await
    .0
}

/// A fan's purchase of a message written as the rail's event would leave it.
async fn grant_message_purchase(db: &PgPool, fan: Uuid, message: &str, status: &str) {
    sqlx::query(
        r#"insert into message_purchases (id, fan_id, message_id, amount_minor, currency, status, provider, payment_id)
           select $1, $2, m.id, m.price_minor, m.currency, $4, 'simulated', 'pay_' || $1::text
           from messages m where m.id = $3::uuid"#,
    )
    .bind(Uuid::now_v7())
    .bind(fan)
    .bind(message)
    .bind(status)
    .execute(db)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_one_rule_decides_message_media_for_every_seat_and_state() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_matrix").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    let admin = member(&app, Role::Admin).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    subscribe(&app, &other, &c, "active", 30).await;
    let conv = conversation(&app, &c, &fan).await;

    let [free, locked, bought, refunded, unsent] = [(); 5].map(|()| Uuid::nil());
    let mut assets = [free, locked, bought, refunded, unsent];
    for a in &mut assets {
        *a = ready_photo(db, c.id).await;
    }
    let [free, locked, bought, refunded, unsent] = assets;
    let m_free = sent(
        &app,
        &c,
        &conv,
        json!({"text": "free one", "media_ids": [free]}),
    )
    .await;
    let m_locked = sent(
        &app,
        &c,
        &conv,
        json!({"text": "locked one", "media_ids": [locked], "price_minor": 500}),
    )
    .await;
    let m_bought = sent(
        &app,
        &c,
        &conv,
        json!({"text": "bought one", "media_ids": [bought], "price_minor": 700}),
    )
    .await;
    let m_refunded = sent(
        &app,
        &c,
        &conv,
        json!({"text": "refunded one", "media_ids": [refunded], "price_minor": 900}),
    )
    .await;
    let m_unsent = sent(
        &app,
        &c,
        &conv,
        json!({"text": "unsent one", "media_ids": [unsent]}),
    )
    .await;
    grant_message_purchase(db, fan.id, &m_bought, "paid").await;
    grant_message_purchase(db, fan.id, &m_refunded, "refunded").await;
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{m_unsent}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The creator sees everything, with URLs, and which were bought.
    let (status, t) = thread(&app, Some(&c), &conv).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let by_id = |t: &Value, id: &str| -> Option<Value> {
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
    };
    for (m, asset) in [
        (&m_free, free),
        (&m_locked, locked),
        (&m_bought, bought),
        (&m_refunded, refunded),
        (&m_unsent, unsent),
    ] {
        let v = by_id(&t, m).unwrap_or_else(|| panic!("creator misses {m}: {t}"));
        assert_eq!(v["locked"], false);
        assert_eq!(v["media"][0]["id"], asset.to_string());
        assert_eq!(media_url(&app, Some(&c), asset).await, StatusCode::OK);
    }
    assert_eq!(by_id(&t, &m_bought).unwrap()["unlocked_by_purchase"], true);
    assert_eq!(by_id(&t, &m_unsent).unwrap()["unsent"], true);

    // The recipient: free and bought unlocked; locked and refunded carry the price and the
    // placeholder only; the unsent one is gone. No id, key or URL of a locked one appears.
    let (status, t) = thread(&app, Some(&fan), &conv).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let text = t.to_string();
    for (m, asset, open) in [
        (&m_free, free, true),
        (&m_locked, locked, false),
        (&m_bought, bought, true),
        (&m_refunded, refunded, false),
    ] {
        let v = by_id(&t, m).unwrap_or_else(|| panic!("fan misses {m}: {t}"));
        assert_eq!(v["locked"], !open, "{v}");
        if open {
            assert!(
                v["media"][0]["variants"].as_array().unwrap().len() >= 3,
                "{v}"
            );
            assert_eq!(media_url(&app, Some(&fan), asset).await, StatusCode::OK);
        } else {
            assert!(v["media"][0].get("id").is_none(), "{v}");
            assert_eq!(v["media"][0]["variants"], json!([]));
            assert!(v["price"]["amount_minor"].as_i64().unwrap() > 0);
            assert_eq!(v["photos"], 1);
            assert!(v["media"][0]["blurhash"].is_string());
            assert!(!text.contains(&asset.to_string()), "{asset} leaked: {text}");
            assert_eq!(
                media_url(&app, Some(&fan), asset).await,
                StatusCode::FORBIDDEN
            );
        }
    }
    assert!(by_id(&t, &m_unsent).is_none(), "unsent stays hidden: {t}");
    assert!(!text.contains(&unsent.to_string()));
    assert_eq!(
        media_url(&app, Some(&fan), unsent).await,
        StatusCode::FORBIDDEN
    );

    // Another fan (a subscriber too), an admin, and nobody: not the thread, not in their
    // inbox, no URL of any of it.
    for (who, label) in [(Some(&other), "other fan"), (Some(&admin), "admin")] {
        let (status, body) = thread(&app, who, &conv).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}: {body}");
        let (status, inbox) = call(
            &app,
            Method::GET,
            "/api/v1/messages/conversations",
            who.map(|m| m.token.as_str()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!inbox.to_string().contains(&conv), "{label}: {inbox}");
        for asset in assets {
            assert_eq!(
                media_url(&app, who, asset).await,
                StatusCode::FORBIDDEN,
                "{label}"
            );
        }
        // Writing into it, reading it, reporting from it: as if it did not exist.
        let (status, _) = send(&app, who.unwrap(), &conv, json!({"text": "hi"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}");
        let (status, _) = call(
            &app,
            Method::POST,
            &format!("/api/v1/messages/{m_free}/report"),
            Some(&who.unwrap().token),
            Some(json!({"reason": "spam"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{label}");
    }
    // The fan in the conversation reports it: into the one moderation queue. Through the
    // general endpoint, only a party to the conversation may report a message.
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/messages/{m_free}/report"),
        Some(&fan.token),
        Some(json!({"reason": "spam", "details": "selling followers"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let queued: (String, String) = sqlx::query_as(
        "select category, details from reports where subject_type = 'message' and subject_id = $1::uuid",
    )
    .bind(&m_free)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(queued, ("spam".into(), "selling followers".into()));
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        Some(&other.token),
        Some(json!({"subject_type": "message", "subject_id": m_free, "category": "spam"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = thread(&app, None, &conv).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for asset in assets {
        assert_eq!(media_url(&app, None, asset).await, StatusCode::FORBIDDEN);
    }
    // Guessing ids: a random conversation is 404 like another's.
    let (status, _) = thread(&app, Some(&other), &Uuid::now_v7().to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_fan_unlocks_a_paid_message_on_the_simulated_rail_into_the_ledger_once() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_sells").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    let conv = conversation(&app, &c, &fan).await;
    let photos = [ready_photo(db, c.id).await, ready_photo(db, c.id).await];
    let m = sent(
        &app,
        &c,
        &conv,
        json!({"text": "two for you", "media_ids": photos, "price_minor": 1200}),
    )
    .await;

    // Nobody else can buy it; bad ids are refused by field.
    let (status, body) = start(&app, &other, json!({"kind": "message", "message_id": m})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "validation_failed");
    assert!(body.to_string().contains("message_id"), "{body}");
    let (status, body) = start(&app, &fan, json!({"kind": "message", "message_id": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, checkout) = start(&app, &fan, json!({"kind": "message", "message_id": m})).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    assert_eq!(checkout["provider"], "simulated", "{checkout}");
    click(&app, &fan, &checkout, "pay").await;
    let (_, t) = thread(&app, Some(&fan), &conv).await;
    let v = &t["messages"][0];
    assert_eq!(v["locked"], false, "{t}");
    assert_eq!(v["media"].as_array().unwrap().len(), 2);
    assert_eq!(media_url(&app, Some(&fan), photos[1]).await, StatusCode::OK);
    let (_, t) = thread(&app, Some(&c), &conv).await;
    assert_eq!(t["messages"][0]["unlocked_by_purchase"], true, "{t}");
    let kinds: Vec<(String, i64)> = sqlx::query_as(
        "select kind, gross_minor::bigint from ledger_entries where creator_id = $1 order by occurred_at",
    )
    .bind(c.id)
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(kinds, [("message".to_owned(), 1200)]);
    let (status, _) = start(&app, &fan, json!({"kind": "message", "message_id": m})).await;
    assert_eq!(status, StatusCode::CONFLICT, "bought once");

    // Unsending it later does not take it from the buyer.
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/{m}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, t) = thread(&app, Some(&fan), &conv).await;
    assert_eq!(t["messages"][0]["locked"], false, "{t}");

    // A tip with a note arrives in the conversation as the fan's message.
    let (status, tip) = start(
        &app,
        &fan,
        json!({"kind": "tip", "creator": "msg_sells", "amount_minor": 300, "message": "for the photos"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tip}");
    click(&app, &fan, &tip, "pay").await;
    let (_, t) = thread(&app, Some(&c), &conv).await;
    let newest = &t["messages"][0];
    assert_eq!(newest["text"], "for the photos", "{t}");
    assert_eq!(newest["tip"]["amount_minor"], 300);
    assert_eq!(newest["sender_id"], fan.id.to_string());
}

#[tokio::test]
async fn who_may_write_blocks_and_bad_input_are_refused_by_field() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_rules").await;
    let fan = member(&app, Role::Fan).await;
    let stranger = member(&app, Role::Fan).await;
    let other_creator = creator(&app, "msg_other").await;

    // Subscribers only (the default): a stranger cannot write; a creator cannot write to a
    // stranger either.
    let open_as_fan = |who: &Member| {
        let token = who.token.clone();
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                "/api/v1/messages/conversations",
                Some(&token),
                Some(json!({"creator": "msg_rules"})),
            )
            .await
        }
    };
    let (status, body) = open_as_fan(&stranger).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/messages/conversations",
        Some(&c.token),
        Some(json!({"fan_id": stranger.id})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/messages/conversations",
        Some(&fan.token),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    subscribe(&app, &fan, &c, "active", 30).await;
    let (status, conv) = open_as_fan(&fan).await;
    assert_eq!(status, StatusCode::OK, "{conv}");
    let conv = conv["id"].as_str().unwrap().to_owned();

    // Fans send text only; text is bounded; an empty message is refused.
    let photo = ready_photo(db, c.id).await;
    let foreign = ready_photo(db, other_creator.id).await;
    for (body, field) in [
        (json!({"text": ""}), "text"),
        (json!({"text": "x".repeat(2001)}), "text"),
        (json!({"text": "hi", "media_ids": [photo]}), "media_ids"),
        (json!({"text": "hi", "price_minor": 500}), "price_minor"),
    ] {
        let (status, err) = send(&app, &fan, &conv, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(
            err["error"]["fields"].get(field).is_some(),
            "{field}: {err}"
        );
    }
    // Creators attach only their own ready media, at a price in range and only with media.
    for (body, field) in [
        (json!({"text": "hi", "media_ids": [foreign]}), "media_ids"),
        (
            json!({"text": "hi", "media_ids": [photo, photo]}),
            "media_ids",
        ),
        (json!({"text": "hi", "price_minor": 500}), "price_minor"),
        (
            json!({"text": "hi", "media_ids": [photo], "price_minor": 1}),
            "price_minor",
        ),
        (
            json!({"text": "hi", "media_ids": [photo], "price_minor": 100_000_000}),
            "price_minor",
        ),
    ] {
        let (status, err) = send(&app, &c, &conv, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(
            err["error"]["fields"].get(field).is_some(),
            "{field}: {err}"
        );
    }
    let count: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing half-written");

    let hello = sent(
        &app,
        &fan,
        &conv,
        json!({"text": "hello https://example.com <b>"}),
    )
    .await;
    let (_, t) = thread(&app, Some(&c), &conv).await;
    let html = t["messages"][0]["text_html"].as_str().unwrap();
    assert!(html.contains("<a ") && html.contains("&lt;b&gt;"), "{html}");
    assert_eq!(t["conversation"]["unread"], 1);
    // Read receipts.
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/messages/conversations/{conv}/read"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, t) = thread(&app, Some(&fan), &conv).await;
    assert_eq!(t["messages"][0]["id"], hello);
    assert_eq!(t["messages"][0]["read"], true, "{t}");

    // Blocked: the fan cannot write; only the creator blocks.
    let block = |who: &Member, method: Method| {
        let token = who.token.clone();
        let app = &app;
        let path = format!("/api/v1/messages/conversations/{conv}/block");
        async move { call(app, method, &path, Some(&token), None).await.0 }
    };
    assert_eq!(block(&fan, Method::PUT).await, StatusCode::FORBIDDEN);
    assert_eq!(block(&c, Method::PUT).await, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, &fan, &conv, json!({"text": "still there?"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(block(&c, Method::DELETE).await, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, &fan, &conv, json!({"text": "back"})).await;
    assert_eq!(status, StatusCode::CREATED);

    // "Anyone signed in": then a stranger may write.
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/messaging",
        Some(&c.token),
        Some(json!({"messages_from": "anyone", "welcome_message": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = open_as_fan(&stranger).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_welcome_message_arrives_once_on_subscribe_and_never_on_renewal() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_welcome").await;
    let fan = member(&app, Role::Fan).await;
    let photo = ready_photo(db, c.id).await;
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/messaging",
        Some(&c.token),
        Some(
            json!({"messages_from": "subscribers", "welcome_message": "Welcome in!",
                    "welcome_media": [photo], "welcome_price_minor": 500}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/messaging",
        Some(&c.token),
        Some(json!({"messages_from": "everyone"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (_, checkout) = start(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "msg_welcome"}),
    )
    .await;
    click(&app, &fan, &checkout, "pay").await;
    let welcomes = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from messages where welcome")
            .fetch_one(db)
            .await
            .unwrap()
    };
    assert_eq!(welcomes().await, 1);
    let (_, inbox) = call(
        &app,
        Method::GET,
        "/api/v1/messages/conversations",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(inbox["unread_total"], 1, "{inbox}");
    let conv = inbox["conversations"][0]["id"].as_str().unwrap().to_owned();
    let (_, t) = thread(&app, Some(&fan), &conv).await;
    let w = &t["messages"][0];
    assert_eq!(w["welcome"], true);
    assert_eq!(w["text"], "Welcome in!");
    assert_eq!(w["locked"], true, "its media sells: {w}");
    assert_eq!(w["price"]["amount_minor"], 500);

    // Renewals (the rail's subscription events again) and a new subscription later send
    // nothing more.
    let sub: String =
        sqlx::query_scalar("select provider_subscription_id from subscriptions where fan_id = $1")
            .bind(fan.id)
            .fetch_one(db)
            .await
            .unwrap();
    for _ in 0..2 {
        let (status, body) = clock(&app, Some(&fan), json!(31)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let renewed: String =
        sqlx::query_scalar("select status from subscriptions where provider_subscription_id = $1")
            .bind(&sub)
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(renewed, "active");
    assert_eq!(welcomes().await, 1);
}

/// Fans subscribed to `creator`, written in one statement.
async fn many_fans(db: &PgPool, creator: Uuid, n: i64, status: &str, days: i64) -> Vec<Uuid> {
    sqlx::query_scalar(
        r#"with u as (
             insert into users (id, email, password_hash, display_name, adult_confirmed_at)
             select gen_random_uuid(), 'fan' || g || '-' || gen_random_uuid() || '@example.com', 'x', 'Fan ' || g, now()
             from generate_series(1, $2) g returning id)
           insert into subscriptions (id, fan_id, creator_id, status, current_period_end, provider, provider_subscription_id)
           select gen_random_uuid(), u.id, $1, $3, now() + make_interval(days => $4::int), 'simulated', 'sub_' || u.id
           from u returning fan_id"#,
    )
    .bind(creator)
    .bind(n)
    .bind(status)
    .bind(days)
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_mass_message_reaches_2000_fans_exactly_once_with_the_worker_killed_twice() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_mass").await;
    let active = many_fans(db, c.id, 2000, "active", 30).await;
    let lapsed = many_fans(db, c.id, 50, "canceled", -5).await;
    // Blocked fans get none.
    sqlx::query("insert into message_blocks (creator_id, fan_id) select $1, unnest($2::uuid[])")
        .bind(c.id)
        .bind(&active[..10])
        .execute(db)
        .await
        .unwrap();
    let photo = ready_photo(db, c.id).await;
    let (status, count) = call(
        &app,
        Method::POST,
        "/api/v1/messages/mass/recipients",
        Some(&c.token),
        Some(json!({"segment": "active"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{count}");
    assert_eq!(count["count"], 1990);
    let (status, count) = call(
        &app,
        Method::POST,
        "/api/v1/messages/mass/recipients",
        Some(&c.token),
        Some(json!({"segment": "expired"})),
    )
    .await;
    assert_eq!((status, &count["count"]), (StatusCode::OK, &json!(50)));
    let (status, err) = call(
        &app,
        Method::POST,
        "/api/v1/messages/mass",
        Some(&c.token),
        Some(json!({"segment": "spenders", "text": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["fields"].get("min_spend_minor").is_some(),
        "{err}"
    );

    // Small chunks (MASS_MESSAGE_CHUNK below), so the workers are killed mid-send.
    let (status, mass) = call(
        &app,
        Method::POST,
        "/api/v1/messages/mass",
        Some(&c.token),
        Some(json!({"segment": "active", "text": "New set out now", "media_ids": [photo], "price_minor": 800})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{mass}");
    let mass_id = mass["id"].as_str().unwrap().to_owned();
    let delivered = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from messages where mass_message_id = $1::uuid",
        )
        .bind(&mass_id)
        .fetch_one(db)
        .await
        .unwrap()
    };
    let worker = || {
        let mut cmd = zinovia();
        cmd.arg("worker")
            .env("DATABASE_URL", app.db.url())
            .env("JOB_LEASE", "2s")
            .env("JOB_POLL_INTERVAL", "100ms")
            .env("JOB_RETRY_BASE", "0s")
            .env("MASS_MESSAGE_CHUNK", "100");
        Proc::start(cmd)
    };
    for kill in 1..=2 {
        let mut w = worker();
        let before = delivered().await;
        wait_until(
            Duration::from_secs(60),
            "the worker to deliver part of the mass message",
            || async { delivered().await > before },
        )
        .await;
        w.stop(Signal::SIGKILL, Duration::from_secs(10)).await;
        assert!(delivered().await < 1990, "killed mid-send ({kill})");
    }
    let mut w = worker();
    wait_until(
        Duration::from_secs(120),
        "the mass message to be delivered",
        || async {
            sqlx::query_scalar::<_, String>("select status from mass_messages where id = $1::uuid")
                .bind(&mass_id)
                .fetch_one(db)
                .await
                .unwrap()
                == "sent"
        },
    )
    .await;
    w.stop(Signal::SIGTERM, Duration::from_secs(30)).await;
    assert_eq!(delivered().await, 1990);
    let per_fan: Vec<(Uuid, i64)> = sqlx::query_as(
        r#"select c.fan_id, count(*) from messages m join conversations c on c.id = m.conversation_id
           where m.mass_message_id = $1::uuid group by c.fan_id having count(*) <> 1"#,
    )
    .bind(&mass_id)
    .fetch_all(db)
    .await
    .unwrap();
    assert!(per_fan.is_empty(), "none twice: {per_fan:?}");
    let wrong: i64 = sqlx::query_scalar(
        r#"select count(*) from messages m join conversations c on c.id = m.conversation_id
           where m.mass_message_id = $1::uuid and (c.fan_id = any($2) or c.fan_id = any($3))"#,
    )
    .bind(&mass_id)
    .bind(&active[..10])
    .bind(&lapsed)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "no blocked or lapsed fan got it");
    let media: i64 = sqlx::query_scalar(
        "select count(*) from message_media mm join messages m on m.id = mm.message_id where m.mass_message_id = $1::uuid",
    )
    .bind(&mass_id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(media, 1990);
    let (_, stats) = call(
        &app,
        Method::GET,
        &format!("/api/v1/messages/mass/{mass_id}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(stats["sent"], 1990, "{stats}");
    assert_eq!(stats["status"], "sent");

    // Unsent: gone for everyone who has not unlocked it.
    let (status, stats) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/messages/mass/{mass_id}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["status"], "unsent");
    let visible: i64 = sqlx::query_scalar(
        "select count(*) from messages where mass_message_id = $1::uuid and unsent_at is null",
    )
    .bind(&mass_id)
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(visible, 0);
}

/// Reads a server-sent event stream until an event named `name` arrives; answers its data.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String, name: &str) -> Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = e.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if event == name {
                return serde_json::from_str(&data).unwrap();
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn a_message_sent_through_one_server_arrives_live_on_a_stream_held_by_another() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_live").await;
    let fan = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    let conv = conversation(&app, &c, &fan).await;
    let photo = ready_photo(db, c.id).await;

    let data = tempfile::tempdir().unwrap();
    let serve = || {
        let mut cmd = zinovia();
        cmd.arg("serve")
            .env("DATABASE_URL", app.db.url())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATA_DIR", data.path());
        Proc::start(cmd)
    };
    let (a, b) = (serve(), serve());
    let url_of = |p: &Proc| {
        p.output().1.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["message"] == "serving")
                .then(|| v["url"].as_str().unwrap().trim_end_matches('/').to_owned())
        })
    };
    let mut urls = (None, None);
    wait_until(Duration::from_secs(60), "both servers to start", || {
        urls = (url_of(&a), url_of(&b));
        let ready = urls.0.is_some() && urls.1.is_some();
        async move { ready }
    })
    .await;
    let (url_a, url_b) = (urls.0.unwrap(), urls.1.unwrap());
    let client = reqwest::Client::new();

    // Anonymous: no stream.
    let r = client
        .get(format!("{url_b}/api/v1/messages/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let mut stream = client
        .get(format!("{url_b}/api/v1/messages/live"))
        .bearer_auth(&fan.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();
    let hello = next_event(&mut stream, &mut buf, "hello").await;
    assert_eq!(hello["unread_total"], 0);
    // Another fan's stream on the same server hears nothing of it.
    let other = member(&app, Role::Fan).await;
    let mut other_stream = client
        .get(format!("{url_b}/api/v1/messages/live"))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    let mut other_buf = String::new();
    next_event(&mut other_stream, &mut other_buf, "hello").await;

    let r = client
        .post(format!(
            "{url_a}/api/v1/messages/conversations/{conv}/messages"
        ))
        .bearer_auth(&c.token)
        .json(&json!({"text": "just for you", "media_ids": [photo], "price_minor": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let sent: Value = r.json().await.unwrap();
    let live = next_event(&mut stream, &mut buf, "message").await;
    assert_eq!(live["message"]["id"], sent["id"]);
    assert_eq!(live["message"]["locked"], true, "{live}");
    assert!(!live.to_string().contains(&photo.to_string()), "{live}");
    assert_eq!(live["unread_total"], 1);

    // Reconnecting with Last-Event-ID replays what was missed meanwhile.
    drop(stream);
    let r = client
        .post(format!(
            "{url_a}/api/v1/messages/conversations/{conv}/messages"
        ))
        .bearer_auth(&c.token)
        .json(&json!({"text": "while you were away"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut again = client
        .get(format!("{url_b}/api/v1/messages/live"))
        .bearer_auth(&fan.token)
        .header("last-event-id", sent["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    let missed = next_event(&mut again, &mut buf, "message").await;
    assert_eq!(missed["message"]["text"], "while you were away");

    let quiet = tokio::time::timeout(Duration::from_millis(500), other_stream.chunk()).await;
    match quiet {
        Err(_) => {}
        Ok(chunk) => {
            let text = String::from_utf8_lossy(&chunk.unwrap().unwrap_or_default()).to_string();
            assert!(
                !text.contains("just for you"),
                "another fan heard it: {text}"
            );
        }
    }
}

/// Mails in the app's mail folder to `user` whose text holds `needle`.
async fn mails_to(app: &TestApp, user: Uuid, needle: &str) -> usize {
    let email: String = sqlx::query_scalar("select email from users where id = $1")
        .bind(user)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let dir = app.data_dir().join("mail");
    std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .filter(|t| t.contains(&email) && t.contains(needle))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn unread_messages_are_emailed_once_per_quiet_spell_unless_turned_off() {
    let app = TestApp::spawn_with(|s| {
        s.jobs.unread_email_after = zinovia::config::HumanDuration(Duration::from_millis(50));
    })
    .await;
    let c = creator(&app, "msg_mailer").await;
    let fan = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    let conv = conversation(&app, &c, &fan).await;
    let sweep = || async {
        tokio::time::sleep(Duration::from_millis(120)).await;
        zinovia::jobs::enqueue(&app.state.db, &zinovia::messages::EmailUnreadMessages)
            .await
            .unwrap();
        app.run_pending_jobs(&zinovia::app::jobs()).await;
    };
    sent(&app, &c, &conv, json!({"text": "one"})).await;
    sent(&app, &c, &conv, json!({"text": "two"})).await;
    sweep().await;
    assert_eq!(mails_to(&app, fan.id, "2 unread messages").await, 1);
    assert_eq!(
        mails_to(&app, c.id, "unread message").await,
        0,
        "the sender is not told"
    );
    sweep().await;
    assert_eq!(
        mails_to(&app, fan.id, "unread message").await,
        1,
        "once per quiet spell"
    );

    // Read: nothing is due; a new message later is another spell.
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/messages/conversations/{conv}/read"),
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    sent(&app, &c, &conv, json!({"text": "three"})).await;
    sweep().await;
    assert_eq!(mails_to(&app, fan.id, "1 unread message").await, 1);

    // Turned off: none.
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/message-emails",
        Some(&fan.token),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = call(
        &app,
        Method::GET,
        "/api/v1/me/message-emails",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(body["enabled"], false);
    sent(&app, &c, &conv, json!({"text": "four"})).await;
    sweep().await;
    assert_eq!(mails_to(&app, fan.id, "unread message").await, 2);
}

async fn vault(app: &TestApp, who: &Member, query: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::GET,
        &format!("/api/v1/vault{query}"),
        Some(&who.token),
        None,
    )
    .await
}

/// The vault item `asset` in a listing.
fn item(list: &Value, asset: Uuid) -> &Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == asset.to_string())
        .unwrap_or_else(|| panic!("{asset} is not in {list}"))
}

#[tokio::test]
async fn the_vault_shows_tags_uses_and_what_a_fan_was_already_sent_or_bought() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "msg_vault").await;
    let rival = creator(&app, "msg_vault_rival").await;
    let fan = member(&app, Role::Fan).await;
    let fan2 = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &c, "active", 30).await;
    subscribe(&app, &fan2, &c, "active", 30).await;
    let conv = conversation(&app, &c, &fan).await;
    let (shown, sold, unused) = (
        ready_photo(db, c.id).await,
        ready_photo(db, c.id).await,
        ready_photo(db, c.id).await,
    );
    let theirs = ready_photo(db, rival.id).await;
    sent(
        &app,
        &c,
        &conv,
        json!({"text": "free", "media_ids": [shown]}),
    )
    .await;
    let m = sent(
        &app,
        &c,
        &conv,
        json!({"text": "paid", "media_ids": [sold], "price_minor": 900}),
    )
    .await;
    grant_message_purchase(db, fan.id, &m, "paid").await;

    // Every ready item of the creator, none of another creator's; uses counted.
    let (status, all) = vault(&app, &c, "").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
    assert!(!all.to_string().contains(&theirs.to_string()), "{all}");
    assert_eq!(item(&all, shown)["messages"], 1);
    assert_eq!(item(&all, unused)["messages"], 0);
    assert_eq!(item(&all, unused)["sent_to_fan"], false);

    // Composing for a fan: what they were sent and what they bought; another fan: nothing.
    let (_, for_fan) = vault(&app, &c, &format!("?fan_id={}", fan.id)).await;
    assert_eq!(item(&for_fan, shown)["sent_to_fan"], true, "{for_fan}");
    assert_eq!(item(&for_fan, shown)["bought_by_fan"], false);
    assert_eq!(item(&for_fan, sold)["sent_to_fan"], true);
    assert_eq!(item(&for_fan, sold)["bought_by_fan"], true);
    assert_eq!(item(&for_fan, unused)["sent_to_fan"], false);
    let (_, for_fan2) = vault(&app, &c, &format!("?fan_id={}", fan2.id)).await;
    for a in [shown, sold, unused] {
        assert_eq!(item(&for_fan2, a)["sent_to_fan"], false, "{for_fan2}");
        assert_eq!(item(&for_fan2, a)["bought_by_fan"], false, "{for_fan2}");
    }

    // Tags: normalised, filtered on (any case), bad ones refused by field and nothing stored.
    let tag = |asset: Uuid, who: &Member, tags: Value| {
        let token = who.token.clone();
        let app = &app;
        async move {
            call(
                app,
                Method::PUT,
                &format!("/api/v1/vault/{asset}/tags"),
                Some(&token),
                Some(json!({ "tags": tags })),
            )
            .await
        }
    };
    let (status, body) = tag(sold, &c, json!([" Beach ", "set-2", "beach"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!(["beach", "set-2"]));
    let (status, body) = tag(shown, &c, json!(["ok", "no spaces"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("tags"), "{body}");
    let (status, _) = tag(theirs, &c, json!(["mine"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another creator's item");
    let (_, beach) = vault(&app, &c, "?tag=BEACH").await;
    let ids: Vec<&str> = beach
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [sold.to_string()], "{beach}");
    assert_eq!(item(&beach, sold)["tags"], json!(["beach", "set-2"]));
    let (_, shown_now) = vault(&app, &c, "?tag=ok").await;
    assert_eq!(shown_now, json!([]), "a refused change stores nothing");
    for bad in ["?tag=%00x", "?tag=two%20words", "?fan_id=nope"] {
        let (status, body) = vault(&app, &c, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, "validation_failed");
    }

    // Fans have no vault.
    let (status, body) = vault(&app, &fan, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = tag(shown, &fan, json!(["x"])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
