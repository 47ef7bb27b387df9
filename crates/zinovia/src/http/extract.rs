//! Extractors handlers use: the JSON body (`ApiJson`, errors in the envelope), ids in the path
//! (`PathId`: anything not an id there is a 404), who is asking
//! (`CurrentUser`, `MaybeUser`, `RequireRole`), from where (`ClientMeta`), and the cookie
//! helpers sessions and CSRF share.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use crate::accounts::{self, Authenticated, Role};
use crate::error::AppError;
use crate::state::AppState;

/// The ids in a request's path: one (`PathId<PostId>`) or two (`PathId<(PostId,
/// CommentId)>`), each a UUID; anything else there answers 404 (no such thing), before the
/// handler runs.
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

/// What a path's segments can be read as (one id, or two).
pub trait FromPathIds: Sized + Send {
    /// From the path's parameters, in order.
    fn from_params(params: &[String]) -> Option<Self>;
}

impl<T: crate::id::Id> FromPathIds for T {
    fn from_params(params: &[String]) -> Option<Self> {
        match params {
            [one] => uuid::Uuid::parse_str(one).ok().map(T::from_uuid),
            _ => None,
        }
    }
}

impl<A: crate::id::Id, B: crate::id::Id> FromPathIds for (A, B) {
    fn from_params(params: &[String]) -> Option<Self> {
        match params {
            [a, b] => Some((
                A::from_uuid(uuid::Uuid::parse_str(a).ok()?),
                B::from_uuid(uuid::Uuid::parse_str(b).ok()?),
            )),
            _ => None,
        }
    }
}

impl<T: FromPathIds, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        let values: Vec<String> = params.iter().map(|(_, value)| value.to_owned()).collect();
        T::from_params(&values)
            .map(PathId)
            .ok_or(AppError::NotFound)
    }
}

/// A JSON request body. Every way it can be wrong answers in the error envelope: not JSON
/// (415), malformed (400), a field of the wrong type or missing (422 naming the field).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                _ => AppError::BadRequest("the request body could not be read".into()),
            })?;
        if let Some(path) = nul_in_json(&bytes) {
            return Err(AppError::field(path, "must not contain NUL characters"));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(v) => {
                de.end().map_err(|_| {
                    AppError::BadRequest("the request body is not valid JSON".into())
                })?;
                Ok(ApiJson(v))
            }
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_data() && path != "." {
                    Err(AppError::field(path, data_error_message(&inner)))
                } else if inner.is_data() {
                    Err(AppError::BadRequest(format!(
                        "the JSON body does not fit: {}",
                        data_error_message(&inner)
                    )))
                } else {
                    Err(AppError::BadRequest(
                        "the request body is not valid JSON".into(),
                    ))
                }
            }
        }
    }
}

/// Where a JSON body holds a NUL character in a string (PostgreSQL's text cannot store one,
/// so it is refused here for every endpoint, naming the field). NUL can only arrive escaped
/// (`\u0000`: JSON forbids raw control characters in strings), so bodies without that
/// sequence are not parsed twice.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
                ".".into()
            } else {
                path.into()
            }),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
                if key.contains('\0') {
                    Some(join(&key.replace('\0', "\\u0000")))
                } else {
                    walk(item, &join(key))
                }
            }),
            _ => None,
        }
    }
    walk(&value, "")
}

/// serde's message without the line/column suffix.
fn data_error_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// Where a request comes from: the client's IP (believing `X-Forwarded-For` only from
/// `TRUSTED_PROXIES`) and its user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// The client's address, if known.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

impl ClientMeta {
    /// Works the client out from the connection and headers.
    pub fn from_parts(headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpNet]) -> ClientMeta {
        ClientMeta {
            ip: peer.map(|p| client_ip(p, headers, trusted)),
            user_agent: headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(ToOwned::to_owned),
        }
    }
}

/// The client address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(meta) = parts.extensions.get::<ClientMeta>() {
            return Ok(meta.clone());
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientMeta::from_parts(
            &parts.headers,
            peer,
            &state.settings.http.trusted_proxies,
        ))
    }
}

/// The session cookie's name: `__Host-` prefixed when served over https (ASVS 3.3.1).
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.served_over_https() {
        "__Host-zinovia_session"
    } else {
        "zinovia_session"
    }
}

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, `Secure` over https. `max_age`
/// `None` makes a session cookie; `Some(0)` deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.settings.served_over_https() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    /// `Authorization: Bearer` (API clients; no CSRF exposure).
    Bearer,
    /// The session cookie (browsers; state changes need a CSRF token).
    Cookie,
}

/// The signed-in caller; 401 when there is none.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account and session.
    pub auth: Authenticated,
    /// How they authenticated.
    pub via: AuthVia,
}

impl std::ops::Deref for CurrentUser {
    type Target = Authenticated;
    fn deref(&self) -> &Authenticated {
        &self.auth
    }
}

/// The session token a request carries: the bearer token if there is one (then cookies
/// are ignored), otherwise the session cookie.
pub fn session_token(headers: &HeaderMap, cookie_name: &str) -> Option<(String, AuthVia)> {
    if let Some(v) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or("")
            .trim();
        return Some((token.to_owned(), AuthVia::Bearer));
    }
    cookie(headers, cookie_name).map(|t| (t.to_owned(), AuthVia::Cookie))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let Some((token, via)) = session_token(&parts.headers, session_cookie_name(state)) else {
            return Err(AppError::Unauthorized);
        };
        let auth = accounts::authenticate(state, &token)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let user = CurrentUser { auth, via };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// The signed-in caller, if any (pages that look different when signed in).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match CurrentUser::from_request_parts(parts, state).await {
            Ok(u) => Ok(MaybeUser(Some(u))),
            Err(AppError::Unauthorized) => Ok(MaybeUser(None)),
            Err(e) => Err(e),
        }
    }
}

/// A role a handler can require.
pub trait RoleMarker: Send + Sync {
    /// The role.
    const ROLE: Role;
}

/// Marker: administrators.
#[derive(Debug)]
pub struct Admin;
impl RoleMarker for Admin {
    const ROLE: Role = Role::Admin;
}

/// Marker: moderators (and administrators): reports, reviews, content.
#[derive(Debug)]
pub struct Moderator;
impl RoleMarker for Moderator {
    const ROLE: Role = Role::Moderator;
}

/// Marker: creators.
#[derive(Debug)]
pub struct Creator;
impl RoleMarker for Creator {
    const ROLE: Role = Role::Creator;
}

/// The signed-in caller, who must have role `R` (administrators pass every check);
/// 401 when not signed in, 403 otherwise. Operators (administrators, moderators) act as
/// such only from a session that signed in with a second factor (403
/// `second_factor_required` otherwise).
#[derive(Debug)]
pub struct RequireRole<R: RoleMarker>(pub CurrentUser, PhantomData<R>);

impl<R: RoleMarker> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let allowed = |role: Role| role == R::ROLE || role == Role::Admin;
        if !allowed(user.user.role) {
            // An operator whose session lacks the second factor is told what is missing.
            return Err(if user.withheld_role.is_some_and(allowed) {
                AppError::SecondFactorRequired
            } else {
                AppError::Forbidden
            });
        }
        if accounts::second_factor_required_for(R::ROLE) && !user.second_factor {
            return Err(AppError::SecondFactorRequired);
        }
        Ok(RequireRole(user, PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/16".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.0.1.7"),
        );
        let alb: IpAddr = "10.0.3.4".parse().unwrap();
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        // Behind the ALB: the right-most untrusted hop, not the spoofable left-most.
        assert_eq!(client_ip(alb, &h, &trusted).to_string(), "203.0.113.9");
        // Straight from the internet: the header is ignored.
        assert_eq!(client_ip(outsider, &h, &trusted), outsider);
        // No trusted proxies configured: never believed.
        assert_eq!(client_ip(alb, &h, &[]), alb);
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; zinovia_session=tok; b=2"),
        );
        assert_eq!(cookie(&h, "zinovia_session"), Some("tok"));
        assert_eq!(
            session_token(&h, "zinovia_session"),
            Some(("tok".into(), AuthVia::Cookie))
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer zz"));
        assert_eq!(
            session_token(&h, "zinovia_session"),
            Some(("zz".into(), AuthVia::Bearer))
        );
    }

    #[test]
    fn a_nul_anywhere_in_a_json_body_names_its_field() {
        let at = |body: &str| nul_in_json(body.as_bytes());
        assert_eq!(
            at(r#"{"email":"a\u0000b","password":"x"}"#).as_deref(),
            Some("email")
        );
        assert_eq!(
            at(r#"{"items":[{"caption":"ok"},{"caption":"\u0000"}]}"#).as_deref(),
            Some("items[1].caption")
        );
        assert_eq!(
            at(r#"{"tags":["a","b\u0000"]}"#).as_deref(),
            Some("tags[1]")
        );
        assert_eq!(at(r#""\u0000""#).as_deref(), Some("."));
        assert_eq!(at(r#"{"a\u0000":1}"#).as_deref(), Some("a\\u0000"));
        // The text `\u0000` itself (an escaped backslash) is not a NUL.
        assert_eq!(at(r#"{"body":"see \\u0000 here"}"#), None);
        assert_eq!(at(r#"{"body":"plain"}"#), None);
        // Not JSON: left to the parser's own error.
        assert_eq!(at(r#"{"body":"\u0000"#), None);
    }
}
