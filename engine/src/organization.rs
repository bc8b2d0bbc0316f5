//! Organizations inside a tenant (Calimatic sense): members with roles, and which apps are
//! enabled for them (`organization_app_access`).

use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
