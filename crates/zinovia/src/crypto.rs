//! The few cryptographic primitives the app uses: random tokens, SHA-256 fingerprints of
//! tokens (what the database stores), HMAC-SHA256 and constant-time comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random token: 256 bits from the OS CSPRNG, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token: what is stored, so a database leak yields no usable token.
pub fn fingerprint(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// HMAC-SHA256 of `message` under `key`, URL-safe base64.
pub fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(message);
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// A key that seals stored fields (AES-256-GCM), derived from `DATA_ENCRYPTION_KEY`.
#[derive(Clone)]
pub struct DataKey(ring::aead::LessSafeKey);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// The version byte that starts every sealed value (the key derivation and cipher).
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// A sealed value could not be opened: another key, another record, or altered bytes.
#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (wrong DATA_ENCRYPTION_KEY, or altered)")]
pub struct Unseal;

impl DataKey {
    /// The key of a secret (SHA-256 of it: the secret is long and random).
    pub fn from_secret(secret: &str) -> DataKey {
        let digest = Sha256::digest(secret.as_bytes());
        let unbound = match ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &digest) {
            Ok(k) => k,
            Err(_) => unreachable!("a SHA-256 digest is an AES-256 key"),
        };
        DataKey(ring::aead::LessSafeKey::new(unbound))
    }

    /// Seals `plain` bound to `context` (e.g. the owner's id: a sealed value copied to
    /// another record does not open there). A random nonce per value.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plain.to_vec();
        if self
            .0
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(context),
                &mut buf,
            )
            .is_err()
        {
            unreachable!("AES-GCM seals any value shorter than 64 GiB");
        }
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out
    }

    /// Opens what `seal` made with the same key and context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unseal> {
        let (version, rest) = sealed.split_first().ok_or(Unseal)?;
        if *version != SEALED_V1 || rest.len() < NONCE_LEN {
            return Err(Unseal);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unseal)?;
        let mut buf = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, ring::aead::Aad::from(context), &mut buf)
            .map_err(|_| Unseal)?;
        Ok(plain.to_vec())
    }
}

/// Compares two strings in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, random_token());
        assert_eq!(fingerprint(&a).len(), 32);
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = DataKey::from_secret("k".repeat(40).as_str());
        let a = key.seal(b"creator-1", b"DE89370400440532013000");
        let b = key.seal(b"creator-1", b"DE89370400440532013000");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(
            !a.windows(4).any(|w| w == b"DE89"),
            "the plain text is not stored"
        );
        assert_eq!(
            key.open(b"creator-1", &a).unwrap(),
            b"DE89370400440532013000"
        );
        assert!(key.open(b"creator-2", &a).is_err(), "another record");
        assert!(
            DataKey::from_secret("x".repeat(40).as_str())
                .open(b"creator-1", &a)
                .is_err()
        );
        let mut altered = a.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(b"creator-1", &altered).is_err());
        assert!(key.open(b"creator-1", &[]).is_err());
        assert!(key.open(b"creator-1", &a[..10]).is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_b64(b"Jefe", b"what do ya want for nothing?");
        let hex: String = URL_SAFE_NO_PAD
            .decode(mac)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
