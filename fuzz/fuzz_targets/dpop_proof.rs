//! DPoP proofs (RFC 9449 §4.3): arbitrary header text never panics the check; and arbitrary claims,
//! signed by a client's key, are accepted exactly when a proof's rules say they should be.
//! Requirements: covers("RFC9449-4.3-proof-checks").
#![no_main]
use engine::dpop::proof::{self, Expected, ProofError};
use engine::jose::{KeyMaterial, SigningKey};
use engine::UnixTime;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

const NOW: u64 = 1_750_000_000;
const URL: &str = "https://id.example.com/acme/token";

fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::from_material(&KeyMaterial::p256_scalar(&[5u8; 32])).unwrap())
}

fn expected(urls: &[String]) -> Expected<'_> {
    Expected {
        method: "POST",
        urls,
        now: UnixTime(NOW),
        access_token: None,
    }
}

/// What the rules say of `claims`, signed properly.
fn acceptable(claims: &Value) -> bool {
    let jti_ok = claims["jti"].as_str().is_some_and(|j| !j.is_empty() && j.len() <= 256);
    let iat_ok = claims["iat"].as_u64().is_some_and(|i| i + 60 >= NOW && i <= NOW + 60);
    let htu_ok = claims["htu"].as_str().is_some_and(|u| {
        url::Url::parse(u).is_ok_and(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u.as_str() == URL
        })
    });
    let optional_ok = ["ath", "nonce"]
        .iter()
        .all(|k| claims.get(*k).is_none_or(|v| v.is_string() || v.is_null()));
    jti_ok && iat_ok && htu_ok && claims["htm"] == "POST" && optional_ok
}

fuzz_target!(|data: &[u8]| {
    let urls = [URL.to_string()];
    if let Ok(text) = std::str::from_utf8(data) {
        // Whatever arrives in the header: an answer, never a panic; never a proof without a key.
        if let Ok(p) = proof::check(text, &expected(&urls)) {
            assert!(!p.jkt.is_empty());
        }
    }
    // The bytes as claims, signed by the client's key.
    let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Steer half the inputs to a near-valid proof so the deeper checks run.
    if data.first().is_some_and(|b| b % 2 == 0) {
        claims.entry("htm").or_insert("POST".into());
        claims.entry("htu").or_insert(URL.into());
        claims.entry("iat").or_insert(NOW.into());
        claims.entry("jti").or_insert("j".into());
    }
    let claims = Value::Object(claims);
    let header = engine::jose::Header {
        alg: "ES256".into(),
        typ: Some(proof::PROOF_TYPE.into()),
        kid: None,
        jwk: Some(serde_json::to_value(key().public().jwk()).unwrap()),
    };
    let jwt = engine::jose::encode_with_header(key(), &header, &claims);
    let got = proof::check(&jwt, &expected(&urls));
    if jwt.len() <= engine::jose::MAX_TOKEN_LEN {
        assert_eq!(got.is_ok(), acceptable(&claims), "claims {claims} gave {got:?}");
        if let Ok(p) = got {
            assert_eq!(p.jkt, key().public().thumbprint());
        }
    } else {
        assert_eq!(got.err(), Some(ProofError::Malformed));
    }
});
