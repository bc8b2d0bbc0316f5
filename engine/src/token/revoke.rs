//! The revocation endpoint (RFC 7009).

use crate::audit::AuditKind;
use crate::client::auth::ClientCredentials;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::Result;
use crate::store::{save, Store};
use crate::token::grant::{self, AccessTokenRecord, RevocationReason};
use crate::token::introspect::Resolved;

impl<S: Store> Engine<S> {
    /// Handles `POST /revoke`. Unknown tokens and other clients' tokens are silently ignored
    /// (answered 200 by the adapter). `token_type_hint` is not needed: the form tells.
    pub fn handle_revoke(&self, env: &mut Env<'_>, tenant: &str, creds: &ClientCredentials, token: &str) -> Result<()> {
        let now = env.now;
        let iss = self.issuer(tenant);
        let stamp = self.stamp(env);
        self.store.transact(|tx| {
            // RFC7009-2.1-client-auth
            let auth = self.authenticate_client(tx, tenant, &iss, creds, now)?;
            let caller = &auth.client().client_id;
            let revoked = match self.resolve_token(tx, tenant, token)? {
                Resolved::Access { claims, mut record } if &record.client_id == caller => {
                    record.revoked = true;
                    let jti = claims.jti.as_deref().unwrap_or_default();
                    save(tx, &AccessTokenRecord::key(tenant, jti), &record)?;
                    let sub = claims.sub.unwrap_or_default();
                    Some((format!("access_token jti={jti}"), sub))
                }
                // RFC7009-2.1-revocation
                Resolved::Refresh { grant, .. } if &grant.client_id == caller => {
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
