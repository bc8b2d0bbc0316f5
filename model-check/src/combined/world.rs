//! The combined model's world: two tenants, a confidential and a public client in each, two
//! users in each, ES256 keys (signing is the costliest step of a transition), and the plumbing
//! that runs one engine call on a state's records.

use crate::store::ModelStore;
use crate::world::{Exec, Snapshot, T0};
use engine::admin::{AdminPrincipal, AdminScope, TenantAdmin};
use engine::client::auth::ClientCredentials;
use engine::jose::KeyMaterial;
use engine::mutants::Mutants;
use engine::password::PasswordParams;
use engine::{ClientSpec, Engine, EngineConfig, Env, MemStore, SeededRandom, TenantRecord, UnixTime, UserProfile};
use spec::{ClientAuthMethod, GrantType, SigningAlg};
use std::hash::Hash;
use std::sync::Arc;

/// The tenants.
pub const TENANTS: [&str; 2] = ["acme", "globex"];
/// The users (each exists in both tenants, with the same password).
pub const USERS: [&str; 2] = ["alice", "bob"];
/// Every user's password.
pub const PASSWORD: &str = "correct horse battery";
/// Access and ID token lifetime of the model's clients, seconds.
pub const ACCESS_TTL: u64 = 300;

/// A client of a tenant: the confidential web app (client_secret_basic) or the public SPA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Confidential: `app`.
    App,
    /// Public, PKCE only: `spa`.
    Spa,
}

impl Kind {
    /// Both.
    pub const ALL: [Kind; 2] = [Kind::App, Kind::Spa];
    /// Its client_id (the same in both tenants).
    pub fn id(self) -> &'static str {
        match self {
            Kind::App => "app",
            Kind::Spa => "spa",
        }
    }
    /// Its one registered redirect URI.
    pub fn redirect(self) -> &'static str {
        match self {
            Kind::App => "https://app.example/cb",
            Kind::Spa => "https://spa.example/cb",
        }
    }
    /// The other client of the tenant.
    pub fn other(self) -> Kind {
        match self {
            Kind::App => Kind::Spa,
            Kind::Spa => Kind::App,
        }
    }
}

/// The signing key installed by the `n`th rotation (0: at set-up).
pub fn key(n: u8) -> KeyMaterial {
    KeyMaterial::p256_scalar(&[n + 1; 32])
}

/// The engine template and the records after set-up.
pub struct CombinedWorld {
    template: Engine<MemStore>,
    /// Records after set-up.
    pub initial: Snapshot,
    /// `app`'s secret per tenant.
    secrets: [String; 2],
    /// User ids per tenant, per user.
    pub user_ids: [[String; 2]; 2],
    principal: AdminPrincipal,
}

impl CombinedWorld {
    /// Builds the world with the given deliberate bugs switched on.
    pub fn new(mutants: Mutants) -> Self {
        let mut config = EngineConfig::new("https://op.example");
        config.audit = false;
        config.password = PasswordParams::for_tests();
        config.mutants = mutants;
        let engine = Engine::new(
            MemStore::new(),
            config,
            Arc::new(engine::sealing::SystemSecrets::for_tests()),
        );
        let mut rng = SeededRandom::new(11);
        let mut env = Env::new(UnixTime(T0), &mut rng);
        let mut secrets = [String::new(), String::new()];
        let mut user_ids: [[String; 2]; 2] = Default::default();
        for (t, tenant) in TENANTS.iter().enumerate() {
            engine
                .create_tenant(TenantRecord::new((*tenant).into(), (*tenant).into()))
                .expect("tenant");
            engine.install_signing_key(&mut env, tenant, key(0)).expect("key");
            for k in Kind::ALL {
                let method = match k {
                    Kind::App => ClientAuthMethod::ClientSecretBasic,
                    Kind::Spa => ClientAuthMethod::None,
                };
                let mut spec = ClientSpec::new(k.id(), method, &[k.redirect()]);
                spec.client_id = Some(k.id().into());
                spec.post_logout_redirect_uris = vec![format!("{}/bye", k.redirect())];
                spec.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
                spec.id_token_signed_response_alg = SigningAlg::ES256;
                spec.access_token_signed_response_alg = SigningAlg::ES256;
                spec.access_token_ttl = ACCESS_TTL;
                spec.id_token_ttl = ACCESS_TTL;
                spec.require_consent = true;
                let (_, secret) = engine.create_client(&mut env, tenant, spec).expect("client");
                if let Some(s) = secret {
                    secrets[t] = s;
                }
            }
            for (u, name) in USERS.iter().enumerate() {
                let profile = UserProfile {
                    username: (*name).into(),
                    ..Default::default()
                };
                user_ids[t][u] = engine
                    .create_user(&mut env, tenant, profile, PASSWORD)
                    .expect("user")
                    .id;
            }
        }
        let initial = Arc::new(engine.store().snapshot());
        CombinedWorld {
            template: engine,
            initial,
            secrets,
            user_ids,
            principal: AdminPrincipal {
                scope: AdminScope::Platform,
                tenant: "system".into(),
                client_id: "model".into(),
                app: false,
            },
        }
    }

    /// How client `k` of tenant `t` authenticates.
    pub fn creds(&self, t: usize, k: Kind) -> ClientCredentials {
        match k {
            Kind::Spa => ClientCredentials::PublicId(k.id().into()),
            Kind::App => ClientCredentials::Basic {
                client_id: k.id().into(),
                secret: self.secrets[t].clone(),
            },
        }
    }

    /// The Admin API of tenant `t`, as the platform administrator.
    pub fn admin<'a>(&'a self, e: &'a ModelEngine, t: usize) -> TenantAdmin<'a, ModelStore> {
        e.tenant_admin(&self.principal, TENANTS[t]).expect("tenant admin")
    }

    /// Runs `f` as `exec` says on an engine over `store` at model time `clock`; returns the
    /// result, the records after, and whether a transaction met the other instance's commit.
    pub fn run<T>(
        &self,
        exec: &Exec,
        store: &Snapshot,
        clock: u64,
        salt: impl Hash,
        f: impl FnOnce(&ModelEngine, &mut Env<'_>) -> T,
    ) -> (T, Snapshot, bool) {
        crate::world::run_engine(&self.template, exec, store, clock, salt, f)
    }
}

/// The engine the combined model runs.
pub type ModelEngine = Engine<ModelStore>;

/// PKCE verifier of flow `f`.
pub fn verifier(f: usize) -> String {
    format!("flow-{f}-verifier-0123456789abcdefghijklmnopqrstuvwxyz0123")
}

/// The attacker's own verifier.
pub const ATTACKER_VERIFIER: &str = "attacker-verifier-0123456789abcdefghijklmnopqrstuvwxyz";

/// The claims of a JWT, unverified (the model reads what the engine put in its own tokens).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    jwt.split('.')
        .nth(1)
        .and_then(engine::secret::b64url_decode)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}
