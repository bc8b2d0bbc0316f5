//! JWT Secured Authorization Response Mode (JARM): with `response_mode` `jwt`, `query.jwt`,
//! `fragment.jwt` or `form_post.jwt`, the authorization response (a code or an error) goes as one
//! `response` parameter, a JWT signed with the tenant's key for the client's
//! `authorization_signed_response_alg` (RS256 by default) and carrying `iss`, `aud` and `exp`.

use super::AuthorizeOutcome;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::UnixTime;
use crate::error::Result;
use crate::store::{Store, Tx};
use serde_json::{json, Map, Value};
use spec::SigningAlg;

/// How long a signed response stays valid, seconds (JARM §2.1 recommends short-lived).
pub const RESPONSE_TTL: u64 = 600;

impl<S: Store> Engine<S> {
    /// `out` with a JARM redirect's parameters signed into its `response` parameter; any other
    /// outcome as it is.
    // JARM-2.1-signed-response
    pub(crate) fn signed_response(
        &self,
        tx: &mut dyn Tx,
        tenant: &str,
        now: UnixTime,
        out: AuthorizeOutcome,
    ) -> Result<AuthorizeOutcome> {
        let AuthorizeOutcome::Redirect(mut r) = out else {
            return Ok(out);
        };
        let Some(client_id) = r.signed_for.take() else {
            return Ok(AuthorizeOutcome::Redirect(r));
        };
        let client = self.clients.load(tx, &ClientRecord::key(tenant, &client_id))?;
        let alg = client
            .as_ref()
            .and_then(|c| c.metadata.get("authorization_signed_response_alg"))
            .and_then(|a| a.as_str())
            .and_then(SigningAlg::parse)
            .unwrap_or(SigningAlg::RS256);
        let key = self.keys.signer(tx, tenant, alg)?;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer(tenant)));
        claims.insert("aud".into(), json!(client_id));
        claims.insert("exp".into(), json!(now.plus(RESPONSE_TTL).0));
        for (name, value) in r.params.drain(..) {
            claims.entry(name).or_insert(Value::String(value));
        }
        r.params = vec![("response".into(), crate::jose::encode(&key, "JWT", &claims))];
        Ok(AuthorizeOutcome::Redirect(r))
    }
}
