use super::*;
use crate::fixtures;
use serde_json::json;

#[test]
fn rs256_and_es384_round_trip_and_are_deterministic() {
    spec::covers("ENGINE-deterministic");
    for m in [fixtures::rsa_key(), fixtures::p384_key()] {
        let key = SigningKey::from_material(&m).unwrap();
        let t1 = encode(&key, "JWT", &json!({"sub": "u1"}));
        let t2 = encode(&key, "JWT", &json!({"sub": "u1"}));
        assert_eq!(t1, t2, "signatures must be deterministic");
        let c = decode(&t1).unwrap();
        assert_eq!(c.header.kid.as_deref(), Some(key.kid()));
        c.verify(key.public()).unwrap();
        let claims: serde_json::Value = c.claims().unwrap();
        assert_eq!(claims["sub"], "u1");
    }
}

#[test]
fn tampering_alg_none_and_wrong_keys_are_rejected() {
    spec::covers("JOSE-alg-none-rejected");
    let rsa = SigningKey::from_material(&fixtures::rsa_key()).unwrap();
    let rsa2 = SigningKey::from_material(&fixtures::rsa_key2()).unwrap();
    let ec = SigningKey::from_material(&fixtures::p384_key()).unwrap();
    let token = encode(&rsa, "JWT", &json!({"sub": "u1"}));
    // Wrong key of the right type.
    assert_eq!(
        decode(&token).unwrap().verify(rsa2.public()),
        Err(JoseError::BadSignature)
    );
    // Key of another type: algorithm mismatch.
    assert_eq!(
        decode(&token).unwrap().verify(ec.public()),
        Err(JoseError::BadAlgorithm)
    );
    // Tampered payload.
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = b64url(br#"{"sub":"admin"}"#);
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        decode(&forged).unwrap().verify(rsa.public()),
        Err(JoseError::BadSignature)
    );
    // alg none with an empty signature.
    let none_header = b64url(br#"{"alg":"none"}"#);
    let none = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        decode(&none).unwrap().verify(rsa.public()),
        Err(JoseError::BadAlgorithm)
    );
    // Structural garbage.
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(MAX_TOKEN_LEN + 1)] {
        assert!(decode(bad).is_err(), "{bad:.20}");
    }
}

#[test]
fn rfc7638_thumbprint_example() {
    // RFC 7638 §3.1 example key and its thumbprint.
    let jwk: jose_jwk::Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    let key = VerifyKey::from_jwk(&jwk).unwrap();
    assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn client_jwks_parsing_skips_what_it_cannot_use() {
    let ec = fixtures::p256_signing_key();
    let vk = VerifyKey::P256(*ec.verifying_key());
    let mut good = serde_json::to_value(vk.jwk()).unwrap();
    good["kid"] = json!("k1");
    good["alg"] = json!("ES256");
    let jwks = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "alg": "EdDSA"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        good
    ]});
    let keys = keys::parse_jwks(&jwks);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0.as_deref(), Some("k1"));
    assert_eq!(keys[0].1, vk);
    // ES256 signature by the client verifies with the parsed key.
    use p256::ecdsa::signature::Signer;
    let sig: p256::ecdsa::Signature = ec.sign(b"msg");
    keys[0].1.verify(SigningAlg::ES256, b"msg", &sig.to_bytes()).unwrap();
    assert!(keys::parse_jwks(&json!({"nokeys": 1})).is_empty());
}

#[test]
fn published_jwk_has_kid_alg_and_use() {
    spec::covers("JOSE-jwks-publication");
    let key = SigningKey::from_material(&fixtures::rsa_key()).unwrap();
    let v = serde_json::to_value(key.jwk()).unwrap();
    assert_eq!(v["kty"], "RSA");
    assert_eq!(v["alg"], "RS256");
    assert_eq!(v["use"], "sig");
    assert_eq!(v["kid"], key.kid());
    assert!(v.get("d").is_none());
    let back = keys::parse_jwks(&json!({"keys": [v]}));
    assert_eq!(&back[0].1, key.public());
}
