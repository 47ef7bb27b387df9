//! Where creators are paid out: their payout accounts at the rail, and the transfers of
//! what the platform holds for them to those accounts.

use sqlx::PgConnection;
use uuid::Uuid;

use super::super::types::{Provider, TransferStatus};

/// Updates a payout account's flags; answers its creator (`None`: an account we do not
/// know).
pub async fn account_updated(
    conn: &mut PgConnection,
    provider: Provider,
    account: &str,
    charges: bool,
    payouts: bool,
    submitted: bool,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update payout_accounts set charges_enabled = $3, payouts_enabled = $4, details_submitted = $5
           where provider = $1 and account_id = $2
           returning creator_id"#,
        provider.as_str(),
        account,
        charges,
        payouts,
        submitted
    )
    .fetch_optional(conn)
    .await
}

/// The creator's payout account when it can be paid out, locked (one transfer decision
/// at a time per creator and rail).
pub async fn payable_account_for_update(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select account_id from payout_accounts
           where creator_id = $1 and provider = $2 and payouts_enabled
           for update"#,
        creator,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// A transfer of held money to a creator's account.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Ours (the rail's idempotency key and `metadata[transfer_id]`).
    pub id: Uuid,
    /// Whose.
    pub creator_id: Uuid,
    /// Currency.
    pub currency: String,
    /// Amount.
    pub amount_minor: i64,
    /// The creator's account.
    pub destination: String,
    /// Where it stands.
    pub status: TransferStatus,
    /// When it was decided (its key is as old).
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Writes a transfer before the rail is asked for it.
pub async fn insert_transfer(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
    owed: &crate::money::Money,
    destination: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        r#"insert into creator_transfers (id, creator_id, provider, currency, amount_minor, destination)
           values ($1, $2, $3, $4, $5, $6)"#,
        id,
        creator,
        provider.as_str(),
        owed.currency,
        owed.minor,
        destination
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// The creator's transfers on `provider` the rail has not answered yet.
pub async fn requested_transfers(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
) -> Result<Vec<Transfer>, sqlx::Error> {
    sqlx::query_as!(
        Transfer,
        r#"select id, creator_id, currency, amount_minor, destination, status as "status: TransferStatus",
                  created_at
           from creator_transfers
           where creator_id = $1 and provider = $2 and status = 'requested'
           order by created_at"#,
        creator,
        provider.as_str()
    )
    .fetch_all(conn)
    .await
}

/// The rail made the transfer: its id is kept.
pub async fn transfer_sent(
    conn: &mut PgConnection,
    id: Uuid,
    transfer_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"update creator_transfers set status = 'sent', transfer_id = $2
           where id = $1 and status = 'requested'"#,
        id,
        transfer_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops a transfer the rail refused (it was not made).
pub async fn drop_requested_transfer(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from creator_transfers where id = $1 and status = 'requested'",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The rail's event about our transfer `id`: marks it recorded (locked first) and answers
/// it as it was (`None`: not ours).
pub async fn record_transfer(
    conn: &mut PgConnection,
    provider: Provider,
    id: Uuid,
    transfer_id: &str,
) -> Result<Option<Transfer>, sqlx::Error> {
    let held = sqlx::query_as!(
        Transfer,
        r#"select id, creator_id, currency, amount_minor, destination, status as "status: TransferStatus",
                  created_at
           from creator_transfers where id = $1 and provider = $2
           for update"#,
        id,
        provider.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?;
    if held.is_some() {
        sqlx::query!(
            r#"update creator_transfers set status = 'recorded', transfer_id = $2 where id = $1"#,
            id,
            transfer_id
        )
        .execute(conn)
        .await?;
    }
    Ok(held)
}

/// The creator's Connect account, when it can take charges.
pub async fn payout_destination(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select account_id from payout_accounts where creator_id = $1 and provider = $2 and charges_enabled",
        creator,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// A creator's payout account at a rail.
#[derive(Debug, Clone)]
pub struct PayoutAccount {
    /// The rail's account id.
    pub account_id: String,
    /// May take charges (fans' money is routed to it).
    pub charges_enabled: bool,
    /// May be paid out.
    pub payouts_enabled: bool,
    /// Onboarding submitted.
    pub details_submitted: bool,
}

/// A creator's payout account on `provider`.
pub async fn payout_account(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
) -> Result<Option<PayoutAccount>, sqlx::Error> {
    sqlx::query_as!(
        PayoutAccount,
        r#"select account_id, charges_enabled, payouts_enabled, details_submitted from payout_accounts
           where creator_id = $1 and provider = $2"#,
        creator,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// Records a creator's new payout account (not enabled until the rail says so).
pub async fn save_payout_account(
    conn: &mut PgConnection,
    creator: Uuid,
    provider: Provider,
    account: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into payout_accounts (creator_id, provider, account_id) values ($1, $2, $3)
           on conflict (creator_id, provider) do nothing"#,
        creator,
        provider.as_str(),
        account
    )
    .execute(conn)
    .await?;
    Ok(())
}
