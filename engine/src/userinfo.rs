//! The UserInfo endpoint (OIDC Core §5.3).

use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::grant::GrantRecord;
use crate::introspect::Resolved;
use crate::store::{load, Store};
use crate::user::{scope_claims, UserRecord};
use serde_json::{json, Map, Value};
use spec::vocabulary::scopes;
use spec::ErrorCode;

impl<S: Store> Engine<S> {
    /// Handles `GET|POST /userinfo` with the bearer `token`: `sub` plus the granted scopes' claims.
    pub fn handle_userinfo(&self, env: &mut Env<'_>, tenant: &str, token: &str) -> Result<Map<String, Value>> {
        let now = env.now;
        let invalid = || {
            err(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        self.store.transact(|tx| {
            let resolved = self.resolve_token(tx, tenant, token)?;
            if !self.is_active(tx, &resolved, now)? {
                return Err(invalid());
            }
            let Resolved::Access { claims, record } = resolved else {
                return Err(invalid());
            };
            let Some(grant_id) = &record.grant_id else {
                return Err(err(ErrorCode::InvalidToken, "client credentials tokens carry no user"));
            };
            let grant = load::<GrantRecord>(tx, &GrantRecord::key(tenant, grant_id))?.ok_or_else(invalid)?;
            let granted: Vec<String> = claims["scope"]
                .as_str()
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
            out.extend(scope_claims(&user, &granted));
            Ok(out)
        })
    }
}
