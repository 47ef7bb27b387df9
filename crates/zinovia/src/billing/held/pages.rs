//! Platform-held payouts on the web: the creator's `/dashboard/payouts` (held money,
//! requests, bank account, tax profile, statements), statements by month and year, and
//! the operator's `/admin/payouts` (waiting requests, batches, bank files).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Utc};
use serde::Deserialize;

use super::super::types::{
    BatchStatus, PayoutBatchId, PayoutRequestId, PayoutSchedule, RequestStatus,
};
use super::statements::{self, Totals};
use super::{HeldPayouts, NewMethod, NewRequest, NewTaxProfile, Operator};
use crate::error::{AppError, FieldErrors};
use crate::http::extract::{Admin, ClientMeta, CurrentUser, PathId, RequireRole};
use crate::site::{self, FormErrors, Layout, Said};
use crate::state::AppState;

/// The web routes.
pub(in crate::billing) fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/dashboard/payouts", get(payouts_page))
        .route("/dashboard/payouts/request", post(request))
        .route("/dashboard/payouts/requests/{id}/cancel", post(cancel))
        .route("/dashboard/payouts/method", post(method))
        .route("/dashboard/payouts/schedule", post(schedule))
        .route("/dashboard/payouts/tax", post(tax))
        .route("/dashboard/statements/{period}", get(statement_page))
        .route("/admin/payouts", get(operator_page))
        .route("/admin/payouts/batches", post(make_batch))
        .route("/admin/payouts/batches/{id}/paid", post(mark_paid))
}

/// One currency's held money as shown.
struct HeldLine {
    currency: String,
    pending: String,
    available: String,
    requested: String,
    paid: String,
}

struct RequestLine {
    id: String,
    when: String,
    amount: String,
    status: &'static str,
    automatic: bool,
    cancelable: bool,
}

#[derive(Template)]
#[template(path = "billing/payouts.html")]
struct PayoutsPage {
    layout: Layout,
    held: Vec<HeldLine>,
    requests: Vec<RequestLine>,
    masked: String,
    holder: String,
    schedule: String,
    tax_name: String,
    tax_country: String,
    tax_masked: String,
    minimum: String,
    hold_days: i64,
    months: Vec<String>,
    year: i32,
    form: Forms,
    errors: FieldErrors,
    form_error: String,
    notice: &'static str,
}

impl FormErrors for PayoutsPage {
    fn errors(&self) -> &FieldErrors {
        &self.errors
    }
}

/// What the forms of the page were filled with (redisplayed after a refusal).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Forms {
    currency: String,
    amount: String,
    holder: String,
    iban: String,
    bic: String,
    schedule: String,
    legal_name: String,
    country: String,
    tax_id: String,
}

fn status_text(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Requested => "Waiting for the next batch",
        RequestStatus::Batched => "Being paid",
        RequestStatus::Paid => "Paid",
        RequestStatus::Canceled => "Canceled",
    }
}

async fn render_payouts(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    form: Option<Forms>,
    said: Said,
) -> Result<Response, AppError> {
    let h: HeldPayouts = super::overview(state, user.user.id.0).await?;
    let now = Utc::now();
    let (mut y, mut m) = (now.year(), now.month());
    let months = (0..12)
        .map(|_| {
            let label = format!("{y}-{m:02}");
            if m == 1 {
                (y, m) = (y - 1, 12);
            } else {
                m -= 1;
            }
            label
        })
        .collect();
    let form = form.unwrap_or_else(|| Forms {
        holder: h
            .method
            .as_ref()
            .map(|m| m.holder.clone())
            .unwrap_or_default(),
        schedule: h
            .method
            .as_ref()
            .map_or(PayoutSchedule::Manual, |m| m.schedule)
            .as_str()
            .to_owned(),
        legal_name: h
            .tax_profile
            .as_ref()
            .map(|t| t.legal_name.clone())
            .unwrap_or_default(),
        country: h
            .tax_profile
            .as_ref()
            .map(|t| t.country.clone())
            .unwrap_or_default(),
        ..Forms::default()
    });
    let page = PayoutsPage {
        layout,
        held: h
            .balances
            .iter()
            .map(|b| HeldLine {
                currency: b.currency.clone(),
                pending: site::money(b.pending_minor, &b.currency),
                available: site::money(b.available_minor, &b.currency),
                requested: site::money(b.requested_minor, &b.currency),
                paid: site::money(b.paid_out_minor, &b.currency),
            })
            .collect(),
        requests: h
            .requests
            .iter()
            .map(|r| RequestLine {
                id: r.id.to_string(),
                when: r.created_at.format("%-d %b %Y").to_string(),
                amount: site::money(r.amount_minor, &r.currency),
                status: status_text(r.status),
                automatic: r.automatic,
                cancelable: r.status == RequestStatus::Requested,
            })
            .collect(),
        masked: h
            .method
            .as_ref()
            .map(|m| m.masked.clone())
            .unwrap_or_default(),
        holder: h
            .method
            .as_ref()
            .map(|m| m.holder.clone())
            .unwrap_or_default(),
        schedule: h
            .method
            .as_ref()
            .map(|m| m.schedule.as_str().to_owned())
            .unwrap_or_default(),
        tax_name: h
            .tax_profile
            .as_ref()
            .map(|t| t.legal_name.clone())
            .unwrap_or_default(),
        tax_country: h
            .tax_profile
            .as_ref()
            .map(|t| t.country.clone())
            .unwrap_or_default(),
        tax_masked: h
            .tax_profile
            .as_ref()
            .map(|t| t.tax_id_masked.clone())
            .unwrap_or_default(),
        minimum: h.balances.first().map_or_else(
            || site::decimal(h.minimum_minor),
            |b| site::money(h.minimum_minor, &b.currency),
        ),
        hold_days: h.hold_days,
        months,
        year: now.year(),
        form,
        errors: said.errors,
        form_error: said.form_error,
        notice: said.notice,
    };
    Ok(site::render(&page, said.status))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DoneQuery {
    done: String,
}

/// `GET /dashboard/payouts`.
async fn payouts_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, AppError> {
    let notice = match q.done.as_str() {
        "request" => "Payout requested: it is paid with the next batch.",
        "cancel" => "Payout request canceled.",
        "method" => "Bank account saved. We emailed you about the change.",
        "schedule" => "Schedule saved.",
        "tax" => "Tax details saved.",
        _ => "",
    };
    render_payouts(&state, layout, &user, None, Said::ok(notice)).await
}

/// Answers a form: back to the page with a notice, or the page with the errors.
async fn answer(
    state: &AppState,
    layout: Layout,
    user: &CurrentUser,
    form: Forms,
    outcome: Result<(), AppError>,
    done: &str,
) -> Result<Response, AppError> {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/dashboard/payouts?done={done}")).into_response()),
        Err(e) => render_payouts(state, layout, user, Some(form), Said::refusal(e)?).await,
    }
}

/// `POST /dashboard/payouts/request`.
async fn request(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<Forms>,
) -> Result<Response, AppError> {
    let amount = form.amount.trim();
    let outcome = if amount.is_empty() {
        Ok(None)
    } else {
        site::minor_units(amount)
            .map(Some)
            .ok_or_else(|| AppError::field("amount_minor", "enter an amount such as 50.00"))
    };
    let outcome = match outcome {
        Ok(amount_minor) => super::request(
            &state,
            user.user.id.0,
            &NewRequest {
                currency: Some(form.currency.clone()).filter(|c| !c.is_empty()),
                amount_minor,
            },
            false,
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&state, layout, &user, form, outcome, "request").await
}

/// `POST /dashboard/payouts/requests/{id}/cancel`.
async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PayoutRequestId>,
) -> Result<Response, AppError> {
    super::cancel(&state, user.user.id.0, id.0).await?;
    Ok(Redirect::to("/dashboard/payouts?done=cancel").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MethodForm {
    holder: String,
    iban: String,
    bic: String,
    schedule: String,
    password: String,
    code: String,
}

/// `POST /dashboard/payouts/method`: needs the password and a second-factor code.
async fn method(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    client: ClientMeta,
    Form(f): Form<MethodForm>,
) -> Result<Response, AppError> {
    let schedule = PayoutSchedule::parse(&f.schedule);
    let outcome = super::set_method(
        &state,
        &user,
        &client,
        &NewMethod {
            holder: f.holder.clone(),
            iban: f.iban.clone(),
            bic: f.bic.clone(),
            schedule,
            password: f.password.clone(),
            code: f.code.clone(),
        },
    )
    .await
    .map(|_| ());
    let form = Forms {
        holder: f.holder,
        iban: f.iban,
        bic: f.bic,
        schedule: f.schedule,
        ..Forms::default()
    };
    answer(&state, layout, &user, form, outcome, "method").await
}

/// `POST /dashboard/payouts/schedule`.
async fn schedule(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<Forms>,
) -> Result<Response, AppError> {
    let outcome = match PayoutSchedule::parse(&form.schedule) {
        Some(s) => super::set_schedule(&state, user.user.id.0, s).await,
        None => Err(AppError::field(
            "schedule",
            "choose manual, weekly or monthly",
        )),
    };
    answer(&state, layout, &user, form, outcome, "schedule").await
}

/// `POST /dashboard/payouts/tax`.
async fn tax(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Form(form): Form<Forms>,
) -> Result<Response, AppError> {
    let outcome = super::set_tax_profile(
        &state,
        user.user.id.0,
        &NewTaxProfile {
            legal_name: form.legal_name.clone(),
            country: form.country.clone(),
            tax_id: form.tax_id.clone(),
        },
    )
    .await
    .map(|_| ());
    answer(&state, layout, &user, form, outcome, "tax").await
}

struct TotalsLine {
    label: String,
    sales: String,
    reversals: String,
    fees: String,
    earned: String,
    paid: String,
}

fn totals_line(label: String, t: &Totals) -> TotalsLine {
    TotalsLine {
        label,
        sales: site::money(t.sales_minor, &t.currency),
        reversals: site::money(t.reversals_minor, &t.currency),
        fees: site::money(t.platform_fees_minor + t.processor_fees_minor, &t.currency),
        earned: site::money(t.earned_minor, &t.currency),
        paid: site::money(t.paid_minor, &t.currency),
    }
}

struct EntryLine {
    when: String,
    what: String,
    gross: String,
    fees: String,
    net: String,
}

#[derive(Template)]
#[template(path = "billing/statement.html")]
struct StatementPage {
    layout: Layout,
    title: String,
    csv: String,
    totals: Vec<TotalsLine>,
    months: Vec<TotalsLine>,
    entries: Vec<EntryLine>,
}

/// `GET /dashboard/statements/{YYYY-MM}` (a month, with its entries) or
/// `/dashboard/statements/{YYYY}` (the year-end summary).
async fn statement_page(
    State(state): State<AppState>,
    layout: Layout,
    user: CurrentUser,
    Path(period): Path<String>,
) -> Result<Response, AppError> {
    let page = if period.len() == 4 {
        let year: i32 = period.parse().map_err(|_| AppError::NotFound)?;
        let y = statements::year(&state, user.user.id.0, year).await?;
        StatementPage {
            layout,
            title: format!("Summary of {year}"),
            csv: String::new(),
            totals: y
                .totals
                .iter()
                .map(|t| totals_line(format!("{year} ({})", t.currency), t))
                .collect(),
            months: y
                .months
                .iter()
                .flat_map(|m| m.totals.iter().map(|t| totals_line(m.month.clone(), t)))
                .collect(),
            entries: Vec::new(),
        }
    } else {
        let s = match statements::month(&state, user.user.id.0, &period).await {
            Err(AppError::Validation(_)) => return Err(AppError::NotFound),
            other => other?,
        };
        StatementPage {
            layout,
            title: format!("Statement for {period}"),
            csv: format!("/api/v1/me/creator/statements/{period}/csv"),
            totals: s
                .totals
                .iter()
                .map(|t| totals_line(t.currency.clone(), t))
                .collect(),
            months: Vec::new(),
            entries: s
                .lines
                .iter()
                .map(|l| EntryLine {
                    when: l.occurred_at.format("%-d %b %Y %H:%M").to_string(),
                    what: format!("{} ({})", l.kind, l.provider),
                    gross: site::money(l.gross_minor, &l.currency),
                    fees: site::money(
                        l.platform_fee_minor + l.processor_fee_minor.unwrap_or(0),
                        &l.currency,
                    ),
                    net: site::money(l.net_minor, &l.currency),
                })
                .collect(),
        }
    };
    Ok(site::render(&page, StatusCode::OK))
}

struct WaitingLine {
    handle: String,
    amount: String,
    when: String,
    automatic: bool,
}

struct BatchLine {
    id: String,
    currency: String,
    count: i64,
    total: String,
    when: String,
    paid: bool,
}

#[derive(Template)]
#[template(path = "billing/operator_payouts.html")]
struct OperatorPage {
    layout: Layout,
    currencies: Vec<String>,
    waiting: Vec<WaitingLine>,
    batches: Vec<BatchLine>,
    year: i32,
    form_error: String,
}

async fn render_operator(
    state: &AppState,
    layout: Layout,
    form_error: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let o: Operator = super::operator(state).await?;
    let mut currencies: Vec<String> = o.waiting.iter().map(|w| w.currency.clone()).collect();
    currencies.dedup();
    let page = OperatorPage {
        layout,
        currencies,
        waiting: o
            .waiting
            .iter()
            .map(|w| WaitingLine {
                handle: w.handle.clone(),
                amount: site::money(w.amount_minor, &w.currency),
                when: w.created_at.format("%-d %b %Y %H:%M").to_string(),
                automatic: w.automatic,
            })
            .collect(),
        batches: o
            .batches
            .iter()
            .map(|b| BatchLine {
                id: b.id.to_string(),
                currency: b.currency.clone(),
                count: b.count,
                total: site::money(b.total_minor, &b.currency),
                when: b.created_at.format("%-d %b %Y %H:%M").to_string(),
                paid: b.status == BatchStatus::Paid,
            })
            .collect(),
        year: Utc::now().year(),
        form_error,
    };
    Ok(site::render(&page, status))
}

/// `GET /admin/payouts` (administrators).
async fn operator_page(
    State(state): State<AppState>,
    layout: Layout,
    _admin: RequireRole<Admin>,
) -> Result<Response, AppError> {
    render_operator(&state, layout, String::new(), StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BatchForm {
    currency: String,
}

/// A refusal on the operator page: the message on top.
async fn operator_refusal(
    state: &AppState,
    layout: Layout,
    e: AppError,
) -> Result<Response, AppError> {
    let said = Said::refusal(e)?;
    let message = if said.form_error.is_empty() || !said.errors.is_empty() {
        said.errors
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        said.form_error
    };
    render_operator(state, layout, message, said.status).await
}

/// `POST /admin/payouts/batches`.
async fn make_batch(
    State(state): State<AppState>,
    layout: Layout,
    admin: RequireRole<Admin>,
    Form(form): Form<BatchForm>,
) -> Result<Response, AppError> {
    match super::make_batch(&state, admin.0.user.id.0, &form.currency).await {
        Ok(_) => Ok(Redirect::to("/admin/payouts").into_response()),
        Err(e) => operator_refusal(&state, layout, e).await,
    }
}

/// `POST /admin/payouts/batches/{id}/paid`.
async fn mark_paid(
    State(state): State<AppState>,
    layout: Layout,
    _admin: RequireRole<Admin>,
    PathId(id): PathId<PayoutBatchId>,
) -> Result<Response, AppError> {
    match super::mark_paid(&state, id.0).await {
        Ok(_) => Ok(Redirect::to("/admin/payouts").into_response()),
        Err(e) => operator_refusal(&state, layout, e).await,
    }
}
