//! Media storage on both backends: uploads straight to storage, what is refused, signed
//! delivery, ranges, CloudFront, deletion and cleanup.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zinovia::accounts::Role;
use zinovia::storage::{Backend, StorageKey};

use crate::helpers::{S3Server, TestApp, assert_error};

/// Bytes that stand in for a photo (the worker, not the API, looks inside).
fn photo(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn request_upload(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    app.post_json("/api/v1/media/uploads", Some(token), body)
        .await
}

/// Sends `bytes` as the instructions say (optionally overriding headers).
async fn put(upload: &Value, bytes: Vec<u8>, content_type: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().put(upload["url"].as_str().unwrap());
    for (k, v) in upload["headers"].as_object().unwrap() {
        if k == "content-length" {
            continue; // reqwest sets it from the body
        }
        let v = if k == "content-type" {
            content_type.unwrap_or(v.as_str().unwrap())
        } else {
            v.as_str().unwrap()
        };
        req = req.header(k.as_str(), v);
    }
    req.body(bytes).send().await.unwrap()
}

async fn fetch(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

/// Request → PUT → complete → the owner's signed URL returns the same bytes.
async fn round_trip(app: &TestApp) {
    let creator = app.user_with_role(Role::Creator).await;
    let bytes = photo(123_457);
    let (status, body) = request_upload(
        app,
        &creator,
        &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": bytes.len(), "filename": "../IMG_0042.JPG"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["asset_id"].as_str().unwrap().to_owned();
    assert_eq!(body["upload"]["method"], "PUT");
    assert_eq!(body["upload"]["headers"]["content-type"], "image/jpeg");
    assert_eq!(
        body["upload"]["headers"]["content-length"],
        bytes.len().to_string()
    );

    let r = put(&body["upload"], bytes.clone(), None).await;
    assert!(
        r.status().is_success(),
        "{} {}",
        r.status(),
        r.text().await.unwrap()
    );

    let (status, done) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(&creator),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{done}");
    assert_eq!(done["state"], "uploaded");
    assert_eq!(done["original_filename"], "IMG_0042.JPG");
    // Twice is harmless, and one processing job waits for the worker.
    let (status, _) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(&creator),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let jobs: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'process_media' and state = 'queued'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(jobs, 1);

    let (status, signed) = app
        .get_auth(
            &format!("/api/v1/media/{id}/url?variant=original"),
            &creator,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let url = signed["url"].as_str().unwrap();
    let r = fetch(url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        Sha256::digest(r.bytes().await.unwrap()),
        Sha256::digest(&bytes)
    );
    // Everyone asking within the same minute gets the same URL (cacheable): two asks in a
    // row are compared when no minute boundary fell between them (taken before the first
    // and after the second, so a boundary in between is never mistaken for a change).
    let ask = || async {
        let (_, body) = app
            .get_auth(
                &format!("/api/v1/media/{id}/url?variant=original"),
                &creator,
            )
            .await;
        body["url"].as_str().unwrap().to_owned()
    };
    let minute = || chrono::Utc::now().timestamp() / 60;
    let mut compared = false;
    for _ in 0..3 {
        let before = minute();
        let (a, b) = (ask().await, ask().await);
        if minute() == before {
            assert_eq!(a, b, "two asks within one minute");
            compared = true;
            break;
        }
    }
    assert!(compared, "three tries each crossed a minute boundary");
}

#[tokio::test]
async fn upload_round_trip_on_local_storage() {
    let app = TestApp::spawn().await;
    round_trip(&app).await;
}

#[tokio::test]
async fn upload_round_trip_on_s3() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |_| {}).await;
    round_trip(&app).await;
}

/// Everything that must be refused, with nothing stored or changed.
async fn refusals(app: &TestApp) {
    let creator = app.user_with_role(Role::Creator).await;
    let other = app.user_with_role(Role::Creator).await;
    let storage = app.state.storage().unwrap();
    let new_upload = |len: usize| {
        let creator = creator.clone();
        async move {
            let (status, body) = request_upload(
                app,
                &creator,
                &json!({"kind": "image", "content_type": "image/png", "byte_size": len, "filename": "x.png"}),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body
        }
    };

    // A different size or type than signed.
    let body = new_upload(1000).await;
    let id: uuid::Uuid = body["asset_id"].as_str().unwrap().parse().unwrap();
    let r = put(&body["upload"], photo(2000), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a bigger body");
    let r = put(&body["upload"], photo(500), None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a smaller body");
    let r = put(&body["upload"], photo(1000), Some("text/html")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "another content type");
    assert_eq!(
        storage.head(&StorageKey::upload(id)).await.unwrap(),
        None,
        "nothing stored"
    );

    // Completing before uploading; completing someone else's.
    let (status, reply) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(&creator),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    put(&body["upload"], photo(1000), None).await;
    let (status, _) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(&other),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let state: String = sqlx::query_scalar("select state from media_assets where id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(state, "awaiting_upload", "nothing changed");

    // A non-owner never gets a URL for a private asset.
    app.post_json(
        &format!("/api/v1/media/{id}/complete"),
        Some(&creator),
        &json!({}),
    )
    .await;
    for path in [
        format!("/api/v1/media/{id}/url?variant=original"),
        format!("/api/v1/media/{id}"),
    ] {
        let (status, reply) = app.get_auth(&path, &other).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_error(&reply, "forbidden");
        assert!(!reply.to_string().contains("http"), "no URL: {reply}");
    }
    let r = app
        .client
        .get(format!("{}/api/v1/media/{id}/url", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "anonymous");

    // Tampered and expired download URLs.
    let (_, signed) = app
        .get_auth(&format!("/api/v1/media/{id}/url"), &creator)
        .await;
    let url = signed["url"].as_str().unwrap().to_owned();
    let tampered = url.replacen(&id.to_string(), &uuid::Uuid::now_v7().to_string(), 1);
    assert_eq!(
        fetch(&tampered).await.status(),
        StatusCode::FORBIDDEN,
        "{tampered}"
    );
    let key = StorageKey::upload(id);
    let expired = match storage.backend() {
        Backend::Local(l) => l
            .urls()
            .unwrap()
            .sign_get(&key, chrono::Utc::now().timestamp() - 1),
        Backend::S3(s) => s
            .presign_gets(
                &[key.as_str()],
                chrono::Utc::now() - chrono::Duration::hours(1),
                Duration::from_secs(60),
            )
            .await
            .unwrap()
            .remove(0),
    };
    assert_eq!(
        fetch(&expired).await.status(),
        StatusCode::FORBIDDEN,
        "{expired}"
    );

    // Over the limit, or a type that is not accepted: refused before anything is stored.
    let assets_before: i64 = sqlx::query_scalar("select count(*) from media_assets")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    for (body, field) in [
        (
            json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 30_000_000}),
            "byte_size",
        ),
        (
            json!({"kind": "video", "content_type": "video/mp4", "byte_size": 3_000_000_000_i64}),
            "byte_size",
        ),
        (
            json!({"kind": "image", "content_type": "image/svg+xml", "byte_size": 100}),
            "content_type",
        ),
        (
            json!({"kind": "image", "content_type": "text/html", "byte_size": 100}),
            "content_type",
        ),
        (
            json!({"kind": "video", "content_type": "image/jpeg", "byte_size": 100}),
            "content_type",
        ),
        (
            json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 0}),
            "byte_size",
        ),
        (
            json!({"kind": "image", "content_type": "image/jpeg", "byte_size": -5}),
            "byte_size",
        ),
        (
            json!({"kind": "audio", "content_type": "audio/mpeg", "byte_size": 100}),
            "kind",
        ),
        (
            json!({"kind": "image", "content_type": "image/jpeg", "byte_size": "big"}),
            "byte_size",
        ),
    ] {
        let (status, reply) = request_upload(app, &creator, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
        assert!(
            reply["error"]["fields"][field].is_array(),
            "{body}: {reply}"
        );
    }
    let assets_after: i64 = sqlx::query_scalar("select count(*) from media_assets")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(assets_before, assets_after);
}

#[tokio::test]
async fn local_storage_refuses_what_s3_refuses() {
    let app = TestApp::spawn().await;
    refusals(&app).await;
}

#[tokio::test]
async fn s3_refuses_mismatched_expired_and_tampered_requests() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |_| {}).await;
    refusals(&app).await;
}

#[tokio::test]
async fn an_expired_upload_url_is_refused() {
    for s3 in [false, true] {
        let server = S3Server::start().await;
        let short = |s: &mut zinovia::config::Settings| {
            s.media.upload_url_ttl = zinovia::config::HumanDuration(Duration::from_secs(1))
        };
        let app = if s3 {
            TestApp::spawn_s3(&server, short).await
        } else {
            TestApp::spawn_with(short).await
        };
        let creator = app.user_with_role(Role::Creator).await;
        let (_, body) = request_upload(
            &app,
            &creator,
            &json!({"kind": "image", "content_type": "image/webp", "byte_size": 10}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = put(&body["upload"], photo(10), None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "s3={s3}");
    }
}

#[tokio::test]
async fn range_requests_on_local_storage() {
    let app = TestApp::spawn().await;
    let creator = app.user_with_role(Role::Creator).await;
    let bytes = photo(10_000);
    let (_, body) = request_upload(
        &app,
        &creator,
        &json!({"kind": "video", "content_type": "video/mp4", "byte_size": bytes.len()}),
    )
    .await;
    let id = body["asset_id"].as_str().unwrap().to_owned();
    put(&body["upload"], bytes.clone(), None).await;
    app.post_json(
        &format!("/api/v1/media/{id}/complete"),
        Some(&creator),
        &json!({}),
    )
    .await;
    let (_, signed) = app
        .get_auth(&format!("/api/v1/media/{id}/url"), &creator)
        .await;
    let url = signed["url"].as_str().unwrap();
    let client = reqwest::Client::new();
    let r = client
        .get(url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let etag = r.headers()["etag"].clone();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..200]);
    let r = client
        .get(url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[9990..]);
    let r = client
        .get(url)
        .header("range", "bytes=20000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let r = client
        .get(url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn uploads_are_for_creators_except_profile_images_and_are_capped() {
    let app = TestApp::spawn_with(|s| s.media.media_max_pending_uploads = 2).await;
    let fan = app.user_with_role(Role::Fan).await;
    let (status, _) = request_upload(
        &app,
        &fan,
        &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 10}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "post media is for creators");
    let avatar = json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 10, "purpose": "avatar"});
    assert_eq!(
        request_upload(&app, &fan, &avatar).await.0,
        StatusCode::CREATED
    );
    let (status, reply) = request_upload(
        &app,
        &fan,
        &json!({"kind": "video", "content_type": "video/mp4", "byte_size": 10, "purpose": "avatar"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply["error"]["fields"]["kind"].is_array());
    assert_eq!(
        request_upload(&app, &fan, &avatar).await.0,
        StatusCode::CREATED
    );
    let (status, reply) = request_upload(&app, &fan, &avatar).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    let r = app
        .client
        .post(format!("{}/api/v1/media/uploads", app.base))
        .json(&avatar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Upload, complete, add a processed file the way the worker would, delete, run the jobs:
/// no object is left. An abandoned upload goes too.
async fn deletion_and_cleanup(app: &TestApp) {
    let creator = app.user_with_role(Role::Creator).await;
    let storage = app.state.storage().unwrap();
    let (_, body) = request_upload(
        app,
        &creator,
        &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 64}),
    )
    .await;
    let id: uuid::Uuid = body["asset_id"].as_str().unwrap().parse().unwrap();
    put(&body["upload"], photo(64), None).await;
    app.post_json(
        &format!("/api/v1/media/{id}/complete"),
        Some(&creator),
        &json!({}),
    )
    .await;
    let variant = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(variant.path(), photo(32)).unwrap();
    storage
        .put_file(
            &StorageKey::variant(id, "thumb.webp").unwrap(),
            variant.path(),
            "image/webp",
        )
        .await
        .unwrap();
    assert_eq!(storage.list().await.unwrap().len(), 2);

    // Someone else cannot delete it.
    let other = app.user_with_role(Role::Creator).await;
    let r = app
        .client
        .delete(format!("{}/api/v1/media/{id}", app.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .client
        .delete(format!("{}/api/v1/media/{id}", app.base))
        .bearer_auth(&creator)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Gone at once for the API...
    assert_eq!(
        app.get_auth(&format!("/api/v1/media/{id}"), &creator)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // ...and from storage once the job ran.
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(storage.list().await.unwrap(), Vec::<String>::new());
    let rows: i64 = sqlx::query_scalar("select count(*) from media_assets")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // An upload never completed, past the deadline.
    let (_, body) = request_upload(
        app,
        &creator,
        &json!({"kind": "image", "content_type": "image/gif", "byte_size": 16}),
    )
    .await;
    put(&body["upload"], photo(16), None).await;
    let (_, fresh) = request_upload(
        app,
        &creator,
        &json!({"kind": "image", "content_type": "image/gif", "byte_size": 16}),
    )
    .await;
    sqlx::query(
        "update media_assets set created_at = now() - interval '25 hours' where id = $1::uuid",
    )
    .bind(body["asset_id"].as_str().unwrap())
    .execute(&app.state.db)
    .await
    .unwrap();
    sqlx::query("update job_schedules set next_run_at = now()")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        storage.list().await.unwrap(),
        Vec::<String>::new(),
        "the abandoned object is gone"
    );
    let left: Vec<String> = sqlx::query_scalar("select id::text from media_assets")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        left,
        [fresh["asset_id"].as_str().unwrap().to_owned()],
        "only the recent upload is left"
    );
}

#[tokio::test]
async fn deletion_and_cleanup_leave_nothing_on_local_storage() {
    let app = TestApp::spawn().await;
    deletion_and_cleanup(&app).await;
}

#[tokio::test]
async fn deletion_and_cleanup_leave_nothing_on_s3() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |_| {}).await;
    deletion_and_cleanup(&app).await;
}

#[tokio::test]
async fn the_worker_writes_large_objects_to_s3_in_parts_and_reads_them_back() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |_| {}).await;
    let storage = app.state.storage().unwrap();
    let big = tempfile::NamedTempFile::new().unwrap();
    let bytes = photo(20 * 1024 * 1024 + 123);
    std::fs::write(big.path(), &bytes).unwrap();
    let key = StorageKey::variant(uuid::Uuid::now_v7(), "original.mp4").unwrap();
    storage
        .put_file(&key, big.path(), "video/mp4")
        .await
        .unwrap();
    let meta = storage.head(&key).await.unwrap().unwrap();
    assert_eq!(
        (meta.size, meta.content_type.as_str()),
        (bytes.len() as u64, "video/mp4")
    );
    let back = tempfile::NamedTempFile::new().unwrap();
    storage.get_to_file(&key, back.path()).await.unwrap();
    assert_eq!(
        Sha256::digest(std::fs::read(back.path()).unwrap()),
        Sha256::digest(&bytes)
    );
}

#[tokio::test]
async fn with_a_cdn_media_urls_are_cloudfront_signed() {
    let key = include_str!("../fixtures/cloudfront-test-ecdsa.pem");
    let app = TestApp::spawn_with(|s| {
        s.media.cdn_base_url = Some("https://media.zinovia.example".parse().unwrap());
        s.media.cloudfront_key_pair_id = Some("K2JCJMDEHXQW5F".into());
        s.media.cloudfront_private_key = Some(key.into());
    })
    .await;
    let creator = app.user_with_role(Role::Creator).await;
    let (_, body) = request_upload(
        &app,
        &creator,
        &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 8}),
    )
    .await;
    let id = body["asset_id"].as_str().unwrap().to_owned();
    put(&body["upload"], photo(8), None).await;
    app.post_json(
        &format!("/api/v1/media/{id}/complete"),
        Some(&creator),
        &json!({}),
    )
    .await;
    let (_, signed) = app
        .get_auth(&format!("/api/v1/media/{id}/url"), &creator)
        .await;
    let url = signed["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "https://media.zinovia.example/uploads/{id}?Expires="
        )),
        "{url}"
    );
    assert!(
        url.contains("&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256"),
        "{url}"
    );
}

#[tokio::test]
async fn the_media_api_is_documented() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get_json("/api/v1/openapi.json").await;
    for (path, method) in [
        ("/api/v1/media/uploads", "post"),
        ("/api/v1/media/{id}/complete", "post"),
        ("/api/v1/media/{id}", "get"),
        ("/api/v1/media/{id}", "delete"),
        ("/api/v1/media/{id}/url", "get"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["404"].is_object()
                || doc["paths"][path][method]["responses"]["422"].is_object(),
            "{method} {path}"
        );
    }
}
