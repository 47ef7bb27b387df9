//! Accounts through the web pages, as a browser uses them: cookies, CSRF tokens in forms,
//! redirects to log in, inline errors; and CORS.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, token_of, unique_email};

const PASSWORD: &str = "purple lighthouse at dawn";

/// A browser: keeps cookies, does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token in a page's forms.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in:\n{html}"))
        .to_owned()
}

async fn page(b: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = b.get(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post_form(
    b: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Signs up through the sign-up page; returns the browser (logged in) and a CSRF token.
async fn signed_up_browser(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let b = browser();
    let (_, html) = page(&b, app, "/signup").await;
    let csrf = csrf_of(&html);
    let r = post_form(
        &b,
        app,
        "/signup",
        &[
            ("csrf_token", &csrf),
            ("email", email),
            ("display_name", "Page Person"),
            ("password", PASSWORD),
            ("confirm_adult", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account?done=welcome");
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("zinovia_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    // The CSRF cookie is rotated at log-in: read the new token from a page.
    let (status, html) = page(&b, app, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Page Person"));
    let csrf = csrf_of(&html);
    (b, csrf)
}

#[tokio::test]
async fn a_cookie_authenticated_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let email = unique_email("csrf");
    let (b, csrf) = signed_up_browser(&app, &email).await;

    // A page form without the token: 403, still logged in.
    let r = post_form(&b, &app, "/account/logout-all", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("reload the page"));
    // With someone else's token: 403 too.
    let r = post_form(
        &b,
        &app,
        "/account/logout-all",
        &[("csrf_token", "forged-token-value")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let sessions: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sessions, 1, "nothing changed");
    assert_eq!(page(&b, &app, "/account").await.0, StatusCode::OK);

    // The JSON API with the cookie needs the header too.
    let r = b
        .post(format!("{}/api/v1/auth/password", app.base))
        .json(&json!({"current_password": PASSWORD, "new_password": "changed by a forgery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_error(&r.json::<Value>().await.unwrap(), "csrf_failed");
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the password did not change");

    // With the token everything works.
    let r = b
        .post(format!("{}/api/v1/auth/logout", app.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = b.get(format!("{}/account", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged out");
}

#[tokio::test]
async fn bearer_requests_need_no_csrf_token() {
    let app = TestApp::spawn().await;
    let (token, _) = app.sign_up(&unique_email("bearer"), PASSWORD).await;
    let (status, _) = app
        .post_json("/api/v1/auth/logout", Some(&token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn pages_that_need_a_session_send_people_to_log_in_and_back() {
    let app = TestApp::spawn().await;
    let email = unique_email("login");
    app.sign_up(&email, PASSWORD).await;
    let b = browser();
    let r = b
        .get(format!("{}/account?done=x", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=%2Faccount%3Fdone%3Dx");

    let (_, html) = page(&b, &app, "/login?next=%2Faccount").await;
    let csrf = csrf_of(&html);
    // A wrong password shows the form again with a message, not which part was wrong.
    let r = post_form(
        &b,
        &app,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", &email),
            ("password", "nope nope nope"),
            ("next", "/account"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("wrong email or password"), "{html}");
    assert!(
        html.contains(&format!("value=\"{email}\"")),
        "the email is kept"
    );
    // The right one goes back where the person wanted to be; never to another site.
    let r = post_form(
        &b,
        &app,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", &email),
            ("password", PASSWORD),
            ("next", "//evil.example"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account");

    // An anonymous form post without a token (login CSRF) is refused.
    let fresh = browser();
    let r = post_form(
        &fresh,
        &app,
        "/login",
        &[("email", &email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_up_page_shows_field_errors_inline_and_keeps_input() {
    let app = TestApp::spawn().await;
    let b = browser();
    let (_, html) = page(&b, &app, "/signup").await;
    let csrf = csrf_of(&html);
    let r = post_form(
        &b,
        &app,
        "/signup",
        &[
            ("csrf_token", &csrf),
            ("email", "not-an-email"),
            ("display_name", "<b>x</b>"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    for msg in [
        "is not a valid email address",
        "must not contain",
        "at least 8 characters",
        "18 or older",
    ] {
        assert!(html.contains(msg), "{msg} missing");
    }
    assert!(html.contains("value=\"not-an-email\""));
    assert!(
        !html.contains("<b>x</b>"),
        "input is escaped when shown again"
    );
    assert!(html.contains("aria-invalid=\"true\""));
}

#[tokio::test]
async fn the_emailed_verification_link_confirms_only_when_the_button_is_pressed() {
    let app = TestApp::spawn().await;
    let email = unique_email("verifypage");
    let (b, _) = signed_up_browser(&app, &email).await;
    let link = app.mailed_links().await.pop().unwrap();
    let path = link.trim_start_matches(&app.base).to_owned();
    // Opening the link (a mail scanner would) changes nothing.
    let r = b.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    let verified: bool = sqlx::query_scalar("select email_verified_at is not null from users")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(!verified);
    let r = post_form(
        &b,
        &app,
        "/verify-email",
        &[("csrf_token", &csrf_of(&html)), ("token", &token_of(&link))],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Email confirmed"));
    let (_, html) = page(&b, &app, "/account").await;
    assert!(html.contains("Your email address is confirmed"));
}

#[tokio::test]
async fn password_reset_through_the_pages() {
    let app = TestApp::spawn().await;
    let email = unique_email("resetpage");
    app.sign_up(&email, PASSWORD).await;
    app.mailed_links().await;
    let b = browser();
    let (_, html) = page(&b, &app, "/reset-password").await;
    let r = post_form(
        &b,
        &app,
        "/reset-password",
        &[("csrf_token", &csrf_of(&html)), ("email", &email)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Check your inbox"));
    let link = app.mailed_links().await.pop().unwrap();
    let (_, html) = page(&b, &app, link.trim_start_matches(&app.base)).await;
    let r = post_form(
        &b,
        &app,
        "/reset-password/confirm",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("token", &token_of(&link)),
            ("new_password", "the newest passphrase"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": "the newest passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_deletes_the_account() {
    let app = TestApp::spawn().await;
    let email = unique_email("accountpage");
    let (b, csrf) = signed_up_browser(&app, &email).await;
    app.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let (_, html) = page(&b, &app, "/account").await;
    assert_eq!(
        html.matches("/revoke\"").count(),
        1,
        "one other session can be ended"
    );
    assert!(html.contains("(this one)"));
    let r = post_form(
        &b,
        &app,
        "/account/delete",
        &[("csrf_token", &csrf), ("password", "wrong")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is not your password"));
    let r = post_form(
        &b,
        &app,
        "/account/delete",
        &[("csrf_token", &csrf), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let n: i64 = sqlx::query_scalar("select count(*) from sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "every session ended at once");
}

#[tokio::test]
async fn cors_allows_only_listed_origins_with_credentials() {
    let app =
        TestApp::spawn_with(|s| s.http.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/auth/me", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-csrf-token")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // Without CORS_ORIGINS, nothing is allowed cross-origin.
    let closed = TestApp::spawn().await;
    let r = closed
        .client
        .get(format!("{}/healthz", closed.base))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_simulated_checkout_page_pays_on_a_click_with_its_csrf_token() {
    let app = TestApp::spawn().await;
    let c = crate::posts::creator(&app, "page_seller").await;
    let (b, csrf) = signed_up_browser(&app, &unique_email("payer")).await;
    let r = b
        .post(format!("{}/api/v1/billing/checkout", app.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"kind": "subscription", "creator": "page_seller"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let started: Value = r.json().await.unwrap();
    let url = started["url"].as_str().unwrap();
    let path = &url[url.find("/billing/").unwrap()..];
    let (status, html) = page(&b, &app, path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Pay 9.99 USD") && html.contains("@page_seller"),
        "{html}"
    );
    // Someone else (not signed in) cannot see it; a form without the token is refused.
    let (status, _) = page(&browser(), &app, path).await;
    assert_ne!(status, StatusCode::OK);
    let r = post_form(&b, &app, path, &[("outcome", "pay")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post_form(
        &b,
        &app,
        path,
        &[("csrf_token", &csrf_of(&html)), ("outcome", "pay")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.run_pending_jobs(&zinovia::jobs::Registry::standard())
        .await;
    let subscribed: i64 = sqlx::query_scalar(
        "select count(*) from subscriptions where creator_id = $1 and status = 'active'",
    )
    .bind(c.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(subscribed, 1);
    let (_, html) = page(&b, &app, path).await;
    assert!(html.contains("This checkout is completed"), "{html}");
}
