//! The revocation endpoint (RFC 7009).

use crate::client_auth::{authenticate, ClientCredentials};
use crate::engine::Engine;
use crate::env::Env;
use crate::error::Result;
use crate::grant::{self, AccessTokenRecord, RevocationReason};
use crate::introspect::Resolved;
use crate::store::{save, Store};

impl<S: Store> Engine<S> {
    /// Handles `POST /revoke`. Unknown tokens and other clients' tokens are silently ignored
    /// (answered 200 by the adapter). `token_type_hint` is not needed: the form tells.
    pub fn handle_revoke(&self, env: &mut Env<'_>, tenant: &str, creds: &ClientCredentials, token: &str) -> Result<()> {
        let now = env.now;
        let iss = self.issuer(tenant);
        self.store.transact(|tx| {
            let auth = authenticate(tx, tenant, &iss, creds, now, self.config.max_assertion_lifetime)?;
            let caller = &auth.client().client_id;
            match self.resolve_token(tx, tenant, token)? {
                Resolved::Access { claims, mut record } if &record.client_id == caller => {
                    record.revoked = true;
                    let jti = claims["jti"].as_str().unwrap_or_default();
                    save(tx, &AccessTokenRecord::key(tenant, jti), &record)?;
                }
                Resolved::Refresh { grant, .. } if &grant.client_id == caller => {
                    grant::revoke(tx, tenant, &grant.grant_id, RevocationReason::ClientRevoked)?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}
