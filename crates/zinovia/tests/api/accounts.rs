//! Accounts through the JSON API: the whole sign-up → verify → log-in → log-out path,
//! credentials, sessions, reset, deletion, bad input, rate limits and the hash format.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zinovia::config::Rate;

use crate::helpers::{TestApp, assert_error, token_of, unique_email};

const PASSWORD: &str = "purple lighthouse at dawn";

#[tokio::test]
async fn sign_up_verify_log_in_me_log_out() {
    let app = TestApp::spawn().await;
    let email = unique_email("flow");
    let (signup_token, user_id) = app.sign_up(&email, PASSWORD).await;
    let (status, me) = app.get_auth("/api/v1/auth/me", &signup_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email_verified"], false);
    assert_eq!(me["role"], "fan");

    // The verification email is written to the local mail folder by the worker's job.
    let links = app.mailed_links().await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(
        links[0].starts_with(&format!("{}/verify-email?token=", app.base)),
        "{}",
        links[0]
    );
    let (status, body) = app
        .post_json(
            "/api/v1/auth/verify-email",
            None,
            &json!({"token": token_of(&links[0])}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Single use.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/verify-email",
            None,
            &json!({"token": token_of(&links[0])}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["token"].is_array(), "{body}");

    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "emails match without regard to case: {body}"
    );
    let token = body["session"]["token"].as_str().unwrap().to_owned();
    assert_ne!(token, signup_token, "a new token for every log-in");
    let (status, me) = app.get_auth("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user_id.as_str());
    assert_eq!(me["email_verified"], true);

    let (status, _) = app
        .post_json("/api/v1/auth/logout", Some(&token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get_auth("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    // The other session is untouched.
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &signup_token).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_identically() {
    let app = TestApp::spawn().await;
    let email = unique_email("cred");
    app.sign_up(&email, PASSWORD).await;
    let attempt = |email: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(format!("{}/api/v1/auth/login", app.base))
                .json(&json!({"email": email, "password": "not the password at all"}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let mut headers: Vec<String> = r
                .headers()
                .keys()
                .map(ToString::to_string)
                .filter(|k| k != "x-request-id" && k != "date")
                .collect();
            headers.sort();
            (status, headers, r.bytes().await.unwrap())
        }
    };
    let wrong = attempt(email).await;
    let unknown = attempt(unique_email("nobody")).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong, unknown,
        "status, headers and body must not tell the two apart"
    );
    let body: Value = serde_json::from_slice(&wrong.2).unwrap();
    assert_error(&body, "invalid_credentials");
}

#[tokio::test]
async fn stored_hashes_are_argon2id_with_owasp_parameters() {
    let app = TestApp::spawn().await;
    let email = unique_email("hash");
    app.sign_up(&email, PASSWORD).await;
    let hash: String =
        sqlx::query_scalar("select password_hash from users where lower(email) = lower($1)")
            .bind(&email)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    let adult: bool = sqlx::query_scalar(
        "select adult_confirmed_at is not null from users where lower(email) = lower($1)",
    )
    .bind(&email)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(adult, "the 18+ confirmation is stored with its time");
}

#[tokio::test]
async fn duplicate_emails_are_refused_without_regard_to_case() {
    let app = TestApp::spawn().await;
    let email = unique_email("dup");
    app.sign_up(&email, PASSWORD).await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": email.to_uppercase(), "password": PASSWORD, "display_name": "Twin", "confirm_adult": true}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["fields"]["email"][0]
            .as_str()
            .unwrap()
            .contains("already registered")
    );
    let n: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// Requests with the client IP set by a trusted proxy (the test itself).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rapid_wrong_passwords_are_throttled_per_account_and_ip_not_for_the_owner_elsewhere() {
    let app =
        TestApp::spawn_with(|s| s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()])
            .await;
    let email = unique_email("brute");
    app.sign_up(&email, PASSWORD).await;
    for i in 0..10 {
        let r = login_from(&app, "203.0.113.7", &email, "wrong password guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = login_from(&app, "203.0.113.7", &email, "wrong password guess").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_error(&r.json().await.unwrap(), "rate_limited");
    // Even the right password waits from that address...
    assert_eq!(
        login_from(&app, "203.0.113.7", &email, PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...but the owner, elsewhere, logs in.
    assert_eq!(
        login_from(&app, "198.51.100.20", &email, PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_ups_per_ip_are_limited() {
    let app =
        TestApp::spawn_with(|s| s.auth.rate_limit_signup = "2/1h".parse::<Rate>().unwrap()).await;
    app.sign_up(&unique_email("s1"), PASSWORD).await;
    app.sign_up(&unique_email("s2"), PASSWORD).await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": unique_email("s3"), "password": PASSWORD, "display_name": "Third", "confirm_adult": true}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&body, "rate_limited");
}

#[tokio::test]
async fn password_reset_works_once_expires_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let email = unique_email("reset");
    let (first, _) = app.sign_up(&email, PASSWORD).await;
    let (_, second) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    let second = second["session"]["token"].as_str().unwrap().to_owned();
    app.mailed_links().await; // the verification mail

    // Asking for a reset answers the same for unknown addresses.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": unique_email("ghost")}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": email}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let links = app.mailed_links().await;
    let reset = links
        .iter()
        .find(|l| l.contains("/reset-password/confirm?token="))
        .expect("reset link");
    assert_eq!(links.len(), 2, "no mail for the unknown address: {links:?}");

    let new_password = "a brand new passphrase";
    let confirm = json!({"token": token_of(reset), "new_password": new_password});
    let (status, body) = app
        .post_json("/api/v1/auth/password-reset/confirm", None, &confirm)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for token in [&first, &second] {
        assert_eq!(
            app.get_auth("/api/v1/auth/me", token).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Used once: never again.
    let (status, body) = app
        .post_json("/api/v1/auth/password-reset/confirm", None, &confirm)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["token"].is_array());
    // The old password is gone, the new one works.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": new_password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // An expired link does not work.
    app.post_json(
        "/api/v1/auth/password-reset",
        None,
        &json!({"email": email}),
    )
    .await;
    let links = app.mailed_links().await;
    let expired = links.last().unwrap();
    sqlx::query(
        "update account_tokens set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token_of(expired), "new_password": "yet another passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn sessions_are_listed_revoked_and_ended_by_password_change_and_logout_all() {
    let app = TestApp::spawn().await;
    let email = unique_email("sess");
    let (a, _) = app.sign_up(&email, PASSWORD).await;
    let login = || async {
        let (_, b) = app
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        (
            b["session"]["token"].as_str().unwrap().to_owned(),
            b["session"]["session_id"].as_str().unwrap().to_owned(),
        )
    };
    let (b, b_id) = login().await;
    let (c, _) = login().await;

    let (status, list) = app.get_auth("/api/v1/auth/sessions", &a).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);

    // Revoke b from a.
    let r = app
        .client
        .delete(format!("{}/api/v1/auth/sessions/{b_id}", app.base))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &b).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Someone else's (or an unknown) session id is not found.
    let r = app
        .client
        .delete(format!(
            "{}/api/v1/auth/sessions/{}",
            app.base,
            uuid::Uuid::new_v4()
        ))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Changing the password keeps this session and ends the others.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/password",
            Some(&a),
            &json!({"current_password": "wrong", "new_password": "another fine passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["current_password"].is_array());
    let (status, _) = app
        .post_json(
            "/api/v1/auth/password",
            Some(&a),
            &json!({"current_password": PASSWORD, "new_password": "another fine passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_auth("/api/v1/auth/me", &a).await.0, StatusCode::OK);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &c).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Log out everywhere ends this one too.
    let (status, _) = app
        .post_json("/api/v1/auth/logout-all", Some(&a), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &a).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sessions_expire_when_idle_or_too_old() {
    let app = TestApp::spawn().await;
    let (token, _) = app.sign_up(&unique_email("idle"), PASSWORD).await;
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &token).await.0,
        StatusCode::OK
    );
    sqlx::query("update sessions set last_seen_at = now() - interval '31 days'")
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    sqlx::query(
        "update sessions set last_seen_at = now(), expires_at = now() - interval '1 second'",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn deleting_the_account_ends_sessions_and_erases_personal_data() {
    let app = TestApp::spawn().await;
    let email = unique_email("bye");
    let (token, user_id) = app.sign_up(&email, PASSWORD).await;
    let delete = |password: &str| {
        app.client
            .delete(format!("{}/api/v1/auth/me", app.base))
            .bearer_auth(&token)
            .json(&json!({"password": password}))
            .send()
    };
    let r = delete("not it").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = delete(PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_auth("/api/v1/auth/me", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (stored_email, name, sessions): (String, String, i64) = sqlx::query_as(
        "select email, display_name, (select count(*) from sessions where user_id = u.id) from users u where id = $1::uuid",
    )
    .bind(&user_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(!stored_email.contains(&email[..10]) && stored_email.ends_with("@deleted.invalid"));
    assert_eq!((name.as_str(), sessions), ("Deleted account", 0));
    // The address is free again.
    app.sign_up(&email, PASSWORD).await;
}

fn big_string(n: usize) -> String {
    "x".repeat(n)
}

#[tokio::test]
async fn bad_input_gets_4xx_with_field_errors_never_5xx_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let sql = "'; drop table users; --";
    let script = "<script>alert(1)</script>";
    let json_bodies: Vec<(&str, Value)> = vec![
        ("/api/v1/auth/signup", json!({})),
        (
            "/api/v1/auth/signup",
            json!({"email": "", "password": "", "display_name": "", "confirm_adult": false}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": sql, "password": sql, "display_name": sql, "confirm_adult": sql}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": script, "password": script, "display_name": script, "confirm_adult": true}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": 42, "password": [1], "display_name": {"a": 1}, "confirm_adult": "yes"}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": format!("{}@example.com", big_string(300)), "password": big_string(2000), "display_name": big_string(500), "confirm_adult": true}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": unique_email("weak"), "password": "password", "display_name": "Weak", "confirm_adult": true}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"email": unique_email("kid"), "password": PASSWORD, "display_name": "Kid", "confirm_adult": false}),
        ),
        ("/api/v1/auth/signup", json!(["not", "an", "object"])),
        ("/api/v1/auth/login", json!({"email": sql, "password": sql})),
        (
            "/api/v1/auth/login",
            json!({"email": script, "password": big_string(5000)}),
        ),
        ("/api/v1/auth/login", json!({"email": null, "password": 1})),
        (
            "/api/v1/auth/login",
            json!({"email": "a\u{0}@example.com", "password": PASSWORD}),
        ),
        ("/api/v1/auth/password-reset", json!({"email": "\u{0}"})),
        ("/api/v1/auth/verify-email", json!({"token": "x\u{0}"})),
        ("/api/v1/auth/password-reset", json!({"email": sql})),
        (
            "/api/v1/auth/password-reset/confirm",
            json!({"token": sql, "new_password": script}),
        ),
        ("/api/v1/auth/verify-email", json!({"token": script})),
        (
            "/api/v1/auth/verify-email",
            json!({"token": big_string(10_000)}),
        ),
    ];
    for (path, body) in &json_bodies {
        let (status, reply) = app.post_json(path, None, body).await;
        assert!(status.is_client_error(), "{path} {body}: {status} {reply}");
        assert!(reply["error"]["code"].is_string(), "{path} {body}: {reply}");
    }
    // Field errors name the fields.
    let (_, reply) = app
        .post_json("/api/v1/auth/signup", None, &json_bodies[4].1)
        .await;
    let fields = reply["error"]["fields"].as_object().unwrap();
    assert_eq!(reply["error"]["code"], "validation_failed", "{reply}");
    let sent = ["email", "password", "display_name", "confirm_adult"];
    assert!(
        !fields.is_empty() && fields.keys().all(|k| sent.contains(&k.as_str())),
        "wrong types are reported on the field: {reply}"
    );
    let (_, reply) = app
        .post_json("/api/v1/auth/signup", None, &json_bodies[1].1)
        .await;
    let fields = reply["error"]["fields"].as_object().unwrap();
    for f in ["email", "password", "display_name", "confirm_adult"] {
        assert!(fields.contains_key(f), "{f} missing: {reply}");
    }

    // A NUL (which PostgreSQL cannot store) is refused on the field that holds it.
    let (status, reply) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "a\u{0}@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert!(reply["error"]["fields"]["email"].is_array(), "{reply}");

    // Raw bodies: empty, not JSON, invalid UTF-8, 10 MB, wrong content type.
    let raw: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", Vec::new()),
        ("application/json", b"{\"email\": ".to_vec()),
        (
            "application/json",
            vec![b'{', b'"', b'e', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}'],
        ),
        ("application/json", vec![b'{'; 10 * 1024 * 1024]),
        ("text/plain", b"{\"email\":\"a@b.co\"}".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"email=a%40b.co&password=x".to_vec(),
        ),
    ];
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/password-reset",
    ] {
        for (ct, body) in &raw {
            let r = app
                .client
                .post(format!("{}{path}", app.base))
                .header("content-type", *ct)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert!(
                status.is_client_error(),
                "{path} {ct} ({} bytes): {status}",
                body.len()
            );
            let reply: Value = r.json().await.unwrap();
            assert!(reply["error"]["code"].is_string(), "{reply}");
        }
    }
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs where kind like 'send_%'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!((users, jobs), (0, 0), "nothing stored");

    // A name that merely looks like SQL is text, stored as typed and harmless.
    let (status, body) = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": unique_email("obrien"), "password": PASSWORD, "display_name": "Robert'); DROP TABLE users;--", "confirm_adult": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["user"]["display_name"],
        "Robert'); DROP TABLE users;--"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn the_accounts_api_is_in_the_openapi_document_with_its_errors() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get_json("/api/v1/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/logout-all", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/auth/me", "delete"),
        ("/api/v1/auth/sessions", "get"),
        ("/api/v1/auth/sessions/{id}", "delete"),
        ("/api/v1/auth/password", "post"),
        ("/api/v1/auth/verify-email", "post"),
        ("/api/v1/auth/verify-email/resend", "post"),
        ("/api/v1/auth/password-reset", "post"),
        ("/api/v1/auth/password-reset/confirm", "post"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} missing");
        let responses = op["responses"].as_object().unwrap();
        let errors: Vec<&String> = responses.keys().filter(|k| k.starts_with('4')).collect();
        assert!(
            !errors.is_empty(),
            "{method} {path} documents no error response"
        );
        for code in errors {
            let schema = &responses[code]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(
                schema, "#/components/schemas/ErrorBody",
                "{method} {path} {code}"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn mail_goes_through_smtp_when_configured() {
    let sink = crate::helpers::SmtpSink::start().await;
    let url = format!("smtp://{}", sink.addr);
    let app = TestApp::spawn_with(|s| s.mail.smtp_url = Some(url.into())).await;
    let email = unique_email("smtp");
    app.sign_up(&email, PASSWORD).await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0, [format!("<{email}>")]);
    let links = crate::helpers::links_in(&messages[0].1);
    assert_eq!(links.len(), 1, "{}", messages[0].1);
    assert!(
        messages[0]
            .1
            .contains("Subject: Confirm your email for Zinovia")
    );
    // Nothing was written to the local folder.
    assert!(!app.data_dir().join("mail").exists());
}

#[tokio::test]
async fn a_failing_smtp_server_retries_the_mail_instead_of_failing_the_request() {
    // Nothing listens on this port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", dead.local_addr().unwrap());
    drop(dead);
    let app = TestApp::spawn_with(|s| {
        s.mail.smtp_url = Some(url.into());
        s.jobs.job_retry_base = zinovia::config::HumanDuration(Duration::from_secs(30));
    })
    .await;
    app.sign_up(&unique_email("retry"), PASSWORD).await; // 201 although mail cannot go out
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let (state, attempts, error): (String, i32, Option<String>) = sqlx::query_as(
        "select state, attempts, last_error from jobs where kind = 'send_verification_email'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        (state.as_str(), attempts),
        ("queued", 1),
        "waiting to retry"
    );
    assert!(error.unwrap().contains("sending failed"));
}

#[tokio::test]
async fn handlers_can_require_a_role() {
    use axum::routing::get;
    use zinovia::http::extract::{Admin, RequireRole};

    let app = TestApp::spawn().await;
    let (fan, _) = app.sign_up(&unique_email("fan"), PASSWORD).await;
    let admin_email = unique_email("boss");
    zinovia::accounts::create_user(
        &app.state,
        &admin_email,
        "Boss",
        zinovia::accounts::Role::Admin,
        PASSWORD,
    )
    .await
    .unwrap();
    let (_, body) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": admin_email, "password": PASSWORD}),
        )
        .await;
    let admin = body["session"]["token"].as_str().unwrap().to_owned();

    // A route only administrators may use, on the app's own state and error handling.
    let router = axum::Router::new()
        .route(
            "/api/v1/admin-only",
            get(|r: RequireRole<Admin>| async move { r.0.user.display_name.clone() }),
        )
        .with_state(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let get = |token: Option<String>| {
        let mut req = reqwest::Client::new().get(format!("{base}/api/v1/admin-only"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some(fan)).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // An administrator acts as one only from a session with a second factor.
    let r = get(Some(admin.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_error(&r.json().await.unwrap(), "second_factor_required");
    crate::helpers::enrol_totp(&app, &admin).await;
    let r = get(Some(admin)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "Boss");
}
