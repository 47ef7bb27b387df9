//! The HTTP skeleton: health, readiness, metrics, errors, headers, OpenAPI and the pages.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, assert_error, content_type};

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "database": "ok", "problems": []})
    );
}

#[tokio::test]
async fn readiness_reports_pending_migrations_until_migrated() {
    let db = TestDb::empty().await;
    let pool = db.pool().await;
    let app = TestApp::spawn_on(db, |_| {}).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "migrations_pending");
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("pending: 1 setup"),
        "{body}"
    );
    // /healthz does not care: the process is alive.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    zinovia::database::migrations::run(&pool).await.unwrap();
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/api/v1/nothing-here/123").await;
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            r#"zinovia_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    // Unknown paths are counted under one label, not one series per path.
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains("nothing-here"));
    assert!(text.contains("zinovia_http_request_duration_seconds_bucket"));
    assert!(
        text.contains("zinovia_db_pool_max_connections 10"),
        "{text}"
    );
    assert!(text.contains(r#"zinovia_jobs{state="queued"} 0"#), "{text}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").await;
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // Served over plain http here: no HSTS.
    assert!(h.get("strict-transport-security").is_none());

    // The load balancer's id is kept; a malformed one is replaced.
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "1-5f84c7a5-3f6bc4d2e1a9f2b1c0d9e8f7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "1-5f84c7a5-3f6bc4d2e1a9f2b1c0d9e8f7"
    );
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "evil\"}{\"level\":\"error")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "evil\"}{\"level\":\"error");
}

#[tokio::test]
async fn hsts_is_sent_when_served_over_https() {
    let app = TestApp::spawn_with(|s| {
        s.site.public_base_url = Some("https://zinovia.example".parse().unwrap());
    })
    .await;
    let r = app.get("/").await;
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}

#[tokio::test]
async fn unknown_api_routes_get_the_json_envelope_and_pages_get_a_page() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/api/v1/does-not-exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");
    assert_eq!(body["error"]["fields"], serde_json::json!({}));

    let r = app.get("/no/such/page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(content_type(&r).starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

#[tokio::test]
async fn wrong_method_and_oversized_bodies_use_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .delete(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers().get(header::ALLOW).is_some());
    assert_error(&r.json::<Value>().await.unwrap(), "method_not_allowed");

    let big = vec![b'x'; 3 * 1024 * 1024];
    let r = app
        .client
        .post(format!("{}/api/v1/openapi.json", app.base))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&r.json::<Value>().await.unwrap(), "payload_too_large");
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_the_api() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Zinovia API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"]["description"].is_string());
    let error = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
    for field in ["code", "message", "fields"] {
        assert!(
            error[field].is_object(),
            "ErrorDetail.{field} missing: {doc}"
        );
    }
    // The same document the CLI prints (`zinovia openapi`: the embedded defaults' limits,
    // which the test app keeps).
    let cli = zinovia::app::openapi_json(&zinovia::config::Settings::defaults()).unwrap();
    assert_eq!(doc, serde_json::from_str::<Value>(&cli).unwrap());
}

#[tokio::test]
async fn the_api_reference_uses_only_assets_served_by_the_app() {
    let app = TestApp::spawn().await;
    let (status, html) = app.get_text("/api/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URLs: {html}"
    );
    assert!(html.contains("data-spec-url=\"/api/v1/openapi.json\""));
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 3, "{html}");
    for asset in assets {
        let r = app.get(asset).await;
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            (asset.ends_with(".js") && ct.starts_with("text/javascript"))
                || (asset.ends_with(".css") && ct.starts_with("text/css")),
            "{asset}: {ct}"
        );
        // Revalidation with the ETag answers 304 without a body.
        let etag = r.headers()["etag"].clone();
        let again = app
            .client
            .get(format!("{}{asset}", app.base))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
}

#[tokio::test]
async fn the_home_page_says_what_zinovia_is() {
    let app = TestApp::spawn().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(content_type(&r).starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("creator-subscription platform"), "{html}");
    assert!(html.contains("pay-per-view"));
    assert!(!html.contains("<script"), "the home page needs no script");
    let linked: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with("/assets/"))
        .collect();
    let css = linked
        .iter()
        .find(|h| h.starts_with("/assets/site."))
        .unwrap();
    let icon = linked
        .iter()
        .find(|h| h.starts_with("/assets/favicon."))
        .unwrap();
    for asset in [css, icon] {
        let r = app.get(asset).await;
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{asset}"
        );
    }
    assert_eq!(
        app.get("/assets/missing.css").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_within_the_grace_period() {
    use axum::routing::get;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    let app = axum::Router::new().route(
        "/slow/{ms}",
        get(
            |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "done"
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(zinovia::http::serve(
        listener,
        app,
        stop.clone(),
        Duration::from_secs(2),
    ));
    let client = reqwest::Client::new();
    let in_flight = tokio::spawn(client.get(format!("{base}/slow/700")).send());
    let too_slow = tokio::spawn(client.get(format!("{base}/slow/60000")).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped_at = std::time::Instant::now();
    stop.cancel();

    // The request that fits in the grace period completes normally...
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "done");
    // ...new connections are refused...
    assert!(reqwest::get(format!("{base}/slow/1")).await.is_err());
    // ...and serving ends once the grace period is over, however long the rest would take
    // (the process then exits, dropping those connections).
    server.await.unwrap().unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    assert!(!too_slow.is_finished());
    too_slow.abort();
}
