//! Dynamic client registration (RFC 7591) and management (RFC 7592) over HTTP.

use crate::admin::bearer;
use crate::api::OAuthError;
use crate::state::Shared;
use engine::client::registration::ClientMetadata;
use engine::EngineError;
use poem::web::Data;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use serde_json::Value;
use spec::ErrorCode;

#[derive(Tags)]
enum RegistrationTag {
    /// Dynamic client registration (RFC 7591, RFC 7592).
    Registration,
}

/// Registration answers (RFC 7591 §3.2, RFC 7592 §3).
#[derive(ApiResponse)]
#[oai(bad_request_handler = "registration_bad_request")]
pub enum RegistrationResult {
    /// The client's information.
    #[oai(status = 200)]
    Ok(
        Json<Value>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    /// Registered: `client_id`, `client_secret` (shown once), `registration_access_token`, metadata.
    #[oai(status = 201)]
    Created(
        Json<Value>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
    /// `invalid_redirect_uri`, `invalid_client_metadata` or `invalid_request`.
    #[oai(status = 400)]
    BadRequest(Json<OAuthError>),
    /// Missing or invalid initial / registration access token (`invalid_token`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthError>, #[oai(header = "WWW-Authenticate")] String),
    /// Registration is closed for this tenant (`access_denied`).
    #[oai(status = 403)]
    Forbidden(Json<OAuthError>),
    /// Unknown tenant.
    #[oai(status = 404)]
    NotFound(Json<OAuthError>),
    /// `server_error`.
    #[oai(status = 500)]
    ServerError(Json<OAuthError>),
    /// `temporarily_unavailable`: the store cannot be reached now; nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<OAuthError>, #[oai(header = "Retry-After")] u64),
}

fn err_body(code: ErrorCode, d: &str) -> Json<OAuthError> {
    Json(OAuthError {
        error: code.as_str().into(),
        error_description: Some(d.into()),
    })
}

fn registration_bad_request(err: poem::Error) -> RegistrationResult {
    RegistrationResult::BadRequest(err_body(
        ErrorCode::InvalidRequest,
        &format!("malformed request: {err}"),
    ))
}

impl RegistrationResult {
    fn error(e: &EngineError) -> Self {
        if !matches!(e, EngineError::Protocol(_)) {
            tracing::error!(error = %e, "registration failed");
        }
        let b = err_body(e.code(), &e.description());
        match e.http_status() {
            401 => RegistrationResult::Unauthorized(b, format!("Bearer error=\"{}\"", e.code().as_str())),
            403 => RegistrationResult::Forbidden(b),
            404 => RegistrationResult::NotFound(b),
            500 => RegistrationResult::ServerError(b),
            503 => RegistrationResult::Unavailable(b, crate::api::RETRY_AFTER_UNAVAILABLE),
            _ => RegistrationResult::BadRequest(b),
        }
    }

    fn from(r: Result<serde_json::Map<String, Value>, EngineError>, created: bool) -> Self {
        match r {
            Ok(m) if created => {
                RegistrationResult::Created(Json(Value::Object(m)), "no-store".into(), "no-cache".into())
            }
            Ok(m) => RegistrationResult::Ok(Json(Value::Object(m)), "no-store".into(), "no-cache".into()),
            Err(e) => Self::error(&e),
        }
    }
}

/// Fetches what the metadata points at (`jwks_uri`, `sector_identifier_uri`) for the engine.
async fn fetch_documents(state: &Shared, m: &mut ClientMetadata) {
    let (jwks_uri, sector) = m.urls_to_fetch();
    let (jwks_uri, sector) = (jwks_uri.map(str::to_owned), sector.map(str::to_owned));
    let fetch = |u: String| async move { state.outbound.get(&u).await.map_err(|e| e.describe()) };
    if let Some(u) = jwks_uri {
        m.fetched.jwks_uri = Some(fetch(u).await);
    }
    if let Some(u) = sector {
        m.fetched.sector_identifier_uri = Some(fetch(u).await);
    }
}

/// The registration endpoints.
pub struct RegistrationApi;

#[OpenApi]
impl RegistrationApi {
    /// Register a client (RFC 7591), per the tenant's policy: open, initial access token (Bearer), or closed.
    #[oai(path = "/:tenant/register", method = "post", tag = "RegistrationTag::Registration")]
    async fn register(
        &self,
        tenant: Path<String>,
        body: Json<Value>,
        req: &Request,
        state: Data<&Shared>,
    ) -> RegistrationResult {
        let token = bearer(req);
        let slug = tenant.0.clone();
        let open = state
            .engine
            .call(move |e, _| e.tenant(&slug).ok().flatten())
            .await
            .is_some_and(|t| t.registration_policy == engine::tenant::RegistrationPolicy::Open);
        let mut m = match ClientMetadata::from_json(body.0) {
            Ok(m) => m,
            Err(e) => return RegistrationResult::from(Err(e), true),
        };
        // Fetch only for someone the policy may let in: nobody else makes us send requests.
        if open || token.is_some() {
            fetch_documents(&state, &mut m).await;
        }
        let r = state
            .engine
            .call(move |e, env| e.handle_register(env, &tenant, token.as_deref(), &m))
            .await;
        state.shared.documents_changed(); // the tenant's client origins (CORS) may have changed
        RegistrationResult::from(r, true)
    }

    /// Read a registration (RFC 7592 §2.1) with its registration access token.
    #[oai(
        path = "/:tenant/register/:client_id",
        method = "get",
        tag = "RegistrationTag::Registration"
    )]
    async fn read(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> RegistrationResult {
        let token = bearer(req);
        let read = state
            .engine
            .call(move |e, _| e.handle_registration_read(&tenant, &client_id, token.as_deref()))
            .await;
        RegistrationResult::from(read, false)
    }

    /// Replace a registration's metadata (RFC 7592 §2.2); the body must include `client_id`.
    #[oai(
        path = "/:tenant/register/:client_id",
        method = "put",
        tag = "RegistrationTag::Registration"
    )]
    async fn update(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        body: Json<Value>,
        req: &Request,
        state: Data<&Shared>,
    ) -> RegistrationResult {
        let token = bearer(req);
        let mut m = match ClientMetadata::from_json(body.0) {
            Ok(m) => m,
            Err(e) => return RegistrationResult::from(Err(e), false),
        };
        if token.is_some() {
            fetch_documents(&state, &mut m).await;
        }
        let r = state
            .engine
            .call(move |e, env| e.handle_registration_update(env, &tenant, &client_id, token.as_deref(), &m))
            .await;
        state.shared.documents_changed();
        RegistrationResult::from(r, false)
    }

    /// Delete a registration (RFC 7592 §2.3): the client stops working.
    #[oai(
        path = "/:tenant/register/:client_id",
        method = "delete",
        tag = "RegistrationTag::Registration"
    )]
    async fn delete(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> RegistrationResult {
        let token = bearer(req);
        let r = state
            .engine
            .call(move |e, env| e.handle_registration_delete(env, &tenant, &client_id, token.as_deref()))
            .await;
        state.shared.documents_changed();
        match r {
            Ok(()) => RegistrationResult::Deleted,
            Err(e) => RegistrationResult::error(&e),
        }
    }
}
