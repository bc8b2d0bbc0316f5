//! Pushed authorization requests (RFC 9126): a client posts its authorization request to
//! `/par`, authenticated as at the token endpoint; the request is checked as `/authorize` would
//! check it and kept for 60 seconds under a one-time `request_uri`, which the browser then
//! carries to `/authorize` with the `client_id` alone.

use super::checks::{self, Rejection};
use super::request::AuthorizationRequest;
use crate::client::auth::ClientCredentials;
use crate::client::ClientRecord;
use crate::dpop::{DpopHeader, Endpoint, ProofError};
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{err, EngineError, ProtocolError, Result};
use crate::secret::{mint, SecretHash};
use crate::store::{load, save, Record, Store, Table, Tx};
use serde::{Deserialize, Serialize};
use spec::ErrorCode;

/// What a `request_uri` of a pushed request starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may be used, seconds.
pub const PUSHED_REQUEST_TTL: u64 = 60;

/// A pushed request, by (tenant, hash of its `request_uri`), until used or expired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequestRecord {
    /// Owning tenant.
    pub tenant: String,
    /// The client that pushed it (and the only one that may use it).
    pub client_id: String,
    /// The request as pushed (a request object in it is checked again at `/authorize`).
    pub request: AuthorizationRequest,
    /// Expiry.
    pub expires_at: UnixTime,
}

impl Record for PushedRequestRecord {
    const TABLE: Table = Table::PushedRequest;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
}

impl PushedRequestRecord {
    /// Store key of `request_uri`.
    pub fn key(tenant: &str, request_uri: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(request_uri).0)
    }
}

/// The answer to a pushed request (RFC 9126 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedRequest {
    /// Where the browser takes the request.
    pub request_uri: String,
    /// Seconds it stays usable.
    pub expires_in: u64,
}

/// Whether `req` names a pushed request (rather than a request object to fetch).
pub fn names_pushed_request(req: &AuthorizationRequest) -> bool {
    req.request_uri
        .as_deref()
        .is_some_and(|u| u.starts_with(REQUEST_URI_PREFIX))
}

/// Whether requests for `client` of a tenant must be pushed: the client registered
/// `require_pushed_authorization_requests` (RFC 9126 §6) or its tenant requires it.
pub fn required_for(client: &ClientRecord, tenant_requires: bool) -> bool {
    // FAPI2-client-profile
    tenant_requires
        || client.fapi2()
        || client
            .metadata
            .get("require_pushed_authorization_requests")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
}

/// The pushed request `req` names, taken (one use): `Err` with the page to show when it is
/// unknown, used, expired, or named with another client's id.
// RFC9126-2.2-request-uri-one-time
pub(crate) fn take(
    tx: &mut dyn Tx,
    tenant: &str,
    req: &AuthorizationRequest,
    now: UnixTime,
    keep: bool,
) -> Result<std::result::Result<AuthorizationRequest, ProtocolError>> {
    let uri = req.request_uri.as_deref().unwrap_or_default();
    let key = PushedRequestRecord::key(tenant, uri);
    let unusable = || {
        ProtocolError::new(
            ErrorCode::InvalidRequestUri,
            "the request_uri is unknown, expired or already used; push the request again",
        )
    };
    let Some(rec) = load::<PushedRequestRecord>(tx, &key)? else {
        return Ok(Err(unusable()));
    };
    // RFC9126-4-client-id-match
    if rec.tenant != tenant || req.client_id.as_deref() != Some(rec.client_id.as_str()) {
        return Ok(Err(ProtocolError::new(
            ErrorCode::InvalidRequestUri,
            "the request_uri was pushed by another client",
        )));
    }
    if !keep {
        tx.delete(Table::PushedRequest, &key)?;
    }
    if rec.expires_at <= now {
        return Ok(Err(unusable()));
    }
    Ok(Ok(AuthorizationRequest {
        pushed: true,
        ..rec.request
    }))
}

impl<S: Store> Engine<S> {
    /// Handles `POST /par`: authenticates the client as the token endpoint does, checks the
    /// request as `/authorize` would (its errors come back as the JSON error of the check that
    /// failed, never a redirect), and keeps it under a fresh one-time `request_uri`.
    // RFC9126-2-pushed-authorization-request
    pub fn handle_par(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        creds: &ClientCredentials,
        req: &AuthorizationRequest,
    ) -> Result<PushedRequest> {
        self.handle_par_with_proof(env, tenant, creds, req, None)
    }

    /// [`Engine::handle_par`] for a request that may carry a `DPoP` proof: its key becomes the
    /// request's `dpop_jkt` (RFC 9449 §10.1), which must then be the one named, if one is.
    pub fn handle_par_with_proof(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        creds: &ClientCredentials,
        req: &AuthorizationRequest,
        proof: Option<&DpopHeader>,
    ) -> Result<PushedRequest> {
        let now = env.now;
        let iss = self.issuer(tenant);
        let request_uri = mint(env, REQUEST_URI_PREFIX);
        let key = PushedRequestRecord::key(tenant, &request_uri);
        self.store.transact(|tx| {
            let auth = self.authenticate_client(tx, tenant, &iss, creds, now)?;
            let client_id = auth.client().client_id.clone();
            if req.client_id.as_deref().is_some_and(|c| c != client_id) {
                return Err(err(
                    ErrorCode::InvalidRequest,
                    "client_id differs from the authenticated client",
                ));
            }
            // RFC9126-2.1-no-request-uri
            if req.request_uri.is_some() {
                return Err(err(ErrorCode::InvalidRequest, "request_uri cannot be pushed"));
            }
            // RFC9449-10.1-par-proof
            let dpop_jkt = match proof {
                None => req.dpop_jkt.clone(),
                Some(p) => {
                    let jkt = self.prove_dpop(tx, tenant, p, Endpoint::Par, None, now)??;
                    if req.dpop_jkt.as_deref().is_some_and(|named| named != jkt) {
                        return Err(ProtocolError::from(ProofError::WrongKey).into());
                    }
                    Some(jkt)
                }
            };
            let pushed = AuthorizationRequest {
                client_id: Some(client_id.clone()),
                request_uri_document: None,
                pushed: false,
                dpop_jkt,
                ..req.clone()
            };
            let refused = |e: ProtocolError| EngineError::Protocol(e);
            match checks::validate(tx, self.caches(), tenant, &iss, now, &pushed, false)? {
                Ok(_) => {}
                Err(Rejection::Page(e) | Rejection::Redirect { error: e, .. }) => return Err(refused(e)),
            }
            save(
                tx,
                &key,
                &PushedRequestRecord {
                    tenant: tenant.into(),
                    client_id,
                    request: pushed,
                    expires_at: now.plus(PUSHED_REQUEST_TTL),
                },
            )?;
            Ok(PushedRequest {
                request_uri: request_uri.clone(),
                expires_in: PUSHED_REQUEST_TTL,
            })
        })
    }
}
