//! Running the processes: `up` (everything), `serve`, `worker` and `migrate`, with start-up
//! checks, signal handling and an orderly stop (HTTP drain, worker drain, database last).

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Role, Settings};
use crate::database::{self, Database, Embedded};
use crate::http::{self, ServeRole};
use crate::jobs::{Registry, Worker};
use crate::state::AppState;

/// Shutdown requests: the first SIGINT/SIGTERM cancels `graceful` (stop taking work, let
/// running work finish within `SHUTDOWN_TIMEOUT`); a second one cancels `force` as well.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Cancelled by the first signal.
    pub graceful: CancellationToken,
    /// Cancelled by a second signal: stop waiting for running work.
    pub force: CancellationToken,
}

impl Shutdown {
    /// Listens for SIGINT and SIGTERM in the background.
    pub fn on_signals() -> anyhow::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        let shutdown = Shutdown::default();
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let s = shutdown.clone();
        tokio::spawn(async move {
            for n in 0..2 {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                if n == 0 {
                    tracing::info!(
                        "shutdown requested; finishing running work (signal again to stop at once)"
                    );
                    s.graceful.cancel();
                } else {
                    tracing::warn!("second shutdown signal; stopping now");
                    s.force.cancel();
                }
            }
        });
        Ok(shutdown)
    }

    /// Waits `grace` after the graceful request, or less if forced.
    async fn grace_expired(&self, grace: Duration) {
        self.graceful.cancelled().await;
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = self.force.cancelled() => {}
        }
    }
}

/// The features' routes: the JSON API and the web pages.
pub fn routes() -> http::Routes {
    http::Routes {
        api: utoipa_axum::router::OpenApiRouter::new()
            .merge(crate::accounts::api_router())
            .merge(crate::media::api_router())
            .merge(crate::creators::api_router())
            .merge(crate::posts::api_router())
            .merge(crate::billing::api_router())
            .merge(crate::messages::api_router())
            .merge(crate::admin::api_router())
            .merge(crate::moderation::api_router())
            .merge(crate::verification::api_router()),
        pages: axum::Router::new()
            .merge(crate::site::router())
            .merge(crate::accounts::pages_router())
            .merge(crate::billing::pages_router())
            .merge(crate::posts::pages_router())
            .merge(crate::messages::pages_router())
            .merge(crate::admin::pages_router())
            .merge(crate::moderation::pages_router())
            .merge(crate::verification::pages_router())
            // Last: `/{handle}` answers only what no other page claims.
            .merge(crate::creators::pages_router()),
    }
}

/// The complete router of a server role, every feature mounted.
pub fn router(state: AppState, role: ServeRole) -> axum::Router {
    http::router(state, role, routes())
}

/// The OpenAPI document of the whole API as a server with `settings` serves it.
pub fn openapi_json(settings: &Settings) -> Result<String, serde_json::Error> {
    http::openapi_json(routes().api, settings)
}

/// Every job of the application: the queue's own and each feature's, with their schedules.
pub fn jobs() -> Registry {
    let registry = Registry::core();
    let registry = crate::accounts::jobs(registry);
    let registry = crate::media::jobs(registry);
    let registry = crate::messages::jobs(registry);
    let registry = crate::moderation::jobs(registry);
    let registry = crate::verification::jobs(registry);
    crate::billing::jobs(registry)
}

/// Refuses to start when the settings have problems (all listed at once); logs warnings.
pub fn check_settings(settings: &Settings, role: Role) -> anyhow::Result<()> {
    let report = settings.validate(role);
    for w in &report.warnings {
        tracing::warn!(setting = w.setting, "{}", w.message);
    }
    if !report.problems.is_empty() {
        anyhow::bail!(report.refusal(settings.core.environment));
    }
    Ok(())
}

/// Binds `BIND_ADDR`; with port 0 the settings then carry the port actually chosen, so the
/// printed URL is the real one.
async fn bind(settings: &mut Settings) -> anyhow::Result<TcpListener> {
    let addr = settings.http.bind_addr;
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (BIND_ADDR); is another server using it? Choose another with BIND_ADDR=127.0.0.1:8081")
    })?;
    settings.http.bind_addr = listener.local_addr().context("reading the bound address")?;
    Ok(listener)
}

/// `zinovia up`: migrations, web + API and the worker in one process.
pub async fn up(mut settings: Settings) -> anyhow::Result<()> {
    check_settings(&settings, Role::Up)?;
    let shutdown = Shutdown::on_signals()?;
    let listener = bind(&mut settings).await?;
    let db = Database::open(&settings, Embedded::Own).await?;
    let result = run_up(&db, settings, listener, &shutdown).await;
    db.close().await;
    result
}

async fn run_up(
    db: &Database,
    settings: Settings,
    listener: TcpListener,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    database::migrations::run(&db.pool)
        .await
        .context("applying database migrations")?;
    let grace = settings.lifecycle.shutdown_timeout.0;
    let url = settings.public_base_url();
    let state = AppState::new(db.pool.clone(), settings)
        .with_http()
        .await?
        .with_mail()?
        .with_storage()
        .await?
        .with_processing()
        .await;
    let app = router(state.clone(), ServeRole::All);
    let http_stop = CancellationToken::new();
    state.start_posts_cache(http_stop.clone());
    let worker = Worker::new(state, jobs());

    let worker_stop = CancellationToken::new();
    let server = tokio::spawn(http::serve(listener, app, http_stop.clone(), grace));
    let worker_task = tokio::spawn(worker.run(worker_stop.clone()));
    tracing::info!(%url, "Zinovia is running");
    println!("Zinovia is running at {url}  (Ctrl-C to stop)");

    shutdown.graceful.cancelled().await;
    // Both drain at once, each within the grace period; a second signal cuts them short.
    http_stop.cancel();
    worker_stop.cancel();
    let drain = async {
        let (a, b) = tokio::join!(server, worker_task);
        a.context("HTTP server task")?.context("HTTP server")?;
        b.context("worker task")??;
        anyhow::Ok(())
    };
    tokio::select! {
        r = drain => r,
        () = shutdown.grace_expired(grace + Duration::from_secs(2)) => {
            tracing::warn!("stopping without waiting for the remaining work");
            Ok(())
        }
    }
}

/// `zinovia serve --role web|api|all`: the HTTP server only. Does not migrate: `/readyz`
/// reports pending migrations until `zinovia migrate` has run.
pub async fn serve(mut settings: Settings, role: ServeRole) -> anyhow::Result<()> {
    check_settings(&settings, Role::Serve)?;
    let shutdown = Shutdown::on_signals()?;
    let listener = bind(&mut settings).await?;
    let db = Database::open(&settings, Embedded::Join).await?;
    let grace = settings.lifecycle.shutdown_timeout.0;
    let url = settings.public_base_url();
    let result = async {
        let state = AppState::new(db.pool.clone(), settings)
            .with_http()
            .await?
            .with_storage()
            .await?;
        let stop = CancellationToken::new();
        state.start_posts_cache(stop.clone());
        let app = router(state, role);
        tracing::info!(%url, ?role, "serving");
        let server = tokio::spawn(http::serve(listener, app, stop.clone(), grace));
        shutdown.graceful.cancelled().await;
        stop.cancel();
        tokio::select! {
            r = server => r.context("HTTP server task")?.context("HTTP server"),
            () = shutdown.grace_expired(grace + Duration::from_secs(2)) => Ok(()),
        }
    }
    .await;
    db.close().await;
    result
}

/// `zinovia worker`: runs background jobs until stopped.
pub async fn worker(settings: Settings) -> anyhow::Result<()> {
    check_settings(&settings, Role::Worker)?;
    let shutdown = Shutdown::on_signals()?;
    let db = Database::open(&settings, Embedded::Join).await?;
    let grace = settings.lifecycle.shutdown_timeout.0;
    let result = async {
        let state = AppState::new(db.pool.clone(), settings)
            .with_mail()?
            .with_storage()
            .await?
            .with_processing()
            .await;
        let stop = CancellationToken::new();
        let task = tokio::spawn(Worker::new(state, jobs()).run(stop.clone()));
        shutdown.graceful.cancelled().await;
        stop.cancel();
        tokio::select! {
            r = task => r.context("worker task")?,
            () = shutdown.grace_expired(grace + Duration::from_secs(2)) => Ok(()),
        }
    }
    .await;
    db.close().await;
    result
}

/// `zinovia migrate`: applies pending migrations and reports what was applied.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    check_settings(&settings, Role::Migrate)?;
    let db = Database::open(&settings, Embedded::Join).await?;
    let result = async {
        let before = database::migrations::status(&db.pool)
            .await
            .context("reading the database's migrations")?;
        database::migrations::run(&db.pool)
            .await
            .context("applying database migrations")?;
        if before.pending.is_empty() {
            println!("the database is up to date");
        }
        for (version, description) in &before.pending {
            println!("applied {version} {description}");
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}
