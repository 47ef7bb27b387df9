//! Becoming a creator and editing the profile; finding a creator by handle (following a
//! previous handle while it redirects).

use uuid::Uuid;

use super::db::{self, CreatorInput};
use super::types::{Creator, CreatorCounts, CreatorResponse, Handle};
use crate::accounts::{Authenticated, FieldCheck, Role};
use crate::error::{AppError, ResultExt};
use crate::media::{self, Kind, MediaId, Purpose, State as MediaState};
use crate::posts::{self, Price, VariantUrl};
use crate::state::AppState;

/// Longest display name, bio and welcome message, in characters.
pub const MAX_DISPLAY_NAME: usize = 60;
/// Longest bio.
pub const MAX_BIO: usize = 1000;
/// Longest welcome message.
pub const MAX_WELCOME: usize = 2000;
/// Longest free trial.
pub const MAX_TRIAL_DAYS: i32 = 90;

/// A profile as received.
#[derive(Debug, Clone)]
pub struct ProfileInput {
    /// Handle as typed.
    pub handle: String,
    /// Public name.
    pub display_name: String,
    /// About text.
    pub bio: String,
    /// A ready avatar image of theirs.
    pub avatar_id: Option<Uuid>,
    /// A ready banner image of theirs.
    pub banner_id: Option<Uuid>,
    /// Monthly price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Free days.
    pub trial_days: i64,
    /// For new subscribers.
    pub welcome_message: Option<String>,
}

/// Where a handle leads.
#[derive(Debug)]
pub enum Found {
    /// The creator.
    Creator(Creator),
    /// A previous handle: the current one.
    MovedTo(String),
}

/// Finds a creator by handle, or where a previous handle now points. Unknown → 404.
pub async fn find(conn: &mut sqlx::PgConnection, raw: &str) -> Result<Found, AppError> {
    let handle = Handle::parse(raw).map_err(|_| AppError::NotFound)?;
    if let Some(c) = db::by_handle(&mut *conn, handle.as_str()).await? {
        return Ok(Found::Creator(c));
    }
    match db::redirect(&mut *conn, handle.as_str()).await? {
        Some(current) => Ok(Found::MovedTo(current)),
        None => Err(AppError::NotFound),
    }
}

async fn check_image(
    state: &AppState,
    check: &mut FieldCheck,
    field: &str,
    id: Option<Uuid>,
    owner: Uuid,
    purpose: Purpose,
) -> Result<(), AppError> {
    let Some(id) = id else { return Ok(()) };
    let asset = media::find(&state.db, MediaId(id)).await?;
    match asset {
        Some(a) if a.owner_id.0 == owner => {
            if a.kind != Kind::Image || a.purpose != purpose {
                check.add(
                    field,
                    format!("must be an image uploaded as a {}", purpose.as_str()),
                );
            } else if a.state != MediaState::Ready {
                check.add(field, "is not ready yet (still processing, or rejected)");
            }
        }
        _ => check.add(field, "is not an upload of yours"),
    }
    Ok(())
}

/// Creates the caller's creator profile (making them a creator) or updates it. A changed
/// handle keeps the old one redirecting for `HANDLE_REDIRECT_FOR`. Returns the profile and
/// whether it was created.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn put(
    state: &AppState,
    who: &Authenticated,
    input: ProfileInput,
) -> Result<(Creator, bool), AppError> {
    if who.user.email_verified_at.is_none() {
        return Err(AppError::Conflict(
            "verify your email address before becoming a creator".into(),
        ));
    }
    let content = &state.settings.content;
    let user_id = who.user.id.0;
    let mut check = FieldCheck::default();
    let handle = check.check("handle", Handle::parse(&input.handle));
    let display_name = check.text("display_name", &input.display_name, MAX_DISPLAY_NAME, true);
    let bio = check.text("bio", &input.bio, MAX_BIO, false);
    let welcome = input
        .welcome_message
        .as_deref()
        .and_then(|w| check.text("welcome_message", w, MAX_WELCOME, false))
        .filter(|w| !w.is_empty());
    let (min, max) = (
        i64::from(content.creator_price_min),
        i64::from(content.creator_price_max),
    );
    if !(min..=max).contains(&input.price_minor) {
        check.add(
            "price_minor",
            format!("must be between {min} and {max} (minor units, e.g. cents)"),
        );
    }
    let currency = input.currency.trim().to_ascii_uppercase();
    if !content.currencies.contains(&currency) {
        check.add(
            "currency",
            format!("must be one of {}", content.currencies.join(", ")),
        );
    }
    if !(0..=i64::from(MAX_TRIAL_DAYS)).contains(&input.trial_days) {
        check.add(
            "trial_days",
            format!("must be between 0 and {MAX_TRIAL_DAYS}"),
        );
    }
    check_image(
        state,
        &mut check,
        "avatar_id",
        input.avatar_id,
        user_id,
        Purpose::Avatar,
    )
    .await?;
    check_image(
        state,
        &mut check,
        "banner_id",
        input.banner_id,
        user_id,
        Purpose::Banner,
    )
    .await?;
    if let Some(h) = &handle
        && db::held_by_other(&state.db, h.as_str(), user_id).await?
    {
        check.add("handle", "is taken");
    }
    check.finish()?;
    let (Some(handle), Some(display_name), Some(bio)) = (handle, display_name.clone(), bio.clone())
    else {
        return Err(AppError::BadRequest("invalid profile".into()));
    };
    let row = CreatorInput {
        user_id,
        handle: handle.as_str(),
        display_name: &display_name,
        bio: &bio,
        avatar_id: input.avatar_id,
        banner_id: input.banner_id,
        price_minor: i32::try_from(input.price_minor).unwrap_or(i32::MAX),
        currency: &currency,
        trial_days: i32::try_from(input.trial_days).unwrap_or(0),
        welcome_message: welcome.as_deref(),
    };
    let taken = |_| AppError::field("handle", "is taken");
    let mut tx = state.db.begin().await?;
    let existing = db::lock(&mut *tx, user_id).await?;
    let created = match &existing {
        None => {
            db::insert(&mut *tx, &row)
                .await
                .on_constraint("creators_handle_key", taken)?;
            if who.user.role == Role::Fan {
                crate::accounts::promote_to_creator(&mut tx, who.user.id).await?;
            }
            true
        }
        Some(old) => {
            let before = db::by_user(&mut *tx, user_id).await?;
            db::update(&mut *tx, &row)
                .await
                .on_constraint("creators_handle_key", taken)?;
            // A replaced or removed avatar or banner is kept no longer than it is used.
            if let Some(before) = before {
                for (was, now) in [
                    (before.avatar_id, row.avatar_id),
                    (before.banner_id, row.banner_id),
                ] {
                    if let Some(was) = was.filter(|w| Some(*w) != now) {
                        media::discard(&mut tx, MediaId(was)).await?;
                    }
                }
            }
            if old != handle.as_str() {
                db::move_handle(
                    &mut tx,
                    user_id,
                    old,
                    handle.as_str(),
                    content.handle_redirect_for.0,
                )
                .await?;
            }
            false
        }
    };
    tx.commit().await?;
    let creator = db::by_user(&state.db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(handle = %creator.handle, created, "creator profile saved");
    Ok((creator, created))
}

/// Clears the profile of an account being deleted, inside the deletion's transaction (the
/// page is already gone with the account; this removes the personal details it held).
pub async fn close_account(conn: &mut sqlx::PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    db::scrub(&mut *conn, user).await
}

/// A creator's profile as `viewer` may see it: the welcome message and the subscriber
/// count for the creator only (`own`).
pub async fn profile(state: &AppState, c: Creator, own: bool) -> Result<CreatorResponse, AppError> {
    let grace = state.settings.content.subscription_grace.0;
    let counts = db::counts(&state.db, c.user_id, grace).await?;
    let (avatar, banner) = profile_images(state, &c).await?;
    Ok(CreatorResponse {
        bio_html: posts::text_html(&c.bio),
        handle: c.handle,
        display_name: c.display_name,
        bio: c.bio,
        avatar,
        banner,
        price: Price {
            amount_minor: c.price_minor,
            currency: c.currency,
        },
        trial_days: c.trial_days,
        welcome_message: if own { c.welcome_message } else { None },
        counts: CreatorCounts {
            posts: counts.posts,
            images: counts.images,
            videos: counts.videos,
            subscribers: own.then_some(counts.subscribers),
        },
        own,
        created_at: c.created_at,
    })
}

/// Signed files (`names`) of ready images, as `(asset, file)` in the order stored.
async fn signed_variants(
    state: &AppState,
    ids: &[Uuid],
    names: &[&str],
) -> Result<Vec<(Uuid, VariantUrl)>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = media::ready_variants(&state.db, ids, names).await?;
    let keys: Vec<&str> = rows.iter().map(|(_, v)| v.object_key.as_str()).collect();
    let (urls, _) = state
        .storage()?
        .signed_urls(&keys, state.settings.media.media_url_ttl.0)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(rows
        .iter()
        .zip(urls)
        .map(|((asset, v), url)| {
            (
                *asset,
                VariantUrl {
                    name: v.name.clone().into(),
                    width: v.width,
                    height: v.height,
                    url,
                },
            )
        })
        .collect())
}

/// A creator's avatar and banner files (signed; empty when unset).
pub async fn profile_images(
    state: &AppState,
    c: &Creator,
) -> Result<(Vec<VariantUrl>, Vec<VariantUrl>), AppError> {
    let ids: Vec<Uuid> = c
        .avatar_id
        .iter()
        .chain(c.banner_id.iter())
        .copied()
        .collect();
    let files = signed_variants(state, &ids, &["thumb.webp", "grid.webp", "full.webp"]).await?;
    let (mut avatar, mut banner) = (Vec::new(), Vec::new());
    for (asset, v) in files {
        if Some(asset) == c.avatar_id {
            avatar.push(v);
        } else {
            banner.push(v);
        }
    }
    Ok((avatar, banner))
}

/// The small avatar file of each of `avatars` (signed), for lists of creators.
pub async fn avatar_urls(
    state: &AppState,
    avatars: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, AppError> {
    Ok(signed_variants(state, avatars, &["thumb.webp"])
        .await?
        .into_iter()
        .map(|(asset, v)| (asset, v.url.as_str().to_owned()))
        .collect())
}
