//! Rate limits on the token endpoint (per IP and per client) and the login form (per IP), and a
//! throttle on failed logins per account: over a limit, 429 with `Retry-After` and
//! `temporarily_unavailable`.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sustained requests per second allowed per key (the burst is the same number); 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Token requests per second per client IP.
    pub token_per_ip: u32,
    /// Token requests per second per client_id.
    pub token_per_client: u32,
    /// Login attempts per second per client IP.
    pub login_per_ip: u32,
    /// Failed logins per account (tenant and submitted username) within
    /// [`FAILED_LOGIN_WINDOW`]; once reached, the account's form answers 429 until the window ends.
    pub login_failures_per_account: u32,
}

/// The window over which failed logins per account are counted.
pub const FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(600);

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            token_per_ip: 500,
            token_per_client: 500,
            login_per_ip: 10,
            login_failures_per_account: 10,
        }
    }
}

/// One keyed limiter.
pub struct Limiter {
    inner: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

impl Limiter {
    /// A limiter allowing `per_second` per key (0: unlimited).
    pub fn new(per_second: u32) -> Self {
        Limiter {
            inner: NonZeroU32::new(per_second).map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// `Err(seconds to wait)` when `key` is over its limit.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(l) = &self.inner else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(4096) {
            l.retain_recent();
        }
        l.check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

/// The server's limiters.
pub struct Limiters {
    /// Token endpoint, per IP.
    pub token_ip: Limiter,
    /// Token endpoint, per client.
    pub token_client: Limiter,
    /// Login form, per IP.
    pub login_ip: Limiter,
    /// Failed logins, per account.
    pub login_account: FailureThrottle,
}

impl Limiters {
    /// Limiters for `limits`.
    pub fn new(limits: RateLimits) -> Self {
        Limiters {
            token_ip: Limiter::new(limits.token_per_ip),
            token_client: Limiter::new(limits.token_per_client),
            login_ip: Limiter::new(limits.login_per_ip),
            login_account: FailureThrottle::new(limits.login_failures_per_account, FAILED_LOGIN_WINDOW),
        }
    }
}

/// Counts failures per key in a fixed window that opens at the first failure; a key with
/// `max` failures is refused until its window ends. A success clears the key. Keys are counted
/// whether or not the account exists, so the throttle tells an attacker nothing about names.
pub struct FailureThrottle {
    max: u32,
    window: Duration,
    keys: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept before expired ones are dropped.
const THROTTLE_PRUNE_AT: usize = 100_000;

impl FailureThrottle {
    /// At most `max` failures per key per `window` (0: unlimited).
    pub fn new(max: u32, window: Duration) -> Self {
        FailureThrottle {
            max,
            window,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(seconds to wait)` when `key` has used up its failures.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.max == 0 {
            return Ok(());
        }
        match self.keys().get(key) {
            Some(&(n, since)) if n >= self.max && since.elapsed() < self.window => {
                Err((self.window - since.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Records a failed attempt for `key`.
    pub fn failed(&self, key: &str) {
        if self.max == 0 {
            return;
        }
        let mut keys = self.keys();
        if keys.len() >= THROTTLE_PRUNE_AT {
            let window = self.window;
            keys.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = keys.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Forgets `key`'s failures (after a successful login).
    pub fn succeeded(&self, key: &str) {
        if self.max > 0 {
            self.keys().remove(key);
        }
    }
}

/// The throttle key of a login attempt: the tenant and the username as typed, trimmed and
/// lower-cased (so case variants share one budget).
pub fn account_key(tenant: &str, username: &str) -> String {
    format!("{tenant}/{}", username.trim().to_lowercase())
}

/// The client IP of a request, as a limiter key.
pub fn ip_of(req: &poem::Request) -> String {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_zero_means_off() {
        let l = Limiter::new(2);
        assert!(l.check("a").is_ok() && l.check("a").is_ok());
        assert!(l.check("a").unwrap_err() >= 1);
        assert!(l.check("b").is_ok());
        let off = Limiter::new(0);
        assert!((0..1000).all(|_| off.check("a").is_ok()));
    }

    #[test]
    fn failures_per_key_are_throttled_until_the_window_ends_and_success_clears() {
        let t = FailureThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("a").is_ok());
            t.failed("a");
        }
        assert!(t.check("a").unwrap_err() >= 1);
        assert!(t.check("b").is_ok());
        t.succeeded("a");
        assert!(t.check("a").is_ok());
        let short = FailureThrottle::new(1, Duration::from_millis(20));
        short.failed("a");
        assert!(short.check("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(short.check("a").is_ok());
        let off = FailureThrottle::new(0, Duration::from_secs(60));
        (0..100).for_each(|_| off.failed("a"));
        assert!(off.check("a").is_ok());
        assert_eq!(account_key("t", " Alice "), account_key("t", "alice"));
    }
}
