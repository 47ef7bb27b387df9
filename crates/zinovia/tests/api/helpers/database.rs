//! Test databases: a fresh, migrated database per test on `DATABASE_URL`'s server, or on a
//! private throwaway cluster this process starts on first use (stopped and deleted by a
//! watchdog however the process ends); each is cloned from a template migrated once.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use zinovia::database::embedded::{Cluster, ClusterOptions};
use zinovia::database::{migrations, quote_ident};

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

/// Connects once with `options` (fails the test if it cannot).
pub async fn connect(options: &PgConnectOptions) -> PgConnection {
    PgConnection::connect_with(options).await.expect("connect")
}
