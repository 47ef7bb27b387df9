//! The rules of messaging: who may write to whom, sending (text, media, a price), threads
//! and inboxes as one viewer may see them (media decided by the one entitlement rule),
//! read receipts, unsending, blocks, reports, welcome messages, tips in chat, mass
//! messages and the vault.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{self, ConversationRow, MessageRow, NewMessage};
use super::types::{
    ConversationId, ConversationView, Inbox, MassMessageId, MassMessageView, MassStatus, MessageId,
    MessageView, MessagesFrom, Party, ReportReason, Segment, Thread, VaultItem,
};
use crate::accounts::{FieldCheck, User};
use crate::error::AppError;
use crate::media::{Kind, MediaId, Purpose, State};
use crate::posts::entitlements::{self, Grants, MessageFacts, Seen};
use crate::posts::{MediaView, Price, VariantUrl};
use crate::state::AppState;

/// Longest message text.
pub const MAX_TEXT: usize = 2000;
/// Most media items on one message.
pub const MAX_MEDIA: usize = 20;
/// Largest page of an inbox or a thread.
pub const MAX_PAGE: i64 = 100;

/// What a creator or fan sends.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// Text (at most 2,000 characters).
    pub text: String,
    /// The creator's ready media (at most 20).
    pub media: Vec<Uuid>,
    /// A price for the media (creators; minor units of their currency).
    pub price_minor: Option<i64>,
}

/// Which side of a conversation a user is on, or none (then it does not exist for them).
fn side(conv: &ConversationRow, user: &User) -> Result<bool, AppError> {
    if conv.creator_id == user.id.0 {
        Ok(true)
    } else if conv.fan_id == user.id.0 {
        Ok(false)
    } else {
        // Never "forbidden": a fan learns nothing about others' conversations.
        Err(AppError::NotFound)
    }
}

/// A conversation of `user`'s (404 for anyone else).
async fn conversation_of_user(
    conn: &mut sqlx::PgConnection,
    user: &User,
    id: ConversationId,
) -> Result<(ConversationRow, bool), AppError> {
    let conv = db::conversation(conn, id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    let as_creator = side(&conv, user)?;
    Ok((conv, as_creator))
}

async fn limit_sender(state: &AppState, sender: &User) -> Result<(), AppError> {
    state
        .limiter()?
        .check(
            "messages",
            state.settings.auth.rate_limit_messages,
            &sender.id.to_string(),
        )
        .await
        .map_err(|retry_after| AppError::RateLimited { retry_after })
}

/// Opens (or finds) the conversation between `user` and the other side: a fan names a
/// creator by handle, a creator names a fan by account id. Checks that they may write.
pub async fn open(
    state: &AppState,
    user: &User,
    creator_handle: Option<&str>,
    fan: Option<Uuid>,
) -> Result<ConversationView, AppError> {
    let mut conn = state.db.acquire().await?;
    let (creator, fan) = match (creator_handle, fan) {
        (Some(handle), None) => {
            let creator = match crate::creators::find(&mut conn, handle).await {
                Ok(crate::creators::Found::Creator(c)) => c,
                Ok(crate::creators::Found::MovedTo(h)) => {
                    match crate::creators::find(&mut conn, &h).await? {
                        crate::creators::Found::Creator(c) => c,
                        crate::creators::Found::MovedTo(_) => return Err(AppError::NotFound),
                    }
                }
                Err(AppError::NotFound) => {
                    return Err(AppError::field("creator", "is not a creator here"));
                }
                Err(e) => return Err(e),
            };
            if creator.user_id == user.id.0 {
                return Err(AppError::field("creator", "is you"));
            }
            (creator.user_id, user.id.0)
        }
        (None, Some(fan)) => (user.id.0, fan),
        _ => {
            return Err(AppError::field(
                "creator",
                "give either creator (a handle, to write to a creator) or fan_id (a creator writing to a fan)",
            ));
        }
    };
    may_write(state, &mut conn, creator, fan, user.id.0 == creator, true).await?;
    let conv = db::conversation_of(&mut conn, creator, fan).await?;
    drop(conn);
    conversation_view(state, user, conv.id).await
}

/// Whether the sender may write in the conversation of `creator` and `fan`.
async fn may_write(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    creator: Uuid,
    fan: Uuid,
    sender_is_creator: bool,
    opening: bool,
) -> Result<(), AppError> {
    let grace = state.settings.content.subscription_grace.0;
    let field = if sender_is_creator {
        "fan_id"
    } else {
        "creator"
    };
    let rights = db::write_rights(conn, creator, fan, grace, sender_is_creator).await?;
    let Some(r) = rights else {
        return Err(if opening {
            AppError::field(field, "is not someone you can write to")
        } else {
            AppError::NotFound
        });
    };
    if sender_is_creator {
        if !r.fan_of {
            return Err(AppError::field(
                field,
                "has never subscribed to you or bought from you",
            ));
        }
    } else {
        if r.blocked {
            return Err(AppError::Forbidden);
        }
        if r.messages_from == MessagesFrom::Subscribers && !r.subscribed {
            return Err(AppError::Conflict(
                "this creator reads messages from subscribers only: subscribe to write".into(),
            ));
        }
    }
    Ok(())
}

/// Sends a message into a conversation of the sender's.
pub async fn send(
    state: &AppState,
    sender: &User,
    id: ConversationId,
    out: &Outgoing,
) -> Result<MessageView, AppError> {
    let mut conn = state.db.acquire().await?;
    let (conv, as_creator) = conversation_of_user(&mut conn, sender, id).await?;
    let mut check = FieldCheck::default();
    let text = check
        .text("text", &out.text, MAX_TEXT, false)
        .unwrap_or_default();
    if !as_creator && (!out.media.is_empty() || out.price_minor.is_some()) {
        if !out.media.is_empty() {
            check.add("media_ids", "only creators send media");
        }
        if out.price_minor.is_some() {
            check.add("price_minor", "only creators sell messages");
        }
    }
    let currency = if as_creator && out.price_minor.is_some() {
        db::creator_messaging(&mut conn, conv.creator_id)
            .await?
            .map(|c| c.currency)
    } else {
        None
    };
    let price = if as_creator {
        attachments_and_price(state, &mut conn, sender.id.0, out, &mut check).await?
    } else {
        None
    };
    if text.is_empty() && out.media.is_empty() {
        check.add("text", "write something or attach media");
    }
    check.finish()?;
    may_write(
        state,
        &mut conn,
        conv.creator_id,
        conv.fan_id,
        as_creator,
        false,
    )
    .await?;
    limit_sender(state, sender).await?;
    drop(conn);
    let message = Uuid::now_v7();
    let created_at = Utc::now();
    let mut tx = state.db.begin().await?;
    if !crate::accounts::lock_open(&mut tx, &[conv.creator_id, conv.fan_id]).await? {
        return Err(AppError::Conflict("this account is closed".into()));
    }
    db::insert_message(
        &mut tx,
        &NewMessage {
            id: message,
            conversation_id: conv.id,
            sender_id: sender.id.0,
            body: &text,
            price_minor: price,
            tip_minor: None,
            currency: price.and(currency.as_deref()),
            welcome: false,
            media: &out.media,
            created_at,
        },
        !as_creator,
    )
    .await?;
    let recipient = if as_creator {
        conv.fan_id
    } else {
        conv.creator_id
    };
    db::notify(&mut tx, recipient, "message", message).await?;
    db::notify(&mut tx, sender.id.0, "message", message).await?;
    tx.commit().await?;
    let row = MessageRow {
        id: message,
        conversation_id: conv.id,
        sender_id: sender.id.0,
        body: text,
        price_minor: price,
        tip_minor: None,
        currency: price.and(currency),
        mass_message_id: None,
        welcome: false,
        unsent_at: None,
        created_at,
        media_count: i64::try_from(out.media.len()).unwrap_or(0),
    };
    views(state, sender, &conv, std::slice::from_ref(&row))
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// Checks a creator's attachments (their own ready content media, at most 20, no
/// repeats) and price (within `PPV_PRICE_MIN`–`MAX`, only with media), reporting on
/// `media_ids` and `price_minor`.
async fn attachments_and_price(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    creator: Uuid,
    out: &Outgoing,
    check: &mut FieldCheck,
) -> Result<Option<i32>, AppError> {
    attachments_and_price_as(
        state,
        conn,
        creator,
        out,
        check,
        ("media_ids", "price_minor"),
    )
    .await
}

/// [`attachments_and_price`], reporting on the fields named `(media, price)`.
async fn attachments_and_price_as(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    creator: Uuid,
    out: &Outgoing,
    check: &mut FieldCheck,
    (media_field, price_field): (&str, &str),
) -> Result<Option<i32>, AppError> {
    if out.media.len() > MAX_MEDIA {
        check.add(media_field, format!("at most {MAX_MEDIA} items"));
    } else {
        let mut seen = HashSet::new();
        for id in &out.media {
            if !seen.insert(*id) {
                check.add(media_field, format!("{id} is attached twice"));
                continue;
            }
            let ok = crate::media::find(&mut *conn, MediaId(*id))
                .await?
                .is_some_and(|a| {
                    a.owner_id.0 == creator && a.purpose == Purpose::Post && a.state == State::Ready
                });
            if !ok {
                check.add(
                    "media_ids",
                    format!("{id} is not a ready photo or video of yours"),
                );
            }
        }
    }
    let (min, max) = (
        state.settings.content.ppv_price_min,
        state.settings.content.ppv_price_max,
    );
    if out.price_minor.is_some() && !crate::verification::may_sell(state, creator).await? {
        check.add(price_field, crate::verification::NOT_VERIFIED);
        return Ok(None);
    }
    match out.price_minor {
        None => Ok(None),
        Some(_) if out.media.is_empty() => {
            check.add(price_field, "a price needs media to unlock");
            Ok(None)
        }
        Some(p) if p >= i64::from(min) && p <= i64::from(max) => {
            Ok(Some(i32::try_from(p).unwrap_or(i32::MAX)))
        }
        Some(_) => {
            check.add(price_field, format!("must be between {min} and {max}"));
            Ok(None)
        }
    }
}

/// `user`'s inbox, newest first.
pub async fn inbox(
    state: &AppState,
    user: &User,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Inbox, AppError> {
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            parse_cursor(c).ok_or_else(|| AppError::field("cursor", "is not a cursor we gave"))?,
        ),
    };
    let mut conn = state.db.acquire().await?;
    let rows = db::inbox(&mut conn, user.id.0, after, limit + 1).await?;
    let unread_total = db::unread_total(&mut conn, user.id.0).await?;
    drop(conn);
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    let rows = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(0))];
    let avatars: Vec<Uuid> = rows.iter().filter_map(|r| r.avatar_id).collect();
    let avatar_urls = if avatars.is_empty() {
        HashMap::new()
    } else {
        crate::creators::avatar_urls(state, &avatars).await?
    };
    let conversations: Vec<ConversationView> = rows
        .iter()
        .map(|r| {
            let as_creator = r.creator_id == user.id.0;
            ConversationView {
                id: ConversationId(r.id),
                as_creator,
                with: Party {
                    id: if as_creator { r.fan_id } else { r.creator_id },
                    display_name: r.other_name.clone(),
                    handle: r.handle.clone(),
                    avatar_url: r.avatar_id.and_then(|a| avatar_urls.get(&a).cloned()),
                },
                last_message: summary(
                    as_creator,
                    r.last_unsent,
                    r.last_body.as_deref(),
                    r.last_price,
                    r.last_tip,
                    r.last_media.unwrap_or(0),
                ),
                last_message_at: r.last_message_at,
                unread: r.unread,
                other_read_at: r.other_read_at,
                blocked: r.blocked,
            }
        })
        .collect();
    let next_cursor = if more {
        rows.last().and_then(|r| {
            r.last_message_at
                .map(|at| format!("{}_{}", at.timestamp_micros(), r.id))
        })
    } else {
        None
    };
    Ok(Inbox {
        conversations,
        next_cursor,
        unread_total,
    })
}

fn parse_cursor(c: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = c.split_once('_')?;
    let at = DateTime::from_timestamp_micros(at.parse().ok()?)?;
    Some((at, Uuid::parse_str(id).ok()?))
}

/// What an inbox shows of a conversation's last message.
fn summary(
    as_creator: bool,
    unsent: bool,
    body: Option<&str>,
    price: Option<i32>,
    tip: Option<i32>,
    media: i64,
) -> Option<String> {
    let body = body?;
    if unsent && !as_creator {
        return Some("Message unsent".into());
    }
    let first: String = body.chars().take(140).collect();
    Some(if !first.is_empty() {
        first
    } else if tip.is_some() {
        "Sent a tip".into()
    } else if price.is_some() {
        format!("Paid message ({media} items)")
    } else if media > 0 {
        format!("{media} media items")
    } else {
        String::new()
    })
}

/// One conversation as `user` sees it in the inbox.
pub async fn conversation_view(
    state: &AppState,
    user: &User,
    id: Uuid,
) -> Result<ConversationView, AppError> {
    let mut conn = state.db.acquire().await?;
    let (conv, as_creator) = conversation_of_user(&mut conn, user, ConversationId(id)).await?;
    let rows = db::conversation_party(&mut conn, conv.id, as_creator).await?;
    drop(conn);
    let avatar_url = match rows.avatar_id {
        Some(a) => crate::creators::avatar_urls(state, &[a]).await?.remove(&a),
        None => None,
    };
    Ok(ConversationView {
        id: ConversationId(conv.id),
        as_creator,
        with: Party {
            id: if as_creator {
                conv.fan_id
            } else {
                conv.creator_id
            },
            display_name: rows.name,
            handle: rows.handle,
            avatar_url,
        },
        last_message: None,
        last_message_at: conv.last_message_at,
        unread: if as_creator {
            conv.creator_unread
        } else {
            conv.fan_unread
        },
        other_read_at: if as_creator {
            conv.fan_read_at
        } else {
            conv.creator_read_at
        },
        blocked: rows.blocked,
    })
}

/// A page of a thread: before `before` (newest first), or, with `after`, the messages
/// after it (oldest first; a live page catching up).
pub async fn thread(
    state: &AppState,
    user: &User,
    id: ConversationId,
    before: Option<MessageId>,
    after: Option<MessageId>,
    limit: i64,
) -> Result<Thread, AppError> {
    let conversation = conversation_view(state, user, id.0).await?;
    let mut conn = state.db.acquire().await?;
    let (conv, _) = conversation_of_user(&mut conn, user, id).await?;
    let rows = db::messages(
        &mut conn,
        conv.id,
        before.map(|b| b.0),
        after.map(|a| a.0),
        limit + 1,
    )
    .await?;
    drop(conn);
    let more = rows.len() > usize::try_from(limit).unwrap_or(0) && after.is_none();
    let rows = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(0))];
    let messages = views(state, user, &conv, rows).await?;
    Ok(Thread {
        conversation,
        next_cursor: if more {
            rows.last().map(|r| MessageId(r.id))
        } else {
            None
        },
        messages,
    })
}

/// One message as `user` may see it (None: not theirs to see).
pub async fn message_view(
    state: &AppState,
    user: &User,
    id: MessageId,
) -> Result<Option<MessageView>, AppError> {
    let mut conn = state.db.acquire().await?;
    let Some((row, conv)) = db::message_in_conversation(&mut conn, id.0).await? else {
        return Ok(None);
    };
    if side(&conv, user).is_err() {
        return Ok(None);
    }
    drop(conn);
    Ok(views(state, user, &conv, std::slice::from_ref(&row))
        .await?
        .pop())
}

fn facts(conv: &ConversationRow, m: &MessageRow) -> MessageFacts {
    MessageFacts {
        id: m.id,
        creator_id: conv.creator_id,
        fan_id: conv.fan_id,
        priced: m.price_minor.is_some(),
        unsent: m.unsent_at.is_some(),
    }
}

/// Messages as `user` sees them: the one rule decides each creator's message; media of a
/// locked one carry kind, size and placeholder only; unlocked media are signed.
async fn views(
    state: &AppState,
    user: &User,
    conv: &ConversationRow,
    rows: &[MessageRow],
) -> Result<Vec<MessageView>, AppError> {
    let ids: Vec<Uuid> = rows
        .iter()
        .filter(|m| m.media_count > 0)
        .map(|m| m.id)
        .collect();
    let mut conn = state.db.acquire().await?;
    let media = if ids.is_empty() {
        Vec::new()
    } else {
        db::media_of(&mut conn, &ids).await?
    };
    // The fan's purchases: the viewer's own grants when the viewer is the fan; the
    // creator's "unlocked" marker otherwise.
    let priced: Vec<Uuid> = rows
        .iter()
        .filter(|m| m.price_minor.is_some())
        .map(|m| m.id)
        .collect();
    let bought: HashSet<Uuid> = if priced.is_empty() {
        HashSet::new()
    } else {
        db::bought(&mut conn, conv.fan_id, &priced)
            .await?
            .into_iter()
            .collect()
    };
    drop(conn);
    let grants = Grants {
        messages_bought: bought.clone(),
        ..Grants::default()
    };
    let now = Utc::now();
    let other_read_at = if conv.creator_id == user.id.0 {
        conv.fan_read_at
    } else {
        conv.creator_read_at
    };
    let mut by_message: HashMap<Uuid, Vec<&db::MediaRow>> = HashMap::new();
    for m in &media {
        by_message.entry(m.message_id).or_default().push(m);
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut to_sign: Vec<Uuid> = Vec::new();
    for m in rows {
        let from_creator = m.sender_id == conv.creator_id;
        let seen = if from_creator {
            entitlements::decide(Some(user), &facts(conv, m), &grants, now)
        } else {
            Seen::Unlocked(entitlements::Why::Creator)
        };
        let unlocked = match seen {
            Seen::Hidden => continue,
            Seen::Locked => false,
            Seen::Unlocked(_) => true,
        };
        let items = by_message.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        let media: Vec<MediaView> = items
            .iter()
            .map(|r| {
                if unlocked {
                    to_sign.push(r.asset_id);
                }
                MediaView {
                    position: r.position,
                    id: unlocked.then_some(r.asset_id),
                    kind: r.kind,
                    width: r.width,
                    height: r.height,
                    duration_ms: r.duration_ms,
                    blurhash: r.blurhash.clone(),
                    variants: Vec::new(),
                }
            })
            .collect();
        let money = |minor: Option<i32>| {
            minor
                .zip(m.currency.clone())
                .map(|(amount_minor, currency)| Price {
                    amount_minor,
                    currency,
                })
        };
        out.push(MessageView {
            id: MessageId(m.id),
            conversation_id: ConversationId(conv.id),
            mine: m.sender_id == user.id.0,
            sender_id: m.sender_id,
            text_html: crate::posts::text_html(&m.body),
            text: m.body.clone(),
            price: money(m.price_minor),
            tip: money(m.tip_minor),
            locked: !unlocked,
            unlocked_by_purchase: bought.contains(&m.id),
            photos: items.iter().filter(|r| r.kind == Kind::Image).count(),
            videos: items.iter().filter(|r| r.kind == Kind::Video).count(),
            media,
            mass_message_id: m.mass_message_id.map(MassMessageId),
            welcome: m.welcome,
            unsent: m.unsent_at.is_some(),
            created_at: m.created_at,
            read: m.sender_id == user.id.0 && other_read_at.is_some_and(|r| r >= m.created_at),
        });
    }
    if !to_sign.is_empty() {
        sign(state, &to_sign, &mut out).await?;
    }
    Ok(out)
}

/// Signs the delivered variants of the unlocked media in `out`.
async fn sign(state: &AppState, assets: &[Uuid], out: &mut [MessageView]) -> Result<(), AppError> {
    let variants =
        crate::media::ready_variants(&state.db, assets, &crate::posts::DELIVERED).await?;
    let keys: Vec<&str> = variants
        .iter()
        .map(|(_, v)| v.object_key.as_str())
        .collect();
    let (urls, _) = state
        .storage()?
        .signed_urls(&keys, state.settings.media.media_url_ttl.0)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut by_asset: HashMap<Uuid, Vec<VariantUrl>> = HashMap::new();
    for ((asset, v), url) in variants.iter().zip(urls) {
        by_asset.entry(*asset).or_default().push(VariantUrl {
            name: Cow::Owned(v.name.clone()),
            width: v.width,
            height: v.height,
            url,
        });
    }
    for m in out.iter_mut() {
        for item in &mut m.media {
            if let Some(id) = item.id
                && let Some(v) = by_asset.get(&id)
            {
                item.variants = v.clone();
            }
        }
    }
    Ok(())
}

/// Marks a conversation read by `user`; tells the other side (a read receipt).
pub async fn read(state: &AppState, user: &User, id: ConversationId) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let (conv, as_creator) = conversation_of_user(&mut tx, user, id).await?;
    if db::mark_read(&mut tx, conv.id, as_creator).await? {
        let other = if as_creator {
            conv.fan_id
        } else {
            conv.creator_id
        };
        db::notify(&mut tx, other, "read", conv.id).await?;
        db::notify(&mut tx, user.id.0, "read", conv.id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Takes back a message of the creator's: gone for the fan unless they bought it.
pub async fn unsend(state: &AppState, user: &User, id: MessageId) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let row = db::message(&mut tx, id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    let conv = db::conversation(&mut tx, row.conversation_id)
        .await?
        .ok_or(AppError::NotFound)?;
    side(&conv, user)?;
    if row.sender_id != user.id.0 || conv.creator_id != user.id.0 {
        return Err(AppError::Forbidden);
    }
    if db::unsend(&mut tx, row.id).await? {
        db::notify(&mut tx, conv.fan_id, "unsent", row.id).await?;
        db::notify(&mut tx, conv.creator_id, "unsent", row.id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A creator blocks or unblocks the fan of a conversation.
pub async fn block(
    state: &AppState,
    user: &User,
    id: ConversationId,
    blocked: bool,
) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    let (conv, as_creator) = conversation_of_user(&mut conn, user, id).await?;
    if !as_creator {
        return Err(AppError::Forbidden);
    }
    db::set_block(&mut conn, conv.creator_id, conv.fan_id, blocked).await?;
    Ok(())
}

/// Reports a message one can see (kept for the moderation queue).
pub async fn report(
    state: &AppState,
    user: &User,
    client: &crate::http::extract::ClientMeta,
    id: MessageId,
    reason: &str,
    details: &str,
) -> Result<(), AppError> {
    let mut check = FieldCheck::default();
    let reason = ReportReason::parse(reason);
    if reason.is_none() {
        check.add(
            "reason",
            "must be one of illegal, non_consensual, underage, copyright, spam, other",
        );
    }
    let details = check
        .text("details", details, 2000, false)
        .unwrap_or_default();
    check.finish()?;
    if message_view(state, user, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    if let Some(reason) = reason {
        // Into the one moderation queue (acknowledged by email, answered within its SLA).
        crate::moderation::file(
            state,
            Some(user),
            client,
            &crate::moderation::ReportInput {
                subject_type: crate::moderation::ReportSubject::Message.as_str().into(),
                subject_id: id.to_string(),
                category: reason.as_str().into(),
                details,
                email: String::new(),
            },
        )
        .await?;
    }
    tracing::info!(message = %id, "message reported");
    Ok(())
}

/// Whether `user` can see message `id` (a party to its conversation, and it is not
/// taken back): who may report it.
pub async fn can_see_message(state: &AppState, user: &User, id: Uuid) -> Result<bool, AppError> {
    Ok(message_view(state, user, MessageId(id)).await?.is_some())
}

/// Whether `viewer` may see this asset's variants through a message that shows it: the one
/// rule decides each message.
pub async fn asset_visible(
    state: &AppState,
    viewer: Option<&User>,
    asset: Uuid,
) -> Result<bool, AppError> {
    let Some(viewer) = viewer else {
        return Ok(false);
    };
    let mut conn = state.db.acquire().await?;
    let rows = db::messages_with_asset(&mut conn, asset, viewer.id.0).await?;
    if rows.is_empty() {
        return Ok(false);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let grants = Grants {
        messages_bought: db::bought(&mut conn, viewer.id.0, &ids)
            .await?
            .into_iter()
            .collect(),
        ..Grants::default()
    };
    let now = Utc::now();
    Ok(rows
        .iter()
        .any(|&(id, creator_id, fan_id, priced, unsent)| {
            entitlements::decide(
                Some(viewer),
                &MessageFacts {
                    id,
                    creator_id,
                    fan_id,
                    priced,
                    unsent,
                },
                &grants,
                now,
            )
            .unlocked()
        }))
}

/// A paid message on sale to `fan`: its creator and price (billing's checkout).
pub async fn message_offer(
    conn: &mut sqlx::PgConnection,
    message: Uuid,
    fan: Uuid,
) -> Result<Option<(Uuid, crate::money::Money)>, sqlx::Error> {
    Ok(db::offer(conn, message, fan)
        .await?
        .map(|(creator, minor, currency)| {
            (
                creator,
                crate::money::Money::new(i64::from(minor), currency),
            )
        }))
}

/// Tells both sides that a paid message was unlocked (billing, in the payment's
/// transaction).
pub async fn unlocked(conn: &mut sqlx::PgConnection, message: Uuid) -> Result<(), sqlx::Error> {
    if let Some(m) = db::message(conn, message).await?
        && let Some(c) = db::conversation(conn, m.conversation_id).await?
    {
        db::notify(conn, c.fan_id, "unlocked", m.id).await?;
        db::notify(conn, c.creator_id, "unlocked", m.id).await?;
    }
    Ok(())
}

/// Sends the creator's welcome message to a fan who just subscribed — once per fan and
/// creator, never again (billing, in the subscription's transaction).
pub async fn welcome(
    conn: &mut sqlx::PgConnection,
    creator: Uuid,
    fan: Uuid,
) -> Result<(), sqlx::Error> {
    let Some(settings) = db::creator_messaging(conn, creator).await? else {
        return Ok(());
    };
    let text = settings.welcome_message.unwrap_or_default();
    if text.trim().is_empty() && settings.welcome_media.is_empty() {
        return Ok(());
    }
    let conv = db::conversation_of(conn, creator, fan).await?;
    // Media deleted since the welcome was set are left out.
    let media = db::ready_of(conn, creator, &settings.welcome_media).await?;
    let price = settings.welcome_price_minor.filter(|_| !media.is_empty());
    let id = Uuid::now_v7();
    let sent = db::insert_message(
        conn,
        &NewMessage {
            id,
            conversation_id: conv.id,
            sender_id: creator,
            body: &text,
            price_minor: price,
            tip_minor: None,
            currency: price.map(|_| settings.currency.as_str()),
            welcome: true,
            media: &media,
            created_at: Utc::now(),
        },
        false,
    )
    .await?;
    if sent {
        db::notify(conn, fan, "message", id).await?;
        db::notify(conn, creator, "message", id).await?;
    }
    Ok(())
}

/// A paid tip arrives in the conversation as a message from the fan (billing, in the
/// payment's transaction).
pub async fn tip_arrived(
    conn: &mut sqlx::PgConnection,
    fan: Uuid,
    creator: Uuid,
    amount: i32,
    currency: &str,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    let conv = db::conversation_of(conn, creator, fan).await?;
    let id = Uuid::now_v7();
    db::insert_message(
        conn,
        &NewMessage {
            id,
            conversation_id: conv.id,
            sender_id: fan,
            body: note.unwrap_or(""),
            price_minor: None,
            tip_minor: Some(amount),
            currency: Some(currency),
            welcome: false,
            media: &[],
            created_at: Utc::now(),
        },
        true,
    )
    .await?;
    db::notify(conn, creator, "message", id).await?;
    db::notify(conn, fan, "message", id).await?;
    Ok(())
}

/// A creator's messaging settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who may write.
    pub messages_from: MessagesFrom,
    /// Welcome text.
    pub welcome_message: Option<String>,
    /// Welcome media.
    pub welcome_media: Vec<Uuid>,
    /// Welcome price.
    pub welcome_price_minor: Option<i64>,
}

/// A creator's messaging settings.
pub async fn settings(state: &AppState, creator: &User) -> Result<Settings, AppError> {
    let mut conn = state.db.acquire().await?;
    let s = db::creator_messaging(&mut conn, creator.id.0)
        .await?
        .ok_or(AppError::Forbidden)?;
    Ok(Settings {
        messages_from: s.messages_from,
        welcome_message: s.welcome_message,
        welcome_media: s.welcome_media,
        welcome_price_minor: s.welcome_price_minor.map(i64::from),
    })
}

/// Changes a creator's messaging settings.
pub async fn set_settings(
    state: &AppState,
    creator: &User,
    s: &Settings,
) -> Result<Settings, AppError> {
    let mut conn = state.db.acquire().await?;
    if db::creator_messaging(&mut conn, creator.id.0)
        .await?
        .is_none()
    {
        return Err(AppError::Forbidden);
    }
    let mut check = FieldCheck::default();
    let text = s
        .welcome_message
        .as_deref()
        .and_then(|t| check.text("welcome_message", t, MAX_TEXT, false))
        .filter(|t| !t.is_empty());
    let out = Outgoing {
        text: text.clone().unwrap_or_default(),
        media: s.welcome_media.clone(),
        price_minor: s.welcome_price_minor,
    };
    let price = attachments_and_price_as(
        state,
        &mut conn,
        creator.id.0,
        &out,
        &mut check,
        ("welcome_media", "welcome_price_minor"),
    )
    .await?;
    check.finish()?;
    db::set_creator_messaging(
        &mut conn,
        creator.id.0,
        s.messages_from,
        text.as_deref(),
        &s.welcome_media,
        price,
    )
    .await?;
    drop(conn);
    settings(state, creator).await
}

/// A mass message to create.
#[derive(Debug, Clone)]
pub struct MassRequest {
    /// What it says and carries.
    pub out: Outgoing,
    /// Who it goes to.
    pub segment: String,
    /// `spenders`: more than this (minor units).
    pub min_spend_minor: Option<i64>,
    /// `buyers`: of this post.
    pub post_id: Option<Uuid>,
    /// Later (within 90 days); absent: now.
    pub send_at: Option<DateTime<Utc>>,
}

/// Validates a segment.
fn segment_of(
    req: &MassRequest,
    check: &mut FieldCheck,
) -> Option<(Segment, Option<i64>, Option<Uuid>)> {
    let Some(segment) = Segment::parse(&req.segment) else {
        check.add("segment", "must be active, expired, spenders or buyers");
        return None;
    };
    match segment {
        Segment::Spenders => match req.min_spend_minor {
            Some(m) if m >= 0 => Some((segment, Some(m), None)),
            _ => {
                check.add("min_spend_minor", "is required for spenders (0 or more)");
                None
            }
        },
        Segment::Buyers => match req.post_id {
            Some(p) => Some((segment, None, Some(p))),
            None => {
                check.add("post_id", "is required for buyers");
                None
            }
        },
        _ => Some((segment, None, None)),
    }
}

/// How many fans a segment reaches now.
pub async fn recipients(
    state: &AppState,
    creator: &User,
    req: &MassRequest,
) -> Result<i64, AppError> {
    let mut check = FieldCheck::default();
    let seg = segment_of(req, &mut check);
    check.finish()?;
    let Some((segment, min, post)) = seg else {
        return Ok(0);
    };
    let mut conn = state.db.acquire().await?;
    let grace = state.settings.content.subscription_grace.0;
    Ok(db::segment_count(&mut conn, creator.id.0, segment, min, post, grace).await?)
}

/// Records a mass message and queues its delivery (now or at `send_at`).
pub async fn create_mass(
    state: &AppState,
    creator: &User,
    req: &MassRequest,
) -> Result<MassMessageView, AppError> {
    let mut conn = state.db.acquire().await?;
    let Some(cs) = db::creator_messaging(&mut conn, creator.id.0).await? else {
        return Err(AppError::Forbidden);
    };
    let mut check = FieldCheck::default();
    let text = check
        .text("text", &req.out.text, MAX_TEXT, false)
        .unwrap_or_default();
    let price = attachments_and_price(state, &mut conn, creator.id.0, &req.out, &mut check).await?;
    if text.is_empty() && req.out.media.is_empty() {
        check.add("text", "write something or attach media");
    }
    let seg = segment_of(req, &mut check);
    let now = Utc::now();
    let send_at = match req.send_at {
        Some(at) if at > now + chrono::Duration::days(90) => {
            check.add("send_at", "must be within 90 days");
            now
        }
        Some(at) if at > now => at,
        _ => now,
    };
    if let Some((Segment::Buyers, _, Some(post))) = seg
        && !db::post_of(&mut conn, post, creator.id.0).await?
    {
        check.add("post_id", "is not a post of yours");
    }
    check.finish()?;
    let Some((segment, min, post)) = seg else {
        return Err(AppError::BadRequest("segment".into()));
    };
    limit_sender(state, creator).await?;
    drop(conn);
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    db::insert_mass(
        &mut tx,
        &db::NewMass {
            id,
            creator_id: creator.id.0,
            body: &text,
            media: &req.out.media,
            price_minor: price,
            currency: price.map(|_| cs.currency.as_str()),
            segment,
            min_spend_minor: min,
            post_id: post,
            send_at,
        },
    )
    .await?;
    crate::jobs::enqueue_at(
        &mut *tx,
        &super::jobs::DeliverMassMessage {
            mass_message_id: MassMessageId(id),
        },
        Some(send_at),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(mass_message = %id, segment = segment.as_str(), "mass message queued");
    mass_view(state, creator, MassMessageId(id)).await
}

/// Delivers the next chunk of a mass message; answers whether more remain (the job).
pub async fn deliver_chunk(state: &AppState, id: MassMessageId) -> Result<bool, AppError> {
    let grace = state.settings.content.subscription_grace.0;
    let mut tx = state.db.begin().await?;
    let Some(m) = db::mass_for_update(&mut tx, id.0).await? else {
        return Ok(false);
    };
    if matches!(m.status, MassStatus::Sent | MassStatus::Unsent) {
        return Ok(false);
    }
    let chunk = i64::from(state.settings.jobs.mass_message_chunk);
    let fans = db::segment_fans(&mut tx, &m, m.cursor, chunk, grace).await?;
    let Some(last) = fans.last().copied() else {
        db::set_mass_status(&mut tx, m.id, MassStatus::Sent).await?;
        tx.commit().await?;
        tracing::info!(mass_message = %m.id, sent = m.sent_count, "mass message delivered");
        return Ok(false);
    };
    let delivered = db::deliver_chunk(&mut tx, &m, &fans).await?;
    db::advance(&mut tx, m.id, last, delivered).await?;
    tx.commit().await?;
    Ok(true)
}

/// A mass message with its figures.
pub async fn mass_view(
    state: &AppState,
    creator: &User,
    id: MassMessageId,
) -> Result<MassMessageView, AppError> {
    mass_list(state, creator, Some(id))
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// A creator's mass messages, newest first.
pub async fn mass_list(
    state: &AppState,
    creator: &User,
    id: Option<MassMessageId>,
) -> Result<Vec<MassMessageView>, AppError> {
    let mut conn = state.db.acquire().await?;
    let rows = db::mass_messages(&mut conn, creator.id.0, id.map(|i| i.0)).await?;
    Ok(rows
        .into_iter()
        .map(|(m, read, unlocked, revenue)| MassMessageView {
            id: MassMessageId(m.id),
            segment: m.segment,
            min_spend_minor: m.min_spend_minor,
            post_id: m.post_id,
            text: m.body,
            media_count: m.media.len(),
            price: m
                .price_minor
                .zip(m.currency)
                .map(|(amount_minor, currency)| Price {
                    amount_minor,
                    currency,
                }),
            send_at: m.send_at,
            status: m.status,
            sent: m.sent_count,
            read,
            unlocked,
            revenue_minor: revenue,
            created_at: m.created_at,
        })
        .collect())
}

/// Unsends a mass message: stops its delivery and takes it back from every fan who has not
/// bought it.
pub async fn unsend_mass(
    state: &AppState,
    creator: &User,
    id: MassMessageId,
) -> Result<MassMessageView, AppError> {
    let mut tx = state.db.begin().await?;
    let m = db::mass_for_update(&mut tx, id.0)
        .await?
        .filter(|m| m.creator_id == creator.id.0)
        .ok_or(AppError::NotFound)?;
    if m.status != MassStatus::Unsent {
        db::set_mass_status(&mut tx, m.id, MassStatus::Unsent).await?;
        for (fan, conversation) in db::unsend_mass(&mut tx, m.id).await? {
            db::notify(&mut tx, fan, "resync", conversation).await?;
        }
    }
    tx.commit().await?;
    mass_view(state, creator, id).await
}

/// The creator's vault: ready photos and videos, newest first; with `fan`, the "already
/// sent" and "already bought" markers for that fan.
pub async fn vault(
    state: &AppState,
    creator: &User,
    tag: Option<&str>,
    fan: Option<Uuid>,
) -> Result<Vec<VaultItem>, AppError> {
    let tag = match tag.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(normal_tag(t).ok_or_else(|| AppError::field("tag", TAG_RULE))?),
    };
    let mut conn = state.db.acquire().await?;
    let rows = db::vault(&mut conn, creator.id.0, tag.as_deref(), fan, 500).await?;
    drop(conn);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let thumbs = if ids.is_empty() {
        HashMap::new()
    } else {
        crate::creators::avatar_urls(state, &ids).await?
    };
    Ok(rows
        .into_iter()
        .map(|r| VaultItem {
            thumb_url: thumbs.get(&r.id).cloned(),
            id: r.id,
            kind: r.kind,
            tags: r.tags,
            posts: r.posts,
            messages: r.messages,
            sent_to_fan: r.sent_to_fan,
            bought_by_fan: r.bought_by_fan,
            created_at: r.created_at,
        })
        .collect())
}

const TAG_RULE: &str = "must be 1–30 of a-z, 0-9, _ and -";

/// A vault tag as stored: trimmed, lower-cased, 1–30 of a-z, 0-9, `_` and `-` (None: not a
/// tag).
fn normal_tag(t: &str) -> Option<String> {
    let t = t.trim().to_lowercase();
    let ok = !t.is_empty()
        && t.len() <= 30
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(t)
}

/// Replaces the tags of one of the creator's vault items.
pub async fn tag(
    state: &AppState,
    creator: &User,
    asset: Uuid,
    tags: &[String],
) -> Result<Vec<String>, AppError> {
    let mut check = FieldCheck::default();
    let mut clean: Vec<String> = Vec::new();
    for t in tags {
        match normal_tag(t) {
            None => check.add("tags", format!("{:?} {TAG_RULE}", t.trim())),
            Some(t) if !clean.contains(&t) => clean.push(t),
            Some(_) => {}
        }
    }
    if clean.len() > 20 {
        check.add("tags", "at most 20 tags");
    }
    check.finish()?;
    let mut conn = state.db.acquire().await?;
    let ok = crate::media::find(&mut *conn, MediaId(asset))
        .await?
        .is_some_and(|a| a.owner_id == creator.id && a.purpose == Purpose::Post);
    if !ok {
        return Err(AppError::NotFound);
    }
    db::set_tags(&mut conn, asset, &clean).await?;
    Ok(clean)
}

/// Renders one live event for `user`: the message as they may see it (None: nothing for
/// them), with their unread total.
pub async fn live_message(
    state: &AppState,
    user: &User,
    id: Uuid,
) -> Result<Option<(MessageView, i64)>, AppError> {
    let Some(view) = message_view(state, user, MessageId(id)).await? else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    let unread = db::unread_total(&mut conn, user.id.0).await?;
    Ok(Some((view, unread)))
}

/// The messages to `user` after `after` (a reconnect's missed events), oldest first.
pub async fn missed(state: &AppState, user: &User, after: Uuid) -> Result<Vec<Uuid>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::missed(&mut conn, user.id.0, after, 100)
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect())
}

/// `user`'s unread total.
pub async fn unread_total(state: &AppState, user: &User) -> Result<i64, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::unread_total(&mut conn, user.id.0).await?)
}

/// People due an email about their unread messages, marked emailed in the transaction that
/// queues each email: answers how many were queued (at most `limit`).
pub async fn queue_unread_emails(state: &AppState, limit: i64) -> Result<usize, AppError> {
    let quiet = state.settings.jobs.unread_email_after.0;
    if quiet.is_zero() {
        return Ok(0);
    }
    let mut tx = state.db.begin().await?;
    let due = db::due_unread_emails(&mut tx, quiet, limit).await?;
    for &(user, unread) in &due {
        db::emailed(&mut tx, user).await?;
        crate::jobs::enqueue(
            &mut *tx,
            &super::jobs::SendUnreadEmail {
                user_id: crate::accounts::UserId(user),
                unread,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Whether `user` wants emails about unread messages.
pub async fn wants_emails(state: &AppState, user: &User) -> Result<bool, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::wants_emails(&mut conn, user.id.0).await?)
}

/// Turns `user`'s unread-message emails on or off.
pub async fn set_wants_emails(state: &AppState, user: &User, on: bool) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    db::set_wants_emails(&mut conn, user.id.0, on).await?;
    Ok(())
}
