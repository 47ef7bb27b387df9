//! Where creators are paid out: their payout accounts at the rail.

use sqlx::PgConnection;
use uuid::Uuid;

use super::super::types::Provider;

/// Updates a payout account's flags.
pub async fn account_updated(
    conn: &mut PgConnection,
    provider: Provider,
    account: &str,
    charges: bool,
    payouts: bool,
    submitted: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        r#"update payout_accounts set charges_enabled = $3, payouts_enabled = $4, details_submitted = $5
           where provider = $1 and account_id = $2"#,
        provider.as_str(),
        account,
        charges,
        payouts,
        submitted
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
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
