//! CloudFront signed URLs with a canned policy, for a distribution whose cache behaviour
//! trusts a key group: paid media is cached at the edge and still needs a signature.
//!
//! RSA keys sign with SHA-1 (CloudFront's default, byte-identical to botocore's
//! `CloudFrontSigner`); ECDSA P-256 keys sign with SHA-256 and add `Hash-Algorithm=SHA256`.
//! ECDSA is the faster choice on the hot path (DESIGN.md §5).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

/// A CloudFront private key.
#[derive(Clone)]
pub enum SigningKey {
    /// RSA (2048), signing with SHA-1.
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha1::Sha1>>),
    /// ECDSA P-256, signing with SHA-256.
    Ecdsa(Box<p256::ecdsa::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKey::Rsa(_) => "SigningKey::Rsa(..)",
            SigningKey::Ecdsa(_) => "SigningKey::Ecdsa(..)",
        })
    }
}

impl SigningKey {
    /// Reads a PEM key: PKCS#1 RSA, SEC1 EC, or PKCS#8 of either.
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let pem = pem.trim();
        let rsa = |k: rsa::RsaPrivateKey| {
            SigningKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(k)))
        };
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            return rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .map(rsa)
                .map_err(|e| format!("not an RSA key: {e}"));
        }
        if pem.contains("BEGIN EC PRIVATE KEY") {
            return p256::SecretKey::from_sec1_pem(pem)
                .map(|k| SigningKey::Ecdsa(Box::new(p256::ecdsa::SigningKey::from(k))))
                .map_err(|e| format!("not a P-256 key: {e}"));
        }
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            return Ok(rsa(k));
        }
        p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(|k| SigningKey::Ecdsa(Box::new(k)))
            .map_err(|_| "not an RSA or P-256 private key in PEM".to_owned())
    }
}

/// Signs URLs of one distribution.
#[derive(Debug, Clone)]
pub struct CloudFrontSigner {
    base: String,
    key_pair_id: String,
    key: SigningKey,
}

/// CloudFront's URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`.
fn cloudfront_b64(bytes: &[u8]) -> String {
    STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

impl CloudFrontSigner {
    /// A signer for URLs under `base` (the distribution's URL).
    pub fn new(base: &url::Url, key_pair_id: &str, key: SigningKey) -> CloudFrontSigner {
        CloudFrontSigner {
            base: base.as_str().trim_end_matches('/').to_owned(),
            key_pair_id: key_pair_id.to_owned(),
            key,
        }
    }

    fn policy(resource: &str, expires: i64) -> String {
        format!(
            r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
        )
    }

    /// The signature of `policy` and the hash parameter its key type needs.
    fn signature(&self, policy: &str) -> (String, &'static str) {
        let (signature, hash) = match &self.key {
            SigningKey::Rsa(k) => (k.sign(policy.as_bytes()).to_vec(), ""),
            SigningKey::Ecdsa(k) => {
                let sig: p256::ecdsa::Signature = k.sign(policy.as_bytes());
                (sig.to_der().as_bytes().to_vec(), "&Hash-Algorithm=SHA256")
            }
        };
        (cloudfront_b64(&signature), hash)
    }

    /// A URL for `path` (an object key) that works until `expires` (Unix seconds).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        let resource = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let (signature, hash) = self.signature(&CloudFrontSigner::policy(&resource, expires));
        format!(
            "{resource}?Expires={expires}&Signature={signature}&Key-Pair-Id={}{hash}",
            self.key_pair_id
        )
    }

    /// One grant for every object under `prefix` (a custom policy whose resource ends in
    /// `*`), until `expires`: the distribution's URL of the prefix, and the query string to
    /// append to any object's URL under it. One signature for a whole HLS stream, not one
    /// per segment.
    pub fn sign_prefix(&self, prefix: &str, expires: i64) -> (String, String) {
        let base = format!("{}/{}", self.base, prefix.trim_start_matches('/'));
        let policy = CloudFrontSigner::policy(&format!("{base}*"), expires);
        let (signature, hash) = self.signature(&policy);
        (
            base,
            format!(
                "Policy={}&Signature={signature}&Key-Pair-Id={}{hash}",
                cloudfront_b64(policy.as_bytes()),
                self.key_pair_id
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    const RSA_PEM: &str = include_str!("../../tests/fixtures/cloudfront-test-rsa.pem");
    const ECDSA_PEM: &str = include_str!("../../tests/fixtures/cloudfront-test-ecdsa.pem");
    const GOLDEN: &str = include_str!("../../tests/fixtures/cloudfront-golden-urls.txt");

    #[test]
    fn rsa_urls_match_botocore_byte_for_byte() {
        let key = SigningKey::from_pem(RSA_PEM).unwrap();
        let golden: Vec<&str> = GOLDEN.lines().collect();
        let a = CloudFrontSigner::new(
            &url::Url::parse("https://d111111abcdef8.cloudfront.net").unwrap(),
            "K2JCJMDEHXQW5F",
            key.clone(),
        );
        assert_eq!(
            a.sign(
                "media/0192c3a4-5b6c-7d8e-9f00-112233445566/grid.webp",
                1_767_290_400
            ),
            golden[0]
        );
        let b = CloudFrontSigner::new(
            &url::Url::parse("https://media.zinovia.example/").unwrap(),
            "K2JCJMDEHXQW5F",
            key,
        );
        assert_eq!(
            b.sign(
                "uploads/0192c3a4-5b6c-7d8e-9f00-112233445566",
                1_767_290_460
            ),
            golden[1]
        );
    }

    /// A signer with the test ECDSA key, and that key's public half.
    fn ecdsa_signer() -> (CloudFrontSigner, p256::ecdsa::VerifyingKey) {
        let key = SigningKey::from_pem(ECDSA_PEM).unwrap();
        let SigningKey::Ecdsa(inner) = &key else {
            panic!("expected ECDSA")
        };
        let public = *inner.verifying_key();
        let signer = CloudFrontSigner::new(
            &url::Url::parse("https://media.zinovia.example").unwrap(),
            "KEYID",
            key,
        );
        (signer, public)
    }

    #[test]
    fn ecdsa_urls_verify_with_the_public_key() {
        let (signer, public) = ecdsa_signer();
        let url = signer.sign("media/x/thumb.webp", 1_767_290_400);
        assert!(
            url.ends_with("&Key-Pair-Id=KEYID&Hash-Algorithm=SHA256"),
            "{url}"
        );
        let sig = url
            .split("Signature=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let sig = p256::ecdsa::Signature::from_der(&unb64(sig)).unwrap();
        let policy = r#"{"Statement":[{"Resource":"https://media.zinovia.example/media/x/thumb.webp","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#;
        assert!(public.verify(policy.as_bytes(), &sig).is_ok());
        assert!(public.verify(b"another policy", &sig).is_err());
    }

    fn unb64(s: &str) -> Vec<u8> {
        let s: String = s
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '=',
                '~' => '/',
                c => c,
            })
            .collect();
        STANDARD.decode(s).unwrap()
    }

    #[test]
    fn a_prefix_grant_is_one_custom_policy_with_a_wildcard_that_verifies() {
        let (signer, public) = ecdsa_signer();
        let (base, query) = signer.sign_prefix("media/abc/hls/", 1_767_290_400);
        assert_eq!(base, "https://media.zinovia.example/media/abc/hls/");
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        let policy = String::from_utf8(unb64(&param("Policy"))).unwrap();
        assert_eq!(
            policy,
            r#"{"Statement":[{"Resource":"https://media.zinovia.example/media/abc/hls/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
        );
        let sig = p256::ecdsa::Signature::from_der(&unb64(&param("Signature"))).unwrap();
        assert!(public.verify(policy.as_bytes(), &sig).is_ok());
        assert_eq!(param("Key-Pair-Id"), "KEYID");
        assert_eq!(param("Hash-Algorithm"), "SHA256");
        // The RSA key signs the same policy (SHA-1, no hash parameter).
        let rsa = CloudFrontSigner::new(
            &url::Url::parse("https://media.zinovia.example").unwrap(),
            "KEYID",
            SigningKey::from_pem(RSA_PEM).unwrap(),
        );
        let (_, query) = rsa.sign_prefix("media/abc/hls/", 1_767_290_400);
        assert!(
            query.starts_with("Policy=") && !query.contains("Hash-Algorithm"),
            "{query}"
        );
    }

    #[test]
    fn keys_that_are_not_rsa_or_p256_are_refused() {
        assert!(SigningKey::from_pem("not a key").is_err());
        assert!(
            SigningKey::from_pem(
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
            )
            .is_err()
        );
    }
}
