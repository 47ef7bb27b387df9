//! Password hashing: Argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1) in PHC
//! strings, run off the async runtime with a cap on concurrent hashes (each holds 19 MiB);
//! the list of common passwords new passwords are checked against.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// The prefix every hash made now starts with.
pub const PHC_PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();

/// True when `lowercase` is on the shipped list of common passwords.
pub fn is_common(lowercase: &str) -> bool {
    COMMON
        .get_or_init(|| {
            include_str!("../../assets/data/common-passwords.txt")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .collect()
        })
        .contains(lowercase)
}

fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(MEMORY_KIB, ITERATIONS, LANES, None)?,
    ))
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches.
    pub ok: bool,
    /// The hash was made with other parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords on the blocking pool, a few at a time.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    dummy: Arc<OnceLock<String>>,
    /// Argon2 runs so far (hashes and verifications), for tests and diagnostics.
    runs: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// At most as many hashes at once as the machine has cores (at least 2).
    pub fn new() -> PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordHasher {
            slots: Arc::new(Semaphore::new(cores.max(2))),
            dummy: Arc::new(OnceLock::new()),
            runs: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// How many times Argon2 has run in this process (hashes and verifications).
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self.slots.acquire().await?;
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(f).await?
    }

    /// A PHC string for `password` with a fresh 16-byte salt.
    pub async fn hash(&self, password: &SecretString) -> anyhow::Result<String> {
        let password = password.clone();
        self.blocking(move || hash_now(password.expose_secret()))
            .await
    }

    /// Checks `password` against `phc`.
    pub async fn verify(&self, password: &SecretString, phc: &str) -> anyhow::Result<Verified> {
        let password = password.clone();
        let phc = phc.to_owned();
        self.blocking(move || {
            let parsed = match PasswordHash::new(&phc) {
                Ok(p) => p,
                // A scrubbed or foreign hash never matches.
                Err(_) => {
                    return Ok(Verified {
                        ok: false,
                        needs_rehash: false,
                    });
                }
            };
            let ok = argon2()?
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(Verified {
                ok,
                needs_rehash: ok && !phc.starts_with(PHC_PREFIX),
            })
        })
        .await
    }

    /// Spends the same work as a real verification, for log-ins with an unknown email, so
    /// the answer's timing does not tell whether the account exists.
    pub async fn verify_dummy(&self, password: &SecretString) -> anyhow::Result<()> {
        let dummy = Arc::clone(&self.dummy);
        let phc = match dummy.get() {
            Some(p) => p.clone(),
            None => {
                let made = self
                    .blocking(|| hash_now("zinovia-timing-equaliser-not-a-password"))
                    .await?;
                dummy.get_or_init(|| made).clone()
            }
        };
        self.verify(password, &phc).await.map(|_| ())
    }
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_use_owasp_parameters_and_verify_exactly() {
        let h = PasswordHasher::new();
        let pw = SecretString::from("correct horse battery staple");
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with(PHC_PREFIX), "{phc}");
        assert_ne!(phc, h.hash(&pw).await.unwrap(), "fresh salt each time");
        assert_eq!(
            h.verify(&pw, &phc).await.unwrap(),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        let wrong = SecretString::from("correct horse battery stapl");
        assert!(!h.verify(&wrong, &phc).await.unwrap().ok);
        // No truncation: a long password differs from its prefix.
        let long = SecretString::from("x".repeat(200));
        let long_phc = h.hash(&long).await.unwrap();
        assert!(
            !h.verify(&SecretString::from("x".repeat(199)), &long_phc)
                .await
                .unwrap()
                .ok
        );
        assert!(!h.verify(&pw, "!deleted").await.unwrap().ok);
        h.verify_dummy(&pw).await.unwrap();
    }

    #[tokio::test]
    async fn weaker_hashes_are_flagged_for_rehash() {
        let params = Params::new(8192, 1, 1, None).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let phc = weak
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        let v = PasswordHasher::new()
            .verify(&SecretString::from("correct horse battery staple"), &phc)
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn the_common_list_is_loaded() {
        assert!(is_common("password"));
        assert!(is_common("iloveyou"));
        assert!(!is_common("zinoviapurplelighthouse"));
    }
}
