//! A short-lived, per-process cache of the first page of each creator's posts (the rows
//! only: entitlements are still decided per viewer, on every request, from the viewer's own
//! grants). Any write to a creator's posts, their media or the profile fires a PostgreSQL
//! `NOTIFY` (migration 0006's triggers); every server process listens and drops that
//! creator's rows at once. While the listener is not connected (or after it reconnects and
//! may have missed notifications) the cache is emptied and bypassed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::db;
use super::types::{Cursor, MediaRow, PostRow};
use crate::creators::{Creator, Found};
use crate::database::LazyConn;
use crate::error::AppError;

/// The notification channel the triggers use.
pub const CHANNEL: &str = "zinovia_posts_changed";

type Rows = (Arc<Vec<PostRow>>, Arc<Vec<MediaRow>>);

struct Entry {
    at: Instant,
    rows: Rows,
}

/// The cache (one per process).
pub struct PostsCache {
    ttl: Duration,
    listening: AtomicBool,
    /// Bumped by every invalidation: rows read while it moved may predate the change, so
    /// they are not kept.
    epoch: AtomicU64,
    entries: Mutex<HashMap<(Uuid, i64), Entry>>,
    creators: Mutex<HashMap<String, (Instant, Creator)>>,
}

impl std::fmt::Debug for PostsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostsCache")
            .field("ttl", &self.ttl)
            .field("listening", &self.listening.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PostsCache {
    /// A cache whose rows live at most `ttl` (zero: off). It serves nothing until
    /// [`PostsCache::listen`] has connected.
    pub fn new(ttl: Duration) -> PostsCache {
        PostsCache {
            ttl,
            listening: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            creators: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, i64), Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops a creator's rows (after a write in this process, or a notification).
    pub fn forget(&self, creator: Uuid) {
        let mut entries = self.entries();
        let mut creators = self.creators();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(c, _), _| *c != creator);
        creators.retain(|_, (_, c)| c.user_id != creator);
    }

    fn clear(&self) {
        let mut entries = self.entries();
        let mut creators = self.creators();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        creators.clear();
    }

    fn creators(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Creator)>> {
        self.creators.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A creator by handle (or where a previous handle leads), from memory when fresh.
    pub async fn creator(&self, conn: &mut LazyConn<'_>, handle: &str) -> Result<Found, AppError> {
        if self.active()
            && let Some((at, c)) = self.creators().get(handle)
            && at.elapsed() < self.ttl
        {
            return Ok(Found::Creator(c.clone()));
        }
        let started = Instant::now();
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = crate::creators::find(conn.get().await?, handle).await?;
        if let Found::Creator(c) = &found
            && self.active()
        {
            let mut creators = self.creators();
            if self.epoch.load(Ordering::Acquire) == epoch {
                if creators.len() >= 10_000 {
                    creators.clear();
                }
                creators.insert(handle.to_owned(), (started, c.clone()));
            }
        }
        Ok(found)
    }

    /// Whether cached rows may be served now.
    pub fn active(&self) -> bool {
        !self.ttl.is_zero() && self.listening.load(Ordering::Acquire)
    }

    /// A page of a creator's rows: the first page for other viewers comes from memory when
    /// fresh; everything else reads PostgreSQL.
    pub async fn page(
        &self,
        conn: &mut LazyConn<'_>,
        creator: Uuid,
        with_unpublished: bool,
        after: Cursor,
        limit: i64,
    ) -> Result<Rows, AppError> {
        let cacheable = self.active() && !with_unpublished && after == Cursor::start();
        if cacheable
            && let Some(e) = self.entries().get(&(creator, limit))
            && e.at.elapsed() < self.ttl
        {
            return Ok(e.rows.clone());
        }
        let started = Instant::now();
        let epoch = self.epoch.load(Ordering::Acquire);
        let conn = conn.get().await?;
        let posts = db::creator_page(&mut *conn, creator, with_unpublished, after, limit).await?;
        let ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
        let media = db::media_of(&mut *conn, &ids).await?;
        let rows = (Arc::new(posts), Arc::new(media));
        if cacheable && self.active() {
            let mut entries = self.entries();
            if self.epoch.load(Ordering::Acquire) != epoch {
                return Ok(rows);
            }
            // Bounded: a crawl over many creators must not grow memory without end.
            if entries.len() >= 10_000 {
                entries.clear();
            }
            entries.insert(
                (creator, limit),
                Entry {
                    at: started,
                    rows: rows.clone(),
                },
            );
        }
        Ok(rows)
    }

    /// Listens for changes until `stop`; reconnects after a lost connection (emptying the
    /// cache, as notifications may have been missed meanwhile).
    pub async fn listen(self: Arc<Self>, pool: PgPool, stop: CancellationToken) {
        if self.ttl.is_zero() {
            return;
        }
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "posts cache: cannot listen for changes; cache off");
                    if wait(&stop, Duration::from_secs(2)).await {
                        return;
                    }
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "posts cache: LISTEN failed; cache off");
                if wait(&stop, Duration::from_secs(2)).await {
                    return;
                }
                continue;
            }
            self.clear();
            self.listening.store(true, Ordering::Release);
            tracing::debug!("posts cache: listening for changes");
            loop {
                let msg = tokio::select! {
                    () = stop.cancelled() => {
                        self.listening.store(false, Ordering::Release);
                        return;
                    }
                    msg = listener.try_recv() => msg,
                };
                match msg {
                    Ok(Some(n)) => match Uuid::parse_str(n.payload()) {
                        Ok(creator) => self.forget(creator),
                        Err(_) => self.clear(),
                    },
                    // The connection was lost: whatever changed meanwhile is unknown.
                    Ok(None) | Err(_) => {
                        self.listening.store(false, Ordering::Release);
                        self.clear();
                        tracing::warn!(
                            "posts cache: lost the change notifications; cache off until reconnected"
                        );
                        break;
                    }
                }
            }
        }
    }
}

async fn wait(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(d) => false,
    }
}
