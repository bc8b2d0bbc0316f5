//! Registered clients: their record, metadata validation and provisioning.

pub mod auth;
pub mod cors;
pub mod keys;
pub mod registration;

use crate::env::Env;
use crate::error::{err, Result};
use crate::jose::keys::parse_jwks;
use crate::secret::{mint, mint_id, SecretHash};
use crate::store::{Record, Table};
use crate::tenant::Branding;
use serde::{Deserialize, Serialize};
use spec::vocabulary::scopes;
use spec::{ClientAuthMethod, ErrorCode, GrantType, SigningAlg};

/// A client registered with a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Public identifier.
    pub client_id: String,
    /// Display name (also the `application` claim of its tokens).
    pub name: String,
    /// SHA-256 of the client secret, for secret-based methods.
    pub secret_hash: Option<SecretHash>,
    /// Registered token endpoint authentication method.
    pub auth_method: ClientAuthMethod,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may ask for.
    pub allowed_scopes: Vec<String>,
    /// RFC 8707 resource indicators the client may name at the token endpoint (each becomes
    /// the access token's `aud`); empty: only the default audience, the client_id.
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    /// RFC 8707 resources (APIs) this client is the resource server of: it may introspect the
    /// tokens whose `aud` names one of them (RFC 7662 §2.1), whoever they were issued to.
    #[serde(default)]
    pub resource_server_for: Vec<String>,
    /// Only users holding this client's licence may sign in to it or refresh its tokens
    /// (Calimatic "User Assignment").
    #[serde(default)]
    pub license_required: bool,
    /// Every sign-in to this client uses two factors, whatever the tenant's policy (a user
    /// without an authenticator app sets one up).
    #[serde(default)]
    pub require_second_factor: bool,
    /// Whether users must approve this client's scopes.
    pub require_consent: bool,
    /// First-party (platform) app rather than third-party.
    pub first_party: bool,
    /// Whether PKCE is required (always true for public clients).
    pub require_pkce: bool,
    /// Whether authorization requests must carry `state` (true unless switched off; when off,
    /// a request without state must carry a PKCE challenge).
    #[serde(default = "crate::client::yes")]
    pub require_state: bool,
    /// Algorithm of the ID tokens it receives.
    pub id_token_signed_response_alg: SigningAlg,
    /// Algorithm of its JWT access tokens (RS256 unless set).
    #[serde(default)]
    pub access_token_signed_response_alg: SigningAlg,
    /// Access token lifetime, seconds.
    pub access_token_ttl: u64,
    /// ID token lifetime, seconds.
    pub id_token_ttl: u64,
    /// Refresh token lifetime, seconds (from each rotation).
    pub refresh_token_ttl: u64,
    /// Issue refresh tokens without `offline_access` (when the refresh grant is allowed).
    pub refresh_without_offline_access: bool,
    /// Public keys for private_key_jwt.
    pub jwks: Option<serde_json::Value>,
    /// Deactivated clients are refused everywhere.
    pub active: bool,
    /// Page branding for this client.
    pub branding: Branding,
    /// SHA-256 of the RFC 7592 registration access token (dynamically registered clients).
    #[serde(default)]
    pub registration_token_hash: Option<SecretHash>,
    /// Registered through RFC 7591 rather than the Admin API.
    #[serde(default)]
    pub dynamically_registered: bool,
    /// When it was registered (seconds).
    #[serde(default)]
    pub created_at: u64,
    /// Other registered metadata kept as given (client_uri, contacts, tos_uri, policy_uri, …).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Signed UserInfo and back-channel logout.
    #[serde(default)]
    pub extras: OidcExtras,
    /// Created without a `token_endpoint_auth_method`: the secret is accepted in the Basic header
    /// (`client_secret_basic`) or in the body (`client_secret_post`), as Keycloak does.
    #[serde(default)]
    pub either_secret_method: bool,
}

/// OpenID Connect extras a client may register: signed UserInfo and back-channel logout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcExtras {
    /// Sign UserInfo responses with this alg (OIDC Core §5.3.2); plain JSON when absent.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// Where logout tokens are POSTed (OIDC Back-Channel Logout §2.2).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (it is always sent).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// The security profile the client is held to.
    #[serde(default)]
    pub security_profile: SecurityProfile,
    /// The response types it may use, canonical (`code id_token`…); empty: `code` only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
}

/// A security profile a client can be held to, beyond the provider's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityProfile {
    /// The provider's defaults.
    #[default]
    None,
    /// FAPI 2.0 Security Profile: private_key_jwt, PKCE S256, pushed authorization requests,
    /// DPoP-bound tokens; codes live 60 seconds at most.
    Fapi2,
}

impl SecurityProfile {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProfile::None => "none",
            SecurityProfile::Fapi2 => "fapi2",
        }
    }

    /// Parses the wire value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(SecurityProfile::None),
            "fapi2" => Some(SecurityProfile::Fapi2),
            _ => None,
        }
    }
}

impl ClientRecord {
    /// `default_acr_values` as registered (OIDC Registration §2), space-separated, if any.
    pub fn default_acr_values(&self) -> Option<String> {
        let values: Vec<&str> = self
            .metadata
            .get("default_acr_values")?
            .as_array()?
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        (!values.is_empty()).then(|| values.join(" "))
    }

    /// Whether `compact` (whose header alg is `alg`) verifies with a key the client registered,
    /// the one its `kid` names when it names one.
    pub fn signed(&self, compact: &crate::jose::Compact<'_>, alg: SigningAlg) -> bool {
        let keys = self
            .jwks
            .as_ref()
            .map(crate::jose::keys::parse_jwks)
            .unwrap_or_default();
        let kid = compact.header.kid.as_deref();
        keys.iter()
            .filter(|(k, key)| key.fits(alg) && (kid.is_none() || k.as_deref() == kid))
            .any(|(_, key)| compact.verify(key).is_ok())
    }

    /// A registered page link (`policy_uri`, `tos_uri`, `client_uri`) when it is an https URL.
    pub fn page_link(&self, name: &str) -> Option<String> {
        self.metadata
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|u| u.starts_with("https://") && u.len() <= 2048)
            .map(str::to_owned)
    }
}

impl Record for ClientRecord {
    const TABLE: Table = Table::Client;
}

impl ClientRecord {
    /// Whether `user` may use this client: it needs no licence, or the user holds it.
    pub fn admits(&self, user: &crate::user::UserRecord) -> bool {
        !self.license_required || user.app_licenses.contains(&self.client_id)
    }

    /// Store key.
    pub fn key(tenant: &str, client_id: &str) -> String {
        format!("{tenant}/{client_id}")
    }
    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
    /// Whether PKCE is mandatory for this client.
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.auth_method == ClientAuthMethod::None || self.fapi2()
    }

    /// Whether the client may ask for `rt`: `code` by default, the others only when registered
    /// (RFC9700-2.1.2-implicit-off); any with a code needs the authorization_code grant.
    pub fn allows_response_type(&self, rt: crate::authorize::response_type::ResponseType) -> bool {
        let listed = match self.extras.response_types.is_empty() {
            true => rt == crate::authorize::response_type::ResponseType::CODE,
            false => self.extras.response_types.iter().any(|t| t == rt.as_str()),
        };
        listed && (!rt.code || self.allows_grant(GrantType::AuthorizationCode))
    }

    /// Whether the client is held to the FAPI 2.0 Security Profile.
    pub fn fapi2(&self) -> bool {
        self.extras.security_profile == SecurityProfile::Fapi2
    }

    /// The spec this record was built from (for re-validating an update).
    pub fn to_spec(&self) -> ClientSpec {
        ClientSpec {
            client_id: Some(self.client_id.clone()),
            name: self.name.clone(),
            auth_method: self.auth_method,
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grant_types: self.grant_types.clone(),
            allowed_scopes: Some(self.allowed_scopes.clone()),
            allowed_resources: self.allowed_resources.clone(),
            resource_server_for: self.resource_server_for.clone(),
            license_required: self.license_required,
            require_second_factor: self.require_second_factor,
            require_consent: self.require_consent,
            first_party: self.first_party,
            require_pkce: self.require_pkce,
            require_state: self.require_state,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            access_token_signed_response_alg: self.access_token_signed_response_alg,
            access_token_ttl: self.access_token_ttl,
            id_token_ttl: self.id_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            refresh_without_offline_access: self.refresh_without_offline_access,
            jwks: self.jwks.clone(),
            branding: self.branding.clone(),
            extras: self.extras.clone(),
            either_secret_method: self.either_secret_method,
        }
    }

    /// Replaces every spec-derived field with `spec`'s (already checked), keeping identity,
    /// secret, status and registration data.
    pub(crate) fn apply_spec(&mut self, spec: ClientSpec) {
        self.name = spec.name;
        self.auth_method = spec.auth_method;
        self.redirect_uris = spec.redirect_uris;
        self.post_logout_redirect_uris = spec.post_logout_redirect_uris;
        self.grant_types = spec.grant_types;
        self.allowed_scopes = spec.allowed_scopes.unwrap_or_else(|| default_scopes(spec.first_party));
        self.allowed_resources = spec.allowed_resources;
        self.resource_server_for = spec.resource_server_for;
        self.license_required = spec.license_required;
        self.require_second_factor = spec.require_second_factor;
        self.require_consent = spec.require_consent;
        self.first_party = spec.first_party;
        self.require_pkce = spec.require_pkce || spec.auth_method == ClientAuthMethod::None;
        self.require_state = spec.require_state;
        self.id_token_signed_response_alg = spec.id_token_signed_response_alg;
        self.access_token_signed_response_alg = spec.access_token_signed_response_alg;
        self.access_token_ttl = spec.access_token_ttl;
        self.id_token_ttl = spec.id_token_ttl;
        self.refresh_token_ttl = spec.refresh_token_ttl;
        self.refresh_without_offline_access = spec.refresh_without_offline_access;
        self.jwks = spec.jwks;
        self.branding = spec.branding;
        self.extras = spec.extras;
        self.either_secret_method = spec.either_secret_method && spec.auth_method.uses_secret();
        if !self.auth_method.uses_secret() {
            self.secret_hash = None;
        }
    }
}

/// A partial client: what an Admin API create or update supplies (absent fields keep their value,
/// or the tenant's default on create).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClientPatch {
    /// Wanted client_id (create only).
    pub client_id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Token endpoint auth method.
    pub auth_method: Option<ClientAuthMethod>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grants.
    pub grant_types: Option<Vec<GrantType>>,
    /// Allowed scopes.
    pub allowed_scopes: Option<Vec<String>>,
    /// Allowed RFC 8707 resources.
    pub allowed_resources: Option<Vec<String>>,
    /// Resources this client is the resource server of.
    #[serde(default)]
    pub resource_server_for: Option<Vec<String>>,
    /// Only licensed users may use it.
    #[serde(default)]
    pub license_required: Option<bool>,
    /// Two factors at every sign-in.
    #[serde(default)]
    pub require_second_factor: Option<bool>,
    /// Consent page required.
    pub require_consent: Option<bool>,
    /// First-party app.
    pub first_party: Option<bool>,
    /// PKCE required.
    pub require_pkce: Option<bool>,
    /// State required.
    pub require_state: Option<bool>,
    /// ID token alg.
    pub id_token_signed_response_alg: Option<SigningAlg>,
    /// Access token alg.
    pub access_token_signed_response_alg: Option<SigningAlg>,
    /// Access token lifetime.
    pub access_token_ttl: Option<u64>,
    /// ID token lifetime.
    pub id_token_ttl: Option<u64>,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Option<u64>,
    /// Issue refresh tokens without offline_access.
    pub refresh_without_offline_access: Option<bool>,
    /// Keys for private_key_jwt.
    pub jwks: Option<serde_json::Value>,
    /// Branding.
    pub branding: Option<Branding>,
    /// Sign UserInfo with this alg.
    #[serde(default)]
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    /// Back-channel logout URI (an empty string removes it).
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens.
    #[serde(default)]
    pub backchannel_logout_session_required: Option<bool>,
    /// The security profile (`none` removes one).
    #[serde(default)]
    pub security_profile: Option<SecurityProfile>,
    /// The response types it may use.
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
}

impl ClientPatch {
    /// `spec` with every present field of this patch applied.
    pub fn apply(self, mut spec: ClientSpec) -> ClientSpec {
        if self.auth_method.is_some() {
            spec.either_secret_method = false;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { spec.$f = v; } )* };
        }
        set!(
            name,
            auth_method,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            allowed_resources,
            resource_server_for,
            license_required,
            require_second_factor,
            require_consent,
            first_party,
            require_pkce,
            require_state,
            id_token_signed_response_alg,
            access_token_signed_response_alg,
            access_token_ttl,
            id_token_ttl,
            refresh_token_ttl,
            refresh_without_offline_access,
            branding
        );
        if self.allowed_scopes.is_some() {
            spec.allowed_scopes = self.allowed_scopes;
        }
        if self.jwks.is_some() {
            spec.jwks = self.jwks;
        }
        if self.client_id.is_some() {
            spec.client_id = self.client_id;
        }
        if self.userinfo_signed_response_alg.is_some() {
            spec.extras.userinfo_signed_response_alg = self.userinfo_signed_response_alg;
        }
        if let Some(u) = self.backchannel_logout_uri {
            spec.extras.backchannel_logout_uri = Some(u).filter(|u| !u.is_empty());
        }
        if let Some(r) = self.backchannel_logout_session_required {
            spec.extras.backchannel_logout_session_required = r;
        }
        if let Some(p) = self.security_profile {
            spec.extras.security_profile = p;
        }
        if let Some(r) = self.response_types {
            spec.extras.response_types = canonical_response_types(&r);
        }
        spec
    }
}

/// What an administrator or a registration request supplies to create a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Wanted client_id; generated when absent.
    pub client_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Token endpoint auth method.
    pub auth_method: ClientAuthMethod,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants.
    pub grant_types: Vec<GrantType>,
    /// Allowed scopes; defaults by party when absent.
    pub allowed_scopes: Option<Vec<String>>,
    /// Allowed RFC 8707 resources (absolute URIs without a fragment).
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    /// Resources this client is the resource server of (absolute URIs without a fragment).
    #[serde(default)]
    pub resource_server_for: Vec<String>,
    /// Only licensed users may use it.
    #[serde(default)]
    pub license_required: bool,
    /// Two factors at every sign-in.
    #[serde(default)]
    pub require_second_factor: bool,
    /// Consent page required.
    pub require_consent: bool,
    /// First-party app.
    pub first_party: bool,
    /// PKCE required (default true).
    pub require_pkce: bool,
    /// State required (default true).
    #[serde(default = "crate::client::yes")]
    pub require_state: bool,
    /// ID token alg (RS256, ES256 or ES384).
    pub id_token_signed_response_alg: SigningAlg,
    /// Access token alg (RS256, ES256 or ES384).
    pub access_token_signed_response_alg: SigningAlg,
    /// Access token lifetime.
    pub access_token_ttl: u64,
    /// ID token lifetime.
    pub id_token_ttl: u64,
    /// Refresh token lifetime.
    pub refresh_token_ttl: u64,
    /// Issue refresh tokens without offline_access.
    pub refresh_without_offline_access: bool,
    /// Keys for private_key_jwt.
    pub jwks: Option<serde_json::Value>,
    /// Branding.
    pub branding: Branding,
    /// Signed UserInfo and back-channel logout.
    #[serde(default)]
    pub extras: OidcExtras,
    /// Created without a `token_endpoint_auth_method`: the secret is accepted in the Basic header
    /// (`client_secret_basic`) or in the body (`client_secret_post`), as Keycloak does.
    #[serde(default)]
    pub either_secret_method: bool,
}

impl ClientSpec {
    /// A spec with the seeds' defaults: code + refresh grants, PKCE on, consent on, RS256, 1 h tokens.
    pub fn new(name: &str, auth_method: ClientAuthMethod, redirect_uris: &[&str]) -> Self {
        ClientSpec {
            client_id: None,
            name: name.into(),
            auth_method,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            allowed_scopes: None,
            allowed_resources: Vec::new(),
            resource_server_for: Vec::new(),
            license_required: false,
            require_second_factor: false,
            require_consent: true,
            first_party: false,
            require_pkce: true,
            require_state: true,
            id_token_signed_response_alg: SigningAlg::RS256,
            access_token_signed_response_alg: SigningAlg::RS256,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 86_400,
            refresh_without_offline_access: true,
            jwks: None,
            branding: Branding::default(),
            extras: OidcExtras::default(),
            either_secret_method: false,
        }
    }
}

pub(crate) fn yes() -> bool {
    true
}

fn default_scopes(first_party: bool) -> Vec<String> {
    let mut s = vec![
        scopes::OPENID,
        scopes::PROFILE,
        scopes::EMAIL,
        scopes::ADDRESS,
        scopes::PHONE,
        scopes::OFFLINE_ACCESS,
    ];
    if first_party {
        s.extend([scopes::ORGANIZATION, scopes::PERMISSIONS]);
    }
    s.into_iter().map(String::from).collect()
}

/// Whether `uri` may be registered as a redirect URI: absolute, no fragment, and https,
/// http on a loopback host, or a private-use scheme (`com.example.app:/cb`). It must be written
/// the way a URL parser writes it back (no spaces or control characters, no `..` segments, no
/// `user:pw@`, no wildcard `*`, lower-case host, no default port), because redirects go to the
/// registered string exactly: nothing is normalised between registration and redirect.
pub fn valid_redirect_uri(uri: &str) -> bool {
    let plain = |b: u8| b.is_ascii_graphic() && !b"\\*<>\"{}|^`".contains(&b);
    if uri.len() > 2000 || !uri.bytes().all(plain) {
        return false;
    }
    let Ok(u) = url::Url::parse(uri) else { return false };
    let canonical = u.as_str() == uri || (u.path() == "/" && u.as_str() == format!("{uri}/"));
    if !canonical || u.fragment().is_some() || uri.contains('#') || !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    match u.scheme() {
        "https" => u.host().is_some(),
        "http" => matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        s => s.contains('.') && !matches!(s, "javascript" | "data" | "file"),
    }
}

/// Checks client metadata; the error names the field at fault.
// CLIENT-metadata-validation
pub fn check_client_spec(spec: &ClientSpec) -> Result<()> {
    let meta = |d: &'static str| err(ErrorCode::InvalidClientMetadata, d);
    if spec.name.trim().is_empty() {
        return Err(meta("client name is required"));
    }
    if let Some(id) = &spec.client_id {
        let ok = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(meta("client_id must be 1-128 characters of A-Z a-z 0-9 - _ ."));
        }
    }
    if spec.grant_types.is_empty() {
        return Err(meta("at least one grant type is required"));
    }
    let uses_code = spec.grant_types.contains(&GrantType::AuthorizationCode);
    if uses_code && spec.redirect_uris.is_empty() {
        return Err(err(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris are required for the authorization_code grant",
        ));
    }
    if spec.grant_types.contains(&GrantType::RefreshToken) && !uses_code {
        return Err(meta("the refresh_token grant needs the authorization_code grant"));
    }
    for uri in spec.redirect_uris.iter().chain(&spec.post_logout_redirect_uris) {
        if !valid_redirect_uri(uri) {
            return Err(err(
                ErrorCode::InvalidRedirectUri,
                "redirect URIs must be absolute, without fragment, and https (http only on loopback)",
            ));
        }
    }
    // OIDC-BCLOGOUT-2.8-logout-token: the logout URI is registered like a redirect URI.
    if spec
        .extras
        .backchannel_logout_uri
        .as_deref()
        .is_some_and(|u| !valid_redirect_uri(u))
    {
        return Err(meta(
            "backchannel_logout_uri must be absolute, without fragment, and https (http only on loopback)",
        ));
    }
    if spec.auth_method == ClientAuthMethod::None && spec.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(meta("public clients cannot use client_credentials"));
    }
    if spec.auth_method == ClientAuthMethod::PrivateKeyJwt
        && spec.jwks.as_ref().is_none_or(|j| parse_jwks(j).is_empty())
    {
        return Err(meta(
            "private_key_jwt needs a jwks with at least one usable signing key",
        ));
    }
    if spec.jwks.as_ref().is_some_and(|j| parse_jwks(j).is_empty()) {
        return Err(meta("jwks must be a JWK Set with at least one usable public key"));
    }
    for t in &spec.extras.response_types {
        if crate::authorize::response_type::ResponseType::parse(t).is_none() {
            return Err(meta(
                "response_types may hold code, id_token, id_token token, code id_token, code token, code id_token token",
            ));
        }
    }
    // FAPI2-client-profile
    if spec.extras.security_profile == SecurityProfile::Fapi2 {
        if spec.extras.response_types.iter().any(|t| t != "code") {
            return Err(meta("the fapi2 security profile allows response_type code only"));
        }
        if spec.auth_method != ClientAuthMethod::PrivateKeyJwt {
            return Err(meta(
                "the fapi2 security profile needs token_endpoint_auth_method private_key_jwt",
            ));
        }
        if !spec.require_pkce {
            return Err(meta("the fapi2 security profile needs PKCE (require_pkce)"));
        }
    }
    if let Some(scopes) = &spec.allowed_scopes {
        if scopes.iter().any(|s| !scopes::ALL.contains(&s.as_str())) {
            return Err(meta("allowed_scopes contains an unknown scope"));
        }
    }
    if spec
        .allowed_resources
        .iter()
        .chain(&spec.resource_server_for)
        .any(|r| !crate::token::resource::is_resource_uri(r))
    {
        return Err(meta(
            "allowed_resources and resource_server_for must be absolute URIs without a fragment",
        ));
    }
    if [spec.access_token_ttl, spec.id_token_ttl, spec.refresh_token_ttl]
        .iter()
        .any(|t| !(1..=366 * 86_400).contains(t))
    {
        return Err(meta("token lifetimes must be between 1 second and 366 days"));
    }
    Ok(())
}

/// `types` spelled canonically (an unknown one kept as given, for the check to refuse), without
/// repeats; `["code"]` alone is the default, kept as nothing.
pub fn canonical_response_types(types: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in types {
        let c = crate::authorize::response_type::ResponseType::parse(t)
            .map(|r| r.as_str().to_string())
            .unwrap_or_else(|| t.clone());
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if out == ["code"] {
        out.clear();
    }
    out
}

/// Builds a validated client record; returns it and the plaintext secret (shown once) if it has one.
pub fn build_client(env: &mut Env<'_>, tenant: &str, spec: ClientSpec) -> Result<(ClientRecord, Option<String>)> {
    check_client_spec(&spec)?;
    let client_id = spec.client_id.clone().unwrap_or_else(|| mint_id(env));
    let secret = spec.auth_method.uses_secret().then(|| mint(env, ""));
    let mut record = ClientRecord {
        tenant: tenant.into(),
        client_id,
        name: String::new(),
        secret_hash: secret.as_deref().map(SecretHash::of),
        auth_method: spec.auth_method,
        redirect_uris: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: Vec::new(),
        allowed_scopes: Vec::new(),
        allowed_resources: Vec::new(),
        resource_server_for: Vec::new(),
        license_required: false,
        require_second_factor: false,
        require_consent: true,
        first_party: false,
        require_pkce: true,
        require_state: true,
        id_token_signed_response_alg: spec.id_token_signed_response_alg,
        access_token_signed_response_alg: spec.access_token_signed_response_alg,
        access_token_ttl: 0,
        id_token_ttl: 0,
        refresh_token_ttl: 0,
        refresh_without_offline_access: false,
        jwks: None,
        active: true,
        branding: Branding::default(),
        registration_token_hash: None,
        dynamically_registered: false,
        created_at: env.now.0,
        metadata: Default::default(),
        extras: OidcExtras::default(),
        either_secret_method: false,
    };
    record.apply_spec(spec);
    Ok((record, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_registration_rules() {
        spec::covers("CLIENT-metadata-validation");
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://localhost:3001/auth/callback",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(valid_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,hi",
            "not a uri",
            "https://",
            // Strings a parser would quietly rewrite: the redirect would not go to what was registered.
            "https://rp.example/c\nb",
            "https://rp.example/c\tb",
            " https://rp.example/cb",
            "https://rp.example/cb ",
            "https://user:pw@rp.example/cb",
            "https://user@rp.example/cb",
            "https://rp.example/a/../cb",
            "https://rp.example/a/./cb",
            "https://rp.example/%2e%2e/cb",
            "https://*.rp.example/cb",
            "https://rp.example/*",
            "https://RP.example/cb",
            "https://rp.example:443/cb",
            "https://rp.example\\cb",
            "https://rp.example/café",
        ] {
            assert!(!valid_redirect_uri(bad), "{bad:?}");
        }
        assert!(
            valid_redirect_uri("https://rp.example"),
            "an empty path is kept as registered"
        );
    }

    #[test]
    fn metadata_errors_name_the_right_code() {
        spec::covers("CLIENT-metadata-validation");
        let base = ClientSpec::new("App", ClientAuthMethod::ClientSecretBasic, &["https://a.example/cb"]);
        let code = |s: ClientSpec| check_client_spec(&s).unwrap_err().code();
        let mut s = base.clone();
        s.redirect_uris = vec!["http://evil.example/cb".into()];
        assert_eq!(code(s), ErrorCode::InvalidRedirectUri);
        let mut s = base.clone();
        s.redirect_uris.clear();
        assert_eq!(code(s), ErrorCode::InvalidRedirectUri);
        let mut s = base.clone();
        s.auth_method = ClientAuthMethod::None;
        s.grant_types.push(GrantType::ClientCredentials);
        assert_eq!(code(s), ErrorCode::InvalidClientMetadata);
        let mut s = base.clone();
        s.auth_method = ClientAuthMethod::PrivateKeyJwt;
        assert_eq!(code(s), ErrorCode::InvalidClientMetadata);
        let mut s = base.clone();
        s.allowed_scopes = Some(vec!["openid".into(), "root".into()]);
        assert_eq!(code(s), ErrorCode::InvalidClientMetadata);
        let mut s = base.clone();
        s.name = " ".into();
        assert_eq!(code(s), ErrorCode::InvalidClientMetadata);
        let mut s = base.clone();
        s.client_id = Some("a/b".into());
        assert_eq!(code(s), ErrorCode::InvalidClientMetadata);
        assert!(check_client_spec(&base).is_ok());
    }
}
