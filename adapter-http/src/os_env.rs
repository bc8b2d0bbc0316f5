//! The real world's clock and randomness, handed to the engine on every call.

use engine::{RandomSource, UnixTime};

/// Operating-system randomness.
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).expect("the operating system's random source is available");
    }
}

/// The current wall-clock time.
pub fn now() -> UnixTime {
    UnixTime(now_nanos() / 1_000_000_000)
}

/// The current wall-clock time in nanoseconds since the epoch.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A fresh random token (32 bytes, base64url): CSRF values.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRandom.fill(&mut bytes);
    engine::secret::b64url(&bytes)
}
