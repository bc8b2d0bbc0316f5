//! The revocation endpoint (RFC 7009).

use crate::audit::AuditKind;
use crate::client::auth::ClientCredentials;
use crate::dpop::{DpopHeader, Endpoint, ProofError};
use crate::engine::Engine;
use crate::env::Env;
use crate::error::ProtocolError;
use crate::error::Result;
use crate::store::{save, Store};
use crate::token::grant::{self, AccessTokenRecord, RevocationReason};
use crate::token::introspect::Resolved;

impl<S: Store> Engine<S> {
    /// Handles `POST /revoke`. Unknown tokens and other clients' tokens are silently ignored
    /// (answered 200 by the adapter). `token_type_hint` is not needed: the form tells.
    pub fn handle_revoke(&self, env: &mut Env<'_>, tenant: &str, creds: &ClientCredentials, token: &str) -> Result<()> {
        self.handle_revoke_with_proof(env, tenant, creds, token, None)
    }

    /// [`Engine::handle_revoke`] for a request that may carry a `DPoP` proof: one that is sent
    /// must be valid, and a public client's refresh token bound to a DPoP key is revoked only with
    /// a proof from that key (it is the only credential such a client has).
    pub fn handle_revoke_with_proof(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        creds: &ClientCredentials,
        token: &str,
        proof: Option<&DpopHeader>,
    ) -> Result<()> {
        let now = env.now;
        let iss = self.issuer(tenant);
        let stamp = self.stamp(env);
        self.store.transact(|tx| {
            // RFC7009-2.1-client-auth
            let auth = self.authenticate_client(tx, tenant, &iss, creds, now)?;
            let caller = &auth.client().client_id;
            // RFC9449-revocation-proof
            let jkt = match proof {
                Some(p) => Some(self.prove_dpop(tx, tenant, p, Endpoint::Revoke, None, now)??),
                None => None,
            };
            let resolved = match self.mutant(|m| m.revoke_noop) {
                true => Resolved::Unknown,
                false => self.resolve_token(tx, tenant, token)?,
            };
            let revoked = match resolved {
                Resolved::Access { claims, mut record } if &record.client_id == caller => {
                    record.revoked = true;
                    let jti = claims.jti.as_deref().unwrap_or_default();
                    save(tx, &AccessTokenRecord::key(tenant, jti), &record)?;
                    let sub = claims.sub.unwrap_or_default();
                    Some((format!("access_token jti={jti}"), sub))
                }
                // RFC7009-2.1-revocation
                Resolved::Refresh { grant, .. } if &grant.client_id == caller => {
                    if grant.dpop_jkt.is_some() && grant.dpop_jkt != jkt {
                        let e = if jkt.is_none() {
                            ProofError::Missing
                        } else {
                            ProofError::WrongKey
                        };
                        return Err(ProtocolError::from(e).into());
                    }
                    grant::revoke(tx, tenant, &grant.grant_id, RevocationReason::ClientRevoked)?;
                    Some((format!("refresh_token grant={}", grant.grant_id), grant.user_id.clone()))
                }
                // RFC7009-2.2-unknown-token
                _ => None,
            };
            if let Some((detail, subject)) = revoked {
                let event = stamp
                    .event(AuditKind::TokenRevoked, detail)
                    .actor(caller.clone())
                    .subject(subject)
                    .client(caller.clone());
                self.audit(tx, tenant, &event)?;
            }
            Ok(())
        })
    }
}
