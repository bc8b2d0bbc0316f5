//! The refresh_token grant: rotation on every use, reuse detection revokes the family.

use crate::audit::AuditKind;
use crate::engine::Engine;
use crate::error::Result;
use crate::scope;
use crate::store::{load, save, Store, Table, Tx};
use crate::token::grant::{self, GrantRecord, RefreshState, RefreshTokenRecord, RevocationReason};
use crate::token::minting::TokenPlan;
use crate::token::{pe, Committed, GrantCall};
use crate::user::UserRecord;
use spec::ErrorCode;

const RT_INVALID: &str = "refresh token is invalid, expired or revoked";

impl<S: Store> Engine<S> {
    pub(crate) fn refresh(&self, tx: &mut dyn Tx, call: &GrantCall<'_>) -> Result<Committed<TokenPlan>> {
        let GrantCall {
            tenant,
            iss,
            auth,
            req,
            fresh,
            now,
            ..
        } = *call;
        let client = auth.client();
        let Some(presented) = req.refresh_token.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(Err(pe(ErrorCode::InvalidRequest, "refresh_token is required")));
        };
        let Some(rt) = load::<RefreshTokenRecord>(tx, &RefreshTokenRecord::key(tenant, presented))? else {
            return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID)));
        };
        let gkey = GrantRecord::key(tenant, &rt.grant_id);
        if let Some((user, client_id)) = &rt.holder {
            let user_key = UserRecord::key(tenant, user);
            let epoch_key = grant::UserClientEpochRecord::key(tenant, user, client_id);
            tx.prefetch(&[
                (Table::Grant, &gkey),
                (Table::User, &user_key),
                (Table::UserClientGrants, &epoch_key),
            ])?;
        }
        let family = match call.family_read_before {
            Some(before) => Some(before.clone()),
            None => load::<GrantRecord>(tx, &gkey)?,
        };
        let Some(mut family) = family else {
            return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID)));
        };
        // RFC6749-6-refresh-client-binding
        if family.client_id != client.client_id && !self.mutant(|m| m.refresh_client_unchecked) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID)));
        }
        let (true, Some(current)) = (grant::is_alive(tx, &family)?, family.refresh) else {
            return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID)));
        };
        // RFC9449-5-public-refresh-binding: a public client's refresh token bound to its DPoP key
        // is used only with a proof from that key.
        if family.dpop_jkt.is_some() && family.dpop_jkt.as_deref() != call.jkt {
            return Ok(Err(pe(
                ErrorCode::InvalidGrant,
                "the refresh token is bound to a DPoP key; prove possession of that key",
            )));
        }
        // RFC9700-4.14.2-refresh-reuse: commit the family's revocation, then refuse.
        if rt.generation != current.generation && !self.mutant(|m| m.no_reuse_detection) {
            grant::revoke(tx, tenant, &family.grant_id, RevocationReason::RefreshReuse)?;
            let event = fresh
                .audit
                .event(
                    AuditKind::RefreshReuseDetected,
                    format!("grant={} revoked", family.grant_id),
                )
                .actor(client.client_id.clone())
                .subject(family.user_id.clone())
                .client(client.client_id.clone());
            self.audit(tx, tenant, &event)?;
            return Ok(Err(pe(
                ErrorCode::InvalidGrant,
                "refresh token was already used; the grant has been revoked",
            )));
        }
        if current.expires_at <= now {
            return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID)));
        }
        let user = match load::<UserRecord>(tx, &UserRecord::key(tenant, &family.user_id))? {
            Some(u) if !u.disabled => u,
            _ => return Ok(Err(pe(ErrorCode::InvalidGrant, RT_INVALID))),
        };
        // LICENSE-required: a withdrawn licence ends refreshing.
        if !client.admits(&user) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, crate::token::NOT_LICENSED)));
        }
        // RFC6749-6-refresh-scope-narrow
        let granted: Vec<String> = match req.scope.as_deref() {
            None | Some("") => family.scopes.clone(),
            Some(s) => match scope::parse(s) {
                Some(set) if !set.is_empty() && set.iter().all(|x| family.scopes.contains(x)) => {
                    set.into_iter().collect()
                }
                _ => {
                    return Ok(Err(pe(
                        ErrorCode::InvalidScope,
                        "scope may only narrow the original grant",
                    )))
                }
            },
        };
        // OAUTH21-4.3.1-refresh-rotation
        family.refresh = Some(RefreshState {
            generation: current.generation + 1,
            expires_at: now.plus(client.refresh_token_ttl),
        });
        save(tx, &gkey, &family)?;
        grant::save_refresh_token(tx, &family, &fresh.refresh_token)?;
        let plan = self.plan_user_tokens(
            tx,
            iss,
            client,
            &user,
            &family,
            &granted,
            None,
            Some(fresh.refresh_token.clone()),
            &fresh.jti,
            call.audience,
            call.jkt,
            now,
        )?;
        Ok(Ok(plan))
    }
}
