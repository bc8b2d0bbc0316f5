//! Rate limits on the token endpoint (per IP and per client) and the login form (per IP), and the
//! failed-login throttle ([`LoginThrottle`]): over a limit, 429 with `Retry-After` and
//! `temporarily_unavailable`.

pub use crate::login_throttle::{FAILED_LOGIN_WINDOW, SLOWED_LOGIN_INTERVAL};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sustained requests per second allowed per key (the burst is the same number); 0 turns a limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Token requests per second per client IP.
    pub token_per_ip: u32,
    /// Token requests per second per client_id.
    pub token_per_client: u32,
    /// Login attempts per second per client IP.
    pub login_per_ip: u32,
    /// Failed logins per account (tenant and submitted username) from one source IP within
    /// [`FAILED_LOGIN_WINDOW`]; once reached, that source's attempts at the account answer 429
    /// until the window ends. Other sources are not affected.
    pub login_failures_per_source: u32,
    /// Failed logins per account from all sources within the window; past it, the account takes
    /// one attempt per [`SLOWED_LOGIN_INTERVAL`] from anyone (slowed, never locked).
    pub login_failures_per_account: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            token_per_ip: 500,
            token_per_client: 500,
            login_per_ip: 10,
            login_failures_per_source: 10,
            login_failures_per_account: 100,
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

    /// Whether the limit counts at all (0 turns it off).
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Counts `n` requests for `key` that were allowed elsewhere (another instance), as far as
    /// the limit has room for them.
    pub fn count(&self, key: &str, n: u32) {
        let Some(l) = &self.inner else { return };
        let key = key.to_string();
        for _ in 0..n {
            if l.check_key(&key).is_err() {
                return;
            }
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
}
