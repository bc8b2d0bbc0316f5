//! Client authentication at the token, introspection and revocation endpoints.

use crate::client::ClientRecord;
use crate::env::UnixTime;
use crate::error::{err, EngineError, Result};
use crate::jose;
use crate::secret::SecretHash;
use crate::store::{load, save, DecodedCache, Record, Table, Tx};
use serde::{Deserialize, Serialize};
use spec::{ClientAuthMethod, ErrorCode};
use std::sync::Arc;

/// The JWT bearer client assertion type (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the caller presented itself, as the adapter read it from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCredentials {
    /// Nothing at all.
    Missing,
    /// Only a client_id in the body (public clients).
    PublicId(String),
    /// HTTP Basic (already form-url-decoded per RFC 6749 §2.3.1).
    Basic {
        /// client_id.
        client_id: String,
        /// client_secret.
        secret: String,
    },
    /// client_id and client_secret in the body.
    Post {
        /// client_id.
        client_id: String,
        /// client_secret.
        secret: String,
    },
    /// A signed JWT assertion (private_key_jwt).
    Assertion {
        /// client_id from the body, if sent.
        client_id: Option<String>,
        /// client_assertion_type.
        assertion_type: String,
        /// client_assertion.
        assertion: String,
    },
    /// Credentials arrived in more than one way, or a malformed Authorization header.
    Invalid,
}

impl ClientCredentials {
    /// The client_id the caller names (before any check), when it names one.
    pub fn named_client(&self) -> Option<&str> {
        match self {
            ClientCredentials::PublicId(id)
            | ClientCredentials::Basic { client_id: id, .. }
            | ClientCredentials::Post { client_id: id, .. } => Some(id),
            ClientCredentials::Assertion { client_id, .. } => client_id.as_deref(),
            ClientCredentials::Missing | ClientCredentials::Invalid => None,
        }
    }
}

/// Proof that the caller authenticated as this (active) client. Only [`authenticate`] makes one.
#[derive(Clone, Debug)]
pub struct ClientAuthenticated(Arc<ClientRecord>);

impl ClientAuthenticated {
    /// The authenticated client.
    pub fn client(&self) -> &ClientRecord {
        &self.0
    }
}

/// A client assertion jti seen before, kept until the assertion expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionJtiRecord {
    /// When the assertion expires (the record may be purged after).
    pub expires_at: UnixTime,
}

impl Record for AssertionJtiRecord {
    const TABLE: Table = Table::AssertionJti;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
}

fn invalid(d: &'static str) -> EngineError {
    err(ErrorCode::InvalidClient, d)
}

fn load_active(
    tx: &mut dyn Tx,
    clients: &DecodedCache<ClientRecord>,
    tenant: &str,
    client_id: &str,
) -> Result<Arc<ClientRecord>> {
    match clients.load(tx, &ClientRecord::key(tenant, client_id))? {
        Some(c) if c.active => Ok(c),
        Some(_) => Err(invalid("client is deactivated")),
        None => Err(invalid("client authentication failed")),
    }
}

/// Authenticates the caller with its registered method. Writes the assertion jti (single use).
pub fn authenticate(
    tx: &mut dyn Tx,
    clients: &DecodedCache<ClientRecord>,
    tenant: &str,
    issuer: &str,
    creds: &ClientCredentials,
    now: UnixTime,
    max_assertion_lifetime: u64,
) -> Result<ClientAuthenticated> {
    let (client, used) = match creds {
        ClientCredentials::Missing => return Err(invalid("client authentication is required")),
        ClientCredentials::Invalid => return Err(invalid("malformed or duplicated client credentials")),
        ClientCredentials::PublicId(id) => (load_active(tx, clients, tenant, id)?, ClientAuthMethod::None),
        // RFC6749-2.3.1-client-secret
        ClientCredentials::Basic { client_id, secret } | ClientCredentials::Post { client_id, secret } => {
            let c = load_active(tx, clients, tenant, client_id)?;
            let ok = c.secret_hash.as_ref().is_some_and(|h: &SecretHash| h.matches(secret));
            if !ok {
                return Err(invalid("client authentication failed"));
            }
            let used = if matches!(creds, ClientCredentials::Basic { .. }) {
                ClientAuthMethod::ClientSecretBasic
            } else {
                ClientAuthMethod::ClientSecretPost
            };
            (c, used)
        }
        ClientCredentials::Assertion {
            client_id,
            assertion_type,
            assertion,
        } => {
            if assertion_type != JWT_BEARER {
                return Err(invalid("client_assertion_type must be jwt-bearer"));
            }
            let c = verify_assertion(
                tx,
                clients,
                tenant,
                issuer,
                client_id.as_deref(),
                assertion,
                now,
                max_assertion_lifetime,
            )?;
            (c, ClientAuthMethod::PrivateKeyJwt)
        }
    };
    // CLIENT-secret-method-default
    let either = client.either_secret_method && used.uses_secret() && client.auth_method.uses_secret();
    // OIDC-CORE-9-auth-method-registered
    if used != client.auth_method && !either {
        return Err(invalid(
            "client must authenticate with its registered token_endpoint_auth_method",
        ));
    }
    Ok(ClientAuthenticated(client))
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<u64>,
    nbf: Option<u64>,
    jti: Option<String>,
}

#[allow(clippy::too_many_arguments)]
// OIDC-CORE-9-private-key-jwt
fn verify_assertion(
    tx: &mut dyn Tx,
    clients: &DecodedCache<ClientRecord>,
    tenant: &str,
    issuer: &str,
    body_client_id: Option<&str>,
    assertion: &str,
    now: UnixTime,
    max_lifetime: u64,
) -> Result<Arc<ClientRecord>> {
    let compact = jose::decode(assertion).map_err(|_| invalid("client_assertion is not a compact JWS"))?;
    let claims: AssertionClaims = compact
        .claims()
        .map_err(|_| invalid("client_assertion claims are malformed"))?;
    let sub = claims
        .sub
        .as_deref()
        .ok_or_else(|| invalid("client_assertion has no sub"))?;
    if claims.iss.as_deref() != Some(sub) || body_client_id.is_some_and(|b| b != sub) {
        return Err(invalid("client_assertion iss and sub must be the client_id"));
    }
    let client = load_active(tx, clients, tenant, sub)?;
    if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
        return Err(invalid(
            "client must authenticate with its registered token_endpoint_auth_method",
        ));
    }
    let alg = compact
        .alg()
        .map_err(|_| invalid("client_assertion alg is not accepted"))?;
    if !client.signed(&compact, alg) {
        return Err(invalid(
            "client_assertion signature does not verify with the client's keys",
        ));
    }
    // Only the issuer, alone (RFC 7523bis, after the 2025 audience-injection attack): an
    // endpoint URL in `aud` could have come from another provider's metadata that names ours.
    let aud_is_issuer = match &claims.aud {
        Some(serde_json::Value::String(s)) => s == issuer,
        Some(serde_json::Value::Array(a)) => a.len() == 1 && a[0].as_str() == Some(issuer),
        _ => false,
    };
    if !aud_is_issuer {
        return Err(invalid("client_assertion aud must be the issuer identifier, alone"));
    }
    let exp = claims.exp.ok_or_else(|| invalid("client_assertion has no exp"))?;
    if exp <= now.0 || exp > now.0 + max_lifetime || claims.nbf.is_some_and(|n| n > now.0 + 60) {
        return Err(invalid("client_assertion is expired or not yet valid"));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("client_assertion has no jti"))?;
    let jti_key = format!("{tenant}/{}/{}", client.client_id, SecretHash::of(&jti).0);
    if load::<AssertionJtiRecord>(tx, &jti_key)?.is_some() {
        return Err(invalid("client_assertion jti was already used"));
    }
    save(
        tx,
        &jti_key,
        &AssertionJtiRecord {
            expires_at: UnixTime(exp),
        },
    )?;
    Ok(client)
}

impl<S: crate::store::Store> crate::engine::Engine<S> {
    /// [`authenticate`] with this engine's client cache and assertion lifetime.
    pub(crate) fn authenticate_client(
        &self,
        tx: &mut dyn Tx,
        tenant: &str,
        issuer: &str,
        creds: &ClientCredentials,
        now: UnixTime,
    ) -> Result<ClientAuthenticated> {
        authenticate(
            tx,
            &self.clients,
            tenant,
            issuer,
            creds,
            now,
            self.config.max_assertion_lifetime,
        )
    }
}
