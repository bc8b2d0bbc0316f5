//! User passwords: argon2id hashes in PHC string form.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

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
pub fn hash(params: PasswordParams, password: &str, salt: &[u8; 16]) -> String {
    params
        .hasher()
        .hash_password_with_salt(password.as_bytes(), salt)
        .expect("argon2 hashing")
        .to_string()
}

/// Whether `password` matches the PHC `stored` hash (parameters are read from it).
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored).is_ok()
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
    }
}
