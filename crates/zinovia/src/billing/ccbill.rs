//! CCBill (ADR 0022): its hosted payment form (FlexForms "dynamic pricing": the price fields
//! signed with an MD5 digest over them and the account's salt, so a fan cannot edit them),
//! its webhooks (unsigned: accepted only at a secret URL from CCBill's addresses) read into
//! our events, and cancelling a subscription through DataLink. The only place that knows
//! CCBill's shapes.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use md5::{Digest, Md5};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;

use super::checkout::NewCheckout;
use super::events::{CheckoutOutcome, Event, InvoiceState, Reversal, Routing, SubscriptionState};
use super::types::{CheckoutKind, SubscriptionStatus};
use crate::config::BillingSettings;

/// Days of a subscription's period (and of a one-off sale's period at CCBill; what it
/// bought is the fan's for good here).
pub const PERIOD_DAYS: u32 = 30;

/// Rebills of a subscription: CCBill's "until canceled".
pub const REBILLS: u32 = 99;

/// ISO 4217 numeric code of a currency CCBill bills in.
pub fn numeric_currency(alpha: &str) -> Option<&'static str> {
    CURRENCIES
        .iter()
        .find(|(a, _)| *a == alpha)
        .map(|(_, n)| *n)
}

/// The currency of an ISO 4217 numeric code CCBill bills in.
pub fn alpha_currency(numeric: &str) -> Option<&'static str> {
    CURRENCIES
        .iter()
        .find(|(_, n)| *n == numeric)
        .map(|(a, _)| *a)
}

const CURRENCIES: [(&str, &str); 6] = [
    ("USD", "840"),
    ("EUR", "978"),
    ("GBP", "826"),
    ("CAD", "124"),
    ("AUD", "036"),
    ("JPY", "392"),
];

/// CCBill's form digest: MD5 (lower-case hex) of the fields as sent, concatenated, then
/// the salt.
pub fn digest(fields: &[&str], salt: &str) -> String {
    let mut h = Md5::new();
    for f in fields {
        h.update(f.as_bytes());
    }
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

/// Why a checkout cannot be sent to CCBill.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// A setting is missing (production refuses to start without them).
    #[error("CCBill is not configured: {0}")]
    NotConfigured(&'static str),
    /// CCBill does not bill in this currency.
    #[error("CCBill does not bill in {0}")]
    Currency(String),
}

/// The payment page of a recorded checkout: the FlexForm with the price (and for a
/// subscription the monthly rebill) and their digest, and our ids passed through (CCBill
/// returns them as `X-zinovia_…` in its webhooks).
pub fn form_url(b: &BillingSettings, c: &NewCheckout) -> Result<Url, FormError> {
    let need = |v: Option<&String>, name| v.cloned().ok_or(FormError::NotConfigured(name));
    let flex = need(b.ccbill_flexform_id.as_ref(), "CCBILL_FLEXFORM_ID")?;
    let salt = b
        .ccbill_salt
        .as_ref()
        .ok_or(FormError::NotConfigured("CCBILL_SALT"))?;
    let mut url = b
        .ccbill_form_base
        .join(&flex)
        .map_err(|_| FormError::NotConfigured("CCBILL_FORM_BASE"))?;
    let currency =
        numeric_currency(&c.currency).ok_or_else(|| FormError::Currency(c.currency.clone()))?;
    let price = crate::money::decimal(i64::from(c.amount_minor));
    let period = PERIOD_DAYS.to_string();
    let mut q: Vec<(&str, String)> = vec![
        (
            "clientAccnum",
            need(b.ccbill_client_accnum.as_ref(), "CCBILL_CLIENT_ACCNUM")?,
        ),
        (
            "clientSubacc",
            need(b.ccbill_client_subacc.as_ref(), "CCBILL_CLIENT_SUBACC")?,
        ),
        ("initialPrice", price.clone()),
        ("initialPeriod", period.clone()),
    ];
    let form_digest = if c.kind == CheckoutKind::Subscription {
        let rebills = REBILLS.to_string();
        let d = digest(
            &[&price, &period, &price, &period, &rebills, currency],
            salt.expose_secret(),
        );
        q.push(("recurringPrice", price));
        q.push(("recurringPeriod", period));
        q.push(("numRebills", rebills));
        d
    } else {
        digest(&[&price, &period, currency], salt.expose_secret())
    };
    q.push(("currencyCode", currency.to_owned()));
    q.push(("formDigest", form_digest));
    q.push(("zinovia_checkout", c.id.to_string()));
    q.push(("zinovia_fan", c.fan.to_string()));
    q.push(("zinovia_creator", c.creator.user_id.to_string()));
    url.query_pairs_mut().extend_pairs(q);
    Ok(url)
}

/// A webhook's fields as one object (CCBill posts form-encoded or JSON bodies, per
/// endpoint), with the `eventType` of its query.
pub fn fields(event_type: &str, json: bool, body: &[u8]) -> Result<Map<String, Value>, String> {
    let mut f = if json {
        match serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))? {
            Value::Object(o) => o,
            _ => return Err("not a JSON object".into()),
        }
    } else {
        url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    };
    f.insert("eventType".into(), Value::String(event_type.to_owned()));
    Ok(f)
}

/// The key a webhook is recorded under: CCBill gives no event id, so its type, the
/// subscription, the transaction and the time (a redelivery repeats all four).
pub fn event_id(f: &Map<String, Value>) -> String {
    let s = |k| text(f, k).unwrap_or_default();
    format!(
        "{}:{}:{}:{}",
        s("eventType"),
        s("subscriptionId"),
        s("transactionId"),
        s("timestamp")
    )
}

/// A field as text (CCBill's JSON sends every value as a string; numbers are read too).
fn text(f: &Map<String, Value>, key: &str) -> Option<String> {
    match f.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A decimal amount (`9.99`) in minor units.
fn minor(f: &Map<String, Value>, key: &str) -> Option<i64> {
    crate::money::minor_units(&text(f, key)?)
}

fn currency(f: &Map<String, Value>, key: &str) -> Option<String> {
    alpha_currency(&text(f, key)?).map(str::to_owned)
}

fn uuid(f: &Map<String, Value>, key: &str) -> Option<Uuid> {
    Uuid::parse_str(&text(f, key)?).ok()
}

/// A date (`2026-12-31`) as the start of that day, UTC.
fn date(f: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(&text(f, key)?, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Until when a subscription is paid, from its `nextRenewalDate`: CCBill rebills during
/// that day and tells us afterwards, so the period runs to the end of the day after it
/// (without that margin every renewal would lock its fan out from midnight until CCBill's
/// webhook arrives).
fn paid_until(f: &Map<String, Value>) -> Option<DateTime<Utc>> {
    Some(date(f, "nextRenewalDate")? + chrono::Duration::days(RENEWAL_MARGIN_DAYS))
}

/// Days from the start of `nextRenewalDate` to the end of a paid period: that day and the
/// next.
pub const RENEWAL_MARGIN_DAYS: i64 = 2;

/// When the event happened (`timestamp`, `2026-12-03 14:05:00`, read as UTC).
pub fn occurred(f: &Map<String, Value>) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(&text(f, "timestamp")?, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(t.and_utc())
}

/// CCBill's webhook in our events, in the order they apply (a sale of a subscription is
/// the subscription, its first payment, then the checkout paid). Anything unreadable or of
/// a type we do not act on is ignored.
pub fn translate(f: &Map<String, Value>) -> Vec<Event> {
    read(f).unwrap_or_else(|| vec![Event::Ignored])
}

fn read(f: &Map<String, Value>) -> Option<Vec<Event>> {
    let kind = text(f, "eventType")?;
    let sub = text(f, "subscriptionId");
    Some(match kind.as_str() {
        "NewSaleSuccess" => {
            let sub = sub?;
            let initial =
                minor(f, "subscriptionInitialPrice").or_else(|| minor(f, "billedInitialPrice"))?;
            let currency = currency(f, "subscriptionCurrencyCode")
                .or_else(|| currency(f, "billedCurrencyCode"))?;
            let recurring = minor(f, "subscriptionRecurringPrice")
                .or_else(|| minor(f, "billedRecurringPrice"))
                .filter(|p| *p > 0);
            let paid = |subscription: Option<String>, payment: Option<String>| {
                Event::CheckoutPaid(CheckoutOutcome {
                    session_id: sub.clone(),
                    checkout: uuid(f, "X-zinovia_checkout"),
                    customer: None,
                    subscription,
                    payment,
                    amount_minor: initial,
                    currency: currency.clone(),
                })
            };
            match recurring {
                Some(price) => {
                    let period_end = paid_until(f);
                    let transaction = text(f, "transactionId")?;
                    vec![
                        Event::Subscription(SubscriptionState {
                            id: sub.clone(),
                            customer: None,
                            status: SubscriptionStatus::Active,
                            current_period_end: period_end,
                            cancel_at_period_end: false,
                            fan: uuid(f, "X-zinovia_fan"),
                            creator: uuid(f, "X-zinovia_creator"),
                            price_minor: Some(price),
                            currency: Some(currency.clone()),
                            routing: Routing::Platform,
                        }),
                        Event::InvoicePaid(InvoiceState {
                            id: transaction.clone(),
                            subscription: Some(sub.clone()),
                            payment: Some(transaction),
                            amount_paid: initial,
                            currency: currency.clone(),
                            period_end,
                            routing: Routing::Platform,
                        }),
                        paid(Some(sub.clone()), None),
                    ]
                }
                None => vec![paid(None, Some(sub.clone()))],
            }
        }
        "NewSaleFailure" => vec![Event::CheckoutFailed(CheckoutOutcome {
            session_id: text(f, "transactionId")?,
            checkout: uuid(f, "X-zinovia_checkout"),
            customer: None,
            subscription: None,
            payment: None,
            amount_minor: 0,
            currency: String::new(),
        })],
        "RenewalSuccess" => {
            let transaction = text(f, "transactionId")?;
            vec![Event::InvoicePaid(InvoiceState {
                id: transaction.clone(),
                subscription: Some(sub?),
                payment: Some(transaction),
                amount_paid: minor(f, "billedAmount")?,
                currency: currency(f, "billedCurrencyCode")?,
                period_end: paid_until(f),
                routing: Routing::Platform,
            })]
        }
        "RenewalFailure" => vec![Event::InvoiceFailed(InvoiceState {
            id: text(f, "transactionId")?,
            subscription: Some(sub?),
            payment: None,
            amount_paid: 0,
            currency: String::new(),
            period_end: None,
            routing: Routing::Unstated,
        })],
        "Cancellation" => vec![Event::Canceling { subscription: sub? }],
        "Expiration" => vec![Event::Expired { subscription: sub? }],
        "Refund" | "Void" | "Chargeback" => {
            let transaction = text(f, "transactionId")?;
            let r = Reversal {
                // One refund per transaction and time: a redelivery is the same refund.
                id: format!("{transaction}:{}", text(f, "timestamp").unwrap_or_default()),
                charge: Some(transaction),
                payment_intent: sub.clone(),
                subscription: sub,
                amount_minor: minor(f, "amount")?,
                currency: currency(f, "currencyCode")?,
                cumulative: false,
            };
            if kind == "Chargeback" {
                vec![Event::Disputed(r)]
            } else {
                vec![Event::Refunded(r)]
            }
        }
        _ => vec![Event::Ignored],
    })
}

/// A DataLink call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DataLinkError {
    /// Not reachable, or an unreadable answer.
    #[error("CCBill's DataLink is unreachable: {0}")]
    Transport(String),
    /// DataLink answered an error code (`-3`: no such subscription; `-8`: our address is not
    /// allowed; …).
    #[error("CCBill's DataLink refused the call (result {0})")]
    Refused(i32),
    /// Not configured.
    #[error("CCBill's DataLink is not configured: {0}")]
    NotConfigured(&'static str),
}

/// Cancels a subscription at CCBill (no further rebill; it expires at the period's end),
/// through DataLink's `cancelSubscription`. CCBill then sends its `Cancellation` webhook.
pub async fn cancel(b: &BillingSettings, subscription: &str) -> Result<(), DataLinkError> {
    let need = |v: Option<&String>, name| v.cloned().ok_or(DataLinkError::NotConfigured(name));
    let password = b
        .ccbill_datalink_password
        .as_ref()
        .ok_or(DataLinkError::NotConfigured("CCBILL_DATALINK_PASSWORD"))?;
    let query = [
        (
            "clientAccnum",
            need(b.ccbill_client_accnum.as_ref(), "CCBILL_CLIENT_ACCNUM")?,
        ),
        (
            "clientSubacc",
            need(b.ccbill_client_subacc.as_ref(), "CCBILL_CLIENT_SUBACC")?,
        ),
        (
            "username",
            need(
                b.ccbill_datalink_username.as_ref(),
                "CCBILL_DATALINK_USERNAME",
            )?,
        ),
        ("password", password.expose_secret().to_owned()),
        ("action", "cancelSubscription".to_owned()),
        ("subscriptionId", subscription.to_owned()),
        ("returnXML", "1".to_owned()),
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| DataLinkError::Transport(e.to_string()))?;
    // The URL carries the password: errors name neither.
    let answer = http
        .get(b.ccbill_datalink_url.clone())
        .query(&query)
        .send()
        .await
        .map_err(|e| DataLinkError::Transport(e.without_url().to_string()))?
        .text()
        .await
        .map_err(|e| DataLinkError::Transport(e.without_url().to_string()))?;
    match result_code(&answer) {
        Some(1) => Ok(()),
        Some(code) => Err(DataLinkError::Refused(code)),
        None => Err(DataLinkError::Transport(
            "an answer without a result code".into(),
        )),
    }
}

/// DataLink's result: `<results>1</results>` (XML), or `"results"` then `"1"` (CSV).
fn result_code(answer: &str) -> Option<i32> {
    if let Some(start) = answer.find("<results>") {
        let rest = &answer[start + "<results>".len()..];
        let end = rest.find("</results>")?;
        return rest[..end].trim().parse().ok();
    }
    answer
        .lines()
        .map(|l| l.trim().trim_matches('"'))
        .skip_while(|l| *l != "results")
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_are_the_documented_ones() {
        // CCBill's FlexForms examples: single billing, and recurring.
        let salt = "7d901dad245fd0ff6bc20d06";
        assert_eq!(
            digest(&["10.00", "30", "840"], salt),
            "a7459445d0e5dc0963fe736dc5cf900b"
        );
        assert_eq!(
            digest(&["10.00", "30", "10.00", "30", "99", "840"], salt),
            "48f0b12e4307e64edb781c479665c899"
        );
        assert_eq!(numeric_currency("AUD"), Some("036"));
        assert_eq!(alpha_currency("978"), Some("EUR"));
        assert_eq!(numeric_currency("XYZ"), None);
    }

    #[test]
    fn datalink_results_are_read_in_both_formats() {
        assert_eq!(
            result_code("<?xml version='1.0' standalone='yes'?>\n<results>1</results>\n"),
            Some(1)
        );
        assert_eq!(result_code("\"results\"\n\"-3\"\n"), Some(-3));
        assert_eq!(result_code("Internal error"), None);
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_subscription_sale_is_the_subscription_its_first_payment_and_the_checkout() {
        let checkout = Uuid::now_v7();
        let f = object(
            json!({"eventType": "NewSaleSuccess", "subscriptionId": "0117240102000000049",
            "transactionId": "0912191101000000159", "timestamp": "2026-12-03 10:00:00",
            "subscriptionInitialPrice": "9.99", "subscriptionRecurringPrice": "9.99",
            "subscriptionCurrencyCode": "840", "nextRenewalDate": "2027-01-02",
            "X-zinovia_checkout": checkout.to_string()}),
        );
        let events = translate(&f);
        assert_eq!(events.len(), 3);
        let Event::Subscription(s) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(s.id, "0117240102000000049");
        assert_eq!(s.price_minor, Some(999));
        assert_eq!(
            s.current_period_end.map(|t| t.to_rfc3339()),
            Some("2027-01-04T00:00:00+00:00".into()),
            "the end of the day after the renewal date"
        );
        let Event::InvoicePaid(i) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!((i.amount_paid, i.currency.as_str()), (999, "USD"));
        let Event::CheckoutPaid(c) = &events[2] else {
            panic!("{events:?}")
        };
        assert_eq!(c.checkout, Some(checkout));
        assert_eq!(occurred(&f).map(|t| t.timestamp()), Some(1_796_292_000));
        // Missing what it needs, or a type we do not act on: ignored.
        assert_eq!(
            translate(&object(json!({"eventType": "NewSaleSuccess"}))),
            [Event::Ignored]
        );
        assert_eq!(
            translate(&object(
                json!({"eventType": "CustomerDataUpdate", "subscriptionId": "1"})
            )),
            [Event::Ignored]
        );
    }

    #[test]
    fn form_and_json_bodies_read_alike_and_redeliveries_share_their_key() {
        let form = fields(
            "Expiration",
            false,
            b"subscriptionId=42&timestamp=2026-12-03+10%3A00%3A00&clientAccnum=900100",
        )
        .unwrap_or_default();
        let json = fields(
            "Expiration",
            true,
            br#"{"subscriptionId": "42", "timestamp": "2026-12-03 10:00:00", "clientAccnum": "900100"}"#,
        )
        .unwrap_or_default();
        assert_eq!(event_id(&form), event_id(&json));
        assert_eq!(event_id(&form), "Expiration:42::2026-12-03 10:00:00");
        assert_eq!(
            translate(&form),
            [Event::Expired {
                subscription: "42".into()
            }]
        );
        assert!(fields("Expiration", true, b"[1]").is_err());
    }
}
