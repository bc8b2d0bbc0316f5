//! The Admin API (`/admin/v1/…`): HTTP ↔ engine admin calls. Every rule (who may do what,
//! validation, what a change revokes) lives in `engine::admin`; this module authenticates the
//! bearer token, calls the engine, and shapes the answer. Errors are one JSON shape
//! (`{"error", "error_description"}`) with the status from `spec::ErrorCode`.

mod activation;
mod clients;
pub mod models;
mod organizations;
mod tenants;
mod users;

pub use clients::AdminClientsApi;
pub use organizations::AdminOrganizationsApi;
pub use tenants::AdminTenantsApi;
pub use users::AdminUsersApi;

use crate::api::OAuthError;
use crate::data_store::DataStore;
use crate::state::Shared;
use engine::admin::AdminPrincipal;
use engine::{Engine, EngineError, Env};
use poem::http::header;
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Tags};
use spec::ErrorCode;

#[derive(Tags)]
pub(crate) enum AdminTag {
    /// Tenants (platform admins create, list and delete them).
    Tenants,
    /// A tenant's clients.
    Clients,
    /// A tenant's users, their sessions, consents and licences.
    Users,
    /// Organizations inside a tenant, app enablement, memberships and invites.
    Organizations,
    /// Signing keys, audit log and registration tokens.
    Operations,
}

/// Every Admin API answer.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "admin_bad_request")]
pub enum AdminResult<T: ToJSON + Send + Sync> {
    /// Done.
    #[oai(status = 200)]
    Ok(Json<T>),
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
    /// Malformed request or invalid values (`invalid_request`, `invalid_client_metadata`, `invalid_redirect_uri`).
    #[oai(status = 400)]
    BadRequest(Json<OAuthError>),
    /// No valid admin token (`invalid_token`) or bad app-client credentials (`invalid_client`).
    #[oai(status = 401)]
    Unauthorized(Json<OAuthError>, #[oai(header = "WWW-Authenticate")] String),
    /// The token lacks the admin scope (`insufficient_scope`) or may not manage this tenant (`forbidden`).
    #[oai(status = 403)]
    Forbidden(Json<OAuthError>),
    /// No such resource (`not_found`).
    #[oai(status = 404)]
    NotFound(Json<OAuthError>),
    /// Already exists (`conflict`).
    #[oai(status = 409)]
    Conflict(Json<OAuthError>),
    /// `server_error`.
    #[oai(status = 500)]
    ServerError(Json<OAuthError>),
    /// `temporarily_unavailable`: the store cannot be reached now; nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<OAuthError>, #[oai(header = "Retry-After")] u64),
}

/// An empty answer body (deletions and revocations).
#[derive(poem_openapi::Object, Debug, Default)]
#[oai(example)]
pub struct Done {
    /// Always true.
    pub ok: bool,
}

impl poem_openapi::types::Example for Done {
    fn example() -> Self {
        Done { ok: true }
    }
}

impl Done {
    pub(crate) fn yes() -> Self {
        Done { ok: true }
    }
}

fn admin_bad_request<T: ToJSON + Send + Sync>(err: poem::Error) -> AdminResult<T> {
    AdminResult::BadRequest(body(ErrorCode::InvalidRequest, &format!("malformed request: {err}")))
}

fn body(code: ErrorCode, description: &str) -> Json<OAuthError> {
    Json(OAuthError {
        error: code.as_str().into(),
        error_description: Some(description.into()),
    })
}

impl<T: ToJSON + Send + Sync> AdminResult<T> {
    /// The answer for an engine error, by its one status mapping.
    pub(crate) fn error(e: &EngineError) -> Self {
        if !matches!(e, EngineError::Protocol(_)) {
            tracing::error!(error = %e, "admin call failed");
        }
        let b = body(e.code(), &e.description());
        match e.http_status() {
            401 => AdminResult::Unauthorized(b, format!("Bearer realm=\"admin\", error=\"{}\"", e.code().as_str())),
            403 => AdminResult::Forbidden(b),
            404 => AdminResult::NotFound(b),
            409 => AdminResult::Conflict(b),
            500 => AdminResult::ServerError(b),
            503 => AdminResult::Unavailable(b, crate::api::RETRY_AFTER_UNAVAILABLE),
            _ => AdminResult::BadRequest(b),
        }
    }

    /// 200 with the value, or the error.
    pub(crate) fn ok(r: Result<T, EngineError>) -> Self {
        r.map_or_else(|e| Self::error(&e), |v| AdminResult::Ok(Json(v)))
    }

    /// 201 with the value, or the error.
    pub(crate) fn created(r: Result<T, EngineError>) -> Self {
        r.map_or_else(|e| Self::error(&e), |v| AdminResult::Created(Json(v)))
    }

    /// 400 invalid_request with `description`.
    pub(crate) fn invalid(description: &str) -> Self {
        AdminResult::BadRequest(body(ErrorCode::InvalidRequest, description))
    }
}

/// The bearer token of the request, if it has one.
pub(crate) fn bearer(req: &Request) -> Option<String> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// Authenticates the caller, then runs `f` with the engine, a fresh environment and the principal
/// (one engine call).
pub(crate) async fn as_admin<T, F>(state: &Shared, req: &Request, f: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce(&Engine<DataStore>, &mut Env<'_>, &AdminPrincipal) -> Result<T, EngineError> + Send + 'static,
{
    let token = bearer(req);
    let call = move |engine: &Engine<DataStore>, env: &mut Env<'_>| {
        let principal = engine.authenticate_admin(env, token.as_deref())?;
        f(engine, env, &principal)
    };
    // A change may hash a password or generate keys (tens of milliseconds): off the workers.
    let result = if req.method() == poem::http::Method::GET {
        state.engine.call(call).await
    } else {
        state.engine.call_slow(call).await
    };
    // After the change has committed: a document rendered from now on shows it.
    if req.method() != poem::http::Method::GET {
        state.shared.documents_changed();
    }
    result
}

/// Page size: default 50, at most 200.
pub(crate) fn limit(l: Option<u32>) -> usize {
    l.map_or(50, |l| l as usize)
}
