//! The seed's endpoint layout. The Calimatic integration guide (and code copied from it) builds
//! every URL as `{ISSUER}/api/v1/oidc/{endpoint}`; with `ISSUER` set to one of our issuers
//! (`{base}/{tenant}`), those paths are served as the tenant's own endpoints, so that code works
//! with only the issuer and the client credentials changed. Discovery names the canonical paths.

use poem::http::Uri;

// SEED-integration-code
/// The endpoints the seed names under `/api/v1/oidc/`.
const ENDPOINTS: &[&str] = &[
    "authorize",
    "token",
    "userinfo",
    "register",
    "jwks",
    "introspect",
    "revoke",
    "end-session",
];

/// `/{tenant}/{endpoint}[?query]` for `/{tenant}/api/v1/oidc/{endpoint}[?query]`.
pub fn canonical(uri: &Uri) -> Option<Uri> {
    let path = uri.path().strip_prefix('/')?;
    let (tenant, rest) = path.split_once('/')?;
    let endpoint = rest.strip_prefix("api/v1/oidc/")?;
    let known = ENDPOINTS
        .iter()
        .any(|e| endpoint == *e || endpoint.strip_prefix(e).is_some_and(|r| r.starts_with('/')));
    if tenant.is_empty() || !known {
        return None;
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("/{tenant}/{endpoint}{query}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<String> {
        canonical(&s.parse().unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn the_seed_layout_maps_to_the_tenant_endpoints() {
        assert_eq!(c("/demo/api/v1/oidc/token").as_deref(), Some("/demo/token"));
        assert_eq!(
            c("/demo/api/v1/oidc/authorize?client_id=a&state=s").as_deref(),
            Some("/demo/authorize?client_id=a&state=s")
        );
        assert_eq!(c("/demo/api/v1/oidc/register/c1").as_deref(), Some("/demo/register/c1"));
        assert_eq!(c("/demo/api/v1/oidc/login"), None, "only the seed's endpoints");
        assert_eq!(c("/demo/api/v1/oidc/tokenx"), None);
        assert_eq!(c("/demo/token"), None);
        assert_eq!(c("//api/v1/oidc/token"), None);
    }
}
