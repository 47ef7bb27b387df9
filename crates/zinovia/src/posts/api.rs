//! JSON handlers of posts, listings, likes and comments.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::service::{self, CreatorPage, PostChanges};
use super::types::{CommentId, PostId, Visibility};
use super::view::{Listing, PostView, Price};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{ApiJson, CurrentUser, MaybeUser, PathId};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(creator_posts))
        .routes(routes!(feed))
        .routes(routes!(explore))
        .routes(routes!(create_post))
        .routes(routes!(get_post, update_post, delete_post))
        .routes(routes!(like_post, unlike_post))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(delete_comment))
}

/// Paging through a listing.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Posts per page (1–50, default 20).
    pub limit: Option<String>,
}

fn limit(raw: Option<&str>) -> Result<i64, AppError> {
    let n = match raw {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::field("limit", "must be a whole number"))?,
        ),
    };
    service::page_size(n)
}

/// A creator's posts, pinned first, then newest first. Locked posts carry the preview
/// (kinds, sizes, blurhash, teaser text) and never a media URL.
#[utoipa::path(get, path = "/api/v1/creators/{handle}/posts", tag = "posts",
    params(("handle" = String, Path, description = "The creator's handle"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Posts per page (1–50, default 20)", minimum = 1, maximum = 50)),
    responses(
        (status = 200, description = "A page of posts", body = Listing),
        (status = 301, description = "The creator changed handle: see Location"),
        (status = 404, description = "No such creator", body = ErrorBody),
        (status = 422, description = "Bad cursor or limit", body = ErrorBody),
    ))]
async fn creator_posts(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(handle): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let limit = limit(q.limit.as_deref())?;
    let after = service::cursor(q.cursor.as_deref())?;
    let viewer = user.as_ref().map(|u| &u.user);
    match service::creator_page(&state, viewer, &handle, after, limit).await? {
        CreatorPage::Page(listing) => Ok(listing.into_response()),
        CreatorPage::MovedTo(h) => Ok(crate::creators::api_moved(format!(
            "/api/v1/creators/{h}/posts"
        ))),
    }
}

/// Your feed: posts of the creators you subscribe to and the posts you bought, newest
/// first.
#[utoipa::path(get, path = "/api/v1/feed", tag = "posts", params(("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, description = "Posts per page (1–50, default 20)", minimum = 1, maximum = 50)),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "A page of posts", body = Listing),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 422, description = "Bad cursor or limit", body = ErrorBody),
    ))]
async fn feed(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> Result<Listing, AppError> {
    let limit = limit(q.limit.as_deref())?;
    let mut after = service::cursor(q.cursor.as_deref())?;
    after.pinned = false;
    service::feed(&state, &user.user, after, limit).await
}

/// Exploring creators.
#[derive(Debug, Deserialize)]
pub struct ExploreQuery {
    /// `newest` (default) or `popular` (most subscribers).
    pub sort: Option<String>,
    /// How many to skip (0–1000).
    pub offset: Option<String>,
    /// How many (1–50, default 20).
    pub limit: Option<String>,
}

/// A creator to discover.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExploreCreator {
    /// Handle.
    pub handle: String,
    /// Public name.
    pub display_name: String,
    /// About.
    pub bio: String,
    /// Monthly price.
    pub price: Price,
    /// Subscribers with access now.
    pub subscribers: i64,
    /// Since when.
    pub created_at: DateTime<Utc>,
}

/// Creators with public posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExploreResponse {
    /// The creators.
    pub creators: Vec<ExploreCreator>,
}

/// Creators who have public posts: the newest, or the most subscribed.
#[utoipa::path(get, path = "/api/v1/explore", tag = "posts", params(("sort" = inline(Option<super::types::ExploreSort>), Query, description = "`newest` (default) or `popular`"),
        ("offset" = Option<i64>, Query, description = "How many to skip (0–1000)", minimum = 0, maximum = 1000),
        ("limit" = Option<i64>, Query, description = "How many (1–50, default 20)", minimum = 1, maximum = 50)),
    responses(
        (status = 200, description = "Creators", body = ExploreResponse),
        (status = 422, description = "Bad sort, offset or limit", body = ErrorBody),
    ))]
async fn explore(
    State(state): State<AppState>,
    Query(q): Query<ExploreQuery>,
) -> Result<axum::Json<ExploreResponse>, AppError> {
    let request =
        service::ExploreRequest::parse(q.sort.as_deref(), q.offset.as_deref(), q.limit.as_deref())?;
    let rows = service::explore(&state, &request).await?;
    Ok(axum::Json(ExploreResponse {
        creators: rows
            .into_iter()
            .map(|r| ExploreCreator {
                handle: r.handle,
                display_name: r.display_name,
                bio: r.bio,
                price: Price {
                    amount_minor: r.price_minor,
                    currency: r.currency,
                },
                subscribers: r.subscribers,
                created_at: r.created_at,
            })
            .collect(),
    }))
}

/// Present-but-null vs absent, for PATCH.
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A new post, or the fields of one to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PostRequest {
    /// Plain text (at most 5,000 characters; links become clickable).
    #[schema(max_length = 5000)]
    pub text: Option<String>,
    /// Ready uploads of yours (purpose `post`), in order; at most 20.
    #[schema(max_items = 20)]
    pub media_ids: Option<Vec<Uuid>>,
    /// `public`, `subscribers` or `ppv` (required when creating).
    pub visibility: Option<Visibility>,
    /// Pay-per-view price in minor units (in your profile's currency).
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub price_minor: Option<Option<i64>>,
    /// Whether people without access see the text (default false).
    pub text_is_teaser: Option<bool>,
    /// Publish later (in the future, within a year); `null` publishes a scheduled post now.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub publish_at: Option<Option<DateTime<Utc>>>,
    /// Disappears at (after publication); `null` keeps it.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Pinned to your profile.
    pub pinned: Option<bool>,
}

impl From<PostRequest> for PostChanges {
    fn from(r: PostRequest) -> PostChanges {
        PostChanges {
            text: r.text,
            media_ids: r.media_ids,
            visibility: r.visibility,
            price_minor: r.price_minor,
            text_is_teaser: r.text_is_teaser,
            publish_at: r.publish_at,
            expires_at: r.expires_at,
            pinned: r.pinned,
        }
    }
}

/// Publishes a post (or schedules it with `publish_at`).
#[utoipa::path(post, path = "/api/v1/posts", tag = "posts", request_body = PostRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The post", body = PostView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 409, description = "Not a creator yet", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn create_post(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<PostRequest>,
) -> Result<Response, AppError> {
    let post = service::create(&state, &user, req.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(post)).into_response())
}

/// One post as you may see it.
#[utoipa::path(get, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post")),
    responses(
        (status = 200, description = "The post (locked: no media URLs)", body = PostView),
        (status = 404, description = "No such post (or deleted, or not published yet)", body = ErrorBody),
    ))]
async fn get_post(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    PathId(id): PathId<PostId>,
) -> Result<axum::Json<PostView>, AppError> {
    let viewer = user.as_ref().map(|u| &u.user);
    Ok(axum::Json(service::get(&state, viewer, id).await?))
}

/// Edits a post of yours (only the fields given).
#[utoipa::path(patch, path = "/api/v1/posts/{id}", tag = "posts", request_body = PostRequest,
    params(("id" = Uuid, Path, description = "The post")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The post", body = PostView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of yours", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
async fn update_post(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
    ApiJson(req): ApiJson<PostRequest>,
) -> Result<axum::Json<PostView>, AppError> {
    let post = service::update(&state, &user, id, req.into()).await?;
    Ok(axum::Json(post))
}

/// Deletes a post of yours (its buyers' records are kept).
#[utoipa::path(delete, path = "/api/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such post of yours", body = ErrorBody),
    ))]
async fn delete_post(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
) -> Result<StatusCode, AppError> {
    service::delete(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Likes a post (its creator, subscribers and buyers).
#[utoipa::path(put, path = "/api/v1/posts/{id}/like", tag = "posts",
    params(("id" = Uuid, Path, description = "The post")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Liked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only subscribers and buyers", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
    ))]
async fn like_post(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
) -> Result<StatusCode, AppError> {
    service::like(&state, &user.user, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a like back.
#[utoipa::path(delete, path = "/api/v1/posts/{id}/like", tag = "posts",
    params(("id" = Uuid, Path, description = "The post")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Not liked any more"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only subscribers and buyers", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
    ))]
async fn unlike_post(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
) -> Result<StatusCode, AppError> {
    service::like(&state, &user.user, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentResponse {
    /// Id.
    pub id: Uuid,
    /// Author's public name.
    pub author_name: String,
    /// Whether the caller wrote it.
    pub own: bool,
    /// Plain text.
    pub text: String,
    /// As safe HTML.
    pub text_html: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Comments, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentsResponse {
    /// The comments.
    pub comments: Vec<CommentResponse>,
    /// Pass as `after` for more.
    pub next_after: Option<Uuid>,
}

/// Paging through comments.
#[derive(Debug, Deserialize)]
pub struct CommentsQuery {
    /// The last comment seen.
    pub after: Option<String>,
    /// How many (1–50, default 20).
    pub limit: Option<String>,
}

fn comment(c: service::Comment, viewer: Option<Uuid>) -> CommentResponse {
    CommentResponse {
        id: c.id,
        own: viewer == Some(c.author_id),
        author_name: c.author_name,
        text_html: super::types::text_html(&c.body),
        text: c.body,
        created_at: c.created_at,
    }
}

/// A post's comments (for whoever may see its media).
#[utoipa::path(get, path = "/api/v1/posts/{id}/comments", tag = "posts",
    params(("id" = Uuid, Path, description = "The post"),
        ("after" = Option<Uuid>, Query, description = "The last comment seen"),
        ("limit" = Option<i64>, Query, description = "How many (1–50, default 20)", minimum = 1, maximum = 50)),
    responses(
        (status = 200, description = "Comments", body = CommentsResponse),
        (status = 402, description = "Locked", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
    ))]
async fn list_comments(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    PathId(id): PathId<PostId>,
    Query(q): Query<CommentsQuery>,
) -> Result<axum::Json<CommentsResponse>, AppError> {
    let viewer = user.as_ref().map(|u| &u.user);
    let limit = limit(q.limit.as_deref())?;
    let after = match q.after.as_deref() {
        None | Some("") => None,
        Some(a) => {
            Some(CommentId(Uuid::parse_str(a).map_err(|_| {
                AppError::field("after", "is not a comment id")
            })?))
        }
    };
    let rows = service::comments(&state, viewer, id, after, limit).await?;
    let next_after = (i64::try_from(rows.len()).unwrap_or(0) >= limit)
        .then(|| rows.last().map(|c| c.id))
        .flatten();
    let me = viewer.map(|v| v.id.0);
    Ok(axum::Json(CommentsResponse {
        comments: rows.into_iter().map(|c| comment(c, me)).collect(),
        next_after,
    }))
}

/// A comment to add.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentRequest {
    /// Plain text, 1–2,000 characters.
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
}

/// Comments on a post (its creator, subscribers and buyers).
#[utoipa::path(post, path = "/api/v1/posts/{id}/comments", tag = "posts", request_body = CommentRequest,
    params(("id" = Uuid, Path, description = "The post")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "The comment", body = CommentResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Only subscribers and buyers", body = ErrorBody),
        (status = 404, description = "No such post", body = ErrorBody),
        (status = 422, description = "Empty or too long", body = ErrorBody),
    ))]
async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PostId>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<Response, AppError> {
    let c = service::add_comment(&state, &user.user, id, &req.text).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(comment(c, Some(user.user.id.0))),
    )
        .into_response())
}

/// Deletes a comment: yours, or any on your posts.
#[utoipa::path(delete, path = "/api/v1/posts/{id}/comments/{comment_id}", tag = "posts",
    params(("id" = Uuid, Path, description = "The post"), ("comment_id" = Uuid, Path, description = "The comment")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not yours, nor on your post", body = ErrorBody),
        (status = 404, description = "No such comment", body = ErrorBody),
    ))]
async fn delete_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId((id, comment_id)): PathId<(PostId, CommentId)>,
) -> Result<StatusCode, AppError> {
    service::delete_comment(&state, &user.user, id, comment_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
