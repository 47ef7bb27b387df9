//! Starting a checkout: what a fan pays for (a subscription, a pay-per-view post, a tip),
//! validated and recorded before the rail is asked for its payment page.

use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::service::Provider;
use crate::accounts::{FieldCheck, User};
use crate::creators::{self, Creator, Found};
use crate::error::AppError;
use crate::state::AppState;

/// Longest tip message.
pub const MAX_TIP_MESSAGE: usize = 500;

/// What to pay for.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// `subscription`, `ppv` or `tip`.
    #[serde(default)]
    pub kind: String,
    /// The creator's handle (subscriptions and tips).
    #[serde(default)]
    pub creator: Option<String>,
    /// The pay-per-view post.
    #[serde(default)]
    pub post_id: Option<String>,
    /// The tip, in minor units of the creator's currency (`TIP_MIN`–`TIP_MAX`).
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// A note with the tip (at most 500 characters).
    #[serde(default)]
    pub message: Option<String>,
}

/// A checkout as recorded, ready for the rail.
#[derive(Debug, Clone)]
pub struct NewCheckout {
    /// Ours (the rail's `client_reference_id`).
    pub id: Uuid,
    /// subscription, ppv or tip.
    pub kind: &'static str,
    /// Who pays.
    pub fan: Uuid,
    /// Who is paid.
    pub creator: Creator,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// Amount.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// Tip message.
    pub message: Option<String>,
}

/// Validates a request and records the checkout (status `open`).
pub async fn record(
    state: &AppState,
    fan: &User,
    provider: Provider,
    req: &CheckoutRequest,
) -> Result<NewCheckout, AppError> {
    let mut conn = state.db.acquire().await?;
    let mut check = FieldCheck::default();
    let kind = match req.kind.as_str() {
        "subscription" => "subscription",
        "ppv" => "ppv",
        "tip" => "tip",
        _ => {
            check.add("kind", "must be subscription, ppv or tip");
            check.finish()?;
            return Err(AppError::BadRequest("kind".into()));
        }
    };
    let grace = state.settings.content.subscription_grace.0;
    let (creator, post_id, amount, message) = match kind {
        "ppv" => {
            let Some(post) = req.post_id.as_deref().and_then(|p| Uuid::parse_str(p).ok()) else {
                check.add("post_id", "must be the id of a pay-per-view post");
                check.finish()?;
                return Err(AppError::BadRequest("post_id".into()));
            };
            let Some((creator_id, price)) = super::db::ppv_post(&mut conn, post).await? else {
                check.add("post_id", "is not a pay-per-view post on sale");
                check.finish()?;
                return Err(AppError::BadRequest("post_id".into()));
            };
            let creator = creators::by_user(&mut *conn, creator_id)
                .await?
                .ok_or(AppError::NotFound)?;
            if super::db::bought(&mut conn, fan.id.0, post).await? {
                return Err(AppError::Conflict("you already bought this post".into()));
            }
            (creator, Some(post), price, None)
        }
        _ => {
            let creator = creator_of(&mut conn, req.creator.as_deref(), &mut check).await?;
            let Some(creator) = creator else {
                check.finish()?;
                return Err(AppError::BadRequest("creator".into()));
            };
            if kind == "subscription" {
                if super::db::subscribed(&mut conn, fan.id.0, creator.user_id, grace).await? {
                    return Err(AppError::Conflict(
                        "you already subscribe to this creator".into(),
                    ));
                }
                (creator.clone(), None, creator.price_minor, None)
            } else {
                let (min, max) = (
                    state.settings.billing.tip_min,
                    state.settings.billing.tip_max,
                );
                let amount = match req.amount_minor {
                    Some(a) if a >= i64::from(min) && a <= i64::from(max) => {
                        i32::try_from(a).unwrap_or(0)
                    }
                    _ => {
                        check.add("amount_minor", format!("must be between {min} and {max}"));
                        0
                    }
                };
                let message = req
                    .message
                    .as_deref()
                    .and_then(|m| check.text("message", m, MAX_TIP_MESSAGE, false))
                    .filter(|m| !m.is_empty());
                (creator, None, amount, message)
            }
        }
    };
    if creator.user_id == fan.id.0 {
        check.add(
            if kind == "ppv" { "post_id" } else { "creator" },
            "is your own",
        );
    }
    check.finish()?;
    let c = NewCheckout {
        id: Uuid::now_v7(),
        kind,
        fan: fan.id.0,
        currency: creator.currency.clone(),
        creator,
        post_id,
        amount_minor: amount,
        message,
    };
    super::db::insert_checkout(&mut conn, provider.as_str(), &c).await?;
    Ok(c)
}

async fn creator_of(
    conn: &mut PgConnection,
    handle: Option<&str>,
    check: &mut FieldCheck,
) -> Result<Option<Creator>, AppError> {
    let Some(handle) = handle.filter(|h| !h.trim().is_empty()) else {
        check.add("creator", "is required");
        return Ok(None);
    };
    match creators::find(conn, handle).await {
        Ok(Found::Creator(c)) => Ok(Some(c)),
        Ok(Found::MovedTo(h)) => match creators::find(conn, &h).await {
            Ok(Found::Creator(c)) => Ok(Some(c)),
            _ => {
                check.add("creator", "no such creator");
                Ok(None)
            }
        },
        Err(AppError::NotFound) => {
            check.add("creator", "no such creator");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
