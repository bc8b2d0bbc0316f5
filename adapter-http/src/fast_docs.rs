//! The two hottest GETs, discovery and JWKS, answered from the document cache before routing.
//!
//! A cached document (rendered under the current generation) is served with the headers the
//! routed answer carries; anything else (a first request, a stale or unknown tenant, a CORS
//! request with `Origin`, a body, oversized headers, another method) goes the routed way, which
//! renders and caches it, or refuses it.

use crate::doc_cache::Doc;
use crate::state::AppState;
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Request, Response};
use poem_openapi::payload::Payload;

/// Which cached document `path` asks for, and the tenant.
fn target(path: &str) -> Option<(&str, Doc)> {
    let rest = path.strip_prefix('/')?;
    if let Some(tenant) = rest.strip_prefix(".well-known/oauth-authorization-server/") {
        return (!tenant.is_empty() && !tenant.contains('/')).then_some((tenant, Doc::Discovery));
    }
    let (tenant, endpoint) = rest.split_once('/')?;
    let doc = match endpoint {
        ".well-known/openid-configuration" => Doc::Discovery,
        "jwks" => Doc::Jwks,
        _ => return None,
    };
    (!tenant.is_empty()).then_some((tenant, doc))
}

/// The answer from the cache, when `req` is a plain GET of a document the cache holds.
pub fn answer(state: &AppState, req: &Request) -> Option<Response> {
    if req.method() != Method::GET {
        return None;
    }
    // The path first: every other GET (authorize, userinfo) leaves after a few comparisons.
    let (tenant, doc) = target(req.uri().path())?;
    let h = req.headers();
    let plain = !h.contains_key(header::ORIGIN)
        && !h.contains_key(header::CONTENT_LENGTH)
        && !h.contains_key(header::TRANSFER_ENCODING)
        && !crate::headers_too_large(h);
    if !plain {
        return None;
    }
    let bytes = state.docs.current(state.shared.doc_generation(), tenant, doc)?;
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .content_type(crate::doc_cache::RawJson::CONTENT_TYPE)
        .body(bytes);
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(crate::doc_cache::MAX_AGE),
    );
    crate::security_headers(h);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_document_paths_are_targets() {
        assert_eq!(
            target("/demo/.well-known/openid-configuration"),
            Some(("demo", Doc::Discovery))
        );
        assert_eq!(
            target("/.well-known/oauth-authorization-server/demo"),
            Some(("demo", Doc::Discovery))
        );
        assert_eq!(target("/demo/jwks"), Some(("demo", Doc::Jwks)));
        assert_eq!(target("//jwks"), None);
        assert_eq!(target("/demo/jwks/x"), None);
        assert_eq!(target("/demo/token"), None);
        assert_eq!(target("/.well-known/oauth-authorization-server/"), None);
        assert_eq!(target("/.well-known/oauth-authorization-server/a/b"), None);
    }
}
