//! Admin API request and response bodies (their OpenAPI schemas) and their translation to and
//! from engine types. No rule lives here: only shapes.

use engine::admin::{
    Invite, InviteOutcome, InviteStatus, KeyInfo, OrganizationPatch, SessionInfo, TenantPatch, UserPatch,
};
use engine::audit::AuditEvent;
use engine::client::ClientPatch;
use engine::organization::OrganizationRecord;
use engine::tenant::{RegistrationPolicy, TokenLifetimes};
use engine::{Branding, ClientRecord, TenantRecord, UserProfile, UserRecord};
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object};
use serde_json::Value;
use spec::{ClientAuthMethod, GrantType, SigningAlg};

/// Token endpoint authentication method.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Public client (PKCE only).
    None,
    /// HTTP Basic.
    ClientSecretBasic,
    /// Secret in the form body.
    ClientSecretPost,
    /// Signed JWT assertion (RS256/ES256/ES384).
    PrivateKeyJwt,
}

impl From<AuthMethod> for ClientAuthMethod {
    fn from(m: AuthMethod) -> Self {
        match m {
            AuthMethod::None => ClientAuthMethod::None,
            AuthMethod::ClientSecretBasic => ClientAuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost => ClientAuthMethod::ClientSecretPost,
            AuthMethod::PrivateKeyJwt => ClientAuthMethod::PrivateKeyJwt,
        }
    }
}

impl From<ClientAuthMethod> for AuthMethod {
    fn from(m: ClientAuthMethod) -> Self {
        match m {
            ClientAuthMethod::None => AuthMethod::None,
            ClientAuthMethod::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost => AuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// OAuth grant type.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Grant {
    /// Authorization code (with PKCE).
    AuthorizationCode,
    /// Refresh token.
    RefreshToken,
    /// Client credentials.
    ClientCredentials,
}

impl From<Grant> for GrantType {
    fn from(g: Grant) -> Self {
        match g {
            Grant::AuthorizationCode => GrantType::AuthorizationCode,
            Grant::RefreshToken => GrantType::RefreshToken,
            Grant::ClientCredentials => GrantType::ClientCredentials,
        }
    }
}

impl From<GrantType> for Grant {
    fn from(g: GrantType) -> Self {
        match g {
            GrantType::AuthorizationCode => Grant::AuthorizationCode,
            GrantType::RefreshToken => Grant::RefreshToken,
            GrantType::ClientCredentials => Grant::ClientCredentials,
        }
    }
}

/// A token signing algorithm.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256.
    ES256,
    /// ECDSA P-384.
    ES384,
}

impl From<Alg> for SigningAlg {
    fn from(a: Alg) -> Self {
        match a {
            Alg::RS256 => SigningAlg::RS256,
            Alg::ES256 => SigningAlg::ES256,
            Alg::ES384 => SigningAlg::ES384,
        }
    }
}

impl From<SigningAlg> for Alg {
    fn from(a: SigningAlg) -> Self {
        match a {
            SigningAlg::RS256 => Alg::RS256,
            SigningAlg::ES256 => Alg::ES256,
            SigningAlg::ES384 => Alg::ES384,
        }
    }
}

/// Dynamic registration policy.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Policy {
    /// Anyone may register.
    Open,
    /// Only with an initial access token.
    InitialAccessToken,
    /// Registration is off.
    Closed,
}

impl From<Policy> for RegistrationPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Open => RegistrationPolicy::Open,
            Policy::InitialAccessToken => RegistrationPolicy::InitialAccessToken,
            Policy::Closed => RegistrationPolicy::Closed,
        }
    }
}

impl From<RegistrationPolicy> for Policy {
    fn from(p: RegistrationPolicy) -> Self {
        match p {
            RegistrationPolicy::Open => Policy::Open,
            RegistrationPolicy::InitialAccessToken => Policy::InitialAccessToken,
            RegistrationPolicy::Closed => Policy::Closed,
        }
    }
}

/// Login, consent and logout page branding.
#[derive(Object, Clone, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct BrandingBody {
    /// Name shown on the pages.
    pub display_name: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Primary colour, e.g. `#0055aa`.
    pub primary_color: Option<String>,
}

impl From<BrandingBody> for Branding {
    fn from(b: BrandingBody) -> Self {
        Branding {
            display_name: b.display_name,
            logo_url: b.logo_url,
            primary_color: b.primary_color,
        }
    }
}

impl From<Branding> for BrandingBody {
    fn from(b: Branding) -> Self {
        BrandingBody {
            display_name: b.display_name,
            logo_url: b.logo_url,
            primary_color: b.primary_color,
        }
    }
}

/// Token lifetimes in seconds.
#[derive(Object, Clone, Copy, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Lifetimes {
    /// Access tokens.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub access_token_ttl: u64,
    /// ID tokens.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub id_token_ttl: u64,
    /// Refresh tokens (from each rotation).
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub refresh_token_ttl: u64,
}

impl From<Lifetimes> for TokenLifetimes {
    fn from(l: Lifetimes) -> Self {
        TokenLifetimes {
            access_token_ttl: l.access_token_ttl,
            id_token_ttl: l.id_token_ttl,
            refresh_token_ttl: l.refresh_token_ttl,
        }
    }
}

impl From<TokenLifetimes> for Lifetimes {
    fn from(l: TokenLifetimes) -> Self {
        Lifetimes {
            access_token_ttl: l.access_token_ttl,
            id_token_ttl: l.id_token_ttl,
            refresh_token_ttl: l.refresh_token_ttl,
        }
    }
}

/// A tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Tenant {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Its issuer identifier (`{base}/{slug}`).
    pub issuer: String,
    /// Page branding.
    pub branding: BrandingBody,
    // Dynamic registration policy.
    pub registration_policy: Policy,
    /// Default token lifetimes of new clients.
    pub token_lifetimes: Lifetimes,
    /// Whether a confidential client may be registered with `require_pkce: false`.
    pub allow_pkce_opt_out: bool,
}

impl Tenant {
    /// The body for `t`, whose issuer is `issuer`.
    pub fn of(t: TenantRecord, issuer: String) -> Self {
        Tenant {
            slug: t.slug,
            display_name: t.display_name,
            issuer,
            branding: t.branding.into(),
            registration_policy: t.registration_policy.into(),
            token_lifetimes: t.token_lifetimes.into(),
            allow_pkce_opt_out: t.allow_pkce_opt_out,
        }
    }
}

impl Example for Tenant {
    fn example() -> Self {
        Tenant {
            slug: "acme".into(),
            display_name: "Acme Corp".into(),
            issuer: "https://id.example.com/acme".into(),
            branding: BrandingBody::default(),
            registration_policy: Policy::InitialAccessToken,
            token_lifetimes: TokenLifetimes::default().into(),
            allow_pkce_opt_out: false,
        }
    }
}

/// A new tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TenantCreate {
    /// URL slug: 1-63 of a-z 0-9 - (not `system`, `admin`, …).
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Page branding.
    pub branding: Option<BrandingBody>,
    // Dynamic registration policy (default `closed`).
    pub registration_policy: Option<Policy>,
    /// Default token lifetimes (default 3600 / 3600 / 30 days).
    pub token_lifetimes: Option<Lifetimes>,
    /// Let confidential clients be registered with `require_pkce: false` (default false).
    pub allow_pkce_opt_out: Option<bool>,
}

impl Example for TenantCreate {
    fn example() -> Self {
        TenantCreate {
            slug: "acme".into(),
            display_name: "Acme Corp".into(),
            branding: None,
            registration_policy: Some(Policy::InitialAccessToken),
            token_lifetimes: None,
            allow_pkce_opt_out: None,
        }
    }
}

impl TenantCreate {
    /// The record to create.
    pub fn into_record(self) -> TenantRecord {
        let mut t = TenantRecord::new(self.slug, self.display_name);
        if let Some(b) = self.branding {
            t.branding = b.into();
        }
        if let Some(p) = self.registration_policy {
            t.registration_policy = p.into();
        }
        if let Some(l) = self.token_lifetimes {
            t.token_lifetimes = l.into();
        }
        t.allow_pkce_opt_out = self.allow_pkce_opt_out.unwrap_or(false);
        t
    }
}

/// Changes to a tenant (absent fields are kept).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TenantUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Page branding.
    pub branding: Option<BrandingBody>,
    // Dynamic registration policy.
    pub registration_policy: Option<Policy>,
    /// Default token lifetimes.
    pub token_lifetimes: Option<Lifetimes>,
    /// Let confidential clients be registered with `require_pkce: false`.
    pub allow_pkce_opt_out: Option<bool>,
}

impl From<TenantUpdate> for TenantPatch {
    fn from(u: TenantUpdate) -> Self {
        TenantPatch {
            display_name: u.display_name,
            branding: u.branding.map(Into::into),
            registration_policy: u.registration_policy.map(Into::into),
            token_lifetimes: u.token_lifetimes.map(Into::into),
            allow_pkce_opt_out: u.allow_pkce_opt_out,
        }
    }
}

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
        }
    }
}

/// A user's membership of an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct MembershipBody {
    /// Organization id.
    pub organization_id: String,
    /// Role in it.
    pub role: String,
}

/// A user (never the password).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct User {
    /// Stable id (`sub`).
    pub id: String,
    /// Login name.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Email verified.
    pub email_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Phone verified.
    pub phone_number_verified: bool,
    /// Postal address (OIDC Core §5.1.1).
    pub address: Option<Value>,
    /// Primary organization.
    pub organization_id: Option<String>,
    /// Memberships.
    pub organization_memberships: Vec<MembershipBody>,
    /// Platform user type.
    pub user_type: Option<String>,
    /// Platform permissions.
    pub permissions: Vec<String>,
    /// Apps (client ids) licensed to the user.
    pub app_licenses: Vec<String>,
    /// Whether the user has a password (invited users have none until one is set).
    pub has_password: bool,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Last profile change (seconds).
    pub updated_at: u64,
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
        let p = u.profile;
        User {
            id: u.id,
            username: p.username,
            email: p.email,
            email_verified: p.email_verified,
            name: p.name,
            given_name: p.given_name,
            family_name: p.family_name,
            picture: p.picture,
            locale: p.locale,
            phone_number: p.phone_number,
            phone_number_verified: p.phone_number_verified,
            address: p.address.and_then(|a| serde_json::to_value(a).ok()),
            organization_id: p.organization_id,
            organization_memberships: p
                .organization_memberships
                .into_iter()
                .map(|m| MembershipBody {
                    organization_id: m.organization_id,
                    role: m.role,
                })
                .collect(),
            user_type: p.user_type,
            permissions: p.permissions,
            app_licenses: u.app_licenses.into_iter().collect(),
            has_password: !u.password_hash.is_empty(),
            disabled: u.disabled,
            updated_at: u.updated_at,
        }
    }
}

impl Example for User {
    fn example() -> Self {
        User {
            id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
            username: "jane".into(),
            email: Some("jane@school.com".into()),
            email_verified: true,
            name: Some("Jane Smith".into()),
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            picture: None,
            locale: None,
            phone_number: None,
            phone_number_verified: false,
            address: None,
            organization_id: Some("7c1d…".into()),
            organization_memberships: vec![MembershipBody {
                organization_id: "7c1d…".into(),
                role: "teacher".into(),
            }],
            user_type: Some("customer_admin".into()),
            permissions: vec!["org:users:read".into()],
            app_licenses: vec!["partners-portal".into()],
            has_password: true,
            disabled: false,
            updated_at: 1_750_000_000,
        }
    }
}

/// A user to create, or profile changes (absent fields are kept).
#[derive(Object, Clone, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct UserInput {
    /// Login name (required on create).
    pub username: Option<String>,
    /// Password (create only; 8-1024 characters). Without one the user cannot log in yet.
    pub password: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Email verified.
    pub email_verified: Option<bool>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Phone verified.
    pub phone_number_verified: Option<bool>,
    /// Postal address.
    pub address: Option<Value>,
    /// Primary organization.
    pub organization_id: Option<String>,
    /// Platform user type.
    pub user_type: Option<String>,
    /// Platform permissions.
    pub permissions: Option<Vec<String>>,
}

impl Example for UserInput {
    fn example() -> Self {
        UserInput {
            username: Some("jane".into()),
            password: Some("correct horse battery staple".into()),
            email: Some("jane@school.com".into()),
            email_verified: Some(true),
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            name: Some("Jane Smith".into()),
            ..Default::default()
        }
    }
}

impl UserInput {
    /// The profile changes; `Err` names a field with the wrong shape.
    pub fn into_patch(self) -> Result<(UserPatch, Option<String>), &'static str> {
        let address = match self.address {
            None => None,
            Some(a) => Some(serde_json::from_value(a).map_err(|_| "address must be an OIDC address object")?),
        };
        Ok((
            UserPatch {
                username: self.username,
                email: self.email,
                email_verified: self.email_verified,
                name: self.name,
                given_name: self.given_name,
                family_name: self.family_name,
                picture: self.picture,
                locale: self.locale,
                phone_number: self.phone_number,
                phone_number_verified: self.phone_number_verified,
                address,
                organization_id: self.organization_id,
                user_type: self.user_type,
                permissions: self.permissions,
            },
            self.password,
        ))
    }

    /// The profile of a new user.
    pub fn into_profile(self) -> Result<(UserProfile, Option<String>), &'static str> {
        let (patch, password) = self.into_patch()?;
        let mut p = UserProfile {
            username: patch.username.clone().unwrap_or_default(),
            ..Default::default()
        };
        let v = serde_json::to_value(&patch).map_err(|_| "unreadable profile")?;
        let mut base = serde_json::to_value(&p).map_err(|_| "unreadable profile")?;
        if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
            for (k, val) in o {
                if !val.is_null() {
                    b.insert(k.clone(), val.clone());
                }
            }
        }
        p = serde_json::from_value(base).map_err(|_| "a profile field has the wrong shape")?;
        Ok((p, password))
    }
}

/// A new password.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct PasswordBody {
    /// 8-1024 characters.
    pub password: String,
}

/// A browser session.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Session {
    /// Session id (`sid` claim).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: u64,
    /// When it expires.
    pub expires_at: u64,
}

impl From<SessionInfo> for Session {
    fn from(s: SessionInfo) -> Self {
        Session {
            sid: s.sid,
            auth_time: s.auth_time.0,
            expires_at: s.expires_at.0,
        }
    }
}

/// A remembered consent.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Consent {
    /// The client.
    pub client_id: String,
    /// Approved scopes.
    pub scopes: Vec<String>,
}

/// An organization inside a tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Organization {
    /// Id (the `organization_id` claim).
    pub id: String,
    /// Name.
    pub name: String,
    /// Apps and whether each is enabled (`organization_app_access`).
    pub app_access: Vec<AppAccess>,
    /// The roles an enabled app may give when it invites (administrators give any); default `member`.
    pub app_roles: Vec<String>,
    /// Created at (seconds).
    pub created_at: u64,
}

impl From<OrganizationRecord> for Organization {
    fn from(o: OrganizationRecord) -> Self {
        Organization {
            id: o.id,
            name: o.name,
            app_access: o
                .app_access
                .into_iter()
                .map(|(client_id, is_enabled)| AppAccess { client_id, is_enabled })
                .collect(),
            app_roles: o.app_roles.into_iter().collect(),
            created_at: o.created_at,
        }
    }
}

impl Example for Organization {
    fn example() -> Self {
        Organization {
            id: "7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f".into(),
            name: "Springfield Elementary".into(),
            app_access: vec![AppAccess {
                client_id: "partners-portal".into(),
                is_enabled: true,
            }],
            app_roles: vec!["member".into()],
            created_at: 1_750_000_000,
        }
    }
}

/// One app's enablement for an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AppAccess {
    /// The app's client id.
    pub client_id: String,
    /// Enabled.
    #[oai(rename = "isEnabled")]
    pub is_enabled: bool,
}

/// An organization's name.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct OrganizationInput {
    /// Name.
    pub name: String,
}

/// A change to an organization: fields left out stay as they are.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct OrganizationUpdate {
    /// New name.
    pub name: Option<String>,
    /// The roles an enabled app may give when it invites (replaces the set; `[]`: apps invite no one).
    pub app_roles: Option<Vec<String>>,
}

impl From<OrganizationUpdate> for OrganizationPatch {
    fn from(u: OrganizationUpdate) -> Self {
        OrganizationPatch {
            name: u.name,
            app_roles: u.app_roles.map(|r| r.into_iter().collect()),
        }
    }
}

impl Example for OrganizationUpdate {
    fn example() -> Self {
        OrganizationUpdate {
            name: None,
            app_roles: Some(vec!["member".into(), "student".into()]),
        }
    }
}

/// Enable or disable an app for an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct AppAccessInput {
    /// Enabled.
    #[oai(rename = "isEnabled")]
    pub is_enabled: bool,
}

/// A role in an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct RoleInput {
    /// e.g. `admin`, `teacher`, `member`.
    pub role: String,
}

/// A member of an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Member {
    /// The user.
    pub user: User,
    /// Role in this organization.
    pub role: String,
}

/// One user to invite (Calimatic seed §8).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InviteInput {
    /// Email (the username of a new user).
    pub email: String,
    /// Given name.
    #[oai(rename = "firstName")]
    pub first_name: Option<String>,
    /// Family name.
    #[oai(rename = "lastName")]
    pub last_name: Option<String>,
    /// Role (default `member`).
    pub role: Option<String>,
    /// Apps to licence (only the organization's enabled apps are assigned).
    pub applications: Option<Vec<String>>,
}

impl Example for InviteInput {
    fn example() -> Self {
        InviteInput {
            email: "user@example.com".into(),
            first_name: Some("Jane".into()),
            last_name: Some("Smith".into()),
            role: Some("member".into()),
            applications: None,
        }
    }
}

impl From<InviteInput> for Invite {
    fn from(i: InviteInput) -> Self {
        Invite {
            email: i.email,
            first_name: i.first_name,
            last_name: i.last_name,
            role: i.role,
            applications: i.applications,
        }
    }
}

/// The result of one invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Invited {
    /// The user's id.
    pub user_id: String,
    /// Email.
    pub email: String,
    /// `created` (new user, no password yet), `added` (an existing user of the tenant joined the
    /// organization) or `existing` (an app invited someone already a member: nothing changed).
    pub status: String,
    /// Licences this invite assigned.
    pub licenses: Vec<String>,
    /// For a created user: how their activation link went out.
    pub activation: Option<ActivationBody>,
}

impl Invited {
    /// The answer for `o`, whose activation link (if any) went out as `activation` says.
    pub fn of(o: InviteOutcome, activation: Option<ActivationBody>) -> Self {
        Invited {
            user_id: o.user.id,
            email: o.user.profile.email.unwrap_or_default(),
            status: match o.status {
                InviteStatus::Created => "created",
                InviteStatus::Added => "added",
                InviteStatus::Existing => "existing",
            }
            .into(),
            licenses: o.licenses,
            activation,
        }
    }
}

/// How an activation link (an invited user's way to set a password) went out.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ActivationBody {
    /// `email`: mailed to the user; `email_failed`: the SMTP server refused or did not answer;
    /// `link`: no SMTP configured, `link` is for an administrator to pass on; `pending`: an app
    /// invited and no mail could go out (an administrator issues the link with
    /// `POST /admin/v1/tenants/{tenant}/users/{id}/activation`).
    pub delivery: String,
    /// The link itself: only in an administrator's answer when it was not mailed. Single use.
    pub link: Option<String>,
    /// When the link stops working (seconds).
    pub expires_at: u64,
}

impl Example for ActivationBody {
    fn example() -> Self {
        ActivationBody {
            delivery: "email".into(),
            link: None,
            expires_at: 1_750_604_800,
        }
    }
}

/// Assign an app's licence to some members of an organization and withdraw it from others.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct LicensesInput {
    /// User ids to assign the licence to (the app must be enabled for the organization).
    #[oai(default)]
    pub assign: Vec<String>,
    /// User ids to withdraw it from.
    #[oai(default)]
    pub withdraw: Vec<String>,
}

impl Example for LicensesInput {
    fn example() -> Self {
        LicensesInput {
            assign: vec!["01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()],
            withdraw: vec![],
        }
    }
}

/// One user's row of a bulk licence call.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LicenseRowBody {
    /// The user.
    pub user_id: String,
    /// `assign` or `withdraw`.
    pub action: String,
    /// Done.
    pub success: bool,
    /// Error code when not done (`not_found`: no such user, or not a member).
    pub error: Option<String>,
    /// Why not.
    pub error_description: Option<String>,
}

/// What a bulk licence call did.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct LicensesReport {
    /// Rows done.
    pub succeeded: u32,
    /// Rows not done.
    pub failed: u32,
    /// Each row, assignments first, in the order given.
    pub results: Vec<LicenseRowBody>,
}

impl From<Vec<engine::admin::LicenseRow>> for LicensesReport {
    fn from(rows: Vec<engine::admin::LicenseRow>) -> Self {
        let results: Vec<LicenseRowBody> = rows
            .into_iter()
            .map(|r| LicenseRowBody {
                user_id: r.user_id,
                action: match r.action {
                    engine::admin::LicenseAction::Assign => "assign",
                    engine::admin::LicenseAction::Withdraw => "withdraw",
                }
                .into(),
                success: r.result.is_ok(),
                error: r.result.as_ref().err().map(|e| e.code().as_str().into()),
                error_description: r.result.as_ref().err().map(|e| e.description().into()),
            })
            .collect();
        let succeeded = results.iter().filter(|r| r.success).count() as u32;
        LicensesReport {
            succeeded,
            failed: results.len() as u32 - succeeded,
            results,
        }
    }
}

impl Example for LicensesReport {
    fn example() -> Self {
        LicensesReport {
            succeeded: 1,
            failed: 0,
            results: vec![LicenseRowBody {
                user_id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
                action: "assign".into(),
                success: true,
                error: None,
                error_description: None,
            }],
        }
    }
}

/// Users to invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct BulkInviteInput {
    /// One entry per user.
    pub users: Vec<InviteInput>,
}

/// One row of a bulk invite.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkInviteRow {
    /// The row's email.
    pub email: String,
    /// Whether the row was applied (a failed row changed nothing).
    pub success: bool,
    /// The result, when applied.
    #[oai(skip_serializing_if_is_none)]
    pub result: Option<Invited>,
    /// The error code, when not.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    /// The error detail, when not.
    #[oai(skip_serializing_if_is_none)]
    pub error_description: Option<String>,
}

/// A bulk invite's report.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct BulkInviteReport {
    /// Rows applied.
    pub succeeded: u32,
    /// Rows refused.
    pub failed: u32,
    /// One entry per input row, in order.
    pub results: Vec<BulkInviteRow>,
}

/// A signing key (public facts only).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    // Algorithm.
    pub alg: Alg,
    /// Installed at.
    pub created_at: u64,
    /// Replaced at; still published until its tokens expire.
    pub retired_at: Option<u64>,
    /// Signs new tokens.
    pub active: bool,
}

impl From<KeyInfo> for SigningKey {
    fn from(k: KeyInfo) -> Self {
        SigningKey {
            kid: k.kid,
            alg: k.alg.into(),
            created_at: k.created_at.0,
            retired_at: k.retired_at.map(|t| t.0),
            active: k.retired_at.is_none(),
        }
    }
}

/// An audit event.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct AuditEntry {
    /// Time-ordered id.
    pub id: String,
    /// When (seconds).
    pub at: u64,
    /// When, in nanoseconds since the epoch (0 for events written by versions before it): events
    /// of one instance never tie, and the log lists them in the order they happened.
    pub at_nanos: u64,
    /// `login_succeeded`, `login_failed`, `consent_granted`, `consent_denied`, `token_issued`,
    /// `token_refreshed`, `refresh_reuse_detected`, `token_revoked`, `logout`, `client_registration`,
    /// `admin_change`, `organization_invite`.
    pub kind: String,
    /// Who.
    pub actor: Option<String>,
    /// To what.
    pub subject: Option<String>,
    /// Client involved.
    pub client_id: Option<String>,
    /// Detail.
    pub detail: String,
}

impl From<AuditEvent> for AuditEntry {
    fn from(e: AuditEvent) -> Self {
        AuditEntry {
            id: e.id,
            at: e.at.0,
            at_nanos: e.at_nanos,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            actor: e.actor,
            subject: e.subject,
            client_id: e.client_id,
            detail: e.detail,
        }
    }
}

/// Ask for an initial access token.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InitialAccessTokenInput {
    /// Lifetime in seconds (60 s to 30 days; default 1 day).
    #[oai(validator(minimum(value = "60"), maximum(value = "2592000")))]
    pub expires_in: Option<u64>,
}

/// A single-use initial access token for `POST /{tenant}/register`.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InitialAccessToken {
    /// Send as `Authorization: Bearer …` to the registration endpoint.
    pub initial_access_token: String,
    /// When it expires (seconds).
    pub expires_at: u64,
}

macro_rules! page {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Object, Clone, Debug)]
        #[oai(skip_serializing_if_is_none)]
        #[oai(example)]
        pub struct $name {
            /// This page's items.
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; absent on the last page.
            #[oai(skip_serializing_if_is_none)]
            pub next_cursor: Option<String>,
        }

        impl Example for $name {
            fn example() -> Self {
                $name {
                    items: vec![<$item>::example()],
                    next_cursor: Some("ZGVtby8wMTky".into()),
                }
            }
        }

        impl $name {
            /// Converts an engine page.
            pub fn of<R>(p: engine::store::Page<R>, f: impl Fn(R) -> $item) -> Self {
                $name {
                    items: p.items.into_iter().map(f).collect(),
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}

page!(TenantPage, Tenant, "A page of tenants.");
page!(ClientPage, Client, "A page of clients.");
page!(UserPage, User, "A page of users.");
page!(OrganizationPage, Organization, "A page of organizations.");
page!(AuditPage, AuditEntry, "A page of audit events, oldest first.");

impl Example for TenantUpdate {
    fn example() -> Self {
        TenantUpdate {
            display_name: Some("Acme Corporation".into()),
            branding: Some(BrandingBody {
                display_name: Some("Acme".into()),
                logo_url: Some("https://acme.example/logo.png".into()),
                primary_color: Some("#0055aa".into()),
            }),
            registration_policy: Some(Policy::Open),
            token_lifetimes: None,
            allow_pkce_opt_out: None,
        }
    }
}

impl Example for PasswordBody {
    fn example() -> Self {
        PasswordBody {
            password: "correct horse battery staple".into(),
        }
    }
}

impl Example for Session {
    fn example() -> Self {
        Session {
            sid: "k3J9…".into(),
            auth_time: 1_750_000_000,
            expires_at: 1_750_086_400,
        }
    }
}

impl Example for Consent {
    fn example() -> Self {
        Consent {
            client_id: "partners-portal".into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
        }
    }
}

impl Example for OrganizationInput {
    fn example() -> Self {
        OrganizationInput {
            name: "Springfield Elementary".into(),
        }
    }
}

impl Example for AppAccessInput {
    fn example() -> Self {
        AppAccessInput { is_enabled: true }
    }
}

impl Example for RoleInput {
    fn example() -> Self {
        RoleInput { role: "teacher".into() }
    }
}

impl Example for Member {
    fn example() -> Self {
        Member {
            user: User::example(),
            role: "teacher".into(),
        }
    }
}

impl Example for Invited {
    fn example() -> Self {
        Invited {
            user_id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
            email: "user@example.com".into(),
            status: "created".into(),
            licenses: vec!["partners-portal".into()],
            activation: Some(ActivationBody::example()),
        }
    }
}

impl Example for BulkInviteInput {
    fn example() -> Self {
        BulkInviteInput {
            users: vec![
                InviteInput::example(),
                InviteInput {
                    email: "user2@example.com".into(),
                    first_name: Some("User".into()),
                    last_name: Some("Two".into()),
                    role: Some("member".into()),
                    applications: None,
                },
            ],
        }
    }
}

impl Example for BulkInviteReport {
    fn example() -> Self {
        BulkInviteReport {
            succeeded: 1,
            failed: 1,
            results: vec![
                BulkInviteRow {
                    email: "user@example.com".into(),
                    success: true,
                    result: Some(Invited::example()),
                    error: None,
                    error_description: None,
                },
                BulkInviteRow {
                    email: "broken".into(),
                    success: false,
                    result: None,
                    error: Some("invalid_request".into()),
                    error_description: Some("email is not an email address".into()),
                },
            ],
        }
    }
}

impl Example for SigningKey {
    fn example() -> Self {
        SigningKey {
            kid: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into(),
            alg: Alg::RS256,
            created_at: 1_750_000_000,
            retired_at: None,
            active: true,
        }
    }
}

impl Example for AuditEntry {
    fn example() -> Self {
        AuditEntry {
            id: "01750000000123456789-a1b2c3d4".into(),
            at: 1_750_000_000,
            at_nanos: 1_750_000_000_123_456_789,
            kind: "login_succeeded".into(),
            actor: Some("01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()),
            subject: Some("01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()),
            client_id: Some("partners-portal".into()),
            detail: "sid=k3J9…".into(),
        }
    }
}

impl Example for InitialAccessTokenInput {
    fn example() -> Self {
        InitialAccessTokenInput {
            expires_in: Some(86_400),
        }
    }
}

impl Example for InitialAccessToken {
    fn example() -> Self {
        InitialAccessToken {
            initial_access_token: "Zx8…shown-once".into(),
            expires_at: 1_750_086_400,
        }
    }
}
