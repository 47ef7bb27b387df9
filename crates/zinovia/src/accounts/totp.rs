//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP; HMAC-SHA1, 6 digits,
//! 30-second steps — what every authenticator app speaks), the `otpauth://` enrolment URI
//! and its QR code, and the recovery codes' format.

use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new shared secret (160 bits, RFC 4226's recommendation).
pub const SECRET_LEN: usize = 20;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

/// The step a Unix time falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The code for `step` (RFC 4226 dynamic truncation).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        unreachable!("HMAC takes a key of any length");
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let bin = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    bin % 10u32.pow(DIGITS)
}

/// The code for a Unix time, as typed (zero-padded).
pub fn code_now(secret: &[u8], unix_secs: i64) -> String {
    format!("{:06}", code_at(secret, step_at(unix_secs)))
}

/// The step `typed` is the code of, within one step either side of `unix_secs` (clocks
/// drift), and newer than `last_step` (a code works once). Compares every candidate, so
/// the time taken does not say which one matched.
pub fn accept(secret: &[u8], typed: &str, unix_secs: i64, last_step: i64) -> Option<i64> {
    let typed = normalize_code(typed);
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        let matches =
            crate::crypto::constant_time_eq(&format!("{:06}", code_at(secret, step)), &typed);
        if matches && step > last_step {
            found = Some(step);
        }
    }
    found
}

/// What a person typed, without the spaces and hyphens apps and codes are shown with.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A new random shared secret.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_LEN];
    rand::rng().fill_bytes(&mut s);
    s
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (how apps take a secret typed by hand).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://` URI an authenticator app reads from the QR code (Google's key URI
/// format: issuer in the label and as a parameter).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The URI as a QR code, an SVG document (dark modules on white, with the quiet zone).
pub fn qr_svg(uri: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// A new recovery code: 10 characters from 31 without look-alikes, shown as
/// `xxxxx-xxxxx` (about 49 bits: guessing is throttled long before that matters).
pub fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let chars: String = (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_now(secret, t), code, "at {t}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_only_once() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_111;
        let now = step_at(t);
        let code = code_now(secret, t);
        assert_eq!(accept(secret, &code, t, 0), Some(now));
        assert_eq!(
            accept(secret, &format!("{} {}", &code[..3], &code[3..]), t, 0),
            Some(now)
        );
        assert_eq!(accept(secret, &code, t + 30, 0), Some(now), "a step late");
        assert_eq!(accept(secret, &code, t - 30, 0), Some(now), "a step early");
        assert_eq!(accept(secret, &code, t + 61, 0), None, "two steps late");
        assert_eq!(accept(secret, &code, t, now), None, "already used");
        assert_eq!(accept(secret, "000000", t, 0), None);
        assert_eq!(accept(secret, "12345", t, 0), None);
        assert_eq!(accept(secret, "abcdef", t, 0), None);
        assert_eq!(accept(b"another secret......", &code, t, 0), None);
    }

    #[test]
    fn secrets_are_written_in_base32_for_apps() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        let uri = otpauth_uri("Zinovia", "ana+x@example.com", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Zinovia:ana%2Bx%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Zinovia&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("#000000"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_readable() {
        let codes: std::collections::HashSet<String> =
            (0..50).map(|_| new_recovery_code()).collect();
        assert_eq!(codes.len(), 50);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(&c[5..6], "-");
            assert!(!c.contains(['0', 'o', '1', 'l', 'i']));
            assert_eq!(normalize_code(&c.to_uppercase()), c.replace('-', ""));
        }
    }
}
