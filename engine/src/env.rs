//! What the outside world hands the engine on every call: the time and a random source.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// Wall-clock time in whole seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// This time plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

/// A source of cryptographically strong random bytes (OS randomness in the server, seeded in tests).
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// A deterministic ChaCha20 random source for tests, models and fuzzing.
pub struct SeededRandom(ChaCha20Rng);

impl SeededRandom {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom(ChaCha20Rng::seed_from_u64(seed))
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

/// Nanoseconds in a second.
const NANOS: u64 = 1_000_000_000;

/// The per-call environment: the current time and the random source.
// ENGINE-deterministic
pub struct Env<'a> {
    /// Now, as the caller's clock says.
    pub now: UnixTime,
    /// Now in nanoseconds since the epoch (within `now`'s second), for ordering audit events.
    pub nanos: u64,
    /// Where random values come from.
    pub rng: &'a mut dyn RandomSource,
}

impl<'a> Env<'a> {
    /// Bundles a time (whole seconds) and a random source.
    pub fn new(now: UnixTime, rng: &'a mut dyn RandomSource) -> Self {
        Env {
            now,
            nanos: now.0.saturating_mul(NANOS),
            rng,
        }
    }

    /// Bundles a time in nanoseconds since the epoch and a random source.
    pub fn precise(nanos: u64, rng: &'a mut dyn RandomSource) -> Self {
        Env {
            now: UnixTime(nanos / NANOS),
            nanos,
            rng,
        }
    }

    /// `N` random bytes.
    pub fn random_bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill(&mut b);
        b
    }
}
