//! The append-only ledger of creators' earnings: entries, the payment a reversal belongs
//! to, what a reversal withdraws, and the sums creators read.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::super::types::{Balance, EntryKind, PaymentStatus, Provider, Transaction};

/// A ledger entry to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Whose.
    pub creator_id: Uuid,
    /// What it records.
    pub kind: EntryKind,
    /// The rail.
    pub provider: Provider,
    /// The recorded object.
    pub source_id: &'a str,
    /// Its payment.
    pub payment_id: Option<&'a str>,
    /// Who paid.
    pub fan_id: Option<Uuid>,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// The subscription paid.
    pub subscription_id: Option<Uuid>,
    /// Currency.
    pub currency: &'a str,
    /// Gross (negative for money going back).
    pub gross_minor: i64,
    /// The platform's part of it.
    pub platform_fee_minor: i64,
    /// The platform holds it for the creator (it did not go to their account at the rail).
    pub held: bool,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Appends an entry; `false` when that source was already recorded.
pub async fn append(conn: &mut PgConnection, e: &Entry<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"insert into ledger_entries (creator_id, kind, provider, source_id, payment_id, fan_id, post_id,
                                       subscription_id, currency, gross_minor, platform_fee_minor, net_minor,
                                       occurred_at, held)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::bigint, $10::bigint - $11::bigint, $12, $13)
           on conflict (provider, kind, source_id) do nothing
           returning true as "inserted!""#,
        e.creator_id,
        e.kind.as_str(),
        e.provider.as_str(),
        e.source_id,
        e.payment_id,
        e.fan_id,
        e.post_id,
        e.subscription_id,
        e.currency,
        e.gross_minor,
        e.platform_fee_minor,
        e.occurred_at,
        e.held
    )
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// The money-in entry of a payment (charge or payment intent ids), with what went back
/// already.
#[derive(Debug, Clone)]
pub struct Paid {
    /// Kind of the original entry (money in).
    pub kind: EntryKind,
    /// Creator.
    pub creator_id: Uuid,
    /// Fan.
    pub fan_id: Option<Uuid>,
    /// Post.
    pub post_id: Option<Uuid>,
    /// Subscription.
    pub subscription_id: Option<Uuid>,
    /// The payment id as recorded.
    pub payment_id: String,
    /// Paid.
    pub gross_minor: i64,
    /// Currency.
    pub currency: String,
    /// Refunded so far (positive).
    pub refunded_minor: i64,
    /// The platform holds its money (so it holds what goes back of it too).
    pub held: bool,
}

/// Finds the payment among `ids` (a charge and its payment intent).
pub async fn paid_entry(
    conn: &mut PgConnection,
    provider: Provider,
    ids: &[String],
) -> Result<Option<Paid>, sqlx::Error> {
    sqlx::query_as!(
        Paid,
        r#"select e.kind as "kind: EntryKind", e.creator_id, e.fan_id, e.post_id, e.subscription_id,
                  e.payment_id as "payment_id!", e.gross_minor, e.currency,
                  coalesce((select -sum(r.gross_minor) from ledger_entries r
                            where r.provider = e.provider and r.payment_id = e.payment_id
                              and r.kind = 'refund'), 0)::bigint as "refunded_minor!",
                  e.held
           from ledger_entries e
           where e.provider = $1 and e.payment_id = any($2) and e.kind in ('subscription', 'ppv', 'tip', 'message')
           order by e.id
           limit 1"#,
        provider.as_str(),
        ids
    )
    .fetch_optional(conn)
    .await
}

/// The latest money-in entry of a rail's subscription (its last payment), with what went
/// back already: what a reversal naming only the subscription reverses.
pub async fn latest_paid_of_subscription(
    conn: &mut PgConnection,
    provider: Provider,
    subscription: &str,
) -> Result<Option<Paid>, sqlx::Error> {
    let payment = sqlx::query_scalar!(
        r#"select e.payment_id as "payment_id!" from ledger_entries e
           join subscriptions s on s.id = e.subscription_id
           where e.provider = $1 and s.provider = $1 and s.provider_subscription_id = $2
             and e.kind = 'subscription' and e.payment_id is not null
           order by e.occurred_at desc, e.id desc
           limit 1"#,
        provider.as_str(),
        subscription
    )
    .fetch_optional(&mut *conn)
    .await?;
    match payment {
        Some(p) => paid_entry(conn, provider, &[p]).await,
        None => Ok(None),
    }
}

/// Whether money of this payment already went back (refund or dispute recorded).
pub async fn payment_reversed(
    conn: &mut PgConnection,
    provider: Provider,
    payment: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from ledger_entries
                          where provider = $1 and payment_id = $2 and kind in ('refund', 'dispute'))
           as "reversed!""#,
        provider.as_str(),
        payment
    )
    .fetch_one(conn)
    .await
}

/// Withdraws what a reversed payment paid for: the purchase or tip is marked `status`
/// (refunded or disputed); a subscription loses its access.
pub async fn withdraw(
    conn: &mut PgConnection,
    provider: Provider,
    p: &Paid,
    status: PaymentStatus,
) -> Result<(), sqlx::Error> {
    match p.kind {
        EntryKind::Ppv => {
            sqlx::query!(
                "update post_purchases set status = $3 where provider = $1 and payment_id = $2",
                provider.as_str(),
                p.payment_id,
                status.as_str()
            )
            .execute(conn)
            .await?;
        }
        EntryKind::Message => {
            sqlx::query!(
                "update message_purchases set status = $3 where provider = $1 and payment_id = $2",
                provider.as_str(),
                p.payment_id,
                status.as_str()
            )
            .execute(conn)
            .await?;
        }
        EntryKind::Tip => {
            sqlx::query!(
                "update tips set status = $3 where provider = $1 and payment_id = $2",
                provider.as_str(),
                p.payment_id,
                status.as_str()
            )
            .execute(conn)
            .await?;
        }
        EntryKind::Subscription
        | EntryKind::Refund
        | EntryKind::Dispute
        | EntryKind::Transfer
        | EntryKind::Payout => {
            sqlx::query!(
                "update subscriptions set revoked_at = coalesce(revoked_at, now()) where id = $1",
                p.subscription_id
            )
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Money per period and currency.
#[derive(Debug, Clone)]
pub struct Period {
    /// Start of the day or month (UTC).
    pub period: DateTime<Utc>,
    /// Currency.
    pub currency: String,
    /// Gross.
    pub gross_minor: i64,
    /// Platform fees.
    pub platform_fee_minor: i64,
    /// Net.
    pub net_minor: i64,
}

/// A creator's earnings per `unit` (`day` or `month`) since `since` (transfers and payouts
/// move money, they are not earned).
pub async fn earnings_by(
    conn: &mut PgConnection,
    creator: Uuid,
    unit: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Period>, sqlx::Error> {
    sqlx::query_as!(
        Period,
        r#"select date_trunc($2, occurred_at, 'UTC') as "period!", currency,
                  sum(gross_minor)::bigint as "gross_minor!", sum(platform_fee_minor)::bigint as "platform_fee_minor!",
                  sum(net_minor)::bigint as "net_minor!"
           from ledger_entries
           where creator_id = $1 and occurred_at >= $3 and kind not in ('transfer', 'payout')
           group by 1, 2
           order by 1 desc, 2"#,
        creator,
        unit,
        since
    )
    .fetch_all(conn)
    .await
}

/// A creator's money per currency: earned (every entry but transfers and payouts), paid to
/// their account (entries not held, and transfers), paid out (payouts), owed (the sum of
/// held entries).
pub async fn balances(conn: &mut PgConnection, creator: Uuid) -> Result<Vec<Balance>, sqlx::Error> {
    sqlx::query_as!(
        Balance,
        r#"select currency,
                  coalesce(sum(net_minor) filter (where kind not in ('transfer', 'payout')), 0)::bigint as "earned_minor!",
                  (coalesce(sum(net_minor) filter (where not held), 0)
                   - coalesce(sum(net_minor) filter (where kind = 'transfer'), 0))::bigint as "paid_to_account_minor!",
                  (-coalesce(sum(net_minor) filter (where kind = 'payout'), 0))::bigint as "paid_out_minor!",
                  coalesce(sum(net_minor) filter (where held), 0)::bigint as "owed_minor!"
           from ledger_entries
           where creator_id = $1 group by currency order by currency"#,
        creator
    )
    .fetch_all(conn)
    .await
}

/// What the platform holds for `creator` on `provider` and may transfer now, per currency:
/// the sum of held entries, where it is positive, no transfer in that currency is in
/// flight (its entry is not recorded yet, so the sum does not show it), and no payout of
/// it by bank is requested (ADR 0023: after `SPLIT_PAYMENTS` changed, the two paths must
/// not both pay the same money).
pub async fn transferable(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
) -> Result<Vec<crate::money::Money>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.currency, sum(e.net_minor)::bigint as "owed!"
           from ledger_entries e
           where e.creator_id = $1 and e.provider = $2 and e.held
             and not exists (select 1 from creator_transfers t
                             where t.creator_id = e.creator_id and t.provider = e.provider
                               and t.currency = e.currency and t.status <> 'recorded')
             and not exists (select 1 from payout_requests r
                             where r.creator_id = e.creator_id and r.currency = e.currency
                               and r.status in ('requested', 'batched'))
           group by e.currency
           having sum(e.net_minor) > 0
           order by e.currency"#,
        creator,
        provider.as_str()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| crate::money::Money::new(r.owed, r.currency))
        .collect())
}

/// A creator's latest entries.
pub async fn recent(
    conn: &mut PgConnection,
    creator: Uuid,
    limit: i64,
) -> Result<Vec<Transaction>, sqlx::Error> {
    sqlx::query_as!(
        Transaction,
        r#"select e.kind as "kind: EntryKind", e.gross_minor, e.platform_fee_minor, e.processor_fee_minor, e.net_minor, e.currency,
                  e.post_id, u.display_name as "fan_name?", t.message as "message?", e.occurred_at
           from ledger_entries e
           left join users u on u.id = e.fan_id and u.deleted_at is null
           left join tips t on e.kind = 'tip' and t.provider = e.provider and t.payment_id = e.payment_id
           where e.creator_id = $1
           order by e.occurred_at desc, e.id desc
           limit $2"#,
        creator,
        limit
    )
    .fetch_all(conn)
    .await
}
