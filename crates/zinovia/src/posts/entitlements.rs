//! THE entitlement rule: who may see a post's media. Every listing, the single post, the
//! feed and every media URL (`media::service`) decide through [`decide`]; nothing else
//! grants access to paid media.
//!
//! A viewer may see a post's media if they are its creator, or the post is public, or they
//! hold a subscription to the creator that grants access now (active or trialing, or past
//! due within `SUBSCRIPTION_GRACE`, its period not over, and not revoked for a refunded or
//! disputed payment), or they bought that
//! post (pay-per-view; a purchase survives a later change of visibility). Admins may see everything; what they see only as admins is audited.
//! Deleted posts are hidden from everyone; scheduled and expired ones from everyone but
//! their creator (and admins).

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

/// A subscription as stored.
#[derive(Debug, Clone)]
pub struct SubscriptionFacts {
    /// Provider status.
    pub status: String,
    /// Paid until.
    pub current_period_end: DateTime<Utc>,
    /// Past due since.
    pub past_due_since: Option<DateTime<Utc>>,
    /// Access withdrawn by us (its payment was disputed or refunded), whatever the status.
    pub revoked: bool,
}

impl SubscriptionFacts {
    /// Whether this subscription grants access at `now`.
    pub fn grants(&self, now: DateTime<Utc>, grace: Duration) -> bool {
        if self.revoked || self.current_period_end <= now {
            return false;
        }
        match self.status.as_str() {
            "active" | "trialing" => true,
            "past_due" => {
                let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
                self.past_due_since.is_some_and(|since| now < since + grace)
            }
            _ => false,
        }
    }
}

/// What a viewer holds: the creators whose subscription grants access now, and the posts
/// they bought (paid, not refunded or disputed).
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Creators subscribed to, with access now.
    pub subscribed: HashSet<Uuid>,
    /// Posts bought.
    pub bought: HashSet<Uuid>,
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
pub fn decide(
    viewer: Option<&User>,
    post: &PostFacts,
    grants: &Grants,
    now: DateTime<Utc>,
) -> Seen {
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
    let now = Utc::now();
    if !creators.is_empty() {
        let subs = db::subscriptions(conn.get().await?, viewer.id.0, Some(creators)).await?;
        grants.subscribed.extend(
            subs.into_iter()
                .filter(|(_, s)| s.grants(now, grace))
                .map(|(creator, _)| creator),
        );
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
    let now = Utc::now();
    Ok(db::subscriptions(conn, fan, None)
        .await?
        .into_iter()
        .filter(|(_, s)| s.grants(now, grace))
        .map(|(creator, _)| creator)
        .collect())
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

    fn sub(status: &str, end_in_h: i64, past_due_h_ago: Option<i64>) -> SubscriptionFacts {
        let now = Utc::now();
        SubscriptionFacts {
            status: status.into(),
            current_period_end: now + chrono::Duration::hours(end_in_h),
            past_due_since: past_due_h_ago.map(|h| now - chrono::Duration::hours(h)),
            revoked: false,
        }
    }

    #[test]
    fn subscriptions_grant_while_paid_or_within_grace() {
        let grace = Duration::from_secs(72 * 3600);
        let now = Utc::now();
        assert!(sub("active", 1, None).grants(now, grace));
        assert!(sub("trialing", 1, None).grants(now, grace));
        assert!(!sub("active", -1, None).grants(now, grace), "period over");
        assert!(sub("past_due", 24, Some(24)).grants(now, grace));
        assert!(
            !sub("past_due", 24, Some(100)).grants(now, grace),
            "grace over"
        );
        assert!(!sub("past_due", 24, None).grants(now, grace));
        for s in [
            "canceled",
            "unpaid",
            "incomplete",
            "incomplete_expired",
            "paused",
        ] {
            assert!(!sub(s, 24, None).grants(now, grace), "{s}");
        }
        let revoked = SubscriptionFacts {
            revoked: true,
            ..sub("active", 24, None)
        };
        assert!(!revoked.grants(now, grace), "payment disputed or refunded");
    }
}
