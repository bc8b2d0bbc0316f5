//! `/admin/v1/tenants`, plus a tenant's signing keys, audit log and initial access tokens.

use super::models::{
    AuditEntry, AuditPage, InitialAccessToken, InitialAccessTokenInput, SigningKey, Tenant, TenantCreate, TenantPage,
    TenantUpdate,
};
use super::{as_admin, AdminResult, AdminTag, Done};
use crate::bootstrap::generate_keys;
use crate::state::Shared;
use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

/// Tenant management.
pub struct AdminTenantsApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl AdminTenantsApi {
    /// Create a tenant with fresh signing keys (platform admins only).
    #[oai(path = "/tenants", method = "post", tag = "AdminTag::Tenants")]
    async fn create_tenant(
        &self,
        body: Json<TenantCreate>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Tenant> {
        AdminResult::created(
            as_admin(&state, req, move |e, env, p| {
                p.require_platform()?;
                let t = e.admin_create_tenant(p, env, body.0.into_record(), &generate_keys())?;
                let iss = e.issuer(&t.slug);
                Ok(Tenant::of(t, iss))
            })
            .await,
        )
    }

    /// List tenants (platform admins only).
    #[oai(path = "/tenants", method = "get", tag = "AdminTag::Tenants")]
    async fn list_tenants(
        &self,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<TenantPage> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let page = e.admin_list_tenants(p, cursor.0.as_deref(), super::limit(limit.0))?;
                Ok(TenantPage::of(page, |t| {
                    let iss = e.issuer(&t.slug);
                    Tenant::of(t, iss)
                }))
            })
            .await,
        )
    }

    /// Read a tenant.
    #[oai(path = "/tenants/:tenant", method = "get", tag = "AdminTag::Tenants")]
    async fn get_tenant(&self, tenant: Path<String>, req: &Request, state: Data<&Shared>) -> AdminResult<Tenant> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let t = e.tenant_admin(p, &tenant)?.record().clone();
                Ok(Tenant::of(t, e.issuer(&tenant)))
            })
            .await,
        )
    }

    /// Update a tenant's display name, branding, registration policy or default token lifetimes.
    #[oai(path = "/tenants/:tenant", method = "patch", tag = "AdminTag::Tenants")]
    async fn update_tenant(
        &self,
        tenant: Path<String>,
        body: Json<TenantUpdate>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Tenant> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let t = e.tenant_admin(p, &tenant)?.update_tenant(env, body.0.into())?;
                Ok(Tenant::of(t, e.issuer(&tenant)))
            })
            .await,
        )
    }

    /// Delete a tenant and everything in it (platform admins only; never `system`).
    #[oai(path = "/tenants/:tenant", method = "delete", tag = "AdminTag::Tenants")]
    async fn delete_tenant(&self, tenant: Path<String>, req: &Request, state: Data<&Shared>) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.admin_delete_tenant(p, env, &tenant)?;
                Ok(Done::yes())
            })
            .await,
        )
    }

    /// The tenant's signing keys (retired keys stay published until their tokens expire).
    #[oai(path = "/tenants/:tenant/keys", method = "get", tag = "AdminTag::Operations")]
    async fn list_keys(
        &self,
        tenant: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Vec<SigningKey>> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(e.tenant_admin(p, &tenant)?
                    .signing_keys()?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            })
            .await,
        )
    }

    /// Rotate the signing keys: new RS256, ES256 and ES384 keys sign from now on.
    #[oai(path = "/tenants/:tenant/keys/rotate", method = "post", tag = "AdminTag::Operations")]
    async fn rotate_keys(
        &self,
        tenant: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Vec<SigningKey>> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let admin = e.tenant_admin(p, &tenant)?;
                Ok(admin
                    .rotate_signing_keys(env, &generate_keys())?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            })
            .await,
        )
    }

    /// The tenant's audit log, oldest first.
    #[oai(path = "/tenants/:tenant/audit", method = "get", tag = "AdminTag::Operations")]
    async fn audit(
        &self,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<AuditPage> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let page = e
                    .tenant_admin(p, &tenant)?
                    .audit_log(cursor.0.as_deref(), super::limit(limit.0))?;
                Ok(AuditPage::of(page, AuditEntry::from))
            })
            .await,
        )
    }

    /// Issue a single-use initial access token for dynamic registration.
    #[oai(
        path = "/tenants/:tenant/initial-access-tokens",
        method = "post",
        tag = "AdminTag::Operations"
    )]
    async fn initial_access_token(
        &self,
        tenant: Path<String>,
        body: Json<InitialAccessTokenInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<InitialAccessToken> {
        AdminResult::created(
            as_admin(&state, req, move |e, env, p| {
                let ttl = body.0.expires_in.unwrap_or(86_400);
                let (token, exp) = e.tenant_admin(p, &tenant)?.create_initial_access_token(env, ttl)?;
                Ok(InitialAccessToken {
                    initial_access_token: token,
                    expires_at: exp.0,
                })
            })
            .await,
        )
    }
}
