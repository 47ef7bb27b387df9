//! `AppError`: the one error type every handler returns, its stable codes, and the JSON
//! envelope `{"error":{"code","message","fields"}}` documented in `docs/API.md`.
//!
//! An `AppError` always renders as the JSON envelope and attaches an [`ErrorInfo`] to the
//! response; the web surface's middleware turns that into an HTML error page, so pages and
//! API share one error model. 5xx causes are logged with their whole chain and never sent.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Field name → messages, for validation errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Every error a request can end with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (not JSON, wrong types, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// The input is well-formed but some fields are invalid.
    #[error("some fields are invalid")]
    Validation(FieldErrors),
    /// No valid session or token.
    #[error("sign in to continue")]
    Unauthorized,
    /// A log-in with a wrong email or password (the same answer for both).
    #[error("wrong email or password")]
    InvalidCredentials,
    /// A state-changing browser request without a valid CSRF token.
    #[error("this form has expired; reload the page and try again")]
    CsrfRejected,
    /// Signed in, but not allowed.
    #[error("you are not allowed to do this")]
    Forbidden,
    /// Allowed for this role only through a session signed in with a second factor.
    #[error(
        "this needs two-factor sign-in: turn it on under Account → Security, then sign in with it"
    )]
    SecondFactorRequired,
    /// The account is suspended or banned (its owner, after the password matched).
    #[error("this account is suspended: the email we sent says why and how to appeal")]
    AccountSuspended,
    /// Nothing here (or not visible to this caller).
    #[error("not found")]
    NotFound,
    /// The method is not supported on this path.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Payment is needed first.
    #[error("payment is required to see this")]
    PaymentRequired,
    /// A `Range` outside the object (its size given).
    #[error("the requested range is outside the file")]
    RangeNotSatisfiable(u64),
    /// The body is larger than allowed.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The body's content type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many requests; retry after the given time.
    #[error("too many requests; try again later")]
    RateLimited {
        /// When the client may retry.
        retry_after: Duration,
    },
    /// The request took longer than allowed.
    #[error("the request took too long")]
    Timeout,
    /// A dependency (the database) is unavailable.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Anything else: logged in full, answered opaquely.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The code, status and message of an error, attached to every error response so that
/// other layers (HTML rendering, metrics) can read it without parsing the body.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Field errors, if any.
    pub fields: FieldErrors,
}

/// The JSON error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of the error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code (e.g. `validation_failed`, `not_found`).
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// A message for people; may change between releases.
    #[schema(example = "some fields are invalid")]
    pub message: String,
    /// For `validation_failed`: field name → messages. Empty otherwise.
    #[schema(value_type = Object, example = json!({"email": ["is not a valid email address"]}))]
    pub fields: FieldErrors,
}

impl AppError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden
            | AppError::CsrfRejected
            | AppError::SecondFactorRequired
            | AppError::AccountSuspended => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout | AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Validation(_) => "validation_failed",
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::CsrfRejected => "csrf_failed",
            AppError::Forbidden => "forbidden",
            AppError::SecondFactorRequired => "second_factor_required",
            AppError::AccountSuspended => "account_suspended",
            AppError::NotFound => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::PaymentRequired => "payment_required",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::RangeNotSatisfiable(_) => "range_not_satisfiable",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Timeout => "timeout",
            AppError::Unavailable => "service_unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// A validation error on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> AppError {
        let mut fields = FieldErrors::new();
        fields.entry(field.into()).or_default().push(message.into());
        AppError::Validation(fields)
    }

    /// The error a bare status maps to, for responses produced outside our handlers
    /// (axum's 405, the body limit's 413, the timeout's 503, unknown routes).
    pub fn from_status(status: StatusCode) -> AppError {
        match status {
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
            StatusCode::UNAUTHORIZED => AppError::Unauthorized,
            StatusCode::FORBIDDEN => AppError::Forbidden,
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => AppError::Timeout,
            StatusCode::SERVICE_UNAVAILABLE => AppError::Unavailable,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::UnsupportedMediaType("this content type is not accepted here".into())
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                AppError::BadRequest("the request body could not be processed".into())
            }
            s if s.is_client_error() => {
                AppError::BadRequest(s.canonical_reason().unwrap_or("bad request").to_lowercase())
            }
            s => AppError::Internal(anyhow::anyhow!("unexpected {s} response")),
        }
    }

    fn info(&self) -> ErrorInfo {
        let message = match self {
            // Never send internals to clients.
            AppError::Internal(_) => {
                "something went wrong on our side; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        ErrorInfo {
            status: self.status(),
            code: self.code(),
            message,
            fields: match self {
                AppError::Validation(f) => f.clone(),
                _ => FieldErrors::new(),
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(e) = &self {
            tracing::error!(error.cause_chain = %format!("{e:#}"), "request failed");
        }
        let info = self.info();
        let mut response = (
            info.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: info.code,
                    message: info.message.clone(),
                    fields: info.fields.clone(),
                },
            }),
        )
            .into_response();
        if let AppError::RangeNotSatisfiable(size) = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        if let AppError::RateLimited { retry_after } = self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        response.extensions_mut().insert(info);
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => AppError::Unavailable,
            sqlx::Error::RowNotFound => AppError::NotFound,
            // The backstop for text PostgreSQL cannot hold (a NUL from a form or query string
            // that no field check caught): the client's input, not our failure.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                AppError::BadRequest("text must not contain NUL characters".into())
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Maps unique-constraint violations to field errors (`.on_constraint("users_email_key",
/// |_| AppError::field("email", "is already taken"))`).
pub trait ResultExt<T> {
    /// If the error is a violation of `constraint`, replace it with `f(error)`.
    fn on_constraint(
        self,
        constraint: &str,
        f: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> AppError,
    ) -> Result<T, AppError>;
}

impl<T, E: Into<AppError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(
        self,
        constraint: &str,
        f: impl FnOnce(Box<dyn sqlx::error::DatabaseError>) -> AppError,
    ) -> Result<T, AppError> {
        self.map_err(|e| match e.into() {
            AppError::Internal(err) => match err.downcast::<sqlx::Error>() {
                Ok(sqlx::Error::Database(db)) if db.constraint() == Some(constraint) => f(db),
                Ok(other) => AppError::Internal(anyhow::Error::new(other)),
                Err(err) => AppError::Internal(err),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_stable() {
        assert_eq!(
            AppError::field("email", "bad").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(AppError::field("email", "bad").code(), "validation_failed");
        assert_eq!(
            AppError::from_status(StatusCode::METHOD_NOT_ALLOWED).code(),
            "method_not_allowed"
        );
        assert_eq!(
            AppError::from_status(StatusCode::PAYLOAD_TOO_LARGE).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            AppError::from_status(StatusCode::IM_A_TEAPOT).status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let e = AppError::Internal(anyhow::anyhow!("password=hunter2 at db"));
        let info = e.info();
        assert_eq!(info.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!info.message.contains("hunter2"));
    }

    #[test]
    fn rate_limited_sets_retry_after() {
        let r = AppError::RateLimited {
            retry_after: Duration::from_millis(2500),
        }
        .into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert!(r.extensions().get::<ErrorInfo>().is_some());
    }
}
