//! HTML pages of accounts: sign-up, log-in, log-out, the account page (sessions, password,
//! deletion), email verification and password reset. Plain forms that work without
//! JavaScript; every form carries the CSRF token; errors come back inline, per field.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::service::{self, SignUpInput};
use super::two_factor::LogIn;
use super::types::SessionId;
use crate::error::{AppError, FieldErrors};
use crate::http::csrf;
use crate::http::extract::{
    ClientMeta, CurrentUser, MaybeUser, PathId, session_cookie_name, set_cookie,
};
use crate::site::{DoneQuery, FormErrors, Layout, render};
use crate::state::AppState;

/// Splits a service error into what a form shows: field errors and a message on top (the
/// site's one way, `Said::refusal`). Errors that are not about the form keep their own page.
fn form_errors(e: AppError) -> Result<(FieldErrors, String), AppError> {
    let said = crate::site::Said::refusal(e)?;
    Ok((said.errors, said.form_error))
}

/// Where to go after logging in: only paths on this site.
pub(super) fn safe_next(state: &AppState, next: &str) -> String {
    crate::site::local_path(&state.settings.public_base_url(), next, "/account")
}

/// After a log-in or sign-up: the session cookie, a fresh CSRF cookie, and a redirect.
pub(super) fn logged_in(state: &AppState, token: &str, to: &str) -> Result<Response, AppError> {
    let max_age =
        i64::try_from(state.settings.auth.session_lifetime.0.as_secs()).unwrap_or(i64::MAX);
    let session = set_cookie(state, session_cookie_name(state), token, Some(max_age));
    let (csrf_cookie, _) = csrf::rotate(state)?;
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(SET_COOKIE, session);
    response.headers_mut().append(SET_COOKIE, csrf_cookie);
    Ok(response)
}

fn clear_session_cookie(state: &AppState) -> HeaderValue {
    set_cookie(state, session_cookie_name(state), "", Some(0))
}

#[derive(Template)]
#[template(path = "accounts/signup.html")]
struct SignUpPage {
    layout: Layout,
    email: String,
    display_name: String,
    confirm_adult: bool,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for SignUpPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// Sign-up form fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SignUpForm {
    email: String,
    display_name: String,
    password: String,
    confirm_adult: Option<String>,
}

pub(super) async fn sign_up_page(layout: Layout) -> Response {
    render(
        &SignUpPage {
            layout,
            email: String::new(),
            display_name: String::new(),
            confirm_adult: false,
            errors: FieldErrors::new(),
            form_error: String::new(),
        },
        StatusCode::OK,
    )
}

pub(super) async fn sign_up(
    State(state): State<AppState>,
    layout: Layout,
    client: ClientMeta,
    Form(form): Form<SignUpForm>,
) -> Result<Response, AppError> {
    let input = SignUpInput {
        email: form.email.clone(),
        password: form.password,
        display_name: form.display_name.clone(),
        confirm_adult: form.confirm_adult.is_some(),
    };
    match service::sign_up(&state, input, &client).await {
        Ok((_, session)) => logged_in(
            &state,
            session.token.expose_secret(),
            "/account?done=welcome",
        ),
        Err(e) => {
            let (errors, form_error) = form_errors(e)?;
            Ok(render(
                &SignUpPage {
                    layout,
                    email: form.email,
                    display_name: form.display_name,
                    confirm_adult: form.confirm_adult.is_some(),
                    errors,
                    form_error,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/login.html")]
struct LogInPage {
    layout: Layout,
    email: String,
    next: String,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for LogInPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NextQuery {
    pub(super) next: String,
    /// Set when a two-factor step ended without signing in.
    expired: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LogInForm {
    email: String,
    password: String,
    next: String,
}

pub(super) async fn log_in_page(
    State(state): State<AppState>,
    layout: Layout,
    Query(q): Query<NextQuery>,
) -> Response {
    render(
        &LogInPage {
            layout,
            email: String::new(),
            next: safe_next(&state, &q.next),
            errors: FieldErrors::new(),
            form_error: if q.expired.is_empty() {
                String::new()
            } else {
                "That sign-in expired or took too many wrong codes; log in again.".into()
            },
        },
        StatusCode::OK,
    )
}

pub(super) async fn log_in(
    State(state): State<AppState>,
    layout: Layout,
    client: ClientMeta,
    Form(form): Form<LogInForm>,
) -> Result<Response, AppError> {
    let next = safe_next(&state, &form.next);
    match service::log_in(&state, &form.email, &form.password, &client).await {
        Ok(LogIn::Session(_, session)) => logged_in(&state, session.token.expose_secret(), &next),
        Ok(LogIn::SecondFactor(challenge)) => Ok(super::security_pages::to_second_step(
            &state, &challenge, &next,
        )),
        Err(e) => {
            let status = e.status();
            let (errors, form_error) = form_errors(e)?;
            Ok(render(
                &LogInPage {
                    layout,
                    email: form.email,
                    next,
                    errors,
                    form_error,
                },
                status,
            ))
        }
    }
}

pub(super) async fn log_out(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, AppError> {
    if let Some(user) = user {
        service::log_out(&state, &user).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, clear_session_cookie(&state));
    Ok(response)
}

struct SessionLine {
    id: String,
    device: String,
    ip: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    layout: Layout,
    user_name: String,
    email: String,
    role: &'static str,
    verified: bool,
    sessions: Vec<SessionLine>,
    notice: String,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for AccountPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

fn notice(done: &str) -> &'static str {
    match done {
        "welcome" => "Welcome to Zinovia! We sent you a link to confirm your email address.",
        "password" => "Your password is changed. Your other sessions have ended.",
        "session" => "That session has ended.",
        "resent" => "A new confirmation link is on its way.",
        _ => "",
    }
}

/// The account page again, with what the service refused next to its field (422).
async fn account_refusal(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    e: AppError,
) -> Result<Response, AppError> {
    let (errors, _) = form_errors(e)?;
    account_page(
        state,
        layout,
        user,
        "",
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn account_page(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    notice: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let sessions = service::list_sessions(state, user)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            id: s.id.to_string(),
            device: s.user_agent.map_or_else(
                || "Unknown device".to_owned(),
                |ua| ua.chars().take(80).collect(),
            ),
            ip: s.ip.unwrap_or_default(),
            last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            current: s.id == user.session_id,
        })
        .collect();
    Ok(render(
        &AccountPage {
            layout,
            user_name: user.user.display_name.clone(),
            email: user.user.email.clone(),
            role: user.account_role().as_str(),
            verified: user.user.email_verified_at.is_some(),
            sessions,
            notice: notice.to_owned(),
            errors,
            form_error: String::new(),
        },
        status,
    ))
}

pub(super) async fn account(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    account_page(
        &state,
        layout,
        &user,
        notice(&q.done),
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    match service::change_password(
        &state,
        &user,
        &form.current_password,
        &form.new_password,
        &client,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/account?done=password").into_response()),
        Err(e) => account_refusal(&state, layout, &user, e).await,
    }
}

pub(super) async fn revoke_session(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<SessionId>,
) -> Result<Response, AppError> {
    service::revoke_session(&state, &user, id).await?;
    Ok(Redirect::to("/account?done=session").into_response())
}

pub(super) async fn log_out_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    service::log_out_everywhere(&state, &user).await?;
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, clear_session_cookie(&state));
    Ok(response)
}

pub(super) async fn resend_verification(
    State(state): State<AppState>,
    client: ClientMeta,
    user: CurrentUser,
) -> Result<Response, AppError> {
    service::resend_verification(&state, &user, &client).await?;
    Ok(Redirect::to("/account?done=resent").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DeleteForm {
    password: String,
}

#[derive(Template)]
#[template(path = "accounts/message.html")]
struct MessagePage {
    layout: Layout,
    title: &'static str,
    body: &'static str,
    link_href: &'static str,
    link_text: &'static str,
}

pub(super) async fn delete_account(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AppError> {
    match service::delete_account(&state, &user, &form.password, &client).await {
        Ok(()) => {
            let mut response = render(
                &MessagePage {
                    layout: Layout::anonymous(layout.csrf),
                    title: "Your account is deleted",
                    body: "Your personal details are erased, every session has ended and nothing will be charged again. Thank you for having been here.",
                    link_href: "/",
                    link_text: "Home",
                },
                StatusCode::OK,
            );
            response
                .headers_mut()
                .append(SET_COOKIE, clear_session_cookie(&state));
            Ok(response)
        }
        Err(e) => account_refusal(&state, layout, &user, e).await,
    }
}

#[derive(Template)]
#[template(path = "accounts/token_form.html")]
struct TokenFormPage {
    layout: Layout,
    title: &'static str,
    intro: &'static str,
    action: &'static str,
    submit: &'static str,
    token: String,
    ask_email: bool,
    ask_password: bool,
    errors: FieldErrors,
    form_error: String,
}

impl FormErrors for TokenFormPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TokenQuery {
    token: String,
}

fn verify_form(layout: Layout, token: String, errors: FieldErrors) -> TokenFormPage {
    TokenFormPage {
        layout,
        title: "Confirm your email",
        intro: "Press the button to confirm this email address for your Zinovia account.",
        action: "/verify-email",
        submit: "Confirm my email",
        token,
        ask_email: false,
        ask_password: false,
        errors,
        form_error: String::new(),
    }
}

/// The link from the email opens this page; confirming is a POST, so link scanners that
/// fetch URLs cannot use up the token.
pub(super) async fn verify_email_page(layout: Layout, Query(q): Query<TokenQuery>) -> Response {
    token_page(&verify_form(layout, q.token, FieldErrors::new()))
}

/// A page whose URL carries a token: it must not leak to other sites through `Referer`.
fn token_page(form: &impl Template) -> Response {
    let mut response = render(form, StatusCode::OK);
    response.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub(super) async fn verify_email(
    State(state): State<AppState>,
    layout: Layout,
    Form(q): Form<TokenQuery>,
) -> Result<Response, AppError> {
    match service::verify_email(&state, &q.token).await {
        Ok(_) => Ok(render(
            &MessagePage {
                layout,
                title: "Email confirmed",
                body: "Thank you: your email address is confirmed.",
                link_href: "/account",
                link_text: "Go to your account",
            },
            StatusCode::OK,
        )),
        Err(e) => {
            let (errors, _) = form_errors(e)?;
            Ok(render(
                &verify_form(layout, q.token, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

fn reset_request_form(layout: Layout, errors: FieldErrors) -> TokenFormPage {
    TokenFormPage {
        layout,
        title: "Reset your password",
        intro: "Enter your account's email address and we will send you a link to choose a new password.",
        action: "/reset-password",
        submit: "Send the link",
        token: String::new(),
        ask_email: true,
        ask_password: false,
        errors,
        form_error: String::new(),
    }
}

pub(super) async fn reset_request_page(layout: Layout) -> Response {
    render(
        &reset_request_form(layout, FieldErrors::new()),
        StatusCode::OK,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EmailForm {
    email: String,
}

pub(super) async fn reset_request(
    State(state): State<AppState>,
    layout: Layout,
    client: ClientMeta,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    match service::request_password_reset(&state, &form.email, &client).await {
        Ok(()) => Ok(render(
            &MessagePage {
                layout,
                title: "Check your inbox",
                body: "If an account has this address, a link to choose a new password is on its way. It works for an hour.",
                link_href: "/login",
                link_text: "Back to log in",
            },
            StatusCode::OK,
        )),
        Err(e) => {
            let (errors, _) = form_errors(e)?;
            Ok(render(
                &reset_request_form(layout, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

fn reset_confirm_form(layout: Layout, token: String, errors: FieldErrors) -> TokenFormPage {
    TokenFormPage {
        layout,
        title: "Choose a new password",
        intro: "Choose a new password for your account. You will be logged out everywhere.",
        action: "/reset-password/confirm",
        submit: "Set my password",
        token,
        ask_email: false,
        ask_password: true,
        errors,
        form_error: String::new(),
    }
}

pub(super) async fn reset_confirm_page(layout: Layout, Query(q): Query<TokenQuery>) -> Response {
    token_page(&reset_confirm_form(layout, q.token, FieldErrors::new()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResetForm {
    token: String,
    new_password: String,
}

pub(super) async fn reset_confirm(
    State(state): State<AppState>,
    layout: Layout,
    client: ClientMeta,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    match service::reset_password(&state, &form.token, &form.new_password, &client).await {
        Ok(_) => {
            let mut response = render(
                &MessagePage {
                    layout: Layout::anonymous(layout.csrf),
                    title: "Password changed",
                    body: "Your new password is set and every session has ended. Log in with your new password.",
                    link_href: "/login",
                    link_text: "Log in",
                },
                StatusCode::OK,
            );
            response
                .headers_mut()
                .append(SET_COOKIE, clear_session_cookie(&state));
            Ok(response)
        }
        Err(e) => {
            let (errors, _) = form_errors(e)?;
            Ok(render(
                &reset_confirm_form(layout, form.token, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}
