//! The CCBill rail (ADR 0022) against a local fake built after CCBill's documentation: a
//! price signed so the fan cannot edit it, unsigned webhooks accepted only at the secret
//! URL and from CCBill's addresses, events in any order and any number of times, money
//! taken back, cancellation through DataLink; the platform holds the creators' share.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use zinovia::accounts::Role;
use zinovia::billing::Provider;
use zinovia::config::{Environment, Role as ConfigRole, Settings};

use crate::billing::{count, locked_post, sees, start};
use crate::helpers::{FakeCcbill, Member, TestApp, call, ccbill, creator, member};

/// An app whose one rail is CCBill (the fake), at a 20 % fee.
async fn ccbill_app(fake: &FakeCcbill) -> TestApp {
    TestApp::spawn_with(|s| {
        s.billing.payment_providers = vec![Provider::Ccbill];
        s.billing.platform_fee_percent = 20;
        fake.configure(s);
    })
    .await
}

/// Posts CCBill's webhook `event_type` with `fields` (form-encoded, or JSON) to the secret
/// URL, as CCBill does (its query appended), and runs the jobs it enqueued when asked.
async fn post_webhook(
    app: &TestApp,
    event_type: &str,
    fields: &Map<String, Value>,
    json: bool,
    token: &str,
) -> (StatusCode, Value) {
    let url = format!(
        "{}/api/v1/billing/webhooks/ccbill/{token}?clientAccnum={}&clientSubacc={}&eventType={event_type}&eventGroupType=Subscription",
        app.base,
        ccbill::ACCNUM,
        ccbill::SUBACC
    );
    let req = app.client.post(url);
    let req = if json {
        req.json(fields)
    } else {
        let form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        req.form(&form)
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Delivers a webhook (accepted) and runs the jobs.
async fn deliver(app: &TestApp, event_type: &str, fields: &Map<String, Value>) {
    let (status, body) = post_webhook(app, event_type, fields, false, ccbill::TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// `fan` starts a checkout for `body` on CCBill: the form's URL, its digest checked.
async fn form(app: &TestApp, fan: &Member, body: Value) -> String {
    let (status, started) = start(app, fan, body).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["provider"], "ccbill");
    started["url"].as_str().unwrap().to_owned()
}

async fn ledger_rows(db: &PgPool, creator: uuid::Uuid) -> Vec<(String, i64, bool)> {
    sqlx::query_as(
        "select kind, net_minor, held from ledger_entries where creator_id = $1 order by id",
    )
    .bind(creator)
    .fetch_all(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn on_ccbill_the_price_is_signed_an_edited_one_is_refused_and_a_sale_unlocks_held_by_the_platform()
 {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let db = &app.state.db;
    let c = creator(&app, "cc_seller").await;
    let fan = member(&app, Role::Fan).await;
    let buyer = member(&app, Role::Fan).await;
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let ppv = locked_post(&app, &c, "ppv").await;

    // The subscription's form: 9.99 USD every 30 days, signed as CCBill's docs say.
    let url = form(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "cc_seller"}),
    )
    .await;
    assert!(
        url.starts_with(&format!(
            "{}/wap-frontflex/flexforms/{}?",
            fake.base,
            ccbill::FLEX_ID
        )),
        "{url}"
    );
    let parsed = url::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(
        (
            q["initialPrice"].as_str(),
            q["initialPeriod"].as_str(),
            q["recurringPrice"].as_str(),
            q["recurringPeriod"].as_str(),
            q["numRebills"].as_str(),
            q["currencyCode"].as_str()
        ),
        ("9.99", "30", "9.99", "30", "99", "840")
    );
    assert_eq!(
        q["formDigest"],
        FakeCcbill::digest(&["9.99", "30", "9.99", "30", "99", "840"])
    );
    // A fan who edits the price is refused by CCBill's form.
    let edited = url.replace("initialPrice=9.99", "initialPrice=0.99");
    let r = reqwest::get(&edited).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("formDigest does not match")
    );
    assert!(!sees(&app, "cc_seller", &fan, &subs_only).await);

    // Paid on CCBill's form: its NewSaleSuccess unlocks; the money is held for the creator.
    let sale = fake.pay(&url, "2026-12-03 10:00:00").await;
    deliver(&app, "NewSaleSuccess", &sale).await;
    assert!(sees(&app, "cc_seller", &fan, &subs_only).await);
    assert!(!sees(&app, "cc_seller", &buyer, &subs_only).await);
    assert_eq!(
        ledger_rows(db, c.id).await,
        [("subscription".to_owned(), 999 - 200, true)]
    );
    assert_eq!(
        count(
            db,
            "select count(*) from checkouts where provider = 'ccbill' and status = 'completed'"
        )
        .await,
        1
    );

    // A pay-per-view post: single billing, its own digest; the sale comes as JSON.
    let url = form(&app, &buyer, json!({"kind": "ppv", "post_id": ppv})).await;
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(!q.contains_key("recurringPrice"));
    assert_eq!(q["formDigest"], FakeCcbill::digest(&["15.00", "30", "840"]));
    let sale = fake.pay(&url, "2026-12-03 10:05:00").await;
    let (status, _) = post_webhook(&app, "NewSaleSuccess", &sale, true, ccbill::TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert!(sees(&app, "cc_seller", &buyer, &ppv).await);
    let (_, earnings) = call(
        &app,
        Method::GET,
        "/api/v1/me/creator/earnings",
        Some(&c.token),
        None,
    )
    .await;
    let owed = (999 - 200) + (1500 - 300);
    assert_eq!(
        earnings["balances"],
        json!([{"currency": "USD", "earned_minor": owed, "paid_to_account_minor": 0, "paid_out_minor": 0, "owed_minor": owed}])
    );
    // CCBill has no accounts for creators: no onboarding there, no transfer.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/creator/payouts",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn ccbill_webhooks_from_elsewhere_or_without_the_secret_are_refused_and_record_nothing() {
    let fake = FakeCcbill::start().await;
    let sale = fields(
        json!({"subscriptionId": "1", "transactionId": "2", "timestamp": "2026-12-03 10:00:00",
               "subscriptionInitialPrice": "9.99", "subscriptionCurrencyCode": "840"}),
    );
    // CCBill's own addresses only (the defaults): this machine is not one of them, and a
    // forwarded-for header from an untrusted peer changes nothing.
    let app = TestApp::spawn_with(|s| {
        s.billing.payment_providers = vec![Provider::Ccbill];
        fake.configure(s);
        s.billing.ccbill_webhook_sources = Settings::defaults().billing.ccbill_webhook_sources;
    })
    .await;
    let (status, _) = post_webhook(&app, "NewSaleSuccess", &sale, false, ccbill::TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = app
        .client
        .post(format!(
            "{}/api/v1/billing/webhooks/ccbill/{}?eventType=NewSaleSuccess",
            app.base,
            ccbill::TOKEN
        ))
        .header("x-forwarded-for", "64.38.212.10")
        .form(&[("subscriptionId", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Without the secret (or with another): 404, as if there were no such URL.
    let app2 = ccbill_app(&fake).await;
    for token in ["wrong-token-wrong-token-wrong-token-00", ""] {
        let (status, _) = post_webhook(&app2, "NewSaleSuccess", &sale, false, token).await;
        assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{token}: {status}"
        );
    }
    // No event type: refused.
    let r = app2
        .client
        .post(format!(
            "{}/api/v1/billing/webhooks/ccbill/{}",
            app2.base,
            ccbill::TOKEN
        ))
        .form(&[("subscriptionId", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    for a in [&app, &app2] {
        assert_eq!(
            count(&a.state.db, "select count(*) from billing_events").await,
            0
        );
    }
    // A rail that is not listed does not answer at all.
    let off = TestApp::spawn_with(|s| fake.configure(s)).await;
    let (status, _) = post_webhook(&off, "NewSaleSuccess", &sale, false, ccbill::TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A subscription's events as CCBill would send them: a sale, two renewals with a failure
/// between them.
fn life_of(sale: &Map<String, Value>) -> Vec<(&'static str, Map<String, Value>)> {
    let sub = sale["subscriptionId"].clone();
    let day = |d: i64| {
        (chrono::Utc::now() + chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string()
    };
    vec![
        ("NewSaleSuccess", sale.clone()),
        (
            "RenewalSuccess",
            fields(
                json!({"subscriptionId": sub, "transactionId": "r1", "timestamp": "2026-12-04 10:00:00",
                          "billedAmount": "9.99", "billedCurrencyCode": "840", "accountingAmount": "9.99",
                          "renewalDate": day(0), "nextRenewalDate": day(60)}),
            ),
        ),
        (
            "RenewalFailure",
            fields(
                json!({"subscriptionId": sub, "transactionId": "f1", "timestamp": "2026-12-05 10:00:00",
                          "failureReason": "Insufficient funds", "failureCode": "BE-140",
                          "nextRetryDate": day(63), "renewalDate": day(60)}),
            ),
        ),
        (
            "RenewalSuccess",
            fields(
                json!({"subscriptionId": sub, "transactionId": "r2", "timestamp": "2026-12-06 10:00:00",
                          "billedAmount": "9.99", "billedCurrencyCode": "840", "accountingAmount": "9.99",
                          "renewalDate": day(60), "nextRenewalDate": day(90)}),
            ),
        ),
    ]
}

#[tokio::test]
async fn ccbill_events_repeated_reversed_and_renewals_before_the_sale_end_in_one_state_and_no_duplicate_rows()
 {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let db = &app.state.db;
    let c = creator(&app, "cc_order").await;
    let fan = member(&app, Role::Fan).await;
    let post = locked_post(&app, &c, "subscribers").await;
    let url = form(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "cc_order"}),
    )
    .await;
    let sale = fake.pay(&url, "2026-12-03 10:00:00").await;
    // Every event three times, newest first (the renewals before the sale), then handled.
    for (event_type, f) in life_of(&sale).into_iter().rev() {
        for _ in 0..3 {
            let (status, _) = post_webhook(&app, event_type, &f, false, ccbill::TOKEN).await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(
        count(
            db,
            "select count(*) from billing_events where processed_at is null"
        )
        .await,
        0,
        "every event applied"
    );
    let (status, period_end): (String, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "select status, current_period_end from subscriptions where provider = 'ccbill'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(status, "active", "the last renewal succeeded");
    assert_eq!(
        period_end.format("%Y-%m-%d").to_string(),
        (chrono::Utc::now() + chrono::Duration::days(90 + 2))
            .format("%Y-%m-%d")
            .to_string()
    );
    assert_eq!(
        ledger_rows(db, c.id).await.len(),
        3,
        "the sale and two renewals, once each"
    );
    assert_eq!(count(db, "select count(*) from billing_events").await, 4);
    assert!(sees(&app, "cc_order", &fan, &post).await);
}

#[tokio::test]
async fn ccbill_refunds_voids_and_chargebacks_take_access_back_like_stripe() {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let db = &app.state.db;
    let c = creator(&app, "cc_back").await;
    let (a, b, v) = (
        member(&app, Role::Fan).await,
        member(&app, Role::Fan).await,
        member(&app, Role::Fan).await,
    );
    let subs_only = locked_post(&app, &c, "subscribers").await;
    let ppv = locked_post(&app, &c, "ppv").await;
    let reversal = |sale: &Map<String, Value>, amount: &str, at: &str| {
        fields(
            json!({"subscriptionId": sale["subscriptionId"], "transactionId": sale["transactionId"],
                      "timestamp": at, "amount": amount, "currency": "USD", "currencyCode": "840",
                      "accountingAmount": amount, "reason": "Customer Refunded"}),
        )
    };
    // A: a partial refund keeps access; the rest of it takes access back.
    let url = form(
        &app,
        &a,
        json!({"kind": "subscription", "creator": "cc_back"}),
    )
    .await;
    let sale_a = fake.pay(&url, "2026-12-03 10:00:00").await;
    deliver(&app, "NewSaleSuccess", &sale_a).await;
    let part = reversal(&sale_a, "5.00", "2026-12-03 11:00:00");
    deliver(&app, "Refund", &part).await;
    deliver(&app, "Refund", &part).await;
    assert!(sees(&app, "cc_back", &a, &subs_only).await);
    deliver(
        &app,
        "Refund",
        &reversal(&sale_a, "4.99", "2026-12-03 12:00:00"),
    )
    .await;
    assert!(!sees(&app, "cc_back", &a, &subs_only).await);
    // B: a chargeback of a purchase.
    let url = form(&app, &b, json!({"kind": "ppv", "post_id": ppv})).await;
    let sale_b = fake.pay(&url, "2026-12-03 10:01:00").await;
    deliver(&app, "NewSaleSuccess", &sale_b).await;
    assert!(sees(&app, "cc_back", &b, &ppv).await);
    deliver(
        &app,
        "Chargeback",
        &reversal(&sale_b, "15.00", "2026-12-04 10:00:00"),
    )
    .await;
    assert!(!sees(&app, "cc_back", &b, &ppv).await);
    // V: a void of a purchase.
    let url = form(&app, &v, json!({"kind": "ppv", "post_id": ppv})).await;
    let sale_v = fake.pay(&url, "2026-12-03 10:02:00").await;
    deliver(&app, "NewSaleSuccess", &sale_v).await;
    deliver(
        &app,
        "Void",
        &reversal(&sale_v, "15.00", "2026-12-03 10:30:00"),
    )
    .await;
    assert!(!sees(&app, "cc_back", &v, &ppv).await);
    // The ledger: each payment, and each thing that went back, once; held by the platform.
    let rows = ledger_rows(db, c.id).await;
    let kinds: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "subscription",
            "refund",
            "refund",
            "ppv",
            "dispute",
            "ppv",
            "refund"
        ]
    );
    assert!(rows.iter().all(|r| r.2), "all held by the platform");
    let sum: i64 = rows.iter().map(|r| r.1).sum();
    assert_eq!(sum, 0, "everything went back");
}

#[tokio::test]
async fn ccbill_cancellation_goes_through_datalink_once_and_access_lasts_until_expiration() {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let c = creator(&app, "cc_cancel").await;
    let fan = member(&app, Role::Fan).await;
    let post = locked_post(&app, &c, "subscribers").await;
    let url = form(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "cc_cancel"}),
    )
    .await;
    let sale = fake.pay(&url, "2026-12-03 10:00:00").await;
    deliver(&app, "NewSaleSuccess", &sale).await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/me/subscriptions/cc_cancel/cancel",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let calls = fake.datalink_calls();
    assert_eq!(calls.len(), 1);
    let get = |k: &str| {
        calls[0]
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("action").as_deref(), Some("cancelSubscription"));
    assert_eq!(
        get("subscriptionId"),
        sale["subscriptionId"].as_str().map(str::to_owned)
    );
    assert_eq!(get("clientSubacc").as_deref(), Some(ccbill::SUBACC));
    // CCBill confirms: no more rebills, access to the period's end; then it expires.
    let sub = &sale["subscriptionId"];
    deliver(
        &app,
        "Cancellation",
        &fields(
            json!({"subscriptionId": sub, "timestamp": "2026-12-03 12:00:00",
                       "reason": "Customer cancelled", "source": "API"}),
        ),
    )
    .await;
    assert!(sees(&app, "cc_cancel", &fan, &post).await);
    let (_, subs) = call(
        &app,
        Method::GET,
        "/api/v1/me/subscriptions",
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(subs["subscriptions"][0]["cancel_at_period_end"], true);
    deliver(
        &app,
        "Expiration",
        &fields(json!({"subscriptionId": sub, "timestamp": "2026-12-03 13:00:00"})),
    )
    .await;
    assert!(!sees(&app, "cc_cancel", &fan, &post).await);
    assert_eq!(fake.datalink_calls().len(), 1, "cancelled once");
}

#[test]
fn production_refuses_an_incomplete_ccbill_configuration_naming_every_problem() {
    let mut s = Settings::defaults();
    s.core.environment = Environment::Production;
    s.billing.payment_providers = vec![Provider::Ccbill];
    let named: Vec<&str> = s
        .validate(ConfigRole::Serve)
        .problems
        .iter()
        .map(|p| p.setting)
        .collect();
    for name in [
        "CCBILL_CLIENT_ACCNUM",
        "CCBILL_CLIENT_SUBACC",
        "CCBILL_FLEXFORM_ID",
        "CCBILL_SALT",
        "CCBILL_WEBHOOK_TOKEN",
        "CCBILL_DATALINK_USERNAME",
        "CCBILL_DATALINK_PASSWORD",
    ] {
        assert!(named.contains(&name), "{name} not named: {named:?}");
    }
    assert!(!named.contains(&"PAYMENT_PROVIDERS"), "{named:?}");
    // The worker receives no webhooks: no token needed there.
    let worker: Vec<&str> = s
        .validate(ConfigRole::Worker)
        .problems
        .iter()
        .map(|p| p.setting)
        .collect();
    assert!(!worker.contains(&"CCBILL_WEBHOOK_TOKEN"), "{worker:?}");
}

#[tokio::test]
async fn on_ccbill_a_closed_account_loses_access_at_once_and_is_canceled_at_ccbill_once() {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let c = creator(&app, "cc_closing").await;
    let (stays, leaves) = (member(&app, Role::Fan).await, member(&app, Role::Fan).await);
    let post = locked_post(&app, &c, "subscribers").await;
    let mut sales = Vec::new();
    for (fan, at) in [
        (&stays, "2026-12-03 10:00:00"),
        (&leaves, "2026-12-03 10:01:00"),
    ] {
        let url = form(
            &app,
            fan,
            json!({"kind": "subscription", "creator": "cc_closing"}),
        )
        .await;
        let sale = fake.pay(&url, at).await;
        deliver(&app, "NewSaleSuccess", &sale).await;
        sales.push(sale);
    }
    assert!(sees(&app, "cc_closing", &leaves, &post).await);
    // The leaving fan deletes their account: their subscription stops at once and CCBill is
    // asked, once, never to bill it again; the other fan is untouched.
    crate::lifecycle::delete_account(&app, &leaves).await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    let calls = fake.datalink_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].iter().any(|(k, v)| k == "subscriptionId"
            && Some(v.as_str()) == sales[1]["subscriptionId"].as_str())
    );
    assert!(sees(&app, "cc_closing", &stays, &post).await);
    // The creator closes theirs: the remaining subscriber loses access at once and CCBill
    // cancels that subscription too.
    crate::lifecycle::delete_account(&app, &c).await;
    app.run_pending_jobs(&zinovia::app::jobs()).await;
    assert_eq!(fake.datalink_calls().len(), 2);
    assert_eq!(
        count(
            &app.state.db,
            "select count(*) from subscriptions where provider = 'ccbill' and revoked_at is null"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_ccbill_sale_grants_only_what_its_checkout_says_whatever_the_fan_edits_in_the_pass_through()
 {
    let fake = FakeCcbill::start().await;
    let app = ccbill_app(&fake).await;
    let db = &app.state.db;
    let cheap = creator(&app, "cc_cheap").await;
    let dear = creator(&app, "cc_dear").await;
    let fan = member(&app, Role::Fan).await;
    let other = member(&app, Role::Fan).await;
    let cheap_post = locked_post(&app, &cheap, "subscribers").await;
    let dear_post = locked_post(&app, &dear, "subscribers").await;
    let dear_ppv = locked_post(&app, &dear, "ppv").await;

    // The fan points the cheap subscription's form at another creator: the pass-through is
    // not what decides; the checkout is.
    let url = form(
        &app,
        &fan,
        json!({"kind": "subscription", "creator": "cc_cheap"}),
    )
    .await;
    let mut sale = fake.pay(&url, "2026-12-03 10:00:00").await;
    sale.insert("X-zinovia_creator".into(), json!(dear.id.to_string()));
    deliver(&app, "NewSaleSuccess", &sale).await;
    assert!(sees(&app, "cc_cheap", &fan, &cheap_post).await);
    assert!(!sees(&app, "cc_dear", &fan, &dear_post).await);
    // Paying the same form again (its URL does not expire) grants and records nothing more.
    let again = fake.pay(&url, "2026-12-03 10:10:00").await;
    deliver(&app, "NewSaleSuccess", &again).await;
    assert_eq!(ledger_rows(db, cheap.id).await.len(), 1);
    assert_eq!(
        count(
            db,
            "select count(*) from subscriptions where provider = 'ccbill'"
        )
        .await,
        1
    );

    // A subscription's sale naming a pay-per-view checkout: refused, nothing granted or
    // recorded.
    let (status, ppv_checkout) =
        start(&app, &fan, json!({"kind": "ppv", "post_id": dear_ppv})).await;
    assert_eq!(status, StatusCode::CREATED);
    let url = form(
        &app,
        &other,
        json!({"kind": "subscription", "creator": "cc_cheap"}),
    )
    .await;
    let mut forged = fake.pay(&url, "2026-12-03 10:20:00").await;
    forged.insert(
        "X-zinovia_checkout".into(),
        ppv_checkout["checkout_id"].clone(),
    );
    deliver(&app, "NewSaleSuccess", &forged).await;
    assert!(!sees(&app, "cc_dear", &other, &dear_ppv).await);
    assert!(ledger_rows(db, dear.id).await.is_empty());
    let (state, reason): (String, Option<String>) =
        sqlx::query_as("select status, closed_reason from checkouts where id = $1::uuid")
            .bind(ppv_checkout["checkout_id"].as_str().unwrap())
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!(state, "refused");
    assert!(reason.unwrap_or_default().contains("another kind"));
    // The recurring sales never granted (paid twice, and the forged one) are canceled at
    // CCBill, so it does not bill them again.
    let canceled: Vec<String> = fake
        .datalink_calls()
        .iter()
        .filter_map(|q| {
            q.iter()
                .find(|(k, _)| k == "subscriptionId")
                .map(|(_, v)| v.clone())
        })
        .collect();
    let ungranted = [&again, &forged].map(|s| s["subscriptionId"].as_str().unwrap().to_owned());
    assert_eq!(canceled, ungranted);
}
