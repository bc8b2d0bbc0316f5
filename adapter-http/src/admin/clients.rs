//! `/admin/v1/tenants/{tenant}/clients`.

use super::models::{Client, ClientInput, ClientPage};
use super::{as_admin, AdminResult, AdminTag, Done};
use crate::state::Shared;
use poem::web::Data;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

/// Client management.
pub struct AdminClientsApi;

#[OpenApi(prefix_path = "/admin/v1")]
impl AdminClientsApi {
    /// Register a client. The answer carries `client_secret` this once; only its hash is kept.
    #[oai(path = "/tenants/:tenant/clients", method = "post", tag = "AdminTag::Clients")]
    async fn create_client(
        &self,
        tenant: Path<String>,
        body: Json<ClientInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::created(
            as_admin(&state, req, move |e, env, p| {
                let c = e.tenant_admin(p, &tenant)?.create_client(env, body.0.into())?;
                Ok(Client::of(c.client, c.client_secret))
            })
            .await,
        )
    }

    /// List clients.
    #[oai(path = "/tenants/:tenant/clients", method = "get", tag = "AdminTag::Clients")]
    async fn list_clients(
        &self,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<ClientPage> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                let page = e
                    .tenant_admin(p, &tenant)?
                    .list_clients(cursor.0.as_deref(), super::limit(limit.0))?;
                Ok(ClientPage::of(page, |c| Client::of(c, None)))
            })
            .await,
        )
    }

    /// Read a client.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id",
        method = "get",
        tag = "AdminTag::Clients"
    )]
    async fn get_client(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::ok(
            as_admin(&state, req, move |e, _, p| {
                Ok(Client::of(e.tenant_admin(p, &tenant)?.client(&client_id)?, None))
            })
            .await,
        )
    }

    /// Update a client: the result is validated as a whole. Switching to a secret-based method mints a secret.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id",
        method = "patch",
        tag = "AdminTag::Clients"
    )]
    async fn update_client(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        body: Json<ClientInput>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let c = e
                    .tenant_admin(p, &tenant)?
                    .update_client(env, &client_id, body.0.into())?;
                Ok(Client::of(c.client, c.client_secret))
            })
            .await,
        )
    }

    /// Rotate the client's secret: the old one stops working now; the new one is returned once.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id/secret",
        method = "post",
        tag = "AdminTag::Clients"
    )]
    async fn rotate_secret(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let c = e.tenant_admin(p, &tenant)?.rotate_client_secret(env, &client_id)?;
                Ok(Client::of(c.client, c.client_secret))
            })
            .await,
        )
    }

    /// Deactivate a client: it gets invalid_client everywhere and its tokens stop being active.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id/deactivate",
        method = "post",
        tag = "AdminTag::Clients"
    )]
    async fn deactivate(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let c = e.tenant_admin(p, &tenant)?.set_client_active(env, &client_id, false)?;
                Ok(Client::of(c, None))
            })
            .await,
        )
    }

    /// Reactivate a client.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id/activate",
        method = "post",
        tag = "AdminTag::Clients"
    )]
    async fn activate(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Client> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                let c = e.tenant_admin(p, &tenant)?.set_client_active(env, &client_id, true)?;
                Ok(Client::of(c, None))
            })
            .await,
        )
    }

    /// Delete a client and the consents given to it.
    #[oai(
        path = "/tenants/:tenant/clients/:client_id",
        method = "delete",
        tag = "AdminTag::Clients"
    )]
    async fn delete_client(
        &self,
        tenant: Path<String>,
        client_id: Path<String>,
        req: &Request,
        state: Data<&Shared>,
    ) -> AdminResult<Done> {
        AdminResult::ok(
            as_admin(&state, req, move |e, env, p| {
                e.tenant_admin(p, &tenant)?.delete_client(env, &client_id)?;
                Ok(Done::yes())
            })
            .await,
        )
    }
}
