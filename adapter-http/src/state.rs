//! What every handler shares: the engine over its store, the pages, and cookie policy.

use crate::data_store::DataStore;
use crate::os_env::{now_nanos, OsRandom};
use crate::pages::Pages;
use engine::{Engine, Env};
use std::sync::Arc;

/// Server-wide state.
pub struct AppState {
    /// The protocol engine.
    pub engine: Engine<DataStore>,
    /// HTML templates.
    pub pages: Pages,
    /// Mark cookies `Secure` (false only for plain-http loopback development).
    pub secure_cookies: bool,
    /// What every instance must agree on: document generation, rate limits, failed logins,
    /// client key refreshes, purge leadership.
    pub shared: Arc<dyn crate::shared_state::SharedState>,
    /// Discovery and JWKS documents, rendered once per tenant.
    pub docs: crate::doc_cache::DocCache,
    /// Password checks running at once: one per core. Each argon2id check takes 19 MiB and a
    /// core for ~20 ms; more at once only thrash the caches and multiply memory (a burst of 16
    /// logins peaked at 320 MB before this).
    pub password_checks: tokio::sync::Semaphore,
    /// Outbound HTTP (request_uri, jwks_uri, sector_identifier_uri, back-channel logout).
    pub outbound: crate::outbound::Outbound,
    /// Counters for the metrics listener.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Invitation mail, when `--smtp-url` is set.
    pub mailer: Option<crate::mail::Mailer>,
}

/// How many argon2id checks may run at once: the cores this process may use.
pub fn password_check_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Shared handle to the state.
pub type Shared = Arc<AppState>;

impl AppState {
    /// Runs `f` with a fresh real-world `Env`.
    pub fn with_env<T>(&self, f: impl FnOnce(&Engine<DataStore>, &mut Env<'_>) -> T) -> T {
        let mut rng = OsRandom;
        let mut env = Env::precise(now_nanos(), &mut rng);
        f(&self.engine, &mut env)
    }
}
