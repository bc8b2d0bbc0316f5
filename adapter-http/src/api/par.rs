//! `POST /{tenant}/par`: pushed authorization requests (RFC 9126), the form and the answers.

use super::{credentials, oauth_error, OAuthError, OAuthResult, NO_STORE};
use crate::shared_state::Limit;
use crate::state::Shared;
use engine::AuthorizationRequest;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use serde::Deserialize;
use spec::ErrorCode;

/// A pushed authorization request: the parameters `/authorize` takes, and the client's
/// authentication as at the token endpoint (`application/x-www-form-urlencoded`).
#[derive(Object, Deserialize, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct ParForm {
    /// `code`.
    pub response_type: Option<String>,
    /// One of the client's registered redirect URIs.
    pub redirect_uri: Option<String>,
    /// Requested scopes, space-separated.
    pub scope: Option<String>,
    /// Opaque value returned with the response.
    pub state: Option<String>,
    /// PKCE challenge (S256).
    pub code_challenge: Option<String>,
    /// `S256`.
    pub code_challenge_method: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: Option<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// Maximum authentication age, seconds.
    pub max_age: Option<String>,
    /// Login hint.
    pub login_hint: Option<String>,
    /// A previously issued ID token.
    pub id_token_hint: Option<String>,
    /// A request object (JWT), checked as at `/authorize`.
    pub request: Option<String>,
    /// Refused here: a pushed request cannot name another.
    pub request_uri: Option<String>,
    /// OIDC claims request (JSON).
    pub claims: Option<String>,
    /// Accepted, as at `/authorize`.
    pub display: Option<String>,
    /// Accepted, as at `/authorize`.
    pub ui_locales: Option<String>,
    /// Accepted, as at `/authorize`.
    pub claims_locales: Option<String>,
    /// Accepted, as at `/authorize`.
    pub acr_values: Option<String>,
    /// The thumbprint of the DPoP key the code is to be bound to (RFC 9449 §10); a `DPoP`
    /// header does the same.
    pub dpop_jkt: Option<String>,
    /// Client id (body authentication or public clients).
    pub client_id: Option<String>,
    /// Client secret (client_secret_post).
    pub client_secret: Option<String>,
    /// Client assertion (private_key_jwt).
    pub client_assertion: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
}

impl ParForm {
    /// The authorization request it carries.
    pub fn request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            response_type: self.response_type.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            nonce: self.nonce.clone(),
            response_mode: self.response_mode.clone(),
            prompt: self.prompt.clone(),
            max_age: self.max_age.clone(),
            login_hint: self.login_hint.clone(),
            id_token_hint: self.id_token_hint.clone(),
            request: self.request.clone(),
            request_uri: self.request_uri.clone(),
            claims: self.claims.clone(),
            display: self.display.clone(),
            ui_locales: self.ui_locales.clone(),
            claims_locales: self.claims_locales.clone(),
            acr_values: self.acr_values.clone(),
            dpop_jkt: self.dpop_jkt.clone(),
            ..AuthorizationRequest::default()
        }
    }
}

/// Where the browser takes the pushed request.
#[derive(Object, Debug)]
pub struct ParBody {
    /// `urn:ietf:params:oauth:request_uri:…`, for `/authorize?client_id=…&request_uri=…`; one use.
    pub request_uri: String,
    /// Seconds it stays usable (60).
    pub expires_in: u64,
}

/// Answers of the PAR endpoint.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ParResult {
    /// Pushed.
    #[oai(status = 201)]
    Created(
        Json<ParBody>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
        #[oai(header = "DPoP-Nonce")] Option<String>,
    ),
    /// invalid_request, invalid_scope, invalid_request_object, unauthorized_client, …: the check
    /// of the request that failed, as `/authorize` would have said it; invalid_dpop_proof and
    /// use_dpop_nonce (with the nonce to use in `DPoP-Nonce`).
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthError>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "DPoP-Nonce")] Option<String>,
    ),
    /// invalid_client.
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthError>,
        #[oai(header = "WWW-Authenticate")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// temporarily_unavailable: rate limited.
    #[oai(status = 429)]
    TooManyRequests(Json<OAuthError>, #[oai(header = "Retry-After")] u64),
    /// server_error.
    #[oai(status = 500)]
    ServerError(Json<OAuthError>),
    /// temporarily_unavailable: the store cannot be reached now; nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<OAuthError>, #[oai(header = "Retry-After")] u64),
}

fn bad_request(err: poem::Error) -> ParResult {
    ParResult::BadRequest(
        oauth_error(ErrorCode::InvalidRequest, format!("malformed request: {err}")),
        NO_STORE.into(),
        None,
    )
}

impl From<OAuthResult<ParBody>> for ParResult {
    fn from(r: OAuthResult<ParBody>) -> Self {
        match r {
            OAuthResult::Ok(body, cache, pragma, nonce) => ParResult::Created(body, cache, pragma, nonce),
            OAuthResult::BadRequest(e, c, nonce) => ParResult::BadRequest(e, c, nonce),
            OAuthResult::Unauthorized(e, w, c) => ParResult::Unauthorized(e, w, c),
            OAuthResult::TooManyRequests(e, wait) => ParResult::TooManyRequests(e, wait),
            OAuthResult::ServerError(e) => ParResult::ServerError(e),
            OAuthResult::Unavailable(e, wait) => ParResult::Unavailable(e, wait),
        }
    }
}

/// Pushes `form` for `tenant`, rate limited as the token endpoint is.
pub(super) async fn push(state: &Shared, tenant: &str, req: &Request, form: ParForm) -> ParResult {
    if let Err(wait) = state.shared.rate(Limit::TokenPerIp, &state.proxies.client_ip(req)) {
        return ParResult::TooManyRequests(
            oauth_error(ErrorCode::TemporarilyUnavailable, "too many requests; retry later"),
            wait,
        );
    }
    let areq = form.request();
    let creds = credentials(
        req,
        form.client_id,
        form.client_secret,
        form.client_assertion,
        form.client_assertion_type,
    );
    super::refresh_assertion_keys(state, tenant, &creds).await;
    let t = tenant.to_string();
    let proof = super::dpop::proof(req);
    let (pushed, nonce) = state
        .engine
        .call(move |e, env| {
            let nonce = proof.is_some().then(|| e.dpop_nonce(env.now, &t));
            (e.handle_par_with_proof(env, &t, &creds, &areq, proof.as_ref()), nonce)
        })
        .await;
    match pushed {
        Ok(p) => OAuthResult::ok(ParBody {
            request_uri: p.request_uri,
            expires_in: p.expires_in,
        }),
        Err(e) => OAuthResult::from_error(&e, tenant),
    }
    .with_nonce(nonce)
    .into()
}
