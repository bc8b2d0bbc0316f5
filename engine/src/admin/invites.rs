//! Inviting users into an organization (Calimatic seed §8), by an administrator or by an app.
//!
//! An app (a client calling with its own secret) may invite only into an organization that enabled
//! it, may give only the roles that organization lets apps give (default `member`), and never
//! changes someone who is already a member: role changes are for administrators. Every invite,
//! and every refused app invite, is an audit event naming the caller.

use super::organizations::{check_role, set_role};
use super::users::reindex;
use super::{not_found, AdminPrincipal, AdminScope, TenantAdmin};
use crate::activation::{mint_activation, ActivationToken};
use crate::admin::organization::{OrganizationRecord, DEFAULT_ROLE};
use crate::audit::{AuditEvent, AuditKind, AuditStamp};
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, EngineError, Result};
use crate::store::{load, save, Store};
use crate::user::{UserIndexRecord, UserProfile, UserRecord};
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

/// What the invite did to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteStatus {
    /// A new user was created (without a password).
    Created,
    /// An existing user of the tenant (same email) was added to the organization.
    Added,
    /// An app invited someone who is already a member: nothing was changed.
    Existing,
}

/// The result of one invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteOutcome {
    /// The user.
    pub user: UserRecord,
    /// New, added or unchanged.
    pub status: InviteStatus,
    /// The licences this invite assigned.
    pub licenses: Vec<String>,
    /// For a user the invite created: the activation link's token, to send or hand over once.
    pub activation: Option<ActivationToken>,
}

/// The licences an invite assigns (Calimatic seed §8): the calling app's identity joins the list;
/// an explicit list is filtered to enabled apps; with neither, every enabled app.
fn invite_licenses(org: &OrganizationRecord, caller: &InviteCaller, applications: Option<&[String]>) -> Vec<String> {
    // ADMIN-invite-licensing
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

/// Refuses an app that the organization has not enabled (403).
fn check_app_enabled(org: &OrganizationRecord, client_id: &str) -> Result<()> {
    // ADMIN-app-invite-bounds
    if org.is_enabled(client_id) {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Forbidden,
            "this app is not enabled for the organization; an administrator enables apps",
        ))
    }
}

/// Refuses a role the organization does not let apps give (403).
fn check_app_role(org: &OrganizationRecord, role: &str) -> Result<()> {
    if org.app_may_grant(role) {
        Ok(())
    } else {
        Err(err(
            ErrorCode::Forbidden,
            "apps may give only the roles the organization allows apps to give; ask an administrator",
        ))
    }
}

/// The profile of a user an invite creates.
fn invited_profile(email: &str, invite: &Invite) -> UserProfile {
    let name = match (&invite.first_name, &invite.last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    UserProfile {
        username: email.to_string(),
        email: Some(email.to_string()),
        given_name: invite.first_name.clone(),
        family_name: invite.last_name.clone(),
        name,
        ..Default::default()
    }
}

fn check_email(email: &str) -> Result<()> {
    if !email.contains('@') || email.len() > 256 || email.starts_with('@') || email.ends_with('@') {
        return Err(err(ErrorCode::InvalidRequest, "email is not an email address"));
    }
    Ok(())
}

impl<S: Store> TenantAdmin<'_, S> {
    /// Invites one user into an organization, in one transaction: all of it happens or none.
    pub fn invite(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        caller: &InviteCaller,
        invite: &Invite,
    ) -> Result<InviteOutcome> {
        let email = invite.email.trim();
        let subject = format!("organizations/{org_id}/users/{email}");
        let outcome = self.try_invite(env, org_id, caller, email, invite);
        if let (Err(e), InviteCaller::App(_)) = (&outcome, caller) {
            self.record_refusal(env, caller, &subject, e)?;
        }
        outcome
    }

    fn try_invite(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        caller: &InviteCaller,
        email: &str,
        invite: &Invite,
    ) -> Result<InviteOutcome> {
        check_email(email)?;
        let role = invite.role.as_deref().unwrap_or(DEFAULT_ROLE);
        check_role(role)?;
        let mut fresh_user = self
            .engine
            .new_user(env, self.slug(), invited_profile(email, invite), None);
        // Drawn before the transaction (it may run again): the link a created user gets.
        let token = mint_activation(env, &mut fresh_user, self.engine.config.activation_ttl);
        let fresh_link = fresh_user.activation.take().map(|pending| (pending, token));
        let stamp = self.engine.stamp(env);
        let slug = self.slug().to_string();
        self.engine.store.transact(|tx| {
            let org = load::<OrganizationRecord>(tx, &OrganizationRecord::key(&slug, org_id))?
                .ok_or_else(|| not_found("unknown organization"))?;
            if let InviteCaller::App(client_id) = caller {
                check_app_enabled(&org, client_id)?;
                check_app_role(&org, role)?;
            }
            let existing = match load::<UserIndexRecord>(tx, &UserIndexRecord::email_key(&slug, email))? {
                Some(i) => load::<UserRecord>(tx, &UserRecord::key(&slug, &i.user_id))?,
                None => None,
            };
            let is_member = |u: &UserRecord| {
                u.profile
                    .organization_memberships
                    .iter()
                    .any(|m| m.organization_id == org_id)
            };
            let (mut user, status) = match existing {
                Some(u) if matches!(caller, InviteCaller::App(_)) && is_member(&u) => {
                    let event = self.invite_event(&stamp, caller, &u, org_id, "existing member, unchanged");
                    self.engine.audit(tx, &slug, &event)?;
                    return Ok(InviteOutcome {
                        user: u,
                        status: InviteStatus::Existing,
                        licenses: Vec::new(),
                        activation: None,
                    });
                }
                Some(u) => (u, InviteStatus::Added),
                None => {
                    reindex(tx, &slug, None, &fresh_user)?;
                    (fresh_user.clone(), InviteStatus::Created)
                }
            };
            let licenses = invite_licenses(&org, caller, invite.applications.as_deref());
            set_role(&mut user.profile, org_id, Some(role));
            user.app_licenses.extend(licenses.iter().cloned());
            // INVITE-activation-link: a new account gets its way in.
            let activation = match (status, &fresh_link) {
                (InviteStatus::Created, Some((pending, token))) => {
                    user.activation = Some(pending.clone());
                    Some(token.clone())
                }
                _ => None,
            };
            save(tx, &UserRecord::key(&slug, &user.id), &user)?;
            let what = match status {
                InviteStatus::Created => "created",
                _ => "added",
            };
            let detail = format!("{what}, role {role}, licences [{}]", licenses.join(" "));
            let event = self.invite_event(&stamp, caller, &user, org_id, &detail);
            self.engine.audit(tx, &slug, &event)?;
            Ok(InviteOutcome {
                user,
                status,
                licenses,
                activation,
            })
        })
    }

    /// The audit event of an invite: the caller as actor, the app as its client.
    fn invite_event(
        &self,
        stamp: &AuditStamp,
        caller: &InviteCaller,
        user: &UserRecord,
        org_id: &str,
        detail: &str,
    ) -> AuditEvent {
        let event = stamp
            .event(AuditKind::OrganizationInvite, format!("invite into {org_id}: {detail}"))
            .actor(self.actor())
            .subject(user.id.clone());
        match caller {
            InviteCaller::App(client_id) => event.client(client_id.clone()),
            InviteCaller::Admin => event,
        }
    }

    /// Records an app's refused invite (in a transaction of its own: the invite's rolled back).
    fn record_refusal(&self, env: &mut Env<'_>, caller: &InviteCaller, subject: &str, e: &EngineError) -> Result<()> {
        let stamp = self.engine.stamp(env);
        let mut event = stamp
            .event(
                AuditKind::OrganizationInvite,
                format!("refused ({}): {}", e.code().as_str(), e.description()),
            )
            .actor(self.actor())
            .subject(subject);
        if let InviteCaller::App(client_id) = caller {
            event = event.client(client_id.clone());
        }
        self.engine
            .store
            .transact(|tx| self.engine.audit(tx, self.slug(), &event))
    }

    /// Invites each user in its own transaction: a row fails or applies whole; the others go on.
    pub fn invite_many(
        &self,
        env: &mut Env<'_>,
        org_id: &str,
        caller: &InviteCaller,
        invites: &[Invite],
    ) -> Result<Vec<Result<InviteOutcome>>> {
        let org = self.organization(org_id)?;
        if let InviteCaller::App(client_id) = caller {
            if let Err(e) = check_app_enabled(&org, client_id) {
                self.record_refusal(env, caller, &format!("organizations/{org_id}"), &e)?;
                return Err(e);
            }
        }
        Ok(invites.iter().map(|i| self.invite(env, org_id, caller, i)).collect())
    }
}

impl<S: Store> Engine<S> {
    /// Invites users as an app client (`x-client-id` / `x-client-secret`): the client must be an
    /// active client of the organization's tenant whose secret matches (401 otherwise), enabled for
    /// the organization (403 otherwise); its licence is included.
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
        let principal = AdminPrincipal {
            scope: AdminScope::Tenant(tenant.clone()),
            tenant: tenant.clone(),
            client_id: client.client_id.clone(),
            app: true,
        };
        let admin = self.tenant_admin(&principal, &tenant)?;
        admin.invite_many(env, org_id, &InviteCaller::App(client.client_id.clone()), invites)
    }
}
