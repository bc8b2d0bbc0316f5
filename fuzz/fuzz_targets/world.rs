//! A small fixed world for the engine targets: one tenant, three clients, one user, an RS256 and
//! an ES256 key.
#![allow(dead_code)]

use engine::client::auth::ClientCredentials;
use engine::jose::VerifyKey;
use engine::password::PasswordParams;
use engine::store::Table;
use engine::{
    fixtures, ClientSpec, Engine, EngineConfig, Env, MemStore, SeededRandom, TenantRecord, UnixTime, UserProfile,
};
use spec::{ClientAuthMethod, GrantType, SigningAlg};
use std::sync::OnceLock;

pub const T: &str = "acme";
pub const NOW: u64 = 1_750_000_000;
pub const PASSWORD: &str = "correct horse battery";
pub const CLIENTS: [(&str, &str); 3] = [
    ("web", "https://app.example.com/cb"),
    ("spa", "http://localhost:5173/cb"),
    ("fapi", "https://fapi.example.com/cb"),
];

pub struct World {
    pub engine: Engine<MemStore>,
    pub snapshot: Vec<(Table, String, Vec<u8>)>,
    pub web_secret: String,
    /// alice's user id.
    pub alice: String,
}

/// A platform administrator, for the Admin API calls of the sequences.
pub fn admin() -> engine::admin::AdminPrincipal {
    engine::admin::AdminPrincipal {
        scope: engine::admin::AdminScope::Platform,
        tenant: "system".into(),
        client_id: "fuzz".into(),
        app: false,
    }
}

pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let mut config = EngineConfig::new("https://id.example.com");
        // The cheapest Argon2id there is (8 KiB, one pass): logins are most of a sequence's work.
        config.password = PasswordParams {
            m_cost: 8,
            t_cost: 1,
            p_cost: 1,
        };
        let engine = Engine::new(MemStore::new(), config, std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()));
        let mut rng = SeededRandom::new(1);
        let mut env = Env::new(UnixTime(NOW), &mut rng);
        engine
            .create_tenant(TenantRecord {
                // Dynamic registration (RFC 7591) open to anyone, for the sequences that register.
                registration_policy: engine::tenant::RegistrationPolicy::Open,
                ..TenantRecord::new(T.into(), "Acme".into())
            })
            .unwrap();
        engine.install_signing_key(&mut env, T, fixtures::rsa_key()).unwrap();
        // The clients that get tokens sign with ES256 (a sixth of an RSA signature's time), the
        // algorithm whose key the sequences rotate.
        engine.install_signing_key(&mut env, T, fixtures::p256_key()).unwrap();
        let es256 = |spec: &mut ClientSpec| {
            spec.id_token_signed_response_alg = SigningAlg::ES256;
            spec.access_token_signed_response_alg = SigningAlg::ES256;
        };
        let mut web = ClientSpec::new("Web", ClientAuthMethod::ClientSecretBasic, &[CLIENTS[0].1]);
        es256(&mut web);
        web.client_id = Some("web".into());
        web.grant_types.push(GrantType::ClientCredentials);
        web.require_consent = true;
        let (_, secret) = engine.create_client(&mut env, T, web).unwrap();
        let mut spa = ClientSpec::new("SPA", ClientAuthMethod::None, &[CLIENTS[1].1]);
        es256(&mut spa);
        spa.client_id = Some("spa".into());
        engine.create_client(&mut env, T, spa).unwrap();
        let mut fapi = ClientSpec::new("FAPI", ClientAuthMethod::PrivateKeyJwt, &[CLIENTS[2].1]);
        fapi.client_id = Some("fapi".into());
        fapi.grant_types.push(GrantType::ClientCredentials);
        let jwk = serde_json::to_value(VerifyKey::P256(*fixtures::p256_signing_key().verifying_key()).jwk()).unwrap();
        fapi.jwks = Some(serde_json::json!({ "keys": [jwk] }));
        engine.create_client(&mut env, T, fapi).unwrap();
        let alice = engine
            .create_user(
                &mut env,
                T,
                UserProfile {
                    username: "alice".into(),
                    ..Default::default()
                },
                PASSWORD,
            )
            .unwrap()
            .id;
        let snapshot = engine.store().snapshot();
        World {
            engine,
            snapshot,
            web_secret: secret.unwrap(),
            alice,
        }
    })
}

impl World {
    /// A fresh engine over the initial records.
    pub fn fresh(&self) -> Engine<MemStore> {
        self.engine.with_store(MemStore::from_snapshot(&self.snapshot))
    }

    pub fn creds(&self, client: usize) -> ClientCredentials {
        match client % 3 {
            0 => ClientCredentials::Basic {
                client_id: "web".into(),
                secret: self.web_secret.clone(),
            },
            1 => ClientCredentials::PublicId("spa".into()),
            _ => ClientCredentials::Basic {
                client_id: "fapi".into(),
                secret: "no secret".into(),
            },
        }
    }
}

pub fn verifier(i: usize) -> String {
    format!("fuzz-flow-{i}-verifier-0123456789abcdefghijklmnopqrstuvwxyz")
}
