//! CORS for what a browser app calls with `fetch` (RFC 9110 plus the Fetch standard):
//! discovery and JWKS are public documents (`*`, no credentials); token, UserInfo,
//! introspection and revocation answer only origins of the tenant's registered redirect URIs
//! (`engine::client::cors`), reflected with `Vary: Origin` and never with credentials. Preflights are
//! answered here, before routing.

use crate::doc_cache::Doc;
use crate::state::Shared;
use poem::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use poem::Response;

/// How an endpoint shares its answers across origins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing<'a> {
    /// Anyone may read it.
    Public,
    /// Only the origins of this tenant's clients.
    ClientOrigins(&'a str),
}

/// The sharing rule for `path`, if it is an endpoint browsers call from script.
pub fn sharing(path: &str) -> Option<Sharing<'_>> {
    let rest = path.strip_prefix('/')?;
    if let Some(tenant) = rest.strip_prefix(".well-known/oauth-authorization-server/") {
        return (!tenant.is_empty() && !tenant.contains('/')).then_some(Sharing::Public);
    }
    let (tenant, endpoint) = rest.split_once('/')?;
    if tenant.is_empty() {
        return None;
    }
    match endpoint {
        ".well-known/openid-configuration" | "jwks" => Some(Sharing::Public),
        "token" | "par" | "userinfo" | "introspect" | "revoke" => Some(Sharing::ClientOrigins(tenant)),
        _ => None,
    }
}

/// Methods and request headers a preflight may ask for.
const ALLOW_METHODS: &str = "GET, POST";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, DPoP";
const EXPOSE_HEADERS: &str = "WWW-Authenticate, DPoP-Nonce";

/// Whether `origin` may read `sharing`'s answers.
async fn allowed(state: &Shared, sharing: Sharing<'_>, origin: &str) -> bool {
    match sharing {
        Sharing::Public => true,
        Sharing::ClientOrigins(tenant) => {
            // The tenant is copied for the engine call only on a cache miss.
            let render = || {
                let slug = tenant.to_string();
                state.engine.call(move |e, _| {
                    let set = e.cors_origins(&slug).ok()?;
                    Some(set.into_iter().collect::<Vec<_>>().join("\n").into_bytes())
                })
            };
            let origins = state
                .docs
                .get_or_render(state.shared.doc_generation(), tenant, Doc::CorsOrigins, render)
                .await;
            origins.is_some_and(|o| o.split(|b| *b == b'\n').any(|line| line == origin.as_bytes()))
        }
    }
}

fn grant(h: &mut HeaderMap, sharing: Sharing<'_>, origin: &HeaderValue) {
    match sharing {
        Sharing::Public => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        Sharing::ClientOrigins(_) => {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

/// The answer to a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`), or
/// `None` when the request is not one.
pub async fn preflight(state: &Shared, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let sharing = sharing(path)?;
    let origin = headers.get(header::ORIGIN)?;
    let mut r = Response::builder().status(StatusCode::NO_CONTENT).finish();
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if allowed(state, sharing, origin.to_str().unwrap_or_default()).await {
        grant(h, sharing, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    Some(r)
}

/// Adds the CORS grant to an answer for `origin` (the request's `Origin`, if any).
pub async fn decorate(state: &Shared, path: &str, origin: Option<&HeaderValue>, h: &mut HeaderMap) {
    let Some(sharing) = sharing(path) else { return };
    if let Sharing::ClientOrigins(_) = sharing {
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let Some(origin) = origin else { return };
    if allowed(state, sharing, origin.to_str().unwrap_or_default()).await {
        grant(h, sharing, origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_classified_by_path() {
        assert_eq!(sharing("/demo/.well-known/openid-configuration"), Some(Sharing::Public));
        assert_eq!(
            sharing("/.well-known/oauth-authorization-server/demo"),
            Some(Sharing::Public)
        );
        assert_eq!(sharing("/demo/jwks"), Some(Sharing::Public));
        assert_eq!(sharing("/demo/token"), Some(Sharing::ClientOrigins("demo")));
        assert_eq!(sharing("/demo/userinfo"), Some(Sharing::ClientOrigins("demo")));
        assert_eq!(sharing("/demo/revoke"), Some(Sharing::ClientOrigins("demo")));
        assert_eq!(sharing("/demo/authorize"), None);
        assert_eq!(sharing("/demo/login"), None);
        assert_eq!(sharing("/admin/v1/tenants"), None);
        assert_eq!(sharing("//token"), None);
    }
}
