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
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime(secs)
}
