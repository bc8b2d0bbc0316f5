//! High-entropy secrets (codes, tokens, session ids, client secrets): minting, hashing, comparing.

use crate::env::Env;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).ok()
}

/// A fresh 256-bit random value, base64url (43 characters), optionally prefixed.
// RFC6749-10.10-code-entropy
pub fn mint(env: &mut Env<'_>, prefix: &str) -> String {
    let bytes: [u8; 32] = env.random_bytes();
    format!("{prefix}{}", b64url(&bytes))
}

/// A fresh random identifier (128 bits, hex) for records that are not secrets.
pub fn mint_id(env: &mut Env<'_>) -> String {
    let bytes: [u8; 16] = env.random_bytes();
    hex(&bytes)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Whether two byte strings are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The SHA-256 hash of a secret, the only form in which secrets are stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretHash(pub String);

// SECRETS-hashed-at-rest
impl SecretHash {
    /// Hashes a presented secret.
    pub fn of(secret: &str) -> SecretHash {
        SecretHash(hex(&Sha256::digest(secret.as_bytes())))
    }

    /// Whether `presented` hashes to this value, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let other = SecretHash::of(presented);
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{SeededRandom, UnixTime};

    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff, 0x10]), "000fa5ff10");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn minted_secrets_are_256_bit_and_hashes_compare() {
        spec::covers("RFC6749-10.10-code-entropy");
        spec::covers("SECRETS-hashed-at-rest");
        let mut rng = SeededRandom::new(1);
        let mut env = Env::new(UnixTime(0), &mut rng);
        let a = mint(&mut env, "");
        let b = mint(&mut env, "");
        assert_eq!(b64url_decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
        let h = SecretHash::of(&a);
        assert!(h.matches(&a));
        assert!(!h.matches(&b));
        assert!(!h.0.contains(&a));
        assert_eq!(h.0.len(), 64);
    }
}
