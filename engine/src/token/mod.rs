//! The token endpoint: authorization_code and client_credentials grants (refresh is in `refresh`).

pub mod code;
pub mod grant;
pub mod introspect;
pub mod minting;
pub mod refresh;
pub mod resource;
pub mod revoke;
pub mod userinfo;

use crate::audit::AuditKind;
use crate::authorize::pkce;
use crate::client::auth::{ClientAuthenticated, ClientCredentials};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{ProtocolError, Result};
use crate::scope;
use crate::secret::{mint, mint_id};
use crate::session::{SessionRecord, SessionState};
use crate::store::{load, save, Store, Table, Tx};
use crate::token::code::{CodeRecord, CodeState};
use crate::token::minting::{access_claims, id_claims, Subject, TokenPlan, TokenResponse};
use crate::user::UserRecord;
use grant::{AccessTokenRecord, GrantRecord, GrantState, RefreshState, RefreshTokenRecord, RevocationReason};
use spec::vocabulary::scopes;
use spec::{ErrorCode, GrantType};

/// Token request parameters as received (client credentials are separate).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `code_verifier`.
    pub code_verifier: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `resource` (RFC 8707), each an absolute URI the client may name.
    pub resource: Vec<String>,
    /// The request's `DPoP` proof (RFC 9449), if it carried one.
    pub dpop: Option<crate::dpop::DpopHeader>,
}

/// Random values a token request may need, drawn before the store transaction.
pub(crate) struct FreshTokens {
    pub audit: crate::audit::AuditStamp,
    pub jti: String,
    pub grant_id: String,
    pub refresh_token: String,
}

impl FreshTokens {
    fn draw(env: &mut Env<'_>, clock: &crate::audit::AuditClock) -> Self {
        FreshTokens {
            audit: clock.draw(env),
            jti: mint_id(env),
            grant_id: mint_id(env),
            refresh_token: mint(env, ""),
        }
    }
}

/// One token request inside its store transaction: who asked, for what, with which fresh values.
#[derive(Clone, Copy)]
pub(crate) struct GrantCall<'a> {
    pub tenant: &'a str,
    pub iss: &'a str,
    pub auth: &'a ClientAuthenticated,
    pub req: &'a TokenRequest,
    pub fresh: &'a FreshTokens,
    pub now: UnixTime,
    /// The access token's `aud` (RFC 8707 resources, or the client_id).
    pub audience: &'a [String],
    /// The refresh token's family as read before the transaction (only the mutant
    /// `family_read_outside_transaction` does).
    pub family_read_before: Option<&'a grant::GrantRecord>,
    /// The thumbprint of the key the request's DPoP proof was signed with: the tokens are bound to it.
    pub jkt: Option<&'a str>,
}

/// A failure that still commits what the transaction wrote (e.g. revocation on replay).
pub(crate) type Committed<T> = std::result::Result<T, ProtocolError>;

/// The refusal when a client requires a licence the user no longer holds.
pub(crate) const NOT_LICENSED: &str = "the user's licence for this application was withdrawn";

pub(crate) fn pe(code: ErrorCode, d: &'static str) -> ProtocolError {
    ProtocolError::new(code, d)
}

const CODE_INVALID: &str = "Authorization code is invalid, expired, or already used";

impl<S: Store> Engine<S> {
    /// Handles `POST /token`.
    pub fn handle_token(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        creds: &ClientCredentials,
        req: &TokenRequest,
    ) -> Result<TokenResponse> {
        let grant = match req.grant_type.as_deref() {
            None | Some("") => return Err(pe(ErrorCode::InvalidRequest, "grant_type is required").into()),
            Some(g) => {
                // RFC6749-5.2-unsupported-grant-type
                GrantType::parse(g).ok_or_else(|| pe(ErrorCode::UnsupportedGrantType, "unsupported grant_type"))?
            }
        };
        let fresh = FreshTokens::draw(env, &self.audit_clock);
        let now = env.now;
        let iss = self.issuer(tenant);
        let family_read_before = match (grant, req.refresh_token.as_deref()) {
            (GrantType::RefreshToken, Some(t)) if self.mutant(|m| m.family_read_outside_transaction) => {
                self.store.transact(|tx| {
                    let Some(rt) = load::<RefreshTokenRecord>(tx, &RefreshTokenRecord::key(tenant, t))? else {
                        return Ok(None);
                    };
                    load::<grant::GrantRecord>(tx, &grant::GrantRecord::key(tenant, &rt.grant_id))
                })?
            }
            _ => None,
        };
        let plan = self.store.transact(|tx| {
            // What every token request reads first, in one go where reads cost a round trip.
            let client_key = creds.named_client().map(|id| ClientRecord::key(tenant, id));
            let grant_key = match grant {
                GrantType::AuthorizationCode => req.code.as_deref().map(|c| (Table::Code, CodeRecord::key(tenant, c))),
                GrantType::RefreshToken => req
                    .refresh_token
                    .as_deref()
                    .map(|t| (Table::RefreshToken, RefreshTokenRecord::key(tenant, t))),
                GrantType::ClientCredentials => None,
            };
            let mut first = vec![(Table::SigningKeys, tenant)];
            if req.dpop.is_some() {
                first.push((Table::Tenant, tenant));
            }
            first.extend(client_key.as_deref().map(|k| (Table::Client, k)));
            first.extend(grant_key.as_ref().map(|(t, k)| (*t, k.as_str())));
            tx.prefetch(&first)?;
            let auth = self.authenticate_client(tx, tenant, &iss, creds, now)?;
            if !auth.client().allows_grant(grant) {
                return Ok(Err(pe(
                    ErrorCode::UnauthorizedClient,
                    "client is not allowed to use this grant_type",
                )));
            }
            // RFC9449-5-token-request
            let jkt = match &req.dpop {
                Some(proof) => match self.prove_dpop(tx, tenant, proof, crate::dpop::Endpoint::Token, None, now)? {
                    Ok(jkt) => Some(jkt),
                    Err(e) => return Ok(Err(e)),
                },
                // RFC9449-5.2-dpop-bound-access-tokens
                None if crate::dpop::required_for(auth.client()) => {
                    return Ok(Err(crate::dpop::ProofError::Missing.into()));
                }
                None => None,
            };
            let audience = match crate::token::resource::audience(
                &auth.client().client_id,
                &auth.client().allowed_resources,
                &req.resource,
            ) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            let call = |auth| GrantCall {
                tenant,
                iss: &iss,
                auth,
                req,
                fresh: &fresh,
                now,
                audience: &audience,
                family_read_before: family_read_before.as_ref(),
                jkt: jkt.as_deref(),
            };
            let planned = match grant {
                GrantType::AuthorizationCode => self.exchange_code(tx, &call(&auth))?,
                GrantType::RefreshToken => self.refresh(tx, &call(&auth))?,
                GrantType::ClientCredentials => self.client_credentials(tx, &call(&auth))?,
            };
            if let Ok(plan) = &planned {
                let kind = match grant {
                    GrantType::RefreshToken => AuditKind::TokenRefreshed,
                    _ => AuditKind::TokenIssued,
                };
                let sub = plan.subject.clone();
                let event = fresh
                    .audit
                    .event(kind, format!("grant_type={} scope={}", grant.as_str(), plan.scope))
                    .actor(auth.client().client_id.clone())
                    .subject(sub)
                    .client(auth.client().client_id.clone());
                self.audit(tx, tenant, &event)?;
            }
            Ok(planned)
        })?;
        Ok(plan?.sign())
    }

    /// Signs an access token and writes its record (keyed by jti, with the token's hash). A token
    /// bound to a DPoP key (`record.jkt`) says so in `cnf.jkt` (RFC 9449 §6.1).
    fn issue_access_token(
        &self,
        tx: &mut dyn Tx,
        client: &ClientRecord,
        mut claims: serde_json::Map<String, serde_json::Value>,
        mut record: AccessTokenRecord,
    ) -> Result<String> {
        // RFC9449-6-cnf-jkt
        if let Some(jkt) = &record.jkt {
            claims.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
        }
        let key = self
            .keys
            .signer(tx, &record.tenant, client.access_token_signed_response_alg)?;
        // RFC9068-2-jwt-access-token
        let token = crate::jose::encode(&key, "at+jwt", &claims);
        let jti = claims.get("jti").and_then(|j| j.as_str()).unwrap_or_default();
        record.token_hash = Some(crate::secret::SecretHash::of(&token));
        save(tx, &AccessTokenRecord::key(&record.tenant, jti), &record)?;
        Ok(token)
    }

    /// Plans tokens for a user grant and writes the grant, its access token record and its
    /// first refresh token.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plan_user_tokens(
        &self,
        tx: &mut dyn Tx,
        iss: &str,
        client: &ClientRecord,
        user: &UserRecord,
        grant: &GrantRecord,
        granted: &[String],
        nonce: Option<&str>,
        refresh_token: Option<String>,
        jti: &str,
        audience: &[String],
        jkt: Option<&str>,
        now: UnixTime,
    ) -> Result<TokenPlan> {
        let subject = Subject {
            user: Some(user),
            auth_time: Some(grant.auth_time),
            sid: Some(&grant.sid),
            amr: &grant.amr,
        };
        let access_token = self.issue_access_token(
            tx,
            client,
            access_claims(iss, client, &subject, granted, jti, audience, now),
            AccessTokenRecord {
                tenant: grant.tenant.clone(),
                client_id: client.client_id.clone(),
                grant_id: Some(grant.grant_id.clone()),
                user_id: Some(grant.user_id.clone()),
                expires_at: now.plus(client.access_token_ttl),
                revoked: false,
                token_hash: None,
                jkt: jkt.map(str::to_owned),
            },
        )?;
        let id = if granted.iter().any(|s| s == scopes::OPENID) {
            let key = self
                .keys
                .signer(tx, &grant.tenant, client.id_token_signed_response_alg)?;
            let nonce = nonce.filter(|_| !self.mutant(|m| m.id_token_nonce_dropped));
            let subject = Subject {
                sid: subject.sid.filter(|_| !self.mutant(|m| m.id_token_sid_dropped)),
                ..subject
            };
            let mut claims = id_claims(iss, client, &subject, user, granted, nonce, now);
            // OIDC-CORE-5.5-claims-parameter
            claims.extend(crate::authorize::claims_request::named_claims(
                user,
                &grant.claims.id_token,
            ));
            Some((key, claims))
        } else {
            None
        };
        Ok(TokenPlan {
            access_token,
            token_type: TokenPlan::token_type_for(jkt),
            subject: user.id.clone(),
            id,
            refresh_token,
            // TOKENS-lifetimes
            expires_in: client.access_token_ttl,
            scope: granted.join(" "),
        })
    }

    fn exchange_code(&self, tx: &mut dyn Tx, call: &GrantCall<'_>) -> Result<Committed<TokenPlan>> {
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
        let Some(code) = req.code.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(Err(pe(ErrorCode::InvalidRequest, "code is required")));
        };
        let key = CodeRecord::key(tenant, code);
        let Some(rec) = load::<CodeRecord>(tx, &key)? else {
            return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID)));
        };
        // RFC6749-4.1.2-code-replay-revokes: commit the revocation, then refuse.
        // RFC6749-4.1.2-code-single-use
        if let CodeState::Redeemed { grant_id } = &rec.state {
            if !self.mutant(|m| m.code_reuse) {
                if !self.mutant(|m| m.replay_keeps_tokens) {
                    grant::revoke(tx, tenant, grant_id, RevocationReason::CodeReplay)?;
                }
                return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID)));
            }
        }
        // RFC6749-4.1.3-code-client-binding
        // RFC6749-4.1.2-code-ttl
        if rec.expires_at <= now || (rec.client_id != client.client_id && !self.mutant(|m| m.skip_client_binding)) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID)));
        }
        let user_key = UserRecord::key(tenant, &rec.user_id);
        let epoch_key = grant::UserClientEpochRecord::key(tenant, &rec.user_id, &client.client_id);
        tx.prefetch(&[
            (Table::Session, &rec.session_key),
            (Table::User, &user_key),
            (Table::UserClientGrants, &epoch_key),
        ])?;
        // OIDC-RPLOGOUT-logout-revokes: a code dies with the session that authorized it.
        let session = load::<SessionRecord>(tx, &rec.session_key)?;
        if session.is_none_or(|s| s.state != SessionState::Active) && !self.mutant(|m| m.code_survives_logout) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID)));
        }
        // ADMIN-user-disable-revokes: a revocation of the (user, client) pair since the code was
        // issued (a consent withdrawn, a logout elsewhere) kills the code with the pair's grants.
        let current = grant::current_epoch(tx, tenant, &rec.user_id, &rec.client_id)?;
        if rec.epoch.is_some_and(|e| e != current) && !self.mutant(|m| m.code_survives_logout) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID)));
        }
        // RFC9449-10-dpop-jkt: a code bound to a DPoP key is redeemed only with a proof from it.
        if rec.dpop_jkt.is_some() && rec.dpop_jkt.as_deref() != call.jkt {
            return Ok(Err(pe(
                ErrorCode::InvalidGrant,
                "the code is bound to a DPoP key; prove possession of that key",
            )));
        }
        if req.redirect_uri.as_deref() != Some(rec.redirect_uri.as_str())
            && !self.mutant(|m| m.token_redirect_unchecked)
        {
            // RFC6749-4.1.3-redirect-uri-match
            return Ok(Err(pe(ErrorCode::InvalidGrant, "redirect_uri does not match")));
        }
        // RFC7636-4.6-s256-verify
        let pkce_ok = match (&rec.code_challenge, req.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge),
            (Some(_), None) => false,
            // RFC9700-4.8.2-pkce-downgrade
            (None, Some(_)) => false,
            (None, None) => !client.pkce_required(),
        };
        if !pkce_ok && !self.mutant(|m| m.skip_pkce) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, "PKCE verification failed")));
        }
        let user = match load::<UserRecord>(tx, &user_key)? {
            Some(u) if !u.disabled => u,
            _ => return Ok(Err(pe(ErrorCode::InvalidGrant, CODE_INVALID))),
        };
        if !client.admits(&user) {
            return Ok(Err(pe(ErrorCode::InvalidGrant, NOT_LICENSED)));
        }
        // RFC6749-4.1.2-refresh-policy
        let issue_refresh = client.allows_grant(GrantType::RefreshToken)
            && (client.refresh_without_offline_access || rec.scopes.iter().any(|s| s == scopes::OFFLINE_ACCESS));
        let grant = GrantRecord {
            tenant: tenant.into(),
            grant_id: fresh.grant_id.clone(),
            client_id: client.client_id.clone(),
            user_id: user.id.clone(),
            scopes: rec.scopes.clone(),
            sid: rec.sid.clone(),
            auth_time: rec.auth_time,
            amr: rec.amr.clone(),
            state: GrantState::Active,
            refresh: issue_refresh.then(|| RefreshState {
                generation: 0,
                expires_at: now.plus(client.refresh_token_ttl),
            }),
            epoch: grant::epoch_for_new_grant(tx, tenant, &user.id, &client.client_id)?,
            claims: rec.claims.clone(),
            tokens_until: (!issue_refresh).then(|| now.plus(client.access_token_ttl)),
            // RFC9449-5-public-refresh-binding
            dpop_jkt: call
                .jkt
                .filter(|_| client.auth_method == spec::ClientAuthMethod::None)
                .map(str::to_owned),
        };
        save(tx, &GrantRecord::key(tenant, &grant.grant_id), &grant)?;
        grant::save_refresh_token(tx, &grant, &fresh.refresh_token)?;
        let kept = if self.mutant(|m| m.code_reuse) {
            // The mutant forgets single use, so it keeps the whole code, as an engine without
            // that check would.
            CodeRecord {
                state: CodeState::Redeemed {
                    grant_id: grant.grant_id.clone(),
                },
                ..rec.clone()
            }
        } else {
            rec.redeemed(grant.grant_id.clone())
        };
        save(tx, &key, &kept)?;
        let rt = issue_refresh.then(|| fresh.refresh_token.clone());
        let plan = self.plan_user_tokens(
            tx,
            iss,
            client,
            &user,
            &grant,
            &rec.scopes,
            rec.nonce.as_deref(),
            rt,
            &fresh.jti,
            call.audience,
            call.jkt,
            now,
        )?;
        Ok(Ok(plan))
    }

    fn client_credentials(&self, tx: &mut dyn Tx, call: &GrantCall<'_>) -> Result<Committed<TokenPlan>> {
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
        // RFC6749-4.4-client-credentials
        if client.auth_method == spec::ClientAuthMethod::None {
            return Ok(Err(pe(
                ErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            )));
        }
        let Some(requested) = scope::parse(req.scope.as_deref().unwrap_or("")) else {
            return Ok(Err(pe(ErrorCode::InvalidScope, "scope is malformed")));
        };
        if requested
            .iter()
            .any(|s| !client.allowed_scopes.contains(s) || s == scopes::OFFLINE_ACCESS)
        {
            return Ok(Err(pe(
                ErrorCode::InvalidScope,
                "a requested scope is unknown or not allowed for this client",
            )));
        }
        let granted: Vec<String> = requested.into_iter().collect();
        // Only the token's record and audit line are written: a crash that loses them makes
        // the token unknown to introspection (it still verifies by signature), breaking no
        // single-use or rotation promise.
        tx.relax_durability();
        let subject = Subject {
            user: None,
            auth_time: None,
            sid: None,
            amr: &[],
        };
        let access_token = self.issue_access_token(
            tx,
            client,
            access_claims(iss, client, &subject, &granted, &fresh.jti, call.audience, now),
            AccessTokenRecord {
                tenant: tenant.into(),
                client_id: client.client_id.clone(),
                grant_id: None,
                user_id: None,
                expires_at: now.plus(client.access_token_ttl),
                revoked: false,
                token_hash: None,
                jkt: call.jkt.map(str::to_owned),
            },
        )?;
        Ok(Ok(TokenPlan {
            access_token,
            token_type: TokenPlan::token_type_for(call.jkt),
            subject: client.client_id.clone(),
            id: None,
            refresh_token: None,
            expires_in: client.access_token_ttl,
            scope: granted.join(" "),
        }))
    }
}
