//! `AppState`: what every handler and job can reach. Cheap to clone (everything inside is
//! shared); built once at start from the settings.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use anyhow::Context;
use rand::RngCore;
use secrecy::SecretString;
use sqlx::PgPool;

use crate::config::{Environment, SESSION_SECRET_FILE, Settings};
use crate::metrics::Metrics;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub db: PgPool,
    /// The settings, validated.
    pub settings: Arc<Settings>,
    /// This process's metrics.
    pub metrics: Arc<Metrics>,
    /// The effective session secret (`SESSION_SECRET`, or the generated local one), for
    /// the roles that serve HTTP; the worker has none.
    session_secret: Option<Arc<SecretString>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a process that serves HTTP (`up`, `serve`, tests). Outside production,
    /// a missing `SESSION_SECRET` is generated once and kept in `DATA_DIR`, so sessions
    /// survive restarts.
    pub fn for_http(db: PgPool, settings: Settings) -> anyhow::Result<AppState> {
        let session_secret = match &settings.http.session_secret {
            Some(s) => s.clone(),
            None if settings.core.environment == Environment::Production => {
                anyhow::bail!("SESSION_SECRET is required in production")
            }
            None => local_session_secret(&settings)?,
        };
        let mut state = AppState::for_worker(db, settings);
        state.session_secret = Some(Arc::new(session_secret));
        Ok(state)
    }

    /// The state of a process that only runs jobs: it reads no HTTP settings.
    pub fn for_worker(db: PgPool, settings: Settings) -> AppState {
        AppState {
            db,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::new()),
            session_secret: None,
        }
    }

    /// The session secret. Only HTTP roles have one; asking for it elsewhere is a bug.
    pub fn session_secret(&self) -> Result<&SecretString, crate::error::AppError> {
        self.session_secret.as_deref().ok_or_else(|| {
            anyhow::anyhow!("the session secret is only available to HTTP roles").into()
        })
    }
}

fn local_session_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    let dir = settings.data_dir();
    let path = dir.join(SESSION_SECRET_FILE);
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= crate::config::MIN_SECRET_LEN {
            return Ok(SecretString::from(existing));
        }
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a local session secret");
    Ok(SecretString::from(secret))
}
