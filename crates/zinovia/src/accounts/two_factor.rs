//! Two-factor sign-in (ADR 0028): enrolling an authenticator app, recovery codes, the
//! log-in challenge a password opens for accounts that use it, fresh codes before
//! sensitive changes, and turning it off. Every change is audited.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::db;
use super::service::{Authenticated, NewSession};
use super::totp;
use super::types::{Role, User, UserId};
use crate::crypto::{fingerprint, random_token};
use crate::error::AppError;
use crate::http::extract::ClientMeta;
use crate::state::AppState;

/// How long a log-in challenge waits for its second factor.
pub const CHALLENGE_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Wrong codes a challenge takes before it is void (the password must be typed again).
pub const CHALLENGE_ATTEMPTS: i32 = 5;
/// What an authenticator app shows as the account's issuer.
pub const ISSUER: &str = "Zinovia";

/// Whether an account of this role must sign in with two factors (operators).
pub fn required_for(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Moderator)
}

/// What a password opened for an account with two factors: a challenge, not a session.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The token to send back with the code (secret; shown once).
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a log-in with a password gives.
#[derive(Debug)]
pub enum LogIn {
    /// Signed in.
    Session(User, NewSession),
    /// The account uses two factors: send a code with this challenge.
    SecondFactor(Challenge),
}

/// An enrolment in progress: what the app needs, shown once.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The shared secret in base32 (for typing it in by hand).
    pub secret: String,
    /// The `otpauth://` URI.
    pub uri: String,
    /// The URI as a QR code (SVG).
    pub qr_svg: String,
}

/// An account's second factors.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    /// An authenticator app is enrolled.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// The account's role must use two factors.
    pub required: bool,
    /// The session asking signed in with a second factor.
    pub this_session: bool,
}

fn unix_now() -> i64 {
    Utc::now().timestamp()
}

async fn throttle(state: &AppState, user: UserId, client: &ClientMeta) -> Result<(), AppError> {
    let auth = &state.settings.auth;
    let ip = client
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let limiter = state.limiter()?;
    for (bucket, rate, key) in [
        ("second_factor_ip", auth.rate_limit_login_ip, ip),
        ("second_factor", auth.rate_limit_login, user.to_string()),
    ] {
        limiter
            .check(bucket, rate, &key)
            .await
            .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    }
    Ok(())
}

fn audit_entry<'a>(
    user: UserId,
    action: &'a str,
    client: &ClientMeta,
    details: serde_json::Value,
) -> crate::audit::Entry<'a> {
    crate::audit::Entry {
        actor: Some(user.0),
        action,
        subject_type: "user",
        subject_id: Some(user.0),
        reason: "",
        details,
        ip: client.ip,
    }
}

/// The account's second factors.
pub async fn status(state: &AppState, who: &Authenticated) -> Result<Status, AppError> {
    let (totp, left) = db::second_factors(&state.db, who.user.id).await?;
    Ok(Status {
        totp,
        recovery_codes_left: left,
        required: required_for(who.account_role()),
        this_session: who.second_factor,
    })
}

/// Starts (or restarts) enrolling an authenticator app: a new secret, waiting for its
/// first code. Refused while one is already on (turn it off first).
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn begin_totp(state: &AppState, who: &Authenticated) -> Result<TotpEnrolment, AppError> {
    let secret = totp::new_secret();
    let sealed = state.data_key()?.seal(who.user.id.0.as_bytes(), &secret);
    if !db::put_pending_totp(&state.db, who.user.id, &sealed).await? {
        return Err(AppError::Conflict(
            "two-factor sign-in is already on; turn it off first to enrol another app".into(),
        ));
    }
    let uri = totp::otpauth_uri(ISSUER, &who.user.email, &secret);
    let qr_svg =
        totp::qr_svg(&uri).map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    Ok(TotpEnrolment {
        secret: totp::base32(&secret),
        uri,
        qr_svg,
    })
}

fn open_secret(state: &AppState, user: UserId, sealed: &[u8]) -> Result<Vec<u8>, AppError> {
    state
        .data_key()?
        .open(user.0.as_bytes(), sealed)
        .map_err(|_| AppError::Internal(anyhow::anyhow!("a TOTP secret does not open")))
}

/// Finishes enrolment with the app's first code: two-factor sign-in is on, this session
/// counts as signed in with it, and ten recovery codes are made (returned once).
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn confirm_totp(
    state: &AppState,
    who: &Authenticated,
    code: &str,
    client: &ClientMeta,
) -> Result<Vec<String>, AppError> {
    throttle(state, who.user.id, client).await?;
    let mut tx = state.db.begin().await?;
    let Some((sealed, last_step, confirmed)) = db::totp_for_update(&mut tx, who.user.id).await?
    else {
        return Err(AppError::field("code", "start enrolment first"));
    };
    if confirmed {
        return Err(AppError::Conflict(
            "two-factor sign-in is already on".into(),
        ));
    }
    let secret = open_secret(state, who.user.id, &sealed)?;
    let Some(step) = totp::accept(&secret, code, unix_now(), last_step) else {
        return Err(AppError::field(
            "code",
            "is not the code your app shows now (check the phone's clock)",
        ));
    };
    db::confirm_totp(&mut tx, who.user.id, step).await?;
    let codes = replace_recovery_codes(&mut tx, who.user.id).await?;
    db::mark_second_factor(&mut *tx, who.session_id).await?;
    crate::audit::record(
        &mut *tx,
        &audit_entry(
            who.user.id,
            "account.two_factor_enabled",
            client,
            serde_json::json!({"method": "totp"}),
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!("two-factor sign-in turned on");
    Ok(codes)
}

async fn replace_recovery_codes(
    conn: &mut sqlx::PgConnection,
    user: UserId,
) -> Result<Vec<String>, AppError> {
    let codes: Vec<String> = (0..totp::RECOVERY_CODES)
        .map(|_| totp::new_recovery_code())
        .collect();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| fingerprint(&totp::normalize_code(c)))
        .collect();
    db::replace_recovery_codes(conn, user, &hashes).await?;
    Ok(codes)
}

/// Which second factor a code was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    /// The app's current code.
    Totp,
    /// A recovery code (now spent).
    RecoveryCode,
}

/// Checks a code (the app's or a recovery code) and spends it, in the caller's
/// transaction. `None`: wrong, already used, or no second factor on.
async fn spend_code(
    conn: &mut sqlx::PgConnection,
    state: &AppState,
    user: UserId,
    code: &str,
) -> Result<Option<Used>, AppError> {
    let Some((sealed, last_step, true)) = db::totp_for_update(&mut *conn, user).await? else {
        return Ok(None);
    };
    let secret = open_secret(state, user, &sealed)?;
    if let Some(step) = totp::accept(&secret, code, unix_now(), last_step) {
        db::advance_totp(&mut *conn, user, step).await?;
        return Ok(Some(Used::Totp));
    }
    let typed = totp::normalize_code(code);
    if typed.len() == 10 && db::spend_recovery_code(&mut *conn, user, &fingerprint(&typed)).await? {
        return Ok(Some(Used::RecoveryCode));
    }
    Ok(None)
}

/// Requires a fresh second-factor code from the caller before a sensitive change (a payout
/// method), throttled; an error on the field `code` otherwise. Accounts without two-factor
/// sign-in are told to turn it on.
pub async fn require_fresh_code(
    state: &AppState,
    who: &Authenticated,
    code: &str,
    client: &ClientMeta,
    why: &str,
) -> Result<(), AppError> {
    let (on, _) = db::second_factors(&state.db, who.user.id).await?;
    if !on {
        return Err(AppError::field(
            "code",
            format!("turn on two-factor sign-in (Account → Security) to {why}"),
        ));
    }
    if code.trim().is_empty() {
        return Err(AppError::field(
            "code",
            format!("a code from your authenticator app is required to {why}"),
        ));
    }
    throttle(state, who.user.id, client).await?;
    let mut tx = state.db.begin().await?;
    match spend_code(&mut tx, state, who.user.id, code).await? {
        Some(used) => {
            if used == Used::RecoveryCode {
                crate::audit::record(
                    &mut *tx,
                    &audit_entry(
                        who.user.id,
                        "account.recovery_code_used",
                        client,
                        serde_json::json!({}),
                    ),
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }
        None => Err(AppError::field(
            "code",
            "is not a current code or an unused recovery code",
        )),
    }
}

/// Ten new recovery codes (the old ones stop working), after a fresh code.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn new_recovery_codes(
    state: &AppState,
    who: &Authenticated,
    code: &str,
    client: &ClientMeta,
) -> Result<Vec<String>, AppError> {
    require_fresh_code(state, who, code, client, "make new recovery codes").await?;
    let mut tx = state.db.begin().await?;
    let codes = replace_recovery_codes(&mut tx, who.user.id).await?;
    crate::audit::record(
        &mut *tx,
        &audit_entry(
            who.user.id,
            "account.recovery_codes_replaced",
            client,
            serde_json::json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns two-factor sign-in off, with the password and a fresh code. Operators cannot
/// (their role requires it); the owner is told by email.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn disable(
    state: &AppState,
    who: &Authenticated,
    password: &str,
    code: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    if required_for(who.account_role()) {
        return Err(AppError::Conflict(
            "your role requires two-factor sign-in; it cannot be turned off".into(),
        ));
    }
    if password.is_empty() {
        return Err(AppError::field(
            "password",
            "is required to turn two-factor sign-in off",
        ));
    }
    super::service::confirm_password(state, who, password, client).await?;
    require_fresh_code(state, who, code, client, "turn two-factor sign-in off").await?;
    let mut tx = state.db.begin().await?;
    db::remove_second_factors(&mut tx, who.user.id).await?;
    crate::audit::record(
        &mut *tx,
        &audit_entry(
            who.user.id,
            "account.two_factor_disabled",
            client,
            serde_json::json!({}),
        ),
    )
    .await?;
    crate::jobs::enqueue(
        &mut *tx,
        &super::jobs::TellSecurityChange {
            user_id: who.user.id,
            change: super::jobs::SecurityChange::TwoFactorOff,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!("two-factor sign-in turned off");
    Ok(())
}

/// Opens a challenge for `user` (their password was right and they use two factors).
pub(super) async fn open_challenge(
    conn: &mut sqlx::PgConnection,
    user: UserId,
    client: &ClientMeta,
) -> Result<Challenge, AppError> {
    let token = random_token();
    let expires_at = db::insert_challenge(
        conn,
        &fingerprint(&token),
        user,
        client
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(300).collect::<String>())
            .as_deref(),
        client.ip.map(|ip| ip.to_string()).as_deref(),
        CHALLENGE_VALID_FOR,
    )
    .await?;
    Ok(Challenge {
        token: SecretString::from(token),
        expires_at,
    })
}

/// Turns a challenge and a code into a session. Wrong codes count against the challenge
/// (void after [`CHALLENGE_ATTEMPTS`]) and are throttled per account and address; an
/// unknown or expired challenge answers like a wrong password (sign in again).
#[tracing::instrument(skip_all)]
pub async fn complete_log_in(
    state: &AppState,
    challenge: &str,
    code: &str,
    client: &ClientMeta,
) -> Result<(User, NewSession), AppError> {
    let mut check = super::types::FieldCheck::default();
    if challenge.trim().is_empty() || challenge.len() > 128 {
        check.add("challenge", "is required (from the log-in answer)");
    }
    if code.trim().is_empty() || code.len() > 64 {
        check.add(
            "code",
            "is required: the 6 digits your app shows, or a recovery code",
        );
    }
    check.finish()?;
    let hash = fingerprint(challenge.trim());
    let mut tx = state.db.begin().await?;
    let Some(user_id) = db::challenge_for_update(&mut tx, &hash).await? else {
        return Err(AppError::Unauthorized);
    };
    throttle(state, user_id, client).await?;
    let used = spend_code(&mut tx, state, user_id, code).await?;
    let Some(used) = used else {
        let attempts = db::count_challenge_attempt(&mut *tx, &hash).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user_id, attempts, "wrong second-factor code");
        return Err(if attempts >= CHALLENGE_ATTEMPTS {
            AppError::Unauthorized
        } else {
            AppError::field("code", "is not the current code or an unused recovery code")
        });
    };
    db::delete_challenge(&mut *tx, &hash).await?;
    let (user, _) = db::get_user(&mut *tx, user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let session = super::service::create_session(&mut tx, state, user.id, client, true).await?;
    if used == Used::RecoveryCode {
        crate::audit::record(
            &mut *tx,
            &audit_entry(
                user.id,
                "account.recovery_code_used",
                client,
                serde_json::json!({}),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in with a second factor");
    Ok((user, session))
}

/// Records the device a sign-in comes from (its user agent); true when the account has
/// signed in before but never from it (the owner is emailed).
pub(super) async fn note_device(
    conn: &mut sqlx::PgConnection,
    user: UserId,
    client: &ClientMeta,
) -> Result<bool, sqlx::Error> {
    let device = fingerprint(client.user_agent.as_deref().unwrap_or("(no user agent)"));
    db::note_device(conn, user, &device).await
}
