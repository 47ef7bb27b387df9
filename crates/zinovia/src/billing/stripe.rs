//! A small typed client for the few Stripe calls we make (ADR 0014): customers, a product
//! and monthly price per creator and amount, Checkout Sessions, the customer portal, and
//! Connect accounts with their onboarding links. Form-encoded, `Stripe-Version` pinned,
//! and every call that creates something carries an idempotency key derived from our own
//! ids, so a retried request never creates a second object.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

/// The API version the translation in `events.rs` reads (subscription items carry the
/// period, invoices name their subscription under `parent`).
pub const API_VERSION: &str = "2025-03-31.basil";

/// A failed Stripe call.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Not reachable, or an unreadable answer.
    #[error("Stripe is unreachable: {0}")]
    Transport(String),
    /// Stripe refused the request.
    #[error("Stripe refused {path} ({status}): {message}")]
    Refused {
        /// The endpoint.
        path: String,
        /// HTTP status.
        status: u16,
        /// Stripe's message.
        message: String,
    },
    /// Not configured.
    #[error("STRIPE_SECRET_KEY is not set")]
    NoKey,
}

/// The client.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    base: Url,
    key: SecretString,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Form fields, in order.
pub type Form = Vec<(String, String)>;

/// Adds `key=value` to a form.
pub fn field(form: &mut Form, key: &str, value: impl ToString) {
    form.push((key.to_owned(), value.to_string()));
}

impl Stripe {
    /// A client for `base` with the secret key.
    pub fn new(base: Url, key: Option<&SecretString>) -> Result<Stripe, StripeError> {
        let key = key.ok_or(StripeError::NoKey)?.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StripeError::Transport(e.to_string()))?;
        Ok(Stripe { http, base, key })
    }

    /// POSTs a form; `idempotency` makes a retry return the first result.
    pub async fn post(
        &self,
        path: &str,
        idempotency: &str,
        form: &Form,
    ) -> Result<Value, StripeError> {
        let url = self.url(path)?;
        let request = self
            .http
            .post(url)
            .header("Idempotency-Key", idempotency)
            .form(form);
        self.send(path, request).await
    }

    /// DELETEs an object (Stripe's cancel of a subscription). DELETE is idempotent by
    /// definition, and Stripe ignores idempotency keys on it, so none is sent.
    pub async fn delete(&self, path: &str) -> Result<Value, StripeError> {
        let url = self.url(path)?;
        self.send(path, self.http.delete(url)).await
    }

    fn url(&self, path: &str) -> Result<Url, StripeError> {
        self.base
            .join(path)
            .map_err(|e| StripeError::Transport(e.to_string()))
    }

    async fn send(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, StripeError> {
        let r = request
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| StripeError::Transport(e.to_string()))?;
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .map_err(|e| StripeError::Transport(format!("unreadable answer from {path}: {e}")))?;
        if !status.is_success() {
            return Err(StripeError::Refused {
                path: path.to_owned(),
                status: status.as_u16(),
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or("no message")
                    .to_owned(),
            });
        }
        Ok(body)
    }

    /// POSTs and reads the created object's `id` (and `url`, when it has one).
    pub async fn create(
        &self,
        path: &str,
        idempotency: &str,
        form: &Form,
    ) -> Result<(String, Option<String>), StripeError> {
        let body = self.post(path, idempotency, form).await?;
        let id = body["id"]
            .as_str()
            .ok_or_else(|| StripeError::Transport(format!("{path} answered without an id")))?
            .to_owned();
        Ok((id, body["url"].as_str().map(str::to_owned)))
    }
}
