//! Discovery and JWKS documents (and the CORS origins) rendered once per tenant and kept as bytes.
//!
//! Every Admin API or registration call that changes something (any method but GET) moves the generation on, and
//! a document rendered under an older generation is rendered again on its next request: a tenant
//! update, deletion or key rotation shows at once, and the hot path is one map lookup.

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Which document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Doc {
    /// OpenID Provider Configuration / RFC 8414 metadata.
    Discovery,
    /// The published signing keys.
    Jwks,
    /// The origins allowed by CORS (`crate::cors`), one per line.
    CorsOrigins,
}

/// One kind of document per tenant, with the generation each was rendered under.
type ByTenant = HashMap<String, (u64, Bytes)>;

/// Rendered documents by kind and tenant (looked up without allocating), each with the generation it was rendered under.
#[derive(Default)]
pub struct DocCache {
    generation: AtomicU64,
    docs: RwLock<HashMap<Doc, ByTenant>>,
}

impl DocCache {
    /// Forgets every rendered document (something a document shows may have changed).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The cached document, when it was rendered under the current generation.
    pub fn current(&self, tenant: &str, doc: Doc) -> Option<Bytes> {
        let generation = self.generation.load(Ordering::SeqCst);
        let docs = self.docs.read().unwrap_or_else(|p| p.into_inner());
        let (g, bytes) = docs.get(&doc)?.get(tenant)?;
        (*g == generation).then(|| bytes.clone())
    }

    /// The cached document, or `render()`'s (cached when it is `Some`).
    pub fn get_or_render(&self, tenant: &str, doc: Doc, render: impl FnOnce() -> Option<Vec<u8>>) -> Option<Bytes> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(bytes) = self.current(tenant, doc) {
            return Some(bytes);
        }
        let bytes = Bytes::from(render()?);
        self.docs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(doc)
            .or_default()
            .insert(tenant.to_string(), (generation, bytes.clone()));
        Some(bytes)
    }
}

/// `Cache-Control` of discovery and JWKS answers.
pub const MAX_AGE: &str = "public, max-age=300";

/// A JSON document already serialized.
pub struct RawJson(pub Bytes);

impl Payload for RawJson {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        serde_json::Value::schema_ref()
    }
}

impl IntoResponse for RawJson {
    fn into_response(self) -> Response {
        Response::builder().content_type(Self::CONTENT_TYPE).body(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_per_generation_and_not_on_failure() {
        let cache = DocCache::default();
        let mut renders = 0;
        let mut get = |cache: &DocCache, body: &str| {
            cache.get_or_render("t", Doc::Jwks, || {
                renders += 1;
                Some(body.as_bytes().to_vec())
            })
        };
        assert_eq!(get(&cache, "a").unwrap(), "a");
        assert_eq!(get(&cache, "b").unwrap(), "a", "served from the cache");
        cache.invalidate();
        assert_eq!(get(&cache, "c").unwrap(), "c", "rendered again after a change");
        assert_eq!(renders, 2);
        assert!(cache.get_or_render("unknown", Doc::Jwks, || None).is_none());
        assert_eq!(
            cache
                .get_or_render("unknown", Doc::Jwks, || Some(b"x".to_vec()))
                .unwrap(),
            "x",
            "a miss is not cached"
        );
    }
}
