//! What fans and creators see of their money: subscriptions, purchases and tips; a
//! creator's earnings by day and month, balance, subscribers and recent transactions.

use chrono::{Duration as Span, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::db;
use super::types::{Balance, MyPayment, SubscriptionView, Transaction};
use crate::error::AppError;
use crate::state::AppState;

/// The fan's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySubscriptions {
    /// Newest first.
    pub subscriptions: Vec<SubscriptionView>,
}

/// The fan's purchases and tips.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyPurchases {
    /// Newest first (at most 200).
    pub payments: Vec<MyPayment>,
}

/// Money in one period and currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// The day (`2026-11-28`) or month (`2026-11`).
    pub period: String,
    /// Currency.
    pub currency: String,
    /// Paid by fans, less refunds and disputes.
    pub gross_minor: i64,
    /// The platform's part.
    pub platform_fee_minor: i64,
    /// The creator's part.
    pub net_minor: i64,
}

/// A creator's earnings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Earnings {
    /// Per currency: the sum of every entry (what the creator is owed or was paid).
    pub balances: Vec<Balance>,
    /// Subscribers with access now.
    pub subscribers: i64,
    /// The last 30 days, newest first (days without money are left out).
    pub by_day: Vec<PeriodView>,
    /// The last 12 months, newest first.
    pub by_month: Vec<PeriodView>,
    /// The latest 20 entries.
    pub recent: Vec<Transaction>,
}

/// The fan's subscriptions (one per creator: the one that grants access, else the newest).
pub async fn my_subscriptions(state: &AppState, fan: Uuid) -> Result<MySubscriptions, AppError> {
    let mut conn = state.db.acquire().await?;
    let grace = state.settings.content.subscription_grace.0;
    Ok(MySubscriptions {
        subscriptions: db::my_subscriptions(&mut conn, fan, grace).await?,
    })
}

/// The fan's purchases and tips.
pub async fn my_purchases(state: &AppState, fan: Uuid) -> Result<MyPurchases, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(MyPurchases {
        payments: db::my_payments(&mut conn, fan).await?,
    })
}

/// A creator's earnings (404 for someone who is not a creator).
pub async fn earnings(state: &AppState, creator: Uuid) -> Result<Earnings, AppError> {
    let mut conn = state.db.acquire().await?;
    if crate::creators::by_user(&mut *conn, creator)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let now = Utc::now();
    let periods = |rows: Vec<db::Period>, format: &str| -> Vec<PeriodView> {
        rows.into_iter()
            .map(|p| PeriodView {
                period: p.period.format(format).to_string(),
                currency: p.currency,
                gross_minor: p.gross_minor,
                platform_fee_minor: p.platform_fee_minor,
                net_minor: p.net_minor,
            })
            .collect()
    };
    let by_day = db::earnings_by(&mut conn, creator, "day", now - Span::days(30)).await?;
    let by_month = db::earnings_by(&mut conn, creator, "month", now - Span::days(366)).await?;
    Ok(Earnings {
        balances: db::balances(&mut conn, creator).await?,
        subscribers: db::subscriber_count(
            &mut conn,
            creator,
            state.settings.content.subscription_grace.0,
        )
        .await?,
        by_day: periods(by_day, "%Y-%m-%d"),
        by_month: periods(by_month, "%Y-%m"),
        recent: db::recent(&mut conn, creator, 20).await?,
    })
}
