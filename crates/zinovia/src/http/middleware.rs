//! Middleware every request passes through: request id and log span, metrics and the access
//! log line, security headers, and rendering of errors (JSON envelope for the API, an HTML
//! page for the web).

use std::any::Any;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::extract::ClientMeta;
use crate::error::{AppError, ErrorInfo};
use crate::metrics::HttpLabels;
use crate::state::AppState;

/// The request id header, set on every response and kept from the load balancer.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request (also in every log line of the request).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// An incoming id is kept only when it is short and plain, so clients cannot inject log
/// lines or oversized headers through it.
fn acceptable_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.:=+/".contains(c))
}

/// Assigns the request id (keeping an acceptable incoming one), opens the request's log
/// span and echoes the id on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(v) if acceptable_request_id(v) => v.clone(),
        _ => HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("invalid")),
    };
    let id_str = id.to_str().unwrap_or_default().to_owned();
    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    req.extensions_mut().insert(RequestId(id_str.clone()));
    let span = tracing::info_span!("request", request_id = %id_str);
    let mut response = next.run(req).instrument(span).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// Records request metrics by matched route and writes the access log line.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // A path that carries a secret (CCBill's webhook URL token) is logged as its route.
    let path = if route.contains("{token}") {
        route.clone()
    } else {
        req.uri().path().to_owned()
    };
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status();
    state.metrics.observe_request(
        HttpLabels {
            method: method.to_string(),
            route: route.clone(),
            status: status.as_u16(),
        },
        elapsed.as_secs_f64(),
    );
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::warn!(%method, path, route, status = status.as_u16(), latency_ms, "request finished");
    } else if route == "/healthz" || route == "/readyz" || route == "/metrics" {
        // Probes arrive every few seconds; keep them out of the info log.
        tracing::debug!(%method, path, route, status = status.as_u16(), latency_ms, "request finished");
    } else {
        tracing::info!(%method, path, route, status = status.as_u16(), latency_ms, "request finished");
    }
    response
}

/// Works out the client (`ClientMeta`: IP behind trusted proxies, user agent) once for the
/// request, and applies the per-IP limit on the whole site (`RATE_LIMIT_API`); probes and
/// static assets are not counted.
pub async fn client_and_rate_limit(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let meta = ClientMeta::from_parts(req.headers(), peer, &state.settings.http.trusted_proxies);
    let path = req.uri().path();
    // Payment webhooks come in bursts from a rail's few addresses (CCBill posts from four
    // /24s) and are refused cheaply by their own check (signature, or token and address).
    let exempt = matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path.starts_with("/assets/")
        || path.starts_with("/storage/")
        || path.starts_with("/api/v1/billing/webhooks/");
    if !exempt && let Some(ip) = meta.ip {
        let limiter = match state.limiter() {
            Ok(l) => l,
            Err(e) => return e.into_response(),
        };
        if let Err(retry_after) = limiter
            .check("ip", state.settings.auth.rate_limit_api, &ip.to_string())
            .await
        {
            return AppError::RateLimited { retry_after }.into_response();
        }
    }
    req.extensions_mut().insert(meta);
    next.run(req).await
}

/// Answers 503 `timeout` when the handler takes longer than `REQUEST_TIMEOUT`; the
/// handler's future is dropped, which cancels its database work.
pub async fn timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            AppError::Timeout.into_response()
        }
    }
}

/// A Content-Security-Policy that allows only our own scripts, styles and images (with
/// media storage on this server).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The origins media comes from and goes to besides this server: the CloudFront
/// distribution (delivery), the bucket (uploads, and delivery without CloudFront).
pub fn media_origins(m: &crate::config::MediaSettings) -> Vec<String> {
    use crate::config::StorageBackend;
    let origin = |u: &url::Url| u.origin().ascii_serialization();
    let mut origins = Vec::new();
    if m.storage == StorageBackend::S3 {
        if let Some(cdn) = &m.cdn_base_url {
            origins.push(origin(cdn));
        }
        match (&m.s3_endpoint, &m.s3_bucket) {
            (Some(endpoint), _) => origins.push(origin(endpoint)),
            (None, Some(bucket)) => {
                origins.push(format!("https://{bucket}.s3.{}.amazonaws.com", m.s3_region));
            }
            (None, None) => {}
        }
    }
    origins.retain(|o| o != "null");
    origins.dedup();
    origins
}

/// The Content-Security-Policy for media kept at `media` (see [`media_origins`]) and forms
/// that end at a payment rail's pages (`forms`: a checkout, a card portal or onboarding
/// answer a form with a redirect there, and `form-action` covers redirects): images,
/// video and uploads may reach the media origins, forms those pages; nothing else changes.
pub fn csp(media: &[String], forms: &[String]) -> HeaderValue {
    if media.is_empty() && forms.is_empty() {
        return HeaderValue::from_static(CSP);
    }
    let mut policy = CSP.to_owned();
    if !media.is_empty() {
        let extra = media.join(" ");
        policy = policy
            .replace("img-src 'self'", &format!("img-src 'self' {extra}"))
            .replace("media-src 'self'", &format!("media-src 'self' {extra}"))
            .replace("connect-src 'self'", &format!("connect-src 'self' {extra}"));
    }
    if !forms.is_empty() {
        policy = policy.replace(
            "form-action 'self'",
            &format!("form-action 'self' {}", forms.join(" ")),
        );
    }
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static(CSP))
}

/// Security headers on every response, and `Cache-Control: private, no-store` on those that
/// do not set their own. A handler that needs a different CSP sets its own.
pub async fn security_headers(https: bool, csp: HeaderValue, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Pages whose URL carries a token set `no-referrer` themselves.
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // Pages and API answers depend on who asks (a session, a subscription, CSRF tokens):
    // no shared cache may keep them. What is the same for everyone (hashed assets, the
    // OpenAPI document, signed media) says so itself.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// True for paths of the JSON API and the operational endpoints, which answer errors in
/// the JSON envelope; everything else is a web page.
pub(crate) fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Makes every error response speak the one error model: responses built outside our
/// handlers (unknown route, 405, body limit, timeout) become `AppError`s, and on the web
/// surface the envelope becomes an HTML error page.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let api = is_api_path(req.uri().path());
    // Where a page that needs a session sends people to log in and come back.
    let login_redirect = (!api && req.method() == axum::http::Method::GET).then(|| {
        let back = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        )
    });
    let response = next.run(req).await;
    if response.status() == axum::http::StatusCode::UNAUTHORIZED
        && let Some(to) = login_redirect
    {
        return axum::response::Redirect::to(&to).into_response();
    }
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let info = match response.extensions().get::<ErrorInfo>() {
        Some(info) => info.clone(),
        None => {
            // A response with its own JSON or HTML body (like /readyz's report) is final.
            let ct = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if ct.starts_with("application/json") || ct.starts_with("text/html") {
                return response;
            }
            let mut fresh = AppError::from_status(status).into_response();
            if let Some(allow) = response.headers().get(header::ALLOW) {
                fresh.headers_mut().insert(header::ALLOW, allow.clone());
            }
            if api {
                return fresh;
            }
            match fresh.extensions().get::<ErrorInfo>() {
                Some(info) => info.clone(),
                None => return fresh,
            }
        }
    };
    if api {
        return response;
    }
    let mut page = crate::site::error_page(&info);
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = response.headers().get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

/// A panic in a handler becomes a logged 500 in the envelope, never a dropped connection.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    AppError::Internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_lets_pages_reach_the_media_storage_and_nothing_else() {
        use crate::config::{MediaSettings, StorageBackend};
        let mut m = MediaSettings::default();
        assert!(media_origins(&m).is_empty(), "local storage is this server");
        assert_eq!(csp(&media_origins(&m), &[]), HeaderValue::from_static(CSP));
        m.storage = StorageBackend::S3;
        m.s3_bucket = Some("zinovia-media".into());
        m.s3_region = "eu-west-1".into();
        m.cdn_base_url = url::Url::parse("https://media.example.com/").ok();
        let origins = media_origins(&m);
        assert_eq!(
            origins,
            [
                "https://media.example.com",
                "https://zinovia-media.s3.eu-west-1.amazonaws.com"
            ]
        );
        let policy = csp(&origins, &[]);
        let policy = policy.to_str().unwrap_or_default();
        for directive in ["img-src", "media-src", "connect-src"] {
            assert!(
                policy.contains(&format!("{directive} 'self' https://media.example.com https://zinovia-media.s3.eu-west-1.amazonaws.com")),
                "{policy}"
            );
        }
        assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe-inline"));
        assert!(policy.contains("form-action 'self';"), "{policy}");
        let with_rails = csp(&[], &["https://checkout.stripe.com".to_owned()]);
        let with_rails = with_rails.to_str().unwrap_or_default();
        assert!(
            with_rails.contains("form-action 'self' https://checkout.stripe.com;")
                && with_rails.contains("img-src 'self' data: blob:;"),
            "{with_rails}"
        );
        m.s3_endpoint = url::Url::parse("http://127.0.0.1:9000/").ok();
        m.cdn_base_url = None;
        assert_eq!(media_origins(&m), ["http://127.0.0.1:9000"]);
    }

    #[test]
    fn request_ids_from_outside_are_checked() {
        assert!(acceptable_request_id(&HeaderValue::from_static(
            "1-67891233-abcdef012345678912345678"
        )));
        assert!(!acceptable_request_id(&HeaderValue::from_static("")));
        assert!(!acceptable_request_id(&HeaderValue::from_static("a b")));
        assert!(!acceptable_request_id(&HeaderValue::from_static(
            "x\"}, {\"level\":\"error"
        )));
        let long = "a".repeat(129);
        assert!(!acceptable_request_id(
            &HeaderValue::from_str(&long).unwrap_or(HeaderValue::from_static(""))
        ));
    }

    #[test]
    fn api_and_web_paths_are_told_apart() {
        assert!(is_api_path("/api/v1/feed"));
        assert!(is_api_path("/readyz"));
        assert!(!is_api_path("/apiary"));
        assert!(!is_api_path("/feed"));
    }
}
