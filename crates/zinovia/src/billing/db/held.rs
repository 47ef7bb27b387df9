//! Platform-held payouts (ADR 0023): what the platform holds per creator and currency
//! (pending, available, requested, paid out), payout methods and tax profiles (sealed),
//! payout requests and the batches an operator pays.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::super::types::{BatchStatus, PayoutSchedule, RequestStatus};

/// Moves the payout clock forward (the simulated rail's test clock): what was recorded
/// before now ages by `seconds`.
pub async fn advance_clock(conn: &mut PgConnection, seconds: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into payout_clock_moves (seconds) values ($1)",
        seconds
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When a held sale becomes available: its hold, from the creator's start.
#[derive(Debug, Clone, Copy)]
pub struct Holds {
    /// `PAYOUT_HOLD`, seconds.
    pub hold: i64,
    /// `PAYOUT_HOLD_NEW_CREATOR`, seconds.
    pub new_creator_hold: i64,
    /// `PAYOUT_NEW_CREATOR_PERIOD`, seconds.
    pub new_creator_period: i64,
    /// Now.
    pub now: DateTime<Utc>,
}

/// What the platform holds for a creator in one currency, on the rails it pays out itself.
#[derive(Debug, Clone)]
pub struct HeldRow {
    /// Currency.
    pub currency: String,
    /// The sum of the held entries (pending + available + requested).
    pub held_minor: i64,
    /// Sales still in their hold (less what of them went back already).
    pub pending_minor: i64,
    /// In payout requests not paid yet.
    pub requested_minor: i64,
    /// Paid to the creator's bank (payout entries).
    pub paid_out_minor: i64,
}

/// A creator's held money per currency on `rails` (every currency with an entry or a
/// request there).
pub async fn held(
    conn: &mut PgConnection,
    creator: Uuid,
    rails: &[String],
    h: Holds,
) -> Result<Vec<HeldRow>, sqlx::Error> {
    sqlx::query_as!(
        HeldRow,
        r#"with held as (
               select e.* , c.created_at as creator_since
               from ledger_entries e join creators c on c.user_id = e.creator_id
               where e.creator_id = $1 and e.held and e.provider = any($2)
           ),
           pending as (
               select e.currency,
                      greatest(e.net_minor + coalesce((select sum(r.net_minor) from ledger_entries r
                                                       where r.provider = e.provider and r.payment_id = e.payment_id
                                                         and r.kind in ('refund', 'dispute')), 0), 0) as amount
               from held e
               where e.kind in ('subscription', 'ppv', 'tip', 'message')
                 and e.occurred_at + make_interval(secs => case
                         when e.occurred_at < e.creator_since + make_interval(secs => $5::float8) then $4::float8
                         else $3::float8 end)
                     > $6::timestamptz + make_interval(secs => (select coalesce(sum(m.seconds), 0)::float8
                                                   from payout_clock_moves m where m.moved_at > e.recorded_at))
           ),
           requested as (
               select currency, amount_minor from payout_requests
               where creator_id = $1 and status in ('requested', 'batched')
               -- A transfer to the creator's account at the rail not recorded yet (made
               -- before SPLIT_PAYMENTS changed) is money on its way too.
               union all
               select currency, amount_minor from creator_transfers
               where creator_id = $1 and status <> 'recorded' and provider = any($2)
           ),
           currencies as (
               select currency from held union select currency from requested
           )
           select c.currency as "currency!",
                  coalesce((select sum(net_minor) from held where held.currency = c.currency), 0)::bigint as "held_minor!",
                  coalesce((select sum(amount) from pending where pending.currency = c.currency), 0)::bigint as "pending_minor!",
                  coalesce((select sum(amount_minor) from requested where requested.currency = c.currency), 0)::bigint as "requested_minor!",
                  (-coalesce((select sum(net_minor) from held where held.currency = c.currency and kind = 'payout'), 0))::bigint as "paid_out_minor!"
           from currencies c
           order by c.currency"#,
        creator,
        rails,
        h.hold as f64,
        h.new_creator_hold as f64,
        h.new_creator_period as f64,
        h.now
    )
    .fetch_all(conn)
    .await
}

/// A creator's held money per rail in one currency (what a payout is split across).
pub async fn held_by_rail(
    conn: &mut PgConnection,
    creator: Uuid,
    currency: &str,
    rails: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select provider, sum(net_minor)::bigint as "held!" from ledger_entries
           where creator_id = $1 and currency = $2 and held and provider = any($3)
           group by provider order by 2 desc, 1"#,
        creator,
        currency,
        rails
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.provider, r.held)).collect())
}

/// A creator's payout method, sealed.
#[derive(Debug, Clone)]
pub struct MethodRow {
    /// Account holder.
    pub holder: String,
    /// As shown.
    pub masked: String,
    /// Automatic requests.
    pub schedule: PayoutSchedule,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The creator's payout method.
pub async fn method(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<Option<MethodRow>, sqlx::Error> {
    sqlx::query_as!(
        MethodRow,
        r#"select holder, masked, schedule as "schedule: PayoutSchedule", updated_at
           from payout_methods where creator_id = $1"#,
        creator
    )
    .fetch_optional(conn)
    .await
}

/// Sets the creator's payout method.
pub async fn set_method(
    conn: &mut PgConnection,
    creator: Uuid,
    holder: &str,
    details: &[u8],
    masked: &str,
    schedule: PayoutSchedule,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into payout_methods (creator_id, holder, details, masked, schedule)
         values ($1, $2, $3, $4, $5)
         on conflict (creator_id) do update
         set holder = excluded.holder, details = excluded.details, masked = excluded.masked,
             schedule = excluded.schedule",
        creator,
        holder,
        details,
        masked,
        schedule.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets only the schedule (no change of bank details).
pub async fn set_schedule(
    conn: &mut PgConnection,
    creator: Uuid,
    schedule: PayoutSchedule,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update payout_methods set schedule = $2 where creator_id = $1",
        creator,
        schedule.as_str()
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A creator's tax profile, sealed.
#[derive(Debug, Clone)]
pub struct TaxRow {
    /// Legal name.
    pub legal_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// As shown.
    pub tax_id_masked: String,
}

/// The creator's tax profile.
pub async fn tax_profile(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<Option<TaxRow>, sqlx::Error> {
    sqlx::query_as!(
        TaxRow,
        "select legal_name, country, tax_id_masked from tax_profiles where creator_id = $1",
        creator
    )
    .fetch_optional(conn)
    .await
}

/// Sets the creator's tax profile.
pub async fn set_tax_profile(
    conn: &mut PgConnection,
    creator: Uuid,
    legal_name: &str,
    country: &str,
    tax_id: &[u8],
    masked: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into tax_profiles (creator_id, legal_name, country, tax_id, tax_id_masked)
         values ($1, $2, $3, $4, $5)
         on conflict (creator_id) do update
         set legal_name = excluded.legal_name, country = excluded.country,
             tax_id = excluded.tax_id, tax_id_masked = excluded.tax_id_masked",
        creator,
        legal_name,
        country,
        tax_id,
        masked
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the creator's payout requests (their creator row) while one is decided.
pub async fn lock_creator(conn: &mut PgConnection, creator: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "select true as \"x!\" from creators where user_id = $1 for update",
        creator
    )
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Writes a payout request; `false` when one in that currency is not paid yet.
pub async fn insert_request(
    conn: &mut PgConnection,
    id: Uuid,
    creator: Uuid,
    currency: &str,
    amount: i64,
    automatic: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "insert into payout_requests (id, creator_id, currency, amount_minor, automatic)
         values ($1, $2, $3, $4, $5)
         on conflict (creator_id, currency) where status in ('requested', 'batched') do nothing",
        id,
        creator,
        currency,
        amount,
        automatic
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Cancels a creator's request that is not in a batch yet.
pub async fn cancel_request(
    conn: &mut PgConnection,
    creator: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update payout_requests set status = 'canceled'
         where id = $1 and creator_id = $2 and status = 'requested'",
        id,
        creator
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A payout request.
#[derive(Debug, Clone)]
pub struct RequestRow {
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
    /// Last changed (paid).
    pub updated_at: DateTime<Utc>,
}

/// A creator's requests, newest first.
pub async fn requests_of(
    conn: &mut PgConnection,
    creator: Uuid,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as!(
        RequestRow,
        r#"select id, currency, amount_minor, status as "status: RequestStatus", automatic,
                  created_at, updated_at
           from payout_requests where creator_id = $1
           order by created_at desc, id desc limit $2"#,
        creator,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Requests waiting for a batch, per currency, oldest first (with the creator's handle).
pub async fn waiting_requests(
    conn: &mut PgConnection,
) -> Result<Vec<(RequestRow, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select r.id, r.currency, r.amount_minor, r.status as "status: RequestStatus",
                  r.automatic, r.created_at, r.updated_at, c.handle
           from payout_requests r join creators c on c.user_id = r.creator_id
           where r.status = 'requested'
           order by r.currency, r.created_at, r.id"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                RequestRow {
                    id: r.id,
                    currency: r.currency,
                    amount_minor: r.amount_minor,
                    status: r.status,
                    automatic: r.automatic,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                },
                r.handle,
            )
        })
        .collect())
}

/// The requests of `currency` waiting for a batch, locked (a second batch made at the
/// same time skips them).
pub async fn lock_waiting(
    conn: &mut PgConnection,
    currency: &str,
) -> Result<Vec<(Uuid, Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select r.id, r.creator_id, r.amount_minor from payout_requests r
         where r.status = 'requested' and r.currency = $1
           and not exists (select 1 from users u where u.id = r.creator_id and u.suspended_at is not null)
         order by r.created_at, r.id
         for update of r skip locked",
        currency
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.creator_id, r.amount_minor))
        .collect())
}

/// Writes a batch.
pub async fn insert_batch(
    conn: &mut PgConnection,
    id: Uuid,
    currency: &str,
    by: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into payout_batches (id, currency, created_by) values ($1, $2, $3)",
        id,
        currency,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a request into a batch with the payout method as it is now (sealed to the
/// creator, as stored), at `amount`.
pub async fn batch_request(
    conn: &mut PgConnection,
    request: Uuid,
    batch: Uuid,
    amount: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "update payout_requests r
         set status = 'batched', batch_id = $2, amount_minor = $3, holder = m.holder, details = m.details
         from payout_methods m
         where r.id = $1 and m.creator_id = r.creator_id and r.status = 'requested'",
        request,
        batch,
        amount
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A payout batch.
#[derive(Debug, Clone)]
pub struct BatchRow {
    /// Id.
    pub id: Uuid,
    /// Currency.
    pub currency: String,
    /// Open or paid.
    pub status: BatchStatus,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Marked paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Payouts in it.
    pub count: i64,
    /// Their sum.
    pub total_minor: i64,
}

/// Batches, newest first.
pub async fn batches(conn: &mut PgConnection, limit: i64) -> Result<Vec<BatchRow>, sqlx::Error> {
    sqlx::query_as!(
        BatchRow,
        r#"select b.id, b.currency, b.status as "status: BatchStatus", b.created_at, b.paid_at,
                  count(r.id) as "count!", coalesce(sum(r.amount_minor), 0)::bigint as "total_minor!"
           from payout_batches b left join payout_requests r on r.batch_id = b.id
           group by b.id
           order by b.created_at desc, b.id desc limit $1"#,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One batch, locked when `lock`.
pub async fn batch(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<(String, BatchStatus)>, sqlx::Error> {
    let row = if lock {
        sqlx::query!(
            r#"select currency, status as "status: BatchStatus" from payout_batches where id = $1 for update"#,
            id
        )
        .fetch_optional(conn)
        .await?
        .map(|r| (r.currency, r.status))
    } else {
        sqlx::query!(
            r#"select currency, status as "status: BatchStatus" from payout_batches where id = $1"#,
            id
        )
        .fetch_optional(conn)
        .await?
        .map(|r| (r.currency, r.status))
    };
    Ok(row)
}

/// A payout in a batch, for the bank file.
#[derive(Debug, Clone)]
pub struct BatchLine {
    /// The request.
    pub id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// Their handle.
    pub handle: String,
    /// Amount.
    pub amount_minor: i64,
    /// Account holder.
    pub holder: String,
    /// Sealed details (to the creator).
    pub details: Vec<u8>,
}

/// A batch's payouts.
pub async fn batch_lines(
    conn: &mut PgConnection,
    batch: Uuid,
) -> Result<Vec<BatchLine>, sqlx::Error> {
    sqlx::query_as!(
        BatchLine,
        r#"select r.id, r.creator_id, c.handle, r.amount_minor, r.holder as "holder!", r.details as "details!"
           from payout_requests r join creators c on c.user_id = r.creator_id
           where r.batch_id = $1
           order by r.created_at, r.id"#,
        batch
    )
    .fetch_all(conn)
    .await
}

/// Marks a batch and its payouts paid.
pub async fn mark_paid(conn: &mut PgConnection, batch: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payout_requests set status = 'paid' where batch_id = $1 and status = 'batched'",
        batch
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update payout_batches set status = 'paid', paid_at = now() where id = $1",
        batch
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Creators with an automatic schedule and no automatic request made since `weekly_since`
/// (weekly) or `monthly_since` (monthly). One run requests every currency that is ready;
/// a currency that becomes ready later in the period waits for the next one.
pub async fn due_schedules(
    conn: &mut PgConnection,
    weekly_since: DateTime<Utc>,
    monthly_since: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select m.creator_id from payout_methods m
           where (m.schedule = 'weekly' and not exists (
                     select 1 from payout_requests r where r.creator_id = m.creator_id
                       and r.automatic and r.created_at >= $1))
              or (m.schedule = 'monthly' and not exists (
                     select 1 from payout_requests r where r.creator_id = m.creator_id
                       and r.automatic and r.created_at >= $2))
           order by m.creator_id"#,
        weekly_since,
        monthly_since
    )
    .fetch_all(conn)
    .await
}

/// A creator's ledger entries in `[from, to)`, oldest first, for statements.
#[derive(Debug, Clone)]
pub struct StatementLine {
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Kind.
    pub kind: super::super::types::EntryKind,
    /// Rail.
    pub provider: String,
    /// The rail's object.
    pub source_id: String,
    /// Currency.
    pub currency: String,
    /// Gross.
    pub gross_minor: i64,
    /// Platform fee.
    pub platform_fee_minor: i64,
    /// Processor fee.
    pub processor_fee_minor: Option<i64>,
    /// Net.
    pub net_minor: i64,
    /// Held by the platform.
    pub held: bool,
}

/// The statement lines of `creator` in `[from, to)`.
pub async fn statement(
    conn: &mut PgConnection,
    creator: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<StatementLine>, sqlx::Error> {
    sqlx::query_as!(
        StatementLine,
        r#"select occurred_at, kind as "kind: super::super::types::EntryKind", provider, source_id, currency,
                  gross_minor, platform_fee_minor, processor_fee_minor, net_minor, held
           from ledger_entries
           where creator_id = $1 and occurred_at >= $2 and occurred_at < $3
           order by occurred_at, id"#,
        creator,
        from,
        to
    )
    .fetch_all(conn)
    .await
}

/// Creators whose gross sales (money in, before refunds) in `[from, to)` reach
/// `threshold` in a currency: (creator, handle, currency, gross, sales, tax profile).
#[derive(Debug, Clone)]
pub struct ReportRow {
    /// Creator.
    pub creator_id: Uuid,
    /// Handle.
    pub handle: String,
    /// Currency.
    pub currency: String,
    /// Gross sales.
    pub gross_minor: i64,
    /// Number of sales.
    pub sales: i64,
    /// Net after refunds and fees.
    pub net_minor: i64,
    /// From the tax profile.
    pub legal_name: Option<String>,
    /// From the tax profile.
    pub country: Option<String>,
    /// Sealed tax id.
    pub tax_id: Option<Vec<u8>>,
}

/// The operator's tax report rows.
pub async fn report(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    threshold: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as!(
        ReportRow,
        r#"select e.creator_id, c.handle, e.currency,
                  coalesce(sum(e.gross_minor) filter (where e.kind in ('subscription', 'ppv', 'tip', 'message')), 0)::bigint as "gross_minor!",
                  count(*) filter (where e.kind in ('subscription', 'ppv', 'tip', 'message') and e.gross_minor > 0) as "sales!",
                  coalesce(sum(e.net_minor) filter (where e.kind not in ('transfer', 'payout')), 0)::bigint as "net_minor!",
                  t.legal_name as "legal_name?", t.country as "country?", t.tax_id as "tax_id?"
           from ledger_entries e
           join creators c on c.user_id = e.creator_id
           left join tax_profiles t on t.creator_id = e.creator_id
           where e.occurred_at >= $1 and e.occurred_at < $2
           group by e.creator_id, c.handle, e.currency, t.legal_name, t.country, t.tax_id
           having coalesce(sum(e.gross_minor) filter (where e.kind in ('subscription', 'ppv', 'tip', 'message')), 0) >= $3::bigint
           order by e.currency, 4 desc, c.handle"#,
        from,
        to,
        threshold
    )
    .fetch_all(conn)
    .await
}
