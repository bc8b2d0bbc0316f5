//! The Admin API's rules: who the caller is, which tenant it may manage, and every
//! management operation. The HTTP adapter only translates to and from these calls.
//!
//! A caller proves itself with one of our own access tokens carrying the `admin` scope, obtained
//! by client credentials. Tokens of the system tenant manage every tenant; tokens of any other
//! tenant manage that tenant only. Every operation on a tenant goes through a [`TenantAdmin`],
//! which only [`Engine::tenant_admin`] makes, after that check.

pub mod organization;
pub mod provisioning;

mod clients;
mod invites;
mod keys;
mod licenses;
mod organizations;
mod tenants;
mod users;

pub(crate) use clients::check_pkce_policy;
pub use clients::ClientCreated;
pub use invites::{Invite, InviteCaller, InviteOutcome, InviteStatus};
pub use keys::KeyInfo;
pub use licenses::{LicenseAction, LicenseRow, BULK_LICENSES_MAX};
pub use organizations::OrganizationPatch;
pub use tenants::TenantPatch;
pub use users::{SecondFactorInfo, SessionInfo, UserPatch};

use crate::audit::{AuditEvent, AuditKind};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::secret::b64url_decode;
use crate::store::{load, Store, Tx};
use crate::tenant::{valid_slug, TenantRecord, SYSTEM_TENANT};
use crate::token::introspect::Resolved;
use spec::vocabulary::scopes;
use spec::ErrorCode;

/// What an admin token may manage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminScope {
    /// Every tenant (a token of the system tenant).
    Platform,
    /// One tenant.
    Tenant(String),
}

/// An authenticated Admin API caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminPrincipal {
    /// What it may manage.
    pub scope: AdminScope,
    /// The tenant whose admin client obtained the token.
    pub tenant: String,
    /// That client.
    pub client_id: String,
    /// An app client calling the invite API with its secret (not an admin token).
    pub app: bool,
}

impl AdminPrincipal {
    /// How this caller appears in audit events.
    pub fn actor(&self) -> String {
        let kind = if self.app { "app" } else { "admin" };
        format!("{kind}:{}/{}", self.tenant, self.client_id)
    }

    /// Fails with 403 unless the caller manages every tenant.
    pub fn require_platform(&self) -> Result<()> {
        match self.scope {
            AdminScope::Platform => Ok(()),
            AdminScope::Tenant(_) => Err(forbidden()),
        }
    }

    /// Whether the caller may manage `tenant`.
    pub fn may_manage(&self, tenant: &str) -> bool {
        match &self.scope {
            AdminScope::Platform => true,
            AdminScope::Tenant(t) => t == tenant,
        }
    }
}

fn forbidden() -> crate::error::EngineError {
    err(ErrorCode::Forbidden, "this admin token may not manage this tenant")
}

pub(crate) fn not_found(what: &'static str) -> crate::error::EngineError {
    err(ErrorCode::NotFound, what)
}

/// The issuer a JWT claims, read without verifying it (verification follows, with that tenant's keys).
fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

impl<S: Store> Engine<S> {
    /// Authenticates an Admin API call from its bearer token.
    pub fn authenticate_admin(&self, env: &mut Env<'_>, bearer: Option<&str>) -> Result<AdminPrincipal> {
        // ADMIN-bearer-authentication
        let invalid = || err(ErrorCode::InvalidToken, "a valid admin access token is required");
        let token = bearer.filter(|t| !t.is_empty()).ok_or_else(invalid)?;
        let iss = claimed_issuer(token).ok_or_else(invalid)?;
        let tenant = iss
            .strip_prefix(&self.config.base_url)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|slug| valid_slug(slug))
            .ok_or_else(invalid)?
            .to_string();
        let now = env.now;
        self.store.transact(|tx| {
            let resolved = self.resolve_token(tx, &tenant, token)?;
            if !self.is_active(tx, &resolved, now)? {
                return Err(invalid());
            }
            let Resolved::Access { claims, record } = resolved else {
                return Err(invalid());
            };
            let has_admin = claims.has_scope(scopes::ADMIN);
            let client = load::<ClientRecord>(tx, &ClientRecord::key(&tenant, &record.client_id))?;
            let client_allows = client.is_some_and(|c| c.allowed_scopes.iter().any(|s| s == scopes::ADMIN));
            if record.grant_id.is_some() || !has_admin || !client_allows {
                return Err(err(
                    ErrorCode::InsufficientScope,
                    "the admin scope (client credentials) is required",
                ));
            }
            Ok(AdminPrincipal {
                scope: if tenant == SYSTEM_TENANT {
                    AdminScope::Platform
                } else {
                    AdminScope::Tenant(tenant.clone())
                },
                tenant: tenant.clone(),
                client_id: record.client_id.clone(),
                app: false,
            })
        })
    }

    /// The management handle of `tenant`: 403 when the caller may not manage it (whether or not it
    /// exists), 404 when it does not exist.
    pub fn tenant_admin<'a>(&'a self, principal: &'a AdminPrincipal, tenant: &str) -> Result<TenantAdmin<'a, S>> {
        // ADMIN-tenant-scope
        if !principal.may_manage(tenant) {
            return Err(forbidden());
        }
        let record = self.tenant(tenant)?.ok_or_else(|| not_found("unknown tenant"))?;
        Ok(TenantAdmin {
            engine: self,
            principal,
            tenant: record,
        })
    }
}

/// Management of one tenant by a caller allowed to manage it.
pub struct TenantAdmin<'a, S: Store> {
    engine: &'a Engine<S>,
    principal: &'a AdminPrincipal,
    tenant: TenantRecord,
}

impl<S: Store> TenantAdmin<'_, S> {
    /// The tenant (as read when the handle was made).
    pub fn record(&self) -> &TenantRecord {
        &self.tenant
    }

    fn slug(&self) -> &str {
        &self.tenant.slug
    }

    /// The caller, as audit events name it.
    pub(crate) fn actor(&self) -> String {
        self.principal.actor()
    }

    /// Runs `f` in one transaction and records an admin-change event with it.
    pub(crate) fn change<T>(
        &self,
        env: &mut Env<'_>,
        detail: impl Into<String>,
        subject: &str,
        f: impl Fn(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        let stamp = self.engine.stamp(env);
        let event: AuditEvent = stamp
            .event(AuditKind::AdminChange, detail)
            .actor(self.principal.actor())
            .subject(subject);
        self.engine.store.transact(|tx| {
            let out = f(tx)?;
            self.engine.audit(tx, self.slug(), &event)?;
            Ok(out)
        })
    }

    /// A page of the tenant's audit log, oldest first.
    pub fn audit_log(&self, cursor: Option<&str>, limit: usize) -> Result<crate::store::Page<AuditEvent>> {
        crate::store::list_page(
            &self.engine.store,
            &format!("{}/", self.slug()),
            cursor,
            limit,
            |_: &AuditEvent| true,
        )
    }
}
