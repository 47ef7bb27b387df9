//! The rules of accounts: sign-up, log-in, sessions, email verification, password reset and
//! change, deletion. JSON handlers, pages, jobs and the CLI all come through here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::db::{self, NewUserRow, Purpose, SessionRow};
use super::jobs::{SendPasswordReset, SendVerificationEmail};
use super::two_factor::LogIn;
use super::types::{
    DisplayName, Email, FieldCheck, GivenPassword, LinkToken, NewPassword, Role, SessionId, User,
    UserId,
};
use crate::crypto::{fingerprint, random_token};
use crate::error::{AppError, ResultExt};
use crate::http::extract::ClientMeta;
use crate::state::AppState;

/// How long an emailed verification link works.
pub const VERIFY_LINK_VALID_FOR: Duration = Duration::from_secs(48 * 3600);
/// How long an emailed password-reset link works.
pub const RESET_LINK_VALID_FOR: Duration = Duration::from_secs(3600);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A session just created: the token is shown once, to the client that logged in.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Id (safe to show).
    pub id: SessionId,
    /// The bearer token / cookie value (secret).
    pub token: SecretString,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
}

/// A request's authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account.
    pub user: User,
    /// The session used.
    pub session_id: SessionId,
    /// The session signed in with a second factor (or enrolled one).
    pub second_factor: bool,
    /// The account's operator role when this session may not use it (it did not sign in
    /// with a second factor): meanwhile `user.role` is `fan`, so no rule anywhere grants
    /// an operator's reach (paid media, others' comments) to a password alone.
    pub withheld_role: Option<Role>,
}

impl Authenticated {
    /// The account's role, whether or not this session may use it.
    pub fn account_role(&self) -> Role {
        self.withheld_role.unwrap_or(self.user.role)
    }
}

/// Sign-up input, as received.
#[derive(Debug, Clone)]
pub struct SignUpInput {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Public name.
    pub display_name: String,
    /// The person confirmed being 18 or older.
    pub confirm_adult: bool,
}

async fn limit(
    state: &AppState,
    bucket: &str,
    rate: crate::config::Rate,
    key: &str,
) -> Result<(), AppError> {
    state
        .limiter()?
        .check(bucket, rate, key)
        .await
        .map_err(|retry_after| AppError::RateLimited { retry_after })
}

fn ip_key(client: &ClientMeta) -> String {
    client
        .ip
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Creates an account (role fan, email unverified), sends the verification email (through
/// the queue) and logs the new account in, all in one transaction.
#[tracing::instrument(skip_all)]
pub async fn sign_up(
    state: &AppState,
    input: SignUpInput,
    client: &ClientMeta,
) -> Result<(User, NewSession), AppError> {
    let mut check = FieldCheck::default();
    let account = NewAccount::parse(
        &mut check,
        &input.email,
        &input.display_name,
        &input.password,
    );
    if !input.confirm_adult {
        check.add("confirm_adult", "you must be 18 or older to use Zinovia");
    }
    check.finish()?;
    let account = account.ok_or_else(|| AppError::BadRequest("invalid sign-up".into()))?;
    limit(
        state,
        "signup",
        state.settings.auth.rate_limit_signup,
        &ip_key(client),
    )
    .await?;

    let mut tx = state.db.begin().await?;
    let user = account
        .insert(
            &mut tx,
            state,
            Role::Fan,
            false,
            "is already registered; log in or reset your password",
        )
        .await?;
    crate::jobs::enqueue(&mut *tx, &SendVerificationEmail { user_id: user.id }).await?;
    let session = create_session(&mut tx, state, user.id, client, false).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "account created");
    Ok((user, session))
}

/// The validated parts of a new account.
struct NewAccount {
    email: Email,
    display_name: DisplayName,
    password: NewPassword,
}

impl NewAccount {
    /// Validates the three fields, recording every problem in `check`.
    fn parse(
        check: &mut FieldCheck,
        email: &str,
        display_name: &str,
        password: &str,
    ) -> Option<NewAccount> {
        let email = check.check("email", Email::parse(email));
        let display_name = check.check("display_name", DisplayName::parse(display_name));
        let password = check.check(
            "password",
            NewPassword::parse(password, email.as_ref().map(Email::as_str)),
        );
        Some(NewAccount {
            email: email?,
            display_name: display_name?,
            password: password?,
        })
    }

    /// Hashes the password and inserts the account; a taken email is a field error.
    async fn insert(
        &self,
        tx: &mut sqlx::PgConnection,
        state: &AppState,
        role: Role,
        email_verified: bool,
        taken: &'static str,
    ) -> Result<User, AppError> {
        let hash = state.passwords.hash(self.password.secret()).await?;
        let id = UserId(Uuid::now_v7());
        db::insert_user(
            &mut *tx,
            &NewUserRow {
                id,
                email: self.email.as_str(),
                password_hash: &hash,
                display_name: self.display_name.as_str(),
                role,
                email_verified,
            },
        )
        .await
        .on_constraint("users_email_key", |_| AppError::field("email", taken))?;
        let (user, _) = db::get_user(&mut *tx, id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(user)
    }
}

/// Starts a session for `user` (`second_factor`: the sign-in passed one) and emails the
/// owner when it comes from a device the account has not used before.
pub(super) async fn create_session(
    conn: &mut sqlx::PgConnection,
    state: &AppState,
    user: UserId,
    client: &ClientMeta,
    second_factor: bool,
) -> Result<NewSession, AppError> {
    let token = random_token();
    let id = SessionId(Uuid::now_v7());
    let user_agent = client.user_agent.as_deref().map(|ua| truncate(ua, 300));
    let ip = client.ip.map(|ip| ip.to_string());
    let expires_at = db::insert_session(
        &mut *conn,
        &db::NewSessionRow {
            id,
            user,
            token_hash: &fingerprint(&token),
            user_agent: user_agent.as_deref(),
            ip: ip.as_deref(),
            lifetime: state.settings.auth.session_lifetime.0,
            second_factor,
        },
    )
    .await?;
    if super::two_factor::note_device(&mut *conn, user, client).await? {
        crate::jobs::enqueue(
            &mut *conn,
            &super::jobs::TellSecurityChange {
                user_id: user,
                change: super::jobs::SecurityChange::NewDevice {
                    user_agent,
                    ip,
                    at: Utc::now(),
                },
            },
        )
        .await?;
    }
    Ok(NewSession {
        id,
        token: SecretString::from(token),
        expires_at,
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Logs in with email and password. A wrong password and an unknown email answer the same
/// error after the same work. Throttled per account+IP and per IP, so an attacker elsewhere
/// cannot lock the owner out. An account with two factors gets a challenge, not a session.
#[tracing::instrument(skip_all)]
pub async fn log_in(
    state: &AppState,
    email: &str,
    password: &str,
    client: &ClientMeta,
) -> Result<LogIn, AppError> {
    let mut check = FieldCheck::default();
    if email.trim().is_empty() {
        check.add("email", "is required");
    }
    let password = check.check("password", GivenPassword::parse(password));
    check.finish()?;
    let Some(password) = password else {
        return Err(AppError::BadRequest("invalid log-in".into()));
    };
    let auth = &state.settings.auth;
    let email_lower = email.trim().to_lowercase();
    let ip = ip_key(client);
    limit(state, "login_ip", auth.rate_limit_login_ip, &ip).await?;
    limit(
        state,
        "login",
        auth.rate_limit_login,
        &format!("{email_lower}|{ip}"),
    )
    .await?;

    let Some((user, hash)) = db::find_for_login(&state.db, &email_lower).await? else {
        state.passwords.verify_dummy(password.secret()).await?;
        return Err(AppError::InvalidCredentials);
    };
    let verified = state.passwords.verify(password.secret(), &hash).await?;
    if !verified.ok {
        tracing::info!(user_id = %user.id, "log-in with a wrong password");
        return Err(AppError::InvalidCredentials);
    }
    // Only the account's owner learns that it is suspended (after the password matched).
    if let Some(kind) = super::standing::suspension_of(&state.db, user.id).await? {
        tracing::info!(user_id = %user.id, suspension = kind.as_str(), "log-in refused: the account is suspended");
        return Err(AppError::AccountSuspended);
    }
    let mut tx = state.db.begin().await?;
    if verified.needs_rehash {
        let new_hash = state.passwords.hash(password.secret()).await?;
        db::set_password_hash(&mut *tx, user.id, &new_hash).await?;
    }
    if db::second_factors(&mut *tx, user.id).await?.0 {
        let challenge = super::two_factor::open_challenge(&mut tx, user.id, client).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, "password accepted; waiting for the second factor");
        return Ok(LogIn::SecondFactor(challenge));
    }
    let session = create_session(&mut tx, state, user.id, client, false).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, "logged in");
    Ok(LogIn::Session(user, session))
}

/// The caller behind a session token, if the session is valid. Records use at most once a
/// minute per session.
pub async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<Option<Authenticated>, AppError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let idle = state.settings.auth.session_idle_timeout.0;
    let Some((session_id, last_seen, second_factor, user)) =
        db::find_session(&state.db, &fingerprint(token), idle).await?
    else {
        return Ok(None);
    };
    let stale = Utc::now()
        .signed_duration_since(last_seen)
        .to_std()
        .is_ok_and(|age| age >= TOUCH_EVERY);
    if stale {
        db::touch_session(&state.db, session_id).await?;
    }
    let mut user = user;
    let withheld_role = (super::two_factor::required_for(user.role) && !second_factor)
        .then(|| std::mem::replace(&mut user.role, Role::Fan));
    Ok(Some(Authenticated {
        user,
        session_id,
        second_factor,
        withheld_role,
    }))
}

/// Ends one session.
pub async fn log_out(state: &AppState, who: &Authenticated) -> Result<(), AppError> {
    db::delete_session(&state.db, who.user.id, who.session_id).await?;
    tracing::info!(user_id = %who.user.id, session_id = %who.session_id, "logged out");
    Ok(())
}

/// Ends every session of the account, this one included.
pub async fn log_out_everywhere(state: &AppState, who: &Authenticated) -> Result<u64, AppError> {
    let n = db::delete_sessions(&state.db, who.user.id, None).await?;
    tracing::info!(user_id = %who.user.id, sessions = n, "logged out everywhere");
    Ok(n)
}

/// The account's live sessions, newest use first.
pub async fn list_sessions(
    state: &AppState,
    who: &Authenticated,
) -> Result<Vec<SessionRow>, AppError> {
    Ok(db::list_sessions(
        &state.db,
        who.user.id,
        state.settings.auth.session_idle_timeout.0,
    )
    .await?)
}

/// Ends one of the caller's own sessions.
pub async fn revoke_session(
    state: &AppState,
    who: &Authenticated,
    id: SessionId,
) -> Result<(), AppError> {
    if db::delete_session(&state.db, who.user.id, id).await? {
        tracing::info!(user_id = %who.user.id, session_id = %id, "session revoked");
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Counts an attempt at something that checks the account's password (a change, a
/// deletion) against `RATE_LIMIT_PASSWORD`, per IP and per account: a stolen session cannot
/// guess the password at Argon2's pace forever.
async fn password_attempt(
    state: &AppState,
    who: &Authenticated,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let rate = state.settings.auth.rate_limit_password;
    limit(state, "password_ip", rate, &ip_key(client)).await?;
    limit(state, "password_account", rate, &who.user.id.to_string()).await
}

/// Changes the password after checking the current one; every other session ends.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn change_password(
    state: &AppState,
    who: &Authenticated,
    current: &str,
    new: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    password_attempt(state, who, client).await?;
    let mut check = FieldCheck::default();
    let current = check.check("current_password", GivenPassword::parse(current));
    let new = check.check(
        "new_password",
        NewPassword::parse(new, Some(&who.user.email)),
    );
    check.finish()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(AppError::BadRequest("invalid password change".into()));
    };
    let (_, hash) = db::get_user(&state.db, who.user.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !state.passwords.verify(current.secret(), &hash).await?.ok {
        return Err(AppError::field(
            "current_password",
            "is not your current password",
        ));
    }
    let new_hash = state.passwords.hash(new.secret()).await?;
    let mut tx = state.db.begin().await?;
    db::set_password_hash(&mut *tx, who.user.id, &new_hash).await?;
    let ended = db::delete_sessions(&mut *tx, who.user.id, Some(who.session_id)).await?;
    db::void_tokens(&mut *tx, who.user.id, Purpose::ResetPassword).await?;
    tx.commit().await?;
    tracing::info!(other_sessions_ended = ended, "password changed");
    Ok(())
}

/// Sends a new verification email (through the queue), unless already verified.
pub async fn resend_verification(
    state: &AppState,
    who: &Authenticated,
    client: &ClientMeta,
) -> Result<(), AppError> {
    if who.user.email_verified_at.is_some() {
        return Ok(());
    }
    let rate = state.settings.auth.rate_limit_email;
    limit(state, "email_ip", rate, &ip_key(client)).await?;
    limit(state, "email_account", rate, &who.user.id.to_string()).await?;
    crate::jobs::enqueue(
        &state.db,
        &SendVerificationEmail {
            user_id: who.user.id,
        },
    )
    .await?;
    Ok(())
}

fn bad_link() -> AppError {
    AppError::field(
        "token",
        "this link is invalid, used or expired; ask for a new one",
    )
}

/// Confirms the email address behind a verification link (single use).
pub async fn verify_email(state: &AppState, token: &str) -> Result<UserId, AppError> {
    let token = LinkToken::parse(token).map_err(|m| AppError::field("token", m))?;
    let mut tx = state.db.begin().await?;
    let user = db::use_token(&mut *tx, &fingerprint(token.expose()), Purpose::VerifyEmail)
        .await?
        .ok_or_else(bad_link)?;
    db::mark_verified(&mut *tx, user).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user, "email verified");
    Ok(user)
}

/// Emails a reset link if an account has this address. Answers the same either way, so it
/// does not tell whether the address is registered.
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let email = Email::parse(email).map_err(|m| AppError::field("email", m))?;
    let rate = state.settings.auth.rate_limit_email;
    limit(state, "email_ip", rate, &ip_key(client)).await?;
    // Per address too, so nobody can flood someone's mailbox; still the same answer.
    if limit(state, "reset_account", rate, &email.lower())
        .await
        .is_err()
    {
        return Ok(());
    }
    if let Some((user, _)) = db::find_for_login(&state.db, &email.lower()).await? {
        crate::jobs::enqueue(&state.db, &SendPasswordReset { user_id: user.id }).await?;
    }
    Ok(())
}

/// Sets a new password from a reset link (single use); every session of the account ends
/// and the email counts as confirmed (the link reached it). The link is checked before the
/// new password is hashed, and attempts are limited per IP and per account, so bogus
/// confirmations cost neither Argon2 time nor an unlimited number of guesses.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
    client: &ClientMeta,
) -> Result<UserId, AppError> {
    let rate = state.settings.auth.rate_limit_password;
    limit(state, "password_ip", rate, &ip_key(client)).await?;
    let mut check = FieldCheck::default();
    let token = check.check("token", LinkToken::parse(token));
    let password = check.check("new_password", NewPassword::parse(new_password, None));
    check.finish()?;
    let (Some(token), Some(password)) = (token, password) else {
        return Err(AppError::BadRequest("invalid reset".into()));
    };
    let fingerprint = fingerprint(token.expose());
    let owner = db::token_owner(&state.db, &fingerprint, Purpose::ResetPassword)
        .await?
        .ok_or_else(bad_link)?;
    limit(state, "password_account", rate, &owner.to_string()).await?;
    let hash = state.passwords.hash(password.secret()).await?;
    let mut tx = state.db.begin().await?;
    // Used here, in the transaction that sets the password (a second use in between loses).
    let user = db::use_token(&mut *tx, &fingerprint, Purpose::ResetPassword)
        .await?
        .ok_or_else(bad_link)?;
    db::set_password_hash(&mut *tx, user, &hash).await?;
    db::mark_verified(&mut *tx, user).await?;
    db::void_tokens(&mut *tx, user, Purpose::ResetPassword).await?;
    let ended = db::delete_sessions(&mut *tx, user, None).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user, sessions_ended = ended, "password reset");
    Ok(user)
}

/// Checks the caller's password before a sensitive change (deleting the account, changing
/// where they are paid), throttled like every password check; a wrong one is an error on
/// the field `password`.
pub async fn confirm_password(
    state: &AppState,
    who: &Authenticated,
    password: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    password_attempt(state, who, client).await?;
    let password = GivenPassword::parse(password).map_err(|m| AppError::field("password", m))?;
    let (_, hash) = db::get_user(&state.db, who.user.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !state.passwords.verify(password.secret(), &hash).await?.ok {
        return Err(AppError::field("password", "is not your password"));
    }
    Ok(())
}

/// Deletes the caller's account after checking the password: personal data is scrubbed
/// and every session ends at once (see docs/ACCOUNTS.md for what is kept).
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn delete_account(
    state: &AppState,
    who: &Authenticated,
    password: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    confirm_password(state, who, password, client).await?;
    let mut tx = state.db.begin().await?;
    db::delete_sessions(&mut *tx, who.user.id, None).await?;
    db::scrub_user(&mut tx, who.user.id).await?;
    // Everything the account made or pays for closes with it, in this transaction: the
    // profile cleared, posts hidden, files handed to deletion jobs, subscriptions revoked and canceled at their
    // rail by jobs, open checkouts closed (docs/ACCOUNTS.md).
    crate::creators::close_account(&mut tx, who.user.id.0).await?;
    crate::posts::close_account(&mut tx, who.user.id.0).await?;
    crate::media::close_account(&mut tx, who.user.id).await?;
    crate::billing::close_account(&mut tx, who.user.id.0).await?;
    tx.commit().await?;
    tracing::info!("account deleted");
    Ok(())
}

/// Whether these accounts all exist and are open, their rows locked (shared) until the end
/// of the caller's transaction: a deletion in progress is waited for and then seen, so
/// whatever the caller writes next cannot slip past a deletion (payments use it for
/// checkouts and subscriptions).
pub async fn lock_open(conn: &mut sqlx::PgConnection, ids: &[Uuid]) -> Result<bool, sqlx::Error> {
    db::lock_open(conn, ids).await
}

/// Gives a fan the creator role as they set up their creator profile, in the caller's
/// transaction (accounts is the only writer of roles; admins keep theirs).
pub async fn promote_to_creator(
    conn: &mut sqlx::PgConnection,
    user: UserId,
) -> Result<(), sqlx::Error> {
    db::promote_to_creator(conn, user.0).await
}

/// Creates an account from the operator's command line: verified, adult confirmed by the
/// operator, with the given role.
pub async fn create_user(
    state: &AppState,
    email: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> Result<User, AppError> {
    let mut check = FieldCheck::default();
    let account = NewAccount::parse(&mut check, email, display_name, password);
    check.finish()?;
    let account = account.ok_or_else(|| AppError::BadRequest("invalid user".into()))?;
    let mut tx = state.db.begin().await?;
    let user = account
        .insert(&mut tx, state, role, true, "is already registered")
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "account created by an operator");
    Ok(user)
}

/// Makes a verification link for `user` (stores its fingerprint) and returns the link.
pub(super) async fn issue_link(
    state: &AppState,
    user: UserId,
    purpose: Purpose,
) -> Result<SecretString, sqlx::Error> {
    let token = random_token();
    let (valid_for, path) = match purpose {
        Purpose::VerifyEmail => (VERIFY_LINK_VALID_FOR, "/verify-email"),
        Purpose::ResetPassword => (RESET_LINK_VALID_FOR, "/reset-password/confirm"),
    };
    db::insert_token(&state.db, user, purpose, &fingerprint(&token), valid_for).await?;
    Ok(SecretString::from(
        state.settings.link(&format!("{path}?token={token}")),
    ))
}

/// A live account by id (for jobs).
pub async fn find_user(state: &AppState, id: UserId) -> Result<Option<User>, sqlx::Error> {
    Ok(db::get_user(&state.db, id).await?.map(|(u, _)| u))
}

/// Deletes expired sessions and tokens; returns how many of each.
pub(super) async fn prune(state: &AppState) -> Result<(u64, u64), sqlx::Error> {
    let mut conn = state.db.acquire().await?;
    db::prune(&mut conn).await
}
