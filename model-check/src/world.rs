//! The fixed world every model starts from, and the plumbing to run one engine call against a
//! model state's store snapshot.

use crate::store::{Fault, ModelStore};
use engine::client::auth::ClientCredentials;
use engine::mutants::Mutants;
use engine::password::PasswordParams;
use engine::store::Table;
use engine::token::minting::TokenResponse;
use engine::token::TokenRequest;
use engine::{
    fixtures, AuthorizationRequest, AuthorizeOutcome, ClientSpec, Engine, EngineConfig, Env, LoginOutcome, MemStore,
    SeededRandom, TenantRecord, UnixTime, UserProfile,
};
use spec::{ClientAuthMethod, GrantType};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The tenant the flows run in.
pub const TENANT: &str = "acme";
/// Another tenant with a same-named client, for isolation checks.
pub const OTHER_TENANT: &str = "globex";
/// Model time zero.
pub const T0: u64 = 1_750_000_000;
/// The user's password.
pub const PASSWORD: &str = "correct horse battery";

/// A snapshot of every record of the store.
pub type Snapshot = Arc<Vec<(Table, String, Vec<u8>)>>;

/// The clients of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Client {
    /// Honest confidential client (client_secret_basic).
    Web,
    /// Honest public client (PKCE only).
    Spa,
    /// The attacker's own registered confidential client.
    Evil,
}

impl Client {
    /// Its client_id.
    pub fn id(self) -> &'static str {
        match self {
            Client::Web => "web",
            Client::Spa => "spa",
            Client::Evil => "evil",
        }
    }
    /// Its one registered redirect URI.
    pub fn redirect(self) -> &'static str {
        match self {
            Client::Web => "https://web.example/cb",
            Client::Spa => "https://spa.example/cb",
            Client::Evil => "https://evil.example/cb",
        }
    }
}

/// PKCE verifier of honest flow `i` (43+ unreserved characters).
pub fn verifier(i: usize) -> String {
    format!("honest-flow-{i}-verifier-0123456789abcdefghijklmnopqrstuvwxyz")
}

/// The attacker's own verifier.
pub const ATTACKER_VERIFIER: &str = "attacker-verifier-0123456789abcdefghijklmnopqrstuvwxyz";

/// The engine the models run: the real one, over the models' store.
pub type ModelEngine = Engine<ModelStore>;

/// How a call runs.
#[derive(Clone, Debug, Hash)]
pub enum Exec {
    /// With no other call in flight.
    Alone,
    /// At the second instance, having begun when the records were `began`; `fault` is injected.
    Raced {
        /// The records when the call began.
        began: Snapshot,
        /// The serialization failure injected.
        fault: Fault,
    },
}

/// The engine template (configuration, keys) and the initial store.
pub struct World {
    template: Engine<MemStore>,
    /// Records after set-up: tenants, keys, clients, the user.
    pub initial: Snapshot,
    secrets: [(Client, String); 2],
    other_secret: String,
}

impl World {
    /// Builds the world with the given deliberate bugs switched on.
    pub fn new(mutants: Mutants) -> Self {
        let mut config = EngineConfig::new("https://op.example");
        config.audit = false;
        config.password = PasswordParams::for_tests();
        config.mutants = mutants;
        let engine = Engine::new(
            MemStore::new(),
            config,
            std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
        );
        let mut rng = SeededRandom::new(7);
        let mut env = Env::new(UnixTime(T0), &mut rng);
        let mut secrets = Vec::new();
        let mut other_secret = String::new();
        for tenant in [TENANT, OTHER_TENANT] {
            engine
                .create_tenant(TenantRecord::new(tenant.into(), tenant.into()))
                .expect("tenant");
            engine
                .install_signing_key(&mut env, tenant, fixtures::rsa_key())
                .expect("key");
        }
        for c in [Client::Web, Client::Spa, Client::Evil] {
            let method = if c == Client::Spa {
                ClientAuthMethod::None
            } else {
                ClientAuthMethod::ClientSecretBasic
            };
            let mut spec = ClientSpec::new(c.id(), method, &[c.redirect()]);
            spec.client_id = Some(c.id().into());
            spec.post_logout_redirect_uris = vec![format!("{}/bye", c.redirect())];
            if c == Client::Spa {
                spec.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
            }
            let (_, secret) = engine.create_client(&mut env, TENANT, spec.clone()).expect("client");
            if let Some(s) = secret {
                secrets.push((c, s));
            }
            if c == Client::Web {
                let (_, s) = engine.create_client(&mut env, OTHER_TENANT, spec).expect("client");
                other_secret = s.expect("secret");
            }
        }
        engine
            .create_user(
                &mut env,
                TENANT,
                UserProfile {
                    username: "alice".into(),
                    ..Default::default()
                },
                PASSWORD,
            )
            .expect("user");
        let initial = Arc::new(engine.store().snapshot());
        let secrets = [secrets[0].clone(), secrets[1].clone()];
        World {
            template: engine,
            initial,
            secrets,
            other_secret,
        }
    }

    /// How `client` authenticates.
    pub fn creds(&self, client: Client) -> ClientCredentials {
        match client {
            Client::Spa => ClientCredentials::PublicId("spa".into()),
            c => {
                let secret = self
                    .secrets
                    .iter()
                    .find(|(x, _)| *x == c)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_default();
                ClientCredentials::Basic {
                    client_id: c.id().into(),
                    secret,
                }
            }
        }
    }

    /// The same-named web client of the other tenant.
    pub fn other_tenant_creds(&self) -> ClientCredentials {
        ClientCredentials::Basic {
            client_id: "web".into(),
            secret: self.other_secret.clone(),
        }
    }

    /// Runs `f` on an engine over `store` at model time `clock`; returns the result and the new store.
    pub fn run<T>(
        &self,
        store: &Snapshot,
        clock: u64,
        salt: impl Hash,
        f: impl FnOnce(&ModelEngine, &mut Env<'_>) -> T,
    ) -> (T, Snapshot) {
        let (out, after, _) = self.run_on(&Exec::Alone, store, clock, salt, f);
        (out, after)
    }

    /// Runs `f` as `exec` says: alone, or on an instance that began it before `store` was
    /// committed (its transactions first see the records as they were, and may conflict).
    /// Also says whether a transaction met the other instance's commit and ran again.
    pub fn run_on<T>(
        &self,
        exec: &Exec,
        store: &Snapshot,
        clock: u64,
        salt: impl Hash,
        f: impl FnOnce(&ModelEngine, &mut Env<'_>) -> T,
    ) -> (T, Snapshot, bool) {
        run_engine(&self.template, exec, store, clock, salt, f)
    }

    /// Whether `token` is active for its own client in the model's tenant, and in the other tenant.
    pub fn activity(&self, store: &Snapshot, clock: u64, owner: Client, token: &str) -> (bool, bool) {
        let ((here, there), _) = self.run(store, clock, ("observe", token), |e, env| {
            let here = e
                .handle_introspect(env, TENANT, &self.creds(owner), token)
                .map(|i| i.active)
                .unwrap_or(false);
            let there = e
                .handle_introspect(env, OTHER_TENANT, &self.other_tenant_creds(), token)
                .map(|i| i.active)
                .unwrap_or(false);
            (here, there)
        });
        (here, there)
    }
}

/// Runs `f` as `exec` says on an engine made from `template` over `store` at model time `clock`
/// (its random source seeded from the records, `salt` and `exec`); returns the result, the
/// records after, and whether a transaction met the other instance's commit and ran again.
pub fn run_engine<T>(
    template: &Engine<MemStore>,
    exec: &Exec,
    store: &Snapshot,
    clock: u64,
    salt: impl Hash,
    f: impl FnOnce(&ModelEngine, &mut Env<'_>) -> T,
) -> (T, Snapshot, bool) {
    let model_store = match exec {
        Exec::Alone => ModelStore::new(store, None, Fault::None),
        Exec::Raced { began, fault } => ModelStore::new(store, Some(began), *fault),
    };
    let engine = template.with_store(model_store);
    let mut h = DefaultHasher::new();
    store.hash(&mut h);
    salt.hash(&mut h);
    exec.hash(&mut h);
    let mut rng = SeededRandom::new(h.finish());
    let mut env = Env::new(UnixTime(T0 + clock), &mut rng);
    let out = f(&engine, &mut env);
    let after = engine.store().snapshot();
    let after = if after == **store {
        store.clone()
    } else {
        Arc::new(after)
    };
    (out, after, engine.store().raced())
}

/// The authorization request of an honest flow.
pub fn request(client: Client, flow: usize, scope: &str, prompt: Option<&str>) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some(client.id().into()),
        redirect_uri: Some(client.redirect().into()),
        response_type: Some("code".into()),
        scope: Some(scope.into()),
        state: Some(format!("state-{flow}")),
        code_challenge: Some(engine::authorize::pkce::s256(&verifier(flow))),
        code_challenge_method: Some("S256".into()),
        prompt: prompt.map(str::to_owned),
        ..Default::default()
    }
}

/// A code exchange request.
pub fn exchange(code: &str, redirect: &str, verifier: Option<&str>) -> TokenRequest {
    TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(redirect.into()),
        code_verifier: verifier.map(str::to_owned),
        ..Default::default()
    }
}

/// A refresh request.
pub fn refresh(rt: &str) -> TokenRequest {
    TokenRequest {
        grant_type: Some("refresh_token".into()),
        refresh_token: Some(rt.into()),
        ..Default::default()
    }
}

/// Runs a whole honest interaction (authorize, login if asked, consent if asked) for set-up.
/// Returns the code and the session token.
pub fn honest_code(
    e: &ModelEngine,
    env: &mut Env<'_>,
    req: &AuthorizationRequest,
    session: Option<String>,
) -> (String, String) {
    let mut session = session;
    let mut out = e.handle_authorize(env, TENANT, req, session.as_deref());
    if let AuthorizeOutcome::Login(p) = &out {
        match e.handle_login(env, TENANT, &p.transaction, "alice", PASSWORD, None) {
            LoginOutcome::LoggedIn { session: s, next } => {
                session = Some(s.token);
                out = next;
            }
            other => panic!("set-up login failed: {other:?}"),
        }
    }
    if let AuthorizeOutcome::Consent(p) = &out {
        out = e.handle_consent(env, TENANT, &p.transaction, session.as_deref(), true);
    }
    match out {
        AuthorizeOutcome::Redirect(r) => (
            r.param("code").expect("set-up code").to_string(),
            session.expect("session"),
        ),
        other => panic!("set-up flow failed: {other:?}"),
    }
}

/// A DPoP key of the model: the honest client's (`Holder`) or the thief's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DpopKey {
    /// The key the honest client's tokens are bound to.
    Holder,
    /// The thief's own key.
    Thief,
}

/// A DPoP proof by `key` for `method url` at `now`, with `jti`, for `token` if given.
pub fn dpop_proof(
    key: DpopKey,
    method: &str,
    url: &str,
    now: UnixTime,
    jti: &str,
    token: Option<&str>,
) -> engine::dpop::DpopHeader {
    let seed = match key {
        DpopKey::Holder => 1u8,
        DpopKey::Thief => 2u8,
    };
    let signer = engine::jose::SigningKey::from_material(&engine::jose::KeyMaterial::p256_scalar(&[seed; 32]))
        .expect("a P-256 scalar");
    let claims = fixtures::ProofClaims {
        htm: method.into(),
        htu: url.into(),
        iat: now.0,
        jti: jti.into(),
        access_token: token.map(str::to_owned),
        nonce: None,
    };
    engine::dpop::DpopHeader {
        value: fixtures::dpop_proof(&signer, &claims),
        method: method.into(),
    }
}

/// The model tenant's endpoint URL.
pub fn endpoint(name: &str) -> String {
    format!("https://op.example/{TENANT}/{name}")
}

/// Tokens of a successful exchange, for set-up.
pub fn tokens(r: engine::Result<TokenResponse>) -> TokenResponse {
    r.expect("set-up token request")
}
