//! The `zinovia` binary as people run it: `up` on embedded defaults, the production
//! refusal, `config`, `--help`, `migrate`, `serve --role` and the operator commands.

use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Proc, TestDb, cluster_reachable_dir, postgres_processes, postmasters, wait_until, zinovia,
};

fn data_dir() -> tempfile::TempDir {
    cluster_reachable_dir("zinovia-up-")
}

fn up(dir: &std::path::Path) -> Proc {
    let mut cmd = zinovia();
    cmd.arg("up")
        .env("DATA_DIR", dir)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("SHUTDOWN_TIMEOUT", "5s");
    Proc::start(cmd)
}

async fn get(url: &str) -> (StatusCode, String) {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn up_runs_on_embedded_defaults_restarts_and_leaves_nothing_behind() {
    let dir = data_dir();
    let pgdata = dir.path().join("postgres");
    let pgdata_str = pgdata.to_str().unwrap().to_owned();

    // First start: initialises the cluster, migrates, serves.
    let mut first = up(dir.path());
    let url = first.wait_for_url(Duration::from_secs(120)).await;
    assert_eq!(get(&format!("{url}/healthz")).await.0, StatusCode::OK);
    let (status, body) = get(&format!("{url}/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, metrics) = get(&format!("{url}/metrics")).await;
    assert!(
        metrics.contains(
            "zinovia_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    let (_, spec) = get(&format!("{url}/api/v1/openapi.json")).await;
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(
        postmasters(&pgdata_str).len(),
        1,
        "one postmaster for the data dir"
    );
    let secret = std::fs::read_to_string(dir.path().join("session-secret")).unwrap();

    // Ctrl-C: exits cleanly and stops PostgreSQL.
    let status = first.stop(Signal::SIGINT, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?} {:?}", first.output());
    assert!(
        postgres_processes(&pgdata_str).is_empty(),
        "PostgreSQL left running after Ctrl-C"
    );

    // Second start: reuses the data.
    let mut second = up(dir.path());
    let url = second.wait_for_url(Duration::from_secs(60)).await;
    assert_eq!(get(&format!("{url}/readyz")).await.0, StatusCode::OK);
    let (_, err) = second.output();
    assert!(
        !err.contains("initialising a private PostgreSQL"),
        "the cluster was made again: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("session-secret")).unwrap(),
        secret
    );

    // kill -9: PostgreSQL is orphaned, and the next start takes it over.
    second.stop(Signal::SIGKILL, Duration::from_secs(10)).await;
    assert_eq!(
        postmasters(&pgdata_str).len(),
        1,
        "the orphaned server is still up"
    );
    let mut third = up(dir.path());
    let url = third.wait_for_url(Duration::from_secs(60)).await;
    assert_eq!(get(&format!("{url}/readyz")).await.0, StatusCode::OK);
    assert!(third.output().1.contains("adopting the PostgreSQL server"));
    let status = third.stop(Signal::SIGTERM, Duration::from_secs(30)).await;
    assert!(status.success(), "{:?}", third.output());
    assert!(
        postgres_processes(&pgdata_str).is_empty(),
        "PostgreSQL left running after SIGTERM"
    );
}

#[tokio::test]
async fn a_second_up_on_the_same_data_dir_is_refused() {
    let dir = data_dir();
    let mut first = up(dir.path());
    first.wait_for_url(Duration::from_secs(120)).await;
    let out = zinovia()
        .arg("up")
        .env("DATA_DIR", dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another zinovia process")
            && err.contains(&format!("pid {}", first.child.id())),
        "{err}"
    );
    first.stop(Signal::SIGINT, Duration::from_secs(30)).await;
}

#[test]
fn production_refuses_embedded_defaults_and_names_every_problem_at_once() {
    let out = zinovia()
        .arg("serve")
        .env("ENVIRONMENT", "production")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let refusal = err
        .lines()
        .find(|l| l.starts_with("error: refusing to start"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(refusal.contains("7 setting problem(s)"), "{err}");
    for name in [
        "DATABASE_URL",
        "SESSION_SECRET",
        "DATA_ENCRYPTION_KEY",
        "PUBLIC_BASE_URL",
        "REDIS_URL",
        "STORAGE",
        "PAYMENT_PROVIDERS",
    ] {
        assert!(
            err.contains(&format!("  - {name}: ")),
            "{name} not named in:\n{err}"
        );
    }

    // The worker needs no HTTP settings, but a malware scanner.
    let out = zinovia()
        .arg("worker")
        .env("ENVIRONMENT", "production")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("6 setting problem(s)"), "{err}");
    for name in [
        "DATABASE_URL",
        "PUBLIC_BASE_URL",
        "STORAGE",
        "PAYMENT_PROVIDERS",
        "SMTP_URL",
        "CLAMAV_ADDR",
    ] {
        assert!(
            err.contains(&format!("  - {name}: ")),
            "{name} not named in:\n{err}"
        );
    }
    assert!(!err.contains("SESSION_SECRET"), "{err}");
    assert!(!err.contains("STRIPE_WEBHOOK_SECRET"), "{err}");
}

#[test]
fn config_shows_effective_settings_with_secrets_redacted() {
    let out = zinovia()
        .arg("config")
        .env("ENVIRONMENT", "production")
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal:5432/zinovia",
        )
        .env("SESSION_SECRET", "k7Qp2ZxV9sLm4Rt8Wn3Yb6Hc1Jd5Fg0Ae")
        .env("DATA_ENCRYPTION_KEY", "q8Lm3Vx7Rt1Yp5Ws9Kd2Hf6Gj0Nb4CeZ2")
        .env("REDIS_URL", "rediss://:t0ken-value@cache.internal:6379")
        .env("PUBLIC_BASE_URL", "https://zinovia.example")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in [
        "hunter2",
        "k7Qp2ZxV9sLm4Rt8Wn3Yb6Hc1Jd5Fg0Ae",
        "q8Lm3Vx7Rt1Yp5Ws9Kd2Hf6Gj0Nb4CeZ2",
        "t0ken-value",
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    assert!(
        text.contains("SESSION_SECRET") && text.contains("[redacted]  (env)"),
        "{text}"
    );
    assert!(
        text.contains("db.internal:5432/zinovia"),
        "non-secret parts are shown: {text}"
    );
    assert!(
        text.contains("WORKER_CONCURRENCY") && text.contains("4  (default)"),
        "{text}"
    );
    // One problem left: the database connection is not encrypted.
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("problem: DATABASE_URL: must set sslmode"),
        "{text}"
    );

    // On the embedded defaults nothing is wrong.
    let out = zinovia().arg("config").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no problems found"), "{text}");
    assert!(text.contains("(unset: embedded cluster in"), "{text}");
}

#[test]
fn each_command_lists_the_settings_it_reads() {
    let help = |args: &[&str]| {
        let out = zinovia().args(args).arg("--help").output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let serve = help(&["serve"]);
    for name in [
        "ENVIRONMENT",
        "DATA_DIR",
        "LOG_FORMAT",
        "DATABASE_URL",
        "DATABASE_MAX_CONNECTIONS",
        "BIND_ADDR",
        "PUBLIC_BASE_URL",
        "SESSION_SECRET",
        "REDIS_URL",
        "REQUEST_TIMEOUT",
        "SHUTDOWN_TIMEOUT",
        "--role",
    ] {
        assert!(serve.contains(name), "serve --help lacks {name}:\n{serve}");
    }
    assert!(!serve.contains("WORKER_CONCURRENCY"));
    let worker = help(&["worker"]);
    assert!(
        worker.contains("WORKER_CONCURRENCY")
            && worker.contains("JOB_LEASE")
            && worker.contains("DATABASE_URL")
    );
    assert!(!worker.contains("BIND_ADDR") && !worker.contains("SESSION_SECRET"));
    let migrate = help(&["migrate"]);
    assert!(migrate.contains("DATABASE_URL") && !migrate.contains("BIND_ADDR"));
    let up = help(&["up"]);
    for name in [
        "BIND_ADDR",
        "WORKER_CONCURRENCY",
        "DATABASE_URL",
        "SESSION_SECRET",
    ] {
        assert!(up.contains(name), "up --help lacks {name}");
    }
    let top = help(&[]);
    for cmd in ["up", "serve", "worker", "migrate", "config", "jobs"] {
        assert!(
            top.contains(&format!("  {cmd} ")),
            "{cmd} missing from --help:\n{top}"
        );
    }
}

#[tokio::test]
async fn migrate_creates_the_database_and_is_idempotent() {
    let target = TestDb::unborn();
    let run = || {
        zinovia()
            .arg("migrate")
            .env("DATABASE_URL", target.url())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("applied 1 setup") && text.contains("applied 2 jobs"),
        "{text}"
    );
    let out = run();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "the database is up to date"
    );
    let pool = target.pool().await;
    assert!(
        zinovia::database::migrations::status(&pool)
            .await
            .unwrap()
            .is_current()
    );
}

#[tokio::test]
async fn serve_roles_split_pages_and_api() {
    let db = TestDb::new().await;
    let serve = |role: &str| {
        let mut cmd = zinovia();
        cmd.args(["serve", "--role", role])
            .env("DATABASE_URL", db.url())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("DATA_DIR", data_dir().keep());
        Proc::start(cmd)
    };
    let mut web = serve("web");
    let mut api = serve("api");
    let wait_url = |p: &Proc| {
        let log = p.output().1;
        log.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["message"] == "serving")
                .then(|| v["url"].as_str().unwrap().trim_end_matches('/').to_owned())
        })
    };
    let mut urls = (None, None);
    wait_until(Duration::from_secs(60), "both servers to start", || {
        urls = (wait_url(&web), wait_url(&api));
        let ready = urls.0.is_some() && urls.1.is_some();
        async move { ready }
    })
    .await;
    let (web_url, api_url) = (urls.0.unwrap(), urls.1.unwrap());
    let home = reqwest::get(format!("{web_url}/")).await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let request_id = home.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        get(&format!("{web_url}/api/v1/openapi.json")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&format!("{api_url}/api/v1/openapi.json")).await.0,
        StatusCode::OK
    );
    assert_eq!(get(&format!("{api_url}/api/docs")).await.0, StatusCode::OK);
    assert_eq!(get(&format!("{api_url}/")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&format!("{web_url}/readyz")).await.0, StatusCode::OK);
    assert_eq!(get(&format!("{api_url}/readyz")).await.0, StatusCode::OK);
    assert!(
        web.stop(Signal::SIGTERM, Duration::from_secs(30))
            .await
            .success()
    );
    assert!(
        api.stop(Signal::SIGTERM, Duration::from_secs(30))
            .await
            .success()
    );

    // Every log line of a request carries its id (JSON logs, as in CloudWatch).
    let log = web.output().1;
    let line: Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "request finished" && v["path"] == "/")
        .unwrap_or_else(|| panic!("no access log line for /:\n{log}"));
    assert_eq!(line["span"]["request_id"], request_id.as_str(), "{line}");
    assert_eq!(line["status"], 200);
}

#[tokio::test]
async fn the_canary_tells_whether_workers_process_jobs() {
    let db = TestDb::new().await;
    let canary = |wait: &str| {
        zinovia()
            .args(["jobs", "canary", "--wait", wait])
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap()
    };
    let out = canary("1s");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a worker running?"),
        "{out:?}"
    );

    let data = data_dir();
    let mut cmd = zinovia();
    cmd.arg("worker")
        .env("DATABASE_URL", db.url())
        .env("DATA_DIR", data.path())
        .env("JOB_POLL_INTERVAL", "500ms");
    let mut worker = Proc::start(cmd);
    let out = canary("60s");
    assert!(out.status.success(), "{out:?} {:?}", worker.output());
    assert!(String::from_utf8_lossy(&out.stdout).contains("finished after"));
    let out = zinovia()
        .args(["jobs", "list"])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("canary") && text.contains("succeeded"),
        "{text}"
    );
    assert!(
        worker
            .stop(Signal::SIGTERM, Duration::from_secs(30))
            .await
            .success()
    );
    // The worker serves no HTTP: it neither needs nor makes a session secret.
    assert!(!data.path().join("session-secret").exists());
}
