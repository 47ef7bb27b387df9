//! HTML handlers and templates of the site-wide pages.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::Layout;
use crate::error::{AppError, ErrorInfo};
use crate::state::AppState;

/// A creator in a list to discover.
pub struct CreatorTile {
    handle: String,
    display_name: String,
    bio: String,
    price: String,
    subscribers: i64,
    avatar: String,
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct HomePage {
    layout: Layout,
    creators: Vec<CreatorTile>,
}

#[derive(Template)]
#[template(path = "site/explore.html")]
struct ExplorePage {
    layout: Layout,
    creators: Vec<CreatorTile>,
    popular: bool,
    next: Option<i64>,
}

const EXPLORE_PAGE: i64 = 24;

async fn tiles(
    state: &AppState,
    request: &crate::posts::ExploreRequest,
) -> Result<Vec<CreatorTile>, AppError> {
    let rows = crate::posts::explore(state, request).await?;
    let ids: Vec<uuid::Uuid> = rows.iter().filter_map(|r| r.avatar_id).collect();
    let avatars = crate::creators::avatar_urls(state, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| CreatorTile {
            avatar: r
                .avatar_id
                .and_then(|a| avatars.get(&a).cloned())
                .unwrap_or_default(),
            handle: r.handle,
            display_name: r.display_name,
            bio: r.bio.chars().take(160).collect(),
            price: super::money(i64::from(r.price_minor), &r.currency),
            subscribers: r.subscribers,
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExploreQuery {
    sort: String,
    offset: String,
}

/// `GET /explore`: creators with public posts, newest or most subscribed, 24 at a time.
pub async fn explore(
    State(state): State<AppState>,
    layout: Layout,
    Query(q): Query<ExploreQuery>,
) -> Result<Response, AppError> {
    // The API's validation; one more than a page tells whether there is a next one.
    let mut request = crate::posts::ExploreRequest::parse(Some(&q.sort), Some(&q.offset), None)?;
    request.limit = EXPLORE_PAGE + 1;
    let (popular, offset) = (
        request.sort == crate::posts::ExploreSort::Popular,
        request.offset,
    );
    let creators = tiles(&state, &request).await?;
    let more = creators.len() > usize::try_from(EXPLORE_PAGE).unwrap_or(usize::MAX);
    let creators = creators.into_iter().take(24).collect();
    Ok(super::render(
        &ExplorePage {
            layout,
            creators,
            popular,
            next: (more && offset + EXPLORE_PAGE <= 1000).then_some(offset + EXPLORE_PAGE),
        },
        StatusCode::OK,
    ))
}

#[derive(Template)]
#[template(path = "site/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// `GET /`: what Zinovia is, and creators to discover.
pub async fn home(State(state): State<AppState>, layout: Layout) -> Result<Response, AppError> {
    let creators = tiles(
        &state,
        &crate::posts::ExploreRequest {
            sort: crate::posts::ExploreSort::Popular,
            offset: 0,
            limit: 8,
        },
    )
    .await?;
    Ok(super::render(
        &HomePage { layout, creators },
        StatusCode::OK,
    ))
}

/// The HTML page for an error response, in the site's style.
pub fn error_page(info: &ErrorInfo) -> Response {
    let title = match info.status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::UNAUTHORIZED => "Please sign in",
        StatusCode::TOO_MANY_REQUESTS => "Slow down a little",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    let message = match info.status {
        StatusCode::NOT_FOUND => {
            "There is nothing at this address. It may have moved, or never existed."
        }
        _ => info.message.as_str(),
    };
    let page = ErrorPage {
        layout: Layout::default(),
        status: info.status.as_u16(),
        title,
        message,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {title}", info.status.as_u16()));
    let mut response = (info.status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}
