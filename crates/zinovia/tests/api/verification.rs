//! Creator verification through the API and the pages: the details (18+), two photos
//! straight to private storage, the worker's check of their bytes, the reviewers' queue and
//! decisions (audited, emailed), documents reachable by reviewers only — through short-lived
//! URLs that never go through the CDN and never appear in any page or listing — and the
//! gate: an unverified creator posts for free only and is neither sold to nor paid.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;

use crate::helpers::{
    Member, S3Server, TestApp, assert_error, call, creator, mails_containing, member,
    unverified_creator,
};
use crate::processing::jpeg;

async fn jobs(app: &TestApp) {
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

async fn me(app: &TestApp, who: &Member) -> Value {
    let (status, body) = app.get_auth("/api/v1/me/verification", &who.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn act(
    app: &TestApp,
    who: &Member,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call(app, method, path, Some(&who.token), body).await
}

/// Uploads `bytes` as `document` (declared `content_type`) through the upload URL.
async fn send_document(
    app: &TestApp,
    who: &Member,
    document: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let (status, body) = act(
        app,
        who,
        Method::POST,
        "/api/v1/me/verification/documents",
        Some(json!({"document": document, "content_type": content_type, "byte_size": bytes.len()})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let upload = &body["upload"];
    let url = upload["url"].as_str().unwrap().to_owned();
    let mut req = reqwest::Client::new().put(&url);
    for (k, v) in upload["headers"].as_object().unwrap() {
        if k != "content-length" {
            req = req.header(k.as_str(), v.as_str().unwrap());
        }
    }
    let r = req.body(bytes).send().await.unwrap();
    assert!(r.status().is_success(), "PUT: {}", r.status());
    url
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 120, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn details(app: &TestApp, who: &Member) {
    let (status, body) = act(
        app,
        who,
        Method::PUT,
        "/api/v1/me/verification",
        Some(json!({"legal_name": "Vera Lindqvist", "date_of_birth": "1994-02-28"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn submit(app: &TestApp, who: &Member) -> (StatusCode, Value) {
    act(
        app,
        who,
        Method::POST,
        "/api/v1/me/verification/submit",
        None,
    )
    .await
}

/// Details, both photos, submitted and checked: waiting for a reviewer. Answers the id.
async fn submitted(app: &TestApp, who: &Member) -> String {
    details(app, who).await;
    send_document(app, who, "id_document", "image/jpeg", jpeg(320, 200)).await;
    send_document(app, who, "selfie", "image/png", png()).await;
    let (status, body) = submit(app, who).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    jobs(app).await;
    let mine = me(app, who).await;
    assert_eq!(mine["status"], "submitted", "{mine}");
    sqlx::query_scalar::<_, Uuid>(
        "select id from verifications where user_id = $1 and status = 'submitted'",
    )
    .bind(who.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap()
    .to_string()
}

async fn decide(
    app: &TestApp,
    who: &Member,
    id: &str,
    decision: &str,
    reason: &str,
) -> (StatusCode, Value) {
    act(
        app,
        who,
        Method::POST,
        &format!("/api/v1/moderation/verifications/{id}/decision"),
        Some(json!({"decision": decision, "reason": reason})),
    )
    .await
}

async fn new_post(app: &TestApp, who: &Member, visibility: &str) -> (StatusCode, Value) {
    let photo = crate::helpers::ready_photo(&app.state.db, who.id).await;
    let mut body = json!({"text": "x", "media_ids": [photo], "visibility": visibility});
    if visibility == "ppv" {
        body["price_minor"] = json!(900);
    }
    act(app, who, Method::POST, "/api/v1/posts", Some(body)).await
}

#[tokio::test]
async fn an_unverified_creator_posts_for_free_only_and_is_neither_sold_to_nor_paid() {
    let app = TestApp::spawn().await;
    let c = unverified_creator(&app, "vera_unverified").await;
    let fan = member(&app, Role::Fan).await;
    for visibility in ["subscribers", "ppv"] {
        let (status, body) = new_post(&app, &c, visibility).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["fields"]["visibility"][0]
                .as_str()
                .unwrap()
                .contains("verified"),
            "{body}"
        );
    }
    let (status, free) = new_post(&app, &c, "public").await;
    assert_eq!(status, StatusCode::CREATED, "{free}");
    let (status, body) = act(
        &app,
        &c,
        Method::PATCH,
        &format!("/api/v1/posts/{}", free["id"].as_str().unwrap()),
        Some(json!({"visibility": "subscribers"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a free post cannot turn paid: {body}"
    );
    for kind in [
        json!({"kind": "subscription", "creator": "vera_unverified"}),
        json!({"kind": "tip", "creator": "vera_unverified", "amount_minor": 500}),
    ] {
        let (status, body) = act(
            &app,
            &fan,
            Method::POST,
            "/api/v1/billing/checkout",
            Some(kind),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["error"]["fields"]["creator"].is_array(), "{body}");
    }
    let (status, body) = act(
        &app,
        &c,
        Method::PUT,
        "/api/v1/me/creator/payout-method",
        Some(json!({"holder": "Vera", "iban": "DE89370400440532013000", "password": "purple lighthouse at dawn", "code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verified"),
        "{body}"
    );

    // Once verified, the same requests go through.
    crate::helpers::verified(&app.state.db, c.id).await;
    let (status, body) = new_post(&app, &c, "subscribers").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = act(
        &app,
        &fan,
        Method::POST,
        "/api/v1/billing/checkout",
        Some(json!({"kind": "subscription", "creator": "vera_unverified"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn verification_turned_off_lets_everyone_sell() {
    let app = TestApp::spawn_with(|s| {
        s.content.creator_verification = zinovia::config::VerificationMode::Off
    })
    .await;
    let c = unverified_creator(&app, "vera_off").await;
    let (status, body) = new_post(&app, &c, "ppv").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mine = me(&app, &c).await;
    assert_eq!(
        (mine["verified"].clone(), mine["required"].clone()),
        (json!(true), json!(false))
    );
}

async fn a_reviewer_verifies_a_creator(app: TestApp, cdn: Option<&str>) {
    let c = unverified_creator(app_ref(&app), "vera").await;
    let app = &app;
    let c_email: String = sqlx::query_scalar("select email from users where id = $1")
        .bind(c.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let fan = member(app, Role::Fan).await;
    let moderator = member(app, Role::Moderator).await;
    let admin = member(app, Role::Admin).await;
    let mine = me(app, &c).await;
    assert_eq!(
        (
            mine["status"].clone(),
            mine["verified"].clone(),
            mine["required"].clone()
        ),
        (Value::Null, json!(false), json!(true))
    );

    // The details: every field checked; under 18 refused.
    for (body, field) in [
        (
            json!({"legal_name": "", "date_of_birth": "1990-01-01"}),
            "legal_name",
        ),
        (
            json!({"legal_name": "Vera", "date_of_birth": "01/02/1990"}),
            "date_of_birth",
        ),
        (
            json!({"legal_name": "Vera", "date_of_birth": (chrono::Utc::now().date_naive() - chrono::Duration::days(17 * 365)).to_string()}),
            "date_of_birth",
        ),
        (
            json!({"legal_name": "Vera", "date_of_birth": "2999-01-01"}),
            "date_of_birth",
        ),
    ] {
        let (status, err) = act(app, &c, Method::PUT, "/api/v1/me/verification", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
    }
    let (status, body) = submit(app, &c).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    details(app, &c).await;
    let (status, body) = submit(app, &c).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["id_document"].is_array()
            && body["error"]["fields"]["selfie"].is_array(),
        "{body}"
    );
    for (body, field) in [
        (
            json!({"document": "passport_scan", "content_type": "image/jpeg", "byte_size": 10}),
            "document",
        ),
        (
            json!({"document": "selfie", "content_type": "application/pdf", "byte_size": 10}),
            "content_type",
        ),
        (
            json!({"document": "selfie", "content_type": "image/jpeg", "byte_size": 16 * 1024 * 1024}),
            "byte_size",
        ),
    ] {
        let (status, err) = act(
            app,
            &c,
            Method::POST,
            "/api/v1/me/verification/documents",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["error"]["fields"][field].is_array(), "{field}: {err}");
    }

    // A file that is not a photo is refused by its bytes, whatever it was declared as.
    let id_url = send_document(app, &c, "id_document", "image/jpeg", jpeg(320, 200)).await;
    assert!(id_url.contains("private/verification/"), "{id_url}");
    send_document(
        app,
        &c,
        "selfie",
        "image/png",
        b"<html>not a photo</html>".to_vec(),
    )
    .await;
    let (status, body) = submit(app, &c).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "checking");
    let (status, _) = submit(app, &c).await;
    assert_eq!(status, StatusCode::CONFLICT, "not twice while checked");
    jobs(app).await;
    let mine = me(app, &c).await;
    assert_eq!(mine["status"], "started", "{mine}");
    assert!(
        mine["problem"]
            .as_str()
            .unwrap()
            .contains("selfie is not a JPEG, PNG or WebP"),
        "{mine}"
    );
    send_document(app, &c, "selfie", "image/png", png()).await;
    submit(app, &c).await;
    jobs(app).await;
    let mine = me(app, &c).await;
    assert_eq!(mine["status"], "submitted", "{mine}");
    let id: Uuid = sqlx::query_scalar("select id from verifications where user_id = $1")
        .bind(c.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let id = id.to_string();

    // Reviewers only: the authorization matrix of every reviewer endpoint.
    let reviewer_paths: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/moderation/verifications".into(), None),
        (
            Method::GET,
            format!("/api/v1/moderation/verifications/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/moderation/verifications/{id}/documents/selfie/url"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/moderation/verifications/{id}/decision"),
            Some(json!({"decision": "approved", "reason": "x"})),
        ),
    ];
    for (method, path, body) in &reviewer_paths {
        let (status, _) = call(app, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        for who in [&fan, &c] {
            let (status, b) = call(app, method.clone(), path, Some(&who.token), body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {b}");
            assert_error(&b, "forbidden");
        }
    }
    let (status, q) = act(
        app,
        &moderator,
        Method::GET,
        "/api/v1/moderation/verifications",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(q[0]["id"], id.as_str(), "{q}");
    let (status, r) = act(
        app,
        &moderator,
        Method::GET,
        &format!("/api/v1/moderation/verifications/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (r["legal_name"].clone(), r["date_of_birth"].clone()),
        (json!("Vera Lindqvist"), json!("1994-02-28"))
    );
    assert!(r["age"].as_i64().unwrap() >= 32, "{r}");

    // The document: a short-lived URL from the storage itself (never the CDN), audited.
    let (status, doc) = act(
        app,
        &moderator,
        Method::POST,
        &format!("/api/v1/moderation/verifications/{id}/documents/id_document/url"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let url = doc["url"].as_str().unwrap();
    if let Some(cdn) = cdn {
        assert!(
            !url.starts_with(cdn),
            "a verification document through the CDN: {url}"
        );
    }
    let expires: chrono::DateTime<chrono::Utc> =
        doc["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        expires - chrono::Utc::now() <= chrono::Duration::minutes(3),
        "{doc}"
    );
    let got = reqwest::get(url).await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.bytes().await.unwrap().to_vec(),
        jpeg(320, 200),
        "the document as uploaded"
    );
    let views: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'verification.view_document' and subject_id = $1 and actor_id = $2")
        .bind(Uuid::parse_str(&id).unwrap())
        .bind(moderator.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(views, 1);
    let (status, _) = act(
        app,
        &moderator,
        Method::POST,
        &format!("/api/v1/moderation/verifications/{id}/documents/passport/url"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nowhere else: no page, listing or answer the creator, a fan or a visitor sees holds
    // the documents' keys or URLs.
    let (_, post) = new_post(app, &c, "public").await;
    let post_id = post["id"].as_str().unwrap().to_owned();
    for token in [None, Some(fan.token.as_str()), Some(c.token.as_str())] {
        for path in [
            "/vera".to_owned(),
            "/api/v1/creators/vera".to_owned(),
            "/api/v1/creators/vera/posts".to_owned(),
            format!("/api/v1/posts/{post_id}"),
            "/explore".to_owned(),
            "/api/v1/me/verification".to_owned(),
            "/account/verification".to_owned(),
        ] {
            let mut req = app.client.get(format!("{}{path}", app.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let text = req.send().await.unwrap().text().await.unwrap();
            assert!(
                !text.contains("private/verification") && !text.contains(&id),
                "{path} shows a document: {text}"
            );
        }
    }
    // A document's key without a reviewer's signature reaches nothing.
    if cdn.is_none() {
        for path in [
            format!("/storage/private/verification/{id}/selfie"),
            format!("/storage/private/verification/{id}/id_document?expires=9999999999&token=x"),
        ] {
            let status = app
                .client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_client_error(), "{path}: {status}");
        }
    }

    // Decisions: a reason each, audited and emailed.
    let (status, body) = decide(app, &moderator, &id, "approved", " ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = decide(app, &moderator, &id, "maybe", "x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = decide(
        app,
        &moderator,
        &id,
        "more_needed",
        "The ID photo is cut off at the bottom",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    jobs(app).await;
    assert_eq!(
        mails_containing(app, &c_email, "The ID photo is cut off at the bottom"),
        1
    );
    let mine = me(app, &c).await;
    assert_eq!(
        (mine["status"].clone(), mine["problem"].clone()),
        (
            json!("more_needed"),
            json!("The ID photo is cut off at the bottom")
        )
    );
    let (status, _) = decide(app, &moderator, &id, "approved", "x").await;
    assert_eq!(status, StatusCode::CONFLICT, "not waiting for a decision");
    send_document(app, &c, "id_document", "image/jpeg", jpeg(640, 400)).await;
    submit(app, &c).await;
    jobs(app).await;
    let (status, body) = decide(
        app,
        &admin,
        &id,
        "approved",
        "Clear photos; name and age match",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    jobs(app).await;
    assert_eq!(
        mails_containing(app, &c_email, "Our reviewers verified your identity"),
        1
    );
    let mine = me(app, &c).await;
    assert_eq!(
        (mine["status"].clone(), mine["verified"].clone()),
        (json!("approved"), json!(true))
    );
    let (status, _) = act(
        app,
        &c,
        Method::PUT,
        "/api/v1/me/verification",
        Some(json!({"legal_name": "V", "date_of_birth": "1990-01-01"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "verified once");
    for (action, reason) in [
        (
            "verification.ask_more",
            "The ID photo is cut off at the bottom",
        ),
        ("verification.approve", "Clear photos; name and age match"),
    ] {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from audit_log where action = $1 and reason = $2 and subject_id = $3",
        )
        .bind(action)
        .bind(reason)
        .bind(Uuid::parse_str(&id).unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(n, 1, "{action}");
    }
    let (status, body) = new_post(app, &c, "ppv").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "verified creators sell: {body}"
    );

    // Retention: documents of a decision past its keeping time are deleted by the daily job.
    sqlx::query("update verifications set decided_at = now() - interval '2556 days' where id = $1")
        .bind(Uuid::parse_str(&id).unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    zinovia::jobs::enqueue(
        &app.state.db,
        &zinovia::verification::PurgeVerificationDocuments,
    )
    .await
    .unwrap();
    jobs(app).await;
    let keys = app.state.storage().unwrap().list().await.unwrap();
    assert!(!keys.iter().any(|k| k.contains(&id)), "{keys:?}");
    let (status, _) = act(
        app,
        &moderator,
        Method::POST,
        &format!("/api/v1/moderation/verifications/{id}/documents/selfie/url"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "the documents are gone");
}

fn app_ref(app: &TestApp) -> &TestApp {
    app
}

#[tokio::test]
async fn a_reviewer_verifies_a_creator_on_local_storage() {
    a_reviewer_verifies_a_creator(TestApp::spawn().await, None).await;
}

#[tokio::test]
async fn a_reviewer_verifies_a_creator_on_s3_behind_a_cdn() {
    let s3 = S3Server::start().await;
    let key = include_str!("../fixtures/cloudfront-test-ecdsa.pem");
    let app = TestApp::spawn_s3(&s3, |s| {
        s.media.cdn_base_url = Some("https://media.zinovia.example".parse().unwrap());
        s.media.cloudfront_key_pair_id = Some("K2JCJMDEHXQW5F".into());
        s.media.cloudfront_private_key = Some(key.into());
    })
    .await;
    a_reviewer_verifies_a_creator(app, Some("https://media.zinovia.example")).await;
}

#[tokio::test]
async fn a_rejected_attempt_can_start_again_and_nobody_reviews_their_own() {
    let app = TestApp::spawn().await;
    let admin = member(&app, Role::Admin).await;
    let moderator = member(&app, Role::Moderator).await;
    // An operator who is also a creator cannot approve themselves.
    let own = submitted(&app, &admin).await;
    let (status, _) = decide(&app, &admin, &own, "approved", "me").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let c = creator(&app, "vera_again").await;
    sqlx::query("delete from verifications where user_id = $1")
        .bind(c.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let id = submitted(&app, &c).await;
    let (status, _) = decide(
        &app,
        &moderator,
        &id,
        "rejected",
        "The selfie does not show the document",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mine = me(&app, &c).await;
    assert_eq!(mine["status"], "rejected");
    assert_eq!(mine["verified"], false);
    // A new attempt starts from scratch.
    let again = submitted(&app, &c).await;
    assert_ne!(again, id);
}
