//! Engine-wide settings (per-client settings live on the client record).

use crate::password::PasswordParams;

/// Audit events are kept this many days unless configured otherwise.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u64 = 90;

/// Settings that hold for every tenant.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Public base URL without trailing slash; a tenant's issuer is `{base_url}/{tenant}`.
    pub base_url: String,
    /// Authorization code lifetime in seconds (seed: 60).
    pub code_ttl: u64,
    /// How long a pending authorization request waits for login/consent.
    pub auth_transaction_ttl: u64,
    /// Browser session lifetime in seconds.
    pub session_ttl: u64,
    /// Longest accepted lifetime of a client assertion (exp - now).
    pub max_assertion_lifetime: u64,
    /// argon2id cost for new password hashes.
    pub password: PasswordParams,
    /// How long an activation link (sent to an invited user) stays usable, in seconds.
    pub activation_ttl: u64,
    /// Write the audit log (models switch it off: every event would be a new state).
    pub audit: bool,
    /// How long audit events are kept, in seconds (`None`: forever); the purge deletes older ones.
    pub audit_retention: Option<u64>,
    /// Deliberate bugs for model checking (all off by default).
    #[cfg(feature = "mutants")]
    pub mutants: crate::mutants::Mutants,
}

impl EngineConfig {
    /// Defaults from the seeds for a provider served at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        EngineConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            // RFC6749-4.1.2-code-ttl
            code_ttl: 60,
            auth_transaction_ttl: 1800,
            session_ttl: 86_400,
            max_assertion_lifetime: 600,
            password: PasswordParams::default(),
            activation_ttl: 7 * 86_400,
            audit: true,
            audit_retention: Some(DEFAULT_AUDIT_RETENTION_DAYS * 86_400),
            #[cfg(feature = "mutants")]
            mutants: Default::default(),
        }
    }

    /// The issuer identifier of `tenant`.
    // TENANCY-isolation
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{}", self.base_url, tenant)
    }
}
