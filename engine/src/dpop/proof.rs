//! One DPoP proof (RFC 9449 §4) checked on its own, without the store: its shape, its key, its
//! signature, the method and URL it names, its age and, at a resource, the access token's hash.
//! Replay and nonces need the store and the system secret; [`super`] adds them.

use crate::env::UnixTime;
use crate::jose::{self, VerifyKey};
use crate::secret::b64url;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use spec::ErrorCode;

/// The `typ` every proof carries.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// How old a proof may be (its `iat` before now), and how far ahead of our clock, seconds.
pub const MAX_SKEW_SECS: u64 = 60;

/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

/// Why a proof, or the lack of one, was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofError {
    /// The request needs a proof and carried none.
    Missing,
    /// More than one `DPoP` header (RFC 9449 §4.3, first check).
    Several,
    /// Not a compact JWS of JSON, or a required claim is missing or of the wrong type.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    WrongType,
    /// `alg` is not an asymmetric algorithm we verify, or does not fit the key.
    BadAlgorithm,
    /// `jwk` is missing or not a public key we can use.
    BadKey,
    /// `jwk` holds private key material.
    PrivateKey,
    /// The signature does not verify with `jwk`.
    BadSignature,
    /// `htm` is not the request's method.
    WrongMethod,
    /// `htu` is not the endpoint's URL.
    WrongUrl,
    /// `iat` is too old or too far ahead.
    NotFresh,
    /// `ath` is missing or is not the hash of the access token presented with it.
    WrongAth,
    /// This proof (its key and `jti`) was seen before.
    Replayed,
    /// The proof must carry a current server nonce (answered with `use_dpop_nonce`).
    NonceNeeded,
    /// The proof is signed by another key than the token or code is bound to.
    WrongKey,
}

impl ProofError {
    /// The wire error: `use_dpop_nonce` for a missing or stale nonce, else `invalid_dpop_proof`.
    // RFC9449-4.3-proof-checks
    pub fn code(self) -> ErrorCode {
        match self {
            ProofError::NonceNeeded => ErrorCode::UseDpopNonce,
            _ => ErrorCode::InvalidDpopProof,
        }
    }

    /// The `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            ProofError::Missing => "a DPoP proof is required",
            ProofError::Several => "send one DPoP header",
            ProofError::Malformed => "the DPoP proof is not a JWT with jti, htm, htu and iat",
            ProofError::WrongType => "the DPoP proof's typ must be dpop+jwt",
            ProofError::BadAlgorithm => "the DPoP proof's alg must be ES256, ES384 or RS256 and fit its jwk",
            ProofError::BadKey => "the DPoP proof's jwk is missing or unusable",
            ProofError::PrivateKey => "the DPoP proof's jwk must be a public key",
            ProofError::BadSignature => "the DPoP proof's signature does not verify",
            ProofError::WrongMethod => "the DPoP proof's htm is not this request's method",
            ProofError::WrongUrl => "the DPoP proof's htu is not this endpoint's URL",
            ProofError::NotFresh => "the DPoP proof's iat is not within 60 seconds of now",
            ProofError::WrongAth => "the DPoP proof's ath is not the hash of the access token",
            ProofError::Replayed => "this DPoP proof was already used",
            ProofError::NonceNeeded => "the DPoP proof must carry the nonce given in DPoP-Nonce",
            ProofError::WrongKey => "the DPoP proof is signed by another key than the token is bound to",
        }
    }
}

impl From<ProofError> for crate::error::ProtocolError {
    fn from(e: ProofError) -> Self {
        crate::error::ProtocolError::new(e.code(), e.description())
    }
}

/// What the proof must say to fit the request it came with.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The URLs this endpoint answers at (query and fragment never part of them).
    pub urls: &'a [String],
    /// Now.
    pub now: UnixTime,
    /// At a resource: the access token presented with the proof (its hash must be `ath`).
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check this module makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of its key (`cnf.jkt` of the tokens bound to it).
    pub jkt: String,
    /// Its `jti`.
    pub jti: String,
    /// Its `iat`.
    pub iat: u64,
    /// Its `nonce`, if it carries one.
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Members of a JWK that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// `url` without query and fragment, normalised (RFC 3986 §6.2.2) as the `url` crate parses it.
fn comparable(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.to_string())
}

/// The base64url SHA-256 of an access token (`ath`).
pub fn access_token_hash(token: &str) -> String {
    b64url(&Sha256::digest(token.as_bytes()))
}

/// Checks `header`, the value of the request's `DPoP` header (several joined with `,`), against
/// what the request was. Replay and nonce are the caller's.
pub fn check(header: &str, expected: &Expected<'_>) -> Result<Proof, ProofError> {
    if header.contains(',') {
        return Err(ProofError::Several);
    }
    let compact = jose::decode(header.trim()).map_err(|_| ProofError::Malformed)?;
    if compact.header.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(ProofError::WrongType);
    }
    // HS256 and every symmetric or unknown alg do not parse; `none` never does.
    let alg = compact.alg().map_err(|_| ProofError::BadAlgorithm)?;
    let jwk = compact.header.jwk.as_ref().ok_or(ProofError::BadKey)?;
    let members = jwk.as_object().ok_or(ProofError::BadKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
        return Err(ProofError::PrivateKey);
    }
    let key = VerifyKey::from_json(jwk).ok_or(ProofError::BadKey)?;
    if !key.fits(alg) {
        return Err(ProofError::BadAlgorithm);
    }
    compact.verify(&key).map_err(|_| ProofError::BadSignature)?;
    let claims: Claims = compact.claims().map_err(|_| ProofError::Malformed)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(ProofError::Malformed);
    }
    if claims.htm != expected.method {
        return Err(ProofError::WrongMethod);
    }
    let htu = comparable(&claims.htu).ok_or(ProofError::WrongUrl)?;
    if !expected
        .urls
        .iter()
        .any(|u| comparable(u).as_deref() == Some(htu.as_str()))
    {
        return Err(ProofError::WrongUrl);
    }
    let now = expected.now.0;
    if claims.iat + MAX_SKEW_SECS < now || claims.iat > now + MAX_SKEW_SECS {
        return Err(ProofError::NotFresh);
    }
    if let Some(token) = expected.access_token {
        let expected_ath = access_token_hash(token);
        let fits = claims
            .ath
            .as_deref()
            .is_some_and(|a| crate::secret::constant_time_eq(a.as_bytes(), expected_ath.as_bytes()));
        if !fits {
            return Err(ProofError::WrongAth);
        }
    }
    Ok(Proof {
        jkt: key.thumbprint(),
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}
