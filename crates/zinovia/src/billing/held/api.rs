//! Platform-held payouts in the JSON API: the creator's balances, requests, payout method,
//! tax profile and statements; the operator's batches, bank files and tax report.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::super::types::{PayoutBatchId, PayoutRequestId, PayoutSchedule};
use super::statements::{self, ReportRow, Statement, YearSummary};
use super::{
    BatchView, HeldPayouts, MethodView, NewMethod, NewRequest, NewTaxProfile, Operator,
    RequestView, TaxProfileView,
};
use crate::error::{AppError, ErrorBody};
use crate::http::extract::{Admin, ApiJson, ClientMeta, CurrentUser, PathId, RequireRole};
use crate::state::AppState;

pub(in crate::billing) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(held_payouts))
        .routes(routes!(request_payout))
        .routes(routes!(cancel_request))
        .routes(routes!(set_method))
        .routes(routes!(set_schedule))
        .routes(routes!(set_tax_profile))
        .routes(routes!(statement))
        .routes(routes!(statement_csv))
        .routes(routes!(year_summary))
        .routes(routes!(operator))
        .routes(routes!(make_batch))
        .routes(routes!(mark_paid))
        .routes(routes!(batch_csv))
        .routes(routes!(batch_sepa))
        .routes(routes!(tax_report))
}

/// What the platform holds for you (on rails that do not pay creators directly): pending,
/// available, requested and paid out per currency; your payout method (masked), tax
/// profile and requests.
#[utoipa::path(get, path = "/api/v1/me/creator/held-payouts", tag = "payouts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Held money and payouts", body = HeldPayouts),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
    ))]
async fn held_payouts(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<HeldPayouts>, AppError> {
    Ok(axum::Json(super::overview(&state, user.user.id.0).await?))
}

/// Requests a payout of available money to your bank account (paid with the next batch).
#[utoipa::path(post, path = "/api/v1/me/creator/payout-requests", tag = "payouts",
    request_body = NewRequest,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Requested", body = RequestView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 409, description = "A payout in this currency is already requested", body = ErrorBody),
        (status = 422, description = "No payout method, unknown currency, amount under PAYOUT_MIN or above what is available", body = ErrorBody),
    ))]
async fn request_payout(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<NewRequest>,
) -> Result<Response, AppError> {
    let r = super::request(&state, user.user.id.0, &input, false).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

/// Cancels your payout request that is not in a batch yet.
#[utoipa::path(delete, path = "/api/v1/me/creator/payout-requests/{id}", tag = "payouts",
    params(("id" = uuid::Uuid, Path, description = "The request")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Canceled"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such request of yours waiting", body = ErrorBody),
    ))]
async fn cancel_request(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId<PayoutRequestId>,
) -> Result<StatusCode, AppError> {
    super::cancel(&state, user.user.id.0, id.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the bank account you are paid to (SEPA: holder, IBAN, optional BIC) and when
/// payouts are requested for you. Needs your password; your email address is told.
#[utoipa::path(put, path = "/api/v1/me/creator/payout-method", tag = "payouts",
    request_body = NewMethod,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved (shown masked)", body = MethodView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad holder, IBAN or BIC, or wrong password", body = ErrorBody),
        (status = 429, description = "Too many password attempts", body = ErrorBody),
    ))]
async fn set_method(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientMeta,
    ApiJson(input): ApiJson<NewMethod>,
) -> Result<axum::Json<MethodView>, AppError> {
    Ok(axum::Json(
        super::set_method(&state, &user, &client, &input).await?,
    ))
}

/// When payouts are requested without you asking.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleInput {
    /// `manual`, `weekly` or `monthly`.
    pub schedule: PayoutSchedule,
}

/// Changes when payouts are requested for you (your bank account stays).
#[utoipa::path(put, path = "/api/v1/me/creator/payout-schedule", tag = "payouts",
    request_body = ScheduleInput,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 204, description = "Saved"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad schedule, or no payout method yet", body = ErrorBody),
    ))]
async fn set_schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<ScheduleInput>,
) -> Result<StatusCode, AppError> {
    super::set_schedule(&state, user.user.id.0, input.schedule).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets who you are for tax purposes (the tax id is stored encrypted and shown masked).
#[utoipa::path(put, path = "/api/v1/me/creator/tax-profile", tag = "payouts",
    request_body = NewTaxProfile,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = TaxProfileView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Bad legal name, country or tax id", body = ErrorBody),
    ))]
async fn set_tax_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<NewTaxProfile>,
) -> Result<axum::Json<TaxProfileView>, AppError> {
    Ok(axum::Json(
        super::set_tax_profile(&state, user.user.id.0, &input).await?,
    ))
}

/// Your statement of a month (UTC): every ledger entry and the totals per currency.
#[utoipa::path(get, path = "/api/v1/me/creator/statements/{month}", tag = "payouts",
    params(("month" = String, Path, description = "YYYY-MM")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The statement", body = Statement),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Not a month", body = ErrorBody),
    ))]
async fn statement(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(month): Path<String>,
) -> Result<axum::Json<Statement>, AppError> {
    Ok(axum::Json(
        statements::month(&state, user.user.id.0, &month).await?,
    ))
}

/// A download: `content-type` and a file name.
pub(super) fn download(body: String, content_type: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// Your statement of a month as CSV.
#[utoipa::path(get, path = "/api/v1/me/creator/statements/{month}/csv", tag = "payouts",
    params(("month" = String, Path, description = "YYYY-MM")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "CSV, one entry per line", content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Not a month", body = ErrorBody),
    ))]
async fn statement_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(month): Path<String>,
) -> Result<Response, AppError> {
    let s = statements::month(&state, user.user.id.0, &month).await?;
    Ok(download(
        statements::csv(&s),
        "text/csv; charset=utf-8",
        &format!("zinovia-statement-{month}.csv"),
    ))
}

/// Your year-end summary: totals per currency for the year and per month.
#[utoipa::path(get, path = "/api/v1/me/creator/year-summaries/{year}", tag = "payouts",
    params(("year" = i32, Path, description = "The year")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The summary", body = YearSummary),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Not a creator", body = ErrorBody),
        (status = 422, description = "Not a year", body = ErrorBody),
    ))]
async fn year_summary(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(year): Path<String>,
) -> Result<axum::Json<YearSummary>, AppError> {
    let year: i32 = year
        .parse()
        .map_err(|_| AppError::field("year", "must be a year like 2026"))?;
    Ok(axum::Json(
        statements::year(&state, user.user.id.0, year).await?,
    ))
}

/// Operators: payout requests waiting for a batch, and the latest batches.
#[utoipa::path(get, path = "/api/v1/admin/payouts", tag = "payouts",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Waiting requests and batches", body = Operator),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
async fn operator(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
) -> Result<axum::Json<Operator>, AppError> {
    Ok(axum::Json(super::operator(&state).await?))
}

/// A batch to make.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewBatch {
    /// The currency whose waiting requests it takes.
    pub currency: String,
}

/// Operators: makes a batch of every payout request waiting in a currency (each capped at
/// what the creator's balance allows now).
#[utoipa::path(post, path = "/api/v1/admin/payout-batches", tag = "payouts",
    request_body = NewBatch,
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 201, description = "Made", body = BatchView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "No waiting request is payable now", body = ErrorBody),
        (status = 422, description = "Bad currency, or nothing waiting in it", body = ErrorBody),
    ))]
async fn make_batch(
    State(state): State<AppState>,
    admin: RequireRole<Admin>,
    ApiJson(input): ApiJson<NewBatch>,
) -> Result<Response, AppError> {
    let b = super::make_batch(&state, admin.0.user.id.0, &input.currency).await?;
    Ok((StatusCode::CREATED, axum::Json(b)).into_response())
}

/// Operators: marks a batch paid (after paying it at the bank): its payouts are written to
/// the ledger, once.
#[utoipa::path(post, path = "/api/v1/admin/payout-batches/{id}/paid", tag = "payouts",
    params(("id" = uuid::Uuid, Path, description = "The batch")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Marked paid", body = BatchView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "Already marked paid", body = ErrorBody),
    ))]
async fn mark_paid(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    PathId(id): PathId<PayoutBatchId>,
) -> Result<axum::Json<BatchView>, AppError> {
    Ok(axum::Json(super::mark_paid(&state, id.0).await?))
}

/// Operators: a batch as CSV (holder, IBAN, BIC, amount, reference per payout).
#[utoipa::path(get, path = "/api/v1/admin/payout-batches/{id}/csv", tag = "payouts",
    params(("id" = uuid::Uuid, Path, description = "The batch")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "Bank details cannot be opened with this DATA_ENCRYPTION_KEY", body = ErrorBody),
    ))]
async fn batch_csv(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    PathId(id): PathId<PayoutBatchId>,
) -> Result<Response, AppError> {
    let body = super::files::csv(&state, id.0).await?;
    Ok(download(
        body,
        "text/csv; charset=utf-8",
        &format!("zinovia-payouts-{}.csv", id.0.simple()),
    ))
}

/// Operators: a batch as a SEPA credit-transfer file (pain.001.001.03) to upload to the
/// bank. Euros only; needs `PAYOUT_DEBTOR_NAME` and `PAYOUT_DEBTOR_IBAN`.
#[utoipa::path(get, path = "/api/v1/admin/payout-batches/{id}/sepa", tag = "payouts",
    params(("id" = uuid::Uuid, Path, description = "The batch")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "pain.001.001.03 XML", content_type = "application/xml"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "Not in euros, the platform's account is not set, or bank details cannot be opened", body = ErrorBody),
    ))]
async fn batch_sepa(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    PathId(id): PathId<PayoutBatchId>,
) -> Result<Response, AppError> {
    let body = super::files::sepa(&state, id.0).await?;
    Ok(download(
        body,
        "application/xml; charset=utf-8",
        &format!("zinovia-payouts-{}.xml", id.0.simple()),
    ))
}

/// Operators: creators whose gross sales in a year reach `TAX_REPORT_THRESHOLD` in a
/// currency, with their tax profile.
#[utoipa::path(get, path = "/api/v1/admin/tax-report/{year}", tag = "payouts",
    params(("year" = i32, Path, description = "The year")),
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Creators above the threshold", body = Vec<ReportRow>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 422, description = "Not a year", body = ErrorBody),
    ))]
async fn tax_report(
    State(state): State<AppState>,
    _admin: RequireRole<Admin>,
    Path(year): Path<String>,
) -> Result<axum::Json<Vec<ReportRow>>, AppError> {
    let year: i32 = year
        .parse()
        .map_err(|_| AppError::field("year", "must be a year like 2026"))?;
    Ok(axum::Json(statements::report(&state, year).await?))
}
