//! Organizations (Calimatic sense): create, list, update; app enablement; memberships and roles;
//! app licences; and inviting users, with the seed's auto-licence rules.

use super::{not_found, TenantAdmin};
use crate::admin::organization::{OrganizationIndexRecord, OrganizationRecord};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::secret::mint_id;
use crate::store::{decode, list_page, load, save, Page, Store, Table, Tx};
use crate::user::{Membership, UserProfile, UserRecord};
use spec::ErrorCode;
use std::collections::BTreeSet;

/// A change to an organization.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrganizationPatch {
    /// New name.
    pub name: Option<String>,
    /// The roles apps may give when they invite (replaces the set).
    pub app_roles: Option<BTreeSet<String>>,
}

const ROLE_MAX: usize = 64;
const APP_ROLES_MAX: usize = 32;

/// Whether `role` is a well-formed role name.
fn valid_role(role: &str) -> bool {
    (1..=ROLE_MAX).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
}

/// Refuses a malformed role name.
pub(super) fn check_role(role: &str) -> Result<()> {
    if valid_role(role) {
        Ok(())
    } else {
        Err(err(
            ErrorCode::InvalidRequest,
            "role must be 1-64 characters of A-Z a-z 0-9 _ - : .",
        ))
    }
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Creates an organization.
    pub fn create_organization(&self, env: &mut Env<'_>, name: &str) -> Result<OrganizationRecord> {
        check_name(name)?;
        let org = OrganizationRecord::new(self.slug(), mint_id(env), name.trim().into(), env.now.0);
        self.change(env, "create organization", &format!("organizations/{}", org.id), |tx| {
            save(tx, &OrganizationRecord::key(&org.tenant, &org.id), &org)?;
            save(
                tx,
                &org.id,
                &OrganizationIndexRecord {
                    tenant: org.tenant.clone(),
                },
            )
        })?;
        Ok(org)
    }

    /// A page of organizations.
    pub fn list_organizations(&self, cursor: Option<&str>, limit: usize) -> Result<Page<OrganizationRecord>> {
        list_page(
            &self.engine.store,
            &format!("{}/", self.slug()),
            cursor,
            limit,
            |_: &OrganizationRecord| true,
        )
    }

    /// Reads an organization of this tenant.
    pub fn organization(&self, org_id: &str) -> Result<OrganizationRecord> {
        let key = OrganizationRecord::key(self.slug(), org_id);
        self.engine
            .store
            .transact(|tx| load::<OrganizationRecord>(tx, &key))?
            .ok_or_else(|| not_found("unknown organization"))
    }

    /// Renames an organization and/or sets the roles its apps may give.
    pub fn update_organization(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        patch: &OrganizationPatch,
    ) -> Result<OrganizationRecord> {
        if let Some(name) = &patch.name {
            check_name(name)?;
        }
        if let Some(roles) = &patch.app_roles {
            if roles.len() > APP_ROLES_MAX {
                return Err(err(ErrorCode::InvalidRequest, "at most 32 app roles"));
            }
            roles.iter().try_for_each(|r| check_role(r))?;
        }
        self.update_org(env, org_id, "update organization", |_, o| {
            if let Some(name) = &patch.name {
                o.name = name.trim().into();
            }
            if let Some(roles) = &patch.app_roles {
                o.app_roles = roles.clone();
            }
            Ok(())
        })
    }

    /// Enables or disables an app (a client of this tenant) for an organization.
    pub fn set_app_access(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        client_id: &str,
        enabled: bool,
    ) -> Result<OrganizationRecord> {
        let slug = self.slug().to_string();
        self.update_org(env, org_id, "set organization app access", |tx, o| {
            if load::<ClientRecord>(tx, &ClientRecord::key(&slug, client_id))?.is_none() {
                return Err(not_found("unknown client"));
            }
            o.app_access.insert(client_id.into(), enabled);
            Ok(())
        })
    }

    fn update_org(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        what: &str,
        f: impl Fn(&mut dyn Tx, &mut OrganizationRecord) -> Result<()>,
    ) -> Result<OrganizationRecord> {
        let key = OrganizationRecord::key(self.slug(), org_id);
        self.change(env, what, &format!("organizations/{org_id}"), |tx| {
            let mut o = load::<OrganizationRecord>(tx, &key)?.ok_or_else(|| not_found("unknown organization"))?;
            f(tx, &mut o)?;
            save(tx, &key, &o)?;
            Ok(o)
        })
    }

    /// Members of an organization with their roles.
    pub fn members(&self, org_id: &str) -> Result<Vec<(UserRecord, String)>> {
        self.organization(org_id)?;
        let mut out = Vec::new();
        for (_, bytes) in self.engine.store.scan(Table::User, &format!("{}/", self.slug()))? {
            let u = decode::<UserRecord>(&bytes)?;
            let role = u
                .profile
                .organization_memberships
                .iter()
                .find(|m| m.organization_id == org_id)
                .map(|m| m.role.clone());
            if let Some(role) = role {
                out.push((u, role));
            }
        }
        Ok(out)
    }

    /// Adds the user to the organization with `role`, or changes their role (`None` removes them).
    pub fn set_membership(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        user_id: &str,
        role: Option<&str>,
    ) -> Result<UserRecord> {
        if let Some(r) = role {
            check_role(r)?;
        }
        let org_key = OrganizationRecord::key(self.slug(), org_id);
        let key = UserRecord::key(self.slug(), user_id);
        self.change(
            env,
            "set organization membership",
            &format!("organizations/{org_id}/users/{user_id}"),
            |tx| {
                if load::<OrganizationRecord>(tx, &org_key)?.is_none() {
                    return Err(not_found("unknown organization"));
                }
                let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
                set_role(&mut u.profile, org_id, role);
                save(tx, &key, &u)?;
                Ok(u)
            },
        )
    }

    /// Grants or withdraws a user's licence for an app of this tenant.
    pub fn set_license(&self, env: &mut Env<'_>, user_id: &str, client_id: &str, granted: bool) -> Result<UserRecord> {
        let slug = self.slug().to_string();
        let key = UserRecord::key(&slug, user_id);
        self.change(
            env,
            "set app licence",
            &format!("users/{user_id}/licenses/{client_id}"),
            |tx| {
                if load::<ClientRecord>(tx, &ClientRecord::key(&slug, client_id))?.is_none() {
                    return Err(not_found("unknown client"));
                }
                let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| not_found("unknown user"))?;
                if granted {
                    u.app_licenses.insert(client_id.into());
                } else {
                    u.app_licenses.remove(client_id);
                }
                save(tx, &key, &u)?;
                Ok(u)
            },
        )
    }
}

impl<S: Store> Engine<S> {
    /// An organization of `tenant`, for the words of an invitation mail.
    pub fn organization_record(&self, tenant: &str, org_id: &str) -> Result<Option<OrganizationRecord>> {
        let key = OrganizationRecord::key(tenant, org_id);
        self.store.transact(|tx| load::<OrganizationRecord>(tx, &key))
    }

    /// The tenant of an organization, for routes that name only the organization.
    pub fn tenant_of_organization(&self, org_id: &str) -> Result<String> {
        self.organization_tenant(org_id)?
            .ok_or_else(|| not_found("unknown organization"))
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(err(ErrorCode::InvalidRequest, "name must be 1-200 characters"));
    }
    Ok(())
}

/// Sets (or with `None` removes) the user's role in `org_id`; the first organization becomes primary.
pub(super) fn set_role(p: &mut UserProfile, org_id: &str, role: Option<&str>) {
    p.organization_memberships.retain(|m| m.organization_id != org_id);
    match role {
        Some(r) => {
            p.organization_memberships.push(Membership {
                organization_id: org_id.into(),
                role: r.into(),
            });
            if p.organization_id.is_none() {
                p.organization_id = Some(org_id.into());
            }
        }
        None => {
            if p.organization_id.as_deref() == Some(org_id) {
                p.organization_id = p.organization_memberships.first().map(|m| m.organization_id.clone());
            }
        }
    }
}
