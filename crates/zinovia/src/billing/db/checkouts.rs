//! Checkouts we started: recorded, matched to the rail's session, and where each stands.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::super::checkout::NewCheckout;
use super::super::types::{CheckoutId, CheckoutKind, CheckoutStatus, Money, Provider};

/// A checkout we started.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// Ours.
    pub id: CheckoutId,
    /// Its rail.
    pub provider: Provider,
    /// What it pays for.
    pub kind: CheckoutKind,
    /// The fan paying.
    pub fan_id: Uuid,
    /// The creator paid.
    pub creator_id: Uuid,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// The paid message unlocked.
    pub message_id: Option<Uuid>,
    /// Amount, in minor units of `currency`.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// Tip message.
    pub message: Option<String>,
    /// Where it stands.
    pub status: CheckoutStatus,
    /// The free trial it grants (subscriptions; 0 for a returning fan).
    pub trial_days: i32,
    /// The creator's account its money is routed to (none: the platform holds it).
    pub destination: Option<String>,
}

impl Checkout {
    /// What it charges.
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency.clone())
    }
}

/// A checkout closed by us, to close at its rail too.
#[derive(Debug, Clone)]
pub struct ClosedCheckout {
    /// Its rail.
    pub provider: Provider,
    /// The rail's session (when one was opened).
    pub session_id: Option<String>,
}

/// Finds a checkout by our id or the provider's session id, locked.
pub async fn checkout_for_update(
    conn: &mut PgConnection,
    provider: Provider,
    id: Option<Uuid>,
    session_id: &str,
) -> Result<Option<Checkout>, sqlx::Error> {
    sqlx::query_as!(
        Checkout,
        r#"select id as "id: CheckoutId", provider as "provider: Provider", kind as "kind: CheckoutKind",
                  fan_id, creator_id, post_id, message_id, amount_minor, currency, message, status as "status: CheckoutStatus",
                  trial_days, destination
           from checkouts
           where provider = $1 and (id = $2 or session_id = $3)
           order by (id = $2) desc nulls last
           limit 1
           for update"#,
        provider.as_str(),
        id,
        session_id
    )
    .fetch_optional(conn)
    .await
}

/// Sets a checkout's status (and the provider's session id when it was not known).
pub async fn set_checkout_status(
    conn: &mut PgConnection,
    id: CheckoutId,
    status: CheckoutStatus,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set status = $2, session_id = coalesce(session_id, $3) where id = $1",
        id.0,
        status.as_str(),
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a new checkout.
pub async fn insert_checkout(conn: &mut PgConnection, c: &NewCheckout) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into checkouts (id, provider, fan_id, kind, creator_id, post_id, amount_minor, currency, message,
                                     trial_days, destination, message_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"#,
        c.id.0,
        c.provider.as_str(),
        c.fan,
        c.kind.as_str(),
        c.creator.user_id,
        c.post_id,
        c.amount_minor,
        c.currency,
        c.message,
        c.trial_days,
        c.destination,
        c.message_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the rail's session id of a checkout.
pub async fn set_session(
    conn: impl PgExecutor<'_>,
    id: CheckoutId,
    session_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set session_id = $2 where id = $1",
        id.0,
        session_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A checkout of `fan`, on any rail (for the rail's own pages and the return page).
pub async fn fans_checkout(
    conn: impl PgExecutor<'_>,
    id: CheckoutId,
    fan: Uuid,
) -> Result<Option<Checkout>, sqlx::Error> {
    sqlx::query_as!(
        Checkout,
        r#"select id as "id: CheckoutId", provider as "provider: Provider", kind as "kind: CheckoutKind",
                  fan_id, creator_id, post_id, message_id, amount_minor, currency, message, status as "status: CheckoutStatus",
                  trial_days, destination
           from checkouts where id = $1 and fan_id = $2"#,
        id.0,
        fan
    )
    .fetch_optional(conn)
    .await
}

/// Marks a checkout that could not be opened at the provider as failed.
pub async fn checkout_failed(conn: impl PgExecutor<'_>, id: CheckoutId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update checkouts set status = 'failed' where id = $1 and status = 'open'",
        id.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the open checkouts in which `user` pays or is paid, or (with `creator`) `user`'s
/// open subscription checkouts for that creator: `canceled`, with `reason`. Answers each,
/// to close them at the rail too.
pub async fn cancel_open_checkouts(
    conn: &mut PgConnection,
    user: Uuid,
    creator: Option<Uuid>,
    reason: &str,
) -> Result<Vec<ClosedCheckout>, sqlx::Error> {
    sqlx::query_as!(
        ClosedCheckout,
        r#"update checkouts set status = 'canceled', closed_reason = $3
           where status = 'open'
             and (case when $2::uuid is null then fan_id = $1 or creator_id = $1
                       else fan_id = $1 and creator_id = $2 and kind = 'subscription' end)
           returning provider as "provider: Provider", session_id"#,
        user,
        creator,
        reason
    )
    .fetch_all(conn)
    .await
}

/// Ends a checkout whose paid amount or currency is not the checkout's (`refused`).
pub async fn refuse_checkout(
    conn: &mut PgConnection,
    id: CheckoutId,
    session_id: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update checkouts set status = 'refused', closed_reason = $3, session_id = coalesce(session_id, $2)
           where id = $1"#,
        id.0,
        session_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}
