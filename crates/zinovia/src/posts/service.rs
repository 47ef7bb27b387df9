//! Writing posts (validated), and reading them through the entitlement rule: the creator's
//! page, the feed, one post, explore, likes and comments.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::db::{self, PostInput};
use super::entitlements::{self, Seen, Why, decide, may_interact};
use super::types::{
    CommentId, Cursor, ExploreSort, MediaRow, PostId, PostRow, VariantRow, Visibility, text_html,
};
use super::view::{CreatorRef, Listing, MediaView, PostView, Price, VariantUrl};
use crate::accounts::{Authenticated, FieldCheck, Role, User};
use crate::creators::{self, Found};
use crate::database::LazyConn;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::StorageKey;

/// Longest post text, in characters.
pub const MAX_TEXT: usize = 5000;
/// Most media in a post.
pub const MAX_MEDIA: usize = 20;
/// Longest comment.
pub const MAX_COMMENT: usize = 2000;
/// Largest page.
pub const MAX_PAGE: i64 = 50;
/// Default page.
pub const DEFAULT_PAGE: i64 = 20;

/// A post as received (create: every field; update: only those given).
#[derive(Debug, Clone, Default)]
pub struct PostChanges {
    /// Text.
    pub text: Option<String>,
    /// Media, in order.
    pub media_ids: Option<Vec<Uuid>>,
    /// Who it is for.
    pub visibility: Option<Visibility>,
    /// PPV price (`Some(None)` clears it).
    pub price_minor: Option<Option<i64>>,
    /// Whether locked viewers see the text.
    pub text_is_teaser: Option<bool>,
    /// Scheduled publication.
    pub publish_at: Option<Option<DateTime<Utc>>>,
    /// Disappears at.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Pinned to the profile.
    pub pinned: Option<bool>,
}

/// Parses a page size.
pub fn page_size(raw: Option<i64>) -> Result<i64, AppError> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(AppError::field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

/// The most creators explore skips.
pub const MAX_EXPLORE_OFFSET: i64 = 1000;

/// What to explore: the order, how many to skip, how many to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExploreRequest {
    /// The order.
    pub sort: ExploreSort,
    /// How many to skip (0–`MAX_EXPLORE_OFFSET`).
    pub offset: i64,
    /// How many (1–`MAX_PAGE`).
    pub limit: i64,
}

impl ExploreRequest {
    /// Validates explore's query (the API's and the page's), every problem per field.
    pub fn parse(
        sort: Option<&str>,
        offset: Option<&str>,
        limit: Option<&str>,
    ) -> Result<ExploreRequest, AppError> {
        let mut check = FieldCheck::default();
        let sort = ExploreSort::parse(sort);
        if sort.is_none() {
            check.add("sort", "must be newest or popular");
        }
        let offset = match offset {
            None | Some("") => Some(0),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (0..=MAX_EXPLORE_OFFSET).contains(&n) => Some(n),
                _ => {
                    check.add(
                        "offset",
                        format!("must be between 0 and {MAX_EXPLORE_OFFSET}"),
                    );
                    None
                }
            },
        };
        let limit = match limit {
            None | Some("") => Some(DEFAULT_PAGE),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Some(n),
                _ => {
                    check.add("limit", format!("must be between 1 and {MAX_PAGE}"));
                    None
                }
            },
        };
        check.finish()?;
        match (sort, offset, limit) {
            (Some(sort), Some(offset), Some(limit)) => Ok(ExploreRequest {
                sort,
                offset,
                limit,
            }),
            _ => Err(AppError::BadRequest("explore".into())),
        }
    }
}

/// Creators with at least one live public post: the newest or the most subscribed (by the
/// one definition of a subscription that grants access).
pub async fn explore(
    state: &AppState,
    request: &ExploreRequest,
) -> Result<Vec<db::ExploreRow>, AppError> {
    let grace = state.settings.content.subscription_grace.0;
    Ok(db::explore(
        &state.db,
        request.sort == ExploreSort::Popular,
        request.offset,
        request.limit,
        grace,
    )
    .await?)
}

/// Parses an optional cursor.
pub fn cursor(raw: Option<&str>) -> Result<Cursor, AppError> {
    match raw {
        None | Some("") => Ok(Cursor::start()),
        Some(c) => Cursor::decode(c).map_err(|m| AppError::field("cursor", m)),
    }
}

/// The outcome of reading a creator's page.
#[derive(Debug)]
pub enum CreatorPage {
    /// The page.
    Page(Listing),
    /// The handle moved: the current one.
    MovedTo(String),
}

/// A creator's posts as `viewer` may see them: pinned first, newest first, keyset pages.
pub async fn creator_page(
    state: &AppState,
    viewer: Option<&User>,
    handle: &str,
    after: Cursor,
    limit: i64,
) -> Result<CreatorPage, AppError> {
    let mut conn = LazyConn::new(&state.db);
    let creator = match state.posts_cache().creator(&mut conn, handle).await? {
        Found::Creator(c) => c,
        Found::MovedTo(h) => return Ok(CreatorPage::MovedTo(h)),
    };
    let own = viewer.is_some_and(|v| v.id.0 == creator.user_id || v.role == Role::Admin);
    let (posts, media) = state
        .posts_cache()
        .page(&mut conn, creator.user_id, own, after, limit)
        .await?;
    let refs = HashMap::from([(
        creator.user_id,
        CreatorRef {
            handle: creator.handle.clone(),
            display_name: creator.display_name.clone(),
        },
    )]);
    let listing = render(state, &mut conn, viewer, &posts, &media, &refs, limit, true).await?;
    Ok(CreatorPage::Page(listing))
}

/// The signed-in fan's feed: posts of creators whose subscription grants access now and
/// posts they bought, newest first.
pub async fn feed(
    state: &AppState,
    fan: &User,
    after: Cursor,
    limit: i64,
) -> Result<Listing, AppError> {
    let grace = state.settings.content.subscription_grace.0;
    let mut conn = LazyConn::new(&state.db);
    let c = conn.get().await?;
    let creators = entitlements::subscribed_creators(&mut *c, fan.id.0, grace).await?;
    let posts = db::feed_page(&mut *c, fan.id.0, &creators, after, limit).await?;
    let ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
    let media = db::media_of(&mut *c, &ids).await?;
    let refs = creator_refs(c, &posts).await?;
    render(
        state,
        &mut conn,
        Some(fan),
        &posts,
        &media,
        &refs,
        limit,
        false,
    )
    .await
}

/// One post.
pub async fn get(
    state: &AppState,
    viewer: Option<&User>,
    PostId(id): PostId,
) -> Result<PostView, AppError> {
    let mut conn = LazyConn::new(&state.db);
    let c = conn.get().await?;
    let post = db::get(&mut *c, id).await?.ok_or(AppError::NotFound)?;
    let media = db::media_of(&mut *c, &[post.id]).await?;
    let refs = creator_refs(c, std::slice::from_ref(&post)).await?;
    let listing = render(state, &mut conn, viewer, &[post], &media, &refs, 1, false).await?;
    listing.posts.into_iter().next().ok_or(AppError::NotFound)
}

async fn creator_refs(
    conn: &mut sqlx::PgConnection,
    posts: &[PostRow],
) -> Result<HashMap<Uuid, CreatorRef>, AppError> {
    let ids: Vec<Uuid> = posts
        .iter()
        .map(|p| p.creator_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(creators::names(conn, &ids)
        .await?
        .into_iter()
        .map(|(id, handle, display_name)| {
            (
                id,
                CreatorRef {
                    handle,
                    display_name,
                },
            )
        })
        .collect())
}

/// Decides every post for `viewer` (one rule), signs URLs only for unlocked media, and
/// audits what an admin saw only as an admin. Constant number of statements.
#[expect(
    clippy::too_many_arguments,
    reason = "one call per listing kind, all named"
)]
async fn render(
    state: &AppState,
    conn: &mut LazyConn<'_>,
    viewer: Option<&User>,
    posts: &[PostRow],
    media: &[MediaRow],
    creators: &HashMap<Uuid, CreatorRef>,
    limit: i64,
    with_pinned: bool,
) -> Result<Listing, AppError> {
    let grace = state.settings.content.subscription_grace.0;
    let creator_ids: Vec<Uuid> = creators.keys().copied().collect();
    let post_ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
    let grants = entitlements::load_grants(conn, viewer, &creator_ids, &post_ids, grace).await?;
    let liked: HashSet<Uuid> = match viewer {
        Some(v) if !post_ids.is_empty() => db::liked(conn.get().await?, v.id.0, &post_ids)
            .await?
            .into_iter()
            .collect(),
        _ => HashSet::new(),
    };
    let now = Utc::now();
    let mut by_post: HashMap<Uuid, Vec<&MediaRow>> = HashMap::new();
    for m in media {
        by_post.entry(m.post_id).or_default().push(m);
    }
    let mut admin_only = Vec::new();
    let mut out = Vec::with_capacity(posts.len());
    // Files to sign: (post index in `out`, media index, variant, end of its key in `keys`);
    // signed in one batch.
    let mut to_sign: Vec<(usize, usize, &VariantRow, usize)> = Vec::new();
    let mut keys = String::with_capacity(media.len() * 3 * 52);
    for post in posts {
        let seen = decide(viewer, &post.facts(), &grants, now);
        let unlocked = match seen {
            Seen::Hidden => continue,
            Seen::Locked => false,
            Seen::Unlocked(why) => {
                if why == Why::Admin {
                    admin_only.push(post.id);
                }
                true
            }
        };
        let rows = by_post.get(&post.id).map(Vec::as_slice).unwrap_or(&[]);
        let mut items: Vec<MediaView> = Vec::with_capacity(rows.len());
        for row in rows {
            if unlocked {
                for v in &row.variants {
                    if StorageKey::push_variant(&mut keys, row.asset_id, v.name) {
                        to_sign.push((out.len(), items.len(), v, keys.len()));
                    }
                }
            }
            items.push(MediaView {
                position: row.position,
                id: unlocked.then_some(row.asset_id),
                kind: row.kind,
                width: row.width,
                height: row.height,
                duration_ms: row.duration_ms,
                blurhash: row.blurhash.clone(),
                variants: Vec::with_capacity(if unlocked { row.variants.len() } else { 0 }),
            });
        }
        let own = viewer.is_some_and(|v| v.id.0 == post.creator_id);
        let show_text = unlocked || post.text_is_teaser;
        let visibility = post.visibility;
        out.push(PostView {
            id: post.id,
            creator: creators.get(&post.creator_id).cloned().unwrap_or_default(),
            visibility,
            price: match (post.price_minor, &post.currency) {
                (Some(amount_minor), Some(currency)) => Some(Price {
                    amount_minor,
                    currency: currency.clone(),
                }),
                _ => None,
            },
            locked: !unlocked,
            text: show_text.then(|| post.body.clone()),
            text_html: show_text.then(|| text_html(&post.body)),
            text_is_teaser: post.text_is_teaser,
            media_count: items.len(),
            media: items,
            published_at: post.published_at,
            expires_at: post.expires_at,
            scheduled: post.published_at > now,
            pinned: post.pinned,
            like_count: post.like_count,
            comment_count: post.comment_count,
            liked: viewer.map(|_| liked.contains(&post.id)),
            can_interact: viewer.is_some_and(|v| may_interact(v, &post.facts(), &grants, now)),
            own,
        });
    }
    if !to_sign.is_empty() {
        let mut start = 0;
        let keys: Vec<&str> = to_sign
            .iter()
            .map(|(_, _, _, end)| {
                let key = keys.get(start..*end).unwrap_or_default();
                start = *end;
                key
            })
            .collect();
        let (urls, _) = state
            .storage()?
            .signed_urls(&keys, state.settings.media.media_url_ttl.0)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        for ((p, m, row, _), url) in to_sign.into_iter().zip(urls) {
            if let Some(item) = out
                .get_mut(p)
                .and_then(|v: &mut PostView| v.media.get_mut(m))
            {
                item.variants.push(VariantUrl {
                    name: row.name.into(),
                    width: row.width,
                    height: row.height,
                    url,
                });
            }
        }
    }
    if let Some(admin) = viewer.filter(|v| v.role == Role::Admin) {
        entitlements::audit_admin_views(&state.db, admin, &admin_only).await?;
    }
    let full_page = i64::try_from(posts.len()).unwrap_or(0) >= limit;
    let next_cursor = posts
        .last()
        .filter(|_| full_page)
        .map(|p| Cursor::after(p, with_pinned).encode());
    Ok(Listing {
        posts: out,
        next_cursor,
    })
}

/// Whether `viewer` may see this post asset's variants: through any live post that shows
/// it, decided by the one rule.
pub async fn asset_visible(
    state: &AppState,
    viewer: Option<&User>,
    asset: Uuid,
) -> Result<bool, AppError> {
    let mut conn = LazyConn::new(&state.db);
    let posts = db::posts_with_asset(conn.get().await?, asset).await?;
    if posts.is_empty() {
        return Ok(false);
    }
    let creators: Vec<Uuid> = posts.iter().map(|p| p.creator_id).collect();
    let ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
    let grace = state.settings.content.subscription_grace.0;
    let grants = entitlements::load_grants(&mut conn, viewer, &creators, &ids, grace).await?;
    let now = Utc::now();
    let mut admin_only = Vec::new();
    let mut visible = false;
    for p in &posts {
        match decide(viewer, &p.facts(), &grants, now) {
            Seen::Unlocked(Why::Admin) => admin_only.push(p.id),
            Seen::Unlocked(_) => visible = true,
            _ => {}
        }
    }
    if !visible
        && let Some(admin) = viewer.filter(|v| v.role == Role::Admin)
        && !admin_only.is_empty()
    {
        entitlements::audit_admin_views(&state.db, admin, &admin_only[..1]).await?;
        visible = true;
    }
    Ok(visible)
}

/// The state a post will have after `changes`, validated as a whole.
struct Resolved {
    text: String,
    media: Option<Vec<Uuid>>,
    visibility: Visibility,
    price_minor: Option<i32>,
    currency: Option<String>,
    text_is_teaser: bool,
    published_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    pinned: bool,
}

impl Resolved {
    fn input(&self) -> PostInput<'_> {
        PostInput {
            body: &self.text,
            visibility: self.visibility,
            price_minor: self.price_minor,
            currency: self.currency.as_deref(),
            text_is_teaser: self.text_is_teaser,
            published_at: self.published_at,
            expires_at: self.expires_at,
            pinned: self.pinned,
        }
    }
}

async fn resolve(
    state: &AppState,
    creator: &creators::Creator,
    current: Option<&PostRow>,
    changes: PostChanges,
) -> Result<Resolved, AppError> {
    let content = &state.settings.content;
    let now = Utc::now();
    let mut check = FieldCheck::default();
    let text = match (&changes.text, current) {
        (Some(t), _) => check.text("text", t, MAX_TEXT, false),
        (None, Some(p)) => Some(p.body.clone()),
        (None, None) => Some(String::new()),
    };
    let visibility = match (changes.visibility, current) {
        (Some(v), _) => Some(v),
        (None, Some(p)) => Some(p.visibility),
        (None, None) => {
            check.add("visibility", "is required: public, subscribers or ppv");
            None
        }
    };
    // Paid posts (subscribers or pay-per-view) need a verified seller; a post already paid
    // keeps its visibility when something else is edited.
    if visibility.is_some_and(|v| v != Visibility::Public)
        && (current.is_none() || changes.visibility.is_some())
        && !crate::verification::may_sell(state, creator.user_id).await?
    {
        check.add("visibility", crate::verification::NOT_VERIFIED);
    }
    let price = match (changes.price_minor, current) {
        (Some(p), _) => p,
        (None, Some(p)) => p.price_minor.map(i64::from),
        (None, None) => None,
    };
    let price_minor = match (visibility, price) {
        (Some(Visibility::Ppv), None) => {
            check.add("price_minor", "is required for pay-per-view posts");
            None
        }
        (Some(Visibility::Ppv), Some(p)) => {
            let (min, max) = (
                i64::from(content.ppv_price_min),
                i64::from(content.ppv_price_max),
            );
            if (min..=max).contains(&p) {
                i32::try_from(p).ok()
            } else {
                check.add(
                    "price_minor",
                    format!("must be between {min} and {max} (minor units, e.g. cents)"),
                );
                None
            }
        }
        (_, Some(_)) if changes.price_minor.is_some() => {
            check.add("price_minor", "only pay-per-view posts have a price");
            None
        }
        _ => None,
    };
    let media = match &changes.media_ids {
        None => None,
        Some(ids) => {
            let unique: HashSet<&Uuid> = ids.iter().collect();
            if ids.len() > MAX_MEDIA {
                check.add(
                    "media_ids",
                    format!("a post holds at most {MAX_MEDIA} files"),
                );
            } else if unique.len() != ids.len() {
                check.add("media_ids", "lists the same file twice");
            } else if !ids.is_empty() {
                let usable = db::usable_assets(&state.db, creator.user_id, ids).await?;
                let states: HashMap<Uuid, String> = usable.into_iter().collect();
                for id in ids {
                    match states.get(id).map(String::as_str) {
                        Some("ready") => {}
                        Some(s) => check.add("media_ids", format!("{id} is not ready ({s})")),
                        None => {
                            check.add("media_ids", format!("{id} is not a post upload of yours"))
                        }
                    }
                }
            }
            Some(ids.clone())
        }
    };
    let has_media = match (&media, current) {
        (Some(m), _) => !m.is_empty(),
        (None, Some(_)) => true,
        (None, None) => false,
    };
    if text.as_deref().is_some_and(str::is_empty) && !has_media {
        check.add("text", "a post needs text or media");
    }
    let published_at = match changes.publish_at {
        Some(Some(at)) => {
            let already_live = current.is_some_and(|p| p.published_at <= now);
            if already_live {
                check.add("publish_at", "the post is already published");
            } else if at <= now {
                check.add("publish_at", "must be in the future");
            } else if at > now + chrono::Duration::days(366) {
                check.add("publish_at", "must be within a year");
            }
            Some(at)
        }
        Some(None) if current.is_some_and(|p| p.published_at > now) => Some(now),
        _ => None,
    };
    let effective_publish = published_at
        .or(current.map(|p| p.published_at))
        .unwrap_or(now);
    let expires_at = match (changes.expires_at, current) {
        (Some(e), _) => e,
        (None, Some(p)) => p.expires_at,
        (None, None) => None,
    };
    if let Some(e) = expires_at
        && changes.expires_at.is_some()
        && (e <= effective_publish || e <= now)
    {
        check.add(
            "expires_at",
            "must be after the post is published, and in the future",
        );
    }
    check.finish()?;
    let visibility = visibility.ok_or_else(|| AppError::field("visibility", "is required"))?;
    Ok(Resolved {
        text: text.unwrap_or_default(),
        media,
        visibility,
        price_minor,
        // A price set now is in the profile's currency; one left as it was keeps the currency
        // it was set in (a later change of the profile's currency changes no post's price).
        currency: price_minor.map(|_| match (&changes.price_minor, current) {
            (
                None,
                Some(PostRow {
                    currency: Some(c), ..
                }),
            ) => c.clone(),
            _ => creator.currency.clone(),
        }),
        text_is_teaser: changes
            .text_is_teaser
            .or(current.map(|p| p.text_is_teaser))
            .unwrap_or(false),
        published_at,
        expires_at,
        pinned: changes
            .pinned
            .or(current.map(|p| p.pinned))
            .unwrap_or(false),
    })
}

async fn creator_of(state: &AppState, who: &Authenticated) -> Result<creators::Creator, AppError> {
    creators::by_user(&state.db, who.user.id.0)
        .await?
        .ok_or_else(|| AppError::Conflict("become a creator first (PUT /api/v1/me/creator)".into()))
}

/// Publishes (or schedules) a post.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id))]
pub async fn create(
    state: &AppState,
    who: &Authenticated,
    changes: PostChanges,
) -> Result<PostView, AppError> {
    let creator = creator_of(state, who).await?;
    let r = resolve(state, &creator, None, changes).await?;
    let id = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    db::insert(&mut tx, id, creator.user_id, &r.input()).await?;
    if let Some(media) = &r.media {
        db::set_media(&mut tx, id, media).await?;
    }
    tx.commit().await?;
    // This process drops its cached page of the creator at once (the others on NOTIFY),
    // so the writer sees the post on the next read.
    state.posts_cache().forget(creator.user_id);
    tracing::info!(post_id = %id, visibility = r.visibility.as_str(), "post created");
    get(state, Some(&who.user), PostId(id)).await
}

/// Edits a post of the caller's.
#[tracing::instrument(skip_all, fields(user_id = %who.user.id, post_id = %id))]
pub async fn update(
    state: &AppState,
    who: &Authenticated,
    PostId(id): PostId,
    changes: PostChanges,
) -> Result<PostView, AppError> {
    let creator = creator_of(state, who).await?;
    let mut tx = state.db.begin().await?;
    let current = db::get_for_update(&mut tx, id)
        .await?
        .filter(|p| p.creator_id == creator.user_id && p.deleted_at.is_none())
        .ok_or(AppError::NotFound)?;
    let r = resolve(state, &creator, Some(&current), changes).await?;
    db::update(&mut tx, id, &r.input()).await?;
    if let Some(media) = &r.media {
        db::set_media(&mut tx, id, media).await?;
    }
    tx.commit().await?;
    state.posts_cache().forget(creator.user_id);
    get(state, Some(&who.user), PostId(id)).await
}

/// Soft-deletes a post of the caller's (buyers' records stay).
pub async fn delete(
    state: &AppState,
    who: &Authenticated,
    PostId(id): PostId,
) -> Result<(), AppError> {
    let post = db::get(&state.db, id).await?.ok_or(AppError::NotFound)?;
    if post.creator_id != who.user.id.0 || post.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    db::soft_delete(&state.db, id).await?;
    state.posts_cache().forget(post.creator_id);
    tracing::info!(post_id = %id, "post deleted");
    Ok(())
}

/// A pay-per-view post on sale, as a checkout sells it.
#[derive(Debug, Clone)]
pub struct PpvOffer {
    /// Its creator.
    pub creator_id: Uuid,
    /// Its price, in the currency it was set in.
    pub price: crate::money::Money,
}

/// The offer of pay-per-view post `post`, if it is on sale now (live, priced, its
/// creator's account open).
pub async fn ppv_offer(
    conn: &mut sqlx::PgConnection,
    post: Uuid,
) -> Result<Option<PpvOffer>, sqlx::Error> {
    Ok(db::ppv_offer(conn, post)
        .await?
        .map(|(creator_id, minor, currency)| PpvOffer {
            creator_id,
            price: crate::money::Money::new(minor, currency),
        }))
}

/// Whether an asset is shown by a post that is not deleted (media refuses to delete it).
pub async fn asset_in_live_post(
    conn: &mut sqlx::PgConnection,
    asset: Uuid,
) -> Result<bool, sqlx::Error> {
    db::asset_in_live_post(conn, asset).await
}

/// Takes down every post of an account being deleted, inside the deletion's transaction:
/// hidden from everyone at once (cached pages are dropped through the posts trigger's
/// NOTIFY), text cleared. Their files go with the account's media.
pub async fn close_account(conn: &mut sqlx::PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    let n = db::take_down_all(conn, user).await?;
    if n > 0 {
        tracing::info!(posts = n, "posts taken down with their account");
    }
    Ok(())
}

/// A post the caller may interact with (like, comment), with its grants.
async fn interactable(state: &AppState, who: &User, id: Uuid) -> Result<PostRow, AppError> {
    let mut conn = LazyConn::new(&state.db);
    let post = db::get(conn.get().await?, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let grace = state.settings.content.subscription_grace.0;
    let grants =
        entitlements::load_grants(&mut conn, Some(who), &[post.creator_id], &[post.id], grace)
            .await?;
    let now = Utc::now();
    match decide(Some(who), &post.facts(), &grants, now) {
        Seen::Hidden => Err(AppError::NotFound),
        _ if may_interact(who, &post.facts(), &grants, now) => Ok(post),
        _ => Err(AppError::Forbidden),
    }
}

/// Likes or unlikes (idempotent).
pub async fn like(
    state: &AppState,
    who: &User,
    PostId(id): PostId,
    like: bool,
) -> Result<(), AppError> {
    let post = interactable(state, who, id).await?;
    let mut tx = state.db.begin().await?;
    db::set_like(&mut tx, id, who.id.0, like).await?;
    tx.commit().await?;
    // The count is on the post's row: this process drops its cached page at once (the
    // others on NOTIFY), so whoever liked sees it counted on the next read.
    state.posts_cache().forget(post.creator_id);
    Ok(())
}

/// A comment as shown.
pub use db::CommentRow as Comment;

/// Comments, oldest first (for whoever may see the post's media).
pub async fn comments(
    state: &AppState,
    viewer: Option<&User>,
    PostId(id): PostId,
    after: Option<CommentId>,
    limit: i64,
) -> Result<Vec<Comment>, AppError> {
    let view = get(state, viewer, PostId(id)).await?;
    if view.locked {
        return Err(AppError::PaymentRequired);
    }
    let after = match after {
        None => None,
        Some(CommentId(c)) => db::comment_position(&state.db, id, c)
            .await?
            .map(Some)
            .ok_or_else(|| AppError::field("after", "is not a comment of this post"))?,
    };
    Ok(db::comments(&state.db, id, after, limit).await?)
}

/// Adds a comment (subscribers, buyers and the creator).
pub async fn add_comment(
    state: &AppState,
    who: &User,
    PostId(id): PostId,
    raw: &str,
) -> Result<Comment, AppError> {
    let mut check = FieldCheck::default();
    let body = check.text("text", raw, MAX_COMMENT, true);
    check.finish()?;
    let body = body.unwrap_or_default();
    let post = interactable(state, who, id).await?;
    let cid = Uuid::now_v7();
    let mut tx = state.db.begin().await?;
    db::add_comment(&mut tx, cid, id, who.id.0, &body).await?;
    tx.commit().await?;
    state.posts_cache().forget(post.creator_id);
    Ok(Comment {
        id: cid,
        author_id: who.id.0,
        author_name: who.display_name.clone(),
        body,
        created_at: Utc::now(),
    })
}

/// Deletes a comment: its author, or the post's creator.
pub async fn delete_comment(
    state: &AppState,
    who: &User,
    PostId(post): PostId,
    CommentId(comment): CommentId,
) -> Result<(), AppError> {
    let (author, creator) = db::comment_owner(&state.db, post, comment)
        .await?
        .ok_or(AppError::NotFound)?;
    if who.id.0 != author && who.id.0 != creator && who.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = state.db.begin().await?;
    db::delete_comment(&mut tx, post, comment).await?;
    tx.commit().await?;
    state.posts_cache().forget(creator);
    Ok(())
}
