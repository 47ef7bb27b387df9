//! Received webhook events: recorded once by their id, taken for applying, marked applied.

use super::super::types::Provider;
use sqlx::{PgConnection, PgExecutor};

/// Records an event; `false` when it was already recorded (a redelivery).
pub async fn record_event(
    conn: impl PgExecutor<'_>,
    provider: Provider,
    event_id: &str,
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"insert into billing_events (provider, event_id, event_type, payload)
           values ($1, $2, $3, $4)
           on conflict (provider, event_id) do nothing
           returning true as "inserted!""#,
        provider.as_str(),
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
    provider: Provider,
    event_id: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select payload from billing_events
           where provider = $1 and event_id = $2 and processed_at is null
           for update"#,
        provider.as_str(),
        event_id
    )
    .fetch_optional(conn)
    .await
}

/// Marks an event applied.
pub async fn event_done(
    conn: &mut PgConnection,
    provider: Provider,
    event_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update billing_events set processed_at = now() where provider = $1 and event_id = $2",
        provider.as_str(),
        event_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
