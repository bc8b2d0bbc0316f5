//! The engine: configuration, store and key cache. Flow handlers live in their own modules
//! as `impl Engine` blocks (`handle_*`).

use crate::audit::{AuditClock, AuditStamp};
use crate::client::ClientRecord;
use crate::config::EngineConfig;
use crate::jose::signing::Keyring;
use crate::sealing::Sealer;
use crate::store::{DecodedCache, Store};
use std::sync::{Arc, OnceLock};

/// The protocol engine over a store `S`.
pub struct Engine<S: Store> {
    pub(crate) store: S,
    pub(crate) config: EngineConfig,
    pub(crate) keys: Arc<Keyring>,
    /// Client records, decoded once per stored value (read by every authenticated call).
    pub(crate) clients: Arc<DecodedCache<ClientRecord>>,
    /// A password hash to verify against when the user does not exist (same cost either way).
    pub(crate) dummy_hash: OnceLock<String>,
    /// Orders this engine's audit events.
    pub(crate) audit_clock: Arc<AuditClock>,
}

impl<S: Store> Engine<S> {
    /// An engine over `store` with `config`, whose stored private keys `sealer` seals
    /// (`SystemSecrets` under the operator's system secret; `SystemSecrets::for_tests()` in tests).
    pub fn new(store: S, config: EngineConfig, sealer: Arc<dyn Sealer>) -> Self {
        Engine {
            store,
            config,
            keys: Arc::new(Keyring::new(sealer)),
            clients: Arc::default(),
            dummy_hash: OnceLock::new(),
            audit_clock: Arc::default(),
        }
    }

    /// An engine over another store that shares this one's configuration and parsed keys
    /// (models rebuild the store at every step).
    pub fn with_store<T: Store>(&self, store: T) -> Engine<T> {
        Engine {
            store,
            config: self.config.clone(),
            keys: self.keys.clone(),
            clients: self.clients.clone(),
            dummy_hash: OnceLock::new(),
            audit_clock: self.audit_clock.clone(),
        }
    }

    /// The decoded-record caches the authorization checks read through.
    pub(crate) fn caches(&self) -> crate::authorize::checks::Caches<'_> {
        crate::authorize::checks::Caches {
            keys: &self.keys,
            clients: &self.clients,
        }
    }

    /// Whether the deliberate bug selected by `pick` is switched on (never, without the `mutants` feature).
    #[allow(unused_variables)]
    pub(crate) fn mutant(&self, pick: fn(&crate::mutants::Mutants) -> bool) -> bool {
        #[cfg(feature = "mutants")]
        {
            pick(&self.config.mutants)
        }
        #[cfg(not(feature = "mutants"))]
        {
            false
        }
    }

    /// The store (for adapters that list records, and tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The stamp of an audit event about to be written: later than every one drawn before.
    pub(crate) fn stamp(&self, env: &mut crate::env::Env<'_>) -> AuditStamp {
        self.audit_clock.draw(env)
    }

    /// Writes an audit event of `tenant` inside the caller's transaction.
    // ADMIN-audit
    pub(crate) fn audit(
        &self,
        tx: &mut dyn crate::store::Tx,
        tenant: &str,
        event: &crate::audit::AuditEvent,
    ) -> crate::error::Result<()> {
        crate::audit::write(tx, self.config.audit, tenant, event)
    }

    /// The issuer identifier of `tenant`.
    pub fn issuer(&self, tenant: &str) -> String {
        self.config.issuer(tenant)
    }
}
