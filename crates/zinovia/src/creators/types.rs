//! A creator's handle and profile, validated, and the profile as it is answered.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::posts::{Price, VariantUrl};

/// Handles nobody may take: the site's own paths and words people would mistake for it.
const RESERVED: &[&str] = &[
    "about",
    "account",
    "admin",
    "administrator",
    "api",
    "app",
    "assets",
    "billing",
    "blog",
    "checkout",
    "creator",
    "creators",
    "dashboard",
    "docs",
    "explore",
    "feed",
    "healthz",
    "help",
    "home",
    "legal",
    "login",
    "logout",
    "mail",
    "me",
    "media",
    "messages",
    "metrics",
    "moderator",
    "notifications",
    "null",
    "official",
    "post",
    "posts",
    "privacy",
    "readyz",
    "reset_password",
    "root",
    "search",
    "security",
    "settings",
    "signup",
    "staff",
    "static",
    "storage",
    "support",
    "system",
    "terms",
    "undefined",
    "verify_email",
    "www",
    "zinovia",
];

/// A creator's handle: 3–30 of `[a-z0-9_]`, stored in lower case, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handle(String);

impl Handle {
    /// Validates a handle as typed (surrounding spaces and a leading `@` are dropped; case
    /// folds, so `Alice` and `alice` are the same handle).
    pub fn parse(raw: &str) -> Result<Handle, String> {
        let s = raw.trim();
        let s = s.strip_prefix('@').unwrap_or(s).to_ascii_lowercase();
        if s.is_empty() {
            return Err("is required".into());
        }
        if !(3..=30).contains(&s.chars().count()) {
            return Err("must be 3 to 30 characters".into());
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err("may contain only letters a-z, digits and _".into());
        }
        if RESERVED.contains(&s.as_str()) {
            return Err("is reserved; choose another".into());
        }
        Ok(Handle(s))
    }

    /// As stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A creator as stored.
#[derive(Debug, Clone)]
pub struct Creator {
    /// The user who is the creator.
    pub user_id: Uuid,
    /// Current handle.
    pub handle: String,
    /// Public name.
    pub display_name: String,
    /// About text (plain).
    pub bio: String,
    /// Profile picture (a ready image of theirs).
    pub avatar_id: Option<Uuid>,
    /// Banner (a ready image of theirs).
    pub banner_id: Option<Uuid>,
    /// Monthly price in minor units.
    pub price_minor: i32,
    /// ISO 4217.
    pub currency: String,
    /// Free days before the first charge.
    pub trial_days: i32,
    /// Sent to new subscribers.
    pub welcome_message: Option<String>,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_fold_case_and_refuse_what_they_must() {
        assert_eq!(Handle::parse(" @Alice_99 ").unwrap().as_str(), "alice_99");
        for bad in [
            "",
            "ab",
            "a-b-c",
            "héllo",
            "admin",
            "API",
            &"x".repeat(31),
            "a b c",
        ] {
            assert!(Handle::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}

/// Counts on a profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatorCounts {
    /// Published posts.
    pub posts: i64,
    /// Photos in them.
    pub images: i64,
    /// Videos in them.
    pub videos: i64,
    /// Subscribers with access now (the creator only).
    pub subscribers: Option<i64>,
}

/// A creator's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatorResponse {
    /// Current handle.
    pub handle: String,
    /// Public name.
    pub display_name: String,
    /// About (plain text).
    pub bio: String,
    /// About as safe HTML (escaped, links clickable).
    pub bio_html: String,
    /// Profile picture files (signed).
    pub avatar: Vec<VariantUrl>,
    /// Banner files (signed).
    pub banner: Vec<VariantUrl>,
    /// Monthly price.
    pub price: Price,
    /// Free trial days.
    pub trial_days: i32,
    /// The creator only: the welcome message.
    pub welcome_message: Option<String>,
    /// Counts.
    pub counts: CreatorCounts,
    /// Whether the caller is this creator.
    pub own: bool,
    /// Since when.
    pub created_at: DateTime<Utc>,
}
