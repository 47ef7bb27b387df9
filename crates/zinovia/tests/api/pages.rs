//! Accounts through the web pages, as a browser uses them: cookies, CSRF tokens in forms,
//! redirects to log in, inline errors; and CORS.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, token_of, unique_email};

const PASSWORD: &str = "purple lighthouse at dawn";

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token in a page's forms.
pub fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in:\n{html}"))
        .to_owned()
}

pub async fn page(b: &reqwest::Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = b.get(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

pub async fn post_form(
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

/// Turns two-factor sign-in on through Account → Security in a signed-in browser (the
/// session then counts as signed in with it); returns the secret and the recovery codes.
pub async fn enrol_totp_in_pages(b: &reqwest::Client, app: &TestApp) -> (String, Vec<String>) {
    let (status, html) = page(b, app, "/account/security").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("data-two-factor=\"off\""), "{html}");
    let csrf = csrf_of(&html);
    let r = post_form(b, app, "/account/security/totp", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("src=\"data:image/svg+xml;base64,"),
        "the QR code: {html}"
    );
    let secret: String = html
        .split("data-totp-secret>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no secret in {html}"))
        .replace(' ', "");
    let code = crate::helpers::totp_now(&secret, 0);
    let r = post_form(
        b,
        app,
        "/account/security/totp/confirm",
        &[("csrf_token", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-two-factor=\"on\""), "{html}");
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(ToOwned::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    (secret, codes)
}

/// Signs up through the sign-up page; returns the browser (logged in) and a CSRF token.
pub async fn signed_up_browser(app: &TestApp, email: &str) -> (reqwest::Client, String) {
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
    // A NUL in the email (PostgreSQL cannot hold one) is the client's error, not ours.
    let r = post_form(
        &b,
        &app,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", &format!("{email}\0")),
            ("password", "nope nope nope"),
        ],
    )
    .await;
    assert!(r.status().is_client_error(), "{}", r.status());
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
    let c = crate::helpers::creator(&app, "page_seller").await;
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
    app.run_pending_jobs(&zinovia::app::jobs()).await;
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

/// A page as a bearer-token client sees it (pages accept the API's tokens too).
pub async fn page_as(app: &TestApp, token: Option<&str>, path: &str) -> (StatusCode, String) {
    let mut req = browser().get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_creators_page_shows_locked_posts_blurred_without_their_files_and_unlocked_ones_in_full()
{
    use crate::helpers::{creator, member, post, ready_photo, subscribe};
    use zinovia::accounts::Role;
    let app = TestApp::spawn().await;
    let c = creator(&app, "page_maker").await;
    let photos = [
        ready_photo(&app.state.db, c.id).await,
        ready_photo(&app.state.db, c.id).await,
    ];
    let subs = post(
        &app,
        &c,
        json!({"text": "studio day", "media_ids": photos, "visibility": "subscribers"}),
    )
    .await;
    let third = ready_photo(&app.state.db, c.id).await;
    let ppv = post(
        &app,
        &c,
        json!({"text": "backstage", "media_ids": [third], "visibility": "ppv", "price_minor": 350}),
    )
    .await;
    let fan = member(&app, Role::Fan).await;

    for token in [None, Some(fan.token.as_str())] {
        let (status, html) = page_as(&app, token, "/page_maker").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            html.matches("class=\"post is-locked\"").count(),
            2,
            "{html}"
        );
        assert_eq!(
            html.matches("data:image/png;base64,").count(),
            2,
            "a placeholder each"
        );
        assert!(
            html.contains("2 photos") && html.contains("1 photo"),
            "{html}"
        );
        assert!(
            html.contains("Unlock for 3.50 USD") || token.is_none(),
            "{html}"
        );
        for id in photos.iter().chain([&third]) {
            assert!(
                !html.contains(&id.to_string()),
                "a locked file is named in the page"
            );
        }
        assert!(!html.contains("/storage/"), "no signed URL while locked");
        assert!(!html.contains("studio day"), "the text is withheld");
    }

    subscribe(&app, &fan, &c, "active", 30).await;
    let (_, html) = page_as(&app, Some(&fan.token), "/page_maker").await;
    let open = &html[html
        .find(&format!("id=\"post-{}\"", subs["id"].as_str().unwrap()))
        .unwrap()..];
    assert!(open.contains("studio day"));
    for id in photos {
        assert!(html.contains(&format!("media/{id}/grid.webp")), "{html}");
    }
    assert!(html.contains("srcset=\"") && html.contains(" 320w, ") && html.contains(" 2048w"));
    assert!(html.contains("loading=\"lazy\""));
    assert!(html.contains("class=\"tag ok\">Subscribed"));
    // The PPV post stays locked until bought.
    assert!(!html.contains(&third.to_string()));
    assert!(html.contains(&format!("id=\"post-{}\"", ppv["id"].as_str().unwrap())));

    // A subscriber likes the post from its card and comes back to it; the like is counted
    // on the page; taking it back works the same way. Others may not; `back` stays on site.
    let subs_id = subs["id"].as_str().unwrap();
    let like = |token: &str, like: &str, back: &str| {
        browser()
            .post(format!("{}/posts/{subs_id}/like", app.base))
            .bearer_auth(token)
            .form(&[("like", like), ("back", back)])
            .send()
    };
    let r = like(&fan.token, "1", "/page_maker").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/page_maker#post-{subs_id}").as_str()
    );
    let (_, html) = page_as(&app, Some(&fan.token), "/page_maker").await;
    let card = &html[html.find(&format!("id=\"post-{subs_id}\"")).unwrap()..];
    let card = &card[..card.find("</article>").unwrap()];
    assert!(
        card.contains("aria-pressed=\"true\">Liked") && card.contains("1 like "),
        "{card}"
    );
    let r = like(&fan.token, "0", "https://evil.example/")
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        format!("/feed#post-{subs_id}").as_str()
    );
    let (_, html) = page_as(&app, Some(&fan.token), "/page_maker").await;
    assert!(html.contains("aria-pressed=\"false\">Like<") && html.contains("0 likes"));
    let stranger = member(&app, Role::Fan).await;
    assert_eq!(
        like(&stranger.token, "1", "/page_maker")
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        like(&fan.token, "maybe", "/page_maker")
            .await
            .unwrap()
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, html) = page_as(&app, Some(&stranger.token), "/page_maker").await;
    assert!(
        !html.contains("/like\""),
        "no like button where it cannot be used"
    );

    // The post's page: its comments for those who may see it, a form to add one.
    let comment = |token: &str, text: &str| {
        browser()
            .post(format!("{}/posts/{subs_id}/comments", app.base))
            .bearer_auth(token)
            .form(&[("text", text)])
            .send()
    };
    let r = comment(&fan.token, "Lovely <b>light</b>").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        format!("/posts/{subs_id}#comments").as_str()
    );
    let (status, html) = page_as(&app, Some(&fan.token), &format!("/posts/{subs_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Lovely &#60;b&#62;light&#60;/b&#62;")
            || html.contains("Lovely &lt;b&gt;light&lt;/b&gt;"),
        "escaped: {html}"
    );
    assert!(
        html.contains("Add a comment") && html.contains("1 comment</a>"),
        "{html}"
    );
    let r = comment(&fan.token, "   ").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"text-error\""));
    assert_eq!(
        comment(&stranger.token, "hi").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let (status, html) = page_as(&app, None, &format!("/posts/{subs_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("Lovely") && !html.contains("Add a comment") && html.contains("is-locked")
    );
    assert_eq!(
        page_as(&app, None, "/posts/not-a-post").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        page_as(&app, None, &format!("/posts/{}", uuid::Uuid::now_v7()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The creator sees both, with their audience and price; unknown handles are 404.
    let (_, html) = page_as(&app, Some(&c.token), "/page_maker").await;
    assert!(html.contains("Pay-per-view · 3.50 USD") && html.contains("New post"));
    assert_eq!(
        page_as(&app, None, "/nobody_here").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        page_as(&app, None, "/page_maker?cursor=nonsense").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn becoming_a_creator_and_posting_through_the_forms_sends_errors_back_by_field_and_stores_nothing()
 {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let email = unique_email("maker");
    let (b, csrf) = signed_up_browser(&app, &email).await;
    let creators = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from creators")
            .fetch_one(db)
            .await
            .unwrap()
    };
    let (status, html) = page(&b, &app, "/settings/creator").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Become a creator"));
    let good = |handle: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("handle", handle.to_owned()),
            ("display_name", "Maker".to_owned()),
            ("bio", "I make things".to_owned()),
            ("price", "4.99".to_owned()),
            ("currency", "USD".to_owned()),
            ("trial_days", "0".to_owned()),
            ("welcome_message", String::new()),
            ("avatar_id", String::new()),
            ("banner_id", String::new()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>, path: &'static str| {
        let b = b.clone();
        let url = format!("{}{path}", app.base);
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    // Unverified email: the form says so and nothing is stored.
    let r = send(good("form_maker"), "/settings/creator").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("verify your email"));
    sqlx::query("update users set email_verified_at = now() where email = $1")
        .bind(&email)
        .execute(db)
        .await
        .unwrap();
    // Bad fields come back next to themselves, all at once, typed values kept.
    let mut bad = good("admin");
    bad[4].1 = "lots".into();
    bad[6].1 = "a week".into();
    bad[8].1 = "not-an-id".into();
    let r = send(bad, "/settings/creator").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    for id in ["handle-error", "price-error", "trial_days-error"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id}: {html}");
    }
    assert!(
        html.contains("is not an uploaded image") && html.contains(">I make things</textarea>")
    );
    assert_eq!(creators().await, 0);
    let r = send(good("form_maker"), "/settings/creator").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/form_maker?saved=1");
    assert_eq!(creators().await, 1);

    // The composer: a PPV post without a price is refused by field; a text post publishes.
    let posts = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from posts")
            .fetch_one(db)
            .await
            .unwrap()
    };
    let (status, html) = page(&b, &app, "/dashboard/compose").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Price to unlock (USD)"));
    let compose = |visibility: &str, price: &str, media: &str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("text", "hello from the form".to_owned()),
            ("media_ids", media.to_owned()),
            ("visibility", visibility.to_owned()),
            ("price", price.to_owned()),
            ("publish_at", String::new()),
            ("publish_at_utc", String::new()),
        ]
    };
    let r = send(compose("ppv", "", ""), "/dashboard/compose").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"price-error\"") && html.contains("hello from the form"));
    let stranger = uuid::Uuid::now_v7().to_string();
    let r = send(compose("public", "", &stranger), "/dashboard/compose").await;
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "an upload that is not theirs"
    );
    assert_eq!(posts().await, 0);
    let r = send(compose("public", "", ""), "/dashboard/compose").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/form_maker?published=")
    );
    assert_eq!(posts().await, 1);
    let (_, html) = page(&b, &app, "/form_maker?published=x").await;
    assert!(html.contains("Your post is published.") && html.contains("hello from the form"));
    let (status, html) = page(&b, &app, "/dashboard").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-stat=\"subscribers\">0<") && html.contains("Everyone"));
    assert_eq!(html.matches("class=\"bar\"").count(), 30, "a bar a day");
    // Without the form's token nothing is posted.
    let mut no_token = compose("public", "", "");
    no_token.remove(0);
    let r = send(no_token, "/dashboard/compose").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(posts().await, 1);
}

#[tokio::test]
async fn fans_pay_from_the_pages_and_see_their_subscriptions_and_purchases() {
    let app = TestApp::spawn().await;
    crate::helpers::creator(&app, "page_shop").await;
    let (b, csrf) = signed_up_browser(&app, &unique_email("shopper")).await;
    let (_, html) = page(&b, &app, "/page_shop").await;
    assert!(html.contains("Subscribe for 9.99 USD a month"), "{html}");
    let start = |form: Vec<(&'static str, String)>, path: String| {
        let b = b.clone();
        let url = format!("{}{path}", app.base);
        async move { b.post(url).form(&form).send().await.unwrap() }
    };
    let r = start(
        vec![
            ("csrf_token", csrf.clone()),
            ("kind", "subscription".into()),
            ("creator", "page_shop".into()),
        ],
        "/checkout".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let checkout = &to[to.find("/billing/simulated/checkout/").unwrap()..];
    let id = checkout.rsplit('/').next().unwrap().to_owned();
    let (_, html) = page(&b, &app, checkout).await;
    let r = post_form(
        &b,
        &app,
        checkout,
        &[("csrf_token", &csrf_of(&html)), ("outcome", "pay")],
    )
    .await;
    assert_eq!(r.headers()["location"], format!("/checkout/{id}").as_str());
    // Until the rail's events are handled, the page waits and refreshes itself.
    let (status, html) = page(&b, &app, &format!("/checkout/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("http-equiv=\"refresh\""), "{html}");
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let (_, html) = page(&b, &app, &format!("/checkout/{id}")).await;
    assert!(html.contains("You are subscribed to Ada."), "{html}");
    let (_, html) = page(&b, &app, "/page_shop").await;
    assert!(html.contains("Subscribed"));
    // Subscribing twice is explained, not an error page of the server.
    let r = start(
        vec![
            ("csrf_token", csrf.clone()),
            ("kind", "subscription".into()),
            ("creator", "page_shop".into()),
        ],
        "/checkout".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("This checkout cannot start")
    );

    // A tip: a bad amount comes back on the form; a good one goes to the rail.
    for (amount, expected) in [("three", "enter an amount"), ("0.10", "amount_minor")] {
        let r = start(
            vec![
                ("csrf_token", csrf.clone()),
                ("amount", amount.into()),
                ("message", "hi".into()),
            ],
            "/checkout/tip/page_shop".into(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("id=\"amount-error\"") && html.contains(">hi</textarea>"),
            "{amount}: {expected}: {html}"
        );
    }
    let r = start(
        vec![
            ("csrf_token", csrf.clone()),
            ("amount", "5".into()),
            ("message", "thanks".into()),
        ],
        "/checkout/tip/page_shop".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Subscriptions: cancel keeps access to the period's end.
    let (status, html) = page(&b, &app, "/account/subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Renews") && html.contains("Cancel subscription"),
        "{html}"
    );
    let r = post_form(
        &b,
        &app,
        "/account/subscriptions/page_shop/cancel",
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(
        r.headers()["location"],
        "/account/subscriptions?done=cancel"
    );
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let (_, html) = page(&b, &app, "/account/subscriptions").await;
    assert!(
        html.contains("Canceled: ends") && !html.contains("Cancel subscription"),
        "{html}"
    );
    let (status, _) = page(&b, &app, "/account/purchases").await;
    assert_eq!(status, StatusCode::OK);
}
