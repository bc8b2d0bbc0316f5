//! Keys of clients that registered a `jwks_uri`. When such a client signs with a key id none of its
//! stored keys has (it rotated), the adapter fetches the URI again (the engine does no I/O) and
//! the fetched set replaces the stored one. OIDC-REGISTRATION-2-jwks-uri.

use crate::audit::AuditKind;
use crate::authorize::request_object::FetchedDocument;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::Result;
use crate::jose::{self, keys::parse_jwks};
use crate::store::{load, save, Store};
use serde_json::Value;

impl<S: Store> Engine<S> {
    /// The `jwks_uri` of `client_id` when `jwt` names a `kid` that none of its stored keys has.
    pub fn jwks_uri_to_refresh(&self, tenant: &str, client_id: &str, jwt: &str) -> Option<String> {
        let compact = jose::decode(jwt).ok()?;
        let kid = compact.header.kid?;
        let client = self.client(tenant, client_id).ok()??;
        let uri = client.metadata.get("jwks_uri")?.as_str()?.to_string();
        let stored = client.jwks.as_ref().map(parse_jwks).unwrap_or_default();
        let known = stored.iter().any(|(k, _)| k.as_deref() == Some(kid.as_str()));
        (!known && client.active).then_some(uri)
    }

    /// Replaces the stored keys of `client_id` with the set fetched from its `jwks_uri`; only a
    /// set with a usable key replaces them. Returns whether it did.
    pub fn handle_client_jwks_refresh(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        client_id: &str,
        fetched: &FetchedDocument,
    ) -> Result<bool> {
        let doc = match fetched {
            Ok(body) => serde_json::from_str::<Value>(body).ok(),
            Err(_) => None,
        };
        let Some(doc) = doc.filter(|d| !parse_jwks(d).is_empty()) else {
            return Ok(false);
        };
        let stamp = self.stamp(env);
        self.store.transact(|tx| {
            let key = ClientRecord::key(tenant, client_id);
            let Some(mut client) = load::<ClientRecord>(tx, &key)? else {
                return Ok(false);
            };
            if !client.metadata.contains_key("jwks_uri") || client.jwks.as_ref() == Some(&doc) {
                return Ok(false);
            }
            client.jwks = Some(doc.clone());
            save(tx, &key, &client)?;
            let event = stamp
                .event(AuditKind::ClientRegistration, "keys fetched again from jwks_uri")
                .client(client_id.to_string());
            self.audit(tx, tenant, &event)?;
            Ok(true)
        })
    }
}
