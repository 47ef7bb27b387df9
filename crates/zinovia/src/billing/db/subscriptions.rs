//! Subscriptions as their rails report them, one row each (history kept), and what follows from them: access, counts, the ones a rail may still bill.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::super::events::SubscriptionState;
use super::super::types::{Provider, SubscriptionStatus, SubscriptionView};

/// A subscription row as held.
#[derive(Debug, Clone)]
pub struct HeldSubscription {
    /// Ours.
    pub id: Uuid,
    /// Fan.
    pub fan_id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// The creator's account its invoices pay, as last reported (none: the platform's).
    pub destination: Option<String>,
}

/// The subscription row of a provider subscription.
pub async fn subscription_by_provider_id(
    conn: &mut PgConnection,
    provider: Provider,
    id: &str,
) -> Result<Option<HeldSubscription>, sqlx::Error> {
    sqlx::query_as!(
        HeldSubscription,
        r#"select id, fan_id, creator_id, destination from subscriptions
           where provider = $1 and provider_subscription_id = $2"#,
        provider.as_str(),
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
    provider: Provider,
    fan: Uuid,
    creator: Uuid,
    s: &SubscriptionState,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let period_end = s.current_period_end.unwrap_or(at);
    let price = s.price_minor.and_then(|p| i32::try_from(p).ok());
    // An object that does not say where its invoices pay leaves what is held.
    let (stated, destination) = s.routing.stated();
    let changed = sqlx::query_scalar!(
        r#"insert into subscriptions as s (id, fan_id, creator_id, status, current_period_end, past_due_since,
                                        cancel_at_period_end, provider, provider_subscription_id, state_at,
                                        price_minor, currency, destination)
           values ($1, $2, $3, $4, $5, case when $4 = 'past_due' then $9::timestamptz end, $6, $7, $8, $9, $10, $11,
                   $12)
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
             currency = coalesce(excluded.currency, s.currency),
             destination = case when $13 then excluded.destination else s.destination end
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
        s.status.as_str(),
        period_end,
        s.cancel_at_period_end,
        provider.as_str(),
        s.id,
        at,
        price,
        s.currency,
        destination,
        stated
    )
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
}

/// A paid invoice extends the period it pays for and ends a past-due state it is newer
/// than.
pub async fn invoice_paid(
    conn: &mut PgConnection,
    provider: Provider,
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
        provider.as_str(),
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
    provider: Provider,
    subscription: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update subscriptions set status = 'past_due', past_due_since = coalesce(past_due_since, $3),
             state_at = $3
           where provider = $1 and provider_subscription_id = $2
             and status in ('active', 'trialing') and state_at <= $3"#,
        provider.as_str(),
        subscription,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The rail says a subscription will not renew (it ends at its period's end), unless the
/// state held is newer or it ended already.
pub async fn subscription_canceling(
    conn: &mut PgConnection,
    provider: Provider,
    subscription: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update subscriptions set cancel_at_period_end = true, state_at = greatest(state_at, $3)
           where provider = $1 and provider_subscription_id = $2
             and status not in ('canceled', 'incomplete_expired') and state_at <= $3"#,
        provider.as_str(),
        subscription,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The rail says a subscription ended: it is canceled, its period over by `at` at the
/// latest. An ended subscription never comes back, so this holds whatever arrives later.
pub async fn subscription_expired(
    conn: &mut PgConnection,
    provider: Provider,
    subscription: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update subscriptions set status = 'canceled', past_due_since = null,
             current_period_end = least(current_period_end, $3), state_at = greatest(state_at, $3)
           where provider = $1 and provider_subscription_id = $2
             and status not in ('canceled', 'incomplete_expired')"#,
        provider.as_str(),
        subscription,
        at
    )
    .execute(conn)
    .await?;
    Ok(())
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

/// A fan's subscriptions, one per creator (the one that grants access, else the newest),
/// newest first.
pub async fn my_subscriptions(
    conn: &mut PgConnection,
    fan: Uuid,
    grace: std::time::Duration,
) -> Result<Vec<SubscriptionView>, sqlx::Error> {
    sqlx::query_as!(
        SubscriptionView,
        r#"select handle as "creator!", display_name as "creator_name!",
                  status as "status!: SubscriptionStatus", current_period_end as "current_period_end!",
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
    /// The rail.
    pub provider: Provider,
    /// The rail's id.
    pub provider_subscription_id: String,
    /// Fan.
    pub fan_id: Uuid,
    /// Creator.
    pub creator_id: Uuid,
    /// Status.
    pub status: SubscriptionStatus,
    /// Period end.
    pub current_period_end: DateTime<Utc>,
    /// Ends at the period's end (canceled by the fan).
    pub cancel_at_period_end: bool,
    /// Price.
    pub price_minor: Option<i32>,
    /// Currency.
    pub currency: Option<String>,
    /// The creator's account its invoices pay (none: the platform's).
    pub destination: Option<String>,
}

/// The fan's subscriptions to `creator` that their rails may still bill.
pub async fn live_subscriptions(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: Uuid,
) -> Result<Vec<LiveSubscription>, sqlx::Error> {
    sqlx::query_as!(
        LiveSubscription,
        r#"select provider as "provider!: Provider", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status as "status: SubscriptionStatus", current_period_end, cancel_at_period_end,
                  price_minor, currency,
                  destination
           from subscriptions
           where fan_id = $1 and creator_id = $2 and provider_subscription_id is not null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused')
           order by created_at"#,
        fan,
        creator
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
        r#"select provider as "provider!: Provider", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status as "status: SubscriptionStatus", current_period_end, cancel_at_period_end,
                  price_minor, currency,
                  destination
           from subscriptions where id = $1 and provider_subscription_id is not null"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The creator's subscriptions on `provider` that the rail may still bill and whose
/// invoices do not pay `account` (made before it could take charges).
pub async fn unrouted_subscriptions(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
    account: &str,
) -> Result<Vec<LiveSubscription>, sqlx::Error> {
    sqlx::query_as!(
        LiveSubscription,
        r#"select provider as "provider!: Provider", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status as "status: SubscriptionStatus", current_period_end, cancel_at_period_end,
                  price_minor, currency,
                  destination
           from subscriptions
           where creator_id = $1 and provider = $2 and provider_subscription_id is not null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete', 'paused')
             and revoked_at is null and destination is distinct from $3
           order by created_at"#,
        creator,
        provider.as_str(),
        account
    )
    .fetch_all(conn)
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

/// Live subscriptions on `provider` whose paid period ends by `until`.
pub async fn due_subscriptions(
    conn: impl PgExecutor<'_>,
    provider: Provider,
    until: DateTime<Utc>,
) -> Result<Vec<LiveSubscription>, sqlx::Error> {
    sqlx::query_as!(
        LiveSubscription,
        r#"select provider as "provider!: Provider", provider_subscription_id as "provider_subscription_id!",
                  fan_id, creator_id, status as "status: SubscriptionStatus", current_period_end, cancel_at_period_end,
                  price_minor, currency, destination
           from subscriptions
           where provider = $1 and provider_subscription_id is not null and revoked_at is null
             and status in ('trialing', 'active', 'past_due', 'unpaid', 'incomplete')
             and current_period_end <= $2
           order by current_period_end"#,
        provider.as_str(),
        until
    )
    .fetch_all(conn)
    .await
}
