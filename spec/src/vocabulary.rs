//! Protocol vocabulary: grant types, response modes, client authentication methods, prompts, scopes.

use serde::{Deserialize, Serialize};

/// An OAuth grant type a client may use at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 4.1.
    AuthorizationCode,
    /// RFC 6749 6.
    RefreshToken,
    /// RFC 6749 4.4.
    ClientCredentials,
}

impl GrantType {
    /// Parses the wire value of `grant_type`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "authorization_code" => Some(Self::AuthorizationCode),
            "refresh_token" => Some(Self::RefreshToken),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// How the authorization response is delivered to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Parameters in the redirect URI query (default for `code`).
    #[default]
    Query,
    /// Parameters in the redirect URI fragment.
    Fragment,
    /// OAuth 2.0 Form Post Response Mode: an auto-submitting HTML form.
    FormPost,
}

impl ResponseMode {
    /// Parses the wire value of `response_mode`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
        }
    }
}

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// Public client: no secret, PKCE mandatory.
    None,
    /// HTTP Basic with client_id and client_secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A JWT assertion signed with a key from the client's registered JWKS.
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    /// Parses the wire value of `token_endpoint_auth_method`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
    /// Whether the client holds a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// A JWS algorithm we sign or verify with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the OIDC default).
    #[default]
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
}

impl SigningAlg {
    /// Every algorithm; the provider keeps one active key of each per tenant.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::ES384];
    /// Parses the `alg` header value; `none` and anything unknown give `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            "ES384" => Some(Self::ES384),
            _ => None,
        }
    }
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
        }
    }
}

/// One value of the OIDC `prompt` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No UI may be shown.
    None,
    /// Re-authenticate even with a live session.
    Login,
    /// Ask for consent even if already granted.
    Consent,
    /// Let the user pick an account (treated as login here).
    SelectAccount,
}

impl Prompt {
    /// Parses one space-separated value of `prompt`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "login" => Some(Self::Login),
            "consent" => Some(Self::Consent),
            "select_account" => Some(Self::SelectAccount),
            _ => None,
        }
    }
}

/// Scope values with a defined meaning here.
pub mod scopes {
    /// OIDC: authenticate and get an ID token.
    pub const OPENID: &str = "openid";
    /// OIDC standard profile claims.
    pub const PROFILE: &str = "profile";
    /// email, email_verified.
    pub const EMAIL: &str = "email";
    /// address.
    pub const ADDRESS: &str = "address";
    /// phone_number, phone_number_verified.
    pub const PHONE: &str = "phone";
    /// Ask for a refresh token.
    pub const OFFLINE_ACCESS: &str = "offline_access";
    /// Calimatic: organization_id, organization_memberships, user_type.
    pub const ORGANIZATION: &str = "organization";
    /// Calimatic: platform permissions list.
    pub const PERMISSIONS: &str = "permissions";
    /// Admin API access (client credentials of an admin client).
    pub const ADMIN: &str = "admin";
    /// Every scope the provider knows.
    pub const ALL: [&str; 9] = [
        OPENID,
        PROFILE,
        EMAIL,
        ADDRESS,
        PHONE,
        OFFLINE_ACCESS,
        ORGANIZATION,
        PERMISSIONS,
        ADMIN,
    ];
    /// Scopes only first-party clients get unless an administrator grants them.
    pub const FIRST_PARTY_ONLY: [&str; 3] = [ORGANIZATION, PERMISSIONS, ADMIN];
}
