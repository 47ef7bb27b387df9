//! CSRF protection with signed double-submit tokens (OWASP): every browser gets a random
//! `csrf` cookie; the token pages put in forms (field `csrf_token`) and scripts send
//! (header `X-CSRF-Token`) is HMAC(SESSION_SECRET, cookie). A state-changing request that is
//! authenticated by the session cookie, or is a page form, must carry a token matching its
//! cookie, or it is refused with 403 before anything runs. Bearer-token requests carry no
//! ambient authority and are exempt, as are payment webhooks (signed by the provider).
//! GET and HEAD never change state, so they are never checked.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

use super::extract::{cookie, session_cookie_name, set_cookie};
use crate::crypto::{constant_time_eq, hmac_b64, random_token};
use crate::error::AppError;
use crate::state::AppState;

/// The header scripts send the token in.
pub const HEADER: &str = "x-csrf-token";
/// The form field pages send the token in.
pub const FIELD: &str = "csrf_token";
/// Paths authorised by their own signature instead: payment webhooks (signed by the
/// provider) and local storage (signed URLs, like S3's).
const EXEMPT_PREFIXES: [&str; 2] = ["/api/v1/billing/webhooks/", "/storage/"];

/// The CSRF token for this request's browser; pages put it in every form.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.served_over_https() {
        "__Host-zinovia_csrf"
    } else {
        "zinovia_csrf"
    }
}

fn token_for(state: &AppState, seed: &str) -> Result<String, AppError> {
    let secret = state.session_secret()?;
    Ok(hmac_b64(
        secret.expose_secret().as_bytes(),
        format!("csrf:{seed}").as_bytes(),
    ))
}

/// A fresh CSRF cookie and its token, to rotate them when someone logs in.
pub fn rotate(state: &AppState) -> Result<(HeaderValue, CsrfToken), AppError> {
    let seed = random_token();
    let token = token_for(state, &seed)?;
    Ok((
        set_cookie(state, cookie_name(state), &seed, None),
        CsrfToken(token),
    ))
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Issues the cookie when missing, exposes the token to handlers, and checks unsafe
/// requests.
pub async fn csrf(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // A read of the JSON API changes nothing and renders no form: no token to check or
    // hand out (a browser gets its cookie from the pages, which call the API).
    if is_safe(req.method()) && super::middleware::is_api_path(req.uri().path()) {
        return next.run(req).await;
    }
    let name = cookie_name(&state);
    let existing = cookie(req.headers(), name)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(ToOwned::to_owned);
    let (seed, new_cookie) = match existing.clone() {
        Some(seed) => (seed, None),
        None => {
            let seed = random_token();
            let c = set_cookie(&state, name, &seed, None);
            (seed, Some(c))
        }
    };
    let expected = match token_for(&state, &seed) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };

    let path = req.uri().path().to_owned();
    let bearer = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION);
    let has_session = cookie(req.headers(), session_cookie_name(&state)).is_some();
    let is_page = !super::middleware::is_api_path(&path);
    if !is_safe(req.method())
        && !bearer
        && !EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p))
        && (has_session || is_page)
    {
        let (given, rebuilt) = match given_token(req, state.settings.http.request_body_limit).await
        {
            Ok(v) => v,
            Err(e) => return e.into_response(),
        };
        req = rebuilt;
        let valid = existing.is_some()
            && given
                .as_deref()
                .is_some_and(|g| constant_time_eq(g, &expected));
        if !valid {
            tracing::warn!(
                path,
                "refused a state-changing request without a valid CSRF token"
            );
            return AppError::CsrfRejected.into_response();
        }
    }

    req.extensions_mut().insert(CsrfToken(expected));
    let mut response = next.run(req).await;
    if let Some(c) = new_cookie {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

/// The token from the header, or from the form body (which is read and put back).
async fn given_token(req: Request, limit: u64) -> Result<(Option<String>, Request), AppError> {
    if let Some(v) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        let v = v.to_owned();
        return Ok((Some(v), req));
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let token = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}
