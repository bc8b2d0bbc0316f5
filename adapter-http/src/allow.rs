//! 405 answers (RFC 9110 §15.5.6): a JSON error and the `Allow` header listing the path's
//! methods, taken from the OpenAPI document and the page routes. poem answers a wrong method
//! with a bare plain-text 405.

use poem::http::{header, HeaderValue, StatusCode};
use poem::Response;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The routes outside the OpenAPI document (pages and liveness), with their methods.
const PAGE_ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["GET"]),
    ("/{tenant}/authorize", &["GET", "POST"]),
    ("/{tenant}/login", &["POST"]),
    ("/{tenant}/consent", &["POST"]),
    ("/{tenant}/end-session", &["GET", "POST"]),
];

/// A path template, segment by segment (`None`: a `{parameter}`).
type Template = Vec<Option<String>>;

fn template(path: &str) -> Template {
    path.split('/')
        .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
        .collect()
}

fn table() -> &'static Vec<(Template, Vec<String>)> {
    static TABLE: OnceLock<Vec<(Template, Vec<String>)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let spec: serde_json::Value = serde_json::from_str(&crate::openapi_json()).unwrap_or_default();
        let mut out: Vec<(Template, Vec<String>)> = PAGE_ROUTES
            .iter()
            .map(|(p, m)| (template(p), m.iter().map(|s| s.to_string()).collect()))
            .collect();
        if let Some(paths) = spec["paths"].as_object() {
            for (path, ops) in paths {
                let methods = ops
                    .as_object()
                    .map(|o| o.keys().map(|k| k.to_uppercase()).collect())
                    .unwrap_or_default();
                out.push((template(path), methods));
            }
        }
        out
    })
}

/// The methods `path` answers, comma-separated (`None`: no route has this shape).
pub fn allowed(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut methods = BTreeSet::new();
    for (t, m) in table() {
        let fits = t.len() == segments.len()
            && t.iter()
                .zip(&segments)
                .all(|(want, got)| want.as_deref().map_or(!got.is_empty(), |w| w == *got));
        if fits {
            methods.extend(m.iter().cloned());
        }
    }
    if methods.contains("GET") {
        methods.insert("HEAD".into());
    }
    (!methods.is_empty()).then(|| methods.into_iter().collect::<Vec<_>>().join(", "))
}

/// The 405 answer for `path`.
pub fn method_not_allowed(path: &str) -> Response {
    let mut r = Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .content_type("application/json")
        .body(r#"{"error":"invalid_request","error_description":"this method is not allowed here; see the Allow header"}"#);
    if let Some(v) = allowed(path).and_then(|a| HeaderValue::from_str(&a).ok()) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_routes() {
        assert_eq!(allowed("/demo/token").as_deref(), Some("POST"));
        assert_eq!(allowed("/demo/authorize").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(allowed("/demo/jwks").as_deref(), Some("GET, HEAD"));
        let one_client = allowed("/admin/v1/tenants/demo/clients/c1").unwrap();
        assert!(
            one_client.contains("PATCH") && one_client.contains("DELETE"),
            "{one_client}"
        );
        assert_eq!(allowed("/no/such/route/at/all/here"), None);
        assert_eq!(allowed("//token"), None, "an empty segment is not a parameter");
    }
}
