//! Introspection, the hottest POST (a resource server asks about every token it is shown),
//! answered before routing.
//!
//! A plain form POST to `/{tenant}/introspect` (declared length within the limit, no `Origin`,
//! headers within their limits) has its body parsed once here and is answered by the function
//! the routed endpoint calls (`api::introspection`), with the headers the routed answer gets.
//! Anything else goes the routed way with the body put back: a repeated or undecodable
//! parameter (whose error the routed way words), a client assertion (whose keys may need
//! fetching first), a chunked body, a CORS request, a path alias.

use crate::api::{self, TokenManagementForm};
use crate::state::AppState;
use poem::http::{header, Method, StatusCode};
use poem::{IntoResponse, Request, Response};

/// The form's fields, each of which may appear once.
const FIELDS: [&str; 6] = [
    "token",
    "token_type_hint",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// The tenant of a `/{tenant}/introspect` path.
fn tenant_of(path: &str) -> Option<&str> {
    let tenant = path.strip_prefix('/')?.strip_suffix("/introspect")?;
    // A percent-encoded tenant is decoded by the router: it goes that way.
    (!tenant.is_empty() && !tenant.contains(['/', '%'])).then_some(tenant)
}

/// Whether `req` may take the fast path (its body not read yet).
pub fn is_candidate(req: &Request) -> bool {
    if req.method() != Method::POST || tenant_of(req.uri().path()).is_none() {
        return false;
    }
    let h = req.headers();
    let declared = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    declared.is_some_and(|n| n <= crate::MAX_BODY_BYTES)
        && req
            .content_type()
            .and_then(|c| c.strip_prefix("application/x-www-form-urlencoded"))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(';'))
        && !h.contains_key(header::ORIGIN)
        && !h.contains_key(header::TRANSFER_ENCODING)
        && !crate::headers_too_large(h)
}

/// The answer to a candidate whose body is `body`, or `None` for the routed way.
pub async fn answer(state: &AppState, req: &Request, body: &[u8]) -> Option<Response> {
    let tenant = tenant_of(req.uri().path())?;
    let mut p = crate::params::parse(body, &FIELDS).ok()?;
    let form = TokenManagementForm {
        token: p.remove("token"),
        token_type_hint: p.remove("token_type_hint"),
        client_id: p.remove("client_id"),
        client_secret: p.remove("client_secret"),
        client_assertion: p.remove("client_assertion"),
        client_assertion_type: p.remove("client_assertion_type"),
    };
    let (creds, token) = form.into_request(req);
    if matches!(creds, engine::ClientCredentials::Assertion { .. }) {
        return None;
    }
    let resp = match api::introspection(state, tenant, creds, token).await {
        // The same JSON object as the routed `OAuthResult::ok`, written from the engine's answer
        // without building a JSON tree first (the members in another order).
        Ok(i) => match serde_json::to_vec(&i) {
            Ok(json) => Response::builder()
                .status(StatusCode::OK)
                .content_type("application/json; charset=utf-8")
                .header(header::CACHE_CONTROL, "no-store")
                .header(header::PRAGMA, "no-cache")
                .body(json),
            Err(_) => return None,
        },
        Err(e) => e.into_response(),
    };
    state.metrics.count_introspection_before_routing();
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tenant_introspection_paths_are_targets() {
        assert_eq!(tenant_of("/demo/introspect"), Some("demo"));
        assert_eq!(tenant_of("//introspect"), None);
        assert_eq!(tenant_of("/a/b/introspect"), None);
        assert_eq!(tenant_of("/demo/introspect/"), None);
        assert_eq!(tenant_of("/demo/revoke"), None);
        assert_eq!(tenant_of("/introspect"), None);
        assert_eq!(tenant_of("/de%6Do/introspect"), None);
    }
}
