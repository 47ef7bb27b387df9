//! `AppState`: what every handler and job can reach. Cheap to clone (everything inside is
//! shared); built once at start from the settings. Parts only some roles have (the session
//! secret and rate limiter of HTTP roles, the mailer of roles that send mail, media
//! processing of worker roles) are added by `with_http` / `with_mail` / `with_processing`,
//! and asking for a part the role lacks is an error, never a silent default.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

use anyhow::Context;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::accounts::PasswordHasher;
use crate::config::{DATA_KEY_FILE, Environment, SESSION_SECRET_FILE, Settings};
use crate::error::AppError;
use crate::mail::Mailer;
use crate::media::Processing;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::storage::Storage;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The PostgreSQL pool.
    pub db: PgPool,
    /// The settings, validated.
    pub settings: Arc<Settings>,
    /// This process's metrics.
    pub metrics: Arc<Metrics>,
    /// Password hashing (bounded concurrency).
    pub passwords: PasswordHasher,
    session_secret: Option<Arc<SecretString>>,
    data_key: Option<Arc<crate::crypto::DataKey>>,
    limiter: Option<Arc<RateLimiter>>,
    mailer: Option<Arc<Mailer>>,
    storage: Option<Arc<Storage>>,
    processing: Option<Arc<Processing>>,
    posts_cache: Arc<crate::posts::PostsCache>,
    live: Arc<crate::messages::Hub>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The parts every role has.
    pub fn new(db: PgPool, settings: Settings) -> AppState {
        let posts_cache = Arc::new(crate::posts::PostsCache::new(
            settings.content.posts_cache_ttl.0,
        ));
        AppState {
            db,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::new()),
            passwords: PasswordHasher::new(),
            session_secret: None,
            data_key: None,
            limiter: None,
            mailer: None,
            storage: None,
            processing: None,
            posts_cache,
            live: Arc::new(crate::messages::Hub::default()),
        }
    }

    /// Adds what serving HTTP needs: the session secret and the data encryption key
    /// (outside production, missing ones are generated once into `DATA_DIR`, so sessions
    /// and sealed fields survive restarts) and the rate limiter (Redis when `REDIS_URL` is
    /// set).
    pub async fn with_http(mut self) -> anyhow::Result<AppState> {
        let settings = &self.settings;
        let secret = server_secret(
            settings,
            settings.http.session_secret.as_ref(),
            "SESSION_SECRET",
            SESSION_SECRET_FILE,
        )?;
        let data_key = server_secret(
            settings,
            settings.http.data_encryption_key.as_ref(),
            "DATA_ENCRYPTION_KEY",
            DATA_KEY_FILE,
        )?;
        let limiter = RateLimiter::connect(settings.http.redis_url.as_ref()).await?;
        self.data_key = Some(Arc::new(crate::crypto::DataKey::from_secret(
            data_key.expose_secret(),
        )));
        self.session_secret = Some(Arc::new(secret));
        self.limiter = Some(Arc::new(limiter));
        Ok(self)
    }

    /// Adds the mailer (`SMTP_URL`, or files under `DATA_DIR/mail`).
    pub fn with_mail(mut self) -> anyhow::Result<AppState> {
        self.mailer = Some(Arc::new(Mailer::from_settings(&self.settings)?));
        Ok(self)
    }

    /// Adds media storage; call after `with_http` so local links can be signed.
    pub async fn with_storage(mut self) -> anyhow::Result<AppState> {
        let storage =
            Storage::from_settings(&self.settings, self.session_secret.as_deref()).await?;
        self.storage = Some(Arc::new(storage));
        Ok(self)
    }

    /// Adds what processing media needs (worker roles): the scanner, ffmpeg and limits.
    /// Logs what is missing (no scanner, no ffmpeg).
    pub async fn with_processing(mut self) -> AppState {
        let processing = Arc::new(Processing::from_settings(&self.settings));
        // Check ffmpeg now, off the start-up path, so the log says early whether videos work.
        let p = processing.clone();
        tokio::spawn(async move {
            let _ = p.video_tools().await;
        });
        self.processing = Some(processing);
        self
    }

    /// Starts keeping creator pages in memory, invalidated through PostgreSQL
    /// notifications, until `stop` (HTTP roles; without it every page reads PostgreSQL).
    /// Also starts live delivery of messages to this process's open streams (ADR 0024).
    pub fn start_posts_cache(&self, stop: tokio_util::sync::CancellationToken) {
        tokio::spawn(
            self.posts_cache
                .clone()
                .listen(self.db.clone(), stop.clone()),
        );
        tokio::spawn(self.live.clone().listen(self.db.clone(), stop));
    }

    /// The open live streams of this process (messages).
    pub fn live(&self) -> Arc<crate::messages::Hub> {
        self.live.clone()
    }

    /// The creator-page cache.
    pub fn posts_cache(&self) -> &crate::posts::PostsCache {
        &self.posts_cache
    }

    /// Media processing (worker roles only).
    pub fn processing(&self) -> Result<&Processing, AppError> {
        self.processing
            .as_deref()
            .ok_or_else(|| missing("media processing"))
    }

    /// The key that seals stored bank details and tax ids (HTTP roles).
    pub fn data_key(&self) -> Result<&crate::crypto::DataKey, AppError> {
        self.data_key
            .as_deref()
            .ok_or_else(|| missing("the data encryption key"))
    }

    /// Media storage.
    pub fn storage(&self) -> Result<&Storage, AppError> {
        self.storage
            .as_deref()
            .ok_or_else(|| missing("media storage"))
    }

    /// The session secret (HTTP roles only).
    pub fn session_secret(&self) -> Result<&SecretString, AppError> {
        self.session_secret
            .as_deref()
            .ok_or_else(|| missing("the session secret"))
    }

    /// The rate limiter (HTTP roles only).
    pub fn limiter(&self) -> Result<&RateLimiter, AppError> {
        self.limiter
            .as_deref()
            .ok_or_else(|| missing("the rate limiter"))
    }

    /// The mailer (roles that send mail only).
    pub fn mailer(&self) -> anyhow::Result<&Mailer> {
        self.mailer
            .as_deref()
            .context("this role has no mailer; mail is sent by the worker")
    }
}

fn missing(what: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!("{what} is not available to this role"))
}

/// A secret of the servers: as set, or (outside production) generated once into `file`.
fn server_secret(
    settings: &Settings,
    value: Option<&SecretString>,
    name: &str,
    file: &str,
) -> anyhow::Result<SecretString> {
    match value {
        Some(s) => Ok(s.clone()),
        None if settings.core.environment == Environment::Production => {
            anyhow::bail!("{name} is required in production")
        }
        None => local_secret(settings, file, name),
    }
}

fn local_secret(settings: &Settings, file: &str, name: &str) -> anyhow::Result<SecretString> {
    let dir = settings.data_dir();
    let path = dir.join(file);
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
    tracing::info!(path = %path.display(), setting = name, "generated a local secret");
    Ok(SecretString::from(secret))
}
