//! Platform-held payouts (ADR 0023). Money the platform holds for a creator on a rail that
//! does not pay creators directly (CCBill; every rail when `SPLIT_PAYMENTS=false`) is
//! pending for its hold, then available; the creator (or their schedule) requests a payout
//! to their bank account; an operator makes a batch (CSV and SEPA credit-transfer XML),
//! pays it at the bank and marks it paid, which writes `payout` ledger entries. Every
//! figure is read from the ledger and the requests, never kept as a running total.

pub(super) mod api;
pub(super) mod files;
pub(super) mod pages;
pub(super) mod statements;

use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::db::{self, Entry, Holds};
use super::types::{BatchStatus, EntryKind, PayoutSchedule, Provider, RequestStatus};
use crate::accounts::{Authenticated, FieldCheck};
use crate::error::AppError;
use crate::http::extract::ClientMeta;
use crate::state::AppState;

/// What the platform holds for a creator in one currency:
/// `pending + available + requested` is the sum of the held ledger entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HeldBalance {
    /// Currency.
    pub currency: String,
    /// Sales still in their hold (less what of them went back).
    pub pending_minor: i64,
    /// What may be requested now; negative when more went back than was available (the
    /// next payouts net it).
    pub available_minor: i64,
    /// In payout requests not paid yet.
    pub requested_minor: i64,
    /// Paid to the creator's bank so far.
    pub paid_out_minor: i64,
}

/// The creator's payout method as shown (never the full account number).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodView {
    /// Account holder.
    pub holder: String,
    /// The IBAN masked: country, check digits hidden, last four.
    pub masked: String,
    /// Automatic requests.
    pub schedule: PayoutSchedule,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The creator's tax profile as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxProfileView {
    /// Legal name.
    pub legal_name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// The tax id masked.
    pub tax_id_masked: String,
}

/// A payout request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    /// Id.
    pub id: Uuid,
    /// Currency.
    pub currency: String,
    /// Amount.
    pub amount_minor: i64,
    /// Where it stands.
    pub status: RequestStatus,
    /// Made by the creator's schedule.
    pub automatic: bool,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<db::RequestRow> for RequestView {
    fn from(r: db::RequestRow) -> RequestView {
        RequestView {
            id: r.id,
            currency: r.currency,
            amount_minor: r.amount_minor,
            status: r.status,
            automatic: r.automatic,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A creator's platform-held payouts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldPayouts {
    /// Per currency.
    pub balances: Vec<HeldBalance>,
    /// Where payouts go (none yet: set one before requesting).
    pub method: Option<MethodView>,
    /// Who is paid, for tax purposes.
    pub tax_profile: Option<TaxProfileView>,
    /// Latest requests, newest first.
    pub requests: Vec<RequestView>,
    /// `PAYOUT_MIN`.
    pub minimum_minor: i64,
    /// How long this creator's sales are pending, in days (longer while they are new).
    pub hold_days: i64,
    /// When these figures were read.
    pub now: DateTime<Utc>,
}

fn holds(state: &AppState, now: DateTime<Utc>) -> Holds {
    let b = &state.settings.billing;
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
    Holds {
        hold: secs(b.payout_hold.0),
        new_creator_hold: secs(b.payout_hold_new_creator.0),
        new_creator_period: secs(b.payout_new_creator_period.0),
        now,
    }
}

fn rails(state: &AppState) -> Vec<String> {
    state
        .settings
        .billing
        .held_rails()
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect()
}

/// A creator's held money per currency as of `now` (the local test clock ages what was
/// recorded before it moved).
async fn balances_at(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    creator: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<HeldBalance>, AppError> {
    let rows = db::held(conn, creator, &rails(state), holds(state, now)).await?;
    Ok(rows
        .into_iter()
        .map(|r| HeldBalance {
            available_minor: r.held_minor - r.pending_minor - r.requested_minor,
            currency: r.currency,
            pending_minor: r.pending_minor,
            requested_minor: r.requested_minor,
            paid_out_minor: r.paid_out_minor,
        })
        .collect())
}

/// The creator's id, when `user` has a creator profile.
async fn creator_of(state: &AppState, user: Uuid) -> Result<crate::creators::Creator, AppError> {
    crate::creators::by_user(&state.db, user)
        .await?
        .ok_or(AppError::NotFound)
}

/// The caller's platform-held payouts (404 when not a creator).
pub async fn overview(state: &AppState, user: Uuid) -> Result<HeldPayouts, AppError> {
    let creator = creator_of(state, user).await?;
    let mut conn = state.db.acquire().await?;
    let now = Utc::now();
    let balances = balances_at(state, &mut conn, creator.user_id, now).await?;
    let method = db::method(&mut conn, creator.user_id)
        .await?
        .map(|m| MethodView {
            holder: m.holder,
            masked: m.masked,
            schedule: m.schedule,
            updated_at: m.updated_at,
        });
    let tax_profile = db::tax_profile(&mut conn, creator.user_id)
        .await?
        .map(|t| TaxProfileView {
            legal_name: t.legal_name,
            country: t.country,
            tax_id_masked: t.tax_id_masked,
        });
    let requests = db::requests_of(&mut conn, creator.user_id, 50)
        .await?
        .into_iter()
        .map(RequestView::from)
        .collect();
    let b = &state.settings.billing;
    let new = now
        < creator.created_at + Span::from_std(b.payout_new_creator_period.0).unwrap_or_default();
    let hold = if new {
        b.payout_hold_new_creator.0
    } else {
        b.payout_hold.0
    };
    Ok(HeldPayouts {
        balances,
        method,
        tax_profile,
        requests,
        minimum_minor: i64::from(b.payout_min),
        hold_days: i64::try_from(hold.as_secs() / 86_400).unwrap_or(0),
        now,
    })
}

/// A payout request as received.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewRequest {
    /// Currency (upper case); may be left out when only one currency is held.
    pub currency: Option<String>,
    /// How much; left out: everything available.
    pub amount_minor: Option<i64>,
}

/// Requests a payout of what is available (at least `PAYOUT_MIN`, at most what is
/// available); one request per currency waits at a time.
pub async fn request(
    state: &AppState,
    user: Uuid,
    input: &NewRequest,
    automatic: bool,
) -> Result<RequestView, AppError> {
    let creator = creator_of(state, user).await?;
    if !crate::verification::may_sell(state, creator.user_id).await? {
        return Err(AppError::Conflict(
            crate::verification::NOT_VERIFIED_PAYOUTS.into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    // One decision at a time per creator: two requests cannot both take what is available.
    db::lock_creator(&mut tx, creator.user_id).await?;
    if db::method(&mut tx, creator.user_id).await?.is_none() {
        return Err(AppError::field(
            "method",
            "is not set: add the bank account to pay you to first",
        ));
    }
    let balances = balances_at(state, &mut tx, creator.user_id, Utc::now()).await?;
    let balance = match input.currency.as_deref().map(str::trim) {
        Some(c) => balances.iter().find(|b| b.currency.eq_ignore_ascii_case(c)),
        None if balances.len() == 1 => balances.first(),
        None => {
            return Err(AppError::field(
                "currency",
                "is required: you have money in several currencies",
            ));
        }
    }
    .ok_or_else(|| AppError::field("currency", "has nothing held for you"))?;
    let min = i64::from(state.settings.billing.payout_min);
    let amount = input.amount_minor.unwrap_or(balance.available_minor);
    let mut check = FieldCheck::default();
    if input.amount_minor.is_none() && amount < min {
        check.add(
            "amount_minor",
            format!(
                "cannot be everything available: {} is available and the smallest payout is {} (pending sales become available after their hold)",
                crate::money::text(balance.available_minor, &balance.currency),
                crate::money::text(min, &balance.currency)
            ),
        );
    } else if amount < min {
        check.add(
            "amount_minor",
            format!(
                "must be at least {} (the smallest payout)",
                crate::money::text(min, &balance.currency)
            ),
        );
    } else if amount > balance.available_minor {
        check.add(
            "amount_minor",
            format!(
                "is more than the {} available",
                crate::money::text(balance.available_minor.max(0), &balance.currency)
            ),
        );
    }
    check.finish()?;
    let id = Uuid::now_v7();
    if !db::insert_request(
        &mut tx,
        id,
        creator.user_id,
        &balance.currency,
        amount,
        automatic,
    )
    .await?
    {
        return Err(AppError::Conflict(format!(
            "a payout in {} is already requested: it is paid with the next batch",
            balance.currency
        )));
    }
    tx.commit().await?;
    tracing::info!(creator_id = %creator.user_id, request_id = %id, amount, automatic, "payout requested");
    let mut conn = state.db.acquire().await?;
    db::requests_of(&mut conn, creator.user_id, 50)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .map(RequestView::from)
        .ok_or(AppError::NotFound)
}

/// Cancels the caller's request that is not in a batch yet (404 otherwise).
pub async fn cancel(state: &AppState, user: Uuid, id: Uuid) -> Result<(), AppError> {
    let creator = creator_of(state, user).await?;
    let mut conn = state.db.acquire().await?;
    if db::cancel_request(&mut conn, creator.user_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// A payout method as received.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewMethod {
    /// The account holder's name, as the bank knows it.
    pub holder: String,
    /// The IBAN (spaces allowed).
    pub iban: String,
    /// The bank's BIC (optional within SEPA).
    pub bic: String,
    /// Automatic requests (left out: as before; `manual` the first time).
    pub schedule: Option<PayoutSchedule>,
    /// Your password (a changed payout method is a sensitive change).
    pub password: String,
    /// A current code from your authenticator app (or an unused recovery code): two-factor
    /// sign-in must be on to be paid out.
    pub code: String,
}

/// The sealed part of a payout method.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct BankDetails {
    pub iban: String,
    pub bic: String,
}

/// An IBAN, normalised (no spaces, upper case), when it is one (ISO 13616: country, check
/// digits, account; mod 97 = 1).
pub fn iban(raw: &str) -> Result<String, String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let b = s.as_bytes();
    if !(15..=34).contains(&s.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return Err(
            "is not an IBAN (two letters, two digits, then the account; 15 to 34 characters)"
                .into(),
        );
    }
    let rearranged = s[4..].bytes().chain(s[..4].bytes());
    let mut rem: u32 = 0;
    for c in rearranged {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem != 1 {
        return Err(
            "is not a valid IBAN (its check digits do not match: is a character mistyped?)".into(),
        );
    }
    Ok(s)
}

/// A BIC (8 or 11 characters), normalised; empty stays empty.
pub fn bic(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_ascii_uppercase();
    if s.is_empty() {
        return Ok(s);
    }
    let b = s.as_bytes();
    if !(s.len() == 8 || s.len() == 11)
        || !b[..6].iter().all(u8::is_ascii_uppercase)
        || !b[6..].iter().all(u8::is_ascii_alphanumeric)
    {
        return Err("is not a BIC (8 or 11 letters and digits, e.g. DEUTDEFF)".into());
    }
    Ok(s)
}

/// How an IBAN is shown: country and the last four, the rest hidden.
pub fn mask_iban(iban: &str) -> String {
    let tail = &iban[iban.len().saturating_sub(4)..];
    format!("{} •••• {tail}", &iban[..2.min(iban.len())])
}

/// Sets where the caller is paid, after checking their password and a fresh second-factor
/// code; the account's email address is told (a changed bank account is what an account thief does first).
pub async fn set_method(
    state: &AppState,
    who: &Authenticated,
    client: &ClientMeta,
    input: &NewMethod,
) -> Result<MethodView, AppError> {
    let creator = creator_of(state, who.user.id.0).await?;
    if !crate::verification::may_sell(state, creator.user_id).await? {
        return Err(AppError::Conflict(
            crate::verification::NOT_VERIFIED_PAYOUTS.into(),
        ));
    }
    let mut check = FieldCheck::default();
    let holder = check.text("holder", &input.holder, 70, true).filter(|h| {
        let one_line = !h.contains(['\n', '\t']);
        if !one_line {
            check.add("holder", "must be one line");
        }
        one_line
    });
    let iban = check.check("iban", iban(&input.iban));
    let bic = check.check("bic", bic(&input.bic));
    if input.password.is_empty() {
        check.add("password", "is required to change where you are paid");
    }
    check.finish()?;
    crate::accounts::confirm_password(state, who, &input.password, client).await?;
    crate::accounts::require_fresh_code(
        state,
        who,
        &input.code,
        client,
        "change where you are paid",
    )
    .await?;
    let (Some(holder), Some(iban), Some(bic)) = (holder, iban, bic) else {
        return Err(AppError::BadRequest("invalid payout method".into()));
    };
    let key = state.data_key()?;
    let details = serde_json::to_vec(&BankDetails {
        iban: iban.clone(),
        bic,
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    let sealed = key.seal(creator.user_id.as_bytes(), &details);
    let masked = mask_iban(&iban);
    let mut tx = state.db.begin().await?;
    // No schedule given: the one set before stays.
    let schedule = match input.schedule {
        Some(s) => s,
        None => db::method(&mut tx, creator.user_id)
            .await?
            .map_or(PayoutSchedule::Manual, |m| m.schedule),
    };
    db::set_method(
        &mut tx,
        creator.user_id,
        &holder,
        &sealed,
        &masked,
        schedule,
    )
    .await?;
    crate::jobs::enqueue(
        &mut *tx,
        &super::jobs::TellPayoutMethodChanged {
            creator_id: creator.user_id,
            masked: masked.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(creator_id = %creator.user_id, "payout method changed");
    let mut conn = state.db.acquire().await?;
    let m = db::method(&mut conn, creator.user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(MethodView {
        holder: m.holder,
        masked: m.masked,
        schedule: m.schedule,
        updated_at: m.updated_at,
    })
}

/// Changes only when payouts are requested automatically (no bank details change).
pub async fn set_schedule(
    state: &AppState,
    user: Uuid,
    schedule: PayoutSchedule,
) -> Result<(), AppError> {
    let creator = creator_of(state, user).await?;
    let mut conn = state.db.acquire().await?;
    if db::set_schedule(&mut conn, creator.user_id, schedule).await? {
        Ok(())
    } else {
        Err(AppError::field(
            "method",
            "is not set: add the bank account to pay you to first",
        ))
    }
}

/// A tax profile as received.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewTaxProfile {
    /// Legal name (a person's or a company's).
    pub legal_name: String,
    /// ISO 3166-1 alpha-2 country of tax residence.
    pub country: String,
    /// Tax identification number (VAT number, TIN, SSN…).
    pub tax_id: String,
}

/// Sets the caller's tax profile (the tax id sealed).
pub async fn set_tax_profile(
    state: &AppState,
    user: Uuid,
    input: &NewTaxProfile,
) -> Result<TaxProfileView, AppError> {
    let creator = creator_of(state, user).await?;
    let mut check = FieldCheck::default();
    let legal_name = check.text("legal_name", &input.legal_name, 140, true);
    let country = input.country.trim().to_ascii_uppercase();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        check.add(
            "country",
            "must be a two-letter country code (ISO 3166), e.g. DE",
        );
    }
    let tax_id: String = input
        .tax_id
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if !(4..=30).contains(&tax_id.len())
        || !tax_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-./".contains(&b))
    {
        check.add(
            "tax_id",
            "must be 4 to 30 letters and digits (dashes, dots and slashes allowed)",
        );
    }
    check.finish()?;
    let Some(legal_name) = legal_name else {
        return Err(AppError::BadRequest("invalid tax profile".into()));
    };
    let sealed = state
        .data_key()?
        .seal(creator.user_id.as_bytes(), tax_id.as_bytes());
    let masked = format!("•••{}", &tax_id[tax_id.len().saturating_sub(3)..]);
    let mut conn = state.db.acquire().await?;
    db::set_tax_profile(
        &mut conn,
        creator.user_id,
        &legal_name,
        &country,
        &sealed,
        &masked,
    )
    .await?;
    Ok(TaxProfileView {
        legal_name,
        country,
        tax_id_masked: masked,
    })
}

/// A batch as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchView {
    /// Id.
    pub id: Uuid,
    /// Currency.
    pub currency: String,
    /// Open (being paid at the bank) or paid.
    pub status: BatchStatus,
    /// Payouts in it.
    pub count: i64,
    /// Their sum.
    pub total_minor: i64,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Marked paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<db::BatchRow> for BatchView {
    fn from(b: db::BatchRow) -> BatchView {
        BatchView {
            id: b.id,
            currency: b.currency,
            status: b.status,
            count: b.count,
            total_minor: b.total_minor,
            created_at: b.created_at,
            paid_at: b.paid_at,
        }
    }
}

/// A request waiting for a batch, as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitingView {
    /// The request.
    pub id: Uuid,
    /// The creator's handle.
    pub handle: String,
    /// Currency.
    pub currency: String,
    /// Amount.
    pub amount_minor: i64,
    /// Made by a schedule.
    pub automatic: bool,
    /// Made.
    pub created_at: DateTime<Utc>,
}

/// The operator's view: requests waiting, and the latest batches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Operator {
    /// Waiting for a batch, per currency, oldest first.
    pub waiting: Vec<WaitingView>,
    /// Newest first.
    pub batches: Vec<BatchView>,
}

/// What an operator sees.
pub async fn operator(state: &AppState) -> Result<Operator, AppError> {
    let mut conn = state.db.acquire().await?;
    let waiting = db::waiting_requests(&mut conn)
        .await?
        .into_iter()
        .map(|(r, handle)| WaitingView {
            id: r.id,
            handle,
            currency: r.currency,
            amount_minor: r.amount_minor,
            automatic: r.automatic,
            created_at: r.created_at,
        })
        .collect();
    let batches = db::batches(&mut conn, 50)
        .await?
        .into_iter()
        .map(BatchView::from)
        .collect();
    Ok(Operator { waiting, batches })
}

/// Makes a batch of every request waiting in `currency`. A request is re-checked against
/// the creator's balance now (a refund or chargeback since it was made may have taken
/// money back): it is paid at most what is payable now, and left waiting when that is
/// below `PAYOUT_MIN`.
pub async fn make_batch(state: &AppState, by: Uuid, currency: &str) -> Result<BatchView, AppError> {
    let currency = currency.trim().to_ascii_uppercase();
    if !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(AppError::field(
            "currency",
            "must be a currency code like EUR",
        ));
    }
    let min = i64::from(state.settings.billing.payout_min);
    let mut tx = state.db.begin().await?;
    let waiting = db::lock_waiting(&mut tx, &currency).await?;
    if waiting.is_empty() {
        return Err(AppError::field(
            "currency",
            format!("has no payout requests waiting in {currency}"),
        ));
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    db::insert_batch(&mut tx, id, &currency, by).await?;
    let mut taken = 0;
    for (request, creator, amount) in waiting {
        let balance = balances_at(state, &mut tx, creator, now)
            .await?
            .into_iter()
            .find(|b| b.currency == currency);
        // Payable now: available as if this request were not there.
        let payable = balance.map_or(0, |b| b.available_minor + amount);
        let pay = amount.min(payable);
        if pay < min {
            tracing::warn!(%request, %creator, amount, payable, "payout request left waiting: the balance fell below the minimum");
            continue;
        }
        if db::batch_request(&mut tx, request, id, pay).await? {
            taken += 1;
        }
    }
    if taken == 0 {
        return Err(AppError::Conflict(
            "no waiting request is payable now (balances fell below the minimum, or no payout method)".into(),
        ));
    }
    tx.commit().await?;
    tracing::info!(batch_id = %id, %currency, payouts = taken, "payout batch made");
    let mut conn = state.db.acquire().await?;
    db::batches(&mut conn, 50)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .map(BatchView::from)
        .ok_or(AppError::NotFound)
}

/// Marks a batch paid: each payout becomes `payout` ledger entries (split across the rails
/// its money was held on), once. 409 when already paid.
pub async fn mark_paid(state: &AppState, batch: Uuid) -> Result<BatchView, AppError> {
    let rails = rails(state);
    let mut tx = state.db.begin().await?;
    let (currency, status) = db::batch(&mut tx, batch, true)
        .await?
        .ok_or(AppError::NotFound)?;
    if status == BatchStatus::Paid {
        return Err(AppError::Conflict(
            "this batch is already marked paid".into(),
        ));
    }
    let at = Utc::now();
    for line in db::batch_lines(&mut tx, batch).await? {
        let by_rail = db::held_by_rail(&mut tx, line.creator_id, &currency, &rails).await?;
        let source = line.id.to_string();
        for (provider, part) in split(line.amount_minor, &by_rail) {
            let provider = Provider::parse(&provider)
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown rail {provider}")))?;
            db::append(
                &mut tx,
                &Entry {
                    creator_id: line.creator_id,
                    kind: EntryKind::Payout,
                    provider,
                    source_id: &source,
                    payment_id: None,
                    fan_id: None,
                    post_id: None,
                    subscription_id: None,
                    currency: &currency,
                    gross_minor: -part,
                    platform_fee_minor: 0,
                    held: true,
                    occurred_at: at,
                },
            )
            .await?;
        }
    }
    db::mark_paid(&mut tx, batch).await?;
    tx.commit().await?;
    tracing::info!(batch_id = %batch, "payout batch marked paid");
    let mut conn = state.db.acquire().await?;
    db::batches(&mut conn, 50)
        .await?
        .into_iter()
        .find(|b| b.id == batch)
        .map(BatchView::from)
        .ok_or(AppError::NotFound)
}

/// Splits a payout across the rails its money was held on: each rail's positive held sum
/// first (largest first), anything left on the first rail. Every part is positive and the
/// parts add up to `amount`.
pub(super) fn split(amount: i64, by_rail: &[(String, i64)]) -> Vec<(String, i64)> {
    let mut left = amount;
    let mut parts: Vec<(String, i64)> = Vec::new();
    for (rail, held) in by_rail {
        if left == 0 {
            break;
        }
        let take = (*held).min(left);
        if take > 0 {
            parts.push((rail.clone(), take));
            left -= take;
        }
    }
    if left > 0 {
        match parts.first_mut() {
            Some(first) => first.1 += left,
            None => {
                let rail = by_rail
                    .first()
                    .map_or_else(|| Provider::Ccbill.as_str().to_owned(), |r| r.0.clone());
                parts.push((rail, left));
            }
        }
    }
    parts
}

/// Requests payouts for creators whose schedule is due (weekly: none automatic in the
/// last 7 days; monthly: none since the start of this month): everything available, when
/// it reaches `PAYOUT_MIN`, in each currency.
pub async fn run_schedules(state: &AppState) -> Result<u32, AppError> {
    let mut conn = state.db.acquire().await?;
    let today = Utc::now();
    let month_start = Utc
        .with_ymd_and_hms(today.year(), today.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(today);
    let due = db::due_schedules(&mut conn, today - Span::days(7), month_start).await?;
    let now = today;
    let min = i64::from(state.settings.billing.payout_min);
    let mut made = 0;
    for creator in due {
        let balances = balances_at(state, &mut conn, creator, now).await?;
        for b in balances
            .iter()
            .filter(|b| b.available_minor >= min && b.requested_minor == 0)
        {
            let input = NewRequest {
                currency: Some(b.currency.clone()),
                amount_minor: None,
            };
            match request(state, creator, &input, true).await {
                Ok(_) => made += 1,
                Err(AppError::Validation(_) | AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(made)
}

/// The local test clock moves payout holds forward by `days` (the simulated rail's clock).
pub(super) async fn advance_clock(state: &AppState, days: i64) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    db::advance_clock(&mut conn, days * 86_400).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_checked_by_their_check_digits() {
        assert_eq!(
            iban("de89 3704 0044 0532 0130 00").unwrap(),
            "DE89370400440532013000"
        );
        assert_eq!(
            iban("GB82WEST12345698765432").unwrap(),
            "GB82WEST12345698765432"
        );
        assert_eq!(
            iban("FR1420041010050500013M02606").unwrap(),
            "FR1420041010050500013M02606"
        );
        for bad in [
            "",
            "DE88370400440532013000",
            "DE89 3704",
            "1234567890123456",
            "DE89-3704-0044-0532-0130-00",
        ] {
            assert!(iban(bad).is_err(), "{bad}");
        }
        assert_eq!(mask_iban("DE89370400440532013000"), "DE •••• 3000");
        assert_eq!(bic("deutdeff").unwrap(), "DEUTDEFF");
        assert_eq!(bic("DEUTDEFF500").unwrap(), "DEUTDEFF500");
        assert_eq!(bic("").unwrap(), "");
        assert!(bic("DEUT").is_err());
        assert!(bic("12UTDEFF").is_err());
    }

    #[test]
    fn a_payout_is_split_across_the_rails_it_was_held_on_and_adds_up() {
        let rails = |v: &[(&str, i64)]| {
            v.iter()
                .map(|(r, h)| ((*r).to_owned(), *h))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            split(5000, &rails(&[("ccbill", 8000), ("simulated", 1000)])),
            rails(&[("ccbill", 5000)])
        );
        assert_eq!(
            split(8500, &rails(&[("ccbill", 8000), ("simulated", 1000)])),
            rails(&[("ccbill", 8000), ("simulated", 500)])
        );
        // A rail in the red takes nothing; what is left goes to the first rail.
        assert_eq!(
            split(3000, &rails(&[("ccbill", 2000), ("simulated", -500)])),
            rails(&[("ccbill", 3000)])
        );
        assert_eq!(split(100, &rails(&[])), rails(&[("ccbill", 100)]));
    }
}
