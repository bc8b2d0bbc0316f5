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
}

impl Record for TenantRecord {
    const TABLE: Table = Table::Tenant;
}

/// Whether `slug` is a valid tenant slug: 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}
