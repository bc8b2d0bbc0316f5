//! RFC 8707 resource indicators: a token request may name the resource (API) the access token
//! is for, and that becomes the token's `aud` instead of the client_id. Only resources
//! registered on the client (`allowed_resources`) are accepted: a client cannot mint tokens for
//! an API an administrator did not give it.

use crate::error::ProtocolError;
use spec::ErrorCode;

/// Whether `s` can be a resource indicator: an absolute URI without a fragment (RFC 8707 §2).
pub fn is_resource_uri(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.fragment().is_none())
}

/// The access token's audience for a request of `client_id` (which may name `allowed`) naming
/// `requested` (empty: the client_id).
pub fn audience(client_id: &str, allowed: &[String], requested: &[String]) -> Result<Vec<String>, ProtocolError> {
    if requested.is_empty() {
        return Ok(vec![client_id.to_string()]);
    }
    for r in requested {
        if !is_resource_uri(r) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidTarget,
                "resource must be an absolute URI without a fragment",
            ));
        }
        // RFC8707-resource-indicators
        if !allowed.contains(r) {
            return Err(ProtocolError::new(
                ErrorCode::InvalidTarget,
                "resource is not registered for this client",
            ));
        }
    }
    Ok(requested.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_indicators_are_absolute_and_fragment_free() {
        assert!(is_resource_uri("https://api.example.com/"));
        assert!(is_resource_uri("https://api.example.com/v1?x=1"));
        assert!(!is_resource_uri("https://api.example.com/#frag"));
        assert!(!is_resource_uri("/relative"));
        assert!(is_resource_uri("urn:example:api"), "any absolute URI");
    }
}
