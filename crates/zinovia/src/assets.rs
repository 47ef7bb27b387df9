//! Static assets compiled into the binary (stylesheets, scripts, the vendored API viewer),
//! served under content-hashed names with year-long immutable caching, so a new release
//! never serves stale files and browsers never ask twice.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Logical name, e.g. `site.css`.
    pub name: &'static str,
    /// Served name with the content hash, e.g. `site.3f2a1b9c0d.css`.
    pub hashed_name: String,
    /// MIME type.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: &'static [u8],
    /// Strong ETag (the content hash).
    pub etag: String,
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/site.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "api-docs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/api-docs.js"),
    ),
    (
        "hls.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/hls.js/hls.min.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/swagger-ui/swagger-ui.css"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/swagger-ui/swagger-ui-bundle.js"),
    ),
];

fn all() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, content_type, bytes)| {
                let hash = hex::encode(&Sha256::digest(bytes)[..6]);
                let hashed_name = match name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                    None => format!("{name}.{hash}"),
                };
                Asset {
                    name,
                    hashed_name,
                    content_type,
                    bytes,
                    etag: format!("\"{hash}\""),
                }
            })
            .collect()
    })
}

/// The URL path of an asset by logical name (`/assets/site.<hash>.css`); templates use it.
pub fn url(name: &str) -> String {
    all().iter().find(|a| a.name == name).map_or_else(
        || format!("/assets/{name}"),
        |a| format!("/assets/{}", a.hashed_name),
    )
}

/// `GET /assets/{file}`: a hashed name is cached for a year; the plain name is served too
/// (for hand-written links) but revalidated every time.
pub async fn serve_asset(
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (asset, immutable) = all()
        .iter()
        .find_map(|a| {
            if a.hashed_name == file {
                Some((a, true))
            } else if a.name == file {
                Some((a, false))
            } else {
                None
            }
        })
        .ok_or(AppError::NotFound)?;
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, no-cache"
    };
    let etag = HeaderValue::from_str(&asset.etag).map_err(|e| AppError::Internal(e.into()))?;
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            ],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::ETAG, etag),
        ],
        asset.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_content_hash() {
        let u = url("site.css");
        assert!(
            u.starts_with("/assets/site.")
                && u.ends_with(".css")
                && u.len() > "/assets/site.css".len()
        );
        assert_eq!(url("nope.css"), "/assets/nope.css");
    }
}
