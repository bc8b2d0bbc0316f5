//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

use crate::authorize::redirect::{check_post_logout_uri, RedirectResponse};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{ProtocolError, Result};
use crate::session::{load_live, SessionRecord, SessionState};
use crate::store::{load, save, Store};
use crate::token::grant::{self, RevocationReason};
use spec::{ErrorCode, ResponseMode};

/// End-session parameters as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndSessionRequest {
    /// `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `post_logout_redirect_uri`.
    pub post_logout_redirect_uri: Option<String>,
    /// `state`.
    pub state: Option<String>,
}

/// What the adapter must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndSessionOutcome {
    /// Show an error page (bad hint, unregistered URI); nothing was changed.
    ErrorPage(ProtocolError),
    /// Ask the user to confirm (no valid id_token_hint); re-submit with `confirmed`.
    Confirm {
        /// Name of the client asking, if known.
        client_name: Option<String>,
    },
    /// Logged out: clear the cookie, POST the logout tokens, then redirect or show the
    /// logged-out page.
    LoggedOut {
        /// Where to send the user, if a registered URI was given.
        redirect: Option<RedirectResponse>,
        /// Back-channel logout tokens to POST (OIDC Back-Channel Logout 1.0).
        backchannel: Vec<LogoutNotice>,
    },
}

/// One back-channel logout: POST `logout_token` (form-encoded) to `uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutNotice {
    /// The client's registered `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token.
    pub logout_token: String,
}

/// How long a logout token is valid, seconds.
const LOGOUT_TOKEN_TTL: u64 = 120;

/// The back-channel logout event member (OIDC Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn page(d: &'static str) -> EndSessionOutcome {
    EndSessionOutcome::ErrorPage(ProtocolError::new(ErrorCode::InvalidRequest, d))
}

impl<S: Store> Engine<S> {
    /// Handles `GET|POST /end-session`. `session` is the browser's cookie; `confirmed` is true when
    /// the user approved the logout on our confirmation page.
    pub fn handle_end_session(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        req: &EndSessionRequest,
        session: Option<&str>,
        confirmed: bool,
    ) -> EndSessionOutcome {
        let now = env.now;
        let iss = self.issuer(tenant);
        let stamp = self.stamp(env);
        let jti = crate::secret::mint(env, "");
        let out: Result<EndSessionOutcome> = self.store.transact(|tx| {
            // OIDC-RPLOGOUT-2-id-token-hint
            let hint = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
                None => None,
                Some(h) => match self.keys.verify_own(tx, tenant, h)? {
                    Some((typ, claims)) if typ.as_deref() == Some("JWT") && claims["iss"] == iss.as_str() => {
                        Some(claims)
                    }
                    _ => return Ok(page("id_token_hint is not a valid ID token of this issuer")),
                },
            };
            let hint_client = hint.as_ref().and_then(|c| match &c["aud"] {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
                _ => None,
            });
            let given = req.client_id.clone().filter(|c| !c.is_empty());
            if let (Some(h), Some(g)) = (&hint_client, &given) {
                if h != g {
                    return Ok(page("client_id does not match the id_token_hint"));
                }
            }
            let client = match hint_client.or(given) {
                Some(id) => match load::<ClientRecord>(tx, &ClientRecord::key(tenant, &id))? {
                    Some(c) => Some(c),
                    None => return Ok(page("unknown client")),
                },
                None => None,
            };
            // OIDC-RPLOGOUT-2-post-logout-redirect
            let target = match req.post_logout_redirect_uri.as_deref().filter(|u| !u.is_empty()) {
                None => None,
                Some(uri) => {
                    let Some(c) = &client else {
                        return Ok(page("post_logout_redirect_uri needs id_token_hint or client_id"));
                    };
                    match check_post_logout_uri(c, uri) {
                        Some(t) => Some(t),
                        None => return Ok(page("post_logout_redirect_uri is not registered for this client")),
                    }
                }
            };
            if hint.is_none() && !confirmed {
                return Ok(EndSessionOutcome::Confirm {
                    client_name: client.map(|c| c.name),
                });
            }
            // OIDC-RPLOGOUT-logout-revokes
            let live = load_live(tx, tenant, session, now)?;
            let user_id = hint
                .as_ref()
                .and_then(|h| h["sub"].as_str().map(str::to_owned))
                .or_else(|| live.as_ref().map(|l| l.user.id.clone()));
            let mut backchannel = Vec::new();
            if let Some(l) = &live {
                let mut rec: SessionRecord = l.record.clone();
                rec.state = SessionState::Ended;
                save(tx, &l.key, &rec)?;
                backchannel = self.logout_notices(tx, tenant, &iss, &rec, &jti, now)?;
            }
            if let (Some(user), Some(c), false) = (&user_id, &client, self.mutant(|m| m.logout_keeps_tokens)) {
                grant::revoke_for_user(tx, tenant, user, &c.client_id, RevocationReason::Logout)?;
            }
            if let Some(user) = &user_id {
                let mut event = stamp
                    .event(crate::audit::AuditKind::Logout, "RP-initiated logout")
                    .actor(user.clone())
                    .subject(user.clone());
                if let Some(c) = &client {
                    event = event.client(c.client_id.clone());
                }
                self.audit(tx, tenant, &event)?;
            }
            let redirect = target.map(|t| RedirectResponse {
                target: t,
                mode: ResponseMode::Query,
                params: req
                    .state
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| ("state".to_string(), s.clone()))
                    .collect(),
                signed_for: None,
            });
            Ok(EndSessionOutcome::LoggedOut { redirect, backchannel })
        });
        out.unwrap_or_else(|e| EndSessionOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())))
    }

    /// OIDC-BCLOGOUT-2.4-logout-token: a logout token for every client of the ended `session`
    /// that registered a back-channel logout URI; their grants of this user are revoked.
    pub(crate) fn logout_notices(
        &self,
        tx: &mut dyn crate::store::Tx,
        tenant: &str,
        iss: &str,
        session: &SessionRecord,
        jti: &str,
        now: crate::env::UnixTime,
    ) -> Result<Vec<LogoutNotice>> {
        let mut out = Vec::new();
        for (i, client_id) in session.clients.iter().enumerate() {
            let Some(client) = load::<ClientRecord>(tx, &ClientRecord::key(tenant, client_id))? else {
                continue;
            };
            let Some(uri) = client.extras.backchannel_logout_uri.clone().filter(|_| client.active) else {
                continue;
            };
            grant::revoke_for_user(tx, tenant, &session.user_id, client_id, RevocationReason::Logout)?;
            let key = self.keys.signer(tx, tenant, client.id_token_signed_response_alg)?;
            let claims = serde_json::json!({
                "iss": iss,
                "aud": client_id,
                "iat": now.0,
                "exp": now.0 + LOGOUT_TOKEN_TTL,
                "jti": format!("{jti}.{i}"),
                "sub": session.user_id,
                "sid": session.sid,
                "events": { BACKCHANNEL_EVENT: {} },
            });
            out.push(LogoutNotice {
                uri,
                logout_token: crate::jose::encode(&key, "logout+jwt", &claims),
            });
        }
        Ok(out)
    }
}
