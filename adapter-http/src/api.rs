//! The documented API endpoints (poem-openapi): discovery, JWKS, token, introspection,
//! revocation, UserInfo. Parse errors of any kind become OAuth JSON errors, never plain text.

mod dpop;
pub mod par;

use crate::client_credentials::{self, BodyCredentials};
use crate::client_keys;
use crate::data_store::DataStore;
use crate::discovery;
use crate::doc_cache::{Doc, RawJson};
use crate::params;
use crate::shared_state::Limit;
use crate::state::{AppState, Shared};
use engine::dpop::{PresentedToken, Scheme};
use engine::token::introspect::Introspection;
use engine::token::userinfo::UserInfoResponse;
use engine::token::TokenRequest;
use engine::{ClientCredentials, Engine, EngineError};
use poem::http::{header, Method};
use poem::web::Data;
use poem::{Body, Request};
use poem_openapi::param::Path;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::Deserialize;
use spec::ErrorCode;

#[derive(Tags)]
enum Tag {
    /// Provider metadata and keys.
    Discovery,
    /// OAuth 2.0 token endpoint and token management.
    Tokens,
    /// OpenID Connect UserInfo.
    UserInfo,
}

/// An OAuth 2.0 error response body.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct OAuthError {
    /// The error code, e.g. `invalid_grant`.
    pub error: String,
    /// Human-readable detail.
    #[oai(skip_serializing_if_is_none)]
    pub error_description: Option<String>,
}

fn oauth_error(code: ErrorCode, description: impl Into<String>) -> Json<OAuthError> {
    Json(OAuthError {
        error: code.as_str().into(),
        error_description: Some(description.into()),
    })
}

fn engine_error(e: &EngineError) -> Json<OAuthError> {
    if !matches!(e, EngineError::Protocol(_)) {
        tracing::error!(error = %e, "engine failure");
    }
    oauth_error(e.code(), e.description())
}

/// Token request form (`application/x-www-form-urlencoded`).
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenForm {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The redirect_uri of the authorization request.
    pub redirect_uri: Option<String>,
    /// PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// Requested scope (narrowing on refresh; client credentials).
    pub scope: Option<String>,
    /// RFC 8707 resource indicator: the API the access token is for (one of the client's `allowed_resources`); it becomes the token's `aud`.
    pub resource: Option<String>,
    /// Client id (body authentication or public clients).
    pub client_id: Option<String>,
    /// Client secret (client_secret_post).
    pub client_secret: Option<String>,
    /// Client assertion (private_key_jwt).
    pub client_assertion: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
}

/// Introspection / revocation form.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenManagementForm {
    /// The token.
    pub token: Option<String>,
    /// `access_token` or `refresh_token` (a hint only).
    pub token_type_hint: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Client assertion.
    pub client_assertion: Option<String>,
    /// Client assertion type.
    pub client_assertion_type: Option<String>,
}

impl TokenManagementForm {
    /// The caller's credentials and the token it asks about.
    pub(crate) fn into_request(self, req: &Request) -> (ClientCredentials, Option<String>) {
        let creds = credentials(
            req,
            self.client_id,
            self.client_secret,
            self.client_assertion,
            self.client_assertion_type,
        );
        (creds, self.token)
    }
}

/// A successful token response.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenBody {
    /// JWT access token (RFC 9068).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Granted scope.
    pub scope: String,
    /// ID token.
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
    /// Refresh token.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
}

/// RFC 7662 introspection response.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct IntrospectionBody {
    /// Whether the token is usable now.
    pub active: bool,
    /// Scope.
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    /// Client the token was issued to.
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    /// Subject.
    #[oai(skip_serializing_if_is_none)]
    pub sub: Option<String>,
    /// Audience.
    #[oai(skip_serializing_if_is_none)]
    pub aud: Option<String>,
    /// Issuer.
    #[oai(skip_serializing_if_is_none)]
    pub iss: Option<String>,
    /// Expiry.
    #[oai(skip_serializing_if_is_none)]
    pub exp: Option<u64>,
    /// Issued at.
    #[oai(skip_serializing_if_is_none)]
    pub iat: Option<u64>,
    /// Token id.
    #[oai(skip_serializing_if_is_none)]
    pub jti: Option<String>,
    /// `Bearer`, `DPoP` or `refresh_token`.
    #[oai(skip_serializing_if_is_none)]
    pub token_type: Option<String>,
    /// For a token bound to a DPoP key: the key's thumbprint (RFC 9449 §6.2).
    #[oai(skip_serializing_if_is_none)]
    pub cnf: Option<ConfirmationBody>,
}

/// A token's confirmation: the RFC 7638 thumbprint of the DPoP key it is bound to.
#[derive(Object, Debug, Clone)]
pub struct ConfirmationBody {
    /// SHA-256 JWK thumbprint, base64url.
    pub jkt: String,
}

const NO_STORE: &str = "no-store";

fn www_authenticate_basic(tenant: &str) -> String {
    format!("Basic realm=\"{}\"", header_safe(tenant))
}

/// Token, introspection and revocation responses.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum OAuthResult<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Success.
    #[oai(status = 200)]
    Ok(
        Json<T>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
        #[oai(header = "DPoP-Nonce")] Option<String>,
    ),
    /// invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope,
    /// invalid_dpop_proof, use_dpop_nonce (with the nonce to use in `DPoP-Nonce`).
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

/// Seconds a client is told to wait while the store is unavailable.
pub(crate) const RETRY_AFTER_UNAVAILABLE: u64 = 1;

fn bad_request<T: poem_openapi::types::ToJSON + Send + Sync>(err: poem::Error) -> OAuthResult<T> {
    OAuthResult::BadRequest(
        oauth_error(ErrorCode::InvalidRequest, format!("malformed request: {err}")),
        NO_STORE.into(),
        None,
    )
}

impl<T: poem_openapi::types::ToJSON + Send + Sync> OAuthResult<T> {
    fn ok(body: T) -> Self {
        OAuthResult::Ok(Json(body), NO_STORE.into(), "no-cache".into(), None)
    }
    fn missing_token() -> Self {
        OAuthResult::BadRequest(
            oauth_error(ErrorCode::InvalidRequest, "token is required"),
            NO_STORE.into(),
            None,
        )
    }
    /// The same answer with the DPoP nonce to use next (RFC 9449 §8), if there is one.
    fn with_nonce(self, nonce: Option<String>) -> Self {
        match self {
            OAuthResult::Ok(b, c, p, _) => OAuthResult::Ok(b, c, p, nonce),
            OAuthResult::BadRequest(e, c, _) => OAuthResult::BadRequest(e, c, nonce),
            other => other,
        }
    }
    fn from_error(e: &EngineError, tenant: &str) -> Self {
        match e.http_status() {
            401 => OAuthResult::Unauthorized(engine_error(e), www_authenticate_basic(tenant), NO_STORE.into()),
            500 => OAuthResult::ServerError(engine_error(e)),
            503 => OAuthResult::Unavailable(engine_error(e), RETRY_AFTER_UNAVAILABLE),
            _ => OAuthResult::BadRequest(engine_error(e), NO_STORE.into(), None),
        }
    }
}

/// An empty JSON object (revocation success).
#[derive(Object, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct Empty {}

/// Discovery and JWKS responses.
#[derive(ApiResponse)]
pub enum MetadataResult {
    /// The document.
    #[oai(status = 200)]
    Ok(RawJson, #[oai(header = "Cache-Control")] String),
    /// Unknown tenant.
    #[oai(status = 404)]
    NotFound(Json<OAuthError>),
}

/// UserInfo responses (RFC 6750 errors in `WWW-Authenticate`).
#[derive(ApiResponse)]
#[oai(bad_request_handler = "userinfo_bad_request")]
pub enum UserInfoResult {
    /// The claims: JSON, or a signed JWT for clients registered with `userinfo_signed_response_alg`.
    #[oai(status = 200)]
    Ok(UserInfoBody, #[oai(header = "Cache-Control")] String),
    /// invalid_request.
    #[oai(status = 400)]
    BadRequest(Json<OAuthError>, #[oai(header = "WWW-Authenticate")] String),
    /// Missing, invalid, expired or revoked token; a DPoP proof that is missing, invalid, or
    /// lacks the nonce given in `DPoP-Nonce`.
    #[oai(status = 401)]
    Unauthorized(
        Json<OAuthError>,
        #[oai(header = "WWW-Authenticate")] String,
        #[oai(header = "DPoP-Nonce")] Option<String>,
    ),
    /// insufficient_scope.
    #[oai(status = 403)]
    Forbidden(Json<OAuthError>, #[oai(header = "WWW-Authenticate")] String),
    /// server_error.
    #[oai(status = 500)]
    ServerError(Json<OAuthError>),
    /// temporarily_unavailable: the store cannot be reached now.
    #[oai(status = 503)]
    Unavailable(Json<OAuthError>, #[oai(header = "Retry-After")] u64),
}

/// The UserInfo body in either of its media types.
#[derive(poem_openapi::ResponseContent)]
pub enum UserInfoBody {
    /// `application/json`.
    Json(Json<serde_json::Value>),
    /// `application/jwt`.
    Jwt(SignedJwt),
}

/// A compact JWS served as `application/jwt`.
pub struct SignedJwt(pub String);

impl poem_openapi::payload::Payload for SignedJwt {
    const CONTENT_TYPE: &'static str = "application/jwt";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        <String as poem_openapi::types::Type>::schema_ref()
    }
}

impl poem::IntoResponse for SignedJwt {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(<Self as poem_openapi::payload::Payload>::CONTENT_TYPE)
            .body(self.0)
    }
}

fn userinfo_bad_request(err: poem::Error) -> UserInfoResult {
    UserInfoResult::BadRequest(
        oauth_error(ErrorCode::InvalidRequest, err.to_string()),
        "Bearer error=\"invalid_request\"".into(),
    )
}

/// `s` for a quoted header parameter: visible ASCII and spaces only, quotes and backslashes
/// replaced (a tenant from the URL may hold anything, and an invalid value would drop the header).
fn header_safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

/// An RFC 6750 challenge.
fn bearer_challenge(tenant: &str, code: Option<ErrorCode>, description: &str) -> String {
    let (tenant, description) = (header_safe(tenant), header_safe(description));
    match code {
        None => format!("Bearer realm=\"{tenant}\""),
        Some(c) => format!(
            "Bearer realm=\"{tenant}\", error=\"{}\", error_description=\"{}\"",
            c.as_str(),
            description
        ),
    }
}

/// The API.
pub struct Api;

impl Api {
    /// A tenant's discovery or JWKS document, from the cache or rendered by `f` (`None`: no
    /// such tenant).
    async fn metadata(state: &Shared, tenant: &str, doc: Doc) -> MetadataResult {
        let render = || {
            let slug = tenant.to_string();
            state.engine.call(move |e, _| render_document(e, &slug, doc))
        };
        match state
            .docs
            .get_or_render(state.shared.doc_generation(), tenant, doc, render)
            .await
        {
            Some(bytes) => MetadataResult::Ok(RawJson(bytes), crate::doc_cache::MAX_AGE.into()),
            None => MetadataResult::NotFound(oauth_error(ErrorCode::InvalidRequest, "unknown tenant")),
        }
    }

    async fn userinfo_answer(
        state: &Shared,
        tenant: &str,
        token: Result<Option<PresentedToken>, &'static str>,
    ) -> UserInfoResult {
        let presented = match token {
            Err(d) => {
                return UserInfoResult::BadRequest(
                    oauth_error(ErrorCode::InvalidRequest, d),
                    bearer_challenge(tenant, Some(ErrorCode::InvalidRequest), d),
                )
            }
            Ok(None) => {
                let d = "an access token is required";
                return UserInfoResult::Unauthorized(
                    oauth_error(ErrorCode::InvalidToken, d),
                    bearer_challenge(tenant, None, d),
                    None,
                );
            }
            Ok(Some(t)) => t,
        };
        let t = tenant.to_string();
        let dpop_used = presented.scheme == Scheme::Dpop || presented.proof.is_some();
        let (answer, nonce) = state
            .engine
            .call(move |e, env| {
                let nonce = presented.proof.is_some().then(|| e.dpop_nonce(env.now, &t));
                (e.handle_userinfo_presented(env, &t, &presented), nonce)
            })
            .await;
        match answer {
            Ok(UserInfoResponse::Json(claims)) => UserInfoResult::Ok(
                UserInfoBody::Json(Json(serde_json::Value::Object(claims))),
                NO_STORE.into(),
            ),
            Ok(UserInfoResponse::Jwt(jwt)) => UserInfoResult::Ok(UserInfoBody::Jwt(SignedJwt(jwt)), NO_STORE.into()),
            Err(e) => {
                // RFC9449-7.1-dpop-challenge
                let dpop_error = matches!(e.code(), ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce);
                let challenge = if dpop_used || dpop_error {
                    dpop::challenge(Some((e.code().as_str(), &header_safe(&e.description()))))
                } else {
                    bearer_challenge(tenant, Some(e.code()), &e.description())
                };
                let nonce = nonce.filter(|_| e.code() == ErrorCode::UseDpopNonce);
                match e.http_status() {
                    403 => UserInfoResult::Forbidden(engine_error(&e), challenge),
                    500 => UserInfoResult::ServerError(engine_error(&e)),
                    503 => UserInfoResult::Unavailable(engine_error(&e), RETRY_AFTER_UNAVAILABLE),
                    _ => UserInfoResult::Unauthorized(engine_error(&e), challenge, nonce),
                }
            }
        }
    }
}

/// A tenant's discovery document or JWKS, serialized; `None` for an unknown tenant.
fn render_document(e: &Engine<DataStore>, tenant: &str, doc: Doc) -> Option<Vec<u8>> {
    let t = e.tenant(tenant).ok().flatten()?;
    let value = match doc {
        Doc::Discovery => {
            let registration = t.registration_policy != engine::tenant::RegistrationPolicy::Closed;
            discovery::document(&e.issuer(tenant), registration, t.require_pushed_authorization_requests)
        }
        Doc::Jwks => serde_json::to_value(e.jwks(tenant).ok()?).ok()?,
        Doc::CorsOrigins | Doc::Branding => return None,
    };
    serde_json::to_vec(&value).ok()
}

fn authorization(req: &Request) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .map(|h| h.to_str().unwrap_or("\u{0}invalid").to_string())
}

/// The client's credentials from the Authorization header and the form's fields.
/// Before the engine verifies a client assertion: fetch the client's keys again if it signed with
/// a key id it never registered (it rotated the keys behind its `jwks_uri`).
async fn refresh_assertion_keys(state: &Shared, tenant: &str, creds: &ClientCredentials) {
    if let ClientCredentials::Assertion {
        client_id, assertion, ..
    } = creds
    {
        if let Some(id) = client_id.clone().or_else(|| client_keys::assertion_subject(assertion)) {
            client_keys::refresh_if_unknown_kid(state, tenant, &id, assertion).await;
        }
    }
}

/// The engine's introspection answer to `creds` asking about `token`, or the error response:
/// the routed endpoint's and the fast path's (`fast_introspect`), so the two cannot differ.
pub(crate) async fn introspection(
    state: &AppState,
    tenant: &str,
    creds: ClientCredentials,
    token: Option<String>,
) -> Result<Introspection, Box<OAuthResult<IntrospectionBody>>> {
    let Some(token) = token else {
        return Err(Box::new(OAuthResult::missing_token()));
    };
    let t = tenant.to_string();
    state
        .engine
        .call(move |e, env| e.handle_introspect(env, &t, &creds, &token))
        .await
        .map_err(|e| Box::new(OAuthResult::from_error(&e, tenant)))
}

impl From<Introspection> for IntrospectionBody {
    fn from(i: Introspection) -> Self {
        IntrospectionBody {
            active: i.active,
            scope: i.scope,
            client_id: i.client_id,
            sub: i.sub,
            aud: i.aud,
            iss: i.iss,
            exp: i.exp,
            iat: i.iat,
            jti: i.jti,
            token_type: i.token_type.map(str::to_owned),
            cnf: i.cnf.map(|c| ConfirmationBody { jkt: c.jkt }),
        }
    }
}

fn credentials(
    req: &Request,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
) -> ClientCredentials {
    let body = BodyCredentials {
        client_id,
        client_secret,
        client_assertion,
        client_assertion_type,
    };
    client_credentials::read(authorization(req).as_deref(), &body)
}

#[OpenApi]
impl Api {
    /// OpenID Provider Configuration (OIDC Discovery 1.0).
    #[oai(
        path = "/:tenant/.well-known/openid-configuration",
        method = "get",
        tag = "Tag::Discovery"
    )]
    async fn openid_configuration(&self, tenant: Path<String>, state: Data<&Shared>) -> MetadataResult {
        Self::metadata(&state, &tenant, Doc::Discovery).await
    }

    /// OAuth 2.0 Authorization Server Metadata (RFC 8414).
    #[oai(
        path = "/.well-known/oauth-authorization-server/:tenant",
        method = "get",
        tag = "Tag::Discovery"
    )]
    async fn oauth_authorization_server(&self, tenant: Path<String>, state: Data<&Shared>) -> MetadataResult {
        Self::metadata(&state, &tenant, Doc::Discovery).await
    }

    /// The tenant's public signing keys (JWKS).
    #[oai(path = "/:tenant/jwks", method = "get", tag = "Tag::Discovery")]
    async fn jwks(&self, tenant: Path<String>, state: Data<&Shared>) -> MetadataResult {
        Self::metadata(&state, &tenant, Doc::Jwks).await
    }

    /// Token endpoint: authorization_code (with PKCE), refresh_token, client_credentials.
    #[oai(path = "/:tenant/token", method = "post", tag = "Tag::Tokens")]
    async fn token(
        &self,
        tenant: Path<String>,
        req: &Request,
        form: Form<TokenForm>,
        state: Data<&Shared>,
    ) -> OAuthResult<TokenBody> {
        let f = form.0;
        let creds = credentials(
            req,
            f.client_id,
            f.client_secret,
            f.client_assertion,
            f.client_assertion_type,
        );
        let client_key = creds.named_client().map(str::to_string);
        let limited = state
            .shared
            .rate(Limit::TokenPerIp, &state.proxies.client_ip(req))
            .and_then(|_| match &client_key {
                Some(c) => state.shared.rate(Limit::TokenPerClient, &format!("{}/{c}", tenant.0)),
                None => Ok(()),
            });
        if let Err(wait) = limited {
            return OAuthResult::TooManyRequests(
                oauth_error(ErrorCode::TemporarilyUnavailable, "too many requests; retry later"),
                wait,
            );
        }
        let treq = TokenRequest {
            grant_type: f.grant_type,
            code: f.code,
            redirect_uri: f.redirect_uri,
            code_verifier: f.code_verifier,
            refresh_token: f.refresh_token,
            scope: f.scope,
            resource: f.resource.into_iter().collect(),
            dpop: dpop::proof(req),
        };
        refresh_assertion_keys(&state, &tenant, &creds).await;
        let t = tenant.0.clone();
        let (answer, nonce) = state
            .engine
            .call(move |e, env| {
                let nonce = treq.dpop.is_some().then(|| e.dpop_nonce(env.now, &t));
                (e.handle_token(env, &t, &creds, &treq), nonce)
            })
            .await;
        match answer {
            Ok(t) => OAuthResult::ok(TokenBody {
                access_token: t.access_token,
                token_type: t.token_type.into(),
                expires_in: t.expires_in,
                scope: t.scope,
                id_token: t.id_token,
                refresh_token: t.refresh_token,
            }),
            Err(e) => OAuthResult::from_error(&e, &tenant),
        }
        .with_nonce(nonce)
    }

    /// Pushed authorization request (RFC 9126): the authorization request, authenticated as at
    /// the token endpoint and checked as `/authorize` would; answers a one-time `request_uri`
    /// for `/authorize?client_id=…&request_uri=…`, usable for 60 seconds.
    #[oai(path = "/:tenant/par", method = "post", tag = "Tag::Tokens")]
    async fn par(
        &self,
        tenant: Path<String>,
        req: &Request,
        form: Form<par::ParForm>,
        state: Data<&Shared>,
    ) -> par::ParResult {
        par::push(&state, &tenant, req, form.0).await
    }

    /// Token introspection (RFC 7662); the caller must be the client the token was issued to.
    #[oai(path = "/:tenant/introspect", method = "post", tag = "Tag::Tokens")]
    async fn introspect(
        &self,
        tenant: Path<String>,
        req: &Request,
        form: Form<TokenManagementForm>,
        state: Data<&Shared>,
    ) -> OAuthResult<IntrospectionBody> {
        let (creds, token) = form.0.into_request(req);
        refresh_assertion_keys(&state, &tenant, &creds).await;
        match introspection(&state, &tenant, creds, token).await {
            Ok(i) => OAuthResult::ok(i.into()),
            Err(e) => *e,
        }
    }

    /// Token revocation (RFC 7009): always 200 for unknown tokens.
    #[oai(path = "/:tenant/revoke", method = "post", tag = "Tag::Tokens")]
    async fn revoke(
        &self,
        tenant: Path<String>,
        req: &Request,
        form: Form<TokenManagementForm>,
        state: Data<&Shared>,
    ) -> OAuthResult<Empty> {
        let (creds, token) = form.0.into_request(req);
        refresh_assertion_keys(&state, &tenant, &creds).await;
        let Some(token) = token else {
            return OAuthResult::missing_token();
        };
        let t = tenant.0.clone();
        let proof = dpop::proof(req);
        let (answer, nonce) = state
            .engine
            .call(move |e, env| {
                let nonce = proof.is_some().then(|| e.dpop_nonce(env.now, &t));
                (
                    e.handle_revoke_with_proof(env, &t, &creds, &token, proof.as_ref()),
                    nonce,
                )
            })
            .await;
        match answer {
            Ok(()) => OAuthResult::ok(Empty::default()),
            Err(e) => OAuthResult::from_error(&e, &tenant),
        }
        .with_nonce(nonce)
    }

    /// UserInfo with a Bearer access token in the Authorization header.
    #[oai(path = "/:tenant/userinfo", method = "get", tag = "Tag::UserInfo")]
    async fn userinfo_get(&self, tenant: Path<String>, req: &Request, state: Data<&Shared>) -> UserInfoResult {
        Self::userinfo_answer(&state, &tenant, dpop::presented(req)).await
    }

    /// UserInfo by POST: the token in the Authorization header, or as `access_token` in a form body.
    #[oai(path = "/:tenant/userinfo", method = "post", tag = "Tag::UserInfo")]
    async fn userinfo_post(
        &self,
        tenant: Path<String>,
        req: &Request,
        body: Body,
        state: Data<&Shared>,
    ) -> UserInfoResult {
        let header_token = dpop::presented(req);
        let is_form = req.method() == Method::POST
            && req
                .content_type()
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let body_token = if is_form {
            match body
                .into_bytes_limit(params::MAX_PARAMS_BYTES)
                .await
                .ok()
                .map(|b| params::parse(&b, &["access_token"]))
            {
                Some(Ok(m)) => m.get("access_token").cloned(),
                _ => return Self::userinfo_answer(&state, &tenant, Err("malformed form body")).await,
            }
        } else {
            None
        };
        let token = match (header_token, body_token) {
            (Ok(Some(_)), Some(_)) => Err("send the access token in one place only"),
            (Ok(None), Some(b)) => Ok(Some(PresentedToken::bearer(&b))),
            (h, None) => h,
            (Err(e), _) => Err(e),
        };
        Self::userinfo_answer(&state, &tenant, token).await
    }
}
