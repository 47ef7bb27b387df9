//! The embedded PostgreSQL cluster, and readiness while the database goes away and comes
//! back (or hangs).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::StatusCode;
use zinovia::config::HumanDuration;
use zinovia::database::embedded::{Cluster, ClusterOptions, EmbeddedError};
use zinovia::database::{ensure_database, migrations, pool_options};

use crate::helpers::{TestApp, TestDb, assert_error, cluster_reachable_dir, connect};

fn cluster_dir() -> tempfile::TempDir {
    cluster_reachable_dir("zinovia-emb-")
}

fn options(dir: &tempfile::TempDir) -> ClusterOptions {
    let mut o = ClusterOptions::new(dir.path());
    o.ephemeral = true;
    o
}

async fn start(opts: &ClusterOptions) -> Cluster {
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || Cluster::start(&opts))
        .await
        .unwrap()
        .unwrap()
}

async fn stop(cluster: Cluster) {
    tokio::task::spawn_blocking(move || cluster.stop(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
}

/// An app whose pool points at a database inside `cluster`.
async fn app_on(
    cluster: &Cluster,
    acquire_timeout: Duration,
    f: impl FnOnce(&mut zinovia::config::Settings),
) -> TestApp {
    let options = cluster.connect_options("app");
    ensure_database(&options).await.unwrap();
    let mut settings = zinovia::config::Settings::defaults();
    settings.database.database_acquire_timeout = HumanDuration(acquire_timeout);
    let pool = pool_options(&settings).connect_lazy_with(options);
    migrations::run(&pool).await.unwrap();
    TestApp::spawn_on_pool(TestDb::new().await, pool, f).await
}

#[tokio::test]
async fn readiness_follows_the_database_down_and_back_without_a_restart() {
    let dir = cluster_dir();
    let opts = options(&dir);
    let cluster = start(&opts).await;
    let app = app_on(&cluster, Duration::from_secs(1), |_| {}).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    stop(cluster).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "unavailable", "{body}");
    // Liveness is unaffected.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    let cluster = start(&opts).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    stop(cluster).await;
}

/// Sends `signal` to the postmaster and every one of its children (each backend is its
/// own process group, so a group signal would miss them).
fn signal_server(postmaster: i32, signal: Signal) {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest.to_owned()) else {
            continue;
        };
        let ppid: Option<i32> = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if ppid == Some(postmaster)
            && let Ok(pid) = entry.file_name().to_string_lossy().parse()
        {
            pids.push(pid);
        }
    }
    for pid in pids {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Resumes a frozen server even when the test fails half-way.
struct Thaw(i32);

impl Drop for Thaw {
    fn drop(&mut self) {
        signal_server(self.0, Signal::SIGCONT);
    }
}

#[tokio::test]
async fn a_hanging_database_never_hangs_a_request_past_the_timeout() {
    let dir = cluster_dir();
    let cluster = start(&options(&dir)).await;
    // The pool would wait 30 s for a connection; only REQUEST_TIMEOUT can end the wait.
    let app = app_on(&cluster, Duration::from_secs(30), |s| {
        s.http.request_timeout = HumanDuration(Duration::from_secs(1));
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    // Freeze the server and every backend: connections stay open but nothing answers.
    let thaw = Thaw(cluster.pid());
    signal_server(cluster.pid(), Signal::SIGSTOP);
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&body, "timeout");
    // /metrics still answers, without the queue figures it could not read.
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("zinovia_http_requests_total"));
    drop(thaw);

    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    stop(cluster).await;
}

#[tokio::test]
async fn the_cluster_runs_unprivileged_on_a_private_socket_and_survives_a_stale_pid_file() {
    let dir = cluster_dir();
    let opts = options(&dir);
    let cluster = start(&opts).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", cluster.pid())).unwrap();
    let uid: u32 = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    if nix::unistd::Uid::effective().is_root() {
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        assert_eq!(
            uid,
            postgres.uid.as_raw(),
            "PostgreSQL must not run as root"
        );
    } else {
        assert_eq!(uid, nix::unistd::Uid::effective().as_raw());
    }
    // Only a Unix socket in a private directory; no TCP listener.
    let socket_dir = cluster.socket_dir().to_owned();
    let mode = std::fs::metadata(&socket_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(socket_dir.join(".s.PGSQL.5432").exists());
    let mut conn = connect(&cluster.connect_options("postgres")).await;
    let listen: String = sqlx::query_scalar("show listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "");
    drop(conn);
    let pgdata = cluster.pgdata().to_owned();
    stop(cluster).await;

    // A pid file left by a crash, naming a process that no longer exists.
    std::fs::write(
        pgdata.join("postmaster.pid"),
        format!(
            "999999\n{}\n1700000000\n5432\n{}\n\n  5432001     0\nready   \n",
            pgdata.display(),
            socket_dir.display()
        ),
    )
    .unwrap();
    let cluster = start(&opts).await;
    let mut conn = connect(&cluster.connect_options("postgres")).await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);
    stop(cluster).await;
}

#[tokio::test]
async fn one_owner_at_a_time_and_guests_can_join() {
    let dir = cluster_dir();
    let opts = options(&dir);
    let owner = start(&opts).await;
    let o = opts.clone();
    let second = tokio::task::spawn_blocking(move || Cluster::start(&o))
        .await
        .unwrap();
    match second {
        Err(EmbeddedError::Busy { holder, .. }) => {
            assert_eq!(holder, format!("pid {}", std::process::id()))
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    let o = opts.clone();
    let guest = tokio::task::spawn_blocking(move || Cluster::start_or_join(&o))
        .await
        .unwrap()
        .unwrap();
    assert!(!guest.is_owner());
    let mut conn = connect(&guest.connect_options("postgres")).await;
    drop(conn);
    // A guest leaving does not stop the owner's server.
    stop(guest).await;
    conn = connect(&owner.connect_options("postgres")).await;
    drop(conn);
    stop(owner).await;
}

#[tokio::test]
async fn a_data_dir_the_postgres_user_cannot_enter_still_works() {
    // A checkout under a private home directory, as when root runs `up` in /root/zinovia.
    let private = tempfile::Builder::new()
        .prefix("zinovia-private-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut opts = ClusterOptions::new(private.path().join("data"));
    opts.ephemeral = true;
    let cluster = start(&opts).await;
    let pgdata = cluster.pgdata().to_owned();
    if nix::unistd::Uid::effective().is_root() {
        assert!(
            pgdata.starts_with("/var/lib/zinovia/clusters"),
            "{}",
            pgdata.display()
        );
    } else {
        assert_eq!(pgdata, private.path().join("data/postgres"));
    }
    let mut conn = connect(&cluster.connect_options("postgres")).await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);
    stop(cluster).await;
    if pgdata.starts_with("/var/lib/zinovia/clusters") {
        std::fs::remove_dir_all(pgdata.parent().unwrap()).unwrap();
    }
}
