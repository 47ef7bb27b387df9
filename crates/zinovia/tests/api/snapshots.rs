//! Snapshots of what clients rely on: the JSON shapes of the main answers and the OpenAPI
//! document. A change to any of them shows up as a snapshot diff to review (`cargo insta
//! review`, or `INSTA_UPDATE=always` and the diff in git), never silently.
//!
//! Values that differ on every run (ids, times, signed URLs, tokens) are replaced by their
//! kind before the snapshot, so what is compared is the shape and every stable value.

use chrono::{Duration as Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zinovia::accounts::Role;

use crate::helpers::{TestApp, call, creator, grant_subscription, member, post, ready_photo};

/// `value` with what changes from run to run replaced by a marker of its kind.
fn stable(value: &Value) -> Value {
    fn is_volatile(key: &str) -> Option<&'static str> {
        match key {
            "id" | "asset_id" | "checkout_id" | "post_id" => Some("[id]"),
            "url" | "onboarding_url" => Some("[url]"),
            "token" => Some("[token]"),
            "next_cursor" => Some("[cursor]"),
            k if k.ends_with("_at") || k == "current_period_end" => Some("[time]"),
            _ => None,
        }
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (is_volatile(k), v) {
                    (Some(marker), v) if !v.is_null() => (k.clone(), json!(marker)),
                    _ => (k.clone(), stable(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stable).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn the_json_shapes_clients_read_stay_as_they_are() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "snapshot_creator").await;
    let photo = ready_photo(db, c.id).await;
    let locked = post(
        &app,
        &c,
        json!({"text": "for subscribers", "media_ids": [photo], "visibility": "subscribers",
               "text_is_teaser": true}),
    )
    .await;
    let id = locked["id"].as_str().unwrap().to_owned();
    let fan = member(&app, Role::Fan).await;
    let subscriber = member(&app, Role::Fan).await;
    grant_subscription(
        db,
        subscriber.id,
        c.id,
        "active",
        Utc::now() + Days::days(20),
        None,
    )
    .await
    .unwrap();

    let get = |path: String, token: Option<String>| {
        let app = &app;
        async move {
            let (status, body) = call(app, Method::GET, &path, token.as_deref(), None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            stable(&body)
        }
    };
    insta::assert_json_snapshot!(
        "creator_profile_as_anyone",
        get("/api/v1/creators/snapshot_creator".into(), None).await
    );
    insta::assert_json_snapshot!(
        "creator_profile_as_its_creator",
        get(
            "/api/v1/creators/snapshot_creator".into(),
            Some(c.token.clone())
        )
        .await
    );
    insta::assert_json_snapshot!(
        "a_locked_post",
        get(format!("/api/v1/posts/{id}"), Some(fan.token.clone())).await
    );
    insta::assert_json_snapshot!(
        "an_unlocked_post",
        get(
            format!("/api/v1/posts/{id}"),
            Some(subscriber.token.clone())
        )
        .await
    );
    insta::assert_json_snapshot!(
        "a_fans_subscriptions",
        get(
            "/api/v1/me/subscriptions".into(),
            Some(subscriber.token.clone())
        )
        .await
    );
    insta::assert_json_snapshot!(
        "a_creators_earnings",
        get("/api/v1/me/creator/earnings".into(), Some(c.token.clone())).await
    );
    let (status, error) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&c.token),
        Some(json!({"handle": "x", "display_name": "", "price_minor": 1, "currency": "XXX"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    insta::assert_json_snapshot!("a_validation_error", stable(&error));
}

#[tokio::test]
async fn the_openapi_document_stays_as_it_is() {
    let doc: Value = serde_json::from_str(
        &zinovia::app::openapi_json(&zinovia::config::Settings::defaults()).unwrap(),
    )
    .unwrap();
    let mut doc = doc;
    // The version moves with every release; everything else is the contract.
    doc["info"]["version"] = json!("[version]");
    insta::assert_json_snapshot!("openapi", doc);
}
