//! Token lookup shared by introspection, revocation and UserInfo, and the introspection endpoint (RFC 7662).

use crate::client::auth::ClientCredentials;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::Result;
use crate::store::{load, Store, Tx};
use crate::token::grant::{AccessTokenRecord, GrantRecord, RefreshTokenRecord};
use crate::user::UserRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The claims of one of our access tokens that token management reads (decoded into fields,
/// not a JSON map: introspection decodes one per request).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct AccessClaims {
    /// Issuer.
    pub iss: Option<String>,
    /// Subject.
    pub sub: Option<String>,
    /// Audience: a string, or an array of them.
    pub aud: Option<Value>,
    /// Granted scope.
    pub scope: Option<String>,
    /// Token id.
    pub jti: Option<String>,
    /// Expiry.
    pub exp: Option<u64>,
    /// Issued at.
    pub iat: Option<u64>,
}

impl AccessClaims {
    /// Whether the granted scope includes `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.as_deref().is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

/// A presented token, identified.
pub(crate) enum Resolved {
    /// One of our access tokens (signature and issuer verified).
    Access {
        /// Its verified claims.
        claims: AccessClaims,
        /// Its record.
        record: AccessTokenRecord,
    },
    /// One of our refresh tokens.
    Refresh {
        /// Its record.
        record: RefreshTokenRecord,
        /// Its family.
        grant: GrantRecord,
    },
    /// Not a token of this tenant.
    Unknown,
}

fn user_enabled(tx: &mut dyn Tx, tenant: &str, user_id: &str) -> Result<bool> {
    Ok(load::<UserRecord>(tx, &UserRecord::key(tenant, user_id))?.is_some_and(|u| !u.disabled))
}

impl<S: Store> Engine<S> {
    /// A deactivated or deleted client's tokens die with it.
    fn client_active(&self, tx: &mut dyn Tx, tenant: &str, client_id: &str) -> Result<bool> {
        Ok(self
            .clients
            .load(tx, &ClientRecord::key(tenant, client_id))?
            .is_some_and(|c| c.active || self.mutant(|m| m.deactivated_client_tokens_live)))
    }

    /// Identifies `token` as an access token (JWT) or a refresh token (opaque) of `tenant`.
    pub(crate) fn resolve_token(&self, tx: &mut dyn Tx, tenant: &str, token: &str) -> Result<Resolved> {
        if token.is_empty() || token.len() > crate::jose::MAX_TOKEN_LEN {
            return Ok(Resolved::Unknown);
        }
        if token.contains('.') {
            let Ok(compact) = crate::jose::decode(token) else {
                return Ok(Resolved::Unknown);
            };
            let Ok(claims) = compact.claims::<AccessClaims>() else {
                return Ok(Resolved::Unknown);
            };
            let typ = compact.header.typ.clone();
            let named;
            let tenant = if self.mutant(|m| m.trust_token_issuer) {
                named = claims
                    .iss
                    .as_deref()
                    .and_then(|i| i.rsplit('/').next())
                    .unwrap_or(tenant)
                    .to_string();
                named.as_str()
            } else {
                tenant
            };
            if typ.as_deref() != Some("at+jwt") || claims.iss.as_deref() != Some(self.issuer(tenant).as_str()) {
                return Ok(Resolved::Unknown);
            }
            let Some(jti) = claims.jti.as_deref() else {
                return Ok(Resolved::Unknown);
            };
            let Some(record) = load::<AccessTokenRecord>(tx, &AccessTokenRecord::key(tenant, jti))? else {
                return Ok(Resolved::Unknown);
            };
            // Exactly the token issued under this jti (its stored hash, compared in constant
            // time), so its claims are ours without checking the signature again. Records written
            // before hashes were kept fall back to the signature.
            let genuine = match &record.token_hash {
                Some(h) => {
                    h.matches(token)
                        && match compact.header.kid.as_deref() {
                            Some(kid) => self.keys.is_published(tx, tenant, kid)?,
                            None => false,
                        }
                }
                None => self.keys.verify_own(tx, tenant, token)?.is_some(),
            };
            return Ok(if genuine && record.tenant == tenant {
                Resolved::Access { claims, record }
            } else {
                Resolved::Unknown
            });
        }
        let Some(record) = load::<RefreshTokenRecord>(tx, &RefreshTokenRecord::key(tenant, token))? else {
            return Ok(Resolved::Unknown);
        };
        Ok(
            match load::<GrantRecord>(tx, &GrantRecord::key(tenant, &record.grant_id))? {
                Some(grant) => Resolved::Refresh { record, grant },
                None => Resolved::Unknown,
            },
        )
    }

    /// Whether a resolved token may be used now: not expired, not revoked, family alive, user enabled.
    /// (Records are read in the tenant the token's record belongs to, which `resolve_token` has
    /// already checked is the request's.)
    pub(crate) fn is_active(&self, tx: &mut dyn Tx, token: &Resolved, now: UnixTime) -> Result<bool> {
        match token {
            Resolved::Unknown => Ok(false),
            Resolved::Access { record, .. } => {
                if record.revoked
                    || (record.expires_at <= now && !self.mutant(|m| m.ignore_expiry))
                    || !self.client_active(tx, &record.tenant, &record.client_id)?
                {
                    return Ok(false);
                }
                let Some(gid) = &record.grant_id else { return Ok(true) };
                match load::<GrantRecord>(tx, &GrantRecord::key(&record.tenant, gid))? {
                    Some(g) if crate::token::grant::is_alive(tx, &g)? => user_enabled(tx, &record.tenant, &g.user_id),
                    _ => Ok(false),
                }
            }
            Resolved::Refresh { record, grant } => {
                let untracked = self.mutant(|m| m.no_reuse_detection);
                let current = grant
                    .refresh
                    .is_some_and(|r| (r.generation == record.generation || untracked) && r.expires_at > now);
                Ok(current
                    && crate::token::grant::is_alive(tx, grant)?
                    && user_enabled(tx, &grant.tenant, &grant.user_id)?
                    && self.client_active(tx, &grant.tenant, &grant.client_id)?)
            }
        }
    }

    /// Handles `POST /introspect`: only the client the token was issued to learns it is active, and
    /// for an access token issued for an API (RFC 8707 `aud`), the API's own client too.
    pub fn handle_introspect(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection> {
        let now = env.now;
        let iss = self.issuer(tenant);
        self.store.transact(|tx| {
            // RFC7009-2.1-client-auth
            let auth = self.authenticate_client(tx, tenant, &iss, creds, now)?;
            let resolved = self.resolve_token(tx, tenant, token)?;
            // RFC7662-2.2-inactive
            if !self.is_active(tx, &resolved, now)? {
                return Ok(Introspection::inactive());
            }
            let caller = auth.client();
            Ok(match resolved {
                Resolved::Access { claims, record }
                    if record.client_id == caller.client_id || serves(caller, claims.aud.as_ref()) =>
                {
                    Introspection {
                        active: true,
                        aud: claims.aud.as_ref().and_then(Value::as_str).map(str::to_owned),
                        scope: claims.scope,
                        client_id: Some(record.client_id),
                        sub: claims.sub,
                        iss: Some(iss.clone()),
                        exp: claims.exp,
                        iat: claims.iat,
                        jti: claims.jti,
                        // RFC9449-6.2-introspection-cnf
                        token_type: Some(crate::token::minting::TokenPlan::token_type_for(record.jkt.as_deref())),
                        cnf: record.jkt.map(|jkt| Confirmation { jkt }),
                    }
                }
                Resolved::Refresh { grant, .. } if grant.client_id == caller.client_id => Introspection {
                    active: true,
                    scope: Some(grant.scopes.join(" ")),
                    client_id: Some(grant.client_id),
                    sub: Some(grant.user_id),
                    aud: None,
                    iss: Some(iss.clone()),
                    exp: grant.refresh.map(|r| r.expires_at.0),
                    iat: None,
                    jti: None,
                    token_type: Some("refresh_token"),
                    cnf: grant.dpop_jkt.map(|jkt| Confirmation { jkt }),
                },
                _ => Introspection::inactive(),
            })
        })
    }
}

/// Whether `client` is the resource server of an audience of the token (RFC 7662 §2.1: a protected
/// resource may ask about the tokens presented to it).
fn serves(client: &ClientRecord, aud: Option<&Value>) -> bool {
    // RFC7662-2.1-resource-server
    let named = |a: &Value| {
        a.as_str()
            .is_some_and(|a| client.resource_server_for.iter().any(|r| r == a))
    };
    match aud {
        Some(Value::Array(all)) => all.iter().any(named),
        Some(one) => named(one),
        None => false,
    }
}

/// The introspection response (RFC 7662 §2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is usable now.
    pub active: bool,
    /// Scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `Bearer` or `DPoP` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The key the token is bound to (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim: the thumbprint of the DPoP key it is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub jkt: String,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Introspection::default()
    }
}
