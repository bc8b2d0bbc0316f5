//! The UserInfo endpoint (OIDC Core §5.3).

use crate::client::ClientRecord;
use crate::dpop::{Endpoint, PresentedToken};
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::store::{load, Store};
use crate::token::grant::GrantRecord;
use crate::token::introspect::Resolved;
use crate::user::{scope_claims, UserRecord};
use serde_json::{json, Map, Value};
use spec::vocabulary::scopes;
use spec::ErrorCode;

/// The UserInfo response: JSON, or a signed JWT for clients registered for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserInfoResponse {
    /// `application/json`.
    Json(Map<String, Value>),
    /// `application/jwt` (OIDC Core §5.3.2).
    Jwt(String),
}

impl<S: Store> Engine<S> {
    /// Handles `GET|POST /userinfo` with the bearer `token`: `sub` plus the granted scopes' claims.
    pub fn handle_userinfo(&self, env: &mut Env<'_>, tenant: &str, token: &str) -> Result<Map<String, Value>> {
        let now = env.now;
        let presented = PresentedToken::bearer(token);
        self.store
            .transact(|tx| self.userinfo_claims(tx, tenant, &presented, now))
            .map(|(claims, _)| claims)
    }

    /// [`Engine::handle_userinfo_presented`] for a Bearer token.
    pub fn handle_userinfo_response(&self, env: &mut Env<'_>, tenant: &str, token: &str) -> Result<UserInfoResponse> {
        self.handle_userinfo_presented(env, tenant, &PresentedToken::bearer(token))
    }

    /// Handles `GET|POST /userinfo` as the wire sees it: JSON, or a JWT signed with the client's
    /// registered `userinfo_signed_response_alg` carrying `iss` and `aud`, in one transaction.
    /// A DPoP-bound token is honoured only as `DPoP` with a proof from its key.
    /// OIDC-CORE-5.3.2-signed-userinfo.
    pub fn handle_userinfo_presented(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        presented: &PresentedToken,
    ) -> Result<UserInfoResponse> {
        let now = env.now;
        self.store.transact(|tx| {
            let (mut claims, client_id) = self.userinfo_claims(tx, tenant, presented, now)?;
            let client = self.clients.load(tx, &ClientRecord::key(tenant, &client_id))?;
            let Some(alg) = client.and_then(|c| c.extras.userinfo_signed_response_alg) else {
                return Ok(UserInfoResponse::Json(claims));
            };
            let key = self.keys.signer(tx, tenant, alg)?;
            claims.insert("iss".into(), json!(self.issuer(tenant)));
            claims.insert("aud".into(), json!(client_id));
            claims.insert("iat".into(), json!(now.0));
            Ok(UserInfoResponse::Jwt(crate::jose::encode(&key, "JWT", &claims)))
        })
    }

    /// The claims for `token`, and the client it was issued to.
    fn userinfo_claims(
        &self,
        tx: &mut dyn crate::store::Tx,
        tenant: &str,
        presented: &PresentedToken,
        now: crate::env::UnixTime,
    ) -> Result<(Map<String, Value>, String)> {
        let token = presented.token.as_str();
        // RFC6750-3.1-invalid-token
        let invalid = || {
            err(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        let resolved = self.resolve_token(tx, tenant, token)?;
        if !self.is_active(tx, &resolved, now)? {
            return Err(invalid());
        }
        let Resolved::Access { claims, record } = resolved else {
            return Err(invalid());
        };
        self.check_sender(tx, tenant, &record, presented, Endpoint::Userinfo, now)?;
        let Some(grant_id) = &record.grant_id else {
            return Err(err(ErrorCode::InvalidToken, "client credentials tokens carry no user"));
        };
        let grant = load::<GrantRecord>(tx, &GrantRecord::key(tenant, grant_id))?.ok_or_else(invalid)?;
        let granted: Vec<String> = claims
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .map(str::to_owned)
            .collect();
        if !granted.iter().any(|s| s == scopes::OPENID) {
            return Err(err(
                ErrorCode::InsufficientScope,
                "the openid scope is required for UserInfo",
            ));
        }
        let user = load::<UserRecord>(tx, &UserRecord::key(tenant, &grant.user_id))?.ok_or_else(invalid)?;
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.id));
        // OIDC-CORE-5.3-userinfo-claims
        out.extend(scope_claims(&user, &granted));
        // OIDC-CORE-5.5-claims-parameter
        out.extend(crate::authorize::claims_request::named_claims(
            &user,
            &grant.claims.userinfo,
        ));
        Ok((out, record.client_id.clone()))
    }
}
