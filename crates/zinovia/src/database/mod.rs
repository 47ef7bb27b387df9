//! PostgreSQL plumbing shared by every command: which server to use (an external
//! `DATABASE_URL` or the private embedded cluster), creating the database when missing, the
//! connection pool, migrations and readiness. Feature SQL lives in each feature's `db.rs`.

pub mod embedded;
pub mod migrations;
mod text_enum;

pub(crate) use text_enum::{text_encoding, text_enum};

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::Settings;
use embedded::{Cluster, ClusterOptions};

/// Name of the application database inside the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "zinovia";

/// How a command relates to the embedded cluster when `DATABASE_URL` is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedded {
    /// Start it and own it; fail if another zinovia process owns it (`up`, `serve`, `worker`).
    Own,
    /// Join it if another zinovia process runs it, otherwise start it for the duration of
    /// the command (`migrate`, `jobs`).
    Join,
}

/// The database a command works with.
#[derive(Debug)]
pub struct Database {
    /// The connection pool.
    pub pool: PgPool,
    /// The embedded cluster, when this process started or joined one.
    pub cluster: Option<Cluster>,
}

impl Database {
    /// Opens the configured database: `DATABASE_URL` as is (creating the database when it
    /// is missing and the role may), or the embedded cluster.
    pub async fn open(settings: &Settings, mode: Embedded) -> anyhow::Result<Database> {
        let (options, cluster) = match &settings.database.database_url {
            Some(url) => {
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                (options, None)
            }
            None => {
                let opts = ClusterOptions::new(settings.data_dir());
                let cluster = tokio::task::spawn_blocking(move || match mode {
                    Embedded::Own => Cluster::start(&opts),
                    Embedded::Join => Cluster::start_or_join(&opts),
                })
                .await
                .context("the embedded PostgreSQL task panicked")??;
                tracing::info!(
                    socket_dir = %cluster.socket_dir().display(),
                    owner = cluster.is_owner(),
                    "embedded PostgreSQL is ready"
                );
                (cluster.connect_options(EMBEDDED_DATABASE), Some(cluster))
            }
        };
        let options = session_options(options);
        match ensure_database(&options).await {
            Ok(()) => {}
            Err(EnsureError::Unreachable(e)) if cluster.is_none() => {
                // A server that is down now may be up in a moment: serve anyway and let
                // /readyz report it, rather than crash-looping.
                tracing::warn!(error = %e, "the database is not reachable yet; continuing, /readyz reports not ready until it is");
            }
            Err(e) => return Err(e.into()),
        }
        let pool = pool_options(settings).connect_lazy_with(options);
        Ok(Database { pool, cluster })
    }

    /// Closes the pool and stops the embedded cluster when this process owns it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            let stopped =
                tokio::task::spawn_blocking(move || cluster.stop(Duration::from_secs(30))).await;
            match stopped {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "stopping embedded PostgreSQL failed"),
                Err(e) => tracing::error!(error = %e, "stopping embedded PostgreSQL panicked"),
            }
        }
    }
}

/// A pooled connection taken on first use and kept for the rest of a request, so a
/// request's statements share one checkout (one liveness check) and a request that needs
/// no statement takes none.
#[derive(Debug)]
pub struct LazyConn<'a> {
    pool: &'a PgPool,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl<'a> LazyConn<'a> {
    /// Nothing taken yet.
    pub fn new(pool: &'a PgPool) -> LazyConn<'a> {
        LazyConn { pool, conn: None }
    }

    /// The connection, taken from the pool the first time.
    pub async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        self.conn.as_deref_mut().ok_or(sqlx::Error::PoolClosed)
    }
}

/// What every connection of ours sets when it starts (in the startup packet: no extra
/// round trip): its name, and generic plans for prepared statements (ADR 0012): every
/// statement is a short, parameterised, index-driven one, and PostgreSQL's default kept
/// re-planning the hottest one (a creator's page, whose `limit $n` makes the generic plan
/// look dearer than the custom ones) on every execution — a third more database CPU per
/// request than the same statement planned once. Partial indexes are matched by literal
/// predicates only, which generic plans use as well.
pub fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    options
        .application_name("zinovia")
        .options([("plan_cache_mode", "force_generic_plan")])
}

/// Pool settings from `DATABASE_*`.
pub fn pool_options(settings: &Settings) -> PgPoolOptions {
    PgPoolOptions::new()
        // A connection is checked (one round trip) only when it has been idle for a while,
        // like PgBouncer's `server_check_delay`: a ping before every checkout doubled the
        // round trips of a busy read path. A connection that died while in use fails its
        // statement and is closed by sqlx.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(10) {
                    Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .max_connections(settings.database.database_max_connections)
        .min_connections(0)
        .acquire_timeout(settings.database.database_acquire_timeout.0)
        .idle_timeout(Duration::from_secs(600))
        .max_lifetime(Duration::from_secs(1800))
}

/// Why the database could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    /// The server did not answer.
    #[error("cannot reach the database server: {0}")]
    Unreachable(#[source] sqlx::Error),
    /// The database is missing and could not be created.
    #[error(
        "database `{database}` does not exist and could not be created ({source}); create it, or grant the role CREATEDB"
    )]
    CannotCreate {
        /// The database name.
        database: String,
        /// Why creation failed.
        #[source]
        source: sqlx::Error,
    },
    /// Any other failure.
    #[error("cannot connect to the database: {0}")]
    Other(#[source] sqlx::Error),
}

/// Connects once; when the database does not exist, creates it through the server's
/// `postgres` maintenance database.
pub async fn ensure_database(options: &PgConnectOptions) -> Result<(), EnsureError> {
    let connect = options.connect();
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) if is_missing_database(&e) => {
            let database = options.get_database().unwrap_or("postgres").to_owned();
            create_database(options, &database)
                .await
                .map_err(|source| EnsureError::CannotCreate { database, source })
        }
        Ok(Err(e @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut))) => {
            Err(EnsureError::Unreachable(e))
        }
        Ok(Err(e)) => Err(EnsureError::Other(e)),
        Err(_) => Err(EnsureError::Unreachable(sqlx::Error::PoolTimedOut)),
    }
}

fn is_missing_database(e: &sqlx::Error) -> bool {
    // 3D000: invalid_catalog_name ("database ... does not exist").
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

async fn create_database(options: &PgConnectOptions, database: &str) -> Result<(), sqlx::Error> {
    let mut conn: PgConnection = options.clone().database("postgres").connect().await?;
    let sql = format!("create database {}", quote_ident(database));
    let result = sqlx::raw_sql(&sql).execute(&mut conn).await;
    let _ = conn.close().await;
    match result {
        Ok(_) => {
            tracing::info!(database, "created the database");
            Ok(())
        }
        // 42P04: duplicate_database — someone else created it meanwhile.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Quotes an SQL identifier (for the few statements that cannot take parameters).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether the database answers and every embedded migration is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready to serve.
    Ready,
    /// The database did not answer in time or refused.
    DatabaseUnavailable(String),
    /// Migrations are missing or differ from the binary's.
    MigrationsPending(Vec<String>),
}

/// Checks readiness within `timeout`.
pub async fn readiness(pool: &PgPool, timeout: Duration) -> Readiness {
    match tokio::time::timeout(timeout, migrations::status(pool)).await {
        Err(_) => {
            Readiness::DatabaseUnavailable(format!("no answer within {}ms", timeout.as_millis()))
        }
        Ok(Err(e)) => Readiness::DatabaseUnavailable(e.to_string()),
        Ok(Ok(status)) if status.is_current() => Readiness::Ready,
        Ok(Ok(status)) => Readiness::MigrationsPending(status.problems()),
    }
}
