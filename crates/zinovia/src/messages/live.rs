//! Live delivery (ADR 0024): Server-Sent Events at `/api/v1/messages/live`.
//!
//! Every write that a user should see live (a new message, a read receipt, an unlock, an
//! unsend) runs `pg_notify('zinovia_live', '<user> <event> <id>')` in its transaction, so
//! the notice goes out only if the write commits. Every server process LISTENs on that
//! channel (one connection per process) and hands each notice to the recipient's open
//! streams in this process through a bounded channel per stream: a stream whose channel is
//! full (a client that does not read) is dropped, never buffered without bound; its
//! browser reconnects with `Last-Event-ID` and is sent what it missed. Each stream renders
//! a notice for its own user, through the one entitlement rule, when it sends it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::api::LiveEventName;
use crate::accounts::User;
use crate::state::AppState;

/// Notices a stream may have waiting before it counts as too slow and is dropped.
pub const QUEUE: usize = 64;
/// How often an idle stream sends a heartbeat (below the ALB's 60 s idle timeout).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// What happened, for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A new message (its id).
    Message(Uuid),
    /// A paid message was unlocked (its id).
    Unlocked(Uuid),
    /// A message was unsent (its id).
    Unsent(Uuid),
    /// A conversation was read (its id).
    Read(Uuid),
    /// Something changed that the page should reload (a conversation id, or nil when
    /// notices may have been missed).
    Resync(Uuid),
}

impl Notice {
    /// Parses `'<user> <event> <id>'`.
    pub fn parse(payload: &str) -> Option<(Uuid, Notice)> {
        let mut parts = payload.split(' ');
        let user = Uuid::parse_str(parts.next()?).ok()?;
        let event = parts.next()?;
        let id = Uuid::parse_str(parts.next()?).ok()?;
        let notice = match event {
            "message" => Notice::Message(id),
            "unlocked" => Notice::Unlocked(id),
            "unsent" => Notice::Unsent(id),
            "read" => Notice::Read(id),
            "resync" => Notice::Resync(id),
            _ => return None,
        };
        Some((user, notice))
    }
}

type Streams = HashMap<Uuid, Vec<(u64, mpsc::Sender<Notice>)>>;

/// The open streams of this process, by user.
#[derive(Default)]
pub struct Hub {
    streams: Mutex<Streams>,
    next: AtomicU64,
    listening: AtomicBool,
    open: AtomicU64,
    dropped: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Hub {
    fn streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a stream for `user`.
    pub fn subscribe(&self, user: Uuid) -> (u64, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.streams().entry(user).or_default().push((id, tx));
        self.open.fetch_add(1, Ordering::Relaxed);
        (id, rx)
    }

    /// Closes a stream (when its client went away).
    pub fn unsubscribe(&self, user: Uuid, id: u64) {
        let mut streams = self.streams();
        if let Some(list) = streams.get_mut(&user) {
            let before = list.len();
            list.retain(|(i, _)| *i != id);
            if list.len() < before {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                streams.remove(&user);
            }
        }
    }

    /// Hands a notice to every open stream of `user`; a stream that cannot take it is
    /// dropped (its client reconnects and catches up).
    pub fn dispatch(&self, user: Uuid, notice: Notice) {
        let mut streams = self.streams();
        let Some(list) = streams.get_mut(&user) else {
            return;
        };
        let before = list.len();
        list.retain(|(_, tx)| tx.try_send(notice).is_ok());
        let gone = before - list.len();
        if gone > 0 {
            self.open
                .fetch_sub(u64::try_from(gone).unwrap_or(0), Ordering::Relaxed);
            self.dropped
                .fetch_add(u64::try_from(gone).unwrap_or(0), Ordering::Relaxed);
            tracing::debug!(%user, gone, "live: dropped streams that were not reading");
        }
        if list.is_empty() {
            streams.remove(&user);
        }
    }

    /// Tells every stream to reload (notices may have been missed).
    fn resync_all(&self) {
        let users: Vec<Uuid> = self.streams().keys().copied().collect();
        for u in users {
            self.dispatch(u, Notice::Resync(Uuid::nil()));
        }
    }

    /// Ends every stream (the server is stopping).
    fn close_all(&self) {
        let mut streams = self.streams();
        streams.clear();
        self.open.store(0, Ordering::Relaxed);
    }

    /// Streams open in this process.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Streams dropped for not reading, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether notices are arriving (the LISTEN connection is up).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Listens until `stop` (then ends every stream); reconnects after a lost connection
    /// and tells every stream to resynchronise.
    pub async fn listen(self: Arc<Self>, pool: PgPool, stop: CancellationToken) {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "live: cannot listen for messages; retrying");
                    if wait(&stop, Duration::from_secs(2)).await {
                        self.close_all();
                        return;
                    }
                    continue;
                }
            };
            if let Err(e) = listener.listen(super::db::CHANNEL).await {
                tracing::warn!(error = %e, "live: LISTEN failed; retrying");
                if wait(&stop, Duration::from_secs(2)).await {
                    self.close_all();
                    return;
                }
                continue;
            }
            let reconnected = self.listening.swap(true, Ordering::AcqRel);
            if !reconnected {
                self.resync_all();
            }
            loop {
                let msg = tokio::select! {
                    () = stop.cancelled() => {
                        self.listening.store(false, Ordering::Release);
                        self.close_all();
                        return;
                    }
                    msg = listener.try_recv() => msg,
                };
                match msg {
                    Ok(Some(n)) => {
                        if let Some((user, notice)) = Notice::parse(n.payload()) {
                            self.dispatch(user, notice);
                        }
                    }
                    Ok(None) | Err(_) => {
                        self.listening.store(false, Ordering::Release);
                        tracing::warn!("live: lost the message notifications; reconnecting");
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

/// Unsubscribes when the stream is dropped (the client went away).
struct Subscription {
    hub: Arc<Hub>,
    user: Uuid,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.user, self.id);
    }
}

/// One live stream for `user`: what was missed since `last` (a reconnect's
/// `Last-Event-ID`), a `hello` with the unread total, then each notice as it comes, with
/// heartbeats.
pub fn stream(
    state: AppState,
    user: User,
    last: Option<Uuid>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let hub = state.live();
    let (id, rx) = hub.subscribe(user.id.0);
    let guard = Subscription {
        hub,
        user: user.id.0,
        id,
    };
    let start = async move {
        let mut first = Vec::new();
        if let Some(last) = last
            && let Ok(ids) = super::service::missed(&state, &user, last).await
        {
            for m in ids {
                if let Some(e) = render(&state, &user, Notice::Message(m)).await {
                    first.push(e);
                }
            }
        }
        let unread = super::service::unread_total(&state, &user)
            .await
            .unwrap_or(0);
        first.push(LiveEventName::Hello.event(serde_json::json!({ "unread_total": unread })));
        (state, user, rx, guard, first)
    };
    let s = futures::stream::once(start).flat_map(|(state, user, rx, guard, first)| {
        let head = futures::stream::iter(first.into_iter().map(Ok));
        let tail = futures::stream::unfold(
            (state, user, rx, guard),
            |(state, user, mut rx, guard)| async move {
                loop {
                    let notice = rx.recv().await?;
                    if let Some(e) = render(&state, &user, notice).await {
                        return Some((Ok(e), (state, user, rx, guard)));
                    }
                }
            },
        );
        head.chain(tail)
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
}

use futures::StreamExt;

/// A notice as an event for `user` (None: nothing they may see).
async fn render(state: &AppState, user: &User, notice: Notice) -> Option<Event> {
    match notice {
        Notice::Message(id) | Notice::Unlocked(id) => {
            let (view, unread) = match super::service::live_message(state, user, id).await {
                Ok(Some(v)) => v,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "live: cannot render a message");
                    return None;
                }
            };
            let data = serde_json::json!({ "message": view, "unread_total": unread });
            Some(if matches!(notice, Notice::Message(_)) {
                LiveEventName::Message.event(data).id(id.to_string())
            } else {
                LiveEventName::Unlocked.event(data)
            })
        }
        Notice::Unsent(id) => {
            Some(LiveEventName::Unsent.event(serde_json::json!({ "message_id": id })))
        }
        Notice::Read(conversation) => {
            let unread = super::service::unread_total(state, user).await.ok()?;
            Some(LiveEventName::Read.event(
                serde_json::json!({ "conversation_id": conversation, "unread_total": unread }),
            ))
        }
        Notice::Resync(conversation) => Some(LiveEventName::Resync.event(
            serde_json::json!({ "conversation_id": (!conversation.is_nil()).then_some(conversation) }),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_parse_and_slow_streams_are_dropped_not_buffered() {
        let u = Uuid::now_v7();
        let m = Uuid::now_v7();
        assert_eq!(
            Notice::parse(&format!("{u} message {m}")),
            Some((u, Notice::Message(m)))
        );
        assert_eq!(Notice::parse(&format!("{u} nonsense {m}")), None);
        assert_eq!(Notice::parse("garbage"), None);

        let hub = Hub::default();
        let (_, mut reading) = hub.subscribe(u);
        let (_, _stuck) = hub.subscribe(u);
        assert_eq!(hub.open(), 2);
        for _ in 0..QUEUE {
            hub.dispatch(u, Notice::Message(m));
            assert!(reading.try_recv().is_ok());
        }
        // The stuck stream's queue is full now: the next notice drops it, not the reader.
        hub.dispatch(u, Notice::Message(m));
        assert_eq!(hub.open(), 1);
        assert_eq!(hub.dropped(), 1);
        assert!(reading.try_recv().is_ok());
    }
}
