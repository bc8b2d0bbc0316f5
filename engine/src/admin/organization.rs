//! Organizations inside a tenant (Calimatic sense): members with roles, and which apps are
//! enabled for them (`organization_app_access`).

use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The role an invite gives when it names none, and the only role apps may grant by default.
pub const DEFAULT_ROLE: &str = "member";

fn default_app_roles() -> BTreeSet<String> {
    BTreeSet::from([DEFAULT_ROLE.to_string()])
}

/// An organization of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Identifier (globally unique; the `organization_id` claim).
    pub id: String,
    /// Display name.
    pub name: String,
    /// App enablement: client id → isEnabled.
    #[serde(default)]
    pub app_access: BTreeMap<String, bool>,
    /// The roles an enabled app may give when it invites a user (administrators give any role).
    #[serde(default = "default_app_roles")]
    pub app_roles: BTreeSet<String>,
    /// When it was created (seconds).
    pub created_at: u64,
}

impl Record for OrganizationRecord {
    const TABLE: Table = Table::Organization;
}

impl OrganizationRecord {
    /// Store key.
    pub fn key(tenant: &str, id: &str) -> String {
        format!("{tenant}/{id}")
    }

    /// Client ids enabled for this organization.
    pub fn enabled_apps(&self) -> impl Iterator<Item = &String> {
        self.app_access.iter().filter(|(_, on)| **on).map(|(id, _)| id)
    }

    /// Whether `client_id` is enabled for this organization.
    pub fn is_enabled(&self, client_id: &str) -> bool {
        self.app_access.get(client_id).copied().unwrap_or(false)
    }

    /// Whether an app may give `role` when it invites.
    pub fn app_may_grant(&self, role: &str) -> bool {
        self.app_roles.contains(role)
    }

    /// A new organization: no apps enabled, apps may grant `member` only.
    pub fn new(tenant: &str, id: String, name: String, created_at: u64) -> Self {
        OrganizationRecord {
            tenant: tenant.into(),
            id,
            name,
            app_access: BTreeMap::new(),
            app_roles: default_app_roles(),
            created_at,
        }
    }
}

/// Organization id → its tenant (organization URLs do not name the tenant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationIndexRecord {
    /// The tenant holding the organization.
    pub tenant: String,
}

impl Record for OrganizationIndexRecord {
    const TABLE: Table = Table::OrganizationIndex;
}
