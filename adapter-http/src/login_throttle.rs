//! The failed-login throttle. Failures are counted per account (tenant and name as typed, known or
//! not, so the throttle tells nobody which names exist) in a fixed window:
//! - per account *and source IP*: a source that used up its failures gets 429 for that account
//!   until the window ends; the same account from another source is not affected, so a stranger
//!   cannot lock a user out;
//! - per account from every source, a higher ceiling: past it the account is slowed to one attempt
//!   per [`SLOWED_LOGIN_INTERVAL`] from anyone, never locked.
//!
//! An administrator can clear an account's counts (`POST …/users/{id}/unlock`). The counts live in
//! this process; instances over one PostgreSQL tell each other every failure, success and unlock
//! (`shared_state::Replicated`), so each counts the failures made at all of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window over which failed logins are counted.
pub const FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(600);

/// Past the per-account ceiling, the least time between two attempts at the account.
pub const SLOWED_LOGIN_INTERVAL: Duration = Duration::from_secs(5);

/// Entries kept before expired ones are dropped.
const PRUNE_AT: usize = 100_000;

/// One key's failures in its window.
#[derive(Clone, Copy)]
struct Count {
    failures: u32,
    since: Instant,
    /// Past the ceiling: when the next attempt may come.
    next_attempt: Option<Instant>,
}

/// Failed-login counts per (account, source) and per account.
pub struct LoginThrottle {
    per_source: u32,
    per_account: u32,
    window: Duration,
    slowed: Duration,
    counts: Mutex<HashMap<String, Count>>,
}

/// The throttle key of a login name: the tenant and the name as typed, trimmed and lower-cased
/// (so case variants share one budget).
pub fn account_key(tenant: &str, username: &str) -> String {
    format!("{tenant}/{}", username.trim().to_lowercase())
}

fn source_key(account: &str, ip: &str) -> String {
    format!("{account}\u{0}{ip}")
}

fn seconds(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl LoginThrottle {
    /// At most `per_source` failures per (account, source) and `per_account` per account before
    /// slowing, per [`FAILED_LOGIN_WINDOW`] (0 turns either off).
    pub fn new(per_source: u32, per_account: u32) -> Self {
        Self::with_timing(per_source, per_account, FAILED_LOGIN_WINDOW, SLOWED_LOGIN_INTERVAL)
    }

    /// The same with another window and slowed interval (tests).
    pub fn with_timing(per_source: u32, per_account: u32, window: Duration, slowed: Duration) -> Self {
        LoginThrottle {
            per_source,
            per_account,
            window,
            slowed,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, c: &Count, now: Instant) -> bool {
        now.duration_since(c.since) < self.window
    }

    /// `Err(seconds to wait)` when `ip` may not try `account` now. An allowed attempt at a slowed
    /// account takes the account's next slot.
    // LOGIN-brute-force-throttle
    pub fn check(&self, account: &str, ip: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut counts = self.counts();
        if self.per_source > 0 {
            if let Some(c) = counts.get(&source_key(account, ip)) {
                if c.failures >= self.per_source && self.live(c, now) {
                    return Err(seconds(self.window - now.duration_since(c.since)));
                }
            }
        }
        if self.per_account > 0 {
            let (window, slowed, ceiling) = (self.window, self.slowed, self.per_account);
            if let Some(c) = counts.get_mut(account) {
                if c.failures >= ceiling && now.duration_since(c.since) < window {
                    match c.next_attempt {
                        Some(at) if at > now => return Err(seconds(at - now)),
                        _ => c.next_attempt = Some(now + slowed),
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a failed attempt of `ip` at `account`.
    pub fn failed(&self, account: &str, ip: &str) {
        let now = Instant::now();
        let window = self.window;
        let mut counts = self.counts();
        if counts.len() >= PRUNE_AT {
            counts.retain(|_, c| now.duration_since(c.since) < window);
        }
        let keys = [
            (self.per_source > 0).then(|| source_key(account, ip)),
            (self.per_account > 0).then(|| account.to_string()),
        ];
        for key in keys.into_iter().flatten() {
            let c = counts.entry(key).or_insert(Count {
                failures: 0,
                since: now,
                next_attempt: None,
            });
            if now.duration_since(c.since) >= window {
                *c = Count {
                    failures: 0,
                    since: now,
                    next_attempt: None,
                };
            }
            c.failures = c.failures.saturating_add(1);
        }
    }

    /// Forgets the failures of `ip` at `account` after it signed in (the account's own count
    /// stays: a success from one source says nothing about the others).
    pub fn succeeded(&self, account: &str, ip: &str) {
        self.counts().remove(&source_key(account, ip));
    }

    /// Forgets every failure counted against `account`, from every source (an administrator's unlock).
    pub fn unlock(&self, account: &str) {
        let prefix = source_key(account, "");
        self.counts().retain(|k, _| k != account && !k.starts_with(&prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "t/alice";

    #[test]
    fn one_source_is_locked_out_of_one_account_and_others_are_not() {
        let t = LoginThrottle::new(3, 100);
        for _ in 0..3 {
            assert!(t.check(A, "10.0.0.1").is_ok());
            t.failed(A, "10.0.0.1");
        }
        assert!(t.check(A, "10.0.0.1").unwrap_err() > 60);
        assert!(t.check(A, "10.0.0.2").is_ok(), "another source still gets in");
        assert!(
            t.check("t/bob", "10.0.0.1").is_ok(),
            "another account from the same source too"
        );
        t.succeeded(A, "10.0.0.2");
        assert!(
            t.check(A, "10.0.0.1").is_err(),
            "a success elsewhere does not clear this source"
        );
        t.unlock(A);
        assert!(t.check(A, "10.0.0.1").is_ok(), "an unlock does");
        assert_eq!(account_key("t", " Alice "), account_key("t", "alice"));
    }

    #[test]
    fn past_the_account_ceiling_attempts_are_slowed_never_locked() {
        let t = LoginThrottle::with_timing(0, 4, Duration::from_secs(60), Duration::from_millis(40));
        for i in 0..4 {
            let ip = format!("10.0.0.{i}");
            assert!(t.check(A, &ip).is_ok());
            t.failed(A, &ip);
        }
        assert!(
            t.check(A, "10.0.1.1").is_ok(),
            "the first attempt past the ceiling goes through"
        );
        assert_eq!(t.check(A, "10.0.1.2"), Err(1), "the next one waits for the interval");
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            t.check(A, "10.0.1.2").is_ok(),
            "and then goes through: slowed, not locked"
        );
        let short = LoginThrottle::with_timing(1, 0, Duration::from_millis(20), Duration::ZERO);
        short.failed(A, "ip");
        assert!(short.check(A, "ip").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(short.check(A, "ip").is_ok(), "the window ends");
        let off = LoginThrottle::new(0, 0);
        (0..100).for_each(|_| off.failed(A, "ip"));
        assert!(off.check(A, "ip").is_ok());
    }
}
