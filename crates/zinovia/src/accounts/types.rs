//! Accounts' ids, roles and validated inputs. Every input from outside becomes one of these
//! through `parse`, which reports what is wrong in words a person can act on.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

/// Longest password accepted (characters). Long enough for any passphrase; bounded so a
/// hash cannot be made expensive on purpose.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Shortest password accepted (characters).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest display name (characters).
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

crate::id::id_type! {
    /// A user's id.
    pub struct UserId;
}

crate::id::id_type! {
    /// A session's id (not its token: the id is safe to show and log).
    pub struct SessionId;
}

crate::database::text_enum! {
    /// What an account may do.
    #[derive(clap::ValueEnum)]
    pub enum Role {
        /// Follows, subscribes, buys (everyone starts here).
        Fan = "fan",
        /// Publishes (set by becoming a creator).
        Creator = "creator",
        /// Reviews reports, verifications and content (set by an administrator).
        Moderator = "moderator",
        /// Operates the platform.
        Admin = "admin",
    }
}

/// A signed-up person, as the rest of the code sees them.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Email as typed at sign-up.
    pub email: String,
    /// When the email was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Public name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Collects field errors while parsing a request.
#[derive(Debug, Default)]
pub struct FieldCheck(crate::error::FieldErrors);

impl FieldCheck {
    /// Records `result`'s error under `field`; returns the value if it was fine.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(msg) => {
                self.add(field, msg);
                None
            }
        }
    }

    /// A free text field: trimmed, at most `max` characters, line breaks and tabs allowed
    /// (`\r\n` becomes `\n`), no other control characters (PostgreSQL refuses NUL); empty
    /// is an error when `required`.
    pub fn text(&mut self, field: &str, raw: &str, max: usize, required: bool) -> Option<String> {
        let s = raw.trim().replace("\r\n", "\n");
        if required && s.is_empty() {
            self.add(field, "is required");
            return None;
        }
        if s.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
            return None;
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.add(field, "must not contain control characters");
            return None;
        }
        Some(s)
    }

    /// Records an error.
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.entry(field.to_owned()).or_default().push(msg.into());
    }

    /// `Err(Validation)` if anything was recorded.
    pub fn finish(self) -> Result<(), crate::error::AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::error::AppError::Validation(self.0))
        }
    }
}

/// A syntactically valid email address. Compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates an address: one `@`, a plausible local part, a domain with a dot.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        if s.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        let invalid = || "is not a valid email address".to_owned();
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.chars().count() > 64 || domain.contains('@') {
            return Err(invalid());
        }
        let bad_local =
            |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c);
        if local.chars().any(bad_local)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let good_label = |l: &&str| {
            !l.is_empty()
                && l.chars().count() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(good_label) {
            return Err(invalid());
        }
        Ok(Email(s.to_owned()))
    }

    /// The address as typed (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address lowercased, as compared and stored for uniqueness.
    pub fn lower(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A display name: trimmed, 1–80 characters, no markup or invisible control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates a display name.
    pub fn parse(raw: &str) -> Result<DisplayName, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        if s.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(format!(
                "must be at most {MAX_DISPLAY_NAME_CHARS} characters"
            ));
        }
        // Bidirectional overrides and zero-width characters make one name look like another.
        let invisible = |c: char| {
            c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        };
        if s.chars().any(invisible) {
            return Err("must not contain control or invisible characters".into());
        }
        if s.contains(['<', '>']) {
            return Err("must not contain < or >".into());
        }
        Ok(DisplayName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the rules: 8–1024 characters, not a common password, not the
/// email address. No composition rules (ASVS 6.2.5); checked exactly as typed.
#[derive(Debug, Clone)]
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Validates a new password; `email` (when known) must not be the password.
    pub fn parse(raw: &str, email: Option<&str>) -> Result<NewPassword, String> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err("is required".into());
        }
        if chars < MIN_PASSWORD_CHARS {
            return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
        }
        let lower = raw.to_lowercase();
        if super::password::is_common(&lower) {
            return Err("is too common; choose a less guessable password".into());
        }
        if email.is_some_and(|e| e.trim().eq_ignore_ascii_case(raw.trim())) {
            return Err("must not be your email address".into());
        }
        Ok(NewPassword(SecretString::from(raw.to_owned())))
    }

    /// The password.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A password as typed for log-in or confirmation: only its length is bounded.
#[derive(Debug, Clone)]
pub struct GivenPassword(SecretString);

impl GivenPassword {
    /// Accepts any non-empty password up to the maximum length.
    pub fn parse(raw: &str) -> Result<GivenPassword, String> {
        if raw.is_empty() {
            return Err("is required".into());
        }
        if raw.chars().count() > MAX_PASSWORD_CHARS {
            return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
        }
        Ok(GivenPassword(SecretString::from(raw.to_owned())))
    }

    /// The password.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A token from an emailed link (verification or reset).
#[derive(Debug, Clone)]
pub struct LinkToken(SecretString);

impl LinkToken {
    /// Accepts a token of the shape we issue (43 URL-safe base64 characters).
    pub fn parse(raw: &str) -> Result<LinkToken, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("is required".into());
        }
        if s.len() > 128
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("is not a valid link; open the link from the email again".into());
        }
        Ok(LinkToken(SecretString::from(s.to_owned())))
    }

    /// The token.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "Jane.Doe+tag@Example.COM",
            "ünïcode@exämple.de",
            " padded@example.com ",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "plain",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@-x.com",
            "<script>@x.com",
            "x@example..com",
            "'; drop table users;--@x.com",
            ".a@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert_eq!(
            Email::parse("Jane@Example.com").unwrap().lower(),
            "jane@example.com"
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse("  Ana Lívia  ").unwrap().as_str(),
            "Ana Lívia"
        );
        assert!(
            DisplayName::parse("O'Brien & Sons; DROP TABLE").is_ok(),
            "text is data, not code"
        );
        for bad in [
            "",
            "   ",
            "<script>alert(1)</script>",
            "evil\u{202E}gnp.exe",
            "tab\there",
            "zero\u{200B}width",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DisplayName::parse(&"x".repeat(81)).is_err());
        assert!(
            DisplayName::parse(&"é".repeat(80)).is_ok(),
            "counted in characters, not bytes"
        );
    }

    #[test]
    fn new_passwords() {
        assert!(NewPassword::parse("correct horse battery staple", None).is_ok());
        assert!(
            NewPassword::parse(&"ü".repeat(64), None).is_ok(),
            "64+ characters allowed"
        );
        assert!(NewPassword::parse(&"x".repeat(1025), None).is_err());
        assert!(
            NewPassword::parse("short", None)
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            NewPassword::parse("password1", None)
                .unwrap_err()
                .contains("too common")
        );
        assert!(
            NewPassword::parse("PassWord1", None).is_err(),
            "the list is checked without case"
        );
        assert!(NewPassword::parse("me@example.com", Some("me@example.com")).is_err());
        // No composition rules: all lowercase letters is fine when long and uncommon.
        assert!(NewPassword::parse("zinoviapurplelighthouse", None).is_ok());
    }

    #[test]
    fn link_tokens() {
        assert!(LinkToken::parse("abcDEF123-_xyz").is_ok());
        assert!(LinkToken::parse("").is_err());
        assert!(LinkToken::parse("a b").is_err());
        assert!(LinkToken::parse("'; select 1;--").is_err());
    }
}
