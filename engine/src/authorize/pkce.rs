//! PKCE (RFC 7636), S256 only.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `challenge` has the shape of an S256 challenge: 43 base64url characters.
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is 43–128 unreserved characters (RFC 7636 §4.1).
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// BASE64URL(SHA256(verifier)).
pub fn s256(verifier: &str) -> String {
    crate::secret::b64url(&Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge` (constant-time comparison).
pub fn verify(verifier: &str, challenge: &str) -> bool {
    valid_verifier(verifier) && s256(verifier).as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    #[test]
    fn rfc7636_appendix_b_vector() {
        spec::covers("RFC7636-4.6-s256-verify");
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(s256(v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(verify(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
    }

    quickcheck! {
        /// Verification accepts exactly the verifier whose hash is the challenge.
        fn verify_accepts_exactly_the_matching_verifier(seed: Vec<u8>, other: Vec<u8>) -> bool {
            spec::covers("RFC7636-4.6-s256-verify");
            let mk = |b: &[u8]| {
                let mut v = crate::secret::b64url(&Sha256::digest(b));
                v.push_str("~abc");
                v
            };
            let (v1, v2) = (mk(&seed), mk(&other));
            let c = s256(&v1);
            verify(&v1, &c) && (verify(&v2, &c) == (v1 == v2)) && !verify(&c, &c)
        }

        /// Malformed verifiers never verify, whatever the challenge.
        fn short_or_odd_verifiers_never_verify(v: String) -> bool {
            valid_verifier(&v) || !verify(&v, &s256(&v))
        }
    }
}
