//! Discovery and JWKS documents (and the CORS origins, and the pages' branding) rendered once per
//! tenant and kept as bytes.
//!
//! Every Admin API or registration call that changes something (any method but GET) moves the
//! shared generation on (`shared_state`), and a document rendered under an older generation is
//! rendered again on its next request: a tenant update, deletion or key rotation shows at once, on
//! every instance, and the hot path is one map lookup.

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;
use std::collections::HashMap;
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
    /// The tenant's branding of its pages (JSON of `engine::Branding`).
    Branding,
}

/// One kind of document per tenant, with the generation each was rendered under.
type ByTenant = HashMap<String, (u64, Bytes)>;

/// Rendered documents by kind and tenant (looked up without allocating), each with the generation
/// it was rendered under. The current generation is the instances' shared one (`shared_state`).
#[derive(Default)]
pub struct DocCache {
    docs: RwLock<HashMap<Doc, ByTenant>>,
}

impl DocCache {
    /// The cached document, when it was rendered under `generation`.
    pub fn current(&self, generation: u64, tenant: &str, doc: Doc) -> Option<Bytes> {
        let docs = self.docs.read().unwrap_or_else(|p| p.into_inner());
        let (g, bytes) = docs.get(&doc)?.get(tenant)?;
        (*g == generation).then(|| bytes.clone())
    }

    /// The cached document, or `render()`'s (cached under `generation` when it is `Some`).
    pub async fn get_or_render<F>(
        &self,
        generation: u64,
        tenant: &str,
        doc: Doc,
        render: impl FnOnce() -> F,
    ) -> Option<Bytes>
    where
        F: std::future::Future<Output = Option<Vec<u8>>>,
    {
        if let Some(bytes) = self.current(generation, tenant, doc) {
            return Some(bytes);
        }
        let bytes = Bytes::from(render().await?);
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

    #[tokio::test]
    async fn renders_once_per_generation_and_not_on_failure() {
        let cache = DocCache::default();
        let renders = std::cell::Cell::new(0);
        let get = |generation: u64, body: &'static str| {
            cache.get_or_render(generation, "t", Doc::Jwks, || {
                renders.set(renders.get() + 1);
                std::future::ready(Some(body.as_bytes().to_vec()))
            })
        };
        assert_eq!(get(0, "a").await.unwrap(), "a");
        assert_eq!(get(0, "b").await.unwrap(), "a", "served from the cache");
        assert_eq!(get(1, "c").await.unwrap(), "c", "rendered again under a new generation");
        assert_eq!(renders.get(), 2);
        assert!(
            cache.current(0, "t", Doc::Jwks).is_none(),
            "an old generation's is stale"
        );
        let missing = cache.get_or_render(1, "unknown", Doc::Jwks, || std::future::ready(None));
        assert!(missing.await.is_none());
        assert_eq!(
            cache
                .get_or_render(1, "unknown", Doc::Jwks, || std::future::ready(Some(b"x".to_vec())))
                .await
                .unwrap(),
            "x",
            "a miss is not cached"
        );
    }
}
