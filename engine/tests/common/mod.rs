//! A deterministic world for flow tests: one engine over MemStore, a clock, a seeded RNG,
//! two tenants, several clients and a user.
#![allow(dead_code)]

use engine::admin::AdminPrincipal;
use engine::authorize::pkce;
use engine::authorize::AuthorizeOutcome;
use engine::client::auth::ClientCredentials;
use engine::fixtures;
use engine::password::PasswordParams;
use engine::token::minting::TokenResponse;
use engine::token::TokenRequest;
use engine::user::{Address, Membership};
use engine::{
    AuthorizationRequest, ClientRecord, ClientSpec, Engine, EngineConfig, Env, LoginOutcome, MemStore, Result,
    SeededRandom, TenantRecord, UnixTime, UserProfile, UserRecord,
};
use spec::{ClientAuthMethod, ErrorCode, GrantType, SigningAlg};

pub const T: &str = "acme";
pub const OTHER: &str = "globex";
pub const WEB_CB: &str = "https://app.example.com/callback";
pub const SPA_CB: &str = "http://localhost:5173/callback";
pub const PASSWORD: &str = "correct horse battery";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub struct World {
    pub engine: Engine<MemStore>,
    pub rng: SeededRandom,
    pub now: UnixTime,
    /// Confidential, client_secret_basic, third party, consent required.
    pub web: ClientRecord,
    pub web_secret: String,
    /// Public SPA (none), consent required.
    pub spa: ClientRecord,
    /// First party, client_secret_post, no consent, organization + permissions.
    pub first: ClientRecord,
    pub first_secret: String,
    pub alice: UserRecord,
}

pub fn alice_profile() -> UserProfile {
    UserProfile {
        username: "alice".into(),
        email: Some("alice@school.example".into()),
        email_verified: true,
        name: Some("Alice Smith".into()),
        given_name: Some("Alice".into()),
        family_name: Some("Smith".into()),
        picture: Some("https://cdn.example/alice.png".into()),
        phone_number: Some("+44 20 7946 0000".into()),
        address: Some(Address {
            locality: Some("London".into()),
            country: Some("GB".into()),
            ..Default::default()
        }),
        organization_id: Some("org-1".into()),
        organization_memberships: vec![
            Membership {
                organization_id: "org-1".into(),
                role: "admin".into(),
            },
            Membership {
                organization_id: "org-2".into(),
                role: "teacher".into(),
            },
        ],
        user_type: Some("customer_admin".into()),
        permissions: vec!["org:manage".into(), "licenses:read".into()],
        ..Default::default()
    }
}

impl World {
    pub fn new(seed: u64) -> World {
        Self::tuned(seed, |_| {})
    }

    /// A world whose engine configuration `tune` changes first.
    pub fn tuned(seed: u64, tune: impl FnOnce(&mut EngineConfig)) -> World {
        let mut config = EngineConfig::new("https://id.example.com");
        config.password = PasswordParams::for_tests();
        tune(&mut config);
        let engine = Engine::new(
            MemStore::new(),
            config,
            std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
        );
        let mut rng = SeededRandom::new(seed);
        let now = UnixTime(1_750_000_000);
        let mut env = Env::new(now, &mut rng);
        for slug in [T, OTHER] {
            engine
                .create_tenant(TenantRecord::new(slug.into(), slug.to_uppercase()))
                .unwrap();
            engine.install_signing_key(&mut env, slug, fixtures::rsa_key()).unwrap();
            engine
                .install_signing_key(&mut env, slug, fixtures::p384_key())
                .unwrap();
        }
        let mut web = ClientSpec::new("Web App", ClientAuthMethod::ClientSecretBasic, &[WEB_CB]);
        web.client_id = Some("web".into());
        web.post_logout_redirect_uris = vec!["https://app.example.com/logged-out".into()];
        let (web, web_secret) = engine.create_client(&mut env, T, web).unwrap();
        let mut spa = ClientSpec::new("SPA", ClientAuthMethod::None, &[SPA_CB]);
        spa.client_id = Some("spa".into());
        spa.grant_types = vec![GrantType::AuthorizationCode];
        let (spa, _) = engine.create_client(&mut env, T, spa).unwrap();
        let mut first = ClientSpec::new(
            "Partners Portal",
            ClientAuthMethod::ClientSecretPost,
            &["https://portal.example.com/cb"],
        );
        first.client_id = Some("portal".into());
        first.first_party = true;
        first.require_consent = false;
        first.grant_types.push(GrantType::ClientCredentials);
        let (first, first_secret) = engine.create_client(&mut env, T, first).unwrap();
        let alice = engine.create_user(&mut env, T, alice_profile(), PASSWORD).unwrap();
        World {
            engine,
            rng,
            now,
            web,
            web_secret: web_secret.unwrap(),
            spa,
            first,
            first_secret: first_secret.unwrap(),
            alice,
        }
    }

    pub fn env(&mut self) -> Env<'_> {
        Env::new(self.now, &mut self.rng)
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self.now.plus(secs);
    }

    pub fn web_creds(&self) -> ClientCredentials {
        ClientCredentials::Basic {
            client_id: "web".into(),
            secret: self.web_secret.clone(),
        }
    }

    pub fn first_creds(&self) -> ClientCredentials {
        ClientCredentials::Post {
            client_id: "portal".into(),
            secret: self.first_secret.clone(),
        }
    }

    pub fn add_client(&mut self, tenant: &str, spec: ClientSpec) -> (ClientRecord, Option<String>) {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.create_client(&mut env, tenant, spec).unwrap()
    }

    pub fn create_user(&mut self, username: &str, password: &str) -> UserRecord {
        let mut env = Env::new(self.now, &mut self.rng);
        let p = UserProfile {
            username: username.into(),
            ..Default::default()
        };
        self.engine.create_user(&mut env, T, p, password).unwrap()
    }

    pub fn authorize(&mut self, req: &AuthorizationRequest, session: Option<&str>) -> AuthorizeOutcome {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_authorize(&mut env, T, req, session)
    }

    pub fn authorize_in(
        &mut self,
        tenant: &str,
        req: &AuthorizationRequest,
        session: Option<&str>,
    ) -> AuthorizeOutcome {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_authorize(&mut env, tenant, req, session)
    }

    pub fn login(&mut self, transaction: &str, user: &str, password: &str, current: Option<&str>) -> LoginOutcome {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine
            .handle_login(&mut env, T, transaction, user, password, current)
    }

    pub fn consent(&mut self, transaction: &str, session: Option<&str>, approve: bool) -> AuthorizeOutcome {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_consent(&mut env, T, transaction, session, approve)
    }

    pub fn token(&mut self, creds: &ClientCredentials, req: &TokenRequest) -> Result<TokenResponse> {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_token(&mut env, T, creds, req)
    }

    pub fn introspect(&mut self, creds: &ClientCredentials, token: &str) -> engine::token::introspect::Introspection {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine
            .handle_introspect(&mut env, T, creds, token)
            .expect("introspection")
    }

    pub fn userinfo(&mut self, token: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_userinfo(&mut env, T, token)
    }

    pub fn revoke(&mut self, creds: &ClientCredentials, token: &str) -> Result<()> {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_revoke(&mut env, T, creds, token)
    }

    pub fn end_session(
        &mut self,
        req: &engine::session::logout::EndSessionRequest,
        session: Option<&str>,
        confirmed: bool,
    ) -> engine::session::logout::EndSessionOutcome {
        let mut env = Env::new(self.now, &mut self.rng);
        self.engine.handle_end_session(&mut env, T, req, session, confirmed)
    }

    /// Runs authorize → login → (consent) for `req`; returns the final outcome and the session token.
    pub fn interact(
        &mut self,
        req: &AuthorizationRequest,
        session: Option<&str>,
    ) -> (AuthorizeOutcome, Option<String>) {
        let mut session = session.map(str::to_owned);
        let mut out = self.authorize(req, session.as_deref());
        if let AuthorizeOutcome::Login(page) = &out {
            match self.login(&page.transaction.clone(), "alice", PASSWORD, session.as_deref()) {
                LoginOutcome::LoggedIn { session: s, next } => {
                    session = Some(s.token);
                    out = next;
                }
                other => panic!("login failed: {other:?}"),
            }
        }
        if let AuthorizeOutcome::Consent(page) = &out {
            out = self.consent(&page.transaction.clone(), session.as_deref(), true);
        }
        (out, session)
    }

    /// A full flow to a code for `req`.
    pub fn code_for(&mut self, req: &AuthorizationRequest, session: Option<&str>) -> (String, Option<String>) {
        let (out, session) = self.interact(req, session);
        (code_of(&out), session)
    }

    /// Exchanges a code from `web_request()` with the web client's credentials.
    pub fn exchange(&mut self, code: &str) -> Result<TokenResponse> {
        let creds = self.web_creds();
        self.token(&creds, &code_exchange(code, WEB_CB, Some(VERIFIER)))
    }

    /// A complete login for the web client, returning tokens and the session.
    pub fn web_tokens(&mut self, scope: &str) -> (TokenResponse, String) {
        let mut req = web_request();
        req.scope = Some(scope.into());
        let (code, session) = self.code_for(&req, None);
        (self.exchange(&code).expect("exchange"), session.expect("session"))
    }

    pub fn alg_of_client(&self) -> SigningAlg {
        self.web.id_token_signed_response_alg
    }
}

pub fn challenge() -> String {
    pkce::s256(VERIFIER)
}

/// A valid request of the web client.
pub fn web_request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("web".into()),
        redirect_uri: Some(WEB_CB.into()),
        response_type: Some("code".into()),
        scope: Some("openid profile email".into()),
        state: Some("st-123".into()),
        nonce: Some("n-456".into()),
        code_challenge: Some(challenge()),
        code_challenge_method: Some("S256".into()),
        ..Default::default()
    }
}

/// A valid request of the public SPA.
pub fn spa_request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("spa".into()),
        redirect_uri: Some(SPA_CB.into()),
        ..web_request()
    }
}

/// A valid request of the first-party portal.
pub fn portal_request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("portal".into()),
        redirect_uri: Some("https://portal.example.com/cb".into()),
        scope: Some("openid profile email organization permissions".into()),
        ..web_request()
    }
}

pub fn code_exchange(code: &str, redirect_uri: &str, verifier: Option<&str>) -> TokenRequest {
    TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(redirect_uri.into()),
        code_verifier: verifier.map(str::to_owned),
        ..Default::default()
    }
}

pub fn refresh_request(rt: &str) -> TokenRequest {
    TokenRequest {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some(rt.into()),
        ..Default::default()
    }
}

pub fn code_of(out: &AuthorizeOutcome) -> String {
    match out {
        AuthorizeOutcome::Redirect(r) => r
            .param("code")
            .unwrap_or_else(|| panic!("no code in {r:?}"))
            .to_string(),
        other => panic!("expected a code redirect, got {other:?}"),
    }
}

/// The error code of a redirect outcome (panics on anything else).
pub fn redirect_error(out: &AuthorizeOutcome) -> String {
    match out {
        AuthorizeOutcome::Redirect(r) => r
            .param("error")
            .unwrap_or_else(|| panic!("no error in {r:?}"))
            .to_string(),
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

/// The error code of a page outcome.
pub fn page_error(out: &AuthorizeOutcome) -> spec::ErrorCode {
    match out {
        AuthorizeOutcome::ErrorPage(e) => e.code,
        other => panic!("expected an error page, got {other:?}"),
    }
}

/// Decodes a JWT's payload without verifying (tests verify separately).
pub fn claims(jwt: &str) -> serde_json::Value {
    engine::jose::decode(jwt).unwrap().claims().unwrap()
}

pub fn header(jwt: &str) -> engine::jose::Header {
    engine::jose::decode(jwt).unwrap().header
}

/// Creates an admin client in `tenant` (creating the tenant if needed) and returns an admin token.
pub fn admin_token(w: &mut World, tenant: &str) -> String {
    let id = format!("admin-{}", w.rng_id());
    let mut env = Env::new(w.now, &mut w.rng);
    if w.engine.tenant(tenant).unwrap().is_none() {
        w.engine
            .create_tenant(TenantRecord::new(tenant.into(), tenant.into()))
            .unwrap();
        w.engine
            .install_signing_key(&mut env, tenant, fixtures::rsa_key())
            .unwrap();
    }
    let mut spec = ClientSpec::new("Admin", ClientAuthMethod::ClientSecretBasic, &[]);
    spec.client_id = Some(id.clone());
    spec.grant_types = vec![GrantType::ClientCredentials];
    spec.allowed_scopes = Some(vec!["admin".into()]);
    let (_, secret) = w.engine.create_client(&mut env, tenant, spec).unwrap();
    cc_token(w, tenant, &id, &secret.unwrap(), "admin").unwrap()
}

pub fn cc_token(w: &mut World, tenant: &str, id: &str, secret: &str, scope: &str) -> engine::Result<String> {
    let creds = ClientCredentials::Basic {
        client_id: id.into(),
        secret: secret.into(),
    };
    cc_token_with(w, tenant, creds, scope)
}

pub fn cc_token_with(w: &mut World, tenant: &str, creds: ClientCredentials, scope: &str) -> engine::Result<String> {
    let mut env = Env::new(w.now, &mut w.rng);
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        scope: Some(scope.into()),
        ..Default::default()
    };
    w.engine
        .handle_token(&mut env, tenant, &creds, &req)
        .map(|t| t.access_token)
}

pub trait Ids {
    fn rng_id(&mut self) -> String;
}
impl Ids for World {
    fn rng_id(&mut self) -> String {
        let mut env = self.env();
        engine::secret::mint_id(&mut env)[..8].to_string()
    }
}

pub fn principal(w: &mut World, token: &str) -> engine::Result<AdminPrincipal> {
    let mut env = Env::new(w.now, &mut w.rng);
    w.engine.authenticate_admin(&mut env, Some(token))
}

pub fn code(r: engine::Result<impl std::fmt::Debug>) -> ErrorCode {
    r.expect_err("expected an error").code()
}
