//! Stand-ins for what is not ours to run: an SMTP sink (mail providers), a real
//! S3-compatible server that checks signatures, a real clamd with test signatures, and
//! the EICAR test file, and Stripe's API (a local server that records and checks what we
//! send).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;
use zinovia::config::Settings;

/// Messages an [`SmtpSink`] received: (recipients, raw message).
type Mailbox = Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// A minimal SMTP server that accepts every message and keeps it, for testing the SMTP
/// mail backend (the mail provider is third-party SaaS, so it is faked).
pub struct SmtpSink {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    messages: Mailbox,
}

impl SmtpSink {
    /// Starts listening on 127.0.0.1 (stops with the test's runtime).
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let messages: Mailbox = Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = Arc::clone(&messages);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut rcpt = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 sink\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            rcpt.push(line[8..].trim().to_owned());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut body = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                body.push_str(&l);
                                body.push('\n');
                            }
                            store
                                .lock()
                                .expect("lock")
                                .push((std::mem::take(&mut rcpt), body));
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        let _ = write.write_all(reply).await;
                    }
                });
            }
        });
        SmtpSink { addr, messages }
    }

    /// The messages received: (recipients, raw message).
    pub fn messages(&self) -> Vec<(Vec<String>, String)> {
        self.messages.lock().expect("lock").clone()
    }
}

/// Access key of the test S3 server.
pub const S3_ACCESS_KEY: &str = "AKIAZINOVIATEST";
/// Secret key of the test S3 server.
pub const S3_SECRET_KEY: &str = "zinovia-test-secret-key-0123456789abcdef";
/// Bucket the tests use.
pub const S3_BUCKET: &str = "zinovia-media-test";

/// An S3-compatible server (s3s-fs) that checks SigV4 signatures, expiry and signed
/// headers, on 127.0.0.1; it stops with the test's runtime.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    down: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server over a fresh directory.
    pub async fn start() -> S3Server {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let dir = tempfile::tempdir().expect("temp dir");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
        ));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (down, is_down) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                if *is_down.borrow() {
                    // An outage: new connections are cut before any answer...
                    drop(socket);
                    continue;
                }
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let mut outage = is_down.clone();
                tokio::spawn(async move {
                    // ...and open ones (kept alive by clients) are cut when it starts.
                    tokio::select! {
                        _ = conn => {}
                        _ = outage.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        S3Server {
            endpoint,
            down,
            _dir: dir,
        }
    }

    /// Starts (`true`) or ends an outage: while down, every connection is cut at once.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Points `settings` at this server.
    pub fn configure(&self, s: &mut Settings) {
        s.media.storage = zinovia::config::StorageBackend::S3;
        s.media.s3_bucket = Some(S3_BUCKET.into());
        s.media.s3_endpoint = Some(self.endpoint.parse().expect("url"));
        s.media.s3_access_key_id = Some(S3_ACCESS_KEY.into());
        s.media.s3_secret_access_key = Some(S3_SECRET_KEY.into());
    }
}

/// The EICAR test file (68 bytes), put together at run time so this source file is not
/// itself flagged by scanners.
pub fn eicar() -> Vec<u8> {
    let halves = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ];
    let v = halves.concat().into_bytes();
    assert_eq!(v.len(), 68);
    v
}

/// A real clamd on 127.0.0.1 with a database of two test signatures for EICAR (no
/// internet needed), failing closed on files over its limits (`AlertExceedsMax`). Stopped
/// when dropped.
pub struct ClamdServer {
    /// `127.0.0.1:PORT`
    pub addr: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl ClamdServer {
    /// Starts clamd and waits until it answers `PING`. clamd must be installed (the test
    /// command installs it); a missing clamd fails the test.
    pub async fn start() -> ClamdServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db dir");
        std::fs::write(
            db.join("zinovia-test.ndb"),
            format!("Zinovia.Test.EICAR:0:0:{}\n", hex::encode(eicar())),
        )
        .expect("ndb");
        std::fs::write(
            db.join("zinovia-test.hdb"),
            // EICAR's published MD5.
            "44d88612fea8a8f36de82e1278abb02f:68:Zinovia.Test.EICAR.MD5\n",
        )
        .expect("hdb");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nDatabaseDirectory {db}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n\
                 LogFile {log}\nLogTime yes\nStreamMaxLength 64M\nMaxFileSize 64M\nMaxScanSize 256M\n\
                 AlertExceedsMax yes\nMaxThreads 4\nBytecode no\n",
                db = db.display(),
                log = dir.path().join("clamd.log").display(),
            ),
        )
        .expect("clamd.conf");
        let program = ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("clamd");
        let child = Command::new(program)
            .arg(format!("--config-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("clamd cannot start ({e}); scripts/test installs it"));
        let server = ClamdServer {
            addr: format!("127.0.0.1:{port}"),
            child,
            dir,
        };
        let client = zinovia::scan::Clamd::new(server.addr.clone(), Duration::from_secs(5));
        let started = Instant::now();
        while client.ping().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "clamd did not answer within a minute; its log:\n{}",
                std::fs::read_to_string(server.dir.path().join("clamd.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }
}

impl Drop for ClamdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves a fake's routes on a free local port until the token it answers is cancelled:
/// its base URL and that token.
async fn serve_fake(app: axum::Router) -> (String, tokio_util::sync::CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await
            .unwrap();
    });
    (format!("http://{addr}"), stop)
}

/// One request Stripe's fake received.
#[derive(Debug, Clone)]
pub struct StripeCall {
    pub method: String,
    pub path: String,
    pub auth: String,
    pub idempotency: String,
    pub version: String,
    pub form: Vec<(String, String)>,
}

impl StripeCall {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A local stand-in for Stripe's API: records what we send, answers like Stripe, and
/// refuses a wrong key or a missing idempotency key as Stripe would.
pub struct FakeStripe {
    pub base: String,
    calls: Arc<std::sync::Mutex<Vec<StripeCall>>>,
    refuse_transfers: Arc<std::sync::atomic::AtomicU16>,
    stop: tokio_util::sync::CancellationToken,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        use axum::http::{HeaderMap, StatusCode as Code};
        let calls: Arc<std::sync::Mutex<Vec<StripeCall>>> = Default::default();
        let seen = calls.clone();
        let refuse_transfers: Arc<std::sync::atomic::AtomicU16> = Default::default();
        let refusing_now = refuse_transfers.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                let refusing = refusing_now.clone();
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let call = StripeCall {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        auth: h("authorization"),
                        idempotency: h("idempotency-key"),
                        version: h("stripe-version"),
                        form: url::form_urlencoded::parse(&body).into_owned().collect(),
                    };
                    let n = {
                        let mut calls = seen.lock().unwrap();
                        calls.push(call.clone());
                        calls.len()
                    };
                    // Stripe takes idempotency keys on POST; DELETE is idempotent by itself.
                    if call.auth != "Bearer sk_test_zinovia" || (call.method == "POST" && call.idempotency.is_empty()) {
                        return (Code::UNAUTHORIZED, axum::Json(json!({"error": {"message": "Invalid API Key provided"}})));
                    }
                    if call.get("line_items[0][price_data][unit_amount]") == Some("666") {
                        return (Code::BAD_REQUEST, axum::Json(json!({"error": {"message": "Your card was declined"}})));
                    }
                    let answer = match call.path.as_str() {
                        "/v1/customers" => json!({"id": format!("cus_{n}"), "object": "customer"}),
                        "/v1/products" => json!({"id": format!("prod_{n}"), "object": "product"}),
                        "/v1/prices" => json!({"id": format!("price_{n}"), "object": "price"}),
                        "/v1/checkout/sessions" => json!({"id": format!("cs_test_{n}"), "object": "checkout.session",
                                                          "url": format!("https://checkout.stripe.com/c/pay/cs_test_{n}")}),
                        "/v1/accounts" => json!({"id": format!("acct_{n}"), "object": "account"}),
                        "/v1/transfers" => {
                            match refusing.load(std::sync::atomic::Ordering::SeqCst) {
                                0 => {}
                                400 => return (Code::BAD_REQUEST, axum::Json(json!({"error": {"code": "balance_insufficient",
                                    "message": "You have insufficient available funds in your Stripe account."}}))),
                                other => return (Code::from_u16(other).unwrap(), axum::Json(json!({"error": {"message": "Stripe is having trouble"}}))),
                            }
                            json!({"id": format!("tr_{n}"), "object": "transfer", "amount": call.get("amount").and_then(|a| a.parse::<i64>().ok()),
                                   "currency": call.get("currency"), "destination": call.get("destination"),
                                   "metadata": {"transfer_id": call.get("metadata[transfer_id]"), "creator_id": call.get("metadata[creator_id]")}})
                        }
                        "/v1/account_links" => json!({"object": "account_link", "url": format!("https://connect.stripe.com/setup/e/acct/{n}")}),
                        "/v1/billing_portal/sessions" => json!({"id": format!("bps_{n}"), "object": "billing_portal.session",
                                                                "url": format!("https://billing.stripe.com/p/session/{n}")}),
                        p if p.starts_with("/v1/subscriptions/") && call.method == "DELETE" => json!({"id": &p[18..], "object": "subscription", "status": "canceled"}),
                        p if p.starts_with("/v1/subscriptions/") => json!({"id": &p[18..], "object": "subscription", "cancel_at_period_end": true}),
                        p if p.starts_with("/v1/checkout/sessions/") && p.ends_with("/expire") => json!({"id": &p[22..p.len() - 7], "object": "checkout.session", "status": "expired"}),
                        _ => return (Code::NOT_FOUND, axum::Json(json!({"error": {"message": "Unrecognized request URL"}}))),
                    };
                    (Code::OK, axum::Json(answer))
                }
            },
        );
        let (base, stop) = serve_fake(app).await;
        FakeStripe {
            base,
            calls,
            refuse_transfers,
            stop,
        }
    }

    pub fn calls(&self) -> Vec<StripeCall> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls made to `path`.
    pub fn calls_to(&self, path: &str) -> Vec<StripeCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == path)
            .collect()
    }

    /// Whether transfers are refused as Stripe refuses them when the platform's balance is
    /// short.
    pub fn refuse_transfers(&self, refuse: bool) {
        self.fail_transfers(if refuse { 400 } else { 0 });
    }

    /// Transfers answered with `status` (400: refused for the balance; 500, 409, …: failed
    /// in a way that may hide a transfer made; 0: made).
    pub fn fail_transfers(&self, status: u16) {
        self.refuse_transfers
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// CCBill's test account, as the fake and the app are both configured.
pub mod ccbill {
    pub const ACCNUM: &str = "900100";
    pub const SUBACC: &str = "0000";
    pub const FLEX_ID: &str = "687fa3e0-e60d-4466-88e2-181fa56dd6a9";
    /// CCBill's documented example salt.
    pub const SALT: &str = "7d901dad245fd0ff6bc20d06";
    pub const TOKEN: &str = "ccbill-webhooks-for-the-tests-0123456789";
    pub const DATALINK_USER: &str = "zinovia_dl";
    pub const DATALINK_PASSWORD: &str = "dl-secret-9";
}

/// DataLink calls a [`FakeCcbill`] received: each its query.
type DataLinkCalls = Arc<std::sync::Mutex<Vec<Vec<(String, String)>>>>;

/// A local stand-in for CCBill, after its documentation (docs: ADR 0022): its FlexForm
/// refuses a price whose `formDigest` does not match (MD5 of the price fields and the salt),
/// and a fan "paying" there is the `NewSaleSuccess` fields CCBill would post, pass-through
/// fields returned with an `X-` prefix; its DataLink cancels a subscription when the
/// account and user are right, recording each call.
pub struct FakeCcbill {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    datalink: DataLinkCalls,
    sales: std::sync::atomic::AtomicU64,
    stop: tokio_util::sync::CancellationToken,
}

impl FakeCcbill {
    pub async fn start() -> FakeCcbill {
        use axum::extract::{Path as UrlPath, Query};
        use std::collections::HashMap;
        let datalink: DataLinkCalls = Default::default();
        let seen = datalink.clone();
        let app = axum::Router::new()
            .route(
                "/wap-frontflex/flexforms/{flex}",
                axum::routing::get(
                    |UrlPath(flex): UrlPath<String>, Query(q): Query<HashMap<String, String>>| async move {
                        match FakeCcbill::check_form(&flex, &q) {
                            Ok(()) => (axum::http::StatusCode::OK, "<h1>Payment</h1>".to_owned()),
                            Err(why) => (axum::http::StatusCode::BAD_REQUEST, why),
                        }
                    },
                ),
            )
            .route(
                "/utils/subscriptionManagement.cgi",
                axum::routing::get(move |uri: axum::http::Uri| {
                    let seen = seen.clone();
                    async move {
                        let q: Vec<(String, String)> =
                            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                                .into_owned()
                                .collect();
                        seen.lock().unwrap().push(q.clone());
                        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
                        let code = if get("clientAccnum") != Some(ccbill::ACCNUM)
                            || get("username") != Some(ccbill::DATALINK_USER)
                            || get("password") != Some(ccbill::DATALINK_PASSWORD)
                        {
                            -1
                        } else if get("action") != Some("cancelSubscription") {
                            -6
                        } else if get("subscriptionId").is_none_or(str::is_empty) {
                            -5
                        } else {
                            1
                        };
                        format!("<?xml version='1.0' standalone='yes'?>\n<results>{code}</results>\n")
                    }
                }),
            );
        let (base, stop) = serve_fake(app).await;
        FakeCcbill {
            base,
            datalink,
            sales: Default::default(),
            stop,
        }
    }

    /// The form's checks: our account and form, and the digest over the price fields as
    /// sent (single billing, or recurring when a rebill is asked).
    fn check_form(flex: &str, q: &std::collections::HashMap<String, String>) -> Result<(), String> {
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
        if flex != ccbill::FLEX_ID
            || get("clientAccnum") != ccbill::ACCNUM
            || get("clientSubacc") != ccbill::SUBACC
        {
            return Err("unknown form or account".into());
        }
        let mut fields = vec![get("initialPrice"), get("initialPeriod")];
        if q.contains_key("recurringPrice") {
            fields.extend([
                get("recurringPrice"),
                get("recurringPeriod"),
                get("numRebills"),
            ]);
        }
        fields.push(get("currencyCode"));
        let expected = FakeCcbill::digest(&fields);
        if get("formDigest") != expected {
            return Err(format!(
                "formDigest does not match the price fields (expected {expected})"
            ));
        }
        Ok(())
    }

    /// MD5 of the fields then the salt, as CCBill's documentation says.
    pub fn digest(fields: &[&str]) -> String {
        use md5::{Digest, Md5};
        let mut h = Md5::new();
        for f in fields {
            h.update(f.as_bytes());
        }
        h.update(ccbill::SALT.as_bytes());
        hex::encode(h.finalize())
    }

    /// Points `settings` at this fake, CCBill's webhooks coming from this machine.
    pub fn configure(&self, s: &mut Settings) {
        let b = &mut s.billing;
        b.ccbill_client_accnum = Some(ccbill::ACCNUM.into());
        b.ccbill_client_subacc = Some(ccbill::SUBACC.into());
        b.ccbill_flexform_id = Some(ccbill::FLEX_ID.into());
        b.ccbill_salt = Some(ccbill::SALT.to_owned().into());
        b.ccbill_webhook_token = Some(ccbill::TOKEN.to_owned().into());
        b.ccbill_webhook_sources = vec!["127.0.0.1/32".parse().unwrap()];
        b.ccbill_datalink_username = Some(ccbill::DATALINK_USER.into());
        b.ccbill_datalink_password = Some(ccbill::DATALINK_PASSWORD.to_owned().into());
        b.ccbill_form_base = format!("{}/wap-frontflex/flexforms/", self.base)
            .parse()
            .unwrap();
        b.ccbill_datalink_url = format!("{}/utils/subscriptionManagement.cgi", self.base)
            .parse()
            .unwrap();
    }

    /// The fan pays on the form at `url` (refused like the form if its digest does not
    /// match): the `NewSaleSuccess` fields CCBill posts, with a new subscription and
    /// transaction id and `timestamp`.
    pub async fn pay(
        &self,
        url: &str,
        timestamp: &str,
    ) -> serde_json::Map<String, serde_json::Value> {
        let r = reqwest::get(url).await.unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::OK,
            "{}",
            r.text().await.unwrap_or_default()
        );
        let url = url::Url::parse(url).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let n = self.sales.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let recurring = q.contains_key("recurringPrice");
        let mut f = serde_json::Map::new();
        let mut put = |k: &str, v: String| {
            f.insert(k.to_owned(), serde_json::Value::String(v));
        };
        put("subscriptionId", format!("01172401020000{n:05}"));
        put("transactionId", format!("09121911010000{n:05}"));
        put("clientAccnum", ccbill::ACCNUM.into());
        put("clientSubacc", ccbill::SUBACC.into());
        put("timestamp", timestamp.into());
        put("subscriptionInitialPrice", q["initialPrice"].clone());
        put("billedInitialPrice", q["initialPrice"].clone());
        put("subscriptionCurrencyCode", q["currencyCode"].clone());
        put("billedCurrencyCode", q["currencyCode"].clone());
        put("initialPeriod", q["initialPeriod"].clone());
        if recurring {
            put("subscriptionRecurringPrice", q["recurringPrice"].clone());
            put("billedRecurringPrice", q["recurringPrice"].clone());
            put("recurringPeriod", q["recurringPeriod"].clone());
            put("rebills", q["numRebills"].clone());
            put(
                "nextRenewalDate",
                (chrono::Utc::now() + chrono::Duration::days(30))
                    .format("%Y-%m-%d")
                    .to_string(),
            );
        } else {
            put("subscriptionRecurringPrice", "0.00".into());
            put("billedRecurringPrice", "0.00".into());
            put("rebills", "0".into());
        }
        put("paymentType", "CREDIT".into());
        put("cardType", "VISA".into());
        put("last4", "1111".into());
        for (k, v) in &q {
            put(&format!("X-{k}"), v.clone());
        }
        f
    }

    /// DataLink's calls, each its query.
    pub fn datalink_calls(&self) -> Vec<Vec<(String, String)>> {
        self.datalink.lock().unwrap().clone()
    }
}

impl Drop for FakeCcbill {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
