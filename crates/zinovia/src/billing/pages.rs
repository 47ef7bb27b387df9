//! Paying as web pages: starting a checkout (subscribe, unlock, tip), the page the rail
//! sends the fan back to, the fan's subscriptions (cancel, manage card) and purchases, and
//! the simulated rail's checkout page (a stand-in for the provider's hosted checkout).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::checkout::{CheckoutRequest, Progress};
use super::simulated::{self, Outcome};
use super::types::{CheckoutId, CheckoutKind, CheckoutStatus, PaymentStatus, SubscriptionStatus};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{CurrentUser, PathId};
use crate::site::{self, FormErrors, Layout, Said};
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
    back: String,
}

pub(super) async fn checkout_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<CheckoutId>,
) -> Result<Response, AppError> {
    let (c, creator) = simulated::open_checkout(&state, user.user.id.0, id).await?;
    let page = CheckoutPage {
        layout,
        what: match c.kind {
            CheckoutKind::Subscription => "Subscribe",
            CheckoutKind::Ppv => "Unlock a post",
            CheckoutKind::Tip => "Send a tip",
            CheckoutKind::Message => "Unlock a message",
        },
        amount: c.amount().text(),
        recurring: c.kind == CheckoutKind::Subscription,
        creator_name: creator.display_name,
        handle: creator.handle,
        message: c.message.clone().unwrap_or_default(),
        open: c.status == CheckoutStatus::Open,
        status: c.status.to_string(),
        action: simulated::checkout_path(id),
        back: super::checkout::return_path(id, true),
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
    PathId(id): PathId<CheckoutId>,
    Form(form): Form<OutcomeForm>,
) -> Result<Response, AppError> {
    let outcome = match form.outcome.as_str() {
        "pay" => Outcome::Pay,
        "decline" => Outcome::Decline,
        _ => return Err(AppError::field("outcome", "must be pay or decline")),
    };
    simulated::complete(&state, user.user.id.0, id, outcome).await?;
    Ok(Redirect::to(&super::checkout::return_path(id, false)).into_response())
}

#[derive(Template)]
#[template(path = "billing/problem.html")]
struct ProblemPage {
    layout: Layout,
    title: &'static str,
    message: String,
    back: String,
}

/// What a checkout button sends (and the rail, once the fan chose one).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StartForm {
    kind: String,
    creator: String,
    post_id: String,
    message_id: String,
    provider: String,
}

/// The platform's rails as a fan chooses among them: value and label, the default first.
fn rails(state: &AppState) -> Vec<(&'static str, &'static str)> {
    state
        .settings
        .billing
        .payment_providers
        .iter()
        .map(|p| (p.as_str(), p.label()))
        .collect()
}

#[derive(Template)]
#[template(path = "billing/choose.html")]
struct ChoosePage {
    layout: Layout,
    kind: String,
    creator: String,
    post_id: String,
    message_id: String,
    rails: Vec<(&'static str, &'static str)>,
    back: String,
}

fn back_to(form: &StartForm) -> String {
    match crate::creators::Handle::parse(&form.creator) {
        Ok(h) => format!("/{}", h.as_str()),
        Err(_) => "/feed".to_owned(),
    }
}

/// `POST /checkout`: subscribe or unlock (a button on a creator's page): records the
/// checkout and sends the fan to the rail's payment page.
pub(super) async fn start(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<StartForm>,
) -> Result<Response, AppError> {
    // More than one rail and none chosen yet: the fan chooses how to pay first.
    if form.provider.is_empty() && state.settings.billing.payment_providers.len() > 1 {
        let page = ChoosePage {
            layout,
            rails: rails(&state),
            back: back_to(&form),
            kind: form.kind,
            creator: form.creator,
            post_id: form.post_id,
            message_id: form.message_id,
        };
        return Ok(site::render(&page, StatusCode::OK));
    }
    let req = CheckoutRequest {
        kind: form.kind.clone(),
        creator: Some(form.creator.clone()).filter(|c| !c.is_empty()),
        post_id: Some(form.post_id.clone()).filter(|p| !p.is_empty()),
        message_id: Some(form.message_id.clone()).filter(|p| !p.is_empty()),
        amount_minor: None,
        message: None,
        provider: Some(form.provider.clone()).filter(|p| !p.is_empty()),
    };
    match super::checkout::start(&state, &user.user, &req).await {
        Ok((_, url)) => Ok(Redirect::to(&url).into_response()),
        Err(e @ (AppError::Conflict(_) | AppError::Validation(_) | AppError::NotFound)) => {
            let status = e.status();
            let message = match &e {
                AppError::Validation(fields) => fields
                    .iter()
                    .flat_map(|(f, ms)| ms.iter().map(move |m| format!("{f}: {m}")))
                    .collect::<Vec<_>>()
                    .join("; "),
                AppError::NotFound => "There is nothing to pay for here.".to_owned(),
                other => other.to_string(),
            };
            let page = ProblemPage {
                layout,
                title: "This checkout cannot start",
                message,
                back: back_to(&form),
            };
            Ok(site::render(&page, status))
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "billing/tip.html")]
struct TipPage {
    layout: Layout,
    handle: String,
    name: String,
    currency: String,
    min: String,
    max: String,
    amount: String,
    message: String,
    /// The rails to choose among (a choice is shown when there are several).
    rails: Vec<(&'static str, &'static str)>,
    /// The rail chosen (empty: the default).
    provider: String,
    errors: FieldErrors,
}

impl FormErrors for TipPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

impl TipPage {
    /// Errors about anything but the two fields (e.g. tipping yourself), shown on top.
    fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| !matches!(f.as_str(), "amount_minor" | "message"))
            .flat_map(|(f, ms)| {
                ms.iter().map(move |m| match f.as_str() {
                    "form" => m.clone(),
                    "creator" if m == "is your own" => "You cannot send yourself a tip.".to_owned(),
                    "creator" => format!("This creator {m}."),
                    other => format!("{}: {m}", other.replace('_', " ")),
                })
            })
            .collect()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TipForm {
    amount: String,
    message: String,
    provider: String,
}

async fn tip_page(
    state: &AppState,
    layout: Layout,
    handle: &str,
    form: TipForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut conn = state.db.acquire().await?;
    let creator = match crate::creators::find(&mut conn, handle).await? {
        crate::creators::Found::Creator(c) => c,
        crate::creators::Found::MovedTo(h) => {
            return Ok(Redirect::to(&format!("/checkout/tip/{h}")).into_response());
        }
    };
    let b = &state.settings.billing;
    Ok(site::render(
        &TipPage {
            layout,
            handle: creator.handle,
            name: creator.display_name,
            min: site::money(i64::from(b.tip_min), &creator.currency),
            max: site::money(i64::from(b.tip_max), &creator.currency),
            currency: creator.currency,
            amount: form.amount,
            message: form.message,
            rails: rails(state),
            provider: form.provider,
            errors,
        },
        status,
    ))
}

/// `GET /checkout/tip/{handle}`: the tip form.
pub(super) async fn tip_form(
    State(state): State<AppState>,
    layout: Layout,
    _user: CurrentUser,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    tip_page(
        &state,
        layout,
        &handle,
        TipForm::default(),
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /checkout/tip/{handle}`: starts paying the tip; errors come back on the form.
pub(super) async fn tip(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(handle): Path<String>,
    Form(form): Form<TipForm>,
) -> Result<Response, AppError> {
    let amount = site::minor_units(&form.amount);
    let outcome = match amount {
        None => Err(AppError::field(
            "amount_minor",
            "enter an amount such as 5.00",
        )),
        Some(minor) => {
            let req = CheckoutRequest {
                kind: CheckoutKind::Tip.as_str().into(),
                creator: Some(handle.clone()),
                post_id: None,
                message_id: None,
                amount_minor: Some(minor),
                message: Some(form.message.clone()).filter(|m| !m.trim().is_empty()),
                provider: Some(form.provider.clone()).filter(|p| !p.is_empty()),
            };
            super::checkout::start(&state, &user.user, &req).await
        }
    };
    match outcome {
        Ok((_, url)) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            let mut said = Said::refusal(e)?;
            if amount.is_some() && said.errors.contains_key("amount_minor") {
                // The service speaks in minor units; the form in the currency's units.
                let b = &state.settings.billing;
                let currency = tip_currency(&state, &handle).await?;
                said.errors.insert(
                    "amount_minor".into(),
                    vec![format!(
                        "must be from {} to {}",
                        site::money(i64::from(b.tip_min), &currency),
                        site::money(i64::from(b.tip_max), &currency)
                    )],
                );
            }
            if !said.form_error.is_empty() {
                said.errors.insert("form".into(), vec![said.form_error]);
            }
            tip_page(&state, layout, &handle, form, said.errors, said.status).await
        }
    }
}

async fn tip_currency(state: &AppState, handle: &str) -> Result<String, AppError> {
    let mut conn = state.db.acquire().await?;
    match crate::creators::find(&mut conn, handle).await? {
        crate::creators::Found::Creator(c) => Ok(c.currency),
        crate::creators::Found::MovedTo(_) => Err(AppError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "billing/checkout_status.html")]
struct StatusPage {
    layout: Layout,
    /// thanks, waiting, gave_up (at the rail's page), declined.
    state: &'static str,
    what: &'static str,
    amount: String,
    handle: String,
    name: String,
    /// Where what was bought is.
    link: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusQuery {
    outcome: String,
}

/// `GET /checkout/{id}`: where the rail sends the fan back. Waits (refreshing itself) until
/// the rail's events are handled, then says what was bought and where it is.
pub(super) async fn checkout_status(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    PathId(id): PathId<CheckoutId>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, AppError> {
    let (c, progress) = super::checkout::progress(&state, &user.user, id).await?;
    let creator = crate::creators::by_user(&state.db, c.creator_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = StatusPage {
        layout,
        state: match (progress, q.outcome.as_str()) {
            (Progress::Granted, _) => "thanks",
            (Progress::Failed, _) => "declined",
            (Progress::Waiting, "cancel") if c.status == CheckoutStatus::Open => "gave_up",
            (Progress::Waiting, _) => "waiting",
        },
        what: match c.kind {
            CheckoutKind::Subscription => "subscribed",
            CheckoutKind::Ppv => "unlocked",
            CheckoutKind::Tip => "tipped",
            CheckoutKind::Message => "message",
        },
        amount: c.amount().text(),
        link: match (c.kind, c.message_id) {
            (CheckoutKind::Message, Some(m)) => format!("/messages/m/{m}"),
            _ => format!(
                "/{}{}",
                creator.handle,
                c.post_id.map(|p| format!("#post-{p}")).unwrap_or_default()
            ),
        },
        handle: creator.handle,
        name: creator.display_name,
    };
    let mut response = site::render(&page, StatusCode::OK);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// A subscription as the fan's list shows it.
struct SubscriptionLine {
    handle: String,
    name: String,
    price: String,
    state: String,
    until: String,
    access: bool,
    cancelable: bool,
}

#[derive(Template)]
#[template(path = "billing/subscriptions.html")]
struct SubscriptionsPage {
    layout: Layout,
    lines: Vec<SubscriptionLine>,
    portal: bool,
    notice: String,
}

/// `GET /account/subscriptions`: the fan's subscriptions, to cancel or manage the card.
pub(super) async fn subscriptions(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Query(q): Query<site::DoneQuery>,
) -> Result<Response, AppError> {
    let mine = super::views::my_subscriptions(&state, user.user.id.0).await?;
    let lines = mine
        .subscriptions
        .into_iter()
        .map(|s| {
            let live = s.status.billable();
            SubscriptionLine {
                price: match (s.price_minor, &s.currency) {
                    (Some(p), Some(c)) => format!("{} a month", site::money(i64::from(p), c)),
                    _ => String::new(),
                },
                state: match (s.status, s.cancel_at_period_end) {
                    (_, true) if live => "Canceled: ends".to_owned(),
                    (SubscriptionStatus::Trialing, _) => "Free trial until".to_owned(),
                    (SubscriptionStatus::Active, _) => "Renews".to_owned(),
                    (SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid, _) => {
                        "Payment failed: retrying until".to_owned()
                    }
                    _ => "Ended".to_owned(),
                },
                until: s.current_period_end.format("%-d %b %Y").to_string(),
                access: s.access,
                cancelable: live && !s.cancel_at_period_end,
                handle: s.creator,
                name: s.creator_name,
            }
        })
        .collect();
    let page = SubscriptionsPage {
        layout,
        lines,
        portal: state.settings.billing.enabled(super::Provider::Stripe),
        notice: match q.done.as_str() {
            "cancel" => "Your subscription is canceled. You keep access until the end of the period you paid for.".to_owned(),
            _ => String::new(),
        },
    };
    Ok(site::render(&page, StatusCode::OK))
}

/// `POST /account/subscriptions/{handle}/cancel`: cancels at the period's end.
pub(super) async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(handle): Path<String>,
) -> Result<Response, AppError> {
    super::manage::cancel(&state, &user.user, &handle).await?;
    Ok(Redirect::to("/account/subscriptions?done=cancel").into_response())
}

/// `POST /account/billing-portal`: the rail's page for cards and invoices.
pub(super) async fn portal(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let url = super::manage::portal(&state, &user.user).await?;
    Ok(Redirect::to(&url).into_response())
}

/// A purchase or tip as the fan's list shows it.
struct PaymentLine {
    what: String,
    link: String,
    handle: String,
    amount: String,
    status: String,
    when: String,
}

#[derive(Template)]
#[template(path = "billing/purchases.html")]
struct PurchasesPage {
    layout: Layout,
    lines: Vec<PaymentLine>,
}

/// `GET /account/purchases`: the posts the fan bought and the tips they sent.
pub(super) async fn purchases(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let mine = super::views::my_purchases(&state, user.user.id.0).await?;
    let lines = mine
        .payments
        .into_iter()
        .map(|p| PaymentLine {
            what: match (p.kind, &p.message) {
                (CheckoutKind::Ppv, _) => "Unlocked a post".to_owned(),
                (CheckoutKind::Message, _) => "Unlocked a message".to_owned(),
                (_, Some(m)) if !m.is_empty() => format!("Tip: “{m}”"),
                _ => "Tip".to_owned(),
            },
            link: match p.post_id {
                Some(id) => format!("/{}#post-{id}", p.handle),
                None => format!("/{}", p.handle),
            },
            amount: site::money(i64::from(p.amount_minor), &p.currency),
            status: match p.status {
                PaymentStatus::Paid => String::new(),
                other => other.to_string(),
            },
            when: p.created_at.format("%-d %b %Y").to_string(),
            handle: p.handle,
        })
        .collect();
    Ok(site::render(
        &PurchasesPage { layout, lines },
        StatusCode::OK,
    ))
}
