//! The OpenAPI 3.1 document (generated from the handlers' annotations) and the API
//! reference page that renders it with a viewer served by the app itself.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use crate::error::{AppError, ErrorBody, ErrorDetail};
use crate::state::AppState;

/// Where the document is served.
pub const SPEC_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zinovia API",
        description = "The JSON API of Zinovia, a self-hostable creator-subscription platform. \
            Errors always use the envelope `{\"error\": {\"code\", \"message\", \"fields\"}}` \
            (see the `ErrorBody` schema); `code` is stable, `message` is for people.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    servers((url = "/", description = "This server")),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Sign-up, log-in (with two-factor sign-in: a challenge, then a code), sessions, email verification, password reset, authenticator apps and recovery codes"),
        (name = "creators", description = "Creator profiles: becoming a creator, handles, prices"),
        (name = "posts", description = "Posts, the creator page, the feed, explore, likes and comments; locked posts carry previews and never media URLs"),
        (name = "media", description = "Uploads straight to storage, processing state, signed URLs"),
        (name = "billing", description = "Payments: the payment rail's webhooks, checkouts, subscriptions, purchases, tips and creators' earnings"),
        (name = "payouts", description = "Platform-held payouts: held money (pending, available), payout requests, the payout method and tax profile, statements; the operator's payout batches, bank files and tax report"),
        (name = "messages", description = "Messaging: conversations, paid messages (unlocked by a checkout of kind `message`), read receipts, blocks, reports, mass messages, the vault, and the live stream (Server-Sent Events; see docs/API.md)"),
        (name = "moderation", description = "Reports of profiles, posts, comments and messages (anyone), and the moderation queue with its due times (moderators and administrators)"),
        (name = "verification", description = "Creator verification: a person's legal name, date of birth and two photos in private storage (their own), and the reviewers' queue and decisions (moderators and administrators)"),
        (name = "admin", description = "The admin console: the audit log (administrators; operators always from a session signed in with a second factor)"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The two ways to authenticate: a bearer token (API clients) or the session cookie
/// (browsers, whose state-changing requests also need the `X-CSRF-Token` header).
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `session.token` from sign-up or log-in"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "zinovia_session",
                "Set by the log-in page (`__Host-zinovia_session` over https); state changes also need `X-CSRF-Token`",
            ))),
        );
    }
}

/// The document's fixed parts; routes are added by the routers that serve them.
pub fn base_document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Declares, on every operation, the error answers that the layers in front of every
/// handler can give (so a client generated from the document knows them), unless the
/// operation documents that status itself: 400 (a malformed path, query or body), 429
/// (`RATE_LIMIT_API`, on `/api`), 500 and 503 everywhere; 401 where a session is required;
/// 403 (a browser's missing CSRF token) on every state change; 413, 415 and 422 where a body
/// is read; 422 where parameters are validated. All in the one error envelope.
pub fn declare_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let envelope = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut doc.paths.paths {
        let api = path.starts_with("/api/");
        let shared_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        let operations = [
            (false, item.get.as_mut()),
            (false, item.head.as_mut()),
            (true, item.post.as_mut()),
            (true, item.put.as_mut()),
            (true, item.patch.as_mut()),
            (true, item.delete.as_mut()),
        ];
        for (changes, op) in operations {
            let Some(op) = op else { continue };
            let body = op.request_body.is_some();
            let parameters =
                shared_parameters || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let signed_in = op
                .security
                .as_ref()
                .is_some_and(|s| s.iter().any(|r| *r != Default::default()));
            let mut add = |status: &str, when: bool, description: &str| {
                if when {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| envelope(description));
                }
            };
            add(
                "400",
                api,
                "Malformed request: a path, query or body that cannot be read (`bad_request`)",
            );
            add(
                "401",
                signed_in,
                "Not signed in, or the session ended (`unauthorized`)",
            );
            add(
                "403",
                api && changes,
                "A browser request without its CSRF token (`csrf_failed`), or not allowed (`forbidden`)",
            );
            add(
                "413",
                body,
                "The body is larger than allowed (`payload_too_large`)",
            );
            add(
                "415",
                body,
                "The body is not `application/json` (`unsupported_media_type`)",
            );
            add(
                "422",
                body || parameters,
                "Some fields are invalid; `fields` says which and why (`validation_failed`)",
            );
            add(
                "429",
                api,
                "Too many requests; retry after `Retry-After` seconds (`rate_limited`)",
            );
            add(
                "500",
                true,
                "An unexpected error, logged; nothing was changed (`internal`)",
            );
            add(
                "503",
                true,
                "A dependency is unavailable or the request took too long; retry later (`service_unavailable`, `timeout`)",
            );
        }
    }
}

/// Puts the limits this server enforces from its settings into the request schemas of
/// `doc` (as JSON): creators' prices and currencies, pay-per-view prices, tips, upload sizes.
/// Another server with other settings serves other numbers, each its own truth.
pub fn apply_settings(doc: &mut serde_json::Value, settings: &crate::config::Settings) {
    use serde_json::json;
    let content = &settings.content;
    let billing = &settings.billing;
    let media = &settings.media;
    let largest_upload = media.media_max_image_bytes.max(media.media_max_video_bytes);
    let limits = [
        (
            "CreatorRequest",
            "price_minor",
            json!({"minimum": content.creator_price_min, "maximum": content.creator_price_max}),
        ),
        (
            "CreatorRequest",
            "currency",
            json!({"enum": content.currencies}),
        ),
        (
            "PostRequest",
            "price_minor",
            json!({"minimum": content.ppv_price_min, "maximum": content.ppv_price_max}),
        ),
        (
            "CheckoutRequest",
            "amount_minor",
            json!({"minimum": billing.tip_min, "maximum": billing.tip_max}),
        ),
        (
            "CreateUploadRequest",
            "byte_size",
            json!({"maximum": largest_upload}),
        ),
    ];
    require_non_empty(doc);
    for (schema, field, add) in limits {
        let Some(property) = doc
            .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            .and_then(serde_json::Value::as_object_mut)
        else {
            tracing::warn!(schema, field, "no such field in the OpenAPI document");
            continue;
        };
        if let Some(add) = add.as_object() {
            for (k, v) in add {
                property.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Request fields that must not be empty are required: the types read a missing one as
/// empty (so every problem is answered at once, field by field), which the generated
/// schema would otherwise show as a `""` default that its own `minLength` refuses.
fn require_non_empty(doc: &mut serde_json::Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let mut required = Vec::new();
        if let Some(properties) = schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            for (name, property) in properties.iter_mut() {
                let non_empty = property
                    .get("minLength")
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|n| n > 0);
                if non_empty
                    && let Some(p) = property.as_object_mut()
                    && p.get("default") == Some(&serde_json::Value::String(String::new()))
                {
                    p.remove("default");
                    required.push(serde_json::Value::String(name.clone()));
                }
            }
        }
        if required.is_empty() {
            continue;
        }
        if let Some(object) = schema.as_object_mut() {
            let list = object
                .entry("required")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                for name in required {
                    if !list.contains(&name) {
                        list.push(name);
                    }
                }
            }
        }
    }
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage<'a> {
    spec_url: &'a str,
}

/// `/api/v1/openapi.json` and `/api/docs`.
pub(super) fn router(spec_json: Arc<String>) -> Router<AppState> {
    Router::new()
        .route(
            SPEC_PATH,
            get(move || {
                let spec = Arc::clone(&spec_json);
                async move {
                    (
                        [
                            (
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            ),
                            (
                                header::CACHE_CONTROL,
                                HeaderValue::from_static("public, max-age=300"),
                            ),
                        ],
                        spec.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/api/docs", get(docs_page))
}

async fn docs_page() -> Result<Response, AppError> {
    let html = DocsPage {
        spec_url: SPEC_PATH,
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    let mut response = Html(html).into_response();
    // Swagger UI styles some elements inline; everything else stays as strict as the site.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    Ok(response)
}
