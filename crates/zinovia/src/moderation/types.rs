//! Reports' kinds and states.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

crate::database::text_enum! {
    /// Why something is reported.
    pub enum ReportCategory {
        /// Illegal content.
        Illegal = "illegal",
        /// Shared without consent.
        NonConsensual = "non_consensual",
        /// Depicts a minor.
        Underage = "underage",
        /// Someone else's work.
        Copyright = "copyright",
        /// Unwanted advertising.
        Spam = "spam",
        /// Anything else (say what in `details`).
        Other = "other",
    }
}

crate::database::text_enum! {
    /// What is reported.
    pub enum ReportSubject {
        /// A creator's profile (its id is the creator's account id).
        Profile = "profile",
        /// A post.
        Post = "post",
        /// A comment on a post.
        Comment = "comment",
        /// A message.
        Message = "message",
    }
}

crate::database::text_enum! {
    /// Where a report stands.
    pub enum ReportStatus {
        /// Waiting for a moderator.
        Open = "open",
        /// Looked at; nothing to do.
        Dismissed = "dismissed",
        /// Acted on (content removed, account suspended).
        Actioned = "actioned",
    }
}

crate::id::id_type! {
    /// A report's id.
    pub struct ReportId;
}

crate::database::text_enum! {
    /// What a moderator did.
    pub enum ActionKind {
        /// Hid a post, comment or message (its files kept under a legal hold).
        Remove = "remove",
        /// Suspended an account until restored.
        Suspend = "suspend",
        /// Banned an account (lifted by an administrator only).
        Ban = "ban",
    }
}

crate::database::text_enum! {
    /// Where an appeal stands.
    pub enum AppealStatus {
        /// Waiting for a moderator.
        Open = "open",
        /// The action was reversed.
        Granted = "granted",
        /// The action stands.
        Denied = "denied",
    }
}

crate::id::id_type! {
    /// A moderation action's id.
    pub struct ActionId;
}

crate::id::id_type! {
    /// An appeal's id.
    pub struct AppealId;
}

/// `days` business days (Monday to Friday) after `from`, at the same time of day: the SLA's
/// due time. A report made on a weekend starts counting on Monday.
pub fn business_days_after(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut t = from;
    let mut left = days;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_clock_skips_weekends() {
        // Thursday 3 December 2026, 10:00.
        let thu = Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap();
        assert_eq!(
            business_days_after(thu, 1),
            Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()
        );
        assert_eq!(
            business_days_after(thu, 2),
            Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap()
        );
        assert_eq!(
            business_days_after(thu, 7),
            Utc.with_ymd_and_hms(2026, 12, 14, 10, 0, 0).unwrap()
        );
        let sat = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        assert_eq!(
            business_days_after(sat, 1),
            Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
        );
        assert_eq!(business_days_after(sat, 0), sat);
    }
}
