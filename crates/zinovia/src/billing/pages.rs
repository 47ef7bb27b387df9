//! The simulated rail's checkout page (a stand-in for the provider's hosted checkout).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::simulated::{self, Outcome};
use crate::error::AppError;
use crate::http::extract::CurrentUser;
use crate::site::Layout;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "billing/simulated_checkout.html")]
struct CheckoutPage {
    layout: Layout,
    what: &'static str,
    amount: String,
    recurring: bool,
    creator_name: String,
    handle: String,
    message: String,
    open: bool,
    status: String,
    action: String,
}

/// `12.50 EUR`.
pub fn money(minor: i32, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

pub(super) async fn checkout_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let (c, creator) = simulated::open_checkout(&state, user.user.id.0, id).await?;
    let page = CheckoutPage {
        layout,
        what: match c.kind.as_str() {
            "subscription" => "Subscribe",
            "ppv" => "Unlock a post",
            _ => "Send a tip",
        },
        amount: money(c.amount_minor, &c.currency),
        recurring: c.kind == "subscription",
        creator_name: creator.display_name,
        handle: creator.handle,
        message: c.message.unwrap_or_default(),
        open: c.status == "open",
        status: c.status,
        action: simulated::checkout_path(id),
    };
    match page.render() {
        Ok(html) => Ok((StatusCode::OK, Html(html)).into_response()),
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct OutcomeForm {
    outcome: String,
}

pub(super) async fn checkout_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<OutcomeForm>,
) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let outcome = match form.outcome.as_str() {
        "pay" => Outcome::Pay,
        "decline" => Outcome::Decline,
        _ => return Err(AppError::field("outcome", "must be pay or decline")),
    };
    simulated::complete(&state, user.user.id.0, id, outcome).await?;
    Ok(Redirect::to(&simulated::checkout_path(id)).into_response())
}
