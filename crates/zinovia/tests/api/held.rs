//! Platform-held payouts (ADR 0023), on the simulated rail with `SPLIT_PAYMENTS=false` and
//! its test clock: sales pending for their hold, then available; requests refused by field
//! under the minimum or above what is available; the operator's batch files hold exactly
//! the requested payouts; marking paid writes `payout` ledger rows once; a chargeback after
//! a payout nets in the next batch; the balance always equals the ledger (a property test
//! over random event sequences); statements and the tax report read the same ledger.

use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use zinovia::accounts::Role;
use zinovia::billing::Provider;

use crate::billing::{click, clock, locked_post, start};
use crate::helpers::{
    Member, TestApp, assert_error, call, enrol_totp, fresh_code, member, totp_now,
};
use crate::pages::{browser, csrf_of, page, post_form};

const PASSWORD: &str = "purple lighthouse at dawn";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";

/// The simulated rail, the platform holding every sale: 10 % fee, 7-day hold (21 for
/// new creators), payouts from 5.00, the platform's own account set for SEPA files.
pub async fn held_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.billing.platform_fee_percent = 10;
        s.billing.split_payments = false;
        s.billing.payout_min = 500;
        s.billing.payout_debtor_name = Some("Zinovia Platform Ltd".into());
        s.billing.payout_debtor_iban = Some("GB82WEST12345698765432".into());
        s.billing.payout_debtor_bic = Some("WESTGB2L".into());
    })
    .await
}

/// A creator whose profile prices in euros (9.99 a month).
pub async fn eur_creator(app: &TestApp, handle: &str) -> Member {
    let m = member(app, Role::Fan).await;
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&m.token),
        Some(
            json!({"handle": handle, "display_name": "Eve", "price_minor": 999, "currency": "EUR"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    crate::helpers::verified(&app.state.db, m.id).await;
    m
}

pub async fn held(app: &TestApp, c: &Member) -> Value {
    let (status, body) = call(
        app,
        Method::GET,
        "/api/v1/me/creator/held-payouts",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// (pending, available, requested, paid out) in euros.
async fn eur(app: &TestApp, c: &Member) -> (i64, i64, i64, i64) {
    let h = held(app, c).await;
    let b = h["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "EUR")
        .cloned()
        .unwrap_or(json!({"pending_minor": 0, "available_minor": 0, "requested_minor": 0, "paid_out_minor": 0}));
    let n = |k: &str| b[k].as_i64().unwrap();
    (
        n("pending_minor"),
        n("available_minor"),
        n("requested_minor"),
        n("paid_out_minor"),
    )
}

pub async fn set_method(app: &TestApp, c: &Member) {
    let code = fresh_code(app, &c.token).await;
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/me/creator/payout-method",
        Some(&c.token),
        Some(json!({"holder": "Eve Example", "iban": IBAN, "bic": "COBADEFFXXX", "password": PASSWORD, "code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The fan pays a checkout on the simulated rail (and its events are applied).
async fn pay(app: &TestApp, fan: &Member, body: Value) {
    let (status, checkout) = start(app, fan, body).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    let (status, paid) = click(app, fan, &checkout, "pay").await;
    assert!(status.is_success(), "{paid}");
}

async fn request(app: &TestApp, c: &Member, body: Value) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/me/creator/payout-requests",
        Some(&c.token),
        Some(body),
    )
    .await
}

async fn make_batch(app: &TestApp, admin: &Member) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/admin/payout-batches",
        Some(&admin.token),
        Some(json!({"currency": "EUR"})),
    )
    .await
}

async fn mark_paid(app: &TestApp, admin: &Member, batch: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        &format!("/api/v1/admin/payout-batches/{batch}/paid"),
        Some(&admin.token),
        None,
    )
    .await
}

async fn file(app: &TestApp, admin: &Member, batch: &str, kind: &str) -> (StatusCode, String) {
    let r = app
        .client
        .get(format!(
            "{}/api/v1/admin/payout-batches/{batch}/{kind}",
            app.base
        ))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Sums of the creator's held ledger entries and payout entries, read straight from SQL.
async fn ledger_sums(db: &PgPool, creator: Uuid) -> (i64, i64, i64) {
    sqlx::query_as(
        "select coalesce(sum(net_minor) filter (where held), 0)::bigint,
                coalesce(-sum(net_minor) filter (where kind = 'payout'), 0)::bigint,
                coalesce(sum(net_minor) filter (where kind not in ('transfer', 'payout')), 0)::bigint
         from ledger_entries where creator_id = $1 and currency = 'EUR'",
    )
    .bind(creator)
    .fetch_one(db)
    .await
    .unwrap()
}

/// The simulated rail's webhook, signed as its own deliveries are.
async fn simulated_event(app: &TestApp, id: &str, kind: &str, object: Value) {
    let secret = zinovia::billing::webhook_secret(&app.state, Provider::Simulated).unwrap();
    let now = Utc::now().timestamp();
    let body = serde_json::to_vec(
        &json!({"id": id, "object": "event", "type": kind, "created": now,
        "livemode": false, "data": {"object": object}}),
    )
    .unwrap();
    let r = app
        .client
        .post(format!("{}/api/v1/billing/webhooks/simulated", app.base))
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            zinovia::billing::signature::header(&secret, now, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

/// The payment ids of the creator's sales, oldest first, with what the fan paid.
async fn payments(db: &PgPool, creator: Uuid) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select payment_id, gross_minor from ledger_entries
         where creator_id = $1 and kind in ('subscription', 'ppv', 'tip') order by id",
    )
    .bind(creator)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn dispute(app: &TestApp, payment: &str, amount: i64) {
    let id = format!("dp_{}", Uuid::now_v7().simple());
    simulated_event(
        app,
        &format!("evt_{id}"),
        "charge.dispute.created",
        json!({"id": id, "object": "dispute", "charge": payment, "payment_intent": payment,
               "amount": amount, "currency": "eur"}),
    )
    .await;
}

#[tokio::test]
async fn held_sales_are_pending_then_available_and_a_paid_batch_writes_the_ledger_once() {
    let app = held_app().await;
    let db = &app.state.db;
    let c = eur_creator(&app, "held_one").await;
    let admin = member(&app, Role::Admin).await;
    let fan = member(&app, Role::Fan).await;
    let buyer = member(&app, Role::Fan).await;
    let ppv = locked_post(&app, &c, "ppv").await;

    // The simulated rail does not split here: the sale is held, not routed.
    pay(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "held_one"}),
    )
    .await;
    pay(&app, &buyer, json!({"kind": "ppv", "post_id": ppv})).await;
    let net = (999 - 100) + (1500 - 150);
    assert_eq!(
        eur(&app, &c).await,
        (net, 0, 0, 0),
        "pending for the new creator's hold"
    );
    let h = held(&app, &c).await;
    assert_eq!(h["hold_days"], 21, "{h}");
    assert_eq!(h["method"], Value::Null);

    // No payout method yet; then too early: nothing is available.
    let (status, body) = request(&app, &c, json!({"currency": "EUR"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "validation_failed");
    assert!(body["error"]["fields"]["method"].is_array(), "{body}");
    set_method(&app, &c).await;
    let (status, body) = request(&app, &c, json!({"currency": "EUR", "amount_minor": 600})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["amount_minor"][0]
            .as_str()
            .unwrap()
            .contains("available"),
        "{body}"
    );

    // Eight days: still inside a new creator's 21-day hold. Twenty-two: available.
    let (status, _) = clock(&app, Some(&c), json!(8)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(eur(&app, &c).await, (net, 0, 0, 0));
    let (status, _) = clock(&app, Some(&c), json!(14)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(eur(&app, &c).await, (0, net, 0, 0));

    // Under the minimum, above what is available, an unknown currency: refused by field.
    for (body, field) in [
        (
            json!({"currency": "EUR", "amount_minor": 499}),
            "amount_minor",
        ),
        (
            json!({"currency": "EUR", "amount_minor": net + 1}),
            "amount_minor",
        ),
        (json!({"currency": "GBP"}), "currency"),
    ] {
        let (status, err) = request(&app, &c, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(err["error"]["fields"][field].is_array(), "{body}: {err}");
    }
    let (status, first) = request(&app, &c, json!({"currency": "EUR", "amount_minor": 1000})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "requested");
    let (status, body) = request(&app, &c, json!({"currency": "EUR", "amount_minor": 500})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one waiting request per currency: {body}"
    );
    assert_eq!(eur(&app, &c).await, (0, net - 1000, 1000, 0));

    // Another creator's request is in the same batch; a canceled one is not.
    let other = eur_creator(&app, "held_two").await;
    let other_fan = member(&app, Role::Fan).await;
    pay(
        &app,
        &other_fan,
        json!({"kind": "tip", "creator": "held_two", "amount_minor": 2000}),
    )
    .await;
    clock(&app, Some(&c), json!(22)).await;
    set_method(&app, &other).await;
    let (status, gone) = request(&app, &other, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{gone}");
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!(
            "/api/v1/me/creator/payout-requests/{}",
            gone["id"].as_str().unwrap()
        ),
        Some(&other.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, second) = request(&app, &other, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "everything available: {second}"
    );
    assert_eq!(second["amount_minor"], 1800);

    // The batch holds exactly the two waiting requests.
    let (status, batch) = make_batch(&app, &admin).await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["count"], 2, "{batch}");
    assert_eq!(batch["total_minor"], 2800);
    let id = batch["id"].as_str().unwrap().to_owned();
    let (status, csv) = file(&app, &admin, &id, "csv").await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1..].iter().any(|l| l.contains(",held_one,")
            && l.contains("DE89370400440532013000")
            && l.contains(",10.00,EUR,")),
        "{csv}"
    );
    assert!(
        lines[1..]
            .iter()
            .any(|l| l.contains(",held_two,") && l.contains(",18.00,EUR,")),
        "{csv}"
    );
    let (status, xml) = file(&app, &admin, &id, "sepa").await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        xml.contains("urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"),
        "{xml}"
    );
    assert!(
        xml.contains("<NbOfTxs>2</NbOfTxs><CtrlSum>28.00</CtrlSum>"),
        "{xml}"
    );
    assert!(
        xml.contains("<IBAN>GB82WEST12345698765432</IBAN>"),
        "the platform's account: {xml}"
    );
    assert_eq!(xml.matches("<CdtTrfTxInf>").count(), 2, "{xml}");
    assert!(
        xml.contains("<InstdAmt Ccy=\"EUR\">10.00</InstdAmt>")
            && xml.contains("<IBAN>DE89370400440532013000</IBAN>"),
        "{xml}"
    );
    assert!(
        !xml.contains(&gone["id"].as_str().unwrap().replace('-', "")),
        "the canceled request is not paid"
    );

    // Nothing is in the ledger until the operator marks it paid; then once.
    assert_eq!(ledger_sums(db, c.id).await.1, 0);
    let (status, paid) = mark_paid(&app, &admin, &id).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "paid");
    let (status, _) = mark_paid(&app, &admin, &id).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(eur(&app, &c).await, (0, net - 1000, 0, 1000));
    let (held_sum, paid_out, earned) = ledger_sums(db, c.id).await;
    assert_eq!((held_sum, paid_out, earned), (net - 1000, 1000, net));
    let (status, e) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        e["balances"],
        json!([{"currency": "EUR", "earned_minor": net, "paid_to_account_minor": 0, "paid_out_minor": 1000, "owed_minor": net - 1000}])
    );
    let h = held(&app, &c).await;
    assert_eq!(h["requests"][0]["status"], "paid", "{h}");
    // Nothing is left waiting, so no new batch.
    let (status, body) = make_batch(&app, &admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_chargeback_after_a_payout_makes_the_balance_negative_and_the_next_batch_nets_it() {
    let app = held_app().await;
    let db = &app.state.db;
    let c = eur_creator(&app, "held_cb").await;
    let admin = member(&app, Role::Admin).await;
    let fan = member(&app, Role::Fan).await;
    let ppv = locked_post(&app, &c, "ppv").await;
    set_method(&app, &c).await;
    pay(&app, &fan, json!({"kind": "ppv", "post_id": ppv})).await;
    clock(&app, Some(&c), json!(22)).await;
    let (status, _) = request(&app, &c, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, batch) = make_batch(&app, &admin).await;
    let (status, _) = mark_paid(&app, &admin, batch["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(eur(&app, &c).await, (0, 0, 0, 1350));

    // The fan's bank takes the whole payment back after it was paid out.
    let (payment, gross) = payments(db, c.id).await.pop().unwrap();
    dispute(&app, &payment, gross).await;
    let (_, available, _, _) = eur(&app, &c).await;
    assert_eq!(available, -1350, "more went back than the platform holds");
    let (status, body) = request(&app, &c, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // New sales: once available, what can be requested is net of the chargeback.
    for _ in 0..2 {
        let tipper = member(&app, Role::Fan).await;
        pay(
            &app,
            &tipper,
            json!({"kind": "tip", "creator": "held_cb", "amount_minor": 2000}),
        )
        .await;
    }
    assert_eq!(eur(&app, &c).await, (3600, -1350, 0, 1350));
    clock(&app, Some(&c), json!(22)).await;
    assert_eq!(eur(&app, &c).await, (0, 3600 - 1350, 0, 1350));
    let (status, r) = request(&app, &c, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["amount_minor"], 2250);
    let (_, batch) = make_batch(&app, &admin).await;
    assert_eq!(batch["total_minor"], 2250, "{batch}");
    mark_paid(&app, &admin, batch["id"].as_str().unwrap()).await;
    assert_eq!(eur(&app, &c).await, (0, 0, 0, 1350 + 2250));
    assert_eq!(
        ledger_sums(db, c.id).await.0,
        0,
        "nothing held once it is all paid out"
    );
}

#[tokio::test]
async fn a_chargeback_between_request_and_batch_caps_what_the_batch_pays() {
    let app = held_app().await;
    let db = &app.state.db;
    let c = eur_creator(&app, "held_cap").await;
    let admin = member(&app, Role::Admin).await;
    set_method(&app, &c).await;
    for amount in [2000, 3000] {
        let tipper = member(&app, Role::Fan).await;
        pay(
            &app,
            &tipper,
            json!({"kind": "tip", "creator": "held_cap", "amount_minor": amount}),
        )
        .await;
    }
    clock(&app, Some(&c), json!(22)).await;
    let (status, r) = request(&app, &c, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r["amount_minor"], 4500);
    let (payment, gross) = payments(db, c.id).await.remove(0);
    dispute(&app, &payment, gross).await;
    let (_, batch) = make_batch(&app, &admin).await;
    assert_eq!(
        batch["total_minor"], 2700,
        "capped at what is payable now: {batch}"
    );
    mark_paid(&app, &admin, batch["id"].as_str().unwrap()).await;
    assert_eq!(eur(&app, &c).await, (0, 0, 0, 2700));
}

#[tokio::test]
async fn payout_methods_need_the_password_are_sealed_shown_masked_and_announced_by_email() {
    let app = held_app().await;
    let db = &app.state.db;
    let c = eur_creator(&app, "held_method").await;
    let fan = member(&app, Role::Fan).await;
    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            call(
                app,
                Method::PUT,
                "/api/v1/me/creator/payout-method",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (status, body) = put(
        c.token.clone(),
        json!({"holder": "Eve", "iban": "DE88370400440532013000", "bic": "X", "password": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in ["iban", "bic", "password"] {
        assert!(body["error"]["fields"][field].is_array(), "{field}: {body}");
    }
    let (status, body) = put(
        c.token.clone(),
        json!({"holder": "Eve", "iban": IBAN, "password": "not my password"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["password"].is_array(), "{body}");
    let (status, body) = put(
        fan.token.clone(),
        json!({"holder": "Eve", "iban": IBAN, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a creator: {body}");
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from payout_methods")
            .fetch_one(db)
            .await
            .unwrap(),
        0,
        "nothing saved by a refused change"
    );

    // Being paid needs two-factor sign-in, and each change a fresh code.
    let (status, body) = put(
        c.token.clone(),
        json!({"holder": "Eve Example", "iban": IBAN, "password": PASSWORD, "code": "123456"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["fields"]["code"][0]
            .as_str()
            .unwrap()
            .contains("turn on two-factor sign-in"),
        "{body}"
    );
    let (secret, _) = enrol_totp(&app, &c.token).await;
    let (status, body) = put(
        c.token.clone(),
        json!({"holder": "Eve Example", "iban": IBAN, "password": PASSWORD, "code": "000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["code"].is_array(), "{body}");
    let (status, body) = put(
        c.token.clone(),
        json!({"holder": "Eve Example", "iban": IBAN, "schedule": "weekly", "password": PASSWORD, "code": totp_now(&secret, 30)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["masked"], "DE •••• 3000");
    assert_eq!(body["schedule"], "weekly");
    let stored: Vec<u8> = sqlx::query_scalar("select details from payout_methods")
        .fetch_one(db)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains("37040044"),
        "the IBAN is sealed"
    );
    let h = held(&app, &c).await;
    assert_eq!(h["method"]["masked"], "DE •••• 3000");
    assert!(
        !h.to_string().contains("37040044"),
        "never shown whole: {h}"
    );

    // The account's address is told.
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let mail_dir = app.state.settings.data_dir().join("mail");
    let mails: String = std::fs::read_dir(&mail_dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(mails.contains("payout account was changed"), "{mails}");
    assert!(
        mails.contains("3000") && !mails.contains("37040044"),
        "masked in the email too"
    );

    // Tax profile: validated, sealed, masked.
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/tax-profile",
        Some(&c.token),
        Some(json!({"legal_name": "", "country": "Germany", "tax_id": "<>"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for field in ["legal_name", "country", "tax_id"] {
        assert!(body["error"]["fields"][field].is_array(), "{field}: {body}");
    }
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/tax-profile",
        Some(&c.token),
        Some(json!({"legal_name": "Eve Example", "country": "de", "tax_id": "DE123456789"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"legal_name": "Eve Example", "country": "DE", "tax_id_masked": "•••789"})
    );
    let stored: Vec<u8> = sqlx::query_scalar("select tax_id from tax_profiles")
        .fetch_one(db)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains("123456"),
        "the tax id is sealed"
    );
}

#[tokio::test]
async fn only_administrators_see_and_run_payout_batches() {
    let app = held_app().await;
    let c = eur_creator(&app, "held_ops").await;
    let fan = member(&app, Role::Fan).await;
    let admin = member(&app, Role::Admin).await;
    let batch = Uuid::now_v7();
    let paths = [
        (Method::GET, "/api/v1/admin/payouts".to_owned(), None),
        (
            Method::POST,
            "/api/v1/admin/payout-batches".to_owned(),
            Some(json!({"currency": "EUR"})),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/payout-batches/{batch}/paid"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/payout-batches/{batch}/csv"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/payout-batches/{batch}/sepa"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/admin/tax-report/2026".to_owned(),
            None,
        ),
    ];
    for (method, path, body) in &paths {
        let (status, _) = call(&app, method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        for who in [&c, &fan] {
            let (status, _) =
                call(&app, method.clone(), path, Some(&who.token), body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let (status, body) = call(
        &app,
        Method::GET,
        "/api/v1/admin/payouts",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"waiting": [], "batches": []}));
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/payout-batches/{batch}/paid"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/admin/payout-batches/not-a-uuid/csv",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/admin/payout-batches",
        Some(&admin.token),
        Some(json!({"currency": "euro"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_weekly_schedule_requests_what_is_available_once_a_week() {
    let app = held_app().await;
    let c = eur_creator(&app, "held_weekly").await;
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/payout-schedule",
        Some(&c.token),
        Some(json!({"schedule": "weekly"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no method yet: {body}"
    );
    set_method(&app, &c).await;
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/payout-schedule",
        Some(&c.token),
        Some(json!({"schedule": "weekly"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let tipper = member(&app, Role::Fan).await;
    pay(
        &app,
        &tipper,
        json!({"kind": "tip", "creator": "held_weekly", "amount_minor": 3000}),
    )
    .await;

    let run = || async {
        zinovia::billing::run_scheduled_payouts(&app.state)
            .await
            .unwrap()
    };
    assert_eq!(run().await, 0, "nothing available yet");
    clock(&app, Some(&c), json!(22)).await;
    assert_eq!(run().await, 1);
    assert_eq!(
        run().await,
        0,
        "once a week, and one waiting request at a time"
    );
    let h = held(&app, &c).await;
    assert_eq!(h["requests"][0]["automatic"], true, "{h}");
    assert_eq!(h["requests"][0]["amount_minor"], 2700);
}

#[tokio::test]
async fn statements_sum_the_ledger_and_the_tax_report_lists_creators_above_the_threshold() {
    let app = TestApp::spawn_with(|s| {
        s.billing.platform_fee_percent = 10;
        s.billing.split_payments = false;
        s.billing.tax_report_threshold = 3000;
    })
    .await;
    let c = eur_creator(&app, "held_stmt").await;
    let small = eur_creator(&app, "held_small").await;
    let admin = member(&app, Role::Admin).await;
    for (amount, to) in [
        (2000, "held_stmt"),
        (1500, "held_stmt"),
        (1000, "held_small"),
    ] {
        let tipper = member(&app, Role::Fan).await;
        pay(
            &app,
            &tipper,
            json!({"kind": "tip", "creator": to, "amount_minor": amount}),
        )
        .await;
    }
    let (payment, gross) = payments(&app.state.db, c.id).await.remove(0);
    dispute(&app, &payment, gross).await;
    call(
        &app,
        Method::PUT,
        "/api/v1/me/creator/tax-profile",
        Some(&c.token),
        Some(json!({"legal_name": "Eve Example", "country": "DE", "tax_id": "DE123456789"})),
    )
    .await;

    let month = Utc::now().format("%Y-%m").to_string();
    let (status, s) = call(
        &app,
        Method::GET,
        &format!("/api/v1/me/creator/statements/{month}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["lines"].as_array().unwrap().len(), 3, "{s}");
    let t = &s["totals"][0];
    assert_eq!(
        (
            t["sales_minor"].as_i64(),
            t["reversals_minor"].as_i64(),
            t["earned_minor"].as_i64()
        ),
        (Some(3500), Some(-2000), Some(1800 + 1350 - 1800)),
        "{s}"
    );
    let r = app
        .client
        .get(format!(
            "{}/api/v1/me/creator/statements/{month}/csv",
            app.base
        ))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains(",dispute,simulated,") && l.contains(",-20.00,")),
        "{csv}"
    );
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/statements/2026-13",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, other) = call(
        &app,
        Method::GET,
        &format!("/api/v1/me/creator/statements/{month}"),
        Some(&small.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        other["lines"].as_array().unwrap().len(),
        1,
        "only their own entries"
    );

    let year = Utc::now().format("%Y").to_string();
    let (status, y) = call(
        &app,
        Method::GET,
        &format!("/api/v1/me/creator/year-summaries/{year}"),
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{y}");
    assert_eq!(
        y["totals"], s["totals"],
        "one month of activity: the year is that month"
    );
    assert_eq!(y["months"][0]["month"], month);

    let (status, report) = call(
        &app,
        Method::GET,
        &format!("/api/v1/admin/tax-report/{year}"),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report.as_array().unwrap().len(),
        1,
        "only the creator above the threshold: {report}"
    );
    assert_eq!(report[0]["handle"], "held_stmt");
    assert_eq!(report[0]["gross_minor"], 3500);
    assert_eq!(report[0]["sales"], 2);
    assert_eq!(
        report[0]["tax_id"], "DE123456789",
        "opened for the operator"
    );
}

/// What the test believes: the requests it made and what was paid.
#[derive(Default)]
struct Model {
    paid_in: i64,
    waiting: i64,
    paid_out: i64,
    batches: Vec<String>,
}

/// The balance equals the ledger whatever happens, in any order: sales of every kind,
/// refunds and chargebacks (before and after payouts), time passing, requests of any
/// size, batches made and paid. After every step: pending + available + requested is the
/// sum of the held entries; paid out is minus the payout entries and what the model paid;
/// requested is what the model has waiting; earned = paid out + held; money in is what
/// fans paid; a request is accepted exactly when the model says it may be.
#[tokio::test]
async fn the_held_balance_always_equals_the_ledger_sum_over_random_event_sequences() {
    let app = held_app().await;
    let db = &app.state.db;
    let admin = member(&app, Role::Admin).await;
    let seeds: Vec<u64> = (0..8).map(|i| 0x5eed_0000 + i).collect();
    for (n, seed) in seeds.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed);
        let handle = format!("prop_{n}");
        let c = eur_creator(&app, &handle).await;
        set_method(&app, &c).await;
        let ppv = locked_post(&app, &c, "ppv").await;
        let mut m = Model::default();
        for step in 0..14 {
            let what = rng.random_range(0..9);
            let before = eur(&app, &c).await;
            match what {
                0 => {
                    let fan = member(&app, Role::Fan).await;
                    pay(
                        &app,
                        &fan,
                        json!({"kind": "subscription", "creator": handle}),
                    )
                    .await;
                    m.paid_in += 999;
                }
                1 => {
                    let fan = member(&app, Role::Fan).await;
                    pay(&app, &fan, json!({"kind": "ppv", "post_id": ppv})).await;
                    m.paid_in += 1500;
                }
                2 => {
                    let fan = member(&app, Role::Fan).await;
                    let amount = rng.random_range(100..5000);
                    pay(
                        &app,
                        &fan,
                        json!({"kind": "tip", "creator": handle, "amount_minor": amount}),
                    )
                    .await;
                    m.paid_in += amount;
                }
                3 => {
                    let sales = payments(db, c.id).await;
                    if !sales.is_empty() {
                        let (payment, gross) = sales[rng.random_range(0..sales.len())].clone();
                        let refunded = rng.random_range(1..=gross);
                        simulated_event(&app, &format!("evt_rf_{}", Uuid::now_v7().simple()), "charge.refunded",
                            json!({"id": payment, "object": "charge", "payment_intent": payment, "amount": gross,
                                   "amount_refunded": refunded, "currency": "eur"})).await;
                    }
                }
                4 => {
                    let sales = payments(db, c.id).await;
                    if !sales.is_empty() {
                        let (payment, gross) = sales[rng.random_range(0..sales.len())].clone();
                        dispute(&app, &payment, gross).await;
                    }
                }
                5 => {
                    let days = rng.random_range(1..25);
                    clock(&app, Some(&c), json!(days)).await;
                }
                6 | 7 => {
                    let amount = if rng.random_bool(0.5) {
                        None
                    } else {
                        Some(rng.random_range(1..6000))
                    };
                    let body = match amount {
                        Some(a) => json!({"currency": "EUR", "amount_minor": a}),
                        None => json!({"currency": "EUR"}),
                    };
                    let (status, r) = request(&app, &c, body).await;
                    let asked = amount.unwrap_or(before.1);
                    let may = before.2 == 0 && asked >= 500 && asked <= before.1;
                    if may {
                        assert_eq!(
                            status,
                            StatusCode::CREATED,
                            "seed {seed} step {step}: {before:?} asked {asked}: {r}"
                        );
                        m.waiting = asked;
                    } else {
                        assert!(
                            status.is_client_error(),
                            "seed {seed} step {step}: {before:?} asked {asked}: {r}"
                        );
                    }
                }
                _ => {
                    let (status, batch) = make_batch(&app, &admin).await;
                    if status == StatusCode::CREATED {
                        let total = batch["total_minor"].as_i64().unwrap();
                        assert!(
                            total <= m.waiting,
                            "seed {seed} step {step}: a batch pays at most what was asked"
                        );
                        let (status, _) =
                            mark_paid(&app, &admin, batch["id"].as_str().unwrap()).await;
                        assert_eq!(status, StatusCode::OK);
                        m.paid_out += total;
                        m.waiting = 0;
                        m.batches.push(batch["id"].as_str().unwrap().to_owned());
                    } else {
                        assert!(status.is_client_error(), "{batch}");
                        // Left waiting (its balance fell under the minimum) or none waiting.
                    }
                }
            }
            let (pending, available, requested, paid_out) = eur(&app, &c).await;
            let (held_sum, ledger_paid_out, earned) = ledger_sums(db, c.id).await;
            let ctx = format!(
                "seed {seed} step {step} op {what}: {:?}",
                (pending, available, requested, paid_out)
            );
            assert_eq!(pending + available + requested, held_sum, "{ctx}");
            assert!(pending >= 0, "{ctx}");
            assert_eq!(paid_out, ledger_paid_out, "{ctx}");
            assert_eq!(paid_out, m.paid_out, "{ctx}");
            assert_eq!(requested, m.waiting, "{ctx}");
            assert_eq!(
                earned,
                paid_out + held_sum,
                "{ctx}: every earned cent is held or paid out"
            );
            let paid_in: i64 = payments(db, c.id).await.iter().map(|p| p.1).sum();
            assert_eq!(paid_in, m.paid_in, "{ctx}");
        }
        // A request left waiting would ride in the next creator's batches: cancel it.
        if m.waiting > 0 {
            let h = held(&app, &c).await;
            let id = h["requests"][0]["id"].as_str().unwrap();
            let (status, _) = call(
                &app,
                Method::DELETE,
                &format!("/api/v1/me/creator/payout-requests/{id}"),
                Some(&c.token),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
            assert_eq!(eur(&app, &c).await.2, 0);
        }
    }
}

/// Requests a payout of `amount` euros through the payouts page.
async fn ask(b: &reqwest::Client, app: &TestApp, csrf: &str, amount: &str) -> reqwest::Response {
    post_form(
        b,
        app,
        "/dashboard/payouts/request",
        &[
            ("csrf_token", csrf),
            ("currency", "EUR"),
            ("amount", amount),
        ],
    )
    .await
}

/// A browser logged in through the log-in page as a new account with `role`; its CSRF
/// token.
async fn browser_as(app: &TestApp, role: Role) -> (reqwest::Client, String, Uuid) {
    let email = crate::helpers::unique_email(role.as_str());
    let user = zinovia::accounts::create_user(&app.state, &email, "Paige", role, PASSWORD)
        .await
        .unwrap();
    let b = browser();
    let (_, html) = page(&b, app, "/login").await;
    let r = post_form(
        &b,
        app,
        "/login",
        &[
            ("csrf_token", &csrf_of(&html)),
            ("email", &email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    if zinovia::accounts::second_factor_required_for(role) {
        crate::pages::enrol_totp_in_pages(&b, app).await;
    }
    let (_, html) = page(&b, app, "/account").await;
    (b, csrf_of(&html), user.id.0)
}

#[tokio::test]
async fn the_payouts_pages_take_the_creator_from_pending_to_paid_through_the_operators_batch() {
    let app = held_app().await;
    let (b, csrf, creator_id) = browser_as(&app, Role::Fan).await;
    let r = b
        .put(format!("{}/api/v1/me/creator", app.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({"handle": "held_pages", "display_name": "Pia", "price_minor": 999, "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    crate::helpers::verified(&app.state.db, creator_id).await;
    let (status, html) = page(&b, &app, "/dashboard/payouts").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Nothing is held for you"), "{html}");
    let tipper = member(&app, Role::Fan).await;
    pay(
        &app,
        &tipper,
        json!({"kind": "tip", "creator": "held_pages", "amount_minor": 2000}),
    )
    .await;
    let (_, html) = page(&b, &app, "/dashboard/payouts").await;
    assert!(
        html.contains("<td data-held-stat=\"pending\">18.00 EUR</td>"),
        "{html}"
    );
    let (_, dash) = page(&b, &app, "/dashboard").await;
    assert!(dash.contains("data-stat=\"owed\">18.00 EUR"), "{dash}");

    // A wrong password: the field says so, what was typed stays, nothing is saved.
    let (_, codes) = crate::pages::enrol_totp_in_pages(&b, &app).await;
    let form = |password: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("holder", "Pia Page".to_owned()),
            ("iban", IBAN.to_owned()),
            ("bic", String::new()),
            ("schedule", "manual".to_owned()),
            ("password", password.to_owned()),
            ("code", codes[0].clone()),
        ]
    };
    let pairs = form("wrong password here");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&b, &app, "/dashboard/payouts/method", &pairs).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("is not your password") && html.contains(IBAN),
        "{html}"
    );
    assert!(html.contains("No bank account yet"), "{html}");
    let pairs = form(PASSWORD);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&b, &app, "/dashboard/payouts/method", &pairs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&b, &app, "/dashboard/payouts?done=method").await;
    assert!(
        html.contains("DE •••• 3000") && !html.contains("37040044"),
        "{html}"
    );

    // Too early, then under the minimum: errors by the field; then requested.
    let r = ask(&b, &app, &csrf, "").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("0.00 EUR is available and the smallest payout is 5.00 EUR")
    );
    let (status, _) = clock(&app, Some(&tipper), json!(22)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, html) = page(&b, &app, "/dashboard/payouts").await;
    assert!(
        html.contains("<td data-held-stat=\"available\">18.00 EUR</td>"),
        "{html}"
    );
    let r = ask(&b, &app, &csrf, "1").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("must be at least 5.00 EUR")
    );
    let r = ask(&b, &app, &csrf, "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&b, &app, "/dashboard/payouts").await;
    assert!(html.contains("Waiting for the next batch"), "{html}");

    // The operator's page: the request waits; a batch; its files; marked paid.
    let (status, _) = page(&b, &app, "/admin/payouts").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "creators do not run batches");
    let (ops, ops_csrf, _) = browser_as(&app, Role::Admin).await;
    let (status, html) = page(&ops, &app, "/admin/payouts").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("@held_pages") && html.contains("18.00 EUR"),
        "{html}"
    );
    let r = post_form(
        &ops,
        &app,
        "/admin/payouts/batches",
        &[("csrf_token", &ops_csrf), ("currency", "EUR")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&ops, &app, "/admin/payouts").await;
    assert!(html.contains("No payout requests are waiting"), "{html}");
    let batch = html
        .split("data-batch=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, csv) = page(
        &ops,
        &app,
        &format!("/api/v1/admin/payout-batches/{batch}/csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.contains(",held_pages,Pia Page,DE89370400440532013000,,18.00,EUR,"),
        "{csv}"
    );
    let (_, html) = page(&b, &app, "/dashboard/payouts").await;
    assert!(html.contains("Being paid"), "{html}");
    let r = post_form(
        &ops,
        &app,
        &format!("/admin/payouts/batches/{batch}/paid"),
        &[("csrf_token", &ops_csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = post_form(
        &ops,
        &app,
        &format!("/admin/payouts/batches/{batch}/paid"),
        &[("csrf_token", &ops_csrf)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "paid once");
    assert!(r.text().await.unwrap().contains("already marked paid"));
    let (_, html) = page(&b, &app, "/dashboard/payouts").await;
    assert!(
        html.contains("<td data-held-stat=\"paid\">18.00 EUR</td>") && html.contains(">Paid<"),
        "{html}"
    );

    // Statements: the month with its entries, the year's summary.
    let month = Utc::now().format("%Y-%m").to_string();
    let (status, html) = page(&b, &app, &format!("/dashboard/statements/{month}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("tip (simulated)")
            && html.contains("payout (simulated)")
            && html.contains("Download CSV"),
        "{html}"
    );
    let (status, html) = page(
        &b,
        &app,
        &format!("/dashboard/statements/{}", Utc::now().format("%Y")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<td data-earned>18.00 EUR</td>"), "{html}");
    let (status, _) = page(&b, &app, "/dashboard/statements/2026-13").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_ne!(creator_id, Uuid::nil());
}

#[tokio::test]
async fn a_payout_method_keeps_its_schedule_a_holder_is_one_line_and_sepa_files_refuse_non_sepa_accounts()
 {
    let app = held_app().await;
    let c = eur_creator(&app, "held_edges").await;
    let admin = member(&app, Role::Admin).await;
    let put = |body: Value| {
        let app = &app;
        let token = c.token.clone();
        async move {
            call(
                app,
                Method::PUT,
                "/api/v1/me/creator/payout-method",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (status, body) =
        put(json!({"holder": "Eve\nExample", "iban": IBAN, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["holder"].is_array(), "{body}");
    let code = fresh_code(&app, &c.token).await;
    let (status, body) = put(
        json!({"holder": "Eve", "iban": IBAN, "schedule": "monthly", "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A new account without a schedule keeps the monthly one.
    let code = fresh_code(&app, &c.token).await;
    let (status, body) = put(
        json!({"holder": "Eve", "iban": "SA03 8000 0000 6080 1016 7519", "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schedule"], "monthly");
    assert_eq!(body["masked"], "SA •••• 7519");

    // An account outside SEPA: the batch's SEPA file is refused (a bank refuses the whole
    // file for one), its CSV is not.
    let tipper = member(&app, Role::Fan).await;
    pay(
        &app,
        &tipper,
        json!({"kind": "tip", "creator": "held_edges", "amount_minor": 1000}),
    )
    .await;
    clock(&app, Some(&c), json!(22)).await;
    let (status, _) = request(&app, &c, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, batch) = make_batch(&app, &admin).await;
    let id = batch["id"].as_str().unwrap();
    let (status, body) = file(&app, &admin, id, "sepa").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("@held_edges") && body.contains("outside SEPA"),
        "{body}"
    );
    let (status, csv) = file(&app, &admin, id, "csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.contains(",held_edges,Eve,SA0380000000608010167519,,9.00,EUR,"),
        "{csv}"
    );
}
