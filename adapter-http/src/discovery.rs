//! The OpenID Provider Configuration (OIDC Discovery 1.0) and RFC 8414 metadata: what we support, truthfully.

use serde_json::{json, Value};
use spec::vocabulary::scopes;

/// The discovery document of the tenant whose issuer is `iss`.
/// `registration` says whether the tenant accepts dynamic registration (open or with a token);
/// `require_par` whether every authorization request must be pushed first (RFC 9126 §5).
// OIDC-DISCOVERY-3-provider-metadata
pub fn document(iss: &str, registration: bool, require_par: bool) -> Value {
    let user_scopes: Vec<&str> = scopes::ALL.iter().copied().filter(|s| *s != scopes::ADMIN).collect();
    let mut doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/end-session"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "pushed_authorization_request_endpoint": format!("{iss}/par"),
        "require_pushed_authorization_requests": require_par,
        "scopes_supported": user_scopes,
        "response_types_supported": engine::authorize::response_type::SUPPORTED,
        "response_modes_supported": ["query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"],
        "authorization_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": engine::dpop::SIGNING_ALGS,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claim_types_supported": ["normal"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp", "amr", "acr",
            "name", "given_name", "family_name", "preferred_username", "picture", "locale", "updated_at",
            "email", "email_verified", "address", "phone_number", "phone_number_verified",
            "organization_id", "organization_memberships", "user_type", "permissions"
        ],
        "acr_values_supported": engine::mfa::ACR_VALUES_SUPPORTED,
        "claims_parameter_supported": true,
        "request_parameter_supported": true,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": false,
        "request_object_signing_alg_values_supported": ["none", "RS256", "ES256", "ES384"],
        "userinfo_signing_alg_values_supported": ["RS256", "ES256", "ES384"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "ui_locales_supported": ["en"],
        "claims_locales_supported": ["en"]
    });
    if registration {
        doc["registration_endpoint"] = json!(format!("{iss}/register"));
    }
    doc
}
