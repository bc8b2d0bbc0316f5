//! DPoP, sender-constrained tokens (RFC 9449): a client proves with each request that it holds a
//! private key, and the tokens it gets are bound to that key (`cnf.jkt`), so a stolen token is
//! useless without the key.
//!
//! [`proof`] checks one proof on its own; this module adds what needs the store and the system
//! secret (a proof is used once, across every instance; server nonces), and the binding rules the
//! token, PAR and resource endpoints share.

pub mod nonce;
pub mod proof;

use crate::client::auth::AssertionJtiRecord;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::UnixTime;
use crate::error::{err, EngineError, ProtocolError, Result};
use crate::secret::SecretHash;
use crate::store::{load, save, Store, Tx};
use crate::tenant::TenantRecord;
use crate::token::grant::AccessTokenRecord;
pub use proof::ProofError;
use spec::ErrorCode;

/// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`).
pub const SIGNING_ALGS: [&str; 3] = ["ES256", "ES384", "RS256"];

/// The endpoints that take proofs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/token`.
    Token,
    /// `/par`.
    Par,
    /// `/userinfo`.
    Userinfo,
    /// `/revoke`.
    Revoke,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Par => "par",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Revoke => "revoke",
        }
    }

    /// The URLs the endpoint answers at, which a proof's `htu` must name: the tenant's own, and
    /// the seed's layout (`{issuer}/api/v1/oidc/{endpoint}`, SEED-integration-code).
    pub fn urls(self, issuer: &str) -> Vec<String> {
        vec![
            format!("{issuer}/{}", self.name()),
            format!("{issuer}/api/v1/oidc/{}", self.name()),
        ]
    }
}

/// The `DPoP` header of a request as the adapter received it (several joined with `, `), and the
/// request's method.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpopHeader {
    /// The header's value.
    pub value: String,
    /// `GET` or `POST`.
    pub method: String,
}

impl DpopHeader {
    /// The proof of a `POST`.
    pub fn post(value: impl Into<String>) -> Self {
        DpopHeader {
            value: value.into(),
            method: "POST".into(),
        }
    }
}

/// How an access token came to a resource (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer`, or the form body's `access_token`.
    Bearer,
    /// `Authorization: DPoP`, with a proof in the `DPoP` header.
    Dpop,
}

/// An access token presented at a resource, with how it came and the proof that came with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedToken {
    /// The token.
    pub token: String,
    /// Its authorization scheme.
    pub scheme: Scheme,
    /// The request's `DPoP` header.
    pub proof: Option<DpopHeader>,
}

impl PresentedToken {
    /// A Bearer token without a proof.
    pub fn bearer(token: &str) -> Self {
        PresentedToken {
            token: token.into(),
            scheme: Scheme::Bearer,
            proof: None,
        }
    }
}

/// Whether `client` registered `dpop_bound_access_tokens` (RFC 9449 §5.2): its token requests
/// without a proof are refused.
pub fn required_for(client: &ClientRecord) -> bool {
    // FAPI2-client-profile
    client.fapi2()
        || client
            .metadata
            .get("dpop_bound_access_tokens")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
}

/// Where a proof's use is remembered (with the client assertions' jtis: a table of JWT ids seen,
/// each kept until its JWT would be refused as too old anyway).
fn seen_key(tenant: &str, jkt: &str, jti: &str) -> String {
    format!("{tenant}/ dpop/{jkt}/{}", SecretHash::of(jti).0)
}

fn refused(d: &'static str) -> EngineError {
    err(ErrorCode::InvalidToken, d)
}

impl<S: Store> Engine<S> {
    /// Whether the sender of `presented`, resolved to `record`, may use it at `endpoint`: a token
    /// bound to a DPoP key only as `DPoP` with a proof from that key (its `ath` the token's
    /// hash), a token bound to none only as `Bearer`.
    // RFC9449-7-resource-binding
    pub(crate) fn check_sender(
        &self,
        tx: &mut dyn Tx,
        tenant: &str,
        record: &AccessTokenRecord,
        presented: &PresentedToken,
        endpoint: Endpoint,
        now: UnixTime,
    ) -> Result<()> {
        let Some(bound) = record
            .jkt
            .as_deref()
            .filter(|_| !self.mutant(|m| m.dpop_binding_ignored))
        else {
            return match presented.scheme {
                Scheme::Bearer => Ok(()),
                Scheme::Dpop => Err(refused("the access token is not DPoP-bound; send it as Bearer")),
            };
        };
        if presented.scheme != Scheme::Dpop {
            return Err(refused("the access token is DPoP-bound; send it as DPoP with a proof"));
        }
        let Some(proof) = &presented.proof else {
            return Err(ProtocolError::from(ProofError::Missing).into());
        };
        let jkt = self.prove_dpop(tx, tenant, proof, endpoint, Some(&presented.token), now)??;
        if jkt != bound {
            return Err(ProtocolError::from(ProofError::WrongKey).into());
        }
        Ok(())
    }

    /// The nonce clients of `tenant` are given now, for the `DPoP-Nonce` header.
    pub fn dpop_nonce(&self, now: UnixTime, tenant: &str) -> String {
        nonce::current(self.keys.sealer(), tenant, now)
    }

    /// Checks `header`, a proof sent to `endpoint` of `tenant` (with `access_token` at a
    /// resource), and notes it as used inside `tx`: the thumbprint of its key, or the refusal.
    /// A nonce is needed when the tenant requires one; one that is sent must be current.
    pub(crate) fn prove_dpop(
        &self,
        tx: &mut dyn Tx,
        tenant: &str,
        header: &DpopHeader,
        endpoint: Endpoint,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<std::result::Result<String, ProtocolError>> {
        let urls = endpoint.urls(&self.issuer(tenant));
        let expected = proof::Expected {
            method: &header.method,
            urls: &urls,
            now,
            access_token,
        };
        let proof = match proof::check(&header.value, &expected) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.into())),
        };
        // RFC9449-8-server-nonce
        let nonce_required = load::<TenantRecord>(tx, tenant)?.is_some_and(|t| t.require_dpop_nonce);
        let nonce_ok = match proof.nonce.as_deref() {
            Some(n) => nonce::accepts(self.keys.sealer(), tenant, now, n),
            None => !nonce_required,
        };
        if !nonce_ok {
            return Ok(Err(ProofError::NonceNeeded.into()));
        }
        // RFC9449-11.1-proof-replay
        let key = seen_key(tenant, &proof.jkt, &proof.jti);
        if load::<AssertionJtiRecord>(tx, &key)?.is_some() && !self.mutant(|m| m.dpop_replay) {
            return Ok(Err(ProofError::Replayed.into()));
        }
        let expires_at = UnixTime(proof.iat + proof::MAX_SKEW_SECS + 1);
        save(tx, &key, &AssertionJtiRecord { expires_at })?;
        Ok(Ok(proof.jkt))
    }
}
