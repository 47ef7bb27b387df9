//! Security properties that need real processes: limits shared through Redis by two
//! servers, logs that never contain secrets, and the operator's account bootstrap.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Proc, TestDb, ccbill, mail_links, token_of, unique_email, wait_until, zinovia,
};

const PASSWORD: &str = "purple lighthouse at dawn";

/// The machine's Redis (the test command starts it); a test needing it fails without it.
fn redis_url() -> String {
    std::env::var("ZINOVIA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Waits for a `serve`/`up` process's "serving" log line and returns its URL.
async fn served_url(p: &mut Proc) -> String {
    let mut url = None;
    wait_until(Duration::from_secs(60), "the server to start", || {
        let (out, err) = p.output();
        url = out
            .lines()
            .find_map(|l| {
                l.strip_prefix("Zinovia is running at ")
                    .map(|u| u.split_whitespace().next().unwrap_or("").to_owned())
            })
            .or_else(|| {
                err.lines().find_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    (v["message"] == "serving").then(|| v["url"].as_str().unwrap_or("").to_owned())
                })
            });
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("the server exited ({status}): {:?}", p.output());
        }
        let found = url.is_some();
        async move { found }
    })
    .await;
    url.unwrap().trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn two_servers_sharing_redis_enforce_one_log_in_limit() {
    let db = TestDb::new().await;
    let data = crate::helpers::cluster_reachable_dir("zinovia-redis-");
    let serve = || {
        let mut cmd = zinovia();
        cmd.args(["serve", "--role", "api"])
            .env("DATABASE_URL", db.url())
            .env("REDIS_URL", redis_url())
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATA_DIR", data.path());
        Proc::start(cmd)
    };
    let mut a = serve();
    let mut b = serve();
    let (a_url, b_url) = (served_url(&mut a).await, served_url(&mut b).await);
    let client = reqwest::Client::new();
    let email = unique_email("shared");
    let r = client
        .post(format!("{a_url}/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD, "display_name": "Shared", "confirm_adult": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A fresh attacker address per run, so earlier runs' counters in Redis do not matter.
    let attacker = format!("203.0.113.{}", rand_octet());
    let attempt = |url: String, ip: String, password: &'static str| {
        let client = client.clone();
        let email = email.clone();
        async move {
            client
                .post(format!("{url}/api/v1/auth/login"))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..10 {
        let url = if i % 2 == 0 {
            a_url.clone()
        } else {
            b_url.clone()
        };
        assert_eq!(
            attempt(url, attacker.clone(), "wrong guess here").await,
            StatusCode::UNAUTHORIZED,
            "attempt {i}"
        );
    }
    // Five attempts on each server: the eleventh is refused by either.
    assert_eq!(
        attempt(a_url.clone(), attacker.clone(), "wrong guess here").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(b_url.clone(), attacker.clone(), "wrong guess here").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(b_url, format!("198.51.100.{}", rand_octet()), PASSWORD).await,
        StatusCode::OK
    );
    assert!(
        a.stop(Signal::SIGTERM, Duration::from_secs(30))
            .await
            .success()
    );
    assert!(
        b.stop(Signal::SIGTERM, Duration::from_secs(30))
            .await
            .success()
    );
}

fn rand_octet() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0].max(1)
}

const DATA_KEY: &str = "data-encryption-key-for-the-log-test-0123456789";

#[tokio::test]
async fn no_password_token_or_secret_appears_in_the_logs() {
    let db = TestDb::new().await;
    let data = crate::helpers::cluster_reachable_dir("zinovia-logs-");
    let secret = "s3ssion-secret-for-the-log-test-0123456789abcdef";
    let mut cmd = zinovia();
    cmd.arg("up")
        .env("DATABASE_URL", db.url())
        .env("DATA_DIR", data.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SESSION_SECRET", secret)
        .env("DATA_ENCRYPTION_KEY", DATA_KEY)
        .env("LOG_LEVEL", "debug")
        .env("JOB_POLL_INTERVAL", "200ms")
        // CCBill too: its webhook URL carries a secret.
        .env("PAYMENT_PROVIDERS", "simulated,ccbill")
        .env("CCBILL_CLIENT_ACCNUM", ccbill::ACCNUM)
        .env("CCBILL_CLIENT_SUBACC", ccbill::SUBACC)
        .env("CCBILL_FLEXFORM_ID", ccbill::FLEX_ID)
        .env("CCBILL_SALT", ccbill::SALT)
        .env("CCBILL_WEBHOOK_TOKEN", ccbill::TOKEN)
        .env("CCBILL_WEBHOOK_SOURCES", "127.0.0.1/32")
        .env("CCBILL_DATALINK_USERNAME", ccbill::DATALINK_USER)
        .env("CCBILL_DATALINK_PASSWORD", ccbill::DATALINK_PASSWORD);
    let mut up = Proc::start(cmd);
    let url = served_url(&mut up).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!(
            "{url}/api/v1/billing/webhooks/ccbill/{}?eventType=Expiration",
            ccbill::TOKEN
        ))
        .form(&[
            ("subscriptionId", "77"),
            ("timestamp", "2026-12-03 10:00:00"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let email = unique_email("logs");
    let body: Value = client
        .post(format!("{url}/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD, "display_name": "Logger", "confirm_adult": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signup_token = body["session"]["token"].as_str().unwrap().to_owned();
    let r = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "a wrong password typed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .post(format!("{url}/api/v1/auth/password-reset"))
        .json(&json!({"email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mail = data.path().join("mail");
    wait_until(Duration::from_secs(30), "both emails", || {
        let n = mail_links(&mail).len();
        async move { n == 2 }
    })
    .await;
    let links = mail_links(&mail);
    let reset = links.iter().find(|l| l.contains("reset-password")).unwrap();
    let new_password = "a fresh passphrase for logs";
    let r = client
        .post(format!("{url}/api/v1/auth/password-reset/confirm"))
        .json(&json!({"token": token_of(reset), "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let body: Value = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": new_password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let login_token = body["session"]["token"].as_str().unwrap().to_owned();
    let r = client
        .get(format!("{url}/api/v1/auth/me"))
        .bearer_auth(&login_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        up.stop(Signal::SIGINT, Duration::from_secs(30))
            .await
            .success()
    );

    let (out, log) = up.output();
    let all = format!("{out}\n{log}");
    // The logs did record the events...
    for event in [
        "account created",
        "logged in",
        "password reset",
        "mail written to the local mail folder",
        "billing event received",
    ] {
        assert!(all.contains(event), "no `{event}` line in the log");
    }
    // ...and none of the secrets.
    let verify = links.iter().find(|l| l.contains("verify-email")).unwrap();
    for (what, value) in [
        ("password", PASSWORD.to_owned()),
        ("wrong password", "a wrong password typed".to_owned()),
        ("new password", new_password.to_owned()),
        ("sign-up token", signup_token),
        ("log-in token", login_token),
        ("reset token", token_of(reset)),
        ("verification token", token_of(verify)),
        ("session secret", secret.to_owned()),
        ("data encryption key", DATA_KEY.to_owned()),
        ("CCBill webhook token", ccbill::TOKEN.to_owned()),
        ("CCBill salt", ccbill::SALT.to_owned()),
        ("DataLink password", ccbill::DATALINK_PASSWORD.to_owned()),
    ] {
        assert!(!all.contains(&value), "the {what} appears in the logs");
    }
}

#[tokio::test]
async fn operators_create_the_first_admin_from_the_command_line() {
    let db = TestDb::new().await;
    let email = unique_email("admin");
    // Password from standard input.
    let mut child = zinovia()
        .args(["admin", "create-user", "--email", &email, "--role", "admin"])
        .env("DATABASE_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"an operator passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("created admin account") && !text.contains("password"),
        "{text}"
    );
    let pool = db.pool().await;
    let (role, verified): (String, bool) = sqlx::query_as(
        "select role, email_verified_at is not null from users where lower(email) = lower($1)",
    )
    .bind(&email)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((role.as_str(), verified), ("admin", true));

    // No password given: one is generated and printed once, and it works.
    let other = unique_email("admin2");
    let out = zinovia()
        .args([
            "admin",
            "create-user",
            "--email",
            &other,
            "--role",
            "admin",
            "--display-name",
            "Ops",
        ])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let generated = text
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("a generated password");
    assert_eq!(generated.len(), 43);

    // A duplicate or a bad email is refused with the field's message.
    let out = zinovia()
        .args(["admin", "create-user", "--email", &email])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("email: is already registered"));
    let n: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}
