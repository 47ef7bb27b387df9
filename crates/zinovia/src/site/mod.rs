//! Site-wide pages that belong to no feature (the home page, the error pages) and the
//! layout every page shares.

mod pages;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::http::csrf::CsrfToken;
use crate::http::extract::MaybeUser;
use crate::state::AppState;

pub use pages::error_page;

/// The site's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/explore", get(pages::explore))
}

/// A rendered page with its status (a template error is a 500).
pub fn render(t: &impl askama::Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

/// Pages with a form show each field's errors next to it (`self.errors_for("email")`).
pub trait FormErrors {
    /// The errors by field.
    fn errors(&self) -> &crate::error::FieldErrors;

    /// The messages of one field.
    fn errors_for(&self, field: &str) -> Vec<String> {
        self.errors().get(field).cloned().unwrap_or_default()
    }
}

/// What a form page says besides the form: field errors, a message on top, a notice, and
/// the status it answers with.
#[derive(Debug, Default)]
pub struct Said {
    /// Errors by field.
    pub errors: crate::error::FieldErrors,
    /// A message above the form.
    pub form_error: String,
    /// A notice (something done).
    pub notice: &'static str,
    /// The status.
    pub status: StatusCode,
}

impl Said {
    /// Nothing to say (200).
    pub fn ok(notice: &'static str) -> Said {
        Said {
            notice,
            ..Said::default()
        }
    }

    /// What a form shows for a service's refusal — the one way every page redisplays a
    /// form: field errors next to their fields (422), or a message on top for a conflict
    /// (409) or a failed log-in (401). Other errors keep their own page.
    pub fn refusal(e: AppError) -> Result<Said, AppError> {
        match e {
            AppError::Validation(errors) => Ok(Said {
                errors,
                form_error: "Please correct the fields marked below.".into(),
                notice: "",
                status: StatusCode::UNPROCESSABLE_ENTITY,
            }),
            AppError::Conflict(message) => Ok(Said {
                form_error: message,
                status: StatusCode::CONFLICT,
                ..Said::default()
            }),
            e @ AppError::InvalidCredentials => Ok(Said {
                form_error: e.to_string(),
                status: StatusCode::UNAUTHORIZED,
                ..Said::default()
            }),
            e @ AppError::AccountSuspended => Ok(Said {
                form_error: e.to_string(),
                status: StatusCode::FORBIDDEN,
                ..Said::default()
            }),
            other => Err(other),
        }
    }
}

/// `?done=…`: what a form just did, read by the page it redirects to for its notice.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    /// The action done (`saved`, `cancel`, …), empty for none.
    pub done: String,
}

/// A path on this site to return to (`next`, `back`), or `otherwise`: never another host.
/// The target is read as a browser would read it (as a URL relative to `base`, the site's
/// `PUBLIC_BASE_URL`: tabs and newlines dropped, `\` as `/`), must be a path (start with
/// `/`) and keep `base`'s origin; what comes back is that URL's path, query and fragment as
/// the URL parser encodes them, so it is always a valid `Location` header.
pub fn local_path(base: &url::Url, next: &str, otherwise: &str) -> String {
    let same_site = next
        .starts_with('/')
        .then(|| base.join(next).ok())
        .flatten()
        .filter(|u| u.origin() == base.origin());
    let Some(target) = same_site else {
        return otherwise.to_owned();
    };
    let mut path = target.path().to_owned();
    if let Some(q) = target.query() {
        path.push('?');
        path.push_str(q);
    }
    if let Some(f) = target.fragment() {
        path.push('#');
        path.push_str(f);
    }
    // A path the URL parser kept as `//…` would read as another host in a Location header.
    if path.starts_with("//") || path.starts_with("/\\") {
        return otherwise.to_owned();
    }
    path
}

/// `12.50 EUR` from minor units (see `crate::money`).
pub use crate::money::{decimal, minor_units, text as money};

/// What the shared layout shows: who is signed in, and the CSRF token for its forms.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The signed-in person's display name.
    pub user_name: Option<String>,
    /// The CSRF token (empty on pages rendered outside the middleware, e.g. errors).
    pub csrf: String,
    /// Whether the signed-in person is a creator (the nav offers the dashboard).
    pub creator: bool,
    /// Whether the signed-in person is an administrator (the nav offers payout batches).
    pub admin: bool,
    /// Whether they are an operator, administrator or moderator (the nav offers the console).
    pub operator: bool,
    /// Unread messages (the nav's badge; kept current live by the page script).
    pub unread: i64,
}

impl Layout {
    /// The layout for nobody signed in.
    pub fn anonymous(csrf: String) -> Layout {
        Layout {
            user_name: None,
            csrf,
            creator: false,
            admin: false,
            operator: false,
            unread: 0,
        }
    }
}

impl FromRequestParts<AppState> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await?;
        let unread = match &user {
            // A badge is not worth failing a page for.
            Some(u) => crate::messages::unread_total(state, &u.user)
                .await
                .unwrap_or(0),
            None => 0,
        };
        Ok(Layout {
            unread,
            creator: user.as_ref().is_some_and(|u| {
                matches!(
                    u.user.role,
                    crate::accounts::Role::Creator | crate::accounts::Role::Admin
                )
            }),
            operator: user
                .as_ref()
                .is_some_and(|u| crate::accounts::second_factor_required_for(u.account_role())),
            admin: user
                .as_ref()
                .is_some_and(|u| u.user.role == crate::accounts::Role::Admin),
            user_name: user.map(|u| u.user.display_name.clone()),
            csrf,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_on_this_site_and_are_valid_headers() {
        let base = url::Url::parse("https://zinovia.example/").unwrap();
        let ok = |next: &str| local_path(&base, next, "/home");
        assert_eq!(ok("/feed?x=1"), "/feed?x=1");
        assert_eq!(ok("/ada#post-1"), "/ada#post-1");
        assert_eq!(ok("/a b"), "/a%20b");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            " //evil.example",
            "",
            "javascript:alert(1)",
            "https://zinovia.example.evil.example/",
        ] {
            assert_eq!(ok(bad), "/home", "{bad:?}");
        }
        // Whatever comes back is a valid header value.
        for odd in [
            "/\r\n/x",
            "/x\r\nSet-Cookie: a=b",
            "/\u{7f}x",
            "/%0d%0a/x",
            "/é",
        ] {
            let path = ok(odd);
            assert!(
                axum::http::HeaderValue::from_str(&path).is_ok()
                    && path.starts_with('/')
                    && !path.starts_with("//"),
                "{odd:?} -> {path:?}"
            );
        }
    }
}
