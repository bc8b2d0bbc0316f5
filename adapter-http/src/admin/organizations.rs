//! Organizations inside a tenant, app enablement, memberships, and the Calimatic invite endpoints
//! (`/admin/v1/organizations/{orgId}/users`, `/users/bulk-invite`), which app clients call with
//! `x-client-id` / `x-client-secret` and administrators with their bearer token.

use super::activation::send_activation;
use super::models::{
    AppAccessInput, BulkInviteInput, BulkInviteReport, BulkInviteRow, InviteInput, Invited, LicensesInput,
    LicensesReport, Member, Organization, OrganizationInput, OrganizationPage, OrganizationUpdate, RoleInput, User,
};
use super::{as_admin, bearer, AdminResult, AdminTag};
use crate::state::Shared;
use engine::admin::{Invite, InviteCaller, OrganizationPatch};
use engine::EngineError;
use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use spec::ErrorCode;

/// Organization management and invites.
pub struct AdminOrganizationsApi;

/// Runs the invites as the app client named by the headers, or else as the bearer token's admin,
/// then sends each created user's activation link (or, for an admin without SMTP, hands it back).
async fn invite(
    state: &Shared,
    req: &Request,
    org_id: &str,
    app: (Option<String>, Option<String>),
    invites: &[Invite],
) -> Result<Vec<engine::Result<Invited>>, EngineError> {
    let by_admin = app == (None, None);
    let (org, rows) = (org_id.to_string(), invites.to_vec());
    // The organization's tenant and name, for the activation mails, read after the invites.
    let named = |e: &engine::Engine<crate::data_store::DataStore>, org: &str| -> engine::Result<(String, String)> {
        let tenant = e.tenant_of_organization(org)?;
        let name = e.organization_record(&tenant, org)?.map(|o| o.name).unwrap_or_default();
        Ok((tenant, name))
    };
    let (outcomes, (tenant, organization)) = match app {
        (Some(id), Some(secret)) => {
            state
                .engine
                .call(move |e, env| {
                    let outcomes = e.app_invite(env, &org, &id, &secret, &rows)?;
                    Ok((outcomes, named(e, &org)?))
                })
                .await
        }
        (None, None) if bearer(req).is_some() => {
            as_admin(state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org)?;
                let outcomes = e
                    .tenant_admin(p, &tenant)?
                    .invite_many(env, &org, &InviteCaller::Admin, &rows)?;
                Ok((outcomes, named(e, &org)?))
            })
            .await
        }
        (None, None) => Err(EngineError::Protocol(engine::ProtocolError::new(
            ErrorCode::InvalidToken,
            "send x-client-id and x-client-secret, or an admin bearer token",
        ))),
        _ => Err(EngineError::Protocol(engine::ProtocolError::new(
            ErrorCode::InvalidClient,
            "x-client-id and x-client-secret go together",
        ))),
    }?;
    let mut out = Vec::with_capacity(outcomes.len());
    let mut mail_down = false;
    for outcome in outcomes {
        out.push(match outcome {
            Ok(o) => {
                let sent = match &o.activation {
                    Some(link) => {
                        let to = o.user.profile.email.clone().unwrap_or_default();
                        let body = send_activation(state, &tenant, &organization, &to, link, by_admin, mail_down).await;
                        mail_down |= body.delivery == "email_failed";
                        Some(body)
                    }
                    None => None,
                };
                Ok(Invited::of(o, sent))
            }
            Err(e) => Err(e),
        });
    }
    Ok(out)
}

#[OpenApi(prefix_path = "/admin/v1")]
impl AdminOrganizationsApi {
    /// Create an organization in a tenant.
    #[oai(
        path = "/tenants/:tenant/organizations",
        method = "post",
        tag = "AdminTag::Organizations"
    )]
    async fn create_organization(
        &self,
        tenant: Path<String>,
        body: Json<OrganizationInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Organization> {
        AdminResult::created(
            as_admin(&state, req, move |e, env, p| {
                Ok(e.tenant_admin(p, &tenant)?.create_organization(env, &body.name)?.into())
            })
            .await,
        )
    }

    /// List a tenant's organizations.
    #[oai(
        path = "/tenants/:tenant/organizations",
        method = "get",
        tag = "AdminTag::Organizations"
    )]
    async fn list_organizations(
        &self,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<OrganizationPage> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let page = e
                    .tenant_admin(p, &tenant)?
                    .list_organizations(cursor.0.as_deref(), super::limit(limit.0))?;
                Ok(OrganizationPage::of(page, Organization::from))
            })
            .await,
        )
    }

    /// Read an organization.
    #[oai(path = "/organizations/:org_id", method = "get", tag = "AdminTag::Organizations")]
    async fn get_organization(
        &self,
        org_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Organization> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?.organization(&org_id)?.into())
            })
            .await,
        )
    }

    /// Rename an organization, or set the roles its enabled apps may give when they invite.
    #[oai(path = "/organizations/:org_id", method = "patch", tag = "AdminTag::Organizations")]
    async fn update_organization(
        &self,
        org_id: Path<String>,
        body: Json<OrganizationUpdate>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Organization> {
        let patch = OrganizationPatch::from(body.0);
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .update_organization(env, &org_id, &patch)?
                    .into())
            })
            .await,
        )
    }

    /// Enable or disable an app (a client of the tenant) for the organization (`organization_app_access`).
    #[oai(
        path = "/organizations/:org_id/apps/:client_id",
        method = "put",
        tag = "AdminTag::Organizations"
    )]
    async fn set_app_access(
        &self,
        org_id: Path<String>,
        client_id: Path<String>,
        body: Json<AppAccessInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Organization> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .set_app_access(env, &org_id, &client_id, body.is_enabled)?
                    .into())
            })
            .await,
        )
    }

    /// The organization's members and their roles.
    #[oai(
        path = "/organizations/:org_id/members",
        method = "get",
        tag = "AdminTag::Organizations"
    )]
    async fn members(&self, org_id: Path<String>, req: &Request, state: Data<&Shared>) -> AdminResult<Vec<Member>> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .members(&org_id)?
                    .into_iter()
                    .map(|(u, role)| Member { user: u.into(), role })
                    .collect())
            })
            .await,
        )
    }

    /// Add a user to the organization with a role, or change their role.
    #[oai(
        path = "/organizations/:org_id/members/:user_id",
        method = "put",
        tag = "AdminTag::Organizations"
    )]
    async fn set_member(
        &self,
        org_id: Path<String>,
        user_id: Path<String>,
        body: Json<RoleInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .set_membership(env, &org_id, &user_id, Some(&body.role))?
                    .into())
            })
            .await,
        )
    }

    /// Remove a user from the organization.
    #[oai(
        path = "/organizations/:org_id/members/:user_id",
        method = "delete",
        tag = "AdminTag::Organizations"
    )]
    async fn remove_member(
        &self,
        org_id: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .set_membership(env, &org_id, &user_id, None)?
                    .into())
            })
            .await,
        )
    }

    /// Assign an app's licence to many members of the organization, and withdraw it from others
    /// (at most 500 users). Each user is a row of its own, applied whole or not at all.
    #[oai(
        path = "/organizations/:org_id/licenses/:client_id",
        method = "post",
        tag = "AdminTag::Organizations"
    )]
    async fn bulk_licenses(
        &self,
        org_id: Path<String>,
        client_id: Path<String>,
        body: Json<LicensesInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<LicensesReport> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let tenant = e.tenant_of_organization(&org_id)?;
                Ok(e.tenant_admin(p, &tenant)?
                    .bulk_licenses(env, &org_id, &client_id, &body.assign, &body.withdraw)?
                    .into())
            })
            .await,
        )
    }

    /// Invite a user into the organization. An app client (`x-client-id`, `x-client-secret`) must be
    /// enabled for the organization (403), may give only the organization's `app_roles` (403) and
    /// leaves an existing member unchanged (`status: existing`); it gives the user its own licence.
    /// Explicit `applications` are filtered to the organization's enabled apps; an admin call with
    /// neither licenses every enabled app. Every invite is in the audit log.
    #[oai(
        path = "/organizations/:org_id/users",
        method = "post",
        tag = "AdminTag::Organizations"
    )]
    async fn invite_user(
        &self,
        org_id: Path<String>,
        #[oai(name = "x-client-id")] client_id: Header<Option<String>>,
        #[oai(name = "x-client-secret")] client_secret: Header<Option<String>>,
        body: Json<InviteInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Invited> {
        let rows = [Invite::from(body.0)];
        AdminResult::created(
            invite(&state, req, &org_id, (client_id.0, client_secret.0), &rows)
                .await
                .and_then(|mut out| {
                    out.pop()
                        .unwrap_or_else(|| Err(EngineError::Misuse("no result".into())))
                }),
        )
    }

    /// Invite many users; each row is applied whole or not at all, and reported.
    #[oai(
        path = "/organizations/:org_id/users/bulk-invite",
        method = "post",
        tag = "AdminTag::Organizations"
    )]
    async fn bulk_invite(
        &self,
        org_id: Path<String>,
        #[oai(name = "x-client-id")] client_id: Header<Option<String>>,
        #[oai(name = "x-client-secret")] client_secret: Header<Option<String>>,
        body: Json<BulkInviteInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<BulkInviteReport> {
        if body.users.len() > 500 {
            return AdminResult::invalid("at most 500 users per bulk invite");
        }
        let emails: Vec<String> = body.users.iter().map(|u| u.email.clone()).collect();
        let rows: Vec<Invite> = body.0.users.into_iter().map(Invite::from).collect();
        AdminResult::ok(
            invite(&state, req, &org_id, (client_id.0, client_secret.0), &rows)
                .await
                .map(|results| {
                    let results: Vec<BulkInviteRow> = results
                        .into_iter()
                        .zip(emails)
                        .map(|(r, email)| match r {
                            Ok(o) => BulkInviteRow {
                                email,
                                success: true,
                                result: Some(o),
                                error: None,
                                error_description: None,
                            },
                            Err(e) => BulkInviteRow {
                                email,
                                success: false,
                                result: None,
                                error: Some(e.code().as_str().into()),
                                error_description: Some(e.description().into()),
                            },
                        })
                        .collect();
                    let succeeded = results.iter().filter(|r| r.success).count() as u32;
                    BulkInviteReport {
                        succeeded,
                        failed: results.len() as u32 - succeeded,
                        results,
                    }
                }),
        )
    }
}
