//! A thin JOSE layer: compact JWS encode/decode over our own header type.
//!
//! The jose crates are serde types only (see notes/crates.md); signing and
//! verification live in [`keys`]. Signatures are always checked over the token's
//! original `header.payload` bytes, never a re-encoding.

pub mod signing;

pub mod keys;

pub use keys::{KeyMaterial, SigningKey, VerifyKey};

use crate::secret::{b64url, b64url_decode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spec::SigningAlg;

/// The longest compact JWS we accept (bounds allocation on hostile input).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a JWS was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoseError {
    /// Not three base64url parts of JSON, or too long.
    Malformed,
    /// `alg` is none, unknown, or does not fit the key.
    BadAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// The key material cannot be used.
    BadKey,
}

/// The JWS protected header we write and read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Signature algorithm.
    pub alg: String,
    /// Media type of the token (`JWT`, `at+jwt`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub typ: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// The public key itself (a DPoP proof carries its key here, RFC 9449 §4.2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub jwk: Option<serde_json::Value>,
}

/// A parsed, not yet verified compact JWS.
#[derive(Debug)]
pub struct Compact<'a> {
    /// The decoded protected header.
    pub header: Header,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS. Nothing is verified yet.
pub fn decode(token: &str) -> Result<Compact<'_>, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Malformed);
    };
    let header_bytes = b64url_decode(h).ok_or(JoseError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JoseError::Malformed)?;
    let payload = b64url_decode(p).ok_or(JoseError::Malformed)?;
    let signature = b64url_decode(s).ok_or(JoseError::Malformed)?;
    Ok(Compact {
        header,
        payload,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

impl Compact<'_> {
    /// The header's algorithm, if it is one we accept (never `none`).
    pub fn alg(&self) -> Result<SigningAlg, JoseError> {
        // JOSE-alg-none-rejected
        SigningAlg::parse(&self.header.alg).ok_or(JoseError::BadAlgorithm)
    }

    /// Verifies the signature with `key`; the header's alg must fit the key.
    pub fn verify(&self, key: &VerifyKey) -> Result<(), JoseError> {
        let alg = self.alg()?;
        key.verify(alg, self.signing_input.as_bytes(), &self.signature)
    }

    /// Decodes the payload as JSON claims.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.payload).map_err(|_| JoseError::Malformed)
    }
}

/// Signs `claims` into a compact JWS with `key`, its alg and kid, and the given `typ`.
pub fn encode(key: &SigningKey, typ: &str, claims: &impl Serialize) -> String {
    let header = Header {
        alg: key.alg().as_str().into(),
        typ: Some(typ.into()),
        kid: Some(key.kid().into()),
        jwk: None,
    };
    encode_with_header(key, &header, claims)
}

/// Signs `claims` into a compact JWS with `key` under `header` as given (its `alg` is not checked
/// against the key: tests use this to write wrong ones).
pub fn encode_with_header(key: &SigningKey, header: &Header, claims: &impl Serialize) -> String {
    let h = b64url(&serde_json::to_vec(&header).expect("header serializes"));
    let p = b64url(&serde_json::to_vec(claims).expect("claims serialize"));
    let input = format!("{h}.{p}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64url(&sig))
}

#[cfg(test)]
mod tests;
