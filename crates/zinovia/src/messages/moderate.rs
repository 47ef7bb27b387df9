//! What moderation does to messages (messages owns their tables): a message removed (shown
//! as unsent to both sides; its files stay for evidence) or restored, in moderation's
//! transaction.

use sqlx::PgConnection;
use uuid::Uuid;

/// A removed (or restored) message: its sender and its files.
#[derive(Debug, Clone)]
pub struct Removed {
    /// Who sent it.
    pub sender: Uuid,
    /// Its files.
    pub assets: Vec<Uuid>,
}

/// Hides a sent message from both sides. `None`: no such message, or already taken back.
pub async fn remove(conn: &mut PgConnection, id: Uuid) -> Result<Option<Removed>, sqlx::Error> {
    set(conn, id, true).await
}

/// Shows a removed message again.
pub async fn restore(conn: &mut PgConnection, id: Uuid) -> Result<Option<Removed>, sqlx::Error> {
    set(conn, id, false).await
}

async fn set(
    conn: &mut PgConnection,
    id: Uuid,
    hide: bool,
) -> Result<Option<Removed>, sqlx::Error> {
    let Some(sender) = sqlx::query_scalar!(
        "update messages set unsent_at = case when $2 then now() else null end
         where id = $1 and (unsent_at is null) = $2 returning sender_id",
        id,
        hide
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let assets = sqlx::query_scalar!(
        "select asset_id from message_media where message_id = $1",
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(Some(Removed { sender, assets }))
}
