//! Moderators' actions through the API and the pages: a suspended creator behaves as a
//! deleted one (#10) until restored, a ban is lifted by an administrator only, removed
//! content is hidden at once and kept as evidence under a legal hold, owners are told and
//! appeal (signed in, or from a suspension notice's link), every action is audited with its
//! reason, and the authorization matrix of every new endpoint.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;

use crate::billing::{click, count, locked_post, simulated_app, start};
use crate::helpers::{
    Member, TestApp, assert_error, call, creator, mails_containing, member, post,
};
use crate::lifecycle::{my_subscription, statuses, subscribe};
use crate::pages::{browser, csrf_of, page, post_form};

const PASSWORD: &str = "purple lighthouse at dawn";

async fn jobs(app: &TestApp) {
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

async fn email_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("select email from users where id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn audit_reason(app: &TestApp, action: &str, subject: Uuid) -> Option<(String, Uuid)> {
    sqlx::query_as(
        "select reason, actor_id from audit_log where action = $1 and subject_id = $2 order by id desc limit 1",
    )
    .bind(action)
    .bind(subject)
    .fetch_optional(&app.state.db)
    .await
    .unwrap()
}

async fn act(app: &TestApp, who: &Member, path: &str, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, path, Some(&who.token), Some(body)).await
}

/// A token of an operator signed in with the password only (no second factor).
async fn operator_without_second_factor(app: &TestApp, role: Role) -> String {
    let email = crate::helpers::unique_email(role.as_str());
    zinovia::accounts::create_user(&app.state, &email, "Plain", role, PASSWORD)
        .await
        .unwrap();
    let (_, body) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    body["session"]["token"].as_str().unwrap().to_owned()
}

async fn log_in(app: &TestApp, email: &str) -> (StatusCode, Value) {
    app.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
}

#[tokio::test]
async fn a_suspended_creator_is_gone_like_a_deleted_one_until_an_appeal_restores_it() {
    let app = simulated_app().await;
    let db = &app.state.db;
    let c = creator(&app, "suspendme").await;
    let c_email = email_of(&app, c.id).await;
    let public = post(&app, &c, json!({"text": "hello", "visibility": "public"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ppv = locked_post(&app, &c, "ppv").await;
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let subscriber = member(&app, Role::Fan).await;
    let pending = member(&app, Role::Fan).await;
    let stranger = member(&app, Role::Fan).await;
    subscribe(&app, &subscriber, "suspendme").await;
    let (status, open) = start(&app, &pending, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{open}");
    assert_eq!(
        my_subscription(&app, &subscriber, "suspendme").await["access"],
        true
    );

    let moderator = member(&app, Role::Moderator).await;
    let path = format!("/api/v1/moderation/accounts/{}/suspend", c.id);
    let (status, body) = act(&app, &moderator, &path, json!({"reason": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["reason"].is_array(), "{body}");
    let (status, _) = act(&app, &stranger, &path, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = act(
        &app,
        &moderator,
        &format!("/api/v1/moderation/accounts/{}/suspend", Uuid::now_v7()),
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, taken) = act(
        &app,
        &moderator,
        &path,
        json!({"reason": "Selling content that is not theirs"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let action_id = taken["action_id"].as_str().unwrap().to_owned();
    let (status, _) = act(&app, &moderator, &path, json!({"reason": "again"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "suspended once");

    // At once: the creator's session is over and signing in is refused, with the reason why.
    let (status, _) = app.get_auth("/api/v1/auth/me", &c.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = log_in(&app, &c_email).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_error(&body, "account_suspended");
    // A wrong password learns nothing about the suspension.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": c_email, "password": "not the password at all"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing of theirs is served, to anyone, and nothing can be bought.
    for id in [&public, &ppv, &subs_only] {
        for token in [None, Some(subscriber.token.as_str())] {
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
    for p in [
        "/api/v1/creators/suspendme",
        "/api/v1/creators/suspendme/posts",
        "/suspendme",
    ] {
        assert_eq!(app.get(p).await.status(), StatusCode::NOT_FOUND, "{p}");
    }
    let (status, body) = start(&app, &stranger, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = start(
        &app,
        &stranger,
        json!({"kind": "subscription", "creator": "suspendme"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = click(&app, &pending, &open, "pay").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        my_subscription(&app, &subscriber, "suspendme").await["access"],
        false
    );
    jobs(&app).await;
    assert_eq!(
        statuses(&app, subscriber.id).await,
        ["canceled"],
        "canceled at the rail"
    );
    assert_eq!(
        audit_reason(&app, "moderation.suspend", c.id).await,
        Some((
            "Selling content that is not theirs".to_owned(),
            moderator.id
        ))
    );

    // The notice carries the reason and a link to appeal without signing in.
    assert_eq!(
        mails_containing(&app, &c_email, "Selling content that is not theirs"),
        1
    );
    let mail = std::fs::read_dir(app.data_dir().join("mail"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .find(|t| t.contains(&c_email) && t.contains("suspended"))
        .unwrap();
    let mail = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let link = mail
        .split_whitespace()
        .find(|w| w.contains("/appeal?action="))
        .expect("an appeal link");
    let token = link.split("token=").nth(1).unwrap();
    let token = urlencoding_decode(token);
    let appeal = |token: String, body: &'static str| {
        let app = &app;
        let action_id = action_id.clone();
        async move {
            call(
                app,
                Method::POST,
                "/api/v1/appeals",
                None,
                Some(json!({"action_id": action_id, "body": body, "token": token})),
            )
            .await
        }
    };
    let (status, _) = appeal("forged".into(), "let me back").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a forged token reaches nothing"
    );
    let (status, body) = appeal(token.clone(), "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, filed) = appeal(token.clone(), "These are my own photos; here is the proof").await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let (status, _) = appeal(token.clone(), "again").await;
    assert_eq!(status, StatusCode::CONFLICT, "one open appeal");

    // The moderator sees it and grants it: the account and its posts come back.
    let (status, q) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/appeals",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(
        q[0]["body"], "These are my own photos; here is the proof",
        "{q}"
    );
    let appeal_id = filed["id"].as_str().unwrap();
    let (status, body) = act(
        &app,
        &moderator,
        &format!("/api/v1/moderation/appeals/{appeal_id}/grant"),
        json!({"reason": "Proof of ownership received"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = log_in(&app, &c_email).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{public}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.get("/suspendme").await.status(), StatusCode::OK);
    // Subscriptions the suspension canceled stay canceled: the fan subscribes again.
    assert_eq!(
        my_subscription(&app, &subscriber, "suspendme").await["access"],
        false
    );
    let (status, body) = start(&app, &stranger, json!({"kind": "ppv", "post_id": ppv})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        audit_reason(&app, "moderation.restore", c.id).await,
        Some(("Proof of ownership received".to_owned(), moderator.id))
    );
    jobs(&app).await;
    assert_eq!(
        mails_containing(&app, &c_email, "Proof of ownership received"),
        1
    );
    let (status, _) = act(
        &app,
        &moderator,
        &format!("/api/v1/moderation/appeals/{appeal_id}/deny"),
        json!({"reason": "late"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided once");
    assert_eq!(
        count(db, "select count(*) from posts where hidden_by_suspension").await,
        0
    );
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("t={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_ban_is_lifted_by_an_administrator_only_and_operators_are_not_suspended() {
    let app = TestApp::spawn().await;
    let fan = member(&app, Role::Fan).await;
    let moderator = member(&app, Role::Moderator).await;
    let admin = member(&app, Role::Admin).await;
    let (status, taken) = act(
        &app,
        &moderator,
        &format!("/api/v1/moderation/accounts/{}/suspend", fan.id),
        json!({"reason": "Spam in every comment", "ban": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let restore = format!(
        "/api/v1/moderation/actions/{}/restore",
        taken["action_id"].as_str().unwrap()
    );
    let (status, _) = act(
        &app,
        &moderator,
        &restore,
        json!({"reason": "changed my mind"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a moderator cannot lift a ban"
    );
    let (status, body) = act(
        &app,
        &admin,
        &restore,
        json!({"reason": "Mistaken identity"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = act(&app, &admin, &restore, json!({"reason": "twice"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for op in [&moderator, &admin] {
        let (status, body) = act(
            &app,
            &admin,
            &format!("/api/v1/moderation/accounts/{}/suspend", op.id),
            json!({"reason": "x"}),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
}

#[tokio::test]
async fn removed_content_is_hidden_at_once_kept_under_a_legal_hold_and_restorable() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let c = creator(&app, "removeme").await;
    let c_email = email_of(&app, c.id).await;
    let photo = crate::helpers::ready_photo(db, c.id).await;
    let p = post(
        &app,
        &c,
        json!({"text": "look", "media_ids": [photo], "visibility": "public"}),
    )
    .await;
    let post_id = p["id"].as_str().unwrap().to_owned();
    let fan = member(&app, Role::Fan).await;
    let fan_email = email_of(&app, fan.id).await;
    crate::helpers::grant_subscription(
        db,
        fan.id,
        c.id,
        "active",
        chrono::Utc::now() + chrono::Duration::days(30),
        None,
    )
    .await
    .unwrap();
    let (status, comment) = call(
        &app,
        Method::POST,
        &format!("/api/v1/posts/{post_id}/comments"),
        Some(&fan.token),
        Some(json!({"text": "buy followers at spam.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    let comment_id = comment["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        Some(&fan.token),
        Some(json!({"subject_type": "post", "subject_id": post_id, "category": "copyright", "details": "my photo"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let moderator = member(&app, Role::Moderator).await;

    let (status, body) = act(
        &app,
        &moderator,
        "/api/v1/moderation/removals",
        json!({"subject_type": "profile", "subject_id": c.id, "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = act(
        &app,
        &moderator,
        "/api/v1/moderation/removals",
        json!({"subject_type": "post", "subject_id": "nope", "reason": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["subject_id"].is_array()
            && body["error"]["fields"]["reason"].is_array(),
        "{body}"
    );
    let (status, taken) = act(
        &app,
        &moderator,
        "/api/v1/moderation/removals",
        json!({"subject_type": "post", "subject_id": post_id, "reason": "The photographer's work, posted without a licence"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    let action_id = taken["action_id"].as_str().unwrap().to_owned();
    let (status, _) = act(
        &app,
        &moderator,
        "/api/v1/moderation/removals",
        json!({"subject_type": "post", "subject_id": post_id, "reason": "again"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "gone already");

    // Hidden at once from everyone, the owner included; its file is kept and cannot be deleted.
    for token in [None, Some(fan.token.as_str()), Some(c.token.as_str())] {
        let (status, _) = call(
            &app,
            Method::GET,
            &format!("/api/v1/posts/{post_id}"),
            token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let held: bool = sqlx::query_scalar("select legal_hold from media_assets where id = $1")
        .bind(photo)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(held);
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/media/{photo}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The report closed as acted on; the reporter and the owner are told.
    let (_, q) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/reports?status=actioned",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(q[0]["subject_id"], post_id.as_str(), "{q}");
    jobs(&app).await;
    assert_eq!(mails_containing(&app, &fan_email, "We acted on it"), 1);
    assert_eq!(
        mails_containing(&app, &c_email, "posted without a licence"),
        1
    );
    let (status, notices) = app.get_auth("/api/v1/notices", &c.token).await;
    assert_eq!(status, StatusCode::OK, "{notices}");
    assert_eq!(
        notices[0]["reason"],
        "The photographer's work, posted without a licence"
    );
    assert_eq!(notices[0]["subject_id"], post_id.as_str());
    let (status, none) = app.get_auth("/api/v1/notices", &fan.token).await;
    assert_eq!(
        (status, none),
        (StatusCode::OK, json!([])),
        "another owner's notices are not shown"
    );
    assert_eq!(
        audit_reason(
            &app,
            "moderation.remove_post",
            Uuid::parse_str(&post_id).unwrap()
        )
        .await,
        Some((
            "The photographer's work, posted without a licence".to_owned(),
            moderator.id
        ))
    );

    // The owner appeals (signed in); someone else cannot; a denial is told; then restored.
    let appeal = |who: &Member, body: &'static str| {
        let app = &app;
        let token = who.token.clone();
        let action_id = action_id.clone();
        async move {
            call(
                app,
                Method::POST,
                "/api/v1/appeals",
                Some(&token),
                Some(json!({"action_id": action_id, "body": body})),
            )
            .await
        }
    };
    let (status, _) = appeal(&fan, "not mine but let it be").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, filed) = appeal(&c, "I hold the licence").await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let (status, body) = act(
        &app,
        &moderator,
        &format!(
            "/api/v1/moderation/appeals/{}/deny",
            filed["id"].as_str().unwrap()
        ),
        json!({"reason": "No licence was attached"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    jobs(&app).await;
    assert_eq!(
        mails_containing(&app, &c_email, "No licence was attached"),
        1
    );
    let (status, filed) = appeal(&c, "Licence attached this time").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a denied appeal does not block another: {filed}"
    );
    let (status, body) = act(
        &app,
        &moderator,
        &format!("/api/v1/moderation/actions/{action_id}/restore"),
        json!({"reason": "Licence checked"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{post_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "shown again");
    let held: bool = sqlx::query_scalar("select legal_hold from media_assets where id = $1")
        .bind(photo)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(!held, "the hold is lifted");
    let (_, q) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/appeals?status=granted",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(
        q[0]["body"], "Licence attached this time",
        "restoring grants the open appeal: {q}"
    );

    // A comment: removed (the count goes down) and restored (back up).
    assert_eq!(comment_count(&app, &post_id).await, 1);
    let (status, taken) = act(
        &app,
        &moderator,
        "/api/v1/moderation/removals",
        json!({"subject_type": "comment", "subject_id": comment_id, "reason": "Spam"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{taken}");
    assert_eq!(comment_count(&app, &post_id).await, 0);
    let (status, _) = act(
        &app,
        &moderator,
        &format!(
            "/api/v1/moderation/actions/{}/restore",
            taken["action_id"].as_str().unwrap()
        ),
        json!({"reason": "It was a joke between friends"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(comment_count(&app, &post_id).await, 1);
}

#[tokio::test]
async fn only_operators_with_a_second_factor_reach_the_new_endpoints_and_only_admins_change_roles()
{
    let app = TestApp::spawn().await;
    let fan = member(&app, Role::Fan).await;
    let maker = creator(&app, "matrix_maker").await;
    let plain = operator_without_second_factor(&app, Role::Moderator).await;
    let moderator = member(&app, Role::Moderator).await;
    let admin = member(&app, Role::Admin).await;
    let some = Uuid::now_v7();
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/moderation/removals".into(),
            Some(json!({"subject_type": "post", "subject_id": some, "reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/moderation/accounts/{some}/suspend"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/moderation/actions/{some}/restore"),
            Some(json!({"reason": "x"})),
        ),
        (Method::GET, "/api/v1/moderation/appeals".into(), None),
        (
            Method::POST,
            format!("/api/v1/moderation/appeals/{some}/grant"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/moderation/appeals/{some}/deny"),
            Some(json!({"reason": "x"})),
        ),
        (Method::GET, "/api/v1/admin/users?q=x".into(), None),
        (Method::GET, format!("/api/v1/admin/users/{some}"), None),
    ];
    for (method, path, body) in &endpoints {
        let (status, _) = call(&app, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        for token in [&fan.token, &maker.token] {
            let (status, b) = call(&app, method.clone(), path, Some(token), body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {b}");
        }
        let (status, b) = call(&app, method.clone(), path, Some(&plain), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_error(&b, "second_factor_required");
        for who in [&moderator, &admin] {
            let (status, b) =
                call(&app, method.clone(), path, Some(&who.token), body.clone()).await;
            assert!(
                matches!(
                    status,
                    StatusCode::OK | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "{path}: {status} {b}"
            );
        }
    }
    // Search finds by email part, name or handle.
    let (status, found) = call(
        &app,
        Method::GET,
        "/api/v1/admin/users?q=matrix_ma",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found[0]["id"], maker.id.to_string(), "{found}");
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/admin/users?q={}", "x".repeat(300)),
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Roles: administrators only, with a reason; audited; the sessions end.
    let role = format!("/api/v1/admin/users/{}/role", fan.id);
    let (status, _) = act(
        &app,
        &moderator,
        &role,
        json!({"role": "moderator", "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = act(&app, &admin, &role, json!({"role": "boss", "reason": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["role"].is_array() && body["error"]["fields"]["reason"].is_array(),
        "{body}"
    );
    let (status, body) = act(
        &app,
        &admin,
        &role,
        json!({"role": "creator", "reason": "x"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no creator profile: {body}"
    );
    let (status, _) = act(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{}/role", admin.id),
        json!({"role": "fan", "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "not one's own role");
    let (status, body) = act(
        &app,
        &admin,
        &role,
        json!({"role": "moderator", "reason": "Joins the trust team"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get_auth("/api/v1/auth/me", &fan.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old session ended");
    let (reason, details): (String, Value) = sqlx::query_as(
        "select reason, details from audit_log where action = 'admin.change_role' and subject_id = $1",
    )
    .bind(fan.id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        (reason.as_str(), details),
        (
            "Joins the trust team",
            json!({"from": "fan", "to": "moderator"})
        )
    );
}

#[tokio::test]
async fn the_console_finds_and_suspends_an_account_and_the_owner_reads_the_notice() {
    let app = TestApp::spawn().await;
    let c = creator(&app, "console_target").await;
    let photo = crate::helpers::ready_photo(&app.state.db, c.id).await;
    let p = post(
        &app,
        &c,
        json!({"text": "x", "media_ids": [photo], "visibility": "public"}),
    )
    .await;
    let post_id = p["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/reports",
        None,
        Some(json!({"subject_type": "post", "subject_id": post_id, "category": "illegal", "details": "bad", "email": crate::helpers::unique_email("pv")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let moderator = member(&app, Role::Moderator).await;
    let (status, html) = get_as(&app, "/admin/users?q=console_tar", &moderator.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("/admin/users/{}", c.id)), "{html}");
    let (status, html) = get_as(&app, &format!("/admin/users/{}", c.id), &moderator.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("data-suspend") && !html.contains("Change the role"),
        "moderators do not change roles"
    );
    // The queue page removes the reported post with a reason.
    let (status, html) = get_as(&app, "/admin/reports", &moderator.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-remove"), "{html}");
    let report_id: Uuid = sqlx::query_scalar("select id from reports where subject_id = $1")
        .bind(Uuid::parse_str(&post_id).unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("{}/admin/reports/{report_id}/remove", app.base))
        .bearer_auth(&moderator.token)
        .form(&[("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is needed"
    );
    let r = app
        .client
        .post(format!("{}/admin/reports/{report_id}/remove", app.base))
        .bearer_auth(&moderator.token)
        .form(&[("reason", "Illegal in every country we serve")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{post_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The creator reads the notice in the browser and appeals from it.
    let b = browser();
    let email = email_of(&app, c.id).await;
    let r = log_in_page(&b, &app, &email).await;
    assert!(r.status().is_success() || r.status().is_redirection());
    let (status, html) = page(&b, &app, "/notices").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Illegal in every country we serve"), "{html}");
    let action_id: Uuid =
        sqlx::query_scalar("select id from moderation_actions where subject_id = $1")
            .bind(Uuid::parse_str(&post_id).unwrap())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    let csrf = csrf_of(&html);
    let r = post_form(
        &b,
        &app,
        &format!("/notices/{action_id}/appeal"),
        &[("csrf_token", &csrf), ("body", "It is legal art")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&b, &app, "/notices?done=appealed").await;
    assert!(
        html.contains("Your appeal is sent") && html.contains("Your appeal is waiting"),
        "{html}"
    );

    // Suspending from the account page ends the creator's browser session.
    let r = app
        .client
        .post(format!("{}/admin/users/{}/suspend", app.base, c.id))
        .bearer_auth(&moderator.token)
        .form(&[("reason", "Repeated illegal uploads")])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let (_, html) = get_as(&app, &format!("/admin/users/{}", c.id), &moderator.token).await;
    assert!(html.contains("data-account-status=\"suspended\""), "{html}");
    let (status, _) = page(&b, &app, "/notices").await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status.is_redirection() || status == StatusCode::OK
    );
    let r = log_in_page(&b, &app, &email).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("this account is suspended")
    );
}

async fn comment_count(app: &TestApp, post_id: &str) -> Value {
    call(
        app,
        Method::GET,
        &format!("/api/v1/posts/{post_id}"),
        None,
        None,
    )
    .await
    .1["comment_count"]
        .clone()
}

async fn get_as(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Signs in through the log-in form.
async fn log_in_page(b: &reqwest::Client, app: &TestApp, email: &str) -> reqwest::Response {
    let (_, html) = page(b, app, "/login").await;
    let csrf = csrf_of(&html);
    post_form(
        b,
        app,
        "/login",
        &[
            ("csrf_token", &csrf),
            ("email", email),
            ("password", PASSWORD),
        ],
    )
    .await
}
