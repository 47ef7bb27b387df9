//! Every SQL statement of payments: received events, checkouts, subscriptions as the
//! provider reports them, purchases, tips, payout accounts and the ledger.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::events::SubscriptionState;

/// Records an event; `false` when it was already recorded (a redelivery).
pub async fn record_event(
    conn: impl PgExecutor<'_>,
    provider: &str,
    event_id: &str,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"insert into billing_events (provider, event_id, event_type, payload)
           values ($1, $2, $3, $4)
           on conflict (provider, event_id) do nothing
           returning true as "inserted!""#,
        provider,
        event_id,
        event_type,
        payload
    )
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// A recorded event not yet applied, locked for this transaction.
pub async fn take_event(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select payload from billing_events
           where provider = $1 and event_id = $2 and processed_at is null
           for update"#,
        provider,
        event_id
    )
    .fetch_optional(conn)
    .await
}

/// Marks an event applied.
pub async fn event_done(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update billing_events set processed_at = now() where provider = $1 and event_id = $2",
        provider,
        event_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A checkout we started.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// Ours.
    pub id: Uuid,
    /// subscription, ppv or tip.
    pub kind: String,
    /// The fan paying.
    pub fan_id: Uuid,
    /// The creator paid.
    pub creator_id: Uuid,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// Amount.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// Tip message.
    pub message: Option<String>,
    /// open, completed, failed, expired, canceled, refused.
    pub status: String,
    /// The free trial it grants (subscriptions; 0 for a returning fan).
    pub trial_days: i32,
}

/// Finds a checkout by our id or the provider's session id, locked.
pub async fn checkout_for_update(
    conn: &mut PgConnection,
    provider: &str,
    id: Option<Uuid>,
    session_id: &str,
) -> Result<Option<Checkout>, sqlx::Error> {
    sqlx::query_as!(
        Checkout,
        r#"select id, kind, fan_id, creator_id, post_id, amount_minor, currency, message, status, trial_days
           from checkouts
           where provider = $1 and (id = $2 or session_id = $3)
           order by (id = $2) desc nulls last
           limit 1
           for update"#,
        provider,
        id,
        session_id
    )
    .fetch_optional(conn)
    .await
}

/// Sets a checkout's status (and the provider's session id when it was not known).
pub async fn set_checkout_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set status = $2, session_id = coalesce(session_id, $3) where id = $1",
        id,
        status,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Remembers a fan's customer at the provider.
pub async fn save_customer(
    conn: &mut PgConnection,
    user: Uuid,
    provider: &str,
    customer: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into billing_customers (user_id, provider, customer_id) values ($1, $2, $3)
           on conflict do nothing"#,
        user,
        provider,
        customer
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether money of this payment already went back (refund or dispute recorded).
pub async fn payment_reversed(
    conn: &mut PgConnection,
    provider: &str,
    payment: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from ledger_entries
                          where provider = $1 and payment_id = $2 and kind in ('refund', 'dispute'))
           as "reversed!""#,
        provider,
        payment
    )
    .fetch_one(conn)
    .await
}

/// A purchase paid (access granted), unless this payment was already refunded or disputed.
pub async fn purchase_paid(
    conn: &mut PgConnection,
    provider: &str,
    c: &Checkout,
    post: Uuid,
    payment: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into post_purchases (id, fan_id, post_id, amount_minor, currency, status, provider, payment_id)
           values ($1, $2, $3, $4, $5, 'paid', $6, $7)
           on conflict (fan_id, post_id) do update set status = 'paid', amount_minor = excluded.amount_minor,
             currency = excluded.currency, provider = excluded.provider, payment_id = excluded.payment_id"#,
        Uuid::now_v7(),
        c.fan_id,
        post,
        c.amount_minor,
        c.currency,
        provider,
        payment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A tip paid.
pub async fn tip_paid(
    conn: &mut PgConnection,
    provider: &str,
    c: &Checkout,
    payment: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into tips (id, fan_id, creator_id, amount_minor, currency, message, provider, payment_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           on conflict (provider, payment_id) do nothing"#,
        Uuid::now_v7(),
        c.fan_id,
        c.creator_id,
        c.amount_minor,
        c.currency,
        c.message,
        provider,
        payment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A subscription row as held.
#[derive(Debug, Clone)]
pub struct HeldSubscription {
    /// Ours.
    pub id: Uuid,
    /// Fan.
    pub fan_id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// The provider's id.
    pub provider_subscription_id: Option<String>,
}

/// The subscription row of a provider subscription.
pub async fn subscription_by_provider_id(
    conn: &mut PgConnection,
    provider: &str,
    id: &str,
) -> Result<Option<HeldSubscription>, sqlx::Error> {
    sqlx::query_as!(
        HeldSubscription,
        r#"select id, fan_id, creator_id, provider_subscription_id from subscriptions
           where provider = $1 and provider_subscription_id = $2"#,
        provider,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Applies a provider's subscription state to its own row (one per rail subscription; a
/// fan's new subscription to the same creator is a new row, history kept), if it is not
/// older than the state held: a canceled or expired subscription never comes back; at the
/// same second the later status in the lifecycle wins. Returns whether anything changed.
pub async fn apply_subscription(
    conn: &mut PgConnection,
    provider: &str,
    fan: Uuid,
    creator: Uuid,
    s: &SubscriptionState,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let period_end = s.current_period_end.unwrap_or(at);
    let price = s.price_minor.and_then(|p| i32::try_from(p).ok());
    let changed = sqlx::query_scalar!(
        r#"insert into subscriptions as s (id, fan_id, creator_id, status, current_period_end, past_due_since,
                                        cancel_at_period_end, provider, provider_subscription_id, state_at,
                                        price_minor, currency)
           values ($1, $2, $3, $4, $5, case when $4 = 'past_due' then $9::timestamptz end, $6, $7, $8, $9, $10, $11)
           on conflict (provider, provider_subscription_id) do update set
             status = excluded.status,
             current_period_end = excluded.current_period_end,
             past_due_since = case
               when excluded.status <> 'past_due' then null
               when s.status = 'past_due' then coalesce(s.past_due_since, excluded.state_at)
               else excluded.state_at end,
             cancel_at_period_end = excluded.cancel_at_period_end,
             state_at = excluded.state_at,
             price_minor = coalesce(excluded.price_minor, s.price_minor),
             currency = coalesce(excluded.currency, s.currency)
           where s.status not in ('canceled', 'incomplete_expired')
             and (s.state_at is null
                  or s.state_at < excluded.state_at
                  or (s.state_at = excluded.state_at
                      and array_position(array['incomplete', 'trialing', 'active', 'past_due', 'unpaid',
                                               'paused', 'incomplete_expired', 'canceled'], excluded.status)
                          >= array_position(array['incomplete', 'trialing', 'active', 'past_due', 'unpaid',
                                                  'paused', 'incomplete_expired', 'canceled'], s.status)))
           returning true as "changed!""#,
        Uuid::now_v7(),
        fan,
        creator,
        s.status,
        period_end,
        s.cancel_at_period_end,
        provider,
        s.id,
        at,
        price,
        s.currency
    )
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
}

/// A paid invoice extends the period it pays for and ends a past-due state it is newer
/// than.
pub async fn invoice_paid(
    conn: &mut PgConnection,
    provider: &str,
    subscription: &str,
    period_end: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update subscriptions set
             current_period_end = greatest(current_period_end, coalesce($3, current_period_end)),
             status = case when status in ('past_due', 'unpaid', 'incomplete') and state_at <= $4
                           then 'active' else status end,
             past_due_since = case when status in ('past_due', 'unpaid', 'incomplete') and state_at <= $4
                                   then null else past_due_since end,
             state_at = greatest(state_at, $4)
           where provider = $1 and provider_subscription_id = $2
             and status not in ('canceled', 'incomplete_expired')"#,
        provider,
        subscription,
        period_end,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A failed invoice puts an active subscription past due (its grace starts), unless the
/// state held is newer.
pub async fn invoice_failed(
    conn: &mut PgConnection,
    provider: &str,
    subscription: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update subscriptions set status = 'past_due', past_due_since = coalesce(past_due_since, $3),
             state_at = $3
           where provider = $1 and provider_subscription_id = $2
             and status in ('active', 'trialing') and state_at <= $3"#,
        provider,
        subscription,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A ledger entry to write.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Whose.
    pub creator_id: Uuid,
    /// subscription, ppv, tip, refund, dispute.
    pub kind: &'a str,
    /// The provider.
    pub provider: &'a str,
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
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Appends an entry; `false` when that source was already recorded.
pub async fn append(conn: &mut PgConnection, e: &Entry<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"insert into ledger_entries (creator_id, kind, provider, source_id, payment_id, fan_id, post_id,
                                       subscription_id, currency, gross_minor, platform_fee_minor, net_minor,
                                       occurred_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::bigint, $10::bigint - $11::bigint, $12)
           on conflict (provider, kind, source_id) do nothing
           returning true as "inserted!""#,
        e.creator_id,
        e.kind,
        e.provider,
        e.source_id,
        e.payment_id,
        e.fan_id,
        e.post_id,
        e.subscription_id,
        e.currency,
        e.gross_minor,
        e.platform_fee_minor,
        e.occurred_at
    )
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// The money-in entry of a payment (charge or payment intent ids), with what went back
/// already.
#[derive(Debug, Clone)]
pub struct Paid {
    /// Kind of the original entry.
    pub kind: String,
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
    /// Its fee.
    pub platform_fee_minor: i64,
    /// Currency.
    pub currency: String,
    /// Refunded so far (positive).
    pub refunded_minor: i64,
}

/// Finds the payment among `ids` (a charge and its payment intent).
pub async fn paid_entry(
    conn: &mut PgConnection,
    provider: &str,
    ids: &[String],
) -> Result<Option<Paid>, sqlx::Error> {
    sqlx::query_as!(
        Paid,
        r#"select e.kind, e.creator_id, e.fan_id, e.post_id, e.subscription_id,
                  e.payment_id as "payment_id!", e.gross_minor, e.platform_fee_minor, e.currency,
                  coalesce((select -sum(r.gross_minor) from ledger_entries r
                            where r.provider = e.provider and r.payment_id = e.payment_id
                              and r.kind = 'refund'), 0)::bigint as "refunded_minor!"
           from ledger_entries e
           where e.provider = $1 and e.payment_id = any($2) and e.kind in ('subscription', 'ppv', 'tip')
           order by e.id
           limit 1"#,
        provider,
        ids
    )
    .fetch_optional(conn)
    .await
}

/// Withdraws what a reversed payment paid for: the purchase or tip is marked `status`
/// (`refunded` or `disputed`); a subscription loses its access.
pub async fn withdraw(
    conn: &mut PgConnection,
    provider: &str,
    p: &Paid,
    status: &str,
) -> Result<(), sqlx::Error> {
    match p.kind.as_str() {
        "ppv" => {
            sqlx::query!(
                "update post_purchases set status = $3 where provider = $1 and payment_id = $2",
                provider,
                p.payment_id,
                status
            )
            .execute(conn)
            .await?;
        }
        "tip" => {
            sqlx::query!(
                "update tips set status = $3 where provider = $1 and payment_id = $2",
                provider,
                p.payment_id,
                status
            )
            .execute(conn)
            .await?;
        }
        _ => {
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

/// Updates a payout account's flags.
pub async fn account_updated(
    conn: &mut PgConnection,
    provider: &str,
    account: &str,
    charges: bool,
    payouts: bool,
    submitted: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"update payout_accounts set charges_enabled = $3, payouts_enabled = $4, details_submitted = $5
           where provider = $1 and account_id = $2"#,
        provider,
        account,
        charges,
        payouts,
        submitted
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// A pay-per-view post on sale (live, priced, its creator's account open): its creator,
/// and the price and currency fixed on the post (what the fan saw).
pub async fn ppv_post(
    conn: &mut PgConnection,
    post: Uuid,
) -> Result<Option<(Uuid, i32, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select p.creator_id, p.price_minor as "price_minor!", p.currency as "currency!"
           from posts p join users u on u.id = p.creator_id
           where p.id = $1 and p.deleted_at is null and p.visibility = 'ppv' and p.price_minor is not null
             and p.currency is not null and u.deleted_at is null
             and p.published_at <= now() and (p.expires_at is null or p.expires_at > now())"#,
        post
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.creator_id, r.price_minor, r.currency)))
}

/// Whether `fan` holds a paid purchase of `post`.
pub async fn bought(conn: &mut PgConnection, fan: Uuid, post: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from post_purchases where fan_id = $1 and post_id = $2 and status = 'paid')
           as "bought!""#,
        fan,
        post
    )
    .fetch_one(conn)
    .await
}

/// Whether one of `fan`'s subscriptions to `creator` grants access now (the one
/// definition, `subscription_grants`).
pub async fn subscribed(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
    grace: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from subscriptions
                          where fan_id = $1 and creator_id = $2
                            and subscription_grants(status, current_period_end, past_due_since, revoked_at,
                                                    make_interval(secs => $3), now())) as "subscribed!""#,
        fan,
        creator,
        grace.as_secs_f64()
    )
    .fetch_one(conn)
    .await
}

/// Whether `fan` ever held a subscription to `creator` that started (trialing or paid, on
/// any rail): such a fan has had their free trial.
pub async fn subscribed_before(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from subscriptions
                          where fan_id = $1 and creator_id = $2
                            and status not in ('incomplete', 'incomplete_expired')) as "before!""#,
        fan,
        creator
    )
    .fetch_one(conn)
    .await
}

/// Records a new checkout.
pub async fn insert_checkout(
    conn: &mut PgConnection,
    provider: &str,
    c: &super::checkout::NewCheckout,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into checkouts (id, provider, fan_id, kind, creator_id, post_id, amount_minor, currency, message,
                                     trial_days)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        c.id,
        provider,
        c.fan,
        c.kind,
        c.creator.user_id,
        c.post_id,
        c.amount_minor,
        c.currency,
        c.message,
        c.trial_days
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the rail's session id of a checkout.
pub async fn set_session(
    conn: impl PgExecutor<'_>,
    id: Uuid,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set session_id = $2 where id = $1",
        id,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A checkout of `fan` on `provider` (for the rail's own pages).
pub async fn fans_checkout(
    conn: impl PgExecutor<'_>,
    provider: &str,
    id: Uuid,
    fan: Uuid,
) -> Result<Option<Checkout>, sqlx::Error> {
    sqlx::query_as!(
        Checkout,
        r#"select id, kind, fan_id, creator_id, post_id, amount_minor, currency, message, status, trial_days
           from checkouts where provider = $1 and id = $2 and fan_id = $3"#,
        provider,
        id,
        fan
    )
    .fetch_optional(conn)
    .await
}

/// A fan's customer at the provider.
pub async fn customer_of(
    conn: &mut PgConnection,
    user: Uuid,
    provider: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select customer_id from billing_customers where user_id = $1 and provider = $2",
        user,
        provider
    )
    .fetch_optional(conn)
    .await
}

/// The creator's Connect account, when it can take charges.
pub async fn payout_destination(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select account_id from payout_accounts where creator_id = $1 and provider = $2 and charges_enabled",
        creator,
        provider
    )
    .fetch_optional(conn)
    .await
}

/// The provider's price for a creator's amount.
pub async fn creator_price(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
    amount: i32,
    currency: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select price_id from creator_prices
           where creator_id = $1 and provider = $2 and amount_minor = $3 and currency = $4"#,
        creator,
        provider,
        amount,
        currency
    )
    .fetch_optional(conn)
    .await
}

/// The provider's product of a creator (any of their prices names it).
pub async fn creator_product(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select product_id from creator_prices where creator_id = $1 and provider = $2 order by created_at limit 1",
        creator,
        provider
    )
    .fetch_optional(conn)
    .await
}

/// Remembers a creator's price.
pub async fn save_price(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
    amount: i32,
    currency: &str,
    product: &str,
    price: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into creator_prices (creator_id, provider, amount_minor, currency, product_id, price_id)
           values ($1, $2, $3, $4, $5, $6) on conflict do nothing"#,
        creator,
        provider,
        amount,
        currency,
        product,
        price
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a checkout that could not be opened at the provider as failed.
pub async fn checkout_failed(conn: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set status = 'failed' where id = $1 and status = 'open'",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A fan's subscription, for their list.
#[derive(Debug, Clone)]
pub struct MySubscription {
    /// Creator.
    pub creator_id: Uuid,
    /// Handle.
    pub handle: String,
    /// Name.
    pub display_name: String,
    /// Provider status.
    pub status: String,
    /// Paid until.
    pub current_period_end: DateTime<Utc>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Price.
    pub price_minor: Option<i32>,
    /// Currency.
    pub currency: Option<String>,
    /// Grants access now (`subscription_grants`).
    pub access: bool,
}

/// A fan's subscriptions, one per creator (the one that grants access, else the newest),
/// newest first.
pub async fn my_subscriptions(
    conn: &mut PgConnection,
    fan: Uuid,
    grace: std::time::Duration,
) -> Result<Vec<MySubscription>, sqlx::Error> {
    sqlx::query_as!(
        MySubscription,
        r#"select creator_id as "creator_id!", handle as "handle!", display_name as "display_name!",
                  status as "status!", current_period_end as "current_period_end!",
                  cancel_at_period_end as "cancel_at_period_end!", price_minor, currency,
                  access as "access!"
           from (select distinct on (s.creator_id) s.creator_id, c.handle, c.display_name, s.status,
                        s.current_period_end, s.cancel_at_period_end, s.price_minor, s.currency, s.created_at,
                        subscription_grants(s.status, s.current_period_end, s.past_due_since, s.revoked_at,
                                            make_interval(secs => $2), now()) as access
                 from subscriptions s join creators c on c.user_id = s.creator_id
                 where s.fan_id = $1
                 order by s.creator_id, access desc, s.created_at desc) as mine
           order by created_at desc"#,
        fan,
        grace.as_secs_f64()
    )
    .fetch_all(conn)
    .await
}

/// A purchase or tip, for the fan's list (as the API shows it).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MyPayment {
    /// `ppv` or `tip`.
    pub kind: String,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// The creator's handle.
    #[serde(rename = "creator")]
    pub handle: String,
    /// Amount.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// paid, refunded, disputed.
    pub status: String,
    /// Tip note.
    pub message: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A fan's purchases and tips, newest first (at most 200).
pub async fn my_payments(
    conn: &mut PgConnection,
    fan: Uuid,
) -> Result<Vec<MyPayment>, sqlx::Error> {
    sqlx::query_as!(
        MyPayment,
        r#"select kind as "kind!", post_id, handle as "handle!", amount_minor as "amount_minor!",
                  currency as "currency!", status as "status!", message, created_at as "created_at!"
           from (select 'ppv' as kind, pp.post_id, c.handle, pp.amount_minor, pp.currency, pp.status,
                        null::text as message, pp.created_at
                 from post_purchases pp join posts p on p.id = pp.post_id
                      join creators c on c.user_id = p.creator_id
                 where pp.fan_id = $1
                 union all
                 select 'tip', null, c.handle, t.amount_minor, t.currency, t.status, t.message, t.created_at
                 from tips t join creators c on c.user_id = t.creator_id
                 where t.fan_id = $1) as mine
           order by created_at desc
           limit 200"#,
        fan
    )
    .fetch_all(conn)
    .await
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

/// A creator's earnings per `unit` (`day` or `month`) since `since`.
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
           where creator_id = $1 and occurred_at >= $3
           group by 1, 2
           order by 1 desc, 2"#,
        creator,
        unit,
        since
    )
    .fetch_all(conn)
    .await
}

/// A creator's balance per currency: the sum of their entries.
pub async fn balances(
    conn: &mut PgConnection,
    creator: Uuid,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select currency, sum(net_minor)::bigint as "net!" from ledger_entries
           where creator_id = $1 group by currency order by currency"#,
        creator
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.currency, r.net)).collect())
}

/// A ledger entry, for the creator's recent transactions (as the API shows it).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Transaction {
    /// Kind.
    pub kind: String,
    /// Gross.
    pub gross_minor: i64,
    /// Platform fee.
    pub platform_fee_minor: i64,
    /// Processor fee.
    pub processor_fee_minor: Option<i64>,
    /// Net.
    pub net_minor: i64,
    /// Currency.
    pub currency: String,
    /// The post (PPV).
    pub post_id: Option<Uuid>,
    /// The fan's public name.
    pub fan_name: Option<String>,
    /// The tip's note.
    pub message: Option<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

/// A creator's latest entries.
pub async fn recent(
    conn: &mut PgConnection,
    creator: Uuid,
    limit: i64,
) -> Result<Vec<Transaction>, sqlx::Error> {
    sqlx::query_as!(
        Transaction,
        r#"select e.kind, e.gross_minor, e.platform_fee_minor, e.processor_fee_minor, e.net_minor, e.currency,
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

/// Fans whose subscription grants access now (`creator_subscribers`: as profiles and
/// explore count them).
pub async fn subscriber_count(
    conn: &mut PgConnection,
    creator: Uuid,
    grace: std::time::Duration,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select creator_subscribers($1, make_interval(secs => $2), now()) as "n!""#,
        creator,
        grace.as_secs_f64()
    )
    .fetch_one(conn)
    .await
}

/// A subscription the rail may still bill.
#[derive(Debug, Clone)]
pub struct LiveSubscription {
    /// Ours.
    pub id: Uuid,
    /// The rail.
    pub provider: String,
    /// The rail's id.
    pub provider_subscription_id: String,
    /// Fan.
    pub fan_id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// Status.
    pub status: String,
    /// Period end.
    pub current_period_end: DateTime<Utc>,
    /// Price.
    pub price_minor: Option<i32>,
    /// Currency.
    pub currency: Option<String>,
}

/// The fan's subscriptions to `creator` on `provider` that the rail may still bill.
pub async fn live_subscriptions(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
    provider: &str,
) -> Result<Vec<LiveSubscription>, sqlx::Error> {
    sqlx::query_as!(
        LiveSubscription,
        r#"select id, provider as "provider!", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status, current_period_end, price_minor, currency
           from subscriptions
           where fan_id = $1 and creator_id = $2 and provider = $3 and provider_subscription_id is not null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused')
           order by created_at"#,
        fan,
        creator,
        provider
    )
    .fetch_all(conn)
    .await
}

/// One subscription by our id.
pub async fn subscription(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<LiveSubscription>, sqlx::Error> {
    sqlx::query_as!(
        LiveSubscription,
        r#"select id, provider as "provider!", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status, current_period_end, price_minor, currency
           from subscriptions where id = $1 and provider_subscription_id is not null"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Withdraws access from every subscription the rail may still bill of which `user` is
/// the fan or the creator (their account closes), and answers those not already asked to
/// end: each is then canceled at its rail by a job.
pub async fn revoke_subscriptions_of(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update subscriptions set revoked_at = coalesce(revoked_at, now()), cancel_requested_at = now()
           where (fan_id = $1 or creator_id = $1) and provider_subscription_id is not null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused')
             and cancel_requested_at is null
           returning id"#,
        user
    )
    .fetch_all(conn)
    .await
}

/// Whether `user`'s account is closed (deleted). The row is locked (shared) until the end
/// of the transaction: a deletion in progress is waited for, then seen.
pub async fn account_closed(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query_scalar!(
        r#"select deleted_at is not null as "closed!" from users where id = $1 for share"#,
        user
    )
    .fetch_optional(conn)
    .await?;
    Ok(deleted.unwrap_or(true))
}

/// Whether both accounts are open, locking them (shared) until the end of the transaction.
pub async fn accounts_open(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
) -> Result<bool, sqlx::Error> {
    let open = sqlx::query_scalar!(
        r#"select deleted_at is null as "open!" from users where id in ($1, $2) order by id for share"#,
        fan,
        creator
    )
    .fetch_all(conn)
    .await?;
    Ok(open.len() == 2 && open.iter().all(|o| *o))
}

/// Closes `fan`'s open subscription checkouts for `creator` (`canceled`, with `reason`);
/// answers the rail and session of each.
pub async fn cancel_open_subscription_checkouts(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
    reason: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"update checkouts set status = 'canceled', closed_reason = $3
           where fan_id = $1 and creator_id = $2 and kind = 'subscription' and status = 'open'
           returning provider, session_id"#,
        fan,
        creator,
        reason
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.provider, r.session_id))
        .collect())
}

/// Closes every open checkout in which `user` pays or is paid (`canceled`, with `reason`);
/// answers the rail and session of each, to close them at the rail too.
pub async fn cancel_open_checkouts_of(
    conn: &mut PgConnection,
    user: Uuid,
    reason: &str,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"update checkouts set status = 'canceled', closed_reason = $2
           where (fan_id = $1 or creator_id = $1) and status = 'open'
           returning provider, session_id"#,
        user,
        reason
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.provider, r.session_id))
        .collect())
}

/// Ends a checkout whose paid amount or currency is not the checkout's (`refused`).
pub async fn refuse_checkout(
    conn: &mut PgConnection,
    id: Uuid,
    session_id: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update checkouts set status = 'refused', closed_reason = $3, session_id = coalesce(session_id, $2)
           where id = $1"#,
        id,
        session_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A creator's payout account: id and flags (charges, payouts, submitted).
pub async fn payout_account(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
) -> Result<Option<(String, bool, bool, bool)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select account_id, charges_enabled, payouts_enabled, details_submitted from payout_accounts
           where creator_id = $1 and provider = $2"#,
        creator,
        provider
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        (
            r.account_id,
            r.charges_enabled,
            r.payouts_enabled,
            r.details_submitted,
        )
    }))
}

/// Records a creator's new payout account (not enabled until the rail says so).
pub async fn save_payout_account(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: &str,
    account: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into payout_accounts (creator_id, provider, account_id) values ($1, $2, $3)
           on conflict (creator_id, provider) do nothing"#,
        creator,
        provider,
        account
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A simulated subscription whose period ends by `until`: provider id, fan, creator,
/// status, period end, canceled at the period's end, price, currency.
#[derive(Debug, Clone)]
pub struct DueSubscription {
    /// The rail's id.
    pub id: String,
    /// Fan.
    pub fan_id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// Status.
    pub status: String,
    /// Period end.
    pub current_period_end: DateTime<Utc>,
    /// Ends at the period's end.
    pub cancel_at_period_end: bool,
    /// Price.
    pub price_minor: Option<i32>,
    /// Currency.
    pub currency: Option<String>,
}

/// Live subscriptions on `provider` whose paid period ends by `until`.
pub async fn due_subscriptions(
    conn: impl PgExecutor<'_>,
    provider: &str,
    until: DateTime<Utc>,
) -> Result<Vec<DueSubscription>, sqlx::Error> {
    sqlx::query_as!(
        DueSubscription,
        r#"select provider_subscription_id as "id!", fan_id, creator_id, status, current_period_end,
                  cancel_at_period_end, price_minor, currency
           from subscriptions
           where provider = $1 and provider_subscription_id is not null and revoked_at is null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete')
             and current_period_end <= $2
           order by current_period_end"#,
        provider,
        until
    )
    .fetch_all(conn)
    .await
}
