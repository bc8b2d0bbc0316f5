//! User passwords: argon2id hashes in PHC string form.

use crate::error::{err, Result};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use spec::ErrorCode;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for PasswordParams {
    /// The argon2 crate's (OWASP) defaults: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        PasswordParams {
            m_cost: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
        }
    }
}

impl PasswordParams {
    /// Cheap parameters for tests and models (still argon2id).
    pub fn for_tests() -> Self {
        PasswordParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn hasher(&self) -> Argon2<'static> {
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, None).expect("valid argon2 params");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

/// Hashes `password` with a 16-byte `salt` into a PHC string.
// LOGIN-argon2id
pub fn hash(params: PasswordParams, password: &str, salt: &[u8; 16]) -> String {
    params
        .hasher()
        .hash_password_with_salt(password.as_bytes(), salt)
        .expect("argon2 hashing")
        .to_string()
}

/// Whether `password` matches the PHC `stored` hash (parameters are read from it). The argon2
/// working memory (19 MiB at the default cost) is reused between checks rather than mapped,
/// faulted in and zeroed by the kernel each time.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm.as_str()) else {
        return false;
    };
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let mut blocks = spare_blocks(params.block_count());
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut blocks[..],
    );
    keep_blocks(blocks);
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// Working memory kept for the next check (at most two buffers).
static SPARE_BLOCKS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn spare_blocks(n: usize) -> Vec<Block> {
    let mut spare = SPARE_BLOCKS.lock().unwrap_or_else(|p| p.into_inner());
    match spare.iter().position(|b| b.len() == n) {
        Some(i) => spare.swap_remove(i),
        None => vec![Block::default(); n],
    }
}

fn keep_blocks(blocks: Vec<Block>) {
    let mut spare = SPARE_BLOCKS.lock().unwrap_or_else(|p| p.into_inner());
    if spare.len() < 2 {
        spare.push(blocks);
    }
}

/// A new password's rules: 8 to 1024 characters.
pub(crate) fn check_policy(pw: &str) -> Result<()> {
    if pw.len() < 8 || pw.len() > 1024 {
        return Err(err(ErrorCode::InvalidRequest, "password must be 8 to 1024 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_only_the_right_password() {
        spec::covers("LOGIN-argon2id");
        let h = hash(PasswordParams::for_tests(), "correct horse", &[7u8; 16]);
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a hash"));
        // Reused working memory gives the same answers, at the default cost too.
        let d = hash(PasswordParams::default(), "pw", &[9u8; 16]);
        for _ in 0..2 {
            assert!(verify("pw", &d) && !verify("pW", &d) && verify("correct horse", &h));
        }
        // A hash made by the argon2 crate's own verifier path agrees with ours.
        use argon2::PasswordVerifier;
        assert!(Argon2::default().verify_password(b"pw", d.as_str()).is_ok());
    }
}
