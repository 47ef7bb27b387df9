//! Every SQL statement on messaging's tables (conversations, messages, message_media,
//! mass_messages, message_blocks, message_reports, vault_tags), and the read-path queries
//! that join what they need of other features' tables (subscriptions, purchases, the
//! ledger, media) for the rule and the segments.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::types::{MassStatus, MessagesFrom, Segment};
use crate::media::Kind;

/// The channel live events go out on (ADR 0024).
pub const CHANNEL: &str = "zinovia_live";

/// A conversation row.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: Uuid,
    pub creator_id: Uuid,
    pub fan_id: Uuid,
    pub last_message_at: Option<DateTime<Utc>>,
    pub creator_unread: i32,
    pub fan_unread: i32,
    pub creator_read_at: Option<DateTime<Utc>>,
    pub fan_read_at: Option<DateTime<Utc>>,
}

/// The conversation of `creator` and `fan`, made if there is none.
pub async fn conversation_of(
    conn: &mut PgConnection,
    creator: Uuid,
    fan: Uuid,
) -> Result<ConversationRow, sqlx::Error> {
    sqlx::query!(
        "insert into conversations (id, creator_id, fan_id) values ($1, $2, $3) on conflict do nothing",
        Uuid::now_v7(),
        creator,
        fan
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_as!(
        ConversationRow,
        r#"select id, creator_id, fan_id, last_message_at, creator_unread, fan_unread,
                  creator_read_at, fan_read_at
           from conversations where creator_id = $1 and fan_id = $2"#,
        creator,
        fan
    )
    .fetch_one(conn)
    .await
}

/// A conversation by id.
pub async fn conversation(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as!(
        ConversationRow,
        r#"select id, creator_id, fan_id, last_message_at, creator_unread, fan_unread,
                  creator_read_at, fan_read_at
           from conversations where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// A message to insert.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub body: &'a str,
    pub price_minor: Option<i32>,
    pub tip_minor: Option<i32>,
    pub currency: Option<&'a str>,
    pub welcome: bool,
    pub media: &'a [Uuid],
    pub created_at: DateTime<Utc>,
}

/// Inserts a message with its media and counts it in the conversation (last message, the
/// recipient's unread count). Answers false where a welcome message was there already.
pub async fn insert_message(
    conn: &mut PgConnection,
    m: &NewMessage<'_>,
    to_creator: bool,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        r#"insert into messages (id, conversation_id, sender_id, body, price_minor, tip_minor, currency, welcome, created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           on conflict (conversation_id) where welcome do nothing"#,
        m.id,
        m.conversation_id,
        m.sender_id,
        m.body,
        m.price_minor,
        m.tip_minor,
        m.currency,
        m.welcome,
        m.created_at
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        return Ok(false);
    }
    if !m.media.is_empty() {
        sqlx::query!(
            r#"insert into message_media (message_id, position, asset_id)
               select $1, (n - 1)::smallint, a from unnest($2::uuid[]) with ordinality as t(a, n)"#,
            m.id,
            m.media
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        r#"update conversations set last_message_at = now(), last_message_id = $2,
             creator_unread = creator_unread + case when $3 then 1 else 0 end,
             fan_unread = fan_unread + case when $3 then 0 else 1 end
           where id = $1"#,
        m.conversation_id,
        m.id,
        to_creator
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Announces a live event to `user` when the transaction commits.
pub async fn notify(
    conn: &mut PgConnection,
    user: Uuid,
    event: &str,
    conversation: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_notify($1, $2)",
        CHANNEL,
        format!("{user} {event} {conversation}")
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One inbox row.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: Uuid,
    pub creator_id: Uuid,
    pub fan_id: Uuid,
    pub last_message_at: Option<DateTime<Utc>>,
    pub unread: i32,
    pub other_read_at: Option<DateTime<Utc>>,
    pub other_name: String,
    pub handle: Option<String>,
    pub avatar_id: Option<Uuid>,
    pub last_body: Option<String>,
    pub last_price: Option<i32>,
    pub last_tip: Option<i32>,
    pub last_media: Option<i64>,
    pub last_unsent: bool,
    pub blocked: bool,
}

/// `user`'s conversations with a message, newest first, after the keyset `after`.
pub async fn inbox(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<InboxRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as!(
        InboxRow,
        r#"with c as (
             (select id, creator_id, fan_id, last_message_at, last_message_id,
                     creator_unread as unread, fan_read_at as other_read_at
              from conversations
              where creator_id = $1 and last_message_at is not null
                and ($2::timestamptz is null or (last_message_at, id) < ($2, $3))
              order by last_message_at desc, id desc limit $4)
             union all
             (select id, creator_id, fan_id, last_message_at, last_message_id,
                     fan_unread, creator_read_at
              from conversations
              where fan_id = $1 and last_message_at is not null
                and ($2::timestamptz is null or (last_message_at, id) < ($2, $3))
              order by last_message_at desc, id desc limit $4))
           select c.id as "id!", c.creator_id as "creator_id!", c.fan_id as "fan_id!",
                  c.last_message_at, c.unread as "unread!", c.other_read_at,
                  case when c.creator_id = $1 then u.display_name else cr.display_name end as "other_name!",
                  case when c.creator_id = $1 then null else cr.handle end as handle,
                  case when c.creator_id = $1 then null else cr.avatar_id end as avatar_id,
                  m.body as "last_body?", m.price_minor as last_price, m.tip_minor as last_tip,
                  (select count(*) from message_media mm where mm.message_id = m.id) as last_media,
                  coalesce(m.unsent_at is not null, false) as "last_unsent!",
                  exists (select 1 from message_blocks b where b.creator_id = c.creator_id and b.fan_id = c.fan_id) as "blocked!"
           from c
           join users u on u.id = c.fan_id
           join creators cr on cr.user_id = c.creator_id
           left join messages m on m.id = c.last_message_id
           order by c.last_message_at desc, c.id desc
           limit $4"#,
        user,
        at,
        id,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Unread messages to `user` across their conversations.
pub async fn unread_total(conn: &mut PgConnection, user: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select (coalesce((select sum(creator_unread) from conversations where creator_id = $1 and creator_unread > 0), 0)
                 + coalesce((select sum(fan_unread) from conversations where fan_id = $1 and fan_unread > 0), 0))::bigint as "n!""#,
        user
    )
    .fetch_one(conn)
    .await
}

/// A message row.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub body: String,
    pub price_minor: Option<i32>,
    pub tip_minor: Option<i32>,
    pub currency: Option<String>,
    pub mass_message_id: Option<Uuid>,
    pub welcome: bool,
    pub unsent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// How many media items it carries.
    pub media_count: i64,
}

/// A thread's messages before `before` (newest first), or after `after` (oldest first).
pub async fn messages(
    conn: &mut PgConnection,
    conversation: Uuid,
    before: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, sender_id, body, price_minor, tip_minor, currency,
                  mass_message_id, welcome, unsent_at, created_at,
                  (select count(*) from message_media mm where mm.message_id = messages.id) as "media_count!"
           from messages
           where conversation_id = $1 and ($2::uuid is null or id < $2) and ($3::uuid is null or id > $3)
           order by case when $3::uuid is null then id end desc, id asc
           limit $4"#,
        conversation,
        before,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One message.
pub async fn message(conn: &mut PgConnection, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"select id, conversation_id, sender_id, body, price_minor, tip_minor, currency,
                  mass_message_id, welcome, unsent_at, created_at,
                  (select count(*) from message_media mm where mm.message_id = messages.id) as "media_count!"
           from messages where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// One message with its conversation, in one statement (live delivery reads it per event).
pub async fn message_in_conversation(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<(MessageRow, ConversationRow)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select m.id, m.conversation_id, m.sender_id, m.body, m.price_minor, m.tip_minor, m.currency,
                  m.mass_message_id, m.welcome, m.unsent_at, m.created_at,
                  (select count(*) from message_media mm where mm.message_id = m.id) as "media_count!",
                  c.creator_id, c.fan_id, c.last_message_at, c.creator_unread, c.fan_unread,
                  c.creator_read_at, c.fan_read_at
           from messages m join conversations c on c.id = m.conversation_id
           where m.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        (
            MessageRow {
                id: r.id,
                conversation_id: r.conversation_id,
                sender_id: r.sender_id,
                body: r.body,
                price_minor: r.price_minor,
                tip_minor: r.tip_minor,
                currency: r.currency,
                mass_message_id: r.mass_message_id,
                welcome: r.welcome,
                unsent_at: r.unsent_at,
                created_at: r.created_at,
                media_count: r.media_count,
            },
            ConversationRow {
                id: r.conversation_id,
                creator_id: r.creator_id,
                fan_id: r.fan_id,
                last_message_at: r.last_message_at,
                creator_unread: r.creator_unread,
                fan_unread: r.fan_unread,
                creator_read_at: r.creator_read_at,
                fan_read_at: r.fan_read_at,
            },
        )
    }))
}

/// A message's media item, with the asset's preview facts.
#[derive(Debug, Clone)]
pub struct MediaRow {
    pub message_id: Uuid,
    pub position: i16,
    pub asset_id: Uuid,
    pub kind: Kind,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub blurhash: Option<String>,
}

/// The media of these messages, in order.
pub async fn media_of(
    conn: &mut PgConnection,
    messages: &[Uuid],
) -> Result<Vec<MediaRow>, sqlx::Error> {
    sqlx::query_as!(
        MediaRow,
        r#"select mm.message_id, mm.position, a.id as asset_id, a.kind as "kind: Kind", a.width, a.height,
                  a.duration_ms, a.blurhash
           from message_media mm join media_assets a on a.id = mm.asset_id
           where mm.message_id = any($1) and a.state = 'ready'
           order by mm.message_id, mm.position"#,
        messages
    )
    .fetch_all(conn)
    .await
}

/// The messages among `messages` that `fan` bought (paid, not refunded or disputed).
pub async fn bought(
    conn: &mut PgConnection,
    fan: Uuid,
    messages: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select message_id from message_purchases where fan_id = $1 and message_id = any($2) and status = 'paid'",
        fan,
        messages
    )
    .fetch_all(conn)
    .await
}

/// Marks the conversation read by one side (counter to zero, read time now). Answers
/// whether anything was unread.
pub async fn mark_read(
    conn: &mut PgConnection,
    conversation: Uuid,
    as_creator: bool,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query!(
        r#"update conversations set
             creator_unread = case when $2 then 0 else creator_unread end,
             creator_read_at = case when $2 then now() else creator_read_at end,
             fan_unread = case when $2 then fan_unread else 0 end,
             fan_read_at = case when $2 then fan_read_at else now() end
           where id = $1 and (case when $2 then creator_unread else fan_unread end) > 0"#,
        conversation,
        as_creator
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Who may write to `creator` and whether `fan` may now, with the block.
#[derive(Debug, Clone)]
pub struct WriteRights {
    pub messages_from: MessagesFrom,
    pub subscribed: bool,
    pub blocked: bool,
    pub fan_of: bool,
}

/// What decides whether `fan` and `creator` may write to each other.
pub async fn write_rights(
    conn: &mut PgConnection,
    creator: Uuid,
    fan: Uuid,
    grace: std::time::Duration,
    for_creator: bool,
) -> Result<Option<WriteRights>, sqlx::Error> {
    sqlx::query_as!(
        WriteRights,
        r#"select cr.messages_from as "messages_from: MessagesFrom",
                  exists (select 1 from subscriptions s where s.fan_id = $2 and s.creator_id = $1
                          and subscription_grants(s.status, s.current_period_end, s.past_due_since,
                                                  s.revoked_at, make_interval(secs => $3), now())) as "subscribed!",
                  exists (select 1 from message_blocks b where b.creator_id = $1 and b.fan_id = $2) as "blocked!",
                  -- Only a creator writing needs it (a fan's checks are the three above).
                  ($4 and (exists (select 1 from subscriptions s where s.fan_id = $2 and s.creator_id = $1)
                   or exists (select 1 from ledger_entries e where e.creator_id = $1 and e.fan_id = $2)
                   or exists (select 1 from conversations c join messages m on m.conversation_id = c.id
                              where c.creator_id = $1 and c.fan_id = $2 and m.sender_id = $2))) as "fan_of!"
           from creators cr join users u on u.id = $2 and u.deleted_at is null and u.suspended_at is null
           where cr.user_id = $1"#,
        creator,
        fan,
        grace.as_secs_f64(),
        for_creator
    )
    .fetch_optional(conn)
    .await
}

/// The creator's rule for who may write and the welcome message.
#[derive(Debug, Clone)]
pub struct CreatorMessaging {
    pub messages_from: MessagesFrom,
    pub welcome_message: Option<String>,
    pub welcome_media: Vec<Uuid>,
    pub welcome_price_minor: Option<i32>,
    pub currency: String,
}

/// A creator's messaging settings.
pub async fn creator_messaging(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<Option<CreatorMessaging>, sqlx::Error> {
    sqlx::query_as!(
        CreatorMessaging,
        r#"select messages_from as "messages_from: MessagesFrom", welcome_message, welcome_media,
                  welcome_price_minor, currency
           from creators where user_id = $1"#,
        creator
    )
    .fetch_optional(conn)
    .await
}

/// Sets a creator's messaging settings (the creators row's messaging columns belong to
/// messaging).
pub async fn set_creator_messaging(
    conn: &mut PgConnection,
    creator: Uuid,
    messages_from: MessagesFrom,
    welcome: Option<&str>,
    media: &[Uuid],
    price: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update creators set messages_from = $2, welcome_message = $3, welcome_media = $4,
             welcome_price_minor = $5 where user_id = $1"#,
        creator,
        messages_from.as_str(),
        welcome,
        media,
        price
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Blocks or unblocks.
pub async fn set_block(
    conn: &mut PgConnection,
    creator: Uuid,
    fan: Uuid,
    block: bool,
) -> Result<(), sqlx::Error> {
    if block {
        sqlx::query!(
            "insert into message_blocks (creator_id, fan_id) values ($1, $2) on conflict do nothing",
            creator,
            fan
        )
        .execute(conn)
        .await?;
    } else {
        sqlx::query!(
            "delete from message_blocks where creator_id = $1 and fan_id = $2",
            creator,
            fan
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Marks a message unsent.
pub async fn unsend(conn: &mut PgConnection, message: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!(
        "update messages set unsent_at = now() where id = $1 and unsent_at is null",
        message
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// A paid message's offer: its creator, price and currency, if `fan` is its recipient and
/// it is still sent.
pub async fn offer(
    conn: &mut PgConnection,
    message: Uuid,
    fan: Uuid,
) -> Result<Option<(Uuid, i32, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select c.creator_id, m.price_minor as "price!", m.currency as "currency!"
           from messages m join conversations c on c.id = m.conversation_id
           join users cu on cu.id = c.creator_id and cu.deleted_at is null and cu.suspended_at is null
           where m.id = $1 and c.fan_id = $2 and m.sender_id = c.creator_id
             and m.price_minor is not null and m.unsent_at is null"#,
        message,
        fan
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.creator_id, r.price, r.currency)))
}

/// The messages (facts for the rule) that show `asset`.
pub async fn messages_with_asset(
    conn: &mut PgConnection,
    asset: Uuid,
    viewer: Uuid,
) -> Result<Vec<(Uuid, Uuid, Uuid, bool, bool)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select m.id, c.creator_id, c.fan_id, m.price_minor is not null as "priced!",
                  m.unsent_at is not null as "unsent!"
           from message_media mm join messages m on m.id = mm.message_id
           join conversations c on c.id = m.conversation_id
           where mm.asset_id = $1 and (c.fan_id = $2 or c.creator_id = $2)
           limit 100"#,
        asset,
        viewer
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.creator_id, r.fan_id, r.priced, r.unsent))
        .collect())
}

/// A mass message to insert.
#[derive(Debug, Clone)]
pub struct NewMass<'a> {
    pub id: Uuid,
    pub creator_id: Uuid,
    pub body: &'a str,
    pub media: &'a [Uuid],
    pub price_minor: Option<i32>,
    pub currency: Option<&'a str>,
    pub segment: Segment,
    pub min_spend_minor: Option<i64>,
    pub post_id: Option<Uuid>,
    pub send_at: DateTime<Utc>,
}

/// Records a mass message (scheduled).
pub async fn insert_mass(conn: &mut PgConnection, m: &NewMass<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into mass_messages (id, creator_id, body, media, price_minor, currency, segment,
                                      min_spend_minor, post_id, send_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        m.id,
        m.creator_id,
        m.body,
        m.media,
        m.price_minor,
        m.currency,
        m.segment.as_str(),
        m.min_spend_minor,
        m.post_id,
        m.send_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A mass message row.
#[derive(Debug, Clone)]
pub struct MassRow {
    pub id: Uuid,
    pub creator_id: Uuid,
    pub body: String,
    pub media: Vec<Uuid>,
    pub price_minor: Option<i32>,
    pub currency: Option<String>,
    pub segment: Segment,
    pub min_spend_minor: Option<i64>,
    pub post_id: Option<Uuid>,
    pub send_at: DateTime<Utc>,
    pub status: MassStatus,
    pub cursor: Option<Uuid>,
    pub sent_count: i32,
    pub created_at: DateTime<Utc>,
}

/// A mass message, locked for its delivery.
pub async fn mass_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<MassRow>, sqlx::Error> {
    sqlx::query_as!(
        MassRow,
        r#"select id, creator_id, body, media, price_minor, currency, segment as "segment: Segment",
                  min_spend_minor, post_id, send_at, status as "status: MassStatus", cursor,
                  sent_count, created_at
           from mass_messages where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The fans of `creator`'s segment after `cursor` (in id order), at most `limit`: never
/// blocked ones, never closed accounts.
pub async fn segment_fans(
    conn: &mut PgConnection,
    m: &MassRow,
    cursor: Option<Uuid>,
    limit: i64,
    grace: std::time::Duration,
) -> Result<Vec<Uuid>, sqlx::Error> {
    segment(
        conn,
        m.creator_id,
        m.segment,
        m.min_spend_minor,
        m.post_id,
        cursor,
        limit,
        grace,
    )
    .await
}

/// The fans of a segment after `cursor` in id order (see [`segment_fans`]).
#[expect(clippy::too_many_arguments, reason = "a segment is its parameters")]
pub async fn segment(
    conn: &mut PgConnection,
    creator: Uuid,
    segment: Segment,
    min_spend: Option<i64>,
    post: Option<Uuid>,
    cursor: Option<Uuid>,
    limit: i64,
    grace: std::time::Duration,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with granted as (
             select distinct s.fan_id from subscriptions s
             where s.creator_id = $1
               and subscription_grants(s.status, s.current_period_end, s.past_due_since, s.revoked_at,
                                       make_interval(secs => $7), now())),
           candidates as (
             select fan_id from granted where $2 = 'active'
             union
             select distinct s.fan_id from subscriptions s
             where $2 = 'expired' and s.creator_id = $1 and s.fan_id not in (select fan_id from granted)
             union
             select e.fan_id from ledger_entries e
             where $2 = 'spenders' and e.creator_id = $1 and e.fan_id is not null
               and e.kind in ('subscription', 'ppv', 'tip', 'message', 'refund', 'dispute')
             group by e.fan_id having sum(e.gross_minor) > coalesce($3::bigint, 0)
             union
             select pp.fan_id from post_purchases pp join posts p on p.id = pp.post_id
             where $2 = 'buyers' and pp.post_id = $4 and p.creator_id = $1 and pp.status = 'paid')
           select c.fan_id as "fan_id!" from candidates c
           join users u on u.id = c.fan_id and u.deleted_at is null and u.suspended_at is null
           where ($5::uuid is null or c.fan_id > $5) and c.fan_id <> $1
             and not exists (select 1 from message_blocks b where b.creator_id = $1 and b.fan_id = c.fan_id)
           order by c.fan_id
           limit $6"#,
        creator,
        segment.as_str(),
        min_spend,
        post,
        cursor,
        limit,
        grace.as_secs_f64()
    )
    .fetch_all(conn)
    .await
}

/// Delivers one chunk of a mass message to `fans`: a conversation each (made where
/// missing), the message once per conversation (a retried chunk inserts nothing twice),
/// its media, the counters; announces each new message. Answers how many were new.
pub async fn deliver_chunk(
    conn: &mut PgConnection,
    m: &MassRow,
    fans: &[Uuid],
) -> Result<i64, sqlx::Error> {
    let new_conversations: Vec<Uuid> = fans.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!(
        r#"insert into conversations (id, creator_id, fan_id)
           select c, $1, f from unnest($2::uuid[], $3::uuid[]) as t(f, c)
           on conflict (creator_id, fan_id) do nothing"#,
        m.creator_id,
        fans,
        &new_conversations
    )
    .execute(&mut *conn)
    .await?;
    let message_ids: Vec<Uuid> = fans.iter().map(|_| Uuid::now_v7()).collect();
    let n = sqlx::query_scalar!(
        r#"with targets as (
             select c.id as conversation_id, t.mid, c.fan_id
             from unnest($2::uuid[], $3::uuid[]) as t(f, mid)
             join conversations c on c.creator_id = $1 and c.fan_id = t.f),
           ins as (
             insert into messages (id, conversation_id, sender_id, body, price_minor, currency, mass_message_id)
             select t.mid, t.conversation_id, $1, $4, $5, $6, $7 from targets t
             on conflict (mass_message_id, conversation_id) do nothing
             returning id, conversation_id),
           media as (
             insert into message_media (message_id, position, asset_id)
             select ins.id, (a.n - 1)::smallint, a.asset from ins, unnest($8::uuid[]) with ordinality as a(asset, n)),
           counted as (
             update conversations c set last_message_at = now(), last_message_id = ins.id,
                    fan_unread = c.fan_unread + 1
             from ins where c.id = ins.conversation_id
             returning c.fan_id, c.id)
           select count(pg_notify($9, counted.fan_id::text || ' message ' || counted.id::text)) as "n!"
           from counted"#,
        m.creator_id,
        fans,
        &message_ids,
        m.body,
        m.price_minor,
        m.currency,
        m.id,
        &m.media,
        CHANNEL
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Moves a mass message's cursor after a delivered chunk.
pub async fn advance(
    conn: &mut PgConnection,
    id: Uuid,
    cursor: Uuid,
    delivered: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update mass_messages set cursor = $2, sent_count = sent_count + $3::bigint::integer,
             status = 'sending' where id = $1"#,
        id,
        cursor,
        delivered
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a mass message's status.
pub async fn set_mass_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: MassStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update mass_messages set status = $2, unsent_at = case when $2 = 'unsent' then now() else unsent_at end where id = $1",
        id,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Unsends every message of a mass message its fan has not bought; answers their fans and
/// conversations.
pub async fn unsend_mass(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"update messages m set unsent_at = now()
           from conversations c
           where m.mass_message_id = $1 and c.id = m.conversation_id and m.unsent_at is null
             and not exists (select 1 from message_purchases p where p.message_id = m.id and p.status = 'paid')
           returning c.fan_id, c.id"#,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.fan_id, r.id)).collect())
}

/// A creator's mass messages with their figures, newest first.
pub async fn mass_messages(
    conn: &mut PgConnection,
    creator: Uuid,
    id: Option<Uuid>,
) -> Result<Vec<(MassRow, i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select mm.id, mm.creator_id, mm.body, mm.media, mm.price_minor, mm.currency,
                  mm.segment as "segment: Segment", mm.min_spend_minor, mm.post_id, mm.send_at,
                  mm.status as "status: MassStatus", mm.cursor, mm.sent_count, mm.created_at,
                  (select count(*) from messages m join conversations c on c.id = m.conversation_id
                   where m.mass_message_id = mm.id and c.fan_read_at >= m.created_at) as "read!",
                  (select count(*) from messages m join message_purchases p on p.message_id = m.id
                   where m.mass_message_id = mm.id and p.status = 'paid') as "unlocked!",
                  (select coalesce(sum(p.amount_minor), 0) from messages m join message_purchases p on p.message_id = m.id
                   where m.mass_message_id = mm.id and p.status = 'paid')::bigint as "revenue!"
           from mass_messages mm
           where mm.creator_id = $1 and ($2::uuid is null or mm.id = $2)
           order by mm.created_at desc limit 100"#,
        creator,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                MassRow {
                    id: r.id,
                    creator_id: r.creator_id,
                    body: r.body,
                    media: r.media,
                    price_minor: r.price_minor,
                    currency: r.currency,
                    segment: r.segment,
                    min_spend_minor: r.min_spend_minor,
                    post_id: r.post_id,
                    send_at: r.send_at,
                    status: r.status,
                    cursor: r.cursor,
                    sent_count: r.sent_count,
                    created_at: r.created_at,
                },
                r.read,
                r.unlocked,
                r.revenue,
            )
        })
        .collect())
}

/// A vault row.
#[derive(Debug, Clone)]
pub struct VaultRow {
    pub id: Uuid,
    pub kind: Kind,
    pub tags: Vec<String>,
    pub posts: Vec<Uuid>,
    pub messages: i64,
    pub sent_to_fan: bool,
    pub bought_by_fan: bool,
    pub created_at: DateTime<Utc>,
}

/// The creator's ready content media, newest first, optionally with one tag, and the
/// markers for one fan.
pub async fn vault(
    conn: &mut PgConnection,
    creator: Uuid,
    tag: Option<&str>,
    fan: Option<Uuid>,
    limit: i64,
) -> Result<Vec<VaultRow>, sqlx::Error> {
    sqlx::query_as!(
        VaultRow,
        r#"select a.id, a.kind as "kind: Kind", a.created_at,
                  coalesce((select array_agg(t.tag order by t.tag) from vault_tags t where t.asset_id = a.id), '{}') as "tags!",
                  coalesce((select array_agg(pm.post_id) from post_media pm join posts p on p.id = pm.post_id
                            where pm.asset_id = a.id and p.deleted_at is null), '{}') as "posts!",
                  (select count(*) from message_media mm where mm.asset_id = a.id) as "messages!",
                  ($4::uuid is not null and exists (
                     select 1 from message_media mm join messages m on m.id = mm.message_id
                     join conversations c on c.id = m.conversation_id
                     where mm.asset_id = a.id and c.creator_id = $1 and c.fan_id = $4 and m.unsent_at is null)) as "sent_to_fan!",
                  ($4::uuid is not null and (exists (
                     select 1 from message_media mm join message_purchases p on p.message_id = mm.message_id
                     where mm.asset_id = a.id and p.fan_id = $4 and p.status = 'paid')
                   or exists (
                     select 1 from post_media pm join post_purchases pp on pp.post_id = pm.post_id
                     where pm.asset_id = a.id and pp.fan_id = $4 and pp.status = 'paid'))) as "bought_by_fan!"
           from media_assets a
           where a.owner_id = $1 and a.purpose = 'post' and a.state = 'ready'
             and ($2::text is null or exists (select 1 from vault_tags t where t.asset_id = a.id and t.tag = $2))
           order by a.created_at desc, a.id desc
           limit $3"#,
        creator,
        tag,
        limit,
        fan
    )
    .fetch_all(conn)
    .await
}

/// Replaces an asset's tags.
pub async fn set_tags(
    conn: &mut PgConnection,
    asset: Uuid,
    tags: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from vault_tags where asset_id = $1", asset)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "insert into vault_tags (asset_id, tag) select $1, unnest($2::text[]) on conflict do nothing",
        asset,
        tags
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Messages to `user` after `after` (a reconnecting live stream's missed events), oldest
/// first: (recipient side's conversation, message id).
pub async fn missed(
    conn: &mut PgConnection,
    user: Uuid,
    after: Uuid,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select m.conversation_id, m.id from messages m
           join conversations c on c.id = m.conversation_id
           where (c.fan_id = $1 or c.creator_id = $1) and m.sender_id <> $1 and m.id > $2
           order by m.id limit $3"#,
        user,
        after,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.conversation_id, r.id))
        .collect())
}

/// The other side of a conversation as one side sees it.
#[derive(Debug, Clone)]
pub struct PartyRow {
    pub name: String,
    pub handle: Option<String>,
    pub avatar_id: Option<Uuid>,
    pub blocked: bool,
}

/// The other side of a conversation for the creator (`as_creator`) or the fan.
pub async fn conversation_party(
    conn: &mut PgConnection,
    conversation: Uuid,
    as_creator: bool,
) -> Result<PartyRow, sqlx::Error> {
    sqlx::query_as!(
        PartyRow,
        r#"select case when $2 then u.display_name else cr.display_name end as "name!",
                  case when $2 then null else cr.handle end as handle,
                  case when $2 then null else cr.avatar_id end as avatar_id,
                  exists (select 1 from message_blocks b where b.creator_id = c.creator_id and b.fan_id = c.fan_id) as "blocked!"
           from conversations c join users u on u.id = c.fan_id join creators cr on cr.user_id = c.creator_id
           where c.id = $1"#,
        conversation,
        as_creator
    )
    .fetch_one(conn)
    .await
}

/// The ones among `assets` that are still `owner`'s ready content media, in their order.
pub async fn ready_of(
    conn: &mut PgConnection,
    owner: Uuid,
    assets: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select a.id as "id!" from unnest($2::uuid[]) with ordinality as t(id, n)
           join media_assets a on a.id = t.id
           where a.owner_id = $1 and a.purpose = 'post' and a.state = 'ready'
           order by t.n"#,
        owner,
        assets
    )
    .fetch_all(conn)
    .await
}

/// How many fans a segment reaches now.
pub async fn segment_count(
    conn: &mut PgConnection,
    creator: Uuid,
    seg: Segment,
    min_spend: Option<i64>,
    post: Option<Uuid>,
    grace: std::time::Duration,
) -> Result<i64, sqlx::Error> {
    let fans = segment(conn, creator, seg, min_spend, post, None, i64::MAX, grace).await?;
    Ok(i64::try_from(fans.len()).unwrap_or(i64::MAX))
}

/// Whether `post` is `creator`'s (not deleted).
pub async fn post_of(
    conn: &mut PgConnection,
    post: Uuid,
    creator: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from posts where id = $1 and creator_id = $2 and deleted_at is null) as "x!""#,
        post,
        creator
    )
    .fetch_one(conn)
    .await
}

/// People with messages unread since before `quiet` ago and nothing newer, who want emails
/// and were not emailed since: (person, unread count), at most `limit`.
pub async fn due_unread_emails(
    conn: &mut PgConnection,
    quiet: std::time::Duration,
    limit: i64,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"with unread as (
             select creator_id as user_id, creator_unread::bigint as n, last_message_at as at
             from conversations where creator_unread > 0
             union all
             select fan_id, fan_unread::bigint, last_message_at from conversations where fan_unread > 0),
           per as (select user_id, sum(n)::bigint as n, max(at) as last from unread group by user_id)
           select per.user_id as "user_id!", per.n as "n!" from per
           join users u on u.id = per.user_id and u.deleted_at is null and u.suspended_at is null
           left join message_email_prefs p on p.user_id = per.user_id
           where per.last < now() - make_interval(secs => $1)
             and coalesce(p.emails, true)
             and (p.last_sent_at is null or p.last_sent_at < per.last)
           limit $2"#,
        quiet.as_secs_f64(),
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.n)).collect())
}

/// Records that `user` is being emailed now.
pub async fn emailed(conn: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into message_email_prefs (user_id, last_sent_at) values ($1, now())
           on conflict (user_id) do update set last_sent_at = now()"#,
        user
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `user` wants emails about unread messages.
pub async fn wants_emails(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "select emails from message_email_prefs where user_id = $1",
        user
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or(true))
}

/// Turns `user`'s unread-message emails on or off.
pub async fn set_wants_emails(
    conn: &mut PgConnection,
    user: Uuid,
    emails: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into message_email_prefs (user_id, emails) values ($1, $2)
           on conflict (user_id) do update set emails = excluded.emails"#,
        user,
        emails
    )
    .execute(conn)
    .await?;
    Ok(())
}
