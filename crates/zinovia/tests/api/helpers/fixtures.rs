//! Builders of the things tests start from: uploads through the real path, mailed links,
//! unique addresses, accounts and creators, posts and photos as the worker leaves them, and
//! subscriptions or purchases written as the rail would hold them.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use sqlx::PgPool;

use chrono::{Duration as Days, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use zinovia::accounts::Role;

use super::*;

/// How many mails in the app's mail folder are to `to` and hold `needle` (run the jobs
/// first).
pub fn mails_containing(app: &TestApp, to: &str, needle: &str) -> usize {
    std::fs::read_dir(app.data_dir().join("mail"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|t| t.contains(to) && t.contains(needle))
                .count()
        })
        .unwrap_or(0)
}

/// Every `...token=...` link in the `.eml` files of `dir`, oldest first.
pub fn mail_links(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| links_in(&std::fs::read_to_string(f).unwrap_or_default()))
        .collect()
}

/// Links with a token in a raw email (quoted-printable decoded).
pub fn links_in(raw: &str) -> Vec<String> {
    let text = decode_quoted_printable(raw);
    text.split_whitespace()
        .filter(|w| w.starts_with("http") && w.contains("token="))
        .map(ToOwned::to_owned)
        .collect()
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `token` parameter of a link.
pub fn token_of(link: &str) -> String {
    link.split("token=")
        .nth(1)
        .expect("token")
        .split(['&', '"'])
        .next()
        .expect("token")
        .to_owned()
}

/// A unique email address for a test.
pub fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.com",
        &Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Uploads `bytes` as a new asset of the account behind `token` (request, PUT, complete)
/// and returns its id. Panics unless every step succeeds.
pub async fn upload(
    app: &TestApp,
    token: &str,
    kind: &str,
    content_type: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> String {
    let (status, body) = app
        .post_json(
            "/api/v1/media/uploads",
            Some(token),
            &serde_json::json!({"kind": kind, "content_type": content_type, "byte_size": bytes.len(), "filename": filename}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["asset_id"].as_str().expect("asset_id").to_owned();
    let upload = &body["upload"];
    let mut req = reqwest::Client::new().put(upload["url"].as_str().expect("url"));
    for (k, v) in upload["headers"].as_object().expect("headers") {
        if k != "content-length" {
            req = req.header(k.as_str(), v.as_str().expect("header"));
        }
    }
    let r = req.body(bytes).send().await.expect("PUT");
    assert!(r.status().is_success(), "PUT: {}", r.status());
    let (status, done) = app
        .post_json(
            &format!("/api/v1/media/{id}/complete"),
            Some(token),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{done}");
    id
}

/// Writes `fan`'s subscription to `creator` directly, as the simulated rail would hold it
/// (one fixture subscription per pair, updated in place): for tests of what access follows
/// from a state. Payments write subscriptions only from the rail's events.
pub async fn grant_subscription(
    db: &PgPool,
    fan: Uuid,
    creator: Uuid,
    status: &str,
    current_period_end: chrono::DateTime<Utc>,
    past_due_since: Option<chrono::DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"insert into subscriptions (id, fan_id, creator_id, status, current_period_end, past_due_since,
                                      provider, provider_subscription_id)
           values ($1, $2, $3, $4, $5, $6, 'simulated', 'sub_fixture_' || $2::text || '_' || $3::text)
           on conflict (provider, provider_subscription_id) do update set status = excluded.status,
             current_period_end = excluded.current_period_end, past_due_since = excluded.past_due_since"#,
    )
    .bind(Uuid::now_v7())
    .bind(fan)
    .bind(creator)
    .bind(status)
    .bind(current_period_end)
    .bind(past_due_since)
    .execute(db)
    .await?;
    Ok(())
}

/// Writes `fan`'s purchase of `post` at the post's price directly (tests of access).
pub async fn grant_purchase(
    db: &PgPool,
    fan: Uuid,
    post: Uuid,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"insert into post_purchases (id, fan_id, post_id, amount_minor, currency, status)
           select $1, $2, p.id, coalesce(p.price_minor, 0), coalesce(p.currency, 'USD'), $4
           from posts p where p.id = $3
           on conflict (fan_id, post_id) do update set status = excluded.status"#,
    )
    .bind(Uuid::now_v7())
    .bind(fan)
    .bind(post)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

/// A signed-in account: bearer token and user id.
#[derive(Clone)]
pub struct Member {
    pub token: String,
    pub id: Uuid,
}

pub async fn member(app: &TestApp, role: Role) -> Member {
    let email = unique_email(role.as_str());
    let password = "purple lighthouse at dawn";
    let user = zinovia::accounts::create_user(&app.state, &email, "Someone", role, password)
        .await
        .unwrap();
    let (status, body) = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["session"]["token"].as_str().unwrap().to_owned();
    if zinovia::accounts::second_factor_required_for(role) {
        // Operators act only from a session with a second factor: enrolling gives one.
        enrol_totp(app, &token).await;
    }
    Member {
        token,
        id: user.id.0,
    }
}

/// RFC 4648 base32 (no padding) as apps read a typed-in secret.
pub fn base32_decode(s: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("a base32 character") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The code an authenticator app with this base32 secret shows now (`offset` seconds
/// from now: the next step's code is a fresh one).
pub fn totp_now(secret_b32: &str, offset: i64) -> String {
    zinovia::accounts::totp_code(&base32_decode(secret_b32), Utc::now().timestamp() + offset)
}

/// Turns two-factor sign-in on for the account behind `token` (whose session then counts
/// as signed in with it); returns the base32 secret and the recovery codes.
pub async fn enrol_totp(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (status, e) = app
        .post_json("/api/v1/auth/two-factor/totp", Some(token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (status, codes) = app
        .post_json(
            "/api/v1/auth/two-factor/totp/confirm",
            Some(token),
            &json!({"code": totp_now(&secret, 0)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    unused_codes().insert(token.to_owned(), codes.clone());
    (secret, codes)
}

fn unused_codes() -> std::sync::MutexGuard<'static, std::collections::HashMap<String, Vec<String>>>
{
    static CODES: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>,
    > = std::sync::OnceLock::new();
    CODES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes sure the session behind `token` signed in with a second factor (enrolling an
/// authenticator app through it the first time).
pub async fn with_second_factor(app: &TestApp, token: &str) {
    let known = unused_codes().contains_key(token);
    if !known {
        enrol_totp(app, token).await;
    }
}

/// A second-factor code the account behind `token` has not used (one of its recovery
/// codes; two-factor sign-in is turned on first if it is off).
pub async fn fresh_code(app: &TestApp, token: &str) -> String {
    with_second_factor(app, token).await;
    unused_codes()
        .get_mut(token)
        .and_then(Vec::pop)
        .expect("an unused recovery code")
}

/// Sends `method path` with an optional bearer token and JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// A creator with a profile (`handle`), price 999 USD.
pub async fn creator(app: &TestApp, handle: &str) -> Member {
    let m = member(app, Role::Fan).await;
    let (status, body) = call(
        app,
        Method::PUT,
        "/api/v1/me/creator",
        Some(&m.token),
        Some(
            json!({"handle": handle, "display_name": "Ada", "price_minor": 999, "currency": "USD"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    verified(&app.state.db, m.id).await;
    m
}

/// An unverified creator (may post for free only): `creator` without the verification.
pub async fn unverified_creator(app: &TestApp, handle: &str) -> Member {
    let m = creator(app, handle).await;
    sqlx::query("delete from verifications where user_id = $1")
        .bind(m.id)
        .execute(&app.state.db)
        .await
        .unwrap();
    m
}

/// Records an approved verification of `user` (as a reviewer's approval leaves it; the
/// review itself is tested in tests/api/verification.rs).
pub async fn verified(db: &PgPool, user: Uuid) {
    sqlx::query(
        "insert into verifications (id, user_id, status, submitted_at, decided_at) values ($1, $2, 'approved', now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .execute(db)
    .await
    .unwrap();
}

/// A processed photo of `owner` (rows as the worker leaves them: ready, blurhash, WebP and
/// JPEG variants).
pub async fn ready_photo(db: &PgPool, owner: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into media_assets (id, owner_id, kind, purpose, state, content_type, byte_size, object_key,
                                   width, height, blurhash, upload_expires_at)
         values ($1, $2, 'image', 'post', 'ready', 'image/jpeg', 1000, 'uploads/' || $1, 4000, 3000,
                 'LEHV6nWB2yk8pyo0adR*.7kCMdnj', now())",
    )
    .bind(id)
    .bind(owner)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into media_variants (asset_id, variant, object_key, content_type, width, height, byte_size)
         select $1, v, 'media/' || $1 || '/' || v, ct, w, h, 100
         from (values ('thumb.webp', 'image/webp', 320, 240), ('grid.webp', 'image/webp', 960, 720),
                      ('full.webp', 'image/webp', 2048, 1536), ('full.jpg', 'image/jpeg', 2048, 1536))
              as t(v, ct, w, h)",
    )
    .bind(id)
    .execute(db)
    .await
    .unwrap();
    id
}

/// `fan` subscribes to `creator` with `status`, paid for `days`.
pub async fn subscribe(app: &TestApp, fan: &Member, creator: &Member, status: &str, days: i64) {
    grant_subscription(
        &app.state.db,
        fan.id,
        creator.id,
        status,
        Utc::now() + Days::days(days),
        None,
    )
    .await
    .unwrap();
}

pub async fn post(app: &TestApp, who: &Member, body: Value) -> Value {
    let (status, post) = call(
        app,
        Method::POST,
        "/api/v1/posts",
        Some(&who.token),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    post
}

/// The signature of an HLS grant for `viewer` of `asset` until `expires`, as the server
/// makes it (tests of expiry).
pub fn hls_token(app: &TestApp, asset: &str, viewer: &str, expires: i64) -> String {
    use secrecy::ExposeSecret;
    zinovia::crypto::hmac_b64(
        app.state
            .session_secret()
            .unwrap()
            .expose_secret()
            .as_bytes(),
        format!("hls:{asset}:{viewer}:{expires}").as_bytes(),
    )
}
