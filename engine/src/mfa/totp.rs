//! TOTP (RFC 6238) with the parameters every authenticator app reads: HMAC-SHA1, 6 digits,
//! 30-second steps, a 160-bit secret, one step of clock skew either way. The arithmetic is
//! totp-rs's; this module adds what the crate leaves to its caller: a code is accepted once.

use crate::env::{Env, UnixTime};
use totp_rs::{Builder, Secret, Totp};

/// Secret length in bytes (RFC 4226 §4 recommends 160 bits).
pub const SECRET_LEN: usize = 20;
/// Step length in seconds.
pub const STEP: u64 = 30;

/// A fresh secret from the caller's random source.
pub fn new_secret(env: &mut Env<'_>) -> Vec<u8> {
    let bytes: [u8; SECRET_LEN] = env.random_bytes();
    bytes.to_vec()
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_step_duration(STEP)
        .with_skew(1)
        .build()
        .ok()
}

/// The secret as authenticator apps take it typed: base32 (RFC 4648) without padding.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// The secret from its base32 form (as typed into an app, or shown on the enrolment page).
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    let plain: String = text.chars().filter(|c| !c.is_whitespace() && *c != '=').collect();
    Secret::try_from_base32(plain.to_uppercase())
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

/// The `otpauth://` URI an authenticator app scans: `issuer` (the tenant's name) and `account`.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.replace(':', " ").as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// The code for `secret` at `time` (what the user's app shows; for tests and the fuzz harness).
pub fn code_at(secret: &[u8], time: UnixTime) -> String {
    totp(secret).map(|t| t.generate(time.0).to_string()).unwrap_or_default()
}

/// Whether `code` is a code of `secret` around `now` of a step after `last_step`: the step it
/// belongs to, or `None`. A code of a step already used is refused (RFC 6238 §5.2).
// MFA-totp-once
pub fn accept(secret: &[u8], code: &str, now: UnixTime, last_step: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    let origin = now.0 / STEP;
    (origin.saturating_sub(1)..=origin + 1)
        .filter(|step| *step > last_step)
        .find(|step| crate::secret::constant_time_eq(t.generate(step * STEP).to_string().as_bytes(), code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // The RFC's 20-byte SHA-1 seed; its 8-digit values end in these 6 digits.
        let seed = b"12345678901234567890";
        assert_eq!(code_at(seed, UnixTime(59)), "287082");
        assert_eq!(code_at(seed, UnixTime(1111111109)), "081804");
        assert_eq!(code_at(seed, UnixTime(2000000000)), "279037");
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let seed = b"12345678901234567890";
        let now = UnixTime(1111111109);
        let code = code_at(seed, now);
        let step = accept(seed, &code, now, 0).expect("the current code");
        assert_eq!(step, now.0 / STEP);
        assert_eq!(accept(seed, &code, now, step), None, "replayed");
        assert_eq!(
            accept(seed, &code, UnixTime(now.0 + 30), 0),
            Some(step),
            "one step late"
        );
        assert_eq!(accept(seed, &code, UnixTime(now.0 + 90), 0), None, "three steps late");
        assert_eq!(accept(seed, "12 34 5", now, 0), None);
        assert_eq!(accept(seed, "abcdef", now, 0), None);
        assert_eq!(secret_from_base32(&base32(seed)).as_deref(), Some(&seed[..]));
    }

    #[test]
    fn the_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri(b"12345678901234567890", "Acme: Corp", "ann@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20%20Corp:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%20Corp&algorithm=SHA1&digits=6&period=30"
        );
    }
}
