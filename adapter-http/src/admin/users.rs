//! `/admin/v1/tenants/{tenant}/users`: users, passwords, status, sessions, consents and licences.

use super::activation::send_activation;
use super::models::{ActivationBody, Consent, PasswordBody, SecondFactors, Session, User, UserInput, UserPage};
use super::{as_admin, AdminResult, AdminTag, Done};
use crate::state::Shared;
use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

/// User management.
pub struct AdminUsersApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl AdminUsersApi {
    /// Create a user (with a password, or without one until it is set).
    #[oai(path = "/tenants/:tenant/users", method = "post", tag = "AdminTag::Users")]
    async fn create_user(
        &self,
        tenant: Path<String>,
        body: Json<UserInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        let (profile, password) = match body.0.into_profile() {
            Ok(v) => v,
            Err(d) => return AdminResult::invalid(d),
        };
        AdminResult::created(
            as_admin(&state, req, move |e, env, p| {
                let u = e
                    .tenant_admin(p, &tenant)?
                    .create_user(env, profile, password.as_deref())?;
                Ok(u.into())
            })
            .await,
        )
    }

    /// List users.
    #[oai(path = "/tenants/:tenant/users", method = "get", tag = "AdminTag::Users")]
    async fn list_users(
        &self,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<UserPage> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let page = e
                    .tenant_admin(p, &tenant)?
                    .list_users(cursor.0.as_deref(), super::limit(limit.0))?;
                Ok(UserPage::of(page, User::from))
            })
            .await,
        )
    }

    /// Read a user.
    #[oai(path = "/tenants/:tenant/users/:user_id", method = "get", tag = "AdminTag::Users")]
    async fn get_user(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(e.tenant_admin(p, &tenant)?.user(&user_id)?.into())
            })
            .await,
        )
    }

    /// Update a user's profile (`password` is ignored here: use the password endpoint).
    #[oai(path = "/tenants/:tenant/users/:user_id", method = "patch", tag = "AdminTag::Users")]
    async fn update_user(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        body: Json<UserInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        let (patch, password) = match body.0.into_patch() {
            Ok(v) => v,
            Err(d) => return AdminResult::invalid(d),
        };
        if password.is_some() {
            return AdminResult::invalid("set passwords with PUT …/users/{user_id}/password");
        }
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                Ok(e.tenant_admin(p, &tenant)?.update_user(env, &user_id, patch)?.into())
            })
            .await,
        )
    }

    /// Delete a user: sessions end, tokens are revoked, consents are forgotten.
    #[oai(path = "/tenants/:tenant/users/:user_id", method = "delete", tag = "AdminTag::Users")]
    async fn delete_user(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        let t = tenant.0.clone();
        let ended = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.delete_user(env, &user_id)
        })
        .await;
        AdminResult::ok(tell_clients(&state, &tenant, ended.map(|n| (Done::yes(), n))).await)
    }

    /// Set a user's password.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/password",
        method = "put",
        tag = "AdminTag::Users"
    )]
    async fn set_password(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        body: Json<PasswordBody>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.tenant_admin(p, &tenant)?
                    .set_password(env, &user_id, &body.password)?;
                Ok(Done::yes())
            })
            .await,
        )
    }

    /// Disable a user: their sessions end and their refresh and access tokens die.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/disable",
        method = "post",
        tag = "AdminTag::Users"
    )]
    async fn disable(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        let t = tenant.0.clone();
        let changed = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.set_user_disabled(env, &user_id, true)
        })
        .await;
        AdminResult::ok(tell_clients(&state, &tenant, changed.map(|(u, n)| (u.into(), n))).await)
    }

    /// Issue a new activation link for a user who has no password yet (an invited user whose link
    /// expired or got lost); the old link stops working. Mailed when SMTP is configured, else
    /// returned in `activation.link`. 409 for a user who already has a password.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/activation",
        method = "post",
        tag = "AdminTag::Users"
    )]
    async fn issue_activation(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<ActivationBody> {
        let t = tenant.0.clone();
        let issued = as_admin(&state, req, move |e, env, p| {
            let (user, link) = e.tenant_admin(p, &t)?.issue_activation(env, &user_id)?;
            let organization = match &user.profile.organization_id {
                Some(org) => e.organization_record(&t, org)?.map(|o| o.name),
                None => None,
            };
            Ok((user, link, organization.unwrap_or_default()))
        })
        .await;
        AdminResult::ok(match issued {
            Ok((user, link, organization)) => {
                let to = user.profile.email.unwrap_or_default();
                Ok(send_activation(&state, &tenant, &organization, &to, &link, true, false).await)
            }
            Err(e) => Err(e),
        })
    }

    /// Clear a user's failed sign-in counts (every source), so a locked-out or slowed account signs
    /// in again at once.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/unlock",
        method = "post",
        tag = "AdminTag::Users"
    )]
    async fn unlock(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        let t = tenant.0.clone();
        let names = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.unlock_sign_in(env, &user_id)
        })
        .await;
        AdminResult::ok(names.map(|names| {
            for name in names {
                let account = crate::login_throttle::account_key(&tenant, &name);
                state.shared.unlock_login(&account);
            }
            Done::yes()
        }))
    }

    /// Re-enable a user.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/enable",
        method = "post",
        tag = "AdminTag::Users"
    )]
    async fn enable(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        let t = tenant.0.clone();
        let changed = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.set_user_disabled(env, &user_id, false)
        })
        .await;
        AdminResult::ok(tell_clients(&state, &tenant, changed.map(|(u, n)| (u.into(), n))).await)
    }

    /// The user's second factors: whether an authenticator app is enrolled, and how many
    /// recovery codes are left.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/second-factors",
        method = "get",
        tag = "AdminTag::Users"
    )]
    async fn second_factors(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<SecondFactors> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(e.tenant_admin(p, &tenant)?.second_factors(&user_id)?.into())
            })
            .await,
        )
    }

    /// Reset the user's second factors (a lost phone): the app and the recovery codes are
    /// removed. Where the tenant requires a second factor, the user sets up a new app at the
    /// next sign-in.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/second-factors",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn reset_second_factors(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.tenant_admin(p, &tenant)?.reset_second_factors(env, &user_id)?;
                Ok(Done::yes())
            })
            .await,
        )
    }

    /// The user's active browser sessions.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/sessions",
        method = "get",
        tag = "AdminTag::Users"
    )]
    async fn sessions(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Vec<Session>> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(e.tenant_admin(p, &tenant)?
                    .sessions(&user_id)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            })
            .await,
        )
    }

    /// End every session of the user and revoke their grants.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/sessions",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn revoke_sessions(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        let t = tenant.0.clone();
        let ended = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.revoke_sessions(env, &user_id, None)
        })
        .await;
        AdminResult::ok(tell_clients(&state, &tenant, ended.map(|n| (Done::yes(), n))).await)
    }

    /// End one session.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/sessions/:sid",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn revoke_session(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        sid: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        let t = tenant.0.clone();
        let ended = as_admin(&state, req, move |e, env, p| {
            e.tenant_admin(p, &t)?.revoke_sessions(env, &user_id, Some(&sid))
        })
        .await;
        AdminResult::ok(tell_clients(&state, &tenant, ended.map(|n| (Done::yes(), n))).await)
    }

    /// The user's remembered consents.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/consents",
        method = "get",
        tag = "AdminTag::Users"
    )]
    async fn consents(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Vec<Consent>> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(e.tenant_admin(p, &tenant)?
                    .consents(&user_id)?
                    .into_iter()
                    .map(|(client_id, scopes)| Consent { client_id, scopes })
                    .collect())
            })
            .await,
        )
    }

    /// Forget every consent of the user and revoke the grants they covered.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/consents",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn revoke_consents(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.tenant_admin(p, &tenant)?.revoke_consents(env, &user_id, None)?;
                Ok(Done::yes())
            })
            .await,
        )
    }

    /// Forget the user's consent to one client and revoke its grants.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/consents/:client_id",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn revoke_consent(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.tenant_admin(p, &tenant)?
                    .revoke_consents(env, &user_id, Some(&client_id))?;
                Ok(Done::yes())
            })
            .await,
        )
    }

    /// Grant the user a licence for an app (Calimatic `user_app_licenses`).
    #[oai(
        path = "/tenants/:tenant/users/:user_id/licenses/:client_id",
        method = "put",
        tag = "AdminTag::Users"
    )]
    async fn grant_license(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                Ok(e.tenant_admin(p, &tenant)?
                    .set_license(env, &user_id, &client_id, true)?
                    .into())
            })
            .await,
        )
    }

    /// Withdraw the user's licence for an app.
    #[oai(
        path = "/tenants/:tenant/users/:user_id/licenses/:client_id",
        method = "delete",
        tag = "AdminTag::Users"
    )]
    async fn withdraw_license(
        &self,
        tenant: Path<String>,
        user_id: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<User> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                Ok(e.tenant_admin(p, &tenant)?
                    .set_license(env, &user_id, &client_id, false)?
                    .into())
            })
            .await,
        )
    }
}

/// Sends the back-channel logout tokens of sessions an admin call ended, then yields its answer.
async fn tell_clients<T>(
    state: &Shared,
    tenant: &str,
    r: Result<(T, Vec<engine::session::logout::LogoutNotice>), engine::EngineError>,
) -> Result<T, engine::EngineError> {
    let (answer, notices) = r?;
    state.outbound.send_logout_tokens(tenant, notices).await;
    Ok(answer)
}
