//! Fixed key material for tests, models and fuzzing. Never use these in a deployment.

/// An RSA-2048 private key (PKCS#8 DER, base64) for RS256.
pub const RSA_PKCS8_B64: &str = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDyw+h6d+FFFxAhEo25tHhDcACgWXYp6p3NpExCaWd8gRUIJ0V6dPRv55e+GYhWgrPEgiWzmN2ciNDZMImJla4aS2fKaDe6bbo7Kl6norWOVu5LS1E5wiwPImKyKd8RjgueUyXJtnxdnt+w58xXoOiEZwJ7bPmsMnk5Qzkcp5BQB2xgklWlG/ViC8Yd9V9DZHveFCbm/sfv98c2PYYdS/dL4X9OLK0nj/o9kIP7YK3JIhpxZcBpEZNLjeKpiwNesqSeQjO32mMyvHwNqAE5HDFU4T1KhNVHyefkdq+3D8a3T7gZhp7/wgDaWKV6SqWpiwLUyYOILkpLz64oYTEAuzhXAgMBAAECggEAYM8ECbZ9lFYunemur8QKg2YKMeeLCgsf864VpRQwawN0tiQm/j7ebTOvHOVEq68CbhYyX6zRjwc2Na434rBYVe8FDD/EHWl9bvOl/HaTrRf4ffkigoRumnhtYDv3UyJQesoQkyBc9t6QuJSvNbCamJYVdM/Pvr3//nhSsZ0WnPqZ/1vWryZro25+jCSOdqiVbIxfJf9SRLmETt1Hfjx5WUHBaCJbFwTr/JkETZUFJUboPbHbwG33FougArbVdJi6v8ZxD7yVCNxJZl20cQvmjJzuJeVFTWQw9mg1Cigfc1LltV5mZm6vtg6V+kYl+wxbcD54PmcIq9ukXWDc+mMw2QKBgQD9okF4YSQWHJz+WXMFB7GKl+zYvMCy7DFxC3i4PP2zqSmmVW9siVih8gQqNaL2QJ0gXvCU4JjgKQjKsLtpQgqGC0CJJEbZ66EyB5f7SIjuRhVnryv1jKNvyWYbhGlLKknVuRKVGHMyMORzVZJ00NDoZ5pVlbVVwnSYEmaPRsGWnwKBgQD1B7IHuWA4eGb3+Yf22JzCglWF/GAeaH01Rmalg4XzX8PYbJZ9T+LybUOmSzOLZteROGPE1t9U6/tBh+PhwvywssL3j/NZG+pI4sr9zpnlvvQWHJ0wyr6nN1P1J6S86+nOIv7QQ4CHGUGwpgdFqjq6UnGLQpoIqZRySR53C4ubSQKBgQCxrfQ9d5fHIb5ddJ5d/LjEhY+3eetorIwqTEYCkz+Ll8sEqj9HgqQjtx5xz2ddKYCph7j0Iq8WAckV7V8s6sXih4lrSY2U5jvjh2xR7ct3WINwQkgCWca47hbo2gbFUFevMFqzNhClLZksrtrNmOdwl/uHTzxcWsBBNErCvmepswKBgHjHQknsZjFvp9GzfgF+5EY8WEujCv3yI0WPXilXmz9LhQ24+LTsG8HDegUOLGoaV0eNtB/iilMhvseeZAV0R3oRo2jD2/+gcutaXxScMd+9MDN2B0V1qmRiMVA2Kk21O5oQReoCW+g72tVoAU2liy0sVit+uM5sSG/M+udTGY2BAoGBAIyrG4eqN2Hkln5YGCv4coLrVtkZt/LAhv7EQb87GKKYvcqkdwhPawEw/kG63NoLltNsPSzq45ium3lB5baYXM3BTB10RPMLto951P6joF/svMMs4zZJC7ZaiAMYqKULissCCH0ev21sWXNb1eczs8G8WOfL57vONhnnxc3Oj9qp";

/// A second RSA-2048 key (a client's, or a rotation target).
pub const RSA2_PKCS8_B64: &str = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDLwktnaMg0JEFiUMNwAFaJliyJwC1gXoeS+2oogiNUm9ePRN97hFiMWCERlCwQ3qUsJd9kYEk+CteWs3Mm+PEUY2W5lbXF902uCMgD7o/3bhLOkoyLl65DGxXnNxJkx1rjO9ULImdn8ASbf0jaPIen57g7riIns3RlVPEhlRCubRkcqkrNoHQwnKdzmAxFx1Knh6huNi0GZc6VQZJ8Svm+yQFpnFCxCkKa7TnWv3iPGqVDDR29XumbZKxl1A9IcaewfskuHfSAPgm4aNOBWHYbmmuGQp58AbjgQAllji0I38Sv+O4orKdkTaYZ2fuF9+E39awsfkWRdeYiDQ/eRl7/AgMBAAECggEADKVG+hNTXtkOgxmGvOwTHYAyd2zJOX05u3IwXnSP2MUV6xBX268/skYYl0yzh2sp+RlzSc7Sp4UTaDOZkUZLP/wDPjH/vATjJJ/q5JjpBRl8aqbxuLV13ThQcwRvTHiK4tC9zMPFLdAu7lpHR967KefZqT/fYsi3upTmT4fpfHRbJ5boc9e9BDwmDFlNrOBe+jUHzgbDXi9C95KdGntEG46Np4Wp7uPXXfti/LfUIV6mzPd1SbBHp+MmD/tAvV8uY3WIREKH7Vpt9YeMplEWCH4av9OAxXH/cn6ndTiOCYHyxWhkQ2Y/uoE1dVyB3avzBntb81tOacKlpdpCL4CjsQKBgQDz6DDR24x3Z0Uyvm3c6FzGYuBlDnSg/DSxfUOAGAo4vzRQM7IFm+dh3ThaRrF9IYgxDwn1t22hbi70SvIk7V0zhtrO87tMlmSvBcxsSboGMaenTKdTzfzmxqQpOUSqoee98buL34xzb01GNKzNcP8LwXeO0TYoXw7hRw21owqzIwKBgQDV3IWN66Vo64IHHjC6tC/wQ+XIiBYNIlJGFBMX50WVj0Dc+HG7y41QqQ57RVsYAvGROMeOgIkterOv738jLDcWDBr+hWb3T0ljw4KLWoErNZgYkdVTxHYOs6OOsaLjvwtk/A7e4QgsMFu5fJJPo5CaOs0DzLSN1dAqttVjxXuAdQKBgQC4ciY5DOY0hYv2y7sZCz7dZ3h582yPMSpH7opVG9jfAPj2jaFaTIO1pi0vV7ZxAiKTtuO5RXVKVqB7bRGgiz+n75sYVYiWakTJdoEYgsiCVpqKEZWX8nYFrsIFyqD6yGUPZvaE2BDGWqz9ImhrE8BLi4p2Hg/uh7Qg+DKN4TX+MQKBgDBeDX6JewF9sgy2EUNImUb3tDJkRMh3qK/cvmy7i4tFuN/A+MgGQ1GoynOqve1yTPwRIWDjRSMaCyWRPunPiC3eUwSZWy43qlt7zjyCHZCOMHXuFZc6aZDto+IT3skvXf5a22og7t4/mZ8bw2NrlLqs7c0cMQGbB9eBPkWwVjw5AoGBAJLOdaJQTx4sUE6l90SggMgqdAGt8gBkTtD8e+Lnd4XB37MWZZS00BiAOlN5uzURk9Ea+BbdOl6wD+ND7Idx1jkPUE5FvYHHaOeylpLSTSFYNds3HTjmQdHrmKJ7rspQg9hAP5Iz9Qkb9UiKRfosCVpq1mjCMFpcb5+xjOcruT6M";

/// A P-384 private scalar (hex) for ES384.
pub const P384_SCALAR_HEX: &str =
    "2357f04249aea7eda9471c964aa670f823104a12b78e916529b59c1a36856a75da3def62877c6b3aa950bc7d16973c13";

/// A P-256 private scalar (hex) for a client's ES256 assertions.
pub const P256_SCALAR_HEX: &str = "4e4f106f8e2b2bc1fd78f1cc3213c3644e9729c37947cafed31c16b2bc9f71db";

/// A P-256 private scalar (hex) for the provider's ES256 key.
pub const P256_SERVER_SCALAR_HEX: &str = "7d1c6a5f0f8b4e2a9c3d51e6b7a8f90112233445566778899aabbccddeeff0a1";

use crate::jose::KeyMaterial;
use base64ct::{Base64, Encoding};

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The fixed RS256 signing key.
pub fn rsa_key() -> KeyMaterial {
    KeyMaterial::rsa_pkcs8(&Base64::decode_vec(RSA_PKCS8_B64).expect("base64"))
}

/// The second fixed RSA key.
pub fn rsa_key2() -> KeyMaterial {
    KeyMaterial::rsa_pkcs8(&Base64::decode_vec(RSA2_PKCS8_B64).expect("base64"))
}

/// The fixed ES384 signing key.
pub fn p384_key() -> KeyMaterial {
    KeyMaterial::p384_scalar(&hex_decode(P384_SCALAR_HEX))
}

/// The fixed ES256 signing key of the provider.
pub fn p256_key() -> KeyMaterial {
    KeyMaterial::p256_scalar(&p256_key_scalar())
}

/// The private scalar of [`p256_key`].
pub fn p256_key_scalar() -> Vec<u8> {
    hex_decode(P256_SERVER_SCALAR_HEX)
}

/// The fixed P-256 private key (for signing client assertions in tests).
pub fn p256_signing_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&hex_decode(P256_SCALAR_HEX)).expect("valid scalar")
}

/// What a test's DPoP proof says (RFC 9449 §4.2); [`dpop_proof`] signs it.
#[derive(Clone, Debug)]
pub struct ProofClaims {
    /// `htm`.
    pub htm: String,
    /// `htu`.
    pub htu: String,
    /// `iat`.
    pub iat: u64,
    /// `jti`.
    pub jti: String,
    /// `ath`: the hash of this access token, if given.
    pub access_token: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
}

/// A DPoP proof as a client makes one: `key` signs, its public JWK in the header, typ
/// `dpop+jwt`. (A client's key: the fixtures above are the provider's or a client's.)
pub fn dpop_proof(key: &crate::jose::SigningKey, claims: &ProofClaims) -> String {
    let header = crate::jose::Header {
        alg: key.alg().as_str().into(),
        typ: Some(crate::dpop::proof::PROOF_TYPE.into()),
        kid: None,
        jwk: Some(serde_json::to_value(key.public().jwk()).expect("a JWK serializes")),
    };
    let mut body = serde_json::json!({
        "htm": claims.htm,
        "htu": claims.htu,
        "iat": claims.iat,
        "jti": claims.jti,
    });
    if let Some(t) = &claims.access_token {
        body["ath"] = serde_json::json!(crate::dpop::proof::access_token_hash(t));
    }
    if let Some(n) = &claims.nonce {
        body["nonce"] = serde_json::json!(n);
    }
    crate::jose::encode_with_header(key, &header, &body)
}
