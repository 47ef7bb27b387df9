//! Purchases, tips, fans' customers at the rails, and creators' prices there.

use sqlx::PgConnection;
use uuid::Uuid;

use super::super::types::{CheckoutKind, MyPayment, PaymentStatus, Provider};
use super::Checkout;

/// Remembers a fan's customer at the provider.
pub async fn save_customer(
    conn: &mut PgConnection,
    user: Uuid,
    provider: Provider,
    customer: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into billing_customers (user_id, provider, customer_id) values ($1, $2, $3)
           on conflict do nothing"#,
        user,
        provider.as_str(),
        customer
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A purchase paid (access granted), unless this payment was already refunded or disputed.
pub async fn purchase_paid(
    conn: &mut PgConnection,
    provider: Provider,
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
        provider.as_str(),
        payment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A paid message unlocked (access granted), unless this payment was already refunded or
/// disputed.
pub async fn message_purchase_paid(
    conn: &mut PgConnection,
    provider: Provider,
    c: &Checkout,
    message: Uuid,
    payment: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into message_purchases (id, fan_id, message_id, amount_minor, currency, status, provider, payment_id)
           values ($1, $2, $3, $4, $5, 'paid', $6, $7)
           on conflict (fan_id, message_id) do update set status = 'paid', amount_minor = excluded.amount_minor,
             currency = excluded.currency, provider = excluded.provider, payment_id = excluded.payment_id"#,
        Uuid::now_v7(),
        c.fan_id,
        message,
        c.amount_minor,
        c.currency,
        provider.as_str(),
        payment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `fan` holds a paid purchase of `message`.
pub async fn message_bought(
    conn: &mut PgConnection,
    fan: Uuid,
    message: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from message_purchases where fan_id = $1 and message_id = $2 and status = 'paid')
           as "bought!""#,
        fan,
        message
    )
    .fetch_one(conn)
    .await
}

/// A tip paid; answers whether it is new.
pub async fn tip_paid(
    conn: &mut PgConnection,
    provider: Provider,
    c: &Checkout,
    payment: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query!(
        r#"insert into tips (id, fan_id, creator_id, amount_minor, currency, message, provider, payment_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           on conflict (provider, payment_id) do nothing"#,
        Uuid::now_v7(),
        c.fan_id,
        c.creator_id,
        c.amount_minor,
        c.currency,
        c.message,
        provider.as_str(),
        payment
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
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

/// A fan's purchases and tips, newest first (at most 200).
pub async fn my_payments(
    conn: &mut PgConnection,
    fan: Uuid,
) -> Result<Vec<MyPayment>, sqlx::Error> {
    sqlx::query_as!(
        MyPayment,
        r#"select kind as "kind!: CheckoutKind", post_id, handle as "handle!", amount_minor as "amount_minor!",
                  currency as "currency!", status as "status!: PaymentStatus", message, created_at as "created_at!"
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

/// A fan's customer at the provider.
pub async fn customer_of(
    conn: &mut PgConnection,
    user: Uuid,
    provider: Provider,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select customer_id from billing_customers where user_id = $1 and provider = $2",
        user,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// The provider's price for a creator's amount.
pub async fn creator_price(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
    amount: i32,
    currency: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select price_id from creator_prices
           where creator_id = $1 and provider = $2 and amount_minor = $3 and currency = $4"#,
        creator,
        provider.as_str(),
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
    provider: Provider,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select product_id from creator_prices where creator_id = $1 and provider = $2 order by created_at limit 1",
        creator,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// Remembers a creator's price.
pub async fn save_price(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
    amount: i32,
    currency: &str,
    product: &str,
    price: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into creator_prices (creator_id, provider, amount_minor, currency, product_id, price_id)
           values ($1, $2, $3, $4, $5, $6) on conflict do nothing"#,
        creator,
        provider.as_str(),
        amount,
        currency,
        product,
        price
    )
    .execute(conn)
    .await?;
    Ok(())
}
