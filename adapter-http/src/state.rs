//! What every handler shares: the engine over its store, the pages, and cookie policy.

use crate::data_store::{DataStore, EngineCalls, Lifecycle};
use crate::os_env::{now_nanos, OsRandom};
use crate::pages::Pages;
use engine::{Engine, EngineConfig, Env};
use std::sync::Arc;

/// Server-wide state.
pub struct AppState {
    /// The protocol engine, behind its one door.
    pub engine: EngineDoor,
    /// HTML templates.
    pub pages: Pages,
    /// Mark cookies `Secure` (false only for plain-http loopback development).
    pub secure_cookies: bool,
    /// What every instance must agree on: document generation, rate limits, failed logins,
    /// client key refreshes, purge leadership.
    pub shared: Arc<dyn crate::shared_state::SharedState>,
    /// Whose `X-Forwarded-For` names the client (`client_ip`).
    pub proxies: crate::client_ip::TrustedProxies,
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

/// The one way to the engine from a request: `call` runs an engine call where the store says it
/// belongs (`EngineCalls`: on the awaiting worker for the embedded stores, on the blocking pool
/// for a store that waits on the network) and returns once what it wrote is durable. The engine
/// itself is private to this type, so no handler can call it any other way; what needs no store
/// (issuer URLs, configuration) and the store's upkeep (flushes, maintenance, figures) are
/// reached without a call.
pub struct EngineDoor {
    engine: Arc<Engine<DataStore>>,
    calls: EngineCalls,
}

impl EngineDoor {
    /// Puts `engine` behind the door, running calls where its store says.
    pub fn new(engine: Engine<DataStore>) -> Self {
        let calls = engine.store().engine_calls();
        Self::running(engine, calls)
    }

    /// Puts `engine` behind the door, running calls as `calls` says.
    pub fn running(engine: Engine<DataStore>, calls: EngineCalls) -> Self {
        EngineDoor {
            engine: Arc::new(engine),
            calls,
        }
    }

    /// Runs `f` with the engine and a fresh real-world `Env`, then waits until every write it made
    /// is on disk (group commit: one flush serves every call that wrote before it began). A panic
    /// in `f` is resumed here, as if `f` had run in place. `f` is `Send + 'static` in either mode,
    /// so a store that moves calls to the blocking pool changes no handler.
    pub async fn call<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&Engine<DataStore>, &mut Env<'_>) -> T + Send + 'static,
    {
        self.run(self.calls, f).await
    }

    /// `call` for work slow by design whatever the store (an argon2id check, key generation):
    /// always on the blocking pool, so it never holds up the requests sharing a worker.
    pub async fn call_slow<T, F>(&self, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&Engine<DataStore>, &mut Env<'_>) -> T + Send + 'static,
    {
        self.run(EngineCalls::BlockingPool, f).await
    }

    async fn run<T, F>(&self, calls: EngineCalls, f: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(&Engine<DataStore>, &mut Env<'_>) -> T + Send + 'static,
    {
        let engine = self.engine.clone();
        let work = move || {
            engine.store().flusher().track(|| {
                let mut rng = OsRandom;
                let mut env = Env::precise(now_nanos(), &mut rng);
                f(&engine, &mut env)
            })
        };
        let (out, ticket) = match calls {
            EngineCalls::Inline => work(),
            EngineCalls::BlockingPool => match tokio::task::spawn_blocking(work).await {
                Ok(done) => done,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    // Only at runtime shutdown, which ends this task too.
                    Err(e) => panic!("an engine call was cancelled: {e}"),
                },
            },
        };
        self.engine.store().flusher().durable(ticket).await;
        out
    }

    /// The issuer URL of `tenant` (no store read).
    pub fn issuer(&self, tenant: &str) -> String {
        self.engine.issuer(tenant)
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        self.engine.config()
    }

    /// The store, for its upkeep and figures (`Lifecycle`), never for records.
    pub fn store(&self) -> &DataStore {
        self.engine.store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_store::StoreKind;
    use engine::{EngineConfig, TenantRecord};

    fn door(dir: &std::path::Path, calls: EngineCalls) -> EngineDoor {
        let store = DataStore::open(StoreKind::Sled, dir, 8 << 20).unwrap();
        EngineDoor::running(
            Engine::new(
                store,
                EngineConfig::new("http://localhost"),
                std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
            ),
            calls,
        )
    }

    /// Both modes run the call, hand back its answer, wait for its write and pass on a panic; the
    /// blocking pool runs it on another thread than the awaiting one, inline on the same.
    #[tokio::test(flavor = "current_thread")]
    async fn a_call_runs_where_the_store_says_and_answers_after_its_write_is_durable() {
        for (calls, same_thread) in [(EngineCalls::Inline, true), (EngineCalls::BlockingPool, false)] {
            let dir = tempfile::tempdir().unwrap();
            let door = door(dir.path(), calls);
            let caller = std::thread::current().id();
            let waits = door.store().flusher().stats().waits;
            let (ran_on, made) = door
                .call(|e, _| {
                    let made = e.create_tenant(TenantRecord::new("t".into(), "T".into()));
                    (std::thread::current().id(), made)
                })
                .await;
            made.unwrap();
            assert_eq!(ran_on == caller, same_thread, "{calls:?}");
            assert_eq!(
                door.store().flusher().stats().waits,
                waits + 1,
                "{calls:?}: the write was awaited through the group commit, not flushed alone"
            );
            let read = door.call(|e, _| e.tenant("t").unwrap().map(|t| t.display_name)).await;
            assert_eq!(read.as_deref(), Some("T"));
            let slow_on = door.call_slow(|_, _| std::thread::current().id()).await;
            assert_ne!(slow_on, caller, "{calls:?}: slow work always leaves the worker");
            let panicked = tokio::spawn(async move { door.call(|_, _| panic!("engine bug")).await }).await;
            assert!(panicked.unwrap_err().is_panic(), "{calls:?}");
        }
    }
}
