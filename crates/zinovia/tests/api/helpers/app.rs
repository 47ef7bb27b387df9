//! The app on port 0 against its own database, with typed request helpers and
//! deterministic job runs; assertions shared by every area.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zinovia::config::Settings;
use zinovia::http::{self, ServeRole};
use zinovia::jobs::Registry;
use zinovia::state::AppState;

use super::*;

/// Settings for a test app: defaults, with a private data directory.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut s = Settings::defaults();
    s.core.data_dir = data_dir.to_path_buf();
    s.jobs.job_retry_base = zinovia::config::HumanDuration(Duration::ZERO);
    // The fastest x264 preset that still makes every file (the tests check what is made,
    // not how good it looks; ADR 0026's default is measured by bench-video).
    s.media.media_video_preset = "superfast".into();
    s
}

/// The app running on port 0 against its own fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The state the server runs with (database pool, settings, metrics).
    pub state: AppState,
    /// The HTTP client (no redirects followed, so tests see them).
    pub client: reqwest::Client,
    /// The test's database.
    pub db: TestDb,
    /// The app's data directory (kept until the app is dropped).
    _data_dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl TestApp {
    /// The app with default settings.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// The app with settings adjusted by `f`.
    pub async fn spawn_with(f: impl FnOnce(&mut Settings)) -> TestApp {
        let db = TestDb::new().await;
        Self::spawn_on(db, f).await
    }

    /// The app on a given database.
    pub async fn spawn_on(db: TestDb, f: impl FnOnce(&mut Settings)) -> TestApp {
        let pool = db.pool().await;
        Self::spawn_on_pool(db, pool, f).await
    }

    /// The app on a given pool (which may point elsewhere than `db`).
    pub async fn spawn_on_pool(db: TestDb, pool: PgPool, f: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(data_dir.path());
        f(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        settings.http.bind_addr = addr;
        let state = AppState::new(pool, settings)
            .with_http()
            .await
            .expect("state")
            .with_mail()
            .expect("mailer")
            .with_storage()
            .await
            .expect("storage")
            .with_processing()
            .await;
        let app = zinovia::app::router(state.clone(), ServeRole::All);
        let stop = CancellationToken::new();
        state.start_posts_cache(stop.clone());
        tokio::spawn(http::serve(
            listener,
            app,
            stop.clone(),
            Duration::from_secs(5),
        ));
        TestApp {
            base: format!("http://{addr}"),
            state,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            db,
            _data_dir: data_dir,
            stop,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// `GET path`, answering the status and the body parsed as JSON.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = r.status();
        let body = r.json().await.expect("a JSON body");
        (status, body)
    }

    /// `GET path`, answering the status and the body as text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        (r.status(), r.text().await.expect("body"))
    }

    /// Runs every due job of the standard registry (plus test jobs in `registry`).
    pub async fn run_pending_jobs(&self, registry: &Registry) -> usize {
        zinovia::jobs::run_pending_jobs(&self.state, registry)
            .await
            .expect("running jobs")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The response's `content-type`, or "" when it has none.
pub fn content_type(r: &reqwest::Response) -> &str {
    r.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Asserts that `value` is the error envelope with `code`.
pub fn assert_error(value: &Value, code: &str) {
    assert_eq!(value["error"]["code"], code, "{value}");
    assert!(value["error"]["message"].is_string(), "{value}");
    assert!(value["error"]["fields"].is_object(), "{value}");
}

/// Waits until `check` is true, polling; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// `POST path` with a JSON body (and a bearer token when given).
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, value)
    }

    /// `GET path` with a bearer token.
    pub async fn get_auth(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs up through the API; returns (bearer token, user id).
    pub async fn sign_up(&self, email: &str, password: &str) -> (String, String) {
        let (status, body) = self
            .post_json(
                "/api/v1/auth/signup",
                None,
                &serde_json::json!({
                    "email": email, "password": password, "display_name": "Test Person", "confirm_adult": true
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["session"]["token"].as_str().expect("token").to_owned(),
            body["user"]["id"].as_str().expect("id").to_owned(),
        )
    }

    /// This app's data directory.
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// Runs the queued jobs (so mail is written), then returns every link with a token
    /// found in the local mail folder, oldest first.
    pub async fn mailed_links(&self) -> Vec<String> {
        self.run_pending_jobs(&zinovia::app::jobs()).await;
        mail_links(&self.data_dir().join("mail"))
    }
}

impl TestApp {
    /// The app on S3 (the given server), with its bucket created.
    pub async fn spawn_s3(s3: &S3Server, f: impl FnOnce(&mut Settings)) -> TestApp {
        let app = TestApp::spawn_with(|s| {
            s3.configure(s);
            f(s);
        })
        .await;
        if let zinovia::storage::Backend::S3(store) =
            app.state.storage().expect("storage").backend()
        {
            store.ensure_bucket().await.expect("bucket");
        }
        app
    }

    /// A new account with `role`, logged in; returns its bearer token.
    pub async fn user_with_role(&self, role: zinovia::accounts::Role) -> String {
        let email = unique_email(role.as_str());
        let password = "purple lighthouse at dawn";
        zinovia::accounts::create_user(&self.state, &email, "Someone", role, password)
            .await
            .expect("user");
        let (status, body) = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["session"]["token"].as_str().expect("token").to_owned();
        if zinovia::accounts::second_factor_required_for(role) {
            enrol_totp(self, &token).await;
        }
        token
    }
}
