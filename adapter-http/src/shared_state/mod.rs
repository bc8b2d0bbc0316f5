//! What every instance of the server must agree on, behind one trait: the generation of the
//! rendered documents (discovery, JWKS, CORS origins), the rate limits and the failed-login counts,
//! when a client's `jwks_uri` may be fetched again, and which instance runs the purge.
//!
//! [`Local`] keeps all of it in this process, which is right for one process on an embedded store.
//! [`Replicated`] is for several instances over one PostgreSQL: it answers from memory too,
//! because these methods sit on request paths and must not block, and exchanges what changed with
//! the other instances in the background (`replicated`), so they agree within milliseconds.

use crate::login_throttle::LoginThrottle;
use crate::rate_limit::{Limiter, RateLimits};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod replicated;
pub use replicated::Replicated;

/// The rate limits counted per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// Token requests per client IP.
    TokenPerIp,
    /// Token requests per client (tenant/client_id).
    TokenPerClient,
    /// Login form posts per client IP.
    LoginPerIp,
}

/// How often one client's `jwks_uri` may be fetched again.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// State the instances share. Every method answers from memory, at once.
pub trait SharedState: Send + Sync {
    /// The generation of the rendered documents: a document rendered under another one is stale.
    fn doc_generation(&self) -> u64;
    /// Something a rendered document shows has changed (a tenant, a client, a key): every instance
    /// renders its documents again.
    fn documents_changed(&self);
    /// `Err(seconds to wait)` when `limit` is used up for `key`; an allowed request counts.
    fn rate(&self, limit: Limit, key: &str) -> Result<(), u64>;
    /// `Err(seconds to wait)` when `ip` may not try to sign in as `account` now (`login_throttle`).
    fn login_allowed(&self, account: &str, ip: &str) -> Result<(), u64>;
    /// `ip` failed to sign in as `account`.
    fn login_failed(&self, account: &str, ip: &str);
    /// `ip` signed in as `account`.
    fn login_succeeded(&self, account: &str, ip: &str);
    /// An administrator cleared `account`'s failed-login counts.
    fn unlock_login(&self, account: &str);
    /// Whether `client` (tenant/client_id)'s `jwks_uri` may be fetched again now; an allowed fetch
    /// is recorded, so the next waits [`KEY_REFRESH_INTERVAL`].
    fn may_refresh_client_keys(&self, client: &str) -> bool;
    /// Whether this instance runs the periodic purge now (one instance at a time).
    fn leads_purge(&self) -> bool;
}

/// A shared state to hand to [`crate::Options`] (several servers in one process share one in tests;
/// the PostgreSQL issue's instances share the database's).
#[derive(Clone)]
pub struct Handle(pub std::sync::Arc<dyn SharedState>);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedState")
    }
}

/// All of it in this process.
pub struct Local {
    generation: AtomicU64,
    token_ip: Limiter,
    token_client: Limiter,
    login_ip: Limiter,
    logins: LoginThrottle,
    key_refreshes: Mutex<HashMap<String, Instant>>,
}

impl Local {
    /// State for one process with `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Local {
            generation: AtomicU64::new(0),
            token_ip: Limiter::new(limits.token_per_ip),
            token_client: Limiter::new(limits.token_per_client),
            login_ip: Limiter::new(limits.login_per_ip),
            logins: LoginThrottle::new(limits.login_failures_per_source, limits.login_failures_per_account),
            key_refreshes: Mutex::new(HashMap::new()),
        }
    }
}

impl Local {
    fn limiter(&self, limit: Limit) -> &Limiter {
        match limit {
            Limit::TokenPerIp => &self.token_ip,
            Limit::TokenPerClient => &self.token_client,
            Limit::LoginPerIp => &self.login_ip,
        }
    }

    /// `client`'s keys were fetched now (here or by another instance).
    fn keys_fetched(&self, client: &str) {
        let mut m = self.key_refreshes.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(client.to_string(), Instant::now());
    }
}

impl SharedState for Local {
    fn doc_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn documents_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn rate(&self, limit: Limit, key: &str) -> Result<(), u64> {
        self.limiter(limit).check(key)
    }

    fn login_allowed(&self, account: &str, ip: &str) -> Result<(), u64> {
        self.logins.check(account, ip)
    }

    fn login_failed(&self, account: &str, ip: &str) {
        self.logins.failed(account, ip)
    }

    fn login_succeeded(&self, account: &str, ip: &str) {
        self.logins.succeeded(account, ip)
    }

    fn unlock_login(&self, account: &str) {
        self.logins.unlock(account)
    }

    fn may_refresh_client_keys(&self, client: &str) -> bool {
        let mut m = self.key_refreshes.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        m.retain(|_, t| now.duration_since(*t) < KEY_REFRESH_INTERVAL);
        if m.contains_key(client) {
            return false;
        }
        m.insert(client.to_string(), now);
        true
    }

    fn leads_purge(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_answers_every_question_itself() {
        let s: Box<dyn SharedState> = Box::new(Local::new(RateLimits {
            token_per_ip: 1,
            token_per_client: 0,
            login_per_ip: 1,
            login_failures_per_source: 1,
            login_failures_per_account: 0,
        }));
        let g = s.doc_generation();
        s.documents_changed();
        assert_eq!(s.doc_generation(), g + 1);
        assert!(s.rate(Limit::TokenPerIp, "ip").is_ok());
        assert!(s.rate(Limit::TokenPerIp, "ip").is_err());
        assert!(
            (0..100).all(|_| s.rate(Limit::TokenPerClient, "t/c").is_ok()),
            "0: no limit"
        );
        assert!(s.rate(Limit::LoginPerIp, "ip").is_ok() && s.rate(Limit::LoginPerIp, "ip").is_err());
        s.login_failed("t/alice", "ip");
        assert!(s.login_allowed("t/alice", "ip").is_err());
        s.unlock_login("t/alice");
        assert!(s.login_allowed("t/alice", "ip").is_ok());
        assert!(s.may_refresh_client_keys("t/c") && !s.may_refresh_client_keys("t/c"));
        assert!(s.may_refresh_client_keys("t/other"));
        assert!(s.leads_purge());
    }
}
