//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! Registered clients are third-party: consent is always asked, PKCE is required, and the
//! first-party scopes (organization, permissions, admin) are removed from what they may ask for.

use crate::admin::TenantAdmin;
use crate::audit::AuditKind;
use crate::authorize::request_object::FetchedDocument;
use crate::client::{build_client, check_client_spec, ClientRecord, ClientSpec};
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{err, EngineError, Result};
use crate::secret::{mint, SecretHash};
use crate::store::{load, save, Record, Store, Table};
use crate::tenant::{Branding, RegistrationPolicy, TenantRecord};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use spec::vocabulary::scopes;
use spec::{ClientAuthMethod, ErrorCode, GrantType, SigningAlg};

/// Client metadata as RFC 7591 §2 defines it (the fields this provider understands).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Extension: `false` registers a confidential client that sends no PKCE, where the tenant
    /// allows it (`allow_pkce_opt_out`); default true.
    pub require_pkce: Option<bool>,
    /// `none`, `client_secret_basic` (default), `client_secret_post` or `private_key_jwt`.
    pub token_endpoint_auth_method: Option<String>,
    /// Default `["authorization_code"]`.
    pub grant_types: Option<Vec<String>>,
    /// Only `code`.
    pub response_types: Option<Vec<String>>,
    /// Display name.
    pub client_name: Option<String>,
    /// Home page.
    pub client_uri: Option<String>,
    /// Logo shown on the login and consent pages.
    pub logo_uri: Option<String>,
    /// Space-separated scopes the client may ask for.
    pub scope: Option<String>,
    /// Contacts.
    pub contacts: Option<Vec<String>>,
    /// Terms of service.
    pub tos_uri: Option<String>,
    /// Privacy policy.
    pub policy_uri: Option<String>,
    /// Where the client's keys are published (fetched by the adapter at registration).
    pub jwks_uri: Option<String>,
    /// Keys for private_key_jwt.
    pub jwks: Option<Value>,
    /// Software id.
    pub software_id: Option<String>,
    /// Software version.
    pub software_version: Option<String>,
    /// OIDC RP-Initiated Logout.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `RS256` (default), `ES256` or `ES384`.
    pub id_token_signed_response_alg: Option<String>,
    /// RFC 7592 update: must equal the client's id.
    pub client_id: Option<String>,
    /// RFC 7592 update: if present, must equal the current secret.
    pub client_secret: Option<String>,
    /// Sign UserInfo responses with this alg.
    pub userinfo_signed_response_alg: Option<String>,
    /// OIDC Back-Channel Logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens.
    pub backchannel_logout_session_required: Option<bool>,
    /// A JSON array of URIs that must list every redirect URI (fetched by the adapter).
    pub sector_identifier_uri: Option<String>,
    /// Only `public`.
    pub subject_type: Option<String>,
    /// The alg the client signs request objects with (`none`, RS256, ES256, ES384).
    pub request_object_signing_alg: Option<String>,
    /// Whether this client's authorization requests must be pushed first (RFC 9126 §6).
    pub require_pushed_authorization_requests: Option<bool>,
    /// The alg its JARM authorization responses are signed with (RS256 by default).
    pub authorization_signed_response_alg: Option<String>,
    /// Whether its token requests must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: Option<bool>,
    /// The `acr` values asked when a request names none (OIDC Registration §2).
    pub default_acr_values: Option<Vec<String>>,
    /// `fapi2` holds the client to the FAPI 2.0 Security Profile; `none` (the default) does not.
    pub security_profile: Option<String>,
    /// Documents the adapter fetched for this metadata. Never read from the client's JSON.
    #[serde(skip)]
    pub fetched: FetchedMetadata,
}

/// What the adapter fetched at the metadata's URLs (the engine does no I/O).
#[derive(Clone, Debug, Default)]
pub struct FetchedMetadata {
    /// The document at `jwks_uri`.
    pub jwks_uri: Option<FetchedDocument>,
    /// The document at `sector_identifier_uri`.
    pub sector_identifier_uri: Option<FetchedDocument>,
}

impl ClientMetadata {
    /// The URLs the adapter must fetch before registering this metadata.
    pub fn urls_to_fetch(&self) -> (Option<&str>, Option<&str>) {
        (self.jwks_uri.as_deref(), self.sector_identifier_uri.as_deref())
    }

    /// OIDC-REGISTRATION-2-jwks-uri: the keys at `jwks_uri`, which must be usable.
    fn fetched_jwks(&self) -> Result<Option<Value>> {
        let Some(uri) = &self.jwks_uri else {
            return Ok(self.jwks.clone());
        };
        if self.jwks.is_some() {
            return Err(meta("jwks and jwks_uri must not both be registered"));
        }
        if !is_http_url(uri) {
            return Err(meta("jwks_uri must be an http(s) URL"));
        }
        let doc = match &self.fetched.jwks_uri {
            Some(Ok(body)) => serde_json::from_str::<Value>(body).ok(),
            _ => None,
        };
        match doc {
            Some(d) if !crate::jose::keys::parse_jwks(&d).is_empty() => Ok(Some(d)),
            Some(_) => Err(meta("jwks_uri holds no usable public key")),
            None => Err(meta("jwks_uri could not be fetched as a JWK Set")),
        }
    }

    /// OIDC-REGISTRATION-5-sector-identifier: every redirect URI is listed at the URI.
    fn check_sector(&self) -> Result<()> {
        let Some(uri) = &self.sector_identifier_uri else {
            return Ok(());
        };
        if !is_http_url(uri) {
            return Err(meta("sector_identifier_uri must be an http(s) URL"));
        }
        let listed: Option<Vec<String>> = match &self.fetched.sector_identifier_uri {
            Some(Ok(body)) => serde_json::from_str(body).ok(),
            _ => None,
        };
        let Some(listed) = listed else {
            return Err(meta(
                "sector_identifier_uri could not be fetched as a JSON array of URIs",
            ));
        };
        if self.redirect_uris.iter().any(|r| !listed.contains(r)) {
            return Err(meta("sector_identifier_uri does not list every redirect_uri"));
        }
        Ok(())
    }
}

fn is_http_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|x| matches!(x.scheme(), "https" | "http") && x.host().is_some())
}

const KEPT: [&str; 14] = [
    "client_uri",
    "tos_uri",
    "policy_uri",
    "contacts",
    "software_id",
    "software_version",
    "jwks_uri",
    "sector_identifier_uri",
    "subject_type",
    "request_object_signing_alg",
    "require_pushed_authorization_requests",
    "authorization_signed_response_alg",
    "dpop_bound_access_tokens",
    "default_acr_values",
];

fn meta(d: &'static str) -> EngineError {
    err(ErrorCode::InvalidClientMetadata, d)
}

impl ClientMetadata {
    /// Parses a registration body; anything that is not the right shape is invalid_client_metadata.
    pub fn from_json(body: Value) -> Result<Self> {
        if !body.is_object() {
            return Err(meta("the body must be a JSON object"));
        }
        serde_json::from_value(body).map_err(|_| meta("a metadata field has the wrong type"))
    }

    /// The client spec this metadata asks for, restricted to what a third-party client may have.
    fn to_spec(&self, tenant: &TenantRecord) -> Result<(ClientSpec, Map<String, Value>)> {
        let jwks = self.fetched_jwks()?;
        self.check_sector()?;
        if self.subject_type.as_deref().is_some_and(|t| t != "public") {
            return Err(meta("subject_type must be public"));
        }
        if let Some(a) = self.request_object_signing_alg.as_deref() {
            if a != "none" && SigningAlg::parse(a).is_none() {
                return Err(meta("unsupported request_object_signing_alg"));
            }
        }
        if let Some(a) = self.authorization_signed_response_alg.as_deref() {
            if SigningAlg::parse(a).is_none() {
                return Err(meta("unsupported authorization_signed_response_alg"));
            }
        }
        let userinfo_alg = match self.userinfo_signed_response_alg.as_deref() {
            None => None,
            Some(a) => Some(SigningAlg::parse(a).ok_or_else(|| meta("unsupported userinfo_signed_response_alg"))?),
        };
        if [&self.policy_uri, &self.tos_uri, &self.client_uri]
            .iter()
            .any(|link| link.as_deref().is_some_and(|u| !is_http_url(u)))
        {
            return Err(meta("policy_uri, tos_uri and client_uri must be http(s) URLs"));
        }
        let auth_method = match self.token_endpoint_auth_method.as_deref() {
            None => ClientAuthMethod::ClientSecretBasic,
            Some(m) => ClientAuthMethod::parse(m).ok_or_else(|| meta("unsupported token_endpoint_auth_method"))?,
        };
        // `implicit` names the grant of the id_token response types (OIDC Registration §2); it is
        // not a token endpoint grant, so it is accepted and not kept.
        let grant_types = match &self.grant_types {
            None => vec![GrantType::AuthorizationCode],
            Some(g) => g
                .iter()
                .filter(|s| *s != "implicit")
                .map(|s| GrantType::parse(s).ok_or_else(|| meta("unsupported grant type")))
                .collect::<Result<Vec<_>>>()?,
        };
        let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
        // OIDC-REGISTRATION-2-response-types
        for t in self.response_types.iter().flatten() {
            match crate::authorize::response_type::ResponseType::parse(t) {
                Some(rt) if !rt.code || uses_code => {}
                _ => {
                    return Err(meta(
                        "response_types may hold code, id_token, id_token token, code id_token, code token, code id_token token; those with code need the authorization_code grant",
                    ))
                }
            }
        }
        let allowed_scopes = match &self.scope {
            None => None,
            Some(s) => {
                let set = crate::scope::parse(s).ok_or_else(|| meta("scope is malformed"))?;
                if set.iter().any(|x| !scopes::ALL.contains(&x.as_str())) {
                    return Err(meta("scope names an unknown scope"));
                }
                let mut kept: Vec<String> = set
                    .into_iter()
                    .filter(|x| !scopes::FIRST_PARTY_ONLY.contains(&x.as_str()))
                    .collect();
                if !kept.iter().any(|x| x == scopes::OPENID) {
                    kept.push(scopes::OPENID.into());
                }
                Some(kept)
            }
        };
        let alg = match self.id_token_signed_response_alg.as_deref() {
            None => SigningAlg::RS256,
            Some(a) => SigningAlg::parse(a).ok_or_else(|| meta("unsupported id_token_signed_response_alg"))?,
        };
        let name = self
            .client_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Unnamed client".into());
        if name.len() > 200 {
            return Err(meta("client_name is too long"));
        }
        let logo_url = match &self.logo_uri {
            None => None,
            Some(u) if url::Url::parse(u).is_ok_and(|x| x.scheme() == "https") => Some(u.clone()),
            Some(_) => return Err(meta("logo_uri must be an https URL")),
        };
        let redirects: Vec<&str> = self.redirect_uris.iter().map(String::as_str).collect();
        let mut spec = ClientSpec::new(&name, auth_method, &redirects);
        spec.post_logout_redirect_uris = self.post_logout_redirect_uris.clone().unwrap_or_default();
        spec.grant_types = grant_types;
        spec.allowed_scopes = allowed_scopes;
        spec.require_consent = true;
        spec.first_party = false;
        // PKCE-opt-out-policy: `require_pkce: false` (an extension) only where the tenant allows it.
        spec.require_pkce = self.require_pkce.unwrap_or(true);
        crate::admin::check_pkce_policy(tenant, &spec)?;
        spec.id_token_signed_response_alg = alg;
        spec.access_token_ttl = tenant.token_lifetimes.access_token_ttl;
        spec.id_token_ttl = tenant.token_lifetimes.id_token_ttl;
        spec.refresh_token_ttl = tenant.token_lifetimes.refresh_token_ttl;
        spec.jwks = jwks;
        spec.extras = crate::client::OidcExtras {
            userinfo_signed_response_alg: userinfo_alg,
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required.unwrap_or(false),
            response_types: crate::client::canonical_response_types(self.response_types.as_deref().unwrap_or(&[])),
            security_profile: match self.security_profile.as_deref() {
                None => crate::client::SecurityProfile::None,
                Some(p) => crate::client::SecurityProfile::parse(p)
                    .ok_or_else(|| meta("security_profile must be fapi2 or none"))?,
            },
        };
        spec.branding = Branding {
            display_name: None,
            logo_url,
            primary_color: None,
        };
        check_client_spec(&spec)?;
        let as_json = serde_json::to_value(self).unwrap_or(Value::Null);
        let kept = KEPT
            .iter()
            .filter_map(|k| {
                as_json
                    .get(*k)
                    .filter(|v| !v.is_null())
                    .map(|v| (k.to_string(), v.clone()))
            })
            .collect();
        Ok((spec, kept))
    }
}

/// An initial access token (RFC 7591 §3): single use, until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialAccessTokenRecord {
    /// When it stops working.
    pub expires_at: UnixTime,
    /// Who issued it.
    pub created_by: String,
}

impl Record for InitialAccessTokenRecord {
    const TABLE: Table = Table::InitialAccessToken;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
}

impl InitialAccessTokenRecord {
    /// Store key.
    pub fn key(tenant: &str, token: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(token).0)
    }
}

/// A registration's answer: the JSON body of RFC 7591 §3.2.1 / RFC 7592 §3.
pub type RegistrationBody = Map<String, Value>;

/// The client information response for `client`.
fn response(
    iss: &str,
    client: &ClientRecord,
    secret: Option<&str>,
    registration_token: Option<&str>,
) -> RegistrationBody {
    let mut m = Map::new();
    m.insert("client_id".into(), json!(client.client_id));
    if let Some(s) = secret {
        m.insert("client_secret".into(), json!(s));
    }
    if client.auth_method.uses_secret() {
        m.insert("client_secret_expires_at".into(), json!(0));
    }
    m.insert("client_id_issued_at".into(), json!(client.created_at));
    if let Some(t) = registration_token {
        m.insert("registration_access_token".into(), json!(t));
    }
    m.insert(
        "registration_client_uri".into(),
        json!(format!("{iss}/register/{}", client.client_id)),
    );
    m.insert("client_name".into(), json!(client.name));
    m.insert("redirect_uris".into(), json!(client.redirect_uris));
    m.insert(
        "post_logout_redirect_uris".into(),
        json!(client.post_logout_redirect_uris),
    );
    m.insert(
        "grant_types".into(),
        json!(client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
    );
    let code = client.grant_types.contains(&GrantType::AuthorizationCode);
    let types: Vec<&str> = match client.extras.response_types.is_empty() {
        true if code => vec!["code"],
        true => vec![],
        false => client.extras.response_types.iter().map(String::as_str).collect(),
    };
    m.insert("response_types".into(), json!(types));
    m.insert("token_endpoint_auth_method".into(), json!(client.auth_method.as_str()));
    m.insert("scope".into(), json!(client.allowed_scopes.join(" ")));
    m.insert(
        "id_token_signed_response_alg".into(),
        json!(client.id_token_signed_response_alg.as_str()),
    );
    if let Some(l) = &client.branding.logo_url {
        m.insert("logo_uri".into(), json!(l));
    }
    if let Some(j) = client
        .jwks
        .as_ref()
        .filter(|_| !client.metadata.contains_key("jwks_uri"))
    {
        m.insert("jwks".into(), j.clone());
    }
    if let Some(a) = client.extras.userinfo_signed_response_alg {
        m.insert("userinfo_signed_response_alg".into(), json!(a.as_str()));
    }
    if client.fapi2() {
        m.insert(
            "security_profile".into(),
            json!(client.extras.security_profile.as_str()),
        );
    }
    if let Some(u) = &client.extras.backchannel_logout_uri {
        m.insert("backchannel_logout_uri".into(), json!(u));
        m.insert(
            "backchannel_logout_session_required".into(),
            json!(client.extras.backchannel_logout_session_required),
        );
    }
    for (k, v) in &client.metadata {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn invalid_token() -> EngineError {
    err(ErrorCode::InvalidToken, "the access token is invalid for this client")
}

impl<S: Store> Engine<S> {
    /// Handles `POST /{tenant}/register` (RFC 7591). `bearer` is the initial access token, if sent.
    pub fn handle_register(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        bearer: Option<&str>,
        metadata: &ClientMetadata,
    ) -> Result<RegistrationBody> {
        // RFC7591-3-registration-policy
        // RFC7591-3.2-registration-response
        let t = self
            .tenant(tenant)?
            .ok_or_else(|| err(ErrorCode::NotFound, "unknown tenant"))?;
        let needs_token = match t.registration_policy {
            RegistrationPolicy::Closed => {
                return Err(err(
                    ErrorCode::AccessDenied,
                    "dynamic registration is closed for this tenant",
                ))
            }
            RegistrationPolicy::InitialAccessToken => Some(
                bearer
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| err(ErrorCode::InvalidToken, "an initial access token is required"))?,
            ),
            RegistrationPolicy::Open => None,
        };
        if metadata.client_id.is_some() || metadata.client_secret.is_some() {
            return Err(meta("client_id and client_secret are assigned by the server"));
        }
        let (spec, kept) = metadata.to_spec(&t)?;
        let (mut client, secret) = build_client(env, tenant, spec)?;
        let rat = mint(env, "");
        client.registration_token_hash = Some(SecretHash::of(&rat));
        client.dynamically_registered = true;
        client.metadata = kept;
        let now = env.now;
        let event = self
            .stamp(env)
            .event(AuditKind::ClientRegistration, "register")
            .actor(client.client_id.clone())
            .subject(format!("clients/{}", client.client_id))
            .client(client.client_id.clone());
        self.store.transact(|tx| {
            if let Some(token) = needs_token {
                let key = InitialAccessTokenRecord::key(tenant, token);
                match load::<InitialAccessTokenRecord>(tx, &key)? {
                    Some(r) if r.expires_at > now => tx.delete(Table::InitialAccessToken, &key)?,
                    _ => {
                        return Err(err(
                            ErrorCode::InvalidToken,
                            "the initial access token is invalid or expired",
                        ))
                    }
                }
            }
            save(tx, &ClientRecord::key(tenant, &client.client_id), &client)?;
            self.audit(tx, tenant, &event)
        })?;
        Ok(response(&self.issuer(tenant), &client, secret.as_deref(), Some(&rat)))
    }

    /// The dynamically registered client `client_id` if `token` is its registration access token.
    fn registered_client(&self, tenant: &str, client_id: &str, token: Option<&str>) -> Result<ClientRecord> {
        // RFC7592-2-client-management
        let token = token.filter(|t| !t.is_empty()).ok_or_else(invalid_token)?;
        let client = self.client(tenant, client_id)?.ok_or_else(invalid_token)?;
        match &client.registration_token_hash {
            Some(h) if h.matches(token) && client.active => Ok(client),
            _ => Err(invalid_token()),
        }
    }

    /// `GET /{tenant}/register/{client_id}` (RFC 7592 §2.1).
    pub fn handle_registration_read(
        &self,
        tenant: &str,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<RegistrationBody> {
        let client = self.registered_client(tenant, client_id, token)?;
        Ok(response(&self.issuer(tenant), &client, None, None))
    }

    /// `PUT /{tenant}/register/{client_id}` (RFC 7592 §2.2): replaces the metadata as a whole.
    pub fn handle_registration_update(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        client_id: &str,
        token: Option<&str>,
        metadata: &ClientMetadata,
    ) -> Result<RegistrationBody> {
        let current = self.registered_client(tenant, client_id, token)?;
        if metadata.client_id.as_deref() != Some(client_id) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "client_id must be sent and match the client",
            ));
        }
        if let Some(s) = &metadata.client_secret {
            if !current.secret_hash.as_ref().is_some_and(|h| h.matches(s)) {
                return Err(err(ErrorCode::InvalidRequest, "client_secret does not match"));
            }
        }
        let t = self
            .tenant(tenant)?
            .ok_or_else(|| err(ErrorCode::NotFound, "unknown tenant"))?;
        let (spec, kept) = metadata.to_spec(&t)?;
        let mut updated = current.clone();
        updated.apply_spec(spec);
        updated.metadata = kept;
        let secret = (updated.auth_method.uses_secret() && updated.secret_hash.is_none()).then(|| mint(env, ""));
        if let Some(s) = &secret {
            updated.secret_hash = Some(SecretHash::of(s));
        }
        let event = self
            .stamp(env)
            .event(AuditKind::ClientRegistration, "update registration")
            .actor(client_id)
            .subject(format!("clients/{client_id}"))
            .client(client_id);
        let key = ClientRecord::key(tenant, client_id);
        self.store.transact(|tx| {
            match load::<ClientRecord>(tx, &key)? {
                Some(c) if c.registration_token_hash == current.registration_token_hash => {}
                _ => return Err(invalid_token()),
            }
            save(tx, &key, &updated)?;
            self.audit(tx, tenant, &event)
        })?;
        Ok(response(&self.issuer(tenant), &updated, secret.as_deref(), None))
    }

    /// `DELETE /{tenant}/register/{client_id}` (RFC 7592 §2.3): the client and its tokens stop working.
    pub fn handle_registration_delete(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<()> {
        let current = self.registered_client(tenant, client_id, token)?;
        let event = self
            .stamp(env)
            .event(AuditKind::ClientRegistration, "delete registration")
            .actor(client_id)
            .subject(format!("clients/{client_id}"))
            .client(client_id);
        let key = ClientRecord::key(tenant, client_id);
        self.store.transact(|tx| {
            match load::<ClientRecord>(tx, &key)? {
                Some(c) if c.registration_token_hash == current.registration_token_hash => {}
                _ => return Err(invalid_token()),
            }
            tx.delete(Table::Client, &key)?;
            self.audit(tx, tenant, &event)
        })
    }
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Issues a single-use initial access token for dynamic registration, valid `ttl` seconds.
    pub fn create_initial_access_token(&self, env: &mut Env<'_>, ttl: u64) -> Result<(String, UnixTime)> {
        if !(60..=30 * 86_400).contains(&ttl) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "expires_in must be between 60 seconds and 30 days",
            ));
        }
        let token = mint(env, "");
        let record = InitialAccessTokenRecord {
            expires_at: env.now.plus(ttl),
            created_by: self.actor(),
        };
        let key = InitialAccessTokenRecord::key(self.record().slug.as_str(), &token);
        self.change(env, "create initial access token", "initial-access-tokens", |tx| {
            save(tx, &key, &record)
        })?;
        Ok((token, record.expires_at))
    }
}
