//! HTML handlers and templates of the site-wide pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::Layout;
use crate::error::{AppError, ErrorInfo};

#[derive(Template)]
#[template(path = "site/home.html")]
struct HomePage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "site/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// `GET /`: what Zinovia is.
pub async fn home(layout: Layout) -> Result<Html<String>, AppError> {
    render(&HomePage { layout })
}

fn render(t: &impl Template) -> Result<Html<String>, AppError> {
    t.render()
        .map(Html)
        .map_err(|e| AppError::Internal(e.into()))
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
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
