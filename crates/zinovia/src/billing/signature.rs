//! Webhook signatures in Stripe's scheme (the simulated provider signs the same way):
//! header `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, signature =
//! hex(HMAC-SHA256(secret, "<t>.<raw body>")). Every `v1` is tried (several appear while a
//! secret rotates), compared in constant time; other schemes (`v0`) are ignored; the
//! timestamp must be within the tolerance of now, either side.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Stripe's default tolerance, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature header.
    #[error("no Stripe-Signature header")]
    Missing,
    /// The header has no timestamp or no `v1` signature, or a part is not readable.
    #[error("the signature header is malformed")]
    Malformed,
    /// The timestamp is too far from now (a replay, or a clock far off).
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    /// No `v1` matches this body and secret.
    #[error("no signature matches the body")]
    Mismatch,
}

/// Verifies `header` over the raw `body` with `secret` at `now` (unix seconds).
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<[u8; 32]> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = Some(v),
            "v1" => {
                let mut sig = [0u8; 32];
                if hex::decode_to_slice(v, &mut sig).is_ok() {
                    signatures.push(sig);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    let t_secs: i64 = t.parse().map_err(|_| SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = sign_raw(secret, t, body);
    // Every candidate is compared, so the time taken does not depend on which matched.
    let matched = signatures
        .iter()
        .fold(0u8, |acc, s| acc | s.ct_eq(&expected).unwrap_u8());
    if matched != 1 {
        return Err(SignatureError::Mismatch);
    }
    if (now - t_secs).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The header value that signs `body` at `t` (the simulated provider's deliveries, tests).
pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    let sig = sign_raw(secret, &t.to_string(), body);
    format!("t={t},v1={}", hex::encode(sig))
}

fn sign_raw(secret: &str, t: &str, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; the error branch cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with Stripe's own library (stripe-python 16.1.0), see
    // ../shared/reference/testing-infrastructure.md §5a.
    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    const HEADER: &str =
        "t=1700000000,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";

    #[test]
    fn the_reference_vector_verifies_at_its_time_and_not_301_s_later() {
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, 1_700_000_000, 300),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, 1_700_000_300, 300),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, 1_700_000_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(HEADER), BODY, 1_699_999_699, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(header(SECRET, 1_700_000_000, BODY), HEADER);
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_a_missing_v1_fail() {
        let mut changed = BODY.to_vec();
        changed.push(b' ');
        assert_eq!(
            verify(SECRET, Some(HEADER), &changed, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("whsec_other", Some(HEADER), BODY, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        for bad in [
            "t=1700000000",
            "t=1700000000,v0=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150",
            "t=1700000000,v1=nothex",
            "v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150",
            "t=soon,v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150",
            "",
        ] {
            assert_eq!(
                verify(SECRET, Some(bad), BODY, 1_700_000_000, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(SECRET, None, BODY, 1_700_000_000, 300),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn any_v1_may_match_as_while_a_secret_rotates() {
        let other = header("whsec_previous", 1_700_000_000, BODY);
        let other_sig = other.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let both = format!(
            "t=1700000000,v1={other_sig},v1=4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150,v0=abc"
        );
        assert_eq!(
            verify(SECRET, Some(&both), BODY, 1_700_000_000, 300),
            Ok(())
        );
        assert_eq!(
            verify("whsec_previous", Some(&both), BODY, 1_700_000_000, 300),
            Ok(())
        );
    }
}
