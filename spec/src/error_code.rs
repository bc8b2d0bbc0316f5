//! OAuth 2.0 / OpenID Connect error codes and the one place they map to HTTP statuses.

use serde::{Deserialize, Serialize};

/// An error code as it appears on the wire in `error=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749: malformed or missing parameter.
    InvalidRequest,
    /// RFC 6749: client authentication failed.
    InvalidClient,
    /// RFC 6749: code, refresh token or credentials invalid, expired, revoked or mismatched.
    InvalidGrant,
    /// RFC 6749: client not allowed to use this grant or response type.
    UnauthorizedClient,
    /// RFC 6749: grant type not supported.
    UnsupportedGrantType,
    /// RFC 6749: scope invalid, unknown or not allowed.
    InvalidScope,
    /// RFC 6749: the resource owner or server denied the request.
    AccessDenied,
    /// RFC 6749: response type not supported.
    UnsupportedResponseType,
    /// RFC 6749: unexpected condition on the server.
    ServerError,
    /// RFC 6749: overloaded or rate limited.
    TemporarilyUnavailable,
    /// OIDC Core: prompt=none but the user must log in.
    LoginRequired,
    /// OIDC Core: prompt=none but the user must consent.
    ConsentRequired,
    /// OIDC Core: prompt=none but some interaction is needed.
    InteractionRequired,
    /// OIDC Core: the `request` parameter is not supported.
    RequestNotSupported,
    /// OIDC Core: the `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// OIDC Core §6: the request object is invalid (signature, claims, client).
    InvalidRequestObject,
    /// OIDC Core §6.2: the `request_uri` cannot be fetched or holds no valid object.
    InvalidRequestUri,
    /// RFC 6750: the access token is invalid, expired or revoked.
    InvalidToken,
    /// RFC 6750: the token lacks the scope this resource needs.
    InsufficientScope,
    /// RFC 7009: the token type cannot be revoked.
    UnsupportedTokenType,
    /// RFC 7591: a redirect URI in registration metadata is invalid.
    InvalidRedirectUri,
    /// RFC 7591: some other registration metadata is invalid.
    InvalidClientMetadata,
    /// Admin API: authenticated, but not allowed to act on this tenant or resource.
    Forbidden,
    /// Admin API / registration management: the resource does not exist.
    NotFound,
    /// Admin API: the resource already exists (slug, client_id, username or email taken).
    Conflict,
    /// RFC 8707: the requested `resource` is invalid, unknown or not allowed for the client.
    InvalidTarget,
    /// The authorization request's `redirect_uri` is not registered for the client (shown on the
    /// error page, never redirected; the seeds' error table names it).
    RedirectUriMismatch,
    /// RFC 9449: the DPoP proof is missing where required, malformed, or does not fit the request.
    InvalidDpopProof,
    /// RFC 9449 §8: the DPoP proof must carry the nonce the server gives in `DPoP-Nonce`.
    UseDpopNonce,
}

impl ErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::InvalidTarget => "invalid_target",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status a direct (non-redirect) response with this error carries.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied | Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 429,
            _ => 400,
        }
    }

    /// All codes, for exhaustive tests.
    pub const ALL: [ErrorCode; 29] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::ServerError,
        Self::TemporarilyUnavailable,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InteractionRequired,
        Self::RequestNotSupported,
        Self::RequestUriNotSupported,
        Self::InvalidRequestObject,
        Self::InvalidRequestUri,
        Self::InvalidToken,
        Self::InsufficientScope,
        Self::UnsupportedTokenType,
        Self::InvalidRedirectUri,
        Self::InvalidClientMetadata,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::InvalidTarget,
        Self::RedirectUriMismatch,
        Self::InvalidDpopProof,
        Self::UseDpopNonce,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_match_serde_names() {
        for code in ErrorCode::ALL {
            let json = serde_json_like(code);
            assert_eq!(json, code.as_str());
        }
    }

    fn serde_json_like(code: ErrorCode) -> String {
        // toml has no bare-enum serializer; round-trip through a table.
        #[derive(Serialize)]
        struct W {
            e: ErrorCode,
        }
        let s = toml::to_string(&W { e: code }).unwrap();
        s.trim().trim_start_matches("e = ").trim_matches('"').to_string()
    }
}
