//! Server nonces for DPoP proofs (RFC 9449 §8): an HMAC under the system secret of the tenant and
//! the current five-minute window, so every instance that shares the secret gives and accepts the
//! same nonces without storing them. A nonce stays good for the window it was given in and the
//! next one (five to ten minutes).

use crate::env::UnixTime;
use crate::sealing::Sealer;
use crate::secret::{b64url, constant_time_eq};

/// The length of a nonce window, seconds.
pub const WINDOW_SECS: u64 = 300;

/// The HMAC purpose of nonces.
const PURPOSE: &str = "dpop nonce";

fn for_window(sealer: &dyn Sealer, tenant: &str, window: u64) -> String {
    let mut msg = tenant.as_bytes().to_vec();
    msg.push(0);
    msg.extend_from_slice(&window.to_be_bytes());
    b64url(&sealer.mac(PURPOSE, &msg)[..24])
}

/// The nonce a client of `tenant` is given now.
pub fn current(sealer: &dyn Sealer, tenant: &str, now: UnixTime) -> String {
    for_window(sealer, tenant, now.0 / WINDOW_SECS)
}

/// Whether `nonce` is one given to clients of `tenant` in this window or the one before.
// RFC9449-8-server-nonce
pub fn accepts(sealer: &dyn Sealer, tenant: &str, now: UnixTime, nonce: &str) -> bool {
    let window = now.0 / WINDOW_SECS;
    [window, window.saturating_sub(1)]
        .iter()
        .any(|w| constant_time_eq(for_window(sealer, tenant, *w).as_bytes(), nonce.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::SystemSecrets;

    #[test]
    fn a_nonce_is_good_for_its_window_and_the_next_in_its_tenant_only() {
        let s = SystemSecrets::for_tests();
        let t0 = UnixTime(1_000 * WINDOW_SECS + 10);
        let n = current(&s, "demo", t0);
        assert!(accepts(&s, "demo", t0, &n));
        assert!(accepts(&s, "demo", UnixTime(t0.0 + WINDOW_SECS), &n));
        assert!(!accepts(&s, "demo", UnixTime(t0.0 + 2 * WINDOW_SECS), &n));
        assert!(!accepts(&s, "acme", t0, &n));
        assert!(!accepts(&s, "demo", t0, "made-up"));
        let other = SystemSecrets::new(&["another system secret that is long enough"]).unwrap();
        assert!(!accepts(&other, "demo", t0, &n));
    }
}
