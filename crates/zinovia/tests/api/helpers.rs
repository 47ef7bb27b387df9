//! The test harness: a fresh, migrated database per test, the app on port 0 with typed
//! request helpers, the `zinovia` binary for process-level tests, and deterministic job runs.
//!
//! Databases live on `DATABASE_URL`'s server when it is set; otherwise on a private,
//! throwaway PostgreSQL cluster that this process starts on first use (like `zinovia up`
//! does) and that a watchdog stops and deletes once the test process is gone, however it
//! ends. Each test database is cloned from a template migrated once per server and set of
//! migrations, so a fresh database costs one `CREATE DATABASE`.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zinovia::config::Settings;
use zinovia::database::embedded::{Cluster, ClusterOptions};
use zinovia::database::{migrations, quote_ident};
use zinovia::http::{self, ServeRole};
use zinovia::jobs::Registry;
use zinovia::state::AppState;

/// Where test databases are created.
struct Server {
    /// Options for the server's maintenance database.
    admin: PgConnectOptions,
    /// True when the server is the harness's own cluster (deleted at exit anyway).
    private: bool,
    /// The template every test database is cloned from.
    template: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Runs on its own thread and runtime: nothing created here may outlive it, since
        // every test has its own runtime.
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(init_server())
        })
        .join()
        .expect("initialising the test database server panicked")
    })
}

async fn init_server() -> Server {
    let (admin, private) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (
            PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a PostgreSQL URL"),
            false,
        ),
        _ => (start_private_cluster(), true),
    };
    let template = ensure_template(&admin).await;
    if !private {
        drop_stale_databases(&admin).await;
    }
    Server {
        admin,
        private,
        template,
    }
}

#[expect(
    clippy::zombie_processes,
    reason = "the watchdog must outlive this process; init reaps it"
)]
/// Starts a throwaway cluster and a watchdog process that stops it and deletes its
/// directory when this test process exits, even by a crash or SIGKILL.
fn start_private_cluster() -> PgConnectOptions {
    let dir = cluster_reachable_dir("zinovia-test-pg-").keep();
    let mut opts = ClusterOptions::new(&dir);
    opts.ephemeral = true;
    let cluster = Cluster::start(&opts)
        .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL cluster: {e}"));
    let script = r#"
        while [ -d "/proc/$1" ]; do sleep 0.3; done
        kill -INT "$2" 2>/dev/null
        i=0; while [ -d "/proc/$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        kill -QUIT "$2" 2>/dev/null
        rm -rf "$3"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(cluster.pid().to_string())
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the cluster watchdog");
    let options = cluster.connect_options("postgres");
    // The watchdog owns the cluster's end now; this process must not stop it on drop.
    std::mem::forget(cluster);
    options
}

fn migrations_hash() -> String {
    let mut h = Sha256::new();
    for m in migrations::MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&*m.checksum);
    }
    hex::encode(&h.finalize()[..6])
}

async fn ensure_template(admin: &PgConnectOptions) -> String {
    let name = format!("zinovia_tmpl_{}", migrations_hash());
    let mut conn = admin
        .connect()
        .await
        .expect("connecting to the test database server");
    // One process builds it; concurrent test processes wait for it.
    sqlx::query("select pg_advisory_lock(727001)")
        .execute(&mut conn)
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .expect("query");
    if !exists {
        let building = format!("{name}_building");
        sqlx::raw_sql(&format!(
            "drop database if exists {}",
            quote_ident(&building)
        ))
        .execute(&mut conn)
        .await
        .expect("drop");
        sqlx::raw_sql(&format!("create database {}", quote_ident(&building)))
            .execute(&mut conn)
            .await
            .expect("create template");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(admin.clone().database(&building))
            .await
            .expect("connect template");
        migrations::run(&pool)
            .await
            .expect("migrating the template");
        pool.close().await;
        sqlx::raw_sql(&format!(
            "alter database {} rename to {}",
            quote_ident(&building),
            quote_ident(&name)
        ))
        .execute(&mut conn)
        .await
        .expect("rename template");
    }
    sqlx::query("select pg_advisory_unlock(727001)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    let _ = conn.close().await;
    name
}

/// Drops test databases left by test processes that no longer exist.
async fn drop_stale_databases(admin: &PgConnectOptions) {
    let Ok(mut conn) = admin.connect().await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("select datname from pg_database where datname like 'zt\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            drop_database(&mut conn, &name).await;
        }
    }
    let _ = conn.close().await;
}

/// Drops a database, ending its connections (best effort: cleanup must not fail a test).
async fn drop_database(conn: &mut PgConnection, name: &str) {
    let sql = format!("drop database if exists {} with (force)", quote_ident(name));
    let _ = sqlx::raw_sql(&sql).execute(conn).await;
}

/// A fresh database for one test, dropped when the test ends.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// Connection options for it.
    pub options: PgConnectOptions,
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn new() -> TestDb {
        Self::create(true).await
    }

    /// A fresh, empty database (no migrations).
    pub async fn empty() -> TestDb {
        Self::create(false).await
    }

    /// A name for a database that does not exist yet (dropped at the end if created).
    pub fn unborn() -> TestDb {
        let name = Self::fresh_name();
        TestDb {
            options: server().admin.clone().database(&name),
            name,
        }
    }

    fn fresh_name() -> String {
        format!(
            "zt_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        )
    }

    async fn create(migrated: bool) -> TestDb {
        let server = server();
        let name = Self::fresh_name();
        let mut conn = server
            .admin
            .connect()
            .await
            .expect("connect to the test server");
        let sql = if migrated {
            format!(
                "create database {} template {}",
                quote_ident(&name),
                quote_ident(&server.template)
            )
        } else {
            format!("create database {}", quote_ident(&name))
        };
        sqlx::raw_sql(&sql)
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        TestDb {
            options: server.admin.clone().database(&name),
            name,
        }
    }

    /// A new pool on this database, its connections set up as the app's are.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(zinovia::database::session_options(self.options.clone()))
            .await
            .expect("connect to the test database")
    }

    /// A `postgres://` URL of this database, for child processes.
    pub fn url(&self) -> String {
        options_url(&self.options)
    }
}

/// Builds a URL from connection options (socket directory or host).
pub fn options_url(o: &PgConnectOptions) -> String {
    let db = o.get_database().unwrap_or("postgres");
    match o.get_socket() {
        Some(dir) => format!(
            "postgres://{}@localhost/{db}?host={}&port={}",
            o.get_username(),
            dir.display(),
            o.get_port()
        ),
        None => format!(
            "postgres://{}@{}:{}/{db}",
            o.get_username(),
            o.get_host(),
            o.get_port()
        ),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = server();
        if server.private {
            // The whole cluster goes away with the test process.
            return;
        }
        let admin = server.admin.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = admin.connect().await {
                    drop_database(&mut conn, &name).await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Settings for a test app: defaults, with a private data directory.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut s = Settings::defaults();
    s.core.data_dir = data_dir.to_path_buf();
    s.jobs.job_retry_base = zinovia::config::HumanDuration(Duration::ZERO);
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

/// A temporary directory an embedded cluster can live in: when tests run as root,
/// PostgreSQL runs as `postgres` and must be able to enter it.
pub fn cluster_reachable_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
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

/// The `zinovia` binary built for these tests, with a clean environment (no inherited
/// settings) and logs as JSON.
pub fn zinovia() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zinovia"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null());
    cmd
}

/// A running `zinovia` child process, killed when dropped.
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proc {
    /// Starts `cmd` with output captured to files.
    pub fn start(mut cmd: Command) -> Proc {
        let dir = tempfile::tempdir().expect("temp dir");
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("starting zinovia");
        Proc {
            child,
            stdout,
            stderr,
            _dir: dir,
        }
    }

    /// What it printed so far.
    pub fn output(&self) -> (String, String) {
        (
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }

    /// Waits for the "running at URL" line and returns the URL (without trailing slash).
    pub async fn wait_for_url(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let (out, err) = self.output();
            if let Some(line) = out
                .lines()
                .find(|l| l.starts_with("Zinovia is running at "))
            {
                let url = line["Zinovia is running at ".len()..]
                    .split_whitespace()
                    .next()
                    .expect("url");
                return url.trim_end_matches('/').to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("zinovia exited ({status}) before serving:\n{out}\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "zinovia did not start in time:\n{out}\n{err}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` and waits for the exit status.
    pub async fn stop(
        &mut self,
        signal: nix::sys::signal::Signal,
        timeout: Duration,
    ) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, signal);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "zinovia did not exit in time: {:?}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PIDs of live PostgreSQL processes whose command line mentions `needle`.
pub fn postgres_processes(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() == "postgres" && cmdline.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// The postmasters among [`postgres_processes`]: a backend the postmaster has just forked
/// shows the postmaster's command line until it renames itself, so processes whose parent
/// is one of them are left out.
pub fn postmasters(needle: &str) -> Vec<i32> {
    let all = postgres_processes(needle);
    let parent = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    all.iter()
        .copied()
        .filter(|pid| parent(*pid).is_none_or(|p| !all.contains(&p)))
        .collect()
}

/// Connects once with `options` (fails the test if it cannot).
pub async fn connect(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options).await.expect("connect")
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
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

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
        body["session"]["token"].as_str().expect("token").to_owned()
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
    fan: uuid::Uuid,
    creator: uuid::Uuid,
    status: &str,
    current_period_end: chrono::DateTime<chrono::Utc>,
    past_due_since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"insert into subscriptions (id, fan_id, creator_id, status, current_period_end, past_due_since,
                                      provider, provider_subscription_id)
           values ($1, $2, $3, $4, $5, $6, 'simulated', 'sub_fixture_' || $2::text || '_' || $3::text)
           on conflict (provider, provider_subscription_id) do update set status = excluded.status,
             current_period_end = excluded.current_period_end, past_due_since = excluded.past_due_since"#,
    )
    .bind(uuid::Uuid::now_v7())
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
    fan: uuid::Uuid,
    post: uuid::Uuid,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"insert into post_purchases (id, fan_id, post_id, amount_minor, currency, status)
           select $1, $2, p.id, coalesce(p.price_minor, 0), coalesce(p.currency, 'USD'), $4
           from posts p where p.id = $3
           on conflict (fan_id, post_id) do update set status = excluded.status"#,
    )
    .bind(uuid::Uuid::now_v7())
    .bind(fan)
    .bind(post)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}
