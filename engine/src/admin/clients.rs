//! Clients: create (secret shown once), list, read, update, rotate secret, (de)activate, delete.

use super::{not_found, TenantAdmin};
use crate::client::{build_client, check_client_spec, ClientPatch, ClientRecord, ClientSpec};
use crate::env::Env;
use crate::error::{err, Result};
use crate::secret::{mint, SecretHash};
use crate::store::{list_page, load, save, Page, Store, Table};
use crate::tenant::TenantRecord;
use spec::{ClientAuthMethod, ErrorCode};

/// A client as created or re-keyed: the record and the plaintext secret, returned this once.
#[derive(Clone, Debug)]
pub struct ClientCreated {
    /// The stored client.
    pub client: ClientRecord,
    /// Its secret (secret-based methods only).
    pub client_secret: Option<String>,
}

/// PKCE-opt-out-policy: a client may go without PKCE only if it is confidential and its tenant
/// allows it (`allow_pkce_opt_out`).
pub(crate) fn check_pkce_policy(tenant: &TenantRecord, spec: &ClientSpec) -> Result<()> {
    // PKCE-opt-out-policy
    if spec.require_pkce {
        return Ok(());
    }
    if spec.auth_method == ClientAuthMethod::None {
        return Err(err(
            ErrorCode::InvalidClientMetadata,
            "public clients always use PKCE; require_pkce cannot be false",
        ));
    }
    if !tenant.allow_pkce_opt_out {
        return Err(err(
            ErrorCode::InvalidClientMetadata,
            "this tenant requires PKCE of every client; an administrator can set allow_pkce_opt_out",
        ));
    }
    Ok(())
}

impl<S: Store> TenantAdmin<'_, S> {
    /// The spec a new client starts from: the seeds' defaults with the tenant's token lifetimes.
    fn default_spec(&self) -> ClientSpec {
        let mut spec = ClientSpec::new("", ClientAuthMethod::ClientSecretBasic, &[]);
        let l = self.tenant.token_lifetimes;
        spec.access_token_ttl = l.access_token_ttl;
        spec.id_token_ttl = l.id_token_ttl;
        spec.refresh_token_ttl = l.refresh_token_ttl;
        spec
    }

    /// Creates a client from `patch` over the tenant's defaults.
    pub fn create_client(&self, env: &mut Env<'_>, patch: ClientPatch) -> Result<ClientCreated> {
        // ADMIN-secret-once
        let mut spec = self.default_spec();
        // Seed-001's code creates clients without a method and then sends the secret either way.
        spec.either_secret_method = true;
        let spec = patch.apply(spec);
        check_pkce_policy(self.record(), &spec)?;
        let (client, client_secret) = build_client(env, self.slug(), spec)?;
        let key = ClientRecord::key(self.slug(), &client.client_id);
        self.change(env, "create client", &format!("clients/{}", client.client_id), |tx| {
            if load::<ClientRecord>(tx, &key)?.is_some() {
                return Err(err(ErrorCode::Conflict, "client_id already registered"));
            }
            save(tx, &key, &client)
        })?;
        Ok(ClientCreated { client, client_secret })
    }

    /// A page of the tenant's clients.
    pub fn list_clients(&self, cursor: Option<&str>, limit: usize) -> Result<Page<ClientRecord>> {
        list_page(
            &self.engine.store,
            &format!("{}/", self.slug()),
            cursor,
            limit,
            |_: &ClientRecord| true,
        )
    }

    /// Reads a client.
    pub fn client(&self, client_id: &str) -> Result<ClientRecord> {
        self.engine
            .client(self.slug(), client_id)?
            .ok_or_else(|| not_found("unknown client"))
    }

    /// Applies `patch` (re-validated as a whole). Switching to a secret-based method from one
    /// without a secret mints a secret, returned this once.
    pub fn update_client(&self, env: &mut Env<'_>, client_id: &str, patch: ClientPatch) -> Result<ClientCreated> {
        if patch.client_id.as_deref().is_some_and(|c| c != client_id) {
            return Err(err(ErrorCode::InvalidRequest, "client_id cannot be changed"));
        }
        let current = self.client(client_id)?;
        let opting_out = patch.require_pkce == Some(false);
        let spec = patch.apply(current.to_spec());
        if opting_out {
            check_pkce_policy(self.record(), &spec)?;
        }
        check_client_spec(&spec)?;
        let mut updated = current.clone();
        updated.apply_spec(spec);
        let new_secret = (updated.auth_method.uses_secret() && updated.secret_hash.is_none()).then(|| mint(env, ""));
        if let Some(s) = &new_secret {
            updated.secret_hash = Some(SecretHash::of(s));
        }
        let key = ClientRecord::key(self.slug(), client_id);
        self.change(env, "update client", &format!("clients/{client_id}"), |tx| {
            if load::<ClientRecord>(tx, &key)?.is_none() {
                return Err(not_found("unknown client"));
            }
            save(tx, &key, &updated)
        })?;
        Ok(ClientCreated {
            client: updated,
            client_secret: new_secret,
        })
    }

    /// Replaces the client's secret: the old one stops working at once; the new one is returned once.
    pub fn rotate_client_secret(&self, env: &mut Env<'_>, client_id: &str) -> Result<ClientCreated> {
        // ADMIN-secret-once
        let mut client = self.client(client_id)?;
        if !client.auth_method.uses_secret() {
            return Err(err(
                ErrorCode::InvalidRequest,
                "this client's token_endpoint_auth_method uses no secret",
            ));
        }
        let secret = mint(env, "");
        client.secret_hash = Some(SecretHash::of(&secret));
        let key = ClientRecord::key(self.slug(), client_id);
        let stored = client.clone();
        self.change(env, "rotate client secret", &format!("clients/{client_id}"), |tx| {
            if load::<ClientRecord>(tx, &key)?.is_none() {
                return Err(not_found("unknown client"));
            }
            save(tx, &key, &stored)
        })?;
        Ok(ClientCreated {
            client,
            client_secret: Some(secret),
        })
    }

    /// Deactivates (refused everywhere as invalid_client; its tokens stop being active) or reactivates.
    pub fn set_client_active(&self, env: &mut Env<'_>, client_id: &str, active: bool) -> Result<ClientRecord> {
        let key = ClientRecord::key(self.slug(), client_id);
        let what = if active { "activate client" } else { "deactivate client" };
        self.change(env, what, &format!("clients/{client_id}"), |tx| {
            let mut c = load::<ClientRecord>(tx, &key)?.ok_or_else(|| not_found("unknown client"))?;
            c.active = active;
            save(tx, &key, &c)?;
            Ok(c)
        })
    }

    /// Deletes a client and the consents given to it; its tokens stop being active.
    pub fn delete_client(&self, env: &mut Env<'_>, client_id: &str) -> Result<()> {
        let key = ClientRecord::key(self.slug(), client_id);
        let consents: Vec<String> = self
            .engine
            .store
            .scan(Table::Consent, &format!("{}/", self.slug()))?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.rsplit('/').next() == Some(client_id))
            .collect();
        self.change(env, "delete client", &format!("clients/{client_id}"), |tx| {
            if load::<ClientRecord>(tx, &key)?.is_none() {
                return Err(not_found("unknown client"));
            }
            for k in &consents {
                tx.delete(Table::Consent, k)?;
            }
            Ok(tx.delete(Table::Client, &key)?)
        })
    }
}
