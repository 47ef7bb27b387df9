//! THE entitlement rule: who may see a post's media. Every listing, the single post, the
//! feed and every media URL (`media::service`) decide through [`decide`]; nothing else
//! grants access to paid media.
//!
//! A viewer may see a post's media if they are its creator, or the post is public, or they
//! hold a subscription to the creator that grants access now, or they bought that post
//! (pay-per-view; a purchase survives a later change of visibility). Whether a
//! subscription grants access now is one SQL function, `subscription_grants` (migration
//! 0008: active or trialing, or past due within `SUBSCRIPTION_GRACE`; its period not over;
//! not revoked for a refunded or disputed payment or a closed account), which subscriber
//! counts use too; a fan may hold several subscriptions to one creator over time (the
//! rail's, one row each) and any one that passes grants. Admins may see everything; what they see only as admins is audited.
//! Deleted posts are hidden from everyone; scheduled and expired ones from everyone but
//! their creator (and admins).
//!
//! A message's media (ADR 0025) is decided here too: its creator sees it; its one recipient
//! sees a free message, and a paid one once bought (paid, not refunded or disputed); a
//! message its creator unsent is gone for a recipient who had not bought it. Nobody else —
//! not other fans, not admins — learns that the message exists: conversations are private
//! (moderators will see reported messages through the moderation queue).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db;
use super::types::Visibility;
use crate::accounts::{Role, User};
use crate::database::LazyConn;

/// What the rule needs to know about a post.
#[derive(Debug, Clone, Copy)]
pub struct PostFacts {
    /// The post.
    pub id: Uuid,
    /// Its creator.
    pub creator_id: Uuid,
    /// Who it is for.
    pub visibility: Visibility,
    /// When it appears.
    pub published_at: DateTime<Utc>,
    /// When it disappears.
    pub expires_at: Option<DateTime<Utc>>,
    /// Soft-deleted.
    pub deleted: bool,
}

/// What the rule needs to know about a message with media.
#[derive(Debug, Clone, Copy)]
pub struct MessageFacts {
    /// The message.
    pub id: Uuid,
    /// The creator of the conversation, who sent it.
    pub creator_id: Uuid,
    /// The fan it was sent to.
    pub fan_id: Uuid,
    /// Whether its media are sold (a price).
    pub priced: bool,
    /// The creator took it back.
    pub unsent: bool,
}

/// What is decided: a post, or a message (with media, sent by a creator).
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A post.
    Post(&'a PostFacts),
    /// A message.
    Message(&'a MessageFacts),
}

impl<'a> From<&'a PostFacts> for Subject<'a> {
    fn from(p: &'a PostFacts) -> Subject<'a> {
        Subject::Post(p)
    }
}

impl<'a> From<&'a MessageFacts> for Subject<'a> {
    fn from(m: &'a MessageFacts) -> Subject<'a> {
        Subject::Message(m)
    }
}

/// What a viewer holds: the creators whose subscription grants access now, and the posts
/// and messages they bought (paid, not refunded or disputed).
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Creators subscribed to, with access now.
    pub subscribed: HashSet<Uuid>,
    /// Posts bought.
    pub bought: HashSet<Uuid>,
    /// Messages bought.
    pub messages_bought: HashSet<Uuid>,
}

/// Why a viewer may see a post's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It is theirs.
    Creator,
    /// Everyone may.
    Public,
    /// A subscription.
    Subscriber,
    /// A purchase.
    Buyer,
    /// An admin, audited.
    Admin,
    /// The recipient of a free message.
    Recipient,
}

/// The decision for one viewer and one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not even listed (deleted, scheduled or expired): 404.
    Hidden,
    /// Listed with a blurred preview, no media URL.
    Locked,
    /// The media may be shown.
    Unlocked(Why),
}

impl Seen {
    /// Whether the media may be shown.
    pub fn unlocked(self) -> bool {
        matches!(self, Seen::Unlocked(_))
    }
}

/// The rule.
pub fn decide<'a>(
    viewer: Option<&User>,
    subject: impl Into<Subject<'a>>,
    grants: &Grants,
    now: DateTime<Utc>,
) -> Seen {
    let post = match subject.into() {
        Subject::Post(p) => p,
        Subject::Message(m) => return decide_message(viewer, m, grants),
    };
    if post.deleted {
        return Seen::Hidden;
    }
    let is_admin = viewer.is_some_and(|v| v.role == Role::Admin);
    if viewer.is_some_and(|v| v.id.0 == post.creator_id) {
        return Seen::Unlocked(Why::Creator);
    }
    let live = post.published_at <= now && post.expires_at.is_none_or(|e| e > now);
    if !live {
        return if is_admin {
            Seen::Unlocked(Why::Admin)
        } else {
            Seen::Hidden
        };
    }
    // A purchase keeps working if the creator later changes the post's visibility.
    if grants.bought.contains(&post.id) {
        return Seen::Unlocked(Why::Buyer);
    }
    match post.visibility {
        Visibility::Public => return Seen::Unlocked(Why::Public),
        Visibility::Subscribers if grants.subscribed.contains(&post.creator_id) => {
            return Seen::Unlocked(Why::Subscriber);
        }
        _ => {}
    }
    if is_admin {
        Seen::Unlocked(Why::Admin)
    } else {
        Seen::Locked
    }
}

/// The message case of [`decide`].
fn decide_message(viewer: Option<&User>, m: &MessageFacts, grants: &Grants) -> Seen {
    let Some(viewer) = viewer else {
        return Seen::Hidden;
    };
    if viewer.id.0 == m.creator_id {
        return Seen::Unlocked(Why::Creator);
    }
    if viewer.id.0 != m.fan_id {
        return Seen::Hidden;
    }
    // A purchase outlives an unsend: what was paid for stays.
    if grants.messages_bought.contains(&m.id) {
        return Seen::Unlocked(Why::Buyer);
    }
    if m.unsent {
        Seen::Hidden
    } else if m.priced {
        Seen::Locked
    } else {
        Seen::Unlocked(Why::Recipient)
    }
}

/// Who may like and comment: the creator, their subscribers, and buyers of the post —
/// never on a post the viewer cannot see.
pub fn may_interact(viewer: &User, post: &PostFacts, grants: &Grants, now: DateTime<Utc>) -> bool {
    decide(Some(viewer), post, grants, now).unlocked()
        && (viewer.id.0 == post.creator_id
            || grants.subscribed.contains(&post.creator_id)
            || grants.bought.contains(&post.id))
}

/// Loads what `viewer` holds among these creators and posts: at most two statements,
/// none for anonymous viewers.
pub async fn load_grants(
    conn: &mut LazyConn<'_>,
    viewer: Option<&User>,
    creators: &[Uuid],
    posts: &[Uuid],
    grace: Duration,
) -> Result<Grants, sqlx::Error> {
    let mut grants = Grants::default();
    let Some(viewer) = viewer else {
        return Ok(grants);
    };
    if !creators.is_empty() {
        let subscribed =
            db::subscribed_creators(conn.get().await?, viewer.id.0, Some(creators), grace).await?;
        grants.subscribed.extend(subscribed);
    }
    if !posts.is_empty() {
        grants
            .bought
            .extend(db::bought(conn.get().await?, viewer.id.0, posts).await?);
    }
    Ok(grants)
}

/// The creators whose subscription grants `fan` access now (for the feed).
pub async fn subscribed_creators(
    conn: &mut sqlx::PgConnection,
    fan: Uuid,
    grace: Duration,
) -> Result<Vec<Uuid>, sqlx::Error> {
    db::subscribed_creators(conn, fan, None, grace).await
}

/// Records what an admin saw only because they are an admin.
pub async fn audit_admin_views(
    pool: &sqlx::PgPool,
    admin: &User,
    posts: &[Uuid],
) -> Result<(), sqlx::Error> {
    if posts.is_empty() {
        return Ok(());
    }
    db::audit(pool, admin.id.0, "view_post_media", "post", posts).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::UserId;

    fn user(id: Uuid, role: Role) -> User {
        User {
            id: UserId(id),
            email: "x@example.com".into(),
            email_verified_at: None,
            display_name: "x".into(),
            role,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_message_is_seen_by_its_two_sides_only_and_a_purchase_outlives_an_unsend() {
        let (creator, fan, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let now = Utc::now();
        let m = |priced, unsent| MessageFacts {
            id: Uuid::now_v7(),
            creator_id: creator,
            fan_id: fan,
            priced,
            unsent,
        };
        let none = Grants::default();
        let seats = [
            (Some(user(creator, Role::Creator)), "creator"),
            (Some(user(fan, Role::Fan)), "fan"),
            (Some(user(other, Role::Fan)), "other"),
            (Some(user(other, Role::Admin)), "admin"),
            (None, "anonymous"),
        ];
        for (priced, unsent) in [(false, false), (true, false), (false, true), (true, true)] {
            let msg = m(priced, unsent);
            for (viewer, seat) in &seats {
                let seen = decide(viewer.as_ref(), &msg, &none, now);
                let expected = match *seat {
                    "creator" => Seen::Unlocked(Why::Creator),
                    "fan" if unsent => Seen::Hidden,
                    "fan" if priced => Seen::Locked,
                    "fan" => Seen::Unlocked(Why::Recipient),
                    _ => Seen::Hidden,
                };
                assert_eq!(seen, expected, "{seat} priced={priced} unsent={unsent}");
            }
            let bought = Grants {
                messages_bought: [msg.id].into(),
                ..Grants::default()
            };
            let fan_user = user(fan, Role::Fan);
            assert_eq!(
                decide(Some(&fan_user), &msg, &bought, now),
                Seen::Unlocked(Why::Buyer)
            );
            // Someone else holding the id as "bought" gains nothing.
            let other_user = user(other, Role::Fan);
            assert_eq!(decide(Some(&other_user), &msg, &bought, now), Seen::Hidden);
        }
    }
}
