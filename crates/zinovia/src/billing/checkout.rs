//! Starting a checkout: what a fan pays for (a subscription, a pay-per-view post, a tip),
//! validated and recorded before the rail is asked for its payment page.

use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::types::{CheckoutId, CheckoutKind, CheckoutStatus, Provider, SessionMode};
use crate::accounts::{FieldCheck, User};
use crate::creators::{self, Creator, Found};
use crate::error::AppError;
use crate::state::AppState;

/// Longest tip message.
pub const MAX_TIP_MESSAGE: usize = 500;

/// What to pay for.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// `subscription`, `ppv`, `tip` or `message`.
    #[serde(default)]
    #[schema(value_type = CheckoutKind)]
    pub kind: String,
    /// The creator's handle (subscriptions and tips).
    #[serde(default)]
    #[schema(pattern = "^@?[A-Za-z0-9_]{3,30}$")]
    pub creator: Option<String>,
    /// The pay-per-view post.
    #[serde(default)]
    #[schema(format = Uuid)]
    pub post_id: Option<String>,
    /// The paid message to unlock (kind `message`).
    #[serde(default)]
    #[schema(format = Uuid)]
    pub message_id: Option<String>,
    /// The tip, in minor units of the creator's currency (`TIP_MIN`–`TIP_MAX`).
    #[serde(default)]
    pub amount_minor: Option<i64>,
    /// A note with the tip (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub message: Option<String>,
    /// The rail to pay on, one of the platform's (`PAYMENT_PROVIDERS`); absent: the
    /// platform's default (the first).
    #[serde(default)]
    #[schema(value_type = Option<Provider>)]
    pub provider: Option<String>,
}

/// A checkout as recorded, ready for the rail.
#[derive(Debug, Clone)]
pub struct NewCheckout {
    /// Ours (the rail's `client_reference_id`).
    pub id: CheckoutId,
    /// The rail it is paid on.
    pub provider: Provider,
    /// What it pays for.
    pub kind: CheckoutKind,
    /// Who pays.
    pub fan: Uuid,
    /// Who is paid.
    pub creator: Creator,
    /// The post bought.
    pub post_id: Option<Uuid>,
    /// The paid message unlocked.
    pub message_id: Option<Uuid>,
    /// Amount.
    pub amount_minor: i32,
    /// Currency.
    pub currency: String,
    /// Tip message.
    pub message: Option<String>,
    /// The free trial this subscription gets: the creator's, unless the fan subscribed to
    /// them before (a trial is given once per fan and creator).
    pub trial_days: i32,
    /// The creator's account at the rail the money is routed to: theirs once it can take
    /// charges; until then the platform holds it for them (ADR 0020).
    pub destination: Option<String>,
}

/// Starts paying: records the checkout and asks the rail for its payment page. Answers the
/// checkout and where to send the fan.
pub async fn start(
    state: &AppState,
    fan: &User,
    req: &CheckoutRequest,
) -> Result<(NewCheckout, String), AppError> {
    let provider = rail(state, req.provider.as_deref())?;
    let c = record(state, fan, provider, req).await?;
    let url = match provider {
        Provider::Simulated => {
            super::db::set_session(&state.db, c.id, &format!("cs_sim_{}", c.id.0.simple())).await?;
            state.settings.link(&super::simulated::checkout_path(c.id))
        }
        Provider::Ccbill => match super::ccbill::form_url(&state.settings.billing, &c) {
            Ok(url) => url.to_string(),
            Err(e) => {
                super::db::checkout_failed(&state.db, c.id).await?;
                return Err(AppError::Internal(e.into()));
            }
        },
        Provider::Stripe => match stripe_session(state, fan, &c).await {
            Ok((_, url)) => url,
            Err(e) => {
                // Nothing was sold: the checkout ends failed rather than open forever.
                super::db::checkout_failed(&state.db, c.id).await?;
                return Err(e);
            }
        },
    };
    Ok((c, url))
}

/// The rail a fan chose (one of the platform's), or the platform's default.
pub fn rail(state: &AppState, chosen: Option<&str>) -> Result<Provider, AppError> {
    let b = &state.settings.billing;
    match chosen.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(b.default_rail()),
        Some(p) => Provider::parse(p).filter(|p| b.enabled(*p)).ok_or_else(|| {
            let names: Vec<&str> = b.payment_providers.iter().map(|p| p.as_str()).collect();
            AppError::field("provider", format!("must be one of: {}", names.join(", ")))
        }),
    }
}

/// Where the rail sends the fan back: the checkout's own page (with `?outcome=cancel` when
/// they gave up).
pub fn return_path(id: CheckoutId, canceled: bool) -> String {
    if canceled {
        format!("/checkout/{id}?outcome=cancel")
    } else {
        format!("/checkout/{id}")
    }
}

/// How far a fan's checkout has come, for the page the rail sends them back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Not paid yet, or paid but what it pays for is not granted yet (the rail's events are
    /// handled one by one, in any order).
    Waiting,
    /// Paid, and what it pays for is there (the subscription grants access, the post is
    /// bought; a tip needs nothing more).
    Granted,
    /// It will not be paid: failed, expired, closed or refused.
    Failed,
}

/// A fan's checkout (on any rail) and how far it has come (404 when it is not theirs).
pub async fn progress(
    state: &AppState,
    fan: &User,
    id: CheckoutId,
) -> Result<(super::db::Checkout, Progress), AppError> {
    let c = super::db::fans_checkout(&state.db, id, fan.id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    let progress = match c.status {
        CheckoutStatus::Open => Progress::Waiting,
        CheckoutStatus::Failed
        | CheckoutStatus::Expired
        | CheckoutStatus::Canceled
        | CheckoutStatus::Refused => Progress::Failed,
        CheckoutStatus::Completed => {
            let mut conn = state.db.acquire().await?;
            let granted = match (c.kind, c.post_id) {
                (CheckoutKind::Subscription, _) => {
                    let grace = state.settings.content.subscription_grace.0;
                    super::db::subscribed(&mut conn, c.fan_id, c.creator_id, grace).await?
                }
                (CheckoutKind::Ppv, Some(post)) => {
                    super::db::bought(&mut conn, c.fan_id, post).await?
                }
                (CheckoutKind::Ppv, None) => false,
                (CheckoutKind::Tip, _) => true,
                (CheckoutKind::Message, _) => match c.message_id {
                    Some(m) => super::db::message_bought(&mut conn, c.fan_id, m).await?,
                    None => false,
                },
            };
            if granted {
                Progress::Granted
            } else {
                Progress::Waiting
            }
        }
    };
    Ok((c, progress))
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
    let Some(kind) = CheckoutKind::parse(&req.kind) else {
        check.add("kind", "must be subscription, ppv, tip or message");
        check.finish()?;
        return Err(AppError::BadRequest("kind".into()));
    };
    // The field a problem with who is paid is reported on.
    let paid_field = match kind {
        CheckoutKind::Ppv => "post_id",
        CheckoutKind::Message => "message_id",
        _ => "creator",
    };
    let mut message_id = None;
    let grace = state.settings.content.subscription_grace.0;
    let (creator, post_id, amount, currency, message, trial_days) = match kind {
        CheckoutKind::Ppv => {
            let Some(post) = req.post_id.as_deref().and_then(|p| Uuid::parse_str(p).ok()) else {
                check.add("post_id", "must be the id of a pay-per-view post");
                check.finish()?;
                return Err(AppError::BadRequest("post_id".into()));
            };
            // The price and currency are the post's own, as shown on it: a creator who
            // changes their currency later does not change what a post costs.
            let Some(offer) = crate::posts::ppv_offer(&mut conn, post).await? else {
                check.add("post_id", "is not a pay-per-view post on sale");
                check.finish()?;
                return Err(AppError::BadRequest("post_id".into()));
            };
            let creator = creators::by_user(&mut *conn, offer.creator_id)
                .await?
                .ok_or(AppError::NotFound)?;
            if super::db::bought(&mut conn, fan.id.0, post).await? {
                return Err(AppError::Conflict("you already bought this post".into()));
            }
            let price = i32::try_from(offer.price.minor).unwrap_or(i32::MAX);
            (creator, Some(post), price, offer.price.currency, None, 0)
        }
        CheckoutKind::Message => {
            let Some(message) = req
                .message_id
                .as_deref()
                .and_then(|p| Uuid::parse_str(p).ok())
            else {
                check.add("message_id", "must be the id of a paid message to you");
                check.finish()?;
                return Err(AppError::BadRequest("message_id".into()));
            };
            // The price is the message's own; only its recipient may buy it.
            let Some((creator_id, price)) =
                crate::messages::message_offer(&mut conn, message, fan.id.0).await?
            else {
                check.add("message_id", "is not a paid message to you on sale");
                check.finish()?;
                return Err(AppError::BadRequest("message_id".into()));
            };
            let creator = creators::by_user(&mut *conn, creator_id)
                .await?
                .ok_or(AppError::NotFound)?;
            if super::db::message_bought(&mut conn, fan.id.0, message).await? {
                return Err(AppError::Conflict(
                    "you already unlocked this message".into(),
                ));
            }
            message_id = Some(message);
            let amount = i32::try_from(price.minor).unwrap_or(i32::MAX);
            (creator, None, amount, price.currency, None, 0)
        }
        CheckoutKind::Subscription | CheckoutKind::Tip => {
            let creator = creator_of(&mut conn, req.creator.as_deref(), &mut check).await?;
            let Some(creator) = creator else {
                check.finish()?;
                return Err(AppError::BadRequest("creator".into()));
            };
            let currency = creator.currency.clone();
            if kind == CheckoutKind::Subscription {
                if super::db::subscribed(&mut conn, fan.id.0, creator.user_id, grace).await? {
                    return Err(AppError::Conflict(
                        "you already subscribe to this creator".into(),
                    ));
                }
                // CCBill's forms here bill from the first day: no free trial on it (ADR 0022).
                let trial = if provider == Provider::Ccbill {
                    0
                } else {
                    trial_days_for(&mut conn, fan.id.0, &creator).await?
                };
                (
                    creator.clone(),
                    None,
                    creator.price_minor,
                    currency,
                    None,
                    trial,
                )
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
                (creator, None, amount, currency, message, 0)
            }
        }
    };
    if creator.user_id == fan.id.0 {
        check.add(paid_field, "is your own");
    } else if !crate::verification::may_sell(state, creator.user_id).await? {
        check.add(
            paid_field,
            "cannot be paid yet: the creator's identity is not verified",
        );
    }
    check.finish()?;
    // Held by the platform (no destination) where the rail does not split payments.
    let destination = if state.settings.billing.splits(provider) {
        super::db::payout_destination(&mut conn, creator.user_id, provider).await?
    } else {
        None
    };
    let c = NewCheckout {
        id: CheckoutId(Uuid::now_v7()),
        provider,
        kind,
        fan: fan.id.0,
        currency,
        creator,
        post_id,
        message_id,
        amount_minor: amount,
        message,
        trial_days,
        destination,
    };
    drop(conn);
    let mut tx = state.db.begin().await?;
    // Both accounts are locked (shared) while the checkout is written: a deletion running
    // now either closed them already (seen here) or waits, and then closes this checkout.
    if !crate::accounts::lock_open(&mut tx, &[c.fan, c.creator.user_id]).await? {
        return Err(AppError::field(paid_field, "is no longer available"));
    }
    if kind == CheckoutKind::Subscription {
        // One open subscription checkout per fan and creator: an older one is closed, so a
        // trial decided when it started cannot be collected twice.
        let replaced = super::db::cancel_open_checkouts(
            &mut tx,
            c.fan,
            Some(c.creator.user_id),
            "replaced by a newer checkout",
        )
        .await?;
        super::service::expire_at_rail(&mut tx, replaced).await?;
    }
    super::db::insert_checkout(&mut tx, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Whether one of `fan`'s subscriptions to `creator` grants access now (the one
/// definition, `subscription_grants`).
pub async fn subscribed(
    conn: &mut PgConnection,
    settings: &crate::config::Settings,
    fan: Uuid,
    creator: Uuid,
) -> Result<bool, sqlx::Error> {
    let grace = settings.content.subscription_grace.0;
    super::db::subscribed(conn, fan, creator, grace).await
}

/// The free trial `fan` gets on subscribing to `creator`: the creator's trial, once per fan
/// and creator (none for a fan who held a subscription to them before, on any rail).
pub async fn trial_days_for(
    conn: &mut PgConnection,
    fan: Uuid,
    creator: &Creator,
) -> Result<i32, sqlx::Error> {
    if creator.trial_days == 0 || super::db::subscribed_before(conn, fan, creator.user_id).await? {
        Ok(0)
    } else {
        Ok(creator.trial_days)
    }
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

/// Opens a Stripe Checkout Session for a recorded checkout: the fan's customer, the
/// creator's monthly price (a new Price when the amount changed; subscribers keep theirs),
/// the creator's share routed to their Connect account when it can take charges (the
/// platform fee kept), our ids in the metadata. Returns the session's id and URL.
pub async fn stripe_session(
    state: &AppState,
    fan: &User,
    c: &NewCheckout,
) -> Result<(String, String), AppError> {
    use super::stripe::{Form, Stripe, field};
    let b = &state.settings.billing;
    let stripe = Stripe::new(b.stripe_api_base.clone(), b.stripe_secret_key.as_ref())
        .map_err(|e| AppError::Internal(e.into()))?;
    let refused = |e: super::stripe::StripeError| {
        tracing::error!(error = %e, checkout = %c.id, "Stripe refused or failed a checkout call");
        AppError::Unavailable
    };
    let mut conn = state.db.acquire().await?;
    let provider = Provider::Stripe;
    let customer = match super::db::customer_of(&mut conn, fan.id.0, provider).await? {
        Some(id) => id,
        None => {
            let mut f = Form::new();
            field(&mut f, "email", &fan.email);
            field(&mut f, "name", &fan.display_name);
            field(&mut f, "metadata[user_id]", fan.id.0);
            let (id, _) = stripe
                .create("/v1/customers", &format!("customer-{}", fan.id.0), &f)
                .await
                .map_err(refused)?;
            super::db::save_customer(&mut conn, fan.id.0, provider, &id).await?;
            id
        }
    };
    let creator = &c.creator;
    let destination = c.destination.as_deref();
    let currency = c.currency.to_ascii_lowercase();
    let fee = b.platform_fee_percent;
    let done = |canceled: bool| state.settings.link(&return_path(c.id, canceled));
    let mut f = Form::new();
    field(&mut f, "customer", &customer);
    field(&mut f, "client_reference_id", c.id);
    field(&mut f, "success_url", done(false));
    field(&mut f, "cancel_url", done(true));
    field(&mut f, "metadata[checkout_id]", c.id);
    field(&mut f, "metadata[fan_id]", c.fan);
    field(&mut f, "metadata[creator_id]", creator.user_id);
    if c.kind == CheckoutKind::Subscription {
        let price = match super::db::creator_price(
            &mut conn,
            creator.user_id,
            provider,
            c.amount_minor,
            &c.currency,
        )
        .await?
        {
            Some(p) => p,
            None => {
                let product =
                    match super::db::creator_product(&mut conn, creator.user_id, provider).await? {
                        Some(p) => p,
                        None => {
                            let mut p = Form::new();
                            field(
                                &mut p,
                                "name",
                                format!(
                                    "{} (@{}) — monthly subscription",
                                    creator.display_name, creator.handle
                                ),
                            );
                            field(&mut p, "metadata[creator_id]", creator.user_id);
                            stripe
                                .create("/v1/products", &format!("product-{}", creator.user_id), &p)
                                .await
                                .map_err(refused)?
                                .0
                        }
                    };
                let mut p = Form::new();
                field(&mut p, "product", &product);
                field(&mut p, "unit_amount", c.amount_minor);
                field(&mut p, "currency", &currency);
                field(&mut p, "recurring[interval]", "month");
                let (price, _) = stripe
                    .create(
                        "/v1/prices",
                        &format!("price-{}-{}-{}", creator.user_id, c.amount_minor, currency),
                        &p,
                    )
                    .await
                    .map_err(refused)?;
                super::db::save_price(
                    &mut conn,
                    creator.user_id,
                    provider,
                    c.amount_minor,
                    &c.currency,
                    &product,
                    &price,
                )
                .await?;
                price
            }
        };
        field(&mut f, "mode", SessionMode::Subscription);
        field(&mut f, "line_items[0][price]", &price);
        field(&mut f, "line_items[0][quantity]", 1);
        field(&mut f, "subscription_data[metadata][fan_id]", c.fan);
        field(
            &mut f,
            "subscription_data[metadata][creator_id]",
            creator.user_id,
        );
        // A returning fan gets no trial: the field is left out, not sent as 0.
        if c.trial_days > 0 {
            field(&mut f, "subscription_data[trial_period_days]", c.trial_days);
        }
        if let Some(account) = destination {
            field(&mut f, "subscription_data[application_fee_percent]", fee);
            field(
                &mut f,
                "subscription_data[transfer_data][destination]",
                account,
            );
        }
    } else {
        let name = match c.kind {
            CheckoutKind::Ppv => format!("A post by @{}", creator.handle),
            CheckoutKind::Message => format!("A message from @{}", creator.handle),
            _ => format!("A tip for @{}", creator.handle),
        };
        field(&mut f, "mode", SessionMode::Payment);
        field(&mut f, "line_items[0][price_data][currency]", &currency);
        field(
            &mut f,
            "line_items[0][price_data][unit_amount]",
            c.amount_minor,
        );
        field(
            &mut f,
            "line_items[0][price_data][product_data][name]",
            name,
        );
        field(&mut f, "line_items[0][quantity]", 1);
        field(&mut f, "payment_intent_data[metadata][checkout_id]", c.id);
        if let Some(account) = destination {
            field(
                &mut f,
                "payment_intent_data[application_fee_amount]",
                super::service::platform_fee(i64::from(c.amount_minor), fee),
            );
            field(
                &mut f,
                "payment_intent_data[transfer_data][destination]",
                account,
            );
        }
    }
    let (session, url) = stripe
        .create("/v1/checkout/sessions", &format!("checkout-{}", c.id), &f)
        .await
        .map_err(refused)?;
    let url = url.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("Stripe answered a session without a URL"))
    })?;
    super::db::set_session(&mut *conn, c.id, &session).await?;
    Ok((session, url))
}
