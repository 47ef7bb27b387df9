//! Moderators' actions (ADR 0030): content removed under a legal hold, accounts suspended or
//! banned, each with a reason, audited, the owner told by email and on their notices page;
//! owners appeal, and a moderator restores (or an appeal is denied). The reports an action
//! answers close as acted on and their reporters are told.

use secrecy::ExposeSecret;
use uuid::Uuid;

use super::actions_db::{self as db, ActionRow, AppealRow, NewAction};
use super::jobs::{Notice, TellOwner, TellReporter};
use super::types::{ActionId, ActionKind, AppealId, AppealStatus, ReportSubject};
use crate::accounts::standing::{self, Suspension};
use crate::accounts::{FieldCheck, Role, User};
use crate::error::AppError;
use crate::http::extract::ClientMeta;
use crate::state::AppState;

/// Longest appeal (characters).
pub const MAX_APPEAL: usize = 4000;

fn reason_of(reason: &str) -> Result<String, AppError> {
    let mut check = FieldCheck::default();
    let reason = check.text("reason", reason, super::service::MAX_REASON, true);
    check.finish()?;
    Ok(reason.unwrap_or_default())
}

/// The audit row and the owner's notice of an action, in its transaction.
async fn record(
    conn: &mut sqlx::PgConnection,
    moderator: &User,
    action: &str,
    a: &NewAction<'_>,
    client: &ClientMeta,
) -> Result<(), sqlx::Error> {
    crate::audit::record(
        &mut *conn,
        &crate::audit::Entry {
            actor: Some(moderator.id.0),
            action,
            subject_type: a.subject_type,
            subject_id: Some(a.subject_id),
            reason: a.reason,
            details: serde_json::json!({"action_id": a.id, "owner_id": a.owner_id, "report_id": a.report_id}),
            ip: client.ip,
        },
    )
    .await
}

/// Closes the open reports of what was acted on; each reporter is told.
async fn close_reports(
    conn: &mut sqlx::PgConnection,
    subject_type: &str,
    subject_id: Uuid,
    by: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    for report_id in db::action_reports(conn, subject_type, subject_id, by, reason).await? {
        crate::jobs::enqueue(
            &mut *conn,
            &TellReporter {
                report_id,
                outcome: true,
            },
        )
        .await?;
    }
    Ok(())
}

/// Removes a post, comment or message: hidden from everyone at once, its files kept under a
/// legal hold, its owner told why (with how to appeal), its open reports closed as acted on.
#[tracing::instrument(skip_all, fields(subject_type = %kind, subject_id = %id))]
pub async fn remove(
    state: &AppState,
    moderator: &User,
    kind: ReportSubject,
    id: Uuid,
    reason: &str,
    client: &ClientMeta,
) -> Result<ActionId, AppError> {
    let reason = reason_of(reason)?;
    let mut tx = state.db.begin().await?;
    let removed = match kind {
        ReportSubject::Post => crate::posts::moderate::remove_post(&mut tx, id)
            .await?
            .map(|r| (r.owner, Some(r.creator), r.assets)),
        ReportSubject::Comment => crate::posts::moderate::remove_comment(&mut tx, id)
            .await?
            .map(|r| (r.owner, Some(r.creator), r.assets)),
        ReportSubject::Message => crate::messages::moderate::remove(&mut tx, id)
            .await?
            .map(|r| (r.sender, None, r.assets)),
        ReportSubject::Profile => {
            return Err(AppError::field(
                "subject_type",
                "a profile is acted on by suspending the account",
            ));
        }
    };
    let Some((owner, creator, assets)) = removed else {
        return Err(AppError::field(
            "subject_id",
            format!("is not a {kind} that is shown"),
        ));
    };
    crate::media::set_legal_hold(&mut tx, &assets, true).await?;
    let action = NewAction {
        id: Uuid::now_v7(),
        kind: ActionKind::Remove,
        subject_type: kind.as_str(),
        subject_id: id,
        owner_id: owner,
        reason: &reason,
        report_id: None,
        actor_id: moderator.id.0,
    };
    db::insert(&mut *tx, &action).await?;
    record(
        &mut tx,
        moderator,
        &format!("moderation.remove_{kind}"),
        &action,
        client,
    )
    .await?;
    close_reports(&mut tx, kind.as_str(), id, moderator.id.0, &reason).await?;
    tell_owner(&mut tx, action.id, Notice::Taken).await?;
    tx.commit().await?;
    if let Some(creator) = creator {
        state.posts_cache().forget(creator);
    }
    tracing::info!(action_id = %action.id, held_files = assets.len(), "content removed");
    Ok(ActionId(action.id))
}

async fn tell_owner(
    conn: &mut sqlx::PgConnection,
    action_id: Uuid,
    notice: Notice,
) -> Result<(), sqlx::Error> {
    crate::jobs::enqueue(conn, &TellOwner { action_id, notice }).await?;
    Ok(())
}

/// Suspends (or bans) an account: its sessions end, signing in is refused, its profile,
/// posts and checkouts behave as a deleted account's, fans' subscriptions are canceled at
/// their rail, held payouts wait; the owner is told why and how to appeal. Operators'
/// accounts are not suspended (an administrator changes their role first).
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn suspend(
    state: &AppState,
    moderator: &User,
    user: Uuid,
    ban: bool,
    reason: &str,
    client: &ClientMeta,
) -> Result<ActionId, AppError> {
    let reason = reason_of(reason)?;
    let mut tx = state.db.begin().await?;
    let account = standing::lock(&mut tx, user)
        .await?
        .filter(|a| !a.deleted)
        .ok_or(AppError::NotFound)?;
    if matches!(account.role, Role::Admin | Role::Moderator) {
        return Err(AppError::Conflict(
            "operators' accounts are not suspended: an administrator changes the role first".into(),
        ));
    }
    let kind = if ban {
        Suspension::Banned
    } else {
        Suspension::Suspended
    };
    match account.suspension {
        Some(Suspension::Banned) => {
            return Err(AppError::Conflict("this account is already banned".into()));
        }
        Some(Suspension::Suspended) if !ban => {
            return Err(AppError::Conflict(
                "this account is already suspended".into(),
            ));
        }
        // Suspended and now banned: the suspension's action is superseded by the ban's.
        Some(Suspension::Suspended) => {
            if let Some(previous) = db::live_suspension(&mut tx, user).await? {
                db::mark_restored(&mut *tx, previous, moderator.id.0, "superseded by a ban")
                    .await?;
            }
        }
        None => {}
    }
    standing::suspend(&mut tx, user, kind).await?;
    let hidden = crate::posts::moderate::hide_for_suspension(&mut tx, user).await?;
    crate::billing::suspend_account(&mut tx, user).await?;
    let action = NewAction {
        id: Uuid::now_v7(),
        kind: if ban {
            ActionKind::Ban
        } else {
            ActionKind::Suspend
        },
        subject_type: "account",
        subject_id: user,
        owner_id: user,
        reason: &reason,
        report_id: None,
        actor_id: moderator.id.0,
    };
    db::insert(&mut *tx, &action).await?;
    let verb = if ban {
        "moderation.ban"
    } else {
        "moderation.suspend"
    };
    record(&mut tx, moderator, verb, &action, client).await?;
    close_reports(
        &mut tx,
        ReportSubject::Profile.as_str(),
        user,
        moderator.id.0,
        &reason,
    )
    .await?;
    tell_owner(&mut tx, action.id, Notice::Taken).await?;
    tx.commit().await?;
    state.posts_cache().forget(user);
    tracing::info!(action_id = %action.id, ban, posts_hidden = hidden, "account suspended");
    Ok(ActionId(action.id))
}

/// Reverses an action (on appeal, or when the matter is settled): removed content shown again
/// (its legal hold lifted), a suspended account usable again with the posts the suspension
/// hid. A ban is lifted by an administrator only. Subscriptions canceled by a suspension stay
/// canceled (fans subscribe again). The open appeal, if any, is granted.
#[tracing::instrument(skip_all, fields(action_id = %id))]
pub async fn restore(
    state: &AppState,
    moderator: &User,
    ActionId(id): ActionId,
    reason: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let reason = reason_of(reason)?;
    let mut tx = state.db.begin().await?;
    let action = db::get_for_update(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if action.restored_at.is_some() {
        return Err(AppError::Conflict("this action is already reversed".into()));
    }
    if action.kind == ActionKind::Ban && moderator.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let creator = restore_subject(&mut tx, &action).await?;
    db::mark_restored(&mut *tx, id, moderator.id.0, &reason).await?;
    db::decide_appeal(&mut tx, id, AppealStatus::Granted, moderator.id.0, &reason).await?;
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(moderator.id.0),
            action: "moderation.restore",
            subject_type: &action.subject_type,
            subject_id: Some(action.subject_id),
            reason: &reason,
            details: serde_json::json!({"action_id": id, "kind": action.kind.as_str(), "owner_id": action.owner_id}),
            ip: client.ip,
        },
    )
    .await?;
    tell_owner(&mut tx, id, Notice::Restored).await?;
    tx.commit().await?;
    if let Some(creator) = creator {
        state.posts_cache().forget(creator);
    }
    tracing::info!("moderation action reversed");
    Ok(())
}

/// Shows the thing again; answers the creator whose cached pages change.
async fn restore_subject(
    tx: &mut sqlx::PgConnection,
    action: &ActionRow,
) -> Result<Option<Uuid>, AppError> {
    let gone = || {
        AppError::Conflict(format!(
            "this {} cannot be shown again (it was deleted since)",
            action.subject_type
        ))
    };
    let id = action.subject_id;
    match (action.kind, action.subject_type.as_str()) {
        (ActionKind::Suspend | ActionKind::Ban, _) => {
            standing::lift_suspension(tx, id).await?;
            crate::posts::moderate::show_after_suspension(tx, id).await?;
            Ok(Some(id))
        }
        (ActionKind::Remove, "post") => {
            let r = crate::posts::moderate::restore_post(tx, id)
                .await?
                .ok_or_else(gone)?;
            crate::media::set_legal_hold(tx, &r.assets, false).await?;
            Ok(Some(r.creator))
        }
        (ActionKind::Remove, "comment") => {
            let r = crate::posts::moderate::restore_comment(tx, id)
                .await?
                .ok_or_else(gone)?;
            Ok(Some(r.creator))
        }
        (ActionKind::Remove, _) => {
            let r = crate::messages::moderate::restore(tx, id)
                .await?
                .ok_or_else(gone)?;
            crate::media::set_legal_hold(tx, &r.assets, false).await?;
            Ok(None)
        }
    }
}

/// The link in a suspension notice that lets the owner (who cannot sign in) appeal: an HMAC
/// of the action's id.
pub(super) fn appeal_token(state: &AppState, action: Uuid) -> Result<String, AppError> {
    let secret = state.session_secret()?;
    Ok(crate::crypto::hmac_b64(
        secret.expose_secret().as_bytes(),
        format!("appeal:{action}").as_bytes(),
    ))
}

/// Files the owner's appeal against an action: signed in as its owner, or (a suspended
/// account) with the token from the notice. One open appeal per action.
#[tracing::instrument(skip_all, fields(action_id = %id))]
pub async fn appeal(
    state: &AppState,
    who: Option<&User>,
    ActionId(id): ActionId,
    body: &str,
    token: &str,
) -> Result<AppealId, AppError> {
    let mut check = FieldCheck::default();
    let body = check.text("body", body, MAX_APPEAL, true);
    check.finish()?;
    let body = body.unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let action = db::get_for_update(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let by_owner = who.is_some_and(|u| u.id.0 == action.owner_id);
    let by_token =
        !token.is_empty() && crate::crypto::constant_time_eq(token, &appeal_token(state, id)?);
    if !(by_owner || by_token) {
        return Err(AppError::NotFound);
    }
    if action.restored_at.is_some() {
        return Err(AppError::Conflict("this action is already reversed".into()));
    }
    let appeal_id = Uuid::now_v7();
    if !db::insert_appeal(&mut tx, appeal_id, id, action.owner_id, &body).await? {
        return Err(AppError::Conflict(
            "an appeal against this is already waiting for a moderator".into(),
        ));
    }
    tx.commit().await?;
    tracing::info!(appeal_id = %appeal_id, "appeal filed");
    Ok(AppealId(appeal_id))
}

/// Denies an open appeal with a reason (audited; the owner is told). Granting is [`restore`].
#[tracing::instrument(skip_all, fields(appeal_id = %id))]
pub async fn deny(
    state: &AppState,
    moderator: &User,
    AppealId(id): AppealId,
    reason: &str,
    client: &ClientMeta,
) -> Result<(), AppError> {
    let reason = reason_of(reason)?;
    let mut tx = state.db.begin().await?;
    let (action, status) = db::appeal_for_update(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if status != AppealStatus::Open {
        return Err(AppError::Conflict(format!(
            "this appeal is already {status}"
        )));
    }
    db::decide_appeal(
        &mut tx,
        action,
        AppealStatus::Denied,
        moderator.id.0,
        &reason,
    )
    .await?;
    crate::audit::record(
        &mut *tx,
        &crate::audit::Entry {
            actor: Some(moderator.id.0),
            action: "moderation.deny_appeal",
            subject_type: "appeal",
            subject_id: Some(id),
            reason: &reason,
            details: serde_json::json!({"action_id": action}),
            ip: client.ip,
        },
    )
    .await?;
    tell_owner(&mut tx, action, Notice::AppealDenied).await?;
    tx.commit().await?;
    Ok(())
}

/// The action an appeal is against (granting an appeal restores it).
pub async fn appeal_action(state: &AppState, AppealId(id): AppealId) -> Result<ActionId, AppError> {
    let mut conn = state.db.acquire().await?;
    let (action, _) = db::appeal_for_update(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(ActionId(action))
}

/// The actions on someone's things, newest first.
pub async fn notices(state: &AppState, owner: Uuid) -> Result<Vec<ActionRow>, AppError> {
    Ok(db::for_owner(&state.db, owner).await?)
}

/// Appeals in `status`.
pub async fn appeals(state: &AppState, status: AppealStatus) -> Result<Vec<AppealRow>, AppError> {
    Ok(db::appeals(&state.db, status, 200).await?)
}

/// Removes what an open report names (the console's button on a report). A profile is acted
/// on by suspending the account.
pub async fn remove_reported(
    state: &AppState,
    moderator: &User,
    report: super::types::ReportId,
    reason: &str,
    client: &ClientMeta,
) -> Result<ActionId, AppError> {
    let mut conn = state.db.acquire().await?;
    let (status, kind, subject) = super::db::get(&mut conn, report.0)
        .await?
        .ok_or(AppError::NotFound)?;
    drop(conn);
    if status != super::types::ReportStatus::Open {
        return Err(AppError::Conflict(format!(
            "this report is already {status}"
        )));
    }
    remove(state, moderator, kind, subject, reason, client).await
}

/// The action behind an account's current suspension or ban.
pub async fn live_suspension(state: &AppState, user: Uuid) -> Result<Option<ActionId>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(db::live_suspension(&mut conn, user).await?.map(ActionId))
}
