//! The pages of two-factor sign-in: the log-in's second step (the challenge rides in a
//! short-lived HttpOnly cookie, never in the URL), and Account → Security (enrol an app
//! with its QR code, see the recovery codes once, replace them, turn it off).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::two_factor::{self, Challenge};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{ClientMeta, CurrentUser, cookie, set_cookie};
use crate::site::{DoneQuery, FormErrors, Layout, Said, render};
use crate::state::AppState;

/// The cookie that carries a log-in challenge between the two steps.
const CHALLENGE_COOKIE: &str = "zinovia_login_challenge";

/// After a right password for an account with two factors: the challenge cookie and the
/// way to the second step.
pub(super) fn to_second_step(state: &AppState, c: &Challenge, next: &str) -> Response {
    let max_age = i64::try_from(two_factor::CHALLENGE_VALID_FOR.as_secs()).unwrap_or(600);
    let cookie = set_cookie(
        state,
        CHALLENGE_COOKIE,
        c.token.expose_secret(),
        Some(max_age),
    );
    let to = format!(
        "/login/second-factor?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    let mut response = Redirect::to(&to).into_response();
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

#[derive(Template)]
#[template(path = "accounts/second_factor.html")]
struct SecondStepPage {
    layout: Layout,
    next: String,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for SecondStepPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// `GET /login/second-factor`.
pub(super) async fn second_step_page(
    State(state): State<AppState>,
    layout: Layout,
    headers: HeaderMap,
    Query(q): Query<super::pages::NextQuery>,
) -> Response {
    if cookie(&headers, CHALLENGE_COOKIE).is_none() {
        return Redirect::to("/login").into_response();
    }
    render(
        &SecondStepPage {
            layout,
            next: super::pages::safe_next(&state, &q.next),
            errors: FieldErrors::new(),
            form_error: String::new(),
        },
        StatusCode::OK,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SecondStepForm {
    code: String,
    next: String,
}

/// `POST /login/second-factor`: a session, or the form again; a dead challenge goes back
/// to the password.
pub(super) async fn second_step(
    State(state): State<AppState>,
    layout: Layout,
    headers: HeaderMap,
    client: ClientMeta,
    Form(form): Form<SecondStepForm>,
) -> Result<Response, AppError> {
    let next = super::pages::safe_next(&state, &form.next);
    let challenge = cookie(&headers, CHALLENGE_COOKIE).unwrap_or_default();
    match two_factor::complete_log_in(&state, challenge, &form.code, &client).await {
        Ok((_, session)) => {
            let mut response =
                super::pages::logged_in(&state, session.token.expose_secret(), &next)?;
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(&state, CHALLENGE_COOKIE, "", Some(0)),
            );
            Ok(response)
        }
        Err(AppError::Unauthorized) => {
            let mut response = Redirect::to("/login?expired=1").into_response();
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(&state, CHALLENGE_COOKIE, "", Some(0)),
            );
            Ok(response)
        }
        Err(e) => {
            let said = Said::refusal(e)?;
            Ok(render(
                &SecondStepPage {
                    layout,
                    next,
                    errors: said.errors,
                    form_error: said.form_error,
                },
                said.status,
            ))
        }
    }
}

/// What the security page shows below its status.
enum Step {
    /// The status and the forms that fit it.
    Overview,
    /// Enrolment started: the QR code, the secret, the code field.
    Enrol { qr_data_uri: String, secret: String },
    /// Recovery codes, shown once.
    Codes(Vec<String>),
}

#[derive(Template)]
#[template(path = "accounts/security.html")]
struct SecurityPage {
    layout: Layout,
    on: bool,
    left: i64,
    required: bool,
    this_session: bool,
    step: Step,
    notice: &'static str,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for SecurityPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

async fn security_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    step: Step,
    said: Said,
) -> Result<Response, AppError> {
    let s = two_factor::status(state, user).await?;
    Ok(render(
        &SecurityPage {
            layout,
            on: s.totp,
            left: s.recovery_codes_left,
            required: s.required,
            this_session: s.this_session,
            step,
            notice: said.notice,
            errors: said.errors,
            form_error: said.form_error,
        },
        said.status,
    ))
}

fn notice(done: &str) -> &'static str {
    match done {
        "off" => "Two-factor sign-in is off. Your password alone now signs in.",
        _ => "",
    }
}

/// `GET /account/security`.
pub(super) async fn security(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    security_page(
        &state,
        layout,
        &user,
        Step::Overview,
        Said::ok(notice(&q.done)),
    )
    .await
}

/// `POST /account/security/totp`: a new secret and its QR code.
pub(super) async fn begin(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    match two_factor::begin_totp(&state, &user).await {
        Ok(e) => {
            let qr_data_uri = format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(e.qr_svg.as_bytes())
            );
            let secret = e
                .secret
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            security_page(
                &state,
                layout,
                &user,
                Step::Enrol {
                    qr_data_uri,
                    secret,
                },
                Said::default(),
            )
            .await
        }
        Err(e) => security_page(&state, layout, &user, Step::Overview, Said::refusal(e)?).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CodeForm {
    code: String,
    password: String,
}

/// `POST /account/security/totp/confirm`: on, and the recovery codes once.
pub(super) async fn confirm(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    match two_factor::confirm_totp(&state, &user, &f.code, &client).await {
        Ok(codes) => {
            let mut user = user;
            user.auth.second_factor = true;
            security_page(
                &state,
                layout,
                &user,
                Step::Codes(codes),
                Said::ok("Two-factor sign-in is on."),
            )
            .await
        }
        Err(e) => security_page(&state, layout, &user, Step::Overview, Said::refusal(e)?).await,
    }
}

/// `POST /account/security/recovery-codes`.
pub(super) async fn recovery_codes(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    match two_factor::new_recovery_codes(&state, &user, &f.code, &client).await {
        Ok(codes) => {
            security_page(
                &state,
                layout,
                &user,
                Step::Codes(codes),
                Said::ok("New recovery codes; the old ones no longer work."),
            )
            .await
        }
        Err(e) => security_page(&state, layout, &user, Step::Overview, Said::refusal(e)?).await,
    }
}

/// `POST /account/security/disable`.
pub(super) async fn disable(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(f): Form<CodeForm>,
) -> Result<Response, AppError> {
    match two_factor::disable(&state, &user, &f.password, &f.code, &client).await {
        Ok(()) => Ok(Redirect::to("/account/security?done=off").into_response()),
        Err(e) => security_page(&state, layout, &user, Step::Overview, Said::refusal(e)?).await,
    }
}
