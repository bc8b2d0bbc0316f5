//! Secrets the server must read back (signing private keys; later TOTP seeds and upstream client
//! secrets), sealed under the operator's system secret before they reach the store.
//!
//! The adapter hands the engine a [`Sealer`], as it hands it the clock and the random source;
//! [`SystemSecrets`] is the one the server uses: AES-256-GCM under keys derived from the
//! operator's secrets, a random 96-bit nonce per record (drawn from the caller's random source,
//! so seeded runs stay deterministic), and the record's table, key and item as associated data,
//! so a ciphertext copied into another record's slot does not open.

use crate::env::RandomSource;
use crate::secret::{b64url, b64url_decode};
use crate::store::Table;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};

/// A sealed secret as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The id of the system secret that sealed it ([`Sealer::current_key`] at the time).
    pub key: String,
    /// The nonce, base64url.
    pub nonce: String,
    /// Ciphertext and tag, base64url.
    pub ct: String,
}

/// Why a sealed secret did not open, or secrets could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealError {
    /// Sealed under a system secret that is not among the ones given (its key id).
    UnknownKey(String),
    /// The key is known but the ciphertext does not open here: changed, or moved from another record.
    DoesNotOpen,
    /// A system secret that cannot be used (why).
    BadSecret(String),
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::UnknownKey(id) => write!(
                f,
                "sealed under system secret {id}, which is not among the system secrets given"
            ),
            SealError::DoesNotOpen => write!(f, "does not open: changed, or moved from another record"),
            SealError::BadSecret(why) => write!(f, "unusable system secret: {why}"),
        }
    }
}

/// Seals and opens the secrets the engine stores.
pub trait Sealer: Send + Sync {
    /// Seals `plain`, bound to `aad`, under the current secret; the nonce comes from `rng`.
    fn seal(&self, rng: &mut dyn RandomSource, aad: &[u8], plain: &[u8]) -> Sealed;
    /// Opens what [`Sealer::seal`] sealed with the same `aad`, under whichever secret sealed it.
    fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, SealError>;
    /// The id of the secret new seals use.
    fn current_key(&self) -> &str;
    /// HMAC-SHA256 of `msg` under a key derived from the current secret for `purpose`: values the
    /// server hands out and later recognises without storing them (DPoP nonces), the same on
    /// every instance that shares the secret.
    fn mac(&self, purpose: &str, msg: &[u8]) -> [u8; 32];
}

/// Hands out bytes drawn earlier: a sealing nonce drawn before a store transaction (which may
/// run more than once) and used inside it.
pub(crate) struct Drawn<'a>(pub(crate) &'a [u8]);

impl RandomSource for Drawn<'_> {
    fn fill(&mut self, dest: &mut [u8]) {
        for (d, s) in dest.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
    }
}

/// The associated data binding a sealed item to its place: table, record key, and the item
/// within the record (a signing key's kid).
pub fn record_aad(table: Table, key: &str, item: &str) -> Vec<u8> {
    format!("{}\0{key}\0{item}", table.name()).into_bytes()
}

/// The operator's system secrets: the first seals, every one opens.
pub struct SystemSecrets {
    keys: Vec<(String, LessSafeKey)>,
    /// The HMAC key of [`Sealer::mac`], from the first (current) secret.
    mac_key: hmac::Key,
}

/// The system secret of tests, models and fuzzing: public, so never a server's.
pub const A_TEST_SECRET: &str = "tests only: this system secret is public knowledge";

/// Domain separation for the derivations below.
const SALT: &[u8] = b"oidc-provider system secret v1";

struct Len(usize);
impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(secret: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    Salt::new(HKDF_SHA256, SALT)
        .extract(secret)
        .expand(&[info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-SHA256 expands to 32 bytes");
    out
}

impl SystemSecrets {
    /// The shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// Keys derived (HKDF-SHA256) from `secrets`, newest first. Each must be at least
    /// [`Self::MIN_LEN`] bytes; a repeated one is used once.
    pub fn new<B: AsRef<[u8]>>(secrets: &[B]) -> Result<Self, SealError> {
        if secrets.is_empty() {
            return Err(SealError::BadSecret("none given".into()));
        }
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &derive(secrets[0].as_ref(), b"hmac key", 32));
        for (n, s) in secrets.iter().enumerate() {
            let s = s.as_ref();
            if s.len() < Self::MIN_LEN {
                return Err(SealError::BadSecret(format!(
                    "secret {} has {} bytes; at least {} are needed",
                    n + 1,
                    s.len(),
                    Self::MIN_LEN
                )));
            }
            let id = b64url(&derive(s, b"key id", 6));
            if keys.iter().any(|(k, _)| *k == id) {
                continue;
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &derive(s, b"aes-256-gcm key", 32))
                .map_err(|_| SealError::BadSecret("key derivation".into()))?;
            keys.push((id, LessSafeKey::new(unbound)));
        }
        Ok(SystemSecrets { keys, mac_key })
    }

    /// Sealing under [`A_TEST_SECRET`], for tests, models and fuzzing (never for a server: it is public).
    pub fn for_tests() -> Self {
        Self::new(&[A_TEST_SECRET]).expect("long enough")
    }

    /// The key ids, newest (sealing) first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }
}

/// Shows the key ids only.
impl std::fmt::Debug for SystemSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SystemSecrets({:?})", self.key_ids())
    }
}

impl Sealer for SystemSecrets {
    fn seal(&self, rng: &mut dyn RandomSource, aad: &[u8], plain: &[u8]) -> Sealed {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut ct = plain.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut ct)
            .expect("AES-GCM seals any input this size");
        Sealed {
            key: id.clone(),
            nonce: b64url(&nonce),
            ct: b64url(&ct),
        }
    }

    fn open(&self, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key)
            .ok_or_else(|| SealError::UnknownKey(sealed.key.clone()))?;
        let nonce = b64url_decode(&sealed.nonce)
            .and_then(|n| Nonce::try_assume_unique_for_key(&n).ok())
            .ok_or(SealError::DoesNotOpen)?;
        let mut ct = b64url_decode(&sealed.ct).ok_or(SealError::DoesNotOpen)?;
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut ct)
            .map_err(|_| SealError::DoesNotOpen)?;
        Ok(plain.to_vec())
    }

    fn current_key(&self) -> &str {
        &self.keys[0].0
    }

    fn mac(&self, purpose: &str, msg: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(msg);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SeededRandom;

    fn secrets(s: &[&str]) -> SystemSecrets {
        SystemSecrets::new(s).unwrap()
    }
    const A: &str = "a system secret of at least thirty-two bytes";
    const B: &str = "another system secret, also long enough to use";

    #[test]
    fn opens_what_it_sealed_and_nothing_moved_or_changed() {
        let s = secrets(&[A]);
        let mut rng = SeededRandom::new(1);
        let aad = record_aad(Table::SigningKeys, "demo", "kid1");
        let sealed = s.seal(&mut rng, &aad, b"private bytes");
        assert_eq!(s.open(&aad, &sealed).unwrap(), b"private bytes");
        assert!(!sealed.ct.contains(&b64url(b"private bytes")));
        // Another record, another item, another table: the same ciphertext does not open.
        for other in [
            record_aad(Table::SigningKeys, "acme", "kid1"),
            record_aad(Table::SigningKeys, "demo", "kid2"),
            record_aad(Table::Client, "demo", "kid1"),
        ] {
            assert_eq!(s.open(&other, &sealed), Err(SealError::DoesNotOpen));
        }
        let mut flipped = sealed.clone();
        let mut ct = b64url_decode(&flipped.ct).unwrap();
        ct[0] ^= 1;
        flipped.ct = b64url(&ct);
        assert_eq!(s.open(&aad, &flipped), Err(SealError::DoesNotOpen));
        // Two seals of one value differ (a fresh nonce each).
        assert_ne!(s.seal(&mut rng, &aad, b"private bytes"), sealed);
    }

    #[test]
    fn the_first_secret_seals_and_every_one_opens() {
        let mut rng = SeededRandom::new(2);
        let aad = b"x";
        let old = secrets(&[A]).seal(&mut rng, aad, b"v");
        let both = secrets(&[B, A]);
        assert_eq!(both.open(aad, &old).unwrap(), b"v");
        let new = both.seal(&mut rng, aad, b"v");
        assert_eq!(new.key, both.current_key());
        assert_ne!(new.key, old.key);
        assert_eq!(
            secrets(&[A]).open(aad, &new),
            Err(SealError::UnknownKey(new.key.clone()))
        );
        assert_eq!(secrets(&[B]).open(aad, &new).unwrap(), b"v");
    }

    #[test]
    fn macs_depend_on_the_current_secret_the_purpose_and_the_message() {
        let (a, b) = (secrets(&[A]), secrets(&[B, A]));
        assert_eq!(a.mac("p", b"m"), secrets(&[A, B]).mac("p", b"m"));
        assert_ne!(a.mac("p", b"m"), b.mac("p", b"m"));
        assert_ne!(a.mac("p", b"m"), a.mac("q", b"m"));
        assert_ne!(a.mac("p", b"m"), a.mac("p", b"n"));
    }

    #[test]
    fn short_or_missing_secrets_are_refused() {
        assert!(matches!(SystemSecrets::new(&["short"]), Err(SealError::BadSecret(_))));
        assert!(matches!(SystemSecrets::new::<&str>(&[]), Err(SealError::BadSecret(_))));
        assert_eq!(secrets(&[A, A]).key_ids().len(), 1);
    }
}
