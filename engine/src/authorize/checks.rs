//! The authorization request checks, in the order they run. Each rejects with one error and
//! names the requirement it enforces. Until `check_redirect_uri` succeeds every rejection is an
//! error page; after it, a redirect to the proven target.

use super::request::{AuthorizationRequest, ValidatedRequest};
use super::request_object;
use crate::authorize::claims_request::RequestedClaims;
use crate::authorize::pkce;
use crate::authorize::redirect::{check_redirect_uri, RedirectTarget};
use crate::authorize::response_type::ResponseType;
use crate::client::ClientRecord;
use crate::env::UnixTime;
use crate::error::{ProtocolError, Result};
use crate::jose::signing::Keyring;
use crate::scope;
use crate::store::{DecodedCache, Tx};
use spec::vocabulary::scopes;
use spec::{ErrorCode, GrantType, Prompt, ResponseMode};

/// Why a request was refused, and whether the client may be told by redirect.
#[derive(Debug)]
pub enum Rejection {
    /// Show an error page; never redirect.
    Page(ProtocolError),
    /// Redirect the error to a proven target.
    Redirect {
        /// Where.
        target: RedirectTarget,
        /// How.
        mode: ResponseMode,
        /// JARM: the client to sign the error for.
        signed_for: Option<String>,
        /// The request's state, echoed.
        state: Option<String>,
        /// What.
        error: ProtocolError,
    },
}

fn page(code: ErrorCode, d: &'static str) -> Rejection {
    Rejection::Page(ProtocolError::new(code, d))
}

/// The engine's decoded-record caches the checks read through.
#[derive(Clone, Copy)]
pub struct Caches<'a> {
    /// Signing keys (for `id_token_hint`).
    pub keys: &'a Keyring,
    /// Client records, decoded once per stored value.
    pub clients: &'a DecodedCache<ClientRecord>,
}

/// OIDC-CORE-3.1.2.1-client-known, CLIENT-deactivated.
pub fn check_client(
    tx: &mut dyn Tx,
    clients: &DecodedCache<ClientRecord>,
    tenant: &str,
    client_id: Option<&str>,
) -> Result<Result<ClientRecord, Rejection>> {
    let Some(id) = client_id.filter(|c| !c.is_empty()) else {
        return Ok(Err(page(ErrorCode::InvalidRequest, "client_id is required")));
    };
    Ok(match clients.load(tx, &ClientRecord::key(tenant, id))? {
        Some(c) if c.active && c.tenant == tenant => Ok(ClientRecord::clone(&c)),
        Some(_) => Err(page(ErrorCode::InvalidClient, "client is deactivated")),
        None => Err(page(ErrorCode::InvalidClient, "unknown client")),
    })
}

/// OIDC-CORE-3.1.2.1-redirect-uri-required, RFC6749-3.1.2.3-redirect-exact-match.
// RFC6749-4.1.2.1-no-redirect-untrusted
pub fn check_redirect(
    client: &ClientRecord,
    redirect_uri: Option<&str>,
    lenient: bool,
) -> Result<RedirectTarget, Rejection> {
    let Some(uri) = redirect_uri.filter(|u| !u.is_empty()) else {
        return Err(page(ErrorCode::InvalidRequest, "redirect_uri is required"));
    };
    let _ = lenient;
    #[cfg(feature = "mutants")]
    if lenient {
        return crate::authorize::redirect::check_redirect_uri_by_prefix(client, uri)
            .ok_or_else(|| page(ErrorCode::RedirectUriMismatch, "redirect_uri is not registered"));
    }
    check_redirect_uri(client, uri).ok_or_else(|| {
        page(
            ErrorCode::RedirectUriMismatch,
            "redirect_uri is not registered for this client; it must match a registered URI exactly",
        )
    })
}

/// Everything after the redirect target is proven, producing the validated request.
struct Redirectable<'a> {
    target: &'a RedirectTarget,
    mode: ResponseMode,
    signed_for: Option<String>,
    state: Option<String>,
}

impl Redirectable<'_> {
    fn reject(&self, code: ErrorCode, d: &'static str) -> Rejection {
        Rejection::Redirect {
            target: self.target.clone(),
            mode: self.mode,
            signed_for: self.signed_for.clone(),
            state: self.state.clone(),
            error: ProtocolError::new(code, d),
        }
    }
}

/// OAUTH-RESPONSE-MODES-response-mode, JARM-2.3-response-modes: how the response is delivered,
/// and whether it goes as one signed JWT (`jwt` is `query.jwt` for the code flow).
fn check_response_mode(req: &AuthorizationRequest) -> Result<(ResponseMode, bool), ()> {
    match req.response_mode.as_deref() {
        None | Some("") => Ok((ResponseMode::Query, false)),
        Some("jwt") => Ok((ResponseMode::Query, true)),
        Some(m) => match m.strip_suffix(".jwt") {
            Some(base) => ResponseMode::parse(base).map(|b| (b, true)).ok_or(()),
            None => ResponseMode::parse(m).map(|b| (b, false)).ok_or(()),
        },
    }
}

/// Runs the whole chain. Storage failures are the outer error; protocol refusals the inner.
pub fn validate(
    tx: &mut dyn Tx,
    caches: Caches<'_>,
    tenant: &str,
    issuer: &str,
    now: UnixTime,
    req: &AuthorizationRequest,
    lenient_redirect: bool,
) -> Result<Result<(ClientRecord, RedirectTarget, ValidatedRequest), Rejection>> {
    let client = match check_client(tx, caches.clients, tenant, req.client_id.as_deref())? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    // OIDC-CORE-6-request-object: the object's parameters replace the query's before anything
    // else is checked. A broken object is redirected only to the query's proven redirect_uri.
    let merged;
    let req = match request_object::resolve(&client, issuer, now, req) {
        Ok(None) => req,
        Ok(Some(m)) => {
            merged = m;
            &merged
        }
        Err(error) => {
            let (mode, jarm) = check_response_mode(req).unwrap_or((ResponseMode::Query, false));
            return Ok(Err(match check_redirect(&client, req.redirect_uri.as_deref(), false) {
                Ok(target) => Rejection::Redirect {
                    target,
                    mode,
                    signed_for: jarm.then(|| client.client_id.clone()),
                    state: req.state.clone().filter(|s| !s.is_empty()),
                    error,
                },
                Err(_) => Rejection::Page(error),
            }));
        }
    };
    let target = match check_redirect(&client, req.redirect_uri.as_deref(), lenient_redirect) {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    let state = req.state.clone().filter(|s| !s.is_empty());
    let mut r = Redirectable {
        target: &target,
        mode: ResponseMode::Query,
        signed_for: None,
        state,
    };
    let Ok((mode, jarm)) = check_response_mode(req) else {
        return Ok(Err(r.reject(
            ErrorCode::InvalidRequest,
            "response_mode must be query, fragment or form_post, or one of them with .jwt, or jwt",
        )));
    };
    r.mode = mode;
    r.signed_for = jarm.then(|| client.client_id.clone());
    // RFC6749-4.1.1-response-type-code, OIDC-CORE-3.3-hybrid-implicit
    let rt = match req.response_type.as_deref() {
        None | Some("") => return Ok(Err(r.reject(ErrorCode::InvalidRequest, "response_type is required"))),
        Some(s) => match ResponseType::parse(s) {
            Some(rt) => rt,
            None => {
                return Ok(Err(r.reject(
                    ErrorCode::UnsupportedResponseType,
                    "response_type must be code, or for a client registered for them id_token, id_token token, code id_token, code token or code id_token token",
                )))
            }
        },
    };
    // OAUTH-MULTIPLE-RESPONSE-TYPES-fragment: tokens never travel in the query.
    if rt.front_channel() {
        match req.response_mode.as_deref() {
            None | Some("") | Some("jwt") => r.mode = ResponseMode::Fragment,
            Some("query") | Some("query.jwt") => {
                return Ok(Err(r.reject(
                    ErrorCode::InvalidRequest,
                    "response_mode query cannot carry tokens; use fragment or form_post",
                )))
            }
            Some(_) => {}
        }
    }
    if !client.allows_response_type(rt) {
        return Ok(Err(r.reject(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for this response_type",
        )));
    }
    let checked = check_after_redirect(tx, caches.keys, tenant, issuer, &client, req, rt, &r)?;
    Ok(checked.map(|v| (client, target.clone(), v)))
}

#[allow(clippy::too_many_arguments)]
fn check_after_redirect(
    tx: &mut dyn Tx,
    keys: &Keyring,
    tenant: &str,
    issuer: &str,
    client: &ClientRecord,
    req: &AuthorizationRequest,
    rt: ResponseType,
    r: &Redirectable<'_>,
) -> Result<Result<ValidatedRequest, Rejection>> {
    use ErrorCode as E;
    if rt.code && !client.allows_grant(GrantType::AuthorizationCode) {
        return Ok(Err(r.reject(
            E::UnauthorizedClient,
            "client may not use the authorization code flow",
        )));
    }
    // CLAVEX-state-required: a client registered with require_state=false may rely on PKCE
    // (RFC 9700 §2.1) instead, so a request without state must then carry a code_challenge.
    let has_challenge = req.code_challenge.as_deref().is_some_and(|c| !c.is_empty());
    let state = match r.state.clone() {
        Some(s) => Some(s),
        None if !client.require_state && has_challenge => None,
        None => return Ok(Err(r.reject(E::InvalidRequest, "state is required"))),
    };
    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        return Ok(Err(r.reject(E::InvalidRequest, "state is too long")));
    }
    // OIDC-CORE-3.1.2.1-openid-scope, RFC6749-3.3-scope-allowed
    let Some(requested) = scope::parse(req.scope.as_deref().unwrap_or("")) else {
        return Ok(Err(r.reject(E::InvalidScope, "scope is malformed")));
    };
    // Without `openid` the request is plain OAuth 2.0: tokens, no ID token (see `token`).
    if requested.is_empty() {
        return Ok(Err(r.reject(E::InvalidScope, "scope is required")));
    }
    if requested
        .iter()
        .any(|s| !client.allowed_scopes.contains(s) || s == scopes::ADMIN)
    {
        return Ok(Err(r.reject(
            E::InvalidScope,
            "a requested scope is unknown or not allowed for this client",
        )));
    }
    // RFC7636-4.2-s256-only, RFC7636-4.2-challenge-format, RFC7636-4.4.1-pkce-required-public,
    // RFC9700-2.1.1-pkce-required-default
    let challenge = req.code_challenge.clone().filter(|c| !c.is_empty());
    let pkce_required = rt.code && client.pkce_required();
    match (challenge.as_deref(), req.code_challenge_method.as_deref()) {
        (None, Some(_)) => {
            return Ok(Err(
                r.reject(E::InvalidRequest, "code_challenge_method without code_challenge")
            ))
        }
        (None, None) if pkce_required => {
            return Ok(Err(
                r.reject(E::InvalidRequest, "code_challenge is required (PKCE S256)")
            ));
        }
        (Some(_), m) if m != Some("S256") => {
            return Ok(Err(r.reject(E::InvalidRequest, "code_challenge_method must be S256")));
        }
        (Some(c), _) if !pkce::valid_challenge(c) => {
            return Ok(Err(
                r.reject(E::InvalidRequest, "code_challenge must be 43 base64url characters")
            ));
        }
        _ => {}
    }
    // OIDC-CORE-3.1.2.1-prompt-none-alone
    let mut prompts = Vec::new();
    for p in req.prompt.as_deref().unwrap_or("").split(' ').filter(|p| !p.is_empty()) {
        let Some(p) = Prompt::parse(p) else {
            return Ok(Err(r.reject(E::InvalidRequest, "unknown prompt value")));
        };
        if !prompts.contains(&p) {
            prompts.push(p);
        }
    }
    if prompts.contains(&Prompt::None) && prompts.len() > 1 {
        return Ok(Err(r.reject(
            E::InvalidRequest,
            "prompt=none cannot be combined with other values",
        )));
    }
    // OIDC-CORE-3.1.2.1-max-age
    let max_age = match req.max_age.as_deref().filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => match m.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return Ok(Err(
                    r.reject(E::InvalidRequest, "max_age must be a non-negative integer")
                ))
            }
        },
    };
    // OIDC-CORE-3.1.2.1-nonce
    let nonce = req.nonce.clone().filter(|n| !n.is_empty());
    // OIDC-CORE-3.2.2.1-nonce-required: an ID token from the authorization endpoint carries the
    // request's nonce, so there must be one; and it needs `openid`.
    if rt.id_token && nonce.is_none() {
        return Ok(Err(r.reject(
            E::InvalidRequest,
            "nonce is required when response_type has id_token",
        )));
    }
    if rt.id_token && !requested.contains(scopes::OPENID) {
        return Ok(Err(
            r.reject(E::InvalidScope, "response_type id_token needs the openid scope")
        ));
    }
    if nonce.as_ref().is_some_and(|n| n.len() > 512) || req.login_hint.as_ref().is_some_and(|h| h.len() > 256) {
        return Ok(Err(r.reject(E::InvalidRequest, "nonce or login_hint is too long")));
    }
    // OIDC-CORE-3.1.2.1-id-token-hint
    let hint_subject = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        None => None,
        Some(hint) => match keys.verify_own(tx, tenant, hint)? {
            Some((typ, claims))
                if typ.as_deref() == Some("JWT") && claims["iss"] == issuer && claims["sub"].is_string() =>
            {
                claims["sub"].as_str().map(str::to_owned)
            }
            _ => {
                return Ok(Err(r.reject(
                    E::InvalidRequest,
                    "id_token_hint is not a valid ID token of this issuer",
                )))
            }
        },
    };
    // OIDC-CORE-5.5-claims-parameter
    let claims = match req.claims.as_deref().filter(|c| !c.is_empty()) {
        None => RequestedClaims::default(),
        Some(text) => match RequestedClaims::parse(text) {
            Some(c) => c,
            None => return Ok(Err(r.reject(E::InvalidRequest, "claims is not a valid claims request"))),
        },
    };
    // OIDC-CORE-3.1.2.1-acr-values: the level asked; an essential acr no level meets is refused.
    // A request that names no acr_values asks the client's registered default_acr_values.
    let acr_values = req.acr_values.clone().or_else(|| client.default_acr_values());
    let Ok(acr) = crate::mfa::policy::requested(acr_values.as_deref(), claims.acr.as_ref()) else {
        return Ok(Err(r.reject(
            E::AccessDenied,
            "none of the authentication context classes (acr) the request requires is offered here",
        )));
    };
    // RFC9449-10-dpop-jkt: a SHA-256 thumbprint is 43 base64url characters.
    let dpop_jkt = req.dpop_jkt.clone().filter(|j| !j.is_empty());
    if dpop_jkt.as_deref().is_some_and(|j| !pkce::valid_challenge(j)) {
        return Ok(Err(r.reject(
            E::InvalidRequest,
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        )));
    }
    Ok(Ok(ValidatedRequest {
        client_id: client.client_id.clone(),
        response_type: rt,
        redirect_uri: r.target.uri().to_string(),
        response_mode: r.mode,
        jarm: r.signed_for.is_some(),
        scopes: requested.into_iter().collect(),
        state,
        nonce,
        code_challenge: challenge,
        prompts,
        max_age,
        login_hint: req.login_hint.clone().filter(|h| !h.is_empty()),
        hint_subject,
        claims,
        dpop_jkt,
        acr,
    }))
}

/// Re-proves a stored request's client and redirect target when the flow resumes
/// (the client may have been changed or deactivated meanwhile).
pub fn recheck(
    tx: &mut dyn Tx,
    clients: &DecodedCache<ClientRecord>,
    tenant: &str,
    req: &ValidatedRequest,
) -> Result<Result<(ClientRecord, RedirectTarget), Rejection>> {
    let client = match check_client(tx, clients, tenant, Some(&req.client_id))? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    Ok(check_redirect(&client, Some(&req.redirect_uri), false).map(|t| (client, t)))
}
