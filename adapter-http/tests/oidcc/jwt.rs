//! JWTs as the suite handles them: verification against the provider's JWKS with aws-lc-rs
//! (independently of the server's own JOSE code), hashes, and the client's own signed JWTs.

use aws_lc_rs::{digest, signature};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, String> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| "not base64url".to_string())
}

/// Decodes a compact JWS without verifying it: (header, claims).
pub fn decode(jwt: &str) -> Result<(Value, Value), String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not a compact JWS".into());
    };
    let header = serde_json::from_slice(&unb64(h)?).map_err(|e| e.to_string())?;
    let claims = serde_json::from_slice(&unb64(p)?).map_err(|e| e.to_string())?;
    Ok((header, claims))
}

/// Verifies `jwt` with the JWKS key its header names: (header, claims).
pub fn verify(jwks: &Value, jwt: &str) -> Result<(Value, Value), String> {
    let (header, claims) = decode(jwt)?;
    let alg = header["alg"].as_str().ok_or("no alg")?;
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let key = jwks["keys"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["kid"] == kid))
        .ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = unb64(sig)?;
    let field = |n: &str| unb64(key[n].as_str().unwrap_or(""));
    let ok = match alg {
        "RS256" => signature::RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
        .is_ok(),
        "ES256" | "ES384" => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            let a: &dyn signature::VerificationAlgorithm = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_FIXED
            };
            signature::UnparsedPublicKey::new(a, point)
                .verify(input.as_bytes(), &sig)
                .is_ok()
        }
        other => return Err(format!("unexpected alg {other}")),
    };
    if ok {
        Ok((header, claims))
    } else {
        Err("the signature does not verify".into())
    }
}

/// `at_hash` / `c_hash`: the left half of the hash `alg` implies, base64url.
pub fn half_hash(alg: &str, value: &str) -> String {
    let d = if alg.ends_with("384") {
        digest::digest(&digest::SHA384, value.as_bytes())
    } else {
        digest::digest(&digest::SHA256, value.as_bytes())
    };
    b64(&d.as_ref()[..d.as_ref().len() / 2])
}

/// A private_key_jwt assertion whose audience is the issuer.
pub fn client_assertion(key: &engine::jose::SigningKey, client_id: &str, iss: &str, jti: &str) -> String {
    let claims = json!({"iss": client_id, "sub": client_id, "aud": iss, "jti": jti,
                        "iat": now(), "exp": now() + 60});
    engine::jose::encode(key, "JWT", &claims)
}

/// An unsigned (`alg: none`) JWT of `claims`.
pub fn unsigned(claims: &Value) -> String {
    format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.to_string().as_bytes()))
}

/// The client's RSA key for private_key_jwt and signed request objects, and its public JWK.
pub fn client_key() -> (engine::jose::SigningKey, Value) {
    let key = engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let mut jwk = serde_json::to_value(key.public().jwk()).unwrap();
    jwk["kid"] = json!(key.kid());
    jwk["use"] = json!("sig");
    jwk["alg"] = json!("RS256");
    (key, jwk)
}
