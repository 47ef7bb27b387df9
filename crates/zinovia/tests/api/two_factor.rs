//! Two-factor sign-in through the API and the pages: enrolment, the log-in challenge that
//! reaches nothing, codes and recovery codes used once, guessing voided and throttled,
//! operators held to it, turning it off, new-device emails, and the audit rows.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;
use zinovia::config::Rate;

use crate::helpers::{TestApp, assert_error, enrol_totp, mails_containing, totp_now, unique_email};
use crate::pages::{browser, csrf_of, enrol_totp_in_pages, page, post_form};

const PASSWORD: &str = "purple lighthouse at dawn";

async fn account(app: &TestApp, role: Role) -> (String, Uuid) {
    let email = unique_email(role.as_str());
    let user = zinovia::accounts::create_user(&app.state, &email, "Tess", role, PASSWORD)
        .await
        .unwrap();
    (email, user.id.0)
}

async fn log_in(app: &TestApp, email: &str, ua: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .header("user-agent", ua)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn second(app: &TestApp, challenge: &str, code: &str) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/auth/login/second-factor",
        None,
        &json!({"challenge": challenge, "code": code}),
    )
    .await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    crate::helpers::call(app, reqwest::Method::GET, path, Some(token), None).await
}

async fn audit_actions(app: &TestApp, user: Uuid) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log where subject_id = $1 order by id")
        .bind(user)
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_password_alone_opens_only_a_challenge_that_reaches_nothing() {
    let app =
        TestApp::spawn_with(|s| s.auth.rate_limit_login = "100/1h".parse::<Rate>().unwrap()).await;
    let (email, id) = account(&app, Role::Creator).await;
    let (status, body) = log_in(&app, &email, "phone").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["session"]["token"].as_str().unwrap().to_owned();
    let (status, s) = get(&app, "/api/v1/auth/two-factor", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s,
        json!({"totp": false, "recovery_codes_left": 0, "required": false, "this_session": false})
    );

    // Enrolment: a wrong first code is refused and nothing is on.
    let (status, e) = app
        .post_json("/api/v1/auth/two-factor/totp", Some(&token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    assert!(
        e["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Zinovia:")
    );
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let (status, body) = app
        .post_json(
            "/api/v1/auth/two-factor/totp/confirm",
            Some(&token),
            &json!({"code": "000000"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["code"].is_array());
    let (_, s) = get(&app, "/api/v1/auth/two-factor", &token).await;
    assert_eq!(s["totp"], false);
    let (secret, codes) = enrol_totp(&app, &token).await;
    assert_eq!(codes.len(), 10);
    let (_, s) = get(&app, "/api/v1/auth/two-factor", &token).await;
    assert_eq!(
        s,
        json!({"totp": true, "recovery_codes_left": 10, "required": false, "this_session": true})
    );
    let (status, _) = app
        .post_json("/api/v1/auth/two-factor/totp", Some(&token), &json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a second app needs turning off first"
    );
    let stored: Vec<u8> =
        sqlx::query_scalar("select secret_sealed from user_totp where user_id = $1")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(
        !stored
            .windows(20)
            .any(|w| w == crate::helpers::base32_decode(&secret).as_slice()),
        "the secret is sealed"
    );

    // The password now opens a challenge, not a session; the challenge reaches nothing.
    let (status, c) = log_in(&app, &email, "phone").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    assert!(c.get("session").is_none(), "{c}");
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    for path in [
        "/api/v1/auth/me",
        "/api/v1/auth/sessions",
        "/api/v1/me/creator/earnings",
    ] {
        let (status, body) = get(&app, path, &challenge).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let (status, body) = second(&app, &challenge, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = second(&app, &challenge, "111111").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The code used to enrol is spent; the next step's code signs in, once.
    let (status, body) = second(&app, &challenge, &totp_now(&secret, 0)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reused code: {body}"
    );
    let next = totp_now(&secret, 30);
    let (status, body) = second(&app, &challenge, &next).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signed_in = body["session"]["token"].as_str().unwrap().to_owned();
    let (_, s) = get(&app, "/api/v1/auth/two-factor", &signed_in).await;
    assert_eq!(s["this_session"], true);
    let (status, body) = second(&app, &challenge, &next).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used challenge: {body}");
    let (_, c) = log_in(&app, &email, "phone").await;
    let (status, body) = second(&app, c["challenge"].as_str().unwrap(), &next).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reused code: {body}"
    );

    // A recovery code works once, typed in any case, with or without its hyphen.
    let (_, c) = log_in(&app, &email, "phone").await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let (status, body) = second(&app, c["challenge"].as_str().unwrap(), &typed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, c) = log_in(&app, &email, "phone").await;
    let (status, body) = second(&app, c["challenge"].as_str().unwrap(), &codes[3]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, s) = get(&app, "/api/v1/auth/two-factor", &signed_in).await;
    assert_eq!(s["recovery_codes_left"], 9);

    // Five wrong codes void the challenge: even the right one then needs the password.
    let (_, c) = log_in(&app, &email, "phone").await;
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        let (status, _) = second(&app, &challenge, "999999").await;
        assert!(status.is_client_error());
    }
    let (status, _) = second(&app, &challenge, &codes[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // New recovery codes replace the old ones.
    let (status, fresh) = app
        .post_json(
            "/api/v1/auth/two-factor/recovery-codes",
            Some(&signed_in),
            &json!({"code": codes[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let (_, c) = log_in(&app, &email, "phone").await;
    let (status, _) = second(&app, c["challenge"].as_str().unwrap(), &codes[2]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an old code after replacement"
    );

    let actions = audit_actions(&app, id).await;
    assert_eq!(
        actions,
        [
            "account.two_factor_enabled",
            "account.recovery_code_used",
            "account.recovery_code_used",
            "account.recovery_codes_replaced"
        ],
        "{actions:?}"
    );
}

#[tokio::test]
async fn guessing_codes_is_throttled_per_account() {
    let app =
        TestApp::spawn_with(|s| s.auth.rate_limit_login = "6/1h".parse::<Rate>().unwrap()).await;
    let (email, _) = account(&app, Role::Fan).await;
    let (_, body) = log_in(&app, &email, "laptop").await;
    enrol_totp(&app, body["session"]["token"].as_str().unwrap()).await;
    let mut statuses = Vec::new();
    // Fresh challenges each time (the password is throttled by the same rate, so the
    // guesses run out before more challenges can be opened).
    let (_, c1) = log_in(&app, &email, "laptop").await;
    let (_, c2) = log_in(&app, &email, "laptop").await;
    for c in [&c1, &c2] {
        for _ in 0..4 {
            let (status, _) = second(&app, c["challenge"].as_str().unwrap(), "123123").await;
            statuses.push(status);
        }
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn operators_act_only_from_a_session_with_a_second_factor() {
    let app = TestApp::spawn().await;
    // The console's front page is for both operator roles; the audit log for administrators.
    for (role, path) in [
        (Role::Admin, "/api/v1/admin/audit-log"),
        (Role::Moderator, "/admin"),
    ] {
        let (email, _) = account(&app, role).await;
        let (status, body) = log_in(&app, &email, "desk").await;
        assert_eq!(
            status,
            StatusCode::OK,
            "no second factor yet: a plain session"
        );
        let token = body["session"]["token"].as_str().unwrap().to_owned();
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            r.text().await.unwrap().contains("two-factor sign-in"),
            "{path}"
        );
        let (_, s) = get(&app, "/api/v1/auth/two-factor", &token).await;
        assert_eq!(s["required"], true);
        if role == Role::Admin {
            // A password alone never gives an administrator's reach to paid posts.
            let maker = crate::helpers::creator(&app, "tf_paid").await;
            let p = crate::helpers::post(
                &app,
                &maker,
                json!({"text": "for subscribers", "visibility": "subscribers"}),
            )
            .await;
            let path = format!("/api/v1/posts/{}", p["id"].as_str().unwrap());
            let (_, seen) = get(&app, &path, &token).await;
            assert_eq!(seen["locked"], true, "{seen}");
            let (_, me) = get(&app, "/api/v1/auth/me", &token).await;
            assert_eq!(me["role"], "admin", "the account's role is still told");
        }
        let (secret, _) = enrol_totp(&app, &token).await;
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        if role == Role::Admin {
            let maker_post: Vec<Uuid> =
                sqlx::query_scalar("select id from posts where visibility = 'subscribers'")
                    .fetch_all(&app.state.db)
                    .await
                    .unwrap();
            let (_, seen) = get(&app, &format!("/api/v1/posts/{}", maker_post[0]), &token).await;
            assert_eq!(seen["locked"], false, "with the second factor: {seen}");
            // The audit log lists the enrolment, filtered by action family and actor.
            let me: Value = get(&app, "/api/v1/auth/me", &token).await.1;
            let (status, page) = get(
                &app,
                &format!(
                    "/api/v1/admin/audit-log?action=account&actor={}",
                    me["id"].as_str().unwrap()
                ),
                &token,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert_eq!(
                page["items"][0]["action"], "account.two_factor_enabled",
                "{page}"
            );
            assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
            let (status, page) =
                get(&app, "/api/v1/admin/audit-log?action=moderation", &token).await;
            assert_eq!(
                (status, page["items"].as_array().unwrap().len()),
                (StatusCode::OK, 0)
            );
            for bad in [
                "limit=0",
                "limit=x",
                "actor=nobody",
                "since=yesterday",
                "action=a%25",
            ] {
                let (status, body) =
                    get(&app, &format!("/api/v1/admin/audit-log?{bad}"), &token).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            }
            let r = app
                .client
                .get(format!("{}/admin/audit", app.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(
                r.text()
                    .await
                    .unwrap()
                    .contains("account.two_factor_enabled")
            );
        }
        if role == Role::Moderator {
            let (status, body) = get(&app, "/api/v1/admin/audit-log", &token).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "moderators do not read the audit log"
            );
            assert_error(&body, "forbidden");
        }
        // Operators cannot turn it off.
        let r = app
            .client
            .delete(format!("{}/api/v1/auth/two-factor", app.base))
            .bearer_auth(&token)
            .json(&json!({"password": PASSWORD, "code": totp_now(&secret, 30)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        // A later sign-in needs the code.
        let (status, _) = log_in(&app, &email, "desk").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_fresh_code_and_is_emailed() {
    let app = TestApp::spawn().await;
    let (email, id) = account(&app, Role::Creator).await;
    let (_, body) = log_in(&app, &email, "tablet").await;
    let token = body["session"]["token"].as_str().unwrap().to_owned();
    let (secret, codes) = enrol_totp(&app, &token).await;
    let off = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .client
                .delete(format!("{}/api/v1/auth/two-factor", app.base))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = off(json!({"password": "not the password", "code": codes[0]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["password"].is_array());
    let (status, body) = off(json!({"password": PASSWORD, "code": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["code"].is_array());
    let (status, body) = off(json!({"password": PASSWORD, "code": totp_now(&secret, 0)})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the enrolment's code again: {body}"
    );
    let (status, _) = off(json!({"password": PASSWORD, "code": codes[5]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = log_in(&app, &email, "tablet").await;
    assert_eq!(status, StatusCode::OK, "the password alone signs in again");
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        mails_containing(&app, &email, "Two-factor sign-in was turned off"),
        1
    );
    let actions = audit_actions(&app, id).await;
    assert_eq!(
        actions,
        [
            "account.two_factor_enabled",
            "account.recovery_code_used",
            "account.two_factor_disabled"
        ]
    );
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_is_emailed_to_the_owner() {
    let app = TestApp::spawn().await;
    let (email, _) = account(&app, Role::Fan).await;
    for ua in [
        "Firefox on the laptop",
        "Firefox on the laptop",
        "Safari on a phone",
    ] {
        let (status, _) = log_in(&app, &email, ua).await;
        assert_eq!(status, StatusCode::OK);
    }
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        mails_containing(&app, &email, "New sign-in to your Zinovia account"),
        1
    );
    assert_eq!(mails_containing(&app, &email, "Safari on a phone"), 1);
    assert_eq!(
        mails_containing(&app, &email, "Firefox on the laptop"),
        0,
        "the first device is not news"
    );
}

#[tokio::test]
async fn the_pages_sign_in_in_two_steps() {
    let app = TestApp::spawn().await;
    let (email, _) = account(&app, Role::Fan).await;
    let b = browser();
    let (_, html) = page(&b, &app, "/login").await;
    let r = post_form(
        &b,
        &app,
        "/login",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (secret, codes) = enrol_totp_in_pages(&b, &app).await;
    let (_, html) = page(&b, &app, "/account/security").await;
    assert!(html.contains("10 unused recovery codes left"), "{html}");

    // A new browser: the password leads to the second step; the challenge cookie alone
    // reaches nothing.
    let b2 = browser();
    let (_, html) = page(&b2, &app, "/login").await;
    let csrf = csrf_of(&html);
    let r = post_form(
        &b2,
        &app,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", &email),
            ("password", PASSWORD),
            ("next", "/account/security"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/login/second-factor"), "{to}");
    let set_cookie: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set_cookie
            .iter()
            .any(|c| c.starts_with("zinovia_login_challenge=") && c.contains("HttpOnly")),
        "{set_cookie:?}"
    );
    let (status, _) = page(&b2, &app, "/account").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "not signed in yet");
    let (status, html) = page(&b2, &app, &to).await;
    assert_eq!(status, StatusCode::OK);
    let r = post_form(
        &b2,
        &app,
        "/login/second-factor",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("code", "000000"),
            ("next", "/account/security"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("code-error"), "{html}");
    let r = post_form(
        &b2,
        &app,
        "/login/second-factor",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("code", &totp_now(&secret, 30)),
            ("next", "/account/security"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account/security");
    let (status, html) = page(&b2, &app, "/account/security").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-two-factor=\"on\"") && !html.contains("This session signed in before"),
        "{html}"
    );

    // Turned off from the page with the password and a recovery code.
    let r = post_form(
        &b2,
        &app,
        "/account/security/disable",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("password", PASSWORD),
            ("code", &codes[9]),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&b2, &app, "/account/security?done=off").await;
    assert!(
        html.contains("data-two-factor=\"off\"") && html.contains("Two-factor sign-in is off."),
        "{html}"
    );
}
