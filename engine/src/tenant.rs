//! Tenants: each has its own issuer, clients, users, keys and tokens.

use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};

/// Display settings for login, consent and logout pages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// Name shown on pages.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Logo image URL.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Primary colour, e.g. `#0055aa`.
    #[serde(default)]
    pub primary_color: Option<String>,
}

/// Who may register clients at `/{tenant}/register` (RFC 7591 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationPolicy {
    /// Anyone.
    Open,
    /// Callers presenting an initial access token issued through the Admin API.
    InitialAccessToken,
    /// Nobody: clients are created through the Admin API only.
    #[default]
    Closed,
}

/// Token lifetimes, in seconds: the tenant's defaults for new clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenLifetimes {
    /// Access tokens (seed: 1 hour).
    pub access_token_ttl: u64,
    /// ID tokens.
    pub id_token_ttl: u64,
    /// Refresh tokens, from each rotation.
    pub refresh_token_ttl: u64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 86_400,
        }
    }
}

impl TokenLifetimes {
    /// Whether every lifetime is between 1 second and 366 days.
    pub fn valid(&self) -> bool {
        [self.access_token_ttl, self.id_token_ttl, self.refresh_token_ttl]
            .iter()
            .all(|t| (1..=366 * 86_400).contains(t))
    }
}

/// A tenant (Clavex "organization"): the unit of isolation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// URL slug, e.g. `acme`; the issuer is `{base}/{slug}`.
    pub slug: String,
    /// Human name.
    pub display_name: String,
    /// Page branding.
    #[serde(default)]
    pub branding: Branding,
    /// Dynamic registration policy.
    #[serde(default)]
    pub registration_policy: RegistrationPolicy,
    /// Default token lifetimes of new clients.
    #[serde(default)]
    pub token_lifetimes: TokenLifetimes,
    /// Whether a confidential client may be registered with `require_pkce: false` (for libraries
    /// without PKCE, such as passport-openidconnect). Off by default: PKCE for every client.
    #[serde(default)]
    pub allow_pkce_opt_out: bool,
    /// Whether every authorization request must come through `/par` (RFC 9126): FAPI 2.0's rule,
    /// off by default (each client can also require it for itself).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Whether every DPoP proof must carry a server nonce (RFC 9449 §8); off by default (a nonce
    /// that is sent is checked either way).
    #[serde(default)]
    pub require_dpop_nonce: bool,
    /// Who signs in with a second factor (TOTP): nobody, whoever enrolled one (the default), everyone.
    #[serde(default)]
    pub second_factor: crate::mfa::SecondFactorPolicy,
}

impl Record for TenantRecord {
    const TABLE: Table = Table::Tenant;
}

impl TenantRecord {
    /// A tenant with default branding, closed registration and the seeds' token lifetimes.
    pub fn new(slug: String, display_name: String) -> Self {
        TenantRecord {
            slug,
            display_name,
            branding: Branding::default(),
            registration_policy: RegistrationPolicy::default(),
            token_lifetimes: TokenLifetimes::default(),
            allow_pkce_opt_out: false,
            require_pushed_authorization_requests: false,
            require_dpop_nonce: false,
            second_factor: crate::mfa::SecondFactorPolicy::default(),
        }
    }
}

/// The tenant whose admin clients manage every tenant.
pub const SYSTEM_TENANT: &str = "system";

/// Slugs no tenant may take: the system tenant's and the server's own top-level paths.
pub const RESERVED_SLUGS: [&str; 5] = [SYSTEM_TENANT, "admin", "healthz", "static", "register"];

/// Whether `slug` is a valid tenant slug: 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}
