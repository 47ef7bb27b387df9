//! Reports and the moderation queue through the API and the pages: anyone may report what
//! exists (visitors with an address), the reporter is acknowledged and told the outcome,
//! the queue is for operators only (with a second factor), sorted by its due time with
//! overdue reports flagged, and every decision carries a reason into the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;

use crate::helpers::{
    TestApp, assert_error, call, creator, mails_containing, member, post, unique_email,
};
use crate::pages::{browser, csrf_of, page, post_form};

async fn report(app: &TestApp, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, "/api/v1/reports", token, Some(body)).await
}

#[tokio::test]
async fn anyone_reports_what_exists_and_hears_back() {
    let app = TestApp::spawn().await;
    let maker = creator(&app, "reported_one").await;
    let p = post(
        &app,
        &maker,
        json!({"text": "hello", "visibility": "public"}),
    )
    .await;
    let post_id = p["id"].as_str().unwrap().to_owned();
    let fan = member(&app, Role::Fan).await;

    // Visitors give an address; every field is checked and named.
    let (status, body) = report(
        &app,
        None,
        json!({"subject_type": "post", "subject_id": post_id, "category": "spam"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["email"].is_array(), "{body}");
    let (status, body) = report(
        &app,
        None,
        json!({"subject_type": "video", "subject_id": "x", "category": "bad", "email": "a@b"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for f in ["subject_type", "subject_id", "category", "email"] {
        assert!(body["error"]["fields"][f].is_array(), "{f}: {body}");
    }
    let (status, body) = report(
        &app,
        Some(&fan.token),
        json!({"subject_type": "post", "subject_id": post_id, "category": "other"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "details are needed for other: {body}"
    );
    let (status, body) = report(
        &app,
        Some(&fan.token),
        json!({"subject_type": "post", "subject_id": Uuid::now_v7(), "category": "spam"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["subject_id"].is_array(), "{body}");

    let visitor = unique_email("visitor");
    let (status, filed) = report(
        &app,
        None,
        json!({"subject_type": "post", "subject_id": post_id, "category": "non_consensual", "details": "that is me", "email": visitor}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let due: chrono::DateTime<chrono::Utc> = filed["due_at"].as_str().unwrap().parse().unwrap();
    let days = (due - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!(
        (8.9..=11.1).contains(&days),
        "7 business days are 9 to 11 days: {days}"
    );
    // A signed-in reporter reporting twice updates one open report.
    for details in ["first", "second"] {
        let (status, body) = report(
            &app,
            Some(&fan.token),
            json!({"subject_type": "profile", "subject_id": maker.id, "category": "spam", "details": details}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let n: i64 = sqlx::query_scalar("select count(*) from reports where subject_id = $1")
        .bind(maker.id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        mails_containing(&app, &visitor, "We received your report"),
        1
    );

    // The queue: operators only, from a session with a second factor.
    let (status, _) = call(&app, Method::GET, "/api/v1/moderation/reports", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for who in [&fan, &maker] {
        let (status, body) = call(
            &app,
            Method::GET,
            "/api/v1/moderation/reports",
            Some(&who.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_error(&body, "forbidden");
    }
    let plain_mod = app_user_without_second_factor(&app, Role::Moderator).await;
    let (status, body) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/reports",
        Some(&plain_mod),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "second_factor_required");
    let moderator = member(&app, Role::Moderator).await;
    let admin = member(&app, Role::Admin).await;
    for who in [&moderator, &admin] {
        let (status, q) = call(
            &app,
            Method::GET,
            "/api/v1/moderation/reports",
            Some(&who.token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(q.as_array().unwrap().len(), 2, "{q}");
    }
    // Overdue reports are flagged (and first).
    sqlx::query("update reports set due_at = now() - interval '1 hour' where subject_id = $1")
        .bind(maker.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (_, q) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/reports",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(q[0]["subject_type"], "profile");
    assert_eq!(
        (q[0]["overdue"].clone(), q[1]["overdue"].clone()),
        (json!(true), json!(false)),
        "{q}"
    );
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/reports?status=closed",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Dismissing needs a reason; it is audited and the reporter is told.
    let report_id = q[1]["id"].as_str().unwrap().to_owned();
    let dismiss = |token: String, reason: &'static str| {
        let app = &app;
        let path = format!("/api/v1/moderation/reports/{report_id}/dismiss");
        async move {
            call(
                app,
                Method::POST,
                &path,
                Some(&token),
                Some(json!({"reason": reason})),
            )
            .await
        }
    };
    let (status, _) = dismiss(fan.token.clone(), "no").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = dismiss(moderator.token.clone(), "  ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        dismiss(moderator.token.clone(), "Consent is on file for this shoot").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = dismiss(moderator.token.clone(), "again").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/moderation/reports/{}/dismiss", Uuid::now_v7()),
        Some(&moderator.token),
        Some(json!({"reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, q) = call(
        &app,
        Method::GET,
        "/api/v1/moderation/reports?status=dismissed",
        Some(&moderator.token),
        None,
    )
    .await;
    assert_eq!(
        q[0]["resolution"], "Consent is on file for this shoot",
        "{q}"
    );
    let (reason, actor): (String, Uuid) = sqlx::query_as(
        "select reason, actor_id from audit_log where action = 'moderation.dismiss_report' and subject_id = $1",
    )
    .bind(Uuid::parse_str(&report_id).unwrap())
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        (reason.as_str(), actor),
        ("Consent is on file for this shoot", moderator.id)
    );
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        mails_containing(&app, &visitor, "Consent is on file for this shoot"),
        1
    );
}

/// A logged-in operator whose session has no second factor.
async fn app_user_without_second_factor(app: &TestApp, role: Role) -> String {
    let email = unique_email(role.as_str());
    zinovia::accounts::create_user(
        &app.state,
        &email,
        "Plain",
        role,
        "purple lighthouse at dawn",
    )
    .await
    .unwrap();
    let (_, body) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": "purple lighthouse at dawn"}),
        )
        .await;
    body["session"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_report_page_works_for_visitors_and_the_queue_page_for_moderators() {
    let app = TestApp::spawn().await;
    let maker = creator(&app, "reported_two").await;
    let p = post(
        &app,
        &maker,
        json!({"text": "look", "visibility": "public"}),
    )
    .await;
    let post_id = p["id"].as_str().unwrap().to_owned();
    let (_, html) = page(&browser(), &app, &format!("/posts/{post_id}")).await;
    assert!(
        html.contains(&format!(
            "/report?subject_type=post&amp;subject_id={post_id}"
        )) || html.contains(&format!("/report?subject_type=post&subject_id={post_id}")),
        "a report link on the post"
    );

    let b = browser();
    let (status, html) = page(
        &b,
        &app,
        &format!("/report?subject_type=post&subject_id={post_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let visitor = unique_email("pagevisitor");
    let r = post_form(
        &b,
        &app,
        "/report",
        &[
            ("csrf_token", &csrf),
            ("subject_type", "post"),
            ("subject_id", &post_id),
            ("category", "copyright"),
            ("details", "my photo"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("email-error") && html.contains("my photo"),
        "{html}"
    );
    let r = post_form(
        &b,
        &app,
        "/report",
        &[
            ("csrf_token", &csrf),
            ("subject_type", "post"),
            ("subject_id", &post_id),
            ("category", "copyright"),
            ("details", "my photo"),
            ("email", &visitor),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("data-report-filed"));

    let moderator = member(&app, Role::Moderator).await;
    let r = app
        .client
        .get(format!("{}/admin/reports", app.base))
        .bearer_auth(&moderator.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("my photo") && html.contains(&format!("/posts/{post_id}")),
        "{html}"
    );
    let fan = member(&app, Role::Fan).await;
    let r = app
        .client
        .get(format!("{}/admin/reports", app.base))
        .bearer_auth(&fan.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
