//! Compact JWS parsing and verification, and JWK Set parsing.
//! Requirements: covers("JOSE-alg-none-rejected").
#![no_main]
use engine::jose::{self, keys::parse_jwks, SigningKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static [SigningKey] {
    static K: OnceLock<Vec<SigningKey>> = OnceLock::new();
    K.get_or_init(|| {
        vec![
            SigningKey::from_material(&engine::fixtures::rsa_key()).unwrap(),
            SigningKey::from_material(&engine::fixtures::p384_key()).unwrap(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = jose::decode(text) {
            for k in keys() {
                // Nothing an attacker can write verifies under our keys.
                assert!(c.verify(k.public()).is_err(), "forged token verified: {text}");
            }
            let _ = c.claims::<serde_json::Value>();
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        for (_, key) in parse_jwks(&v) {
            let _ = key.thumbprint();
            let _ = key.verify(spec::SigningAlg::ES256, b"m", data);
            let _ = key.verify(spec::SigningAlg::RS256, b"m", data);
        }
    }
});
