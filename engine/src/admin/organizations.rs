//! Organizations (Calimatic sense): create, list, update; app enablement; memberships and roles;
//! app licences; and inviting users, with the seed's auto-licence rules.

use super::users::reindex;
use super::{not_found, TenantAdmin};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::organization::{OrganizationIndexRecord, OrganizationRecord};
use crate::secret::mint_id;
use crate::store::{decode, list_page, load, save, Page, Store, Table, Tx};
use crate::user::{Membership, UserIndexRecord, UserProfile, UserRecord};
use spec::ErrorCode;
use std::collections::BTreeSet;

/// Who is inviting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InviteCaller {
    /// An app client, authenticated by its secret: its own licence is always included.
    App(String),
    /// An administrator.
    Admin,
}

/// One user to invite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invite {
    /// Email (also the username of a new user).
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Role in the organization (default `member`).
    pub role: Option<String>,
    /// Apps to licence explicitly (filtered to the organization's enabled apps).
    pub applications: Option<Vec<String>>,
}

/// Whether the invite made a new user or added an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteStatus {
    /// A new user was created (without a password).
    Created,
    /// An existing user of the tenant (same email) was added to the organization.
    Added,
}

/// The result of one invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteOutcome {
    /// The user.
    pub user: UserRecord,
    /// New or existing.
    pub status: InviteStatus,
    /// The licences this invite assigned.
    pub licenses: Vec<String>,
}

const ROLE_MAX: usize = 64;

fn valid_role(role: &str) -> bool {
    (1..=ROLE_MAX).contains(&role.len()) && role.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-:.".contains(&b))
}

/// The licences an invite assigns (Calimatic seed §8): the calling app's identity joins the list;
/// an explicit list is filtered to enabled apps; with neither, every enabled app.
pub fn invite_licenses(
    org: &OrganizationRecord,
    caller: &InviteCaller,
    applications: Option<&[String]>,
) -> Vec<String> {
    spec::covers("ADMIN-invite-licensing");
    let mut wanted: BTreeSet<String> = applications.unwrap_or_default().iter().cloned().collect();
    match caller {
        InviteCaller::App(client_id) => {
            wanted.insert(client_id.clone());
        }
        InviteCaller::Admin if applications.is_none() => {
            return org.enabled_apps().cloned().collect();
        }
        InviteCaller::Admin => {}
    }
    wanted.into_iter().filter(|a| org.is_enabled(a)).collect()
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Creates an organization.
    pub fn create_organization(&self, env: &mut Env<'_>, name: &str) -> Result<OrganizationRecord> {
        check_name(name)?;
        let org = OrganizationRecord {
            tenant: self.slug().into(),
            id: mint_id(env),
            name: name.trim().into(),
            app_access: Default::default(),
            created_at: env.now.0,
        };
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

    /// Renames an organization.
    pub fn rename_organization(&self, env: &mut Env<'_>, org_id: &str, name: &str) -> Result<OrganizationRecord> {
        check_name(name)?;
        self.update_org(env, org_id, "rename organization", |_, o| {
            o.name = name.trim().into();
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
        if role.is_some_and(|r| !valid_role(r)) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "role must be 1-64 characters of A-Z a-z 0-9 _ - : .",
            ));
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

    /// Invites one user into an organization, in one transaction: all of it happens or none.
    pub fn invite(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        caller: &InviteCaller,
        invite: &Invite,
    ) -> Result<InviteOutcome> {
        let email = invite.email.trim();
        if !email.contains('@') || email.len() > 256 || email.starts_with('@') || email.ends_with('@') {
            return Err(err(ErrorCode::InvalidRequest, "email is not an email address"));
        }
        let role = invite.role.as_deref().unwrap_or("member");
        if !valid_role(role) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "role must be 1-64 characters of A-Z a-z 0-9 _ - : .",
            ));
        }
        let name = match (&invite.first_name, &invite.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(n), None) | (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        };
        let profile = UserProfile {
            username: email.to_string(),
            email: Some(email.to_string()),
            given_name: invite.first_name.clone(),
            family_name: invite.last_name.clone(),
            name,
            ..Default::default()
        };
        let fresh_user = self.engine.new_user(env, self.slug(), profile, None);
        let slug = self.slug().to_string();
        let who = match caller {
            InviteCaller::App(c) => format!("invite user (app {c})"),
            InviteCaller::Admin => "invite user".to_string(),
        };
        self.change(env, who, &format!("organizations/{org_id}/users/{email}"), |tx| {
            let org = load::<OrganizationRecord>(tx, &OrganizationRecord::key(&slug, org_id))?
                .ok_or_else(|| not_found("unknown organization"))?;
            let licenses = invite_licenses(&org, caller, invite.applications.as_deref());
            let existing = match load::<UserIndexRecord>(tx, &UserIndexRecord::email_key(&slug, email))? {
                Some(i) => load::<UserRecord>(tx, &UserRecord::key(&slug, &i.user_id))?,
                None => None,
            };
            let (mut user, status) = match existing {
                Some(u) => (u, InviteStatus::Added),
                None => {
                    reindex(tx, &slug, None, &fresh_user)?;
                    (fresh_user.clone(), InviteStatus::Created)
                }
            };
            set_role(&mut user.profile, org_id, Some(role));
            user.app_licenses.extend(licenses.iter().cloned());
            save(tx, &UserRecord::key(&slug, &user.id), &user)?;
            Ok(InviteOutcome { user, status, licenses })
        })
    }
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Invites each user in its own transaction: a row fails or applies whole; the others go on.
    pub fn invite_many(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        caller: &InviteCaller,
        invites: &[Invite],
    ) -> Result<Vec<Result<InviteOutcome>>> {
        self.organization(org_id)?;
        Ok(invites.iter().map(|i| self.invite(env, org_id, caller, i)).collect())
    }
}

impl<S: Store> Engine<S> {
    /// Invites users as an app client (`x-client-id` / `x-client-secret`): the client must be an
    /// active client of the organization's tenant whose secret matches; its licence is included.
    pub fn app_invite(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        client_id: &str,
        secret: &str,
        invites: &[Invite],
    ) -> Result<Vec<Result<InviteOutcome>>> {
        let invalid = || err(ErrorCode::InvalidClient, "client authentication failed");
        let tenant = self
            .organization_tenant(org_id)?
            .ok_or_else(|| not_found("unknown organization"))?;
        let client = self.client(&tenant, client_id)?.ok_or_else(invalid)?;
        let ok = client.active && client.secret_hash.as_ref().is_some_and(|h| h.matches(secret));
        if !ok {
            return Err(invalid());
        }
        let principal = super::AdminPrincipal {
            scope: super::AdminScope::Tenant(tenant.clone()),
            tenant: tenant.clone(),
            client_id: client.client_id.clone(),
            app: true,
        };
        let admin = self.tenant_admin(&principal, &tenant)?;
        admin.invite_many(env, org_id, &InviteCaller::App(client.client_id.clone()), invites)
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
fn set_role(p: &mut UserProfile, org_id: &str, role: Option<&str>) {
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
