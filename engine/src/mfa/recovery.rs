//! Recovery codes: ten, shown once when made, stored hashed, each accepted once.

use crate::env::Env;
use crate::secret::SecretHash;

/// How many a user gets.
pub const COUNT: usize = 10;

/// The base32 alphabet (RFC 4648) in lower case: 5 bits a character.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Ten fresh codes (`xxxxx-xxxxx`, 50 bits each) and their hashes.
pub fn generate(env: &mut Env<'_>) -> (Vec<String>, Vec<SecretHash>) {
    (0..COUNT)
        .map(|_| {
            let bytes: [u8; 10] = env.random_bytes();
            let chars: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            let shown = format!("{}-{}", &chars[..5], &chars[5..]);
            let hash = SecretHash::of(&normalise(&shown));
            (shown, hash)
        })
        .unzip()
}

/// The code as hashed: lower case, without spaces and dashes.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `code` looks like a recovery code rather than a 6-digit TOTP code.
pub fn looks_like(code: &str) -> bool {
    normalise(code).len() == 10
}

/// Takes `code` out of `unused` when it is one of them (compared in constant time): `true` once.
// MFA-recovery-once
pub fn take(unused: &mut Vec<SecretHash>, code: &str) -> bool {
    let presented = normalise(code);
    if presented.len() != 10 {
        return false;
    }
    match unused.iter().position(|h| h.matches(&presented)) {
        Some(i) => {
            unused.remove(i);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{SeededRandom, UnixTime};

    #[test]
    fn each_code_works_once_whatever_its_case_and_dashes() {
        let mut rng = SeededRandom::new(7);
        let mut env = Env::new(UnixTime(0), &mut rng);
        let (shown, mut hashes) = generate(&mut env);
        assert_eq!(shown.len(), COUNT);
        assert!(shown.iter().all(|c| c.len() == 11 && looks_like(c)));
        let typed = shown[3].to_uppercase().replace('-', " ");
        assert!(take(&mut hashes, &typed));
        assert!(!take(&mut hashes, &shown[3]), "used");
        assert_eq!(hashes.len(), COUNT - 1);
        assert!(!take(&mut hashes, "aaaaa-aaaaa"));
        assert!(take(&mut hashes, &shown[9]));
    }
}
