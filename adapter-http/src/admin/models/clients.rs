//! Client bodies: a client as shown (its secret only when just minted), and its creation or changes.

use super::{Alg, AuthMethod, BrandingBody, Grant, Profile};
use engine::client::ClientPatch;
use engine::ClientRecord;
use poem_openapi::types::Example;
use poem_openapi::Object;
use serde_json::Value;

/// A client. `client_secret` appears only in the answer that created it (create, rotate).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example, rename = "OAuthClient")]
pub struct Client {
    /// Public identifier.
    pub client_id: String,
    /// The secret, shown this once.
    #[oai(skip_serializing_if_is_none)]
    pub client_secret: Option<String>,
    /// Display name.
    pub name: String,
    // Token endpoint auth method.
    pub token_endpoint_auth_method: AuthMethod,
    /// Created without a `token_endpoint_auth_method`: the secret is accepted both in the Basic
    /// header and in the body. Setting a method explicitly makes it strict.
    pub either_secret_method: bool,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grants.
    pub grant_types: Vec<Grant>,
    /// Scopes it may ask for.
    pub allowed_scopes: Vec<String>,
    /// RFC 8707 resources (APIs) it may name at the token endpoint; each becomes the access token's `aud`.
    pub allowed_resources: Vec<String>,
    /// RFC 8707 resources (APIs) this client is the resource server of: it may introspect the
    /// access tokens whose `aud` names one of them, whichever client they were issued to.
    pub resource_server_for: Vec<String>,
    /// Only users holding this app's licence may sign in to it (others get `access_denied`) or
    /// refresh its tokens.
    pub license_required: bool,
    /// Every sign-in to this app uses two factors, whatever the tenant's policy.
    pub require_second_factor: bool,
    /// Consent page shown.
    pub require_consent: bool,
    /// First-party app.
    pub first_party: bool,
    /// PKCE required.
    pub require_pkce: bool,
    /// `state` required in authorization requests (when false, a request without state must carry a PKCE challenge).
    pub require_state: bool,
    // ID token algorithm.
    pub id_token_signed_response_alg: Alg,
    // Access token (JWT) algorithm.
    pub access_token_signed_response_alg: Alg,
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// ID token lifetime, seconds.
    pub id_token_ttl: u64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_ttl: u64,
    /// Refresh tokens without offline_access.
    pub refresh_without_offline_access: bool,
    /// Public keys for private_key_jwt.
    #[oai(skip_serializing_if_is_none)]
    pub jwks: Option<Value>,
    /// Deactivated clients are refused everywhere.
    pub active: bool,
    /// Page branding.
    pub branding: BrandingBody,
    /// Registered by RFC 7591.
    pub dynamically_registered: bool,
    /// Created at (seconds).
    pub created_at: u64,
    // UserInfo is a JWT signed with this algorithm (absent: plain JSON).
    #[oai(skip_serializing_if_is_none)]
    pub userinfo_signed_response_alg: Option<Alg>,
    /// OpenID Connect Back-Channel Logout: where logout tokens are POSTed.
    #[oai(skip_serializing_if_is_none)]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (always sent).
    pub backchannel_logout_session_required: bool,
    // The security profile it is held to.
    pub security_profile: Profile,
    /// The response types it may use (`code` unless registered for the implicit or hybrid ones).
    pub response_types: Vec<String>,
}

impl Client {
    /// The body for `c`, with `secret` if it was just minted.
    pub fn of(c: ClientRecord, secret: Option<String>) -> Self {
        Client {
            client_id: c.client_id,
            client_secret: secret,
            name: c.name,
            token_endpoint_auth_method: c.auth_method.into(),
            either_secret_method: c.either_secret_method,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: c.grant_types.into_iter().map(Into::into).collect(),
            allowed_scopes: c.allowed_scopes,
            allowed_resources: c.allowed_resources,
            resource_server_for: c.resource_server_for,
            license_required: c.license_required,
            require_second_factor: c.require_second_factor,
            require_consent: c.require_consent,
            first_party: c.first_party,
            require_pkce: c.require_pkce,
            require_state: c.require_state,
            id_token_signed_response_alg: c.id_token_signed_response_alg.into(),
            access_token_signed_response_alg: c.access_token_signed_response_alg.into(),
            access_token_ttl: c.access_token_ttl,
            id_token_ttl: c.id_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            refresh_without_offline_access: c.refresh_without_offline_access,
            jwks: c.jwks,
            active: c.active,
            branding: c.branding.into(),
            dynamically_registered: c.dynamically_registered,
            created_at: c.created_at,
            userinfo_signed_response_alg: c.extras.userinfo_signed_response_alg.map(Into::into),
            backchannel_logout_uri: c.extras.backchannel_logout_uri,
            backchannel_logout_session_required: c.extras.backchannel_logout_session_required,
            security_profile: c.extras.security_profile.into(),
            response_types: match c.extras.response_types.is_empty() {
                true => vec!["code".into()],
                false => c.extras.response_types,
            },
        }
    }
}

impl Example for Client {
    fn example() -> Self {
        Client {
            client_id: "partners-portal".into(),
            client_secret: Some("hK3v…shown-once".into()),
            name: "Partners Portal".into(),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            either_secret_method: true,
            redirect_uris: vec!["https://portal.example.com/callback".into()],
            post_logout_redirect_uris: vec!["https://portal.example.com/".into()],
            grant_types: vec![Grant::AuthorizationCode, Grant::RefreshToken],
            allowed_scopes: [
                "openid",
                "profile",
                "email",
                "organization",
                "permissions",
                "offline_access",
            ]
            .map(String::from)
            .to_vec(),
            allowed_resources: vec!["https://api.portal.example.com/".into()],
            resource_server_for: vec![],
            license_required: false,
            require_second_factor: false,
            require_consent: false,
            first_party: true,
            require_pkce: true,
            require_state: true,
            id_token_signed_response_alg: Alg::RS256,
            access_token_signed_response_alg: Alg::RS256,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            refresh_token_ttl: 2_592_000,
            refresh_without_offline_access: true,
            jwks: None,
            active: true,
            branding: BrandingBody::default(),
            dynamically_registered: false,
            created_at: 1_750_000_000,
            userinfo_signed_response_alg: None,
            backchannel_logout_uri: Some("https://portal.example.com/backchannel-logout".into()),
            backchannel_logout_session_required: true,
            security_profile: Profile::None,
            response_types: vec!["code".into()],
        }
    }
}

/// A client to create, or changes to one (absent fields keep their value or the tenant's default).
#[derive(Object, Clone, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ClientInput {
    /// Wanted client_id (create only; generated when absent).
    pub client_id: Option<String>,
    /// Display name (required on create).
    pub name: Option<String>,
    // Default `client_secret_basic`, and then the secret is accepted in the body too
    // (`either_secret_method`); an explicit method is strict.
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// Exact redirect URIs (https, or http on loopback).
    pub redirect_uris: Option<Vec<String>>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default `authorization_code`, `refresh_token`.
    pub grant_types: Option<Vec<Grant>>,
    /// Scopes it may ask for (default by first/third party).
    pub allowed_scopes: Option<Vec<String>>,
    /// RFC 8707 resources (APIs) it may name at the token endpoint (absolute URIs; default none).
    pub allowed_resources: Option<Vec<String>>,
    /// RFC 8707 resources (APIs) this client is the resource server of: it may introspect the access
    /// tokens issued for them (RFC 7662 §2.1). Default none.
    pub resource_server_for: Option<Vec<String>>,
    /// Only users holding this app's licence may sign in to it or refresh (default false).
    pub license_required: Option<bool>,
    /// Two factors at every sign-in to this app, whatever the tenant's policy (default false).
    pub require_second_factor: Option<bool>,
    /// Show the consent page (default true).
    pub require_consent: Option<bool>,
    /// First-party app (default false).
    pub first_party: Option<bool>,
    /// Require PKCE (default true; always for public clients).
    pub require_pkce: Option<bool>,
    /// Require `state` (default true). Libraries that send PKCE but no state (Auth.js) need false.
    pub require_state: Option<bool>,
    // RS256 (default), ES256 or ES384.
    pub id_token_signed_response_alg: Option<Alg>,
    // Algorithm of the JWT access tokens: RS256 (default), ES256 or ES384.
    pub access_token_signed_response_alg: Option<Alg>,
    /// Access token lifetime, seconds.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub access_token_ttl: Option<u64>,
    /// ID token lifetime, seconds.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub id_token_ttl: Option<u64>,
    /// Refresh token lifetime, seconds.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub refresh_token_ttl: Option<u64>,
    /// Refresh tokens without offline_access (default true).
    pub refresh_without_offline_access: Option<bool>,
    /// Public keys (JWKS) for private_key_jwt.
    pub jwks: Option<Value>,
    /// Page branding.
    pub branding: Option<BrandingBody>,
    // Sign UserInfo responses with RS256, ES256 or ES384 (default: plain JSON).
    pub userinfo_signed_response_alg: Option<Alg>,
    /// Back-channel logout URI (https, or http on loopback); an empty string removes it.
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (they always carry it).
    pub backchannel_logout_session_required: Option<bool>,
    // Hold the client to a security profile (`fapi2` needs private_key_jwt and PKCE; `none` removes it).
    pub security_profile: Option<Profile>,
    /// The response types it may use (default `["code"]`): also `id_token`, `id_token token`,
    /// `code id_token`, `code token`, `code id_token token` (OAuth 2.1 keeps them off by default).
    pub response_types: Option<Vec<String>>,
}

impl Example for ClientInput {
    fn example() -> Self {
        ClientInput {
            client_id: Some("partners-portal".into()),
            name: Some("Partners Portal".into()),
            redirect_uris: Some(vec!["https://portal.example.com/callback".into()]),
            first_party: Some(true),
            require_consent: Some(false),
            ..Default::default()
        }
    }
}

impl From<ClientInput> for ClientPatch {
    fn from(i: ClientInput) -> Self {
        ClientPatch {
            client_id: i.client_id,
            name: i.name,
            auth_method: i.token_endpoint_auth_method.map(Into::into),
            redirect_uris: i.redirect_uris,
            post_logout_redirect_uris: i.post_logout_redirect_uris,
            grant_types: i.grant_types.map(|g| g.into_iter().map(Into::into).collect()),
            allowed_scopes: i.allowed_scopes,
            allowed_resources: i.allowed_resources,
            resource_server_for: i.resource_server_for,
            license_required: i.license_required,
            require_second_factor: i.require_second_factor,
            require_consent: i.require_consent,
            first_party: i.first_party,
            require_pkce: i.require_pkce,
            require_state: i.require_state,
            id_token_signed_response_alg: i.id_token_signed_response_alg.map(Into::into),
            access_token_signed_response_alg: i.access_token_signed_response_alg.map(Into::into),
            access_token_ttl: i.access_token_ttl,
            id_token_ttl: i.id_token_ttl,
            refresh_token_ttl: i.refresh_token_ttl,
            refresh_without_offline_access: i.refresh_without_offline_access,
            jwks: i.jwks,
            branding: i.branding.map(Into::into),
            userinfo_signed_response_alg: i.userinfo_signed_response_alg.map(Into::into),
            backchannel_logout_uri: i.backchannel_logout_uri,
            backchannel_logout_session_required: i.backchannel_logout_session_required,
            security_profile: i.security_profile.map(Into::into),
            response_types: i.response_types,
        }
    }
}

page!(ClientPage, Client, "A page of clients.");
