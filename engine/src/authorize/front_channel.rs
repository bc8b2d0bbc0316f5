//! Tokens the authorization endpoint itself returns, for the implicit and hybrid response types
//! (OIDC Core §3.2, §3.3): an access token (`token`: a grant without refresh tokens, as a code
//! exchange without them makes) and an ID token (`id_token`: with the request's nonce, `at_hash`
//! beside an access token, `c_hash` beside a code, and the scopes' claims when no access token
//! comes with it).

use super::request::ValidatedRequest;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::UnixTime;
use crate::error::{err, Result};
use crate::session::SessionRecord;
use crate::store::{load, save, Store, Tx};
use crate::token::grant::{self, GrantRecord, GrantState};
use crate::token::minting::{at_hash, id_claims, Subject};
use crate::user::UserRecord;
use serde_json::json;
use spec::ErrorCode;

/// What one front-channel response is issued from.
pub(crate) struct Issue<'a> {
    pub tenant: &'a str,
    pub iss: &'a str,
    pub client: &'a ClientRecord,
    pub req: &'a ValidatedRequest,
    pub session: &'a SessionRecord,
    /// The code issued beside the tokens (hybrid), for `c_hash`.
    pub code: Option<&'a str>,
    pub jti: &'a str,
    pub grant_id: &'a str,
    pub now: UnixTime,
}

impl<S: Store> Engine<S> {
    /// The response parameters the request's type asks for beside (or instead of) a code.
    // OIDC-CORE-3.3-hybrid-implicit
    pub(crate) fn front_channel_tokens(&self, tx: &mut dyn Tx, i: &Issue<'_>) -> Result<Vec<(String, String)>> {
        let rt = i.req.response_type;
        let user = match load::<UserRecord>(tx, &UserRecord::key(i.tenant, &i.session.user_id))? {
            Some(u) if !u.disabled => u,
            _ => return Err(err(ErrorCode::AccessDenied, "the user cannot sign in")),
        };
        let mut params = Vec::new();
        let mut access_token = None;
        let mut id = None;
        if rt.token {
            let grant = GrantRecord {
                tenant: i.tenant.into(),
                grant_id: i.grant_id.into(),
                client_id: i.client.client_id.clone(),
                user_id: user.id.clone(),
                scopes: i.req.scopes.clone(),
                sid: i.session.sid.clone(),
                auth_time: i.session.auth_time,
                amr: i.session.amr.clone(),
                state: GrantState::Active,
                refresh: None,
                epoch: grant::epoch_for_new_grant(tx, i.tenant, &user.id, &i.client.client_id)?,
                claims: i.req.claims.clone(),
                tokens_until: Some(i.now.plus(i.client.access_token_ttl)),
                dpop_jkt: None,
            };
            save(tx, &GrantRecord::key(i.tenant, i.grant_id), &grant)?;
            let plan = self.plan_user_tokens(
                tx,
                i.iss,
                i.client,
                &user,
                &grant,
                &i.req.scopes,
                i.req.nonce.as_deref(),
                None,
                i.jti,
                std::slice::from_ref(&i.client.client_id),
                None,
                i.now,
            )?;
            params.push(("access_token".to_string(), plan.access_token.clone()));
            params.push(("token_type".into(), "Bearer".into()));
            params.push(("expires_in".into(), plan.expires_in.to_string()));
            params.push(("scope".into(), plan.scope.clone()));
            access_token = Some(plan.access_token);
            id = plan.id;
        }
        if rt.id_token {
            let (key, mut claims) = match id {
                Some(planned) => planned,
                None => {
                    let key = self.keys.signer(tx, i.tenant, i.client.id_token_signed_response_alg)?;
                    let subject = Subject {
                        user: Some(&user),
                        auth_time: Some(i.session.auth_time),
                        sid: Some(&i.session.sid),
                        amr: &i.session.amr,
                    };
                    let mut claims = id_claims(
                        i.iss,
                        i.client,
                        &subject,
                        &user,
                        &i.req.scopes,
                        i.req.nonce.as_deref(),
                        i.now,
                    );
                    claims.extend(crate::authorize::claims_request::named_claims(
                        &user,
                        &i.req.claims.id_token,
                    ));
                    // OIDC-CORE-5.5-claims-parameter: with no access token to fetch UserInfo
                    // with, the claims asked of UserInfo come in the ID token.
                    claims.extend(crate::authorize::claims_request::named_claims(
                        &user,
                        &i.req.claims.userinfo,
                    ));
                    (key, claims)
                }
            };
            // OIDC-CORE-3.3.2.11-c-hash, OIDC-CORE-3.1.3.6-at-hash
            if let Some(at) = &access_token {
                claims.insert("at_hash".into(), json!(at_hash(key.alg(), at)));
            }
            if let Some(code) = i.code {
                claims.insert("c_hash".into(), json!(at_hash(key.alg(), code)));
            }
            params.push(("id_token".into(), crate::jose::encode(&key, "JWT", &claims)));
        }
        Ok(params)
    }
}
