//! Creating tenants, clients, users and signing keys (the engine side of the Admin API).

use crate::client::{build_client, ClientRecord, ClientSpec};
use crate::engine::Engine;
use crate::env::Env;
use crate::error::{err, Result};
use crate::jose::signing::SigningKeysRecord;
use crate::jose::KeyMaterial;
use crate::password;
use crate::secret::mint_id;
use crate::store::{load, save, Store};
use crate::tenant::{valid_slug, TenantRecord};
use crate::user::{UserIndexRecord, UserProfile, UserRecord};
use spec::{ErrorCode, SigningAlg};

impl<S: Store> Engine<S> {
    /// Creates a tenant; fails with invalid_request if the slug is invalid or taken.
    pub fn create_tenant(&self, tenant: TenantRecord) -> Result<TenantRecord> {
        if !valid_slug(&tenant.slug) {
            return Err(err(
                ErrorCode::InvalidRequest,
                "tenant slug must be 1-63 characters of a-z, 0-9 and -",
            ));
        }
        self.store.transact(|tx| {
            if load::<TenantRecord>(tx, &tenant.slug)?.is_some() {
                return Err(err(ErrorCode::Conflict, "tenant already exists"));
            }
            save(tx, &tenant.slug, &tenant)?;
            Ok(tenant.clone())
        })
    }

    /// Reads a tenant.
    pub fn tenant(&self, slug: &str) -> Result<Option<TenantRecord>> {
        self.store.transact(|tx| load::<TenantRecord>(tx, slug))
    }

    /// For every tenant, the signing algorithms it has no active key for (start-up repairs these,
    /// so a tenant made before an algorithm was added gets a key for it).
    pub fn missing_signing_algs(&self) -> Result<Vec<(String, SigningAlg)>> {
        let mut missing = Vec::new();
        for (slug, _) in self.store.scan(crate::store::Table::Tenant, "")? {
            let rec = self
                .store
                .transact(|tx| load::<SigningKeysRecord>(tx, &slug))?
                .unwrap_or_default();
            for alg in SigningAlg::ALL {
                if !rec.keys.iter().any(|k| k.alg == alg && k.retired_at.is_none()) {
                    missing.push((slug.clone(), alg));
                }
            }
        }
        Ok(missing)
    }

    /// Registers a client; returns the record and its secret (shown once, stored hashed).
    pub fn create_client(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        spec: ClientSpec,
    ) -> Result<(ClientRecord, Option<String>)> {
        let (record, secret) = build_client(env, tenant, spec)?;
        self.store.transact(|tx| {
            if load::<TenantRecord>(tx, tenant)?.is_none() {
                return Err(err(ErrorCode::InvalidRequest, "unknown tenant"));
            }
            let key = ClientRecord::key(tenant, &record.client_id);
            if load::<ClientRecord>(tx, &key)?.is_some() {
                return Err(err(ErrorCode::InvalidClientMetadata, "client_id already registered"));
            }
            save(tx, &key, &record)
        })?;
        Ok((record, secret))
    }

    /// Reads a client.
    pub fn client(&self, tenant: &str, client_id: &str) -> Result<Option<ClientRecord>> {
        self.store
            .transact(|tx| load::<ClientRecord>(tx, &ClientRecord::key(tenant, client_id)))
    }

    /// Replaces a client record (admin update, deactivation); the client must exist.
    pub fn update_client(&self, record: ClientRecord) -> Result<()> {
        self.store.transact(|tx| {
            let key = ClientRecord::key(&record.tenant, &record.client_id);
            if load::<ClientRecord>(tx, &key)?.is_none() {
                return Err(err(ErrorCode::InvalidClient, "unknown client"));
            }
            save(tx, &key, &record)
        })
    }

    /// Creates a user with an argon2id-hashed password; username and email must be unused.
    pub fn create_user(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        profile: UserProfile,
        password: &str,
    ) -> Result<UserRecord> {
        if profile.username.trim().is_empty() || profile.username.len() > 256 {
            return Err(err(ErrorCode::InvalidRequest, "username is required"));
        }
        if password.len() < 8 || password.len() > 1024 {
            return Err(err(ErrorCode::InvalidRequest, "password must be 8 to 1024 characters"));
        }
        let user = self.new_user(env, tenant, profile, Some(password));
        let id = user.id.clone();
        self.store.transact(|tx| {
            if load::<TenantRecord>(tx, tenant)?.is_none() {
                return Err(err(ErrorCode::InvalidRequest, "unknown tenant"));
            }
            let mut names = vec![UserIndexRecord::username_key(tenant, &user.profile.username)];
            if let Some(email) = &user.profile.email {
                names.push(UserIndexRecord::email_key(tenant, email));
            }
            for name in &names {
                if load::<UserIndexRecord>(tx, name)?.is_some() {
                    return Err(err(ErrorCode::Conflict, "username or email already in use"));
                }
                save(tx, name, &UserIndexRecord::new(tenant, &id))?;
            }
            save(tx, &UserRecord::key(tenant, &id), &user)
        })?;
        Ok(user)
    }

    /// A new user record (not yet stored); without a password nobody can log in as it.
    pub(crate) fn new_user(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        profile: UserProfile,
        pw: Option<&str>,
    ) -> UserRecord {
        let id = mint_id(env);
        let salt: [u8; 16] = env.random_bytes();
        UserRecord {
            tenant: tenant.into(),
            id,
            password_hash: pw
                .map(|p| password::hash(self.config.password, p, &salt))
                .unwrap_or_default(),
            disabled: false,
            updated_at: env.now.0,
            profile,
            app_licenses: Default::default(),
            activation: None,
            second_factors: Default::default(),
        }
    }

    /// Reads a user.
    pub fn user(&self, tenant: &str, user_id: &str) -> Result<Option<UserRecord>> {
        self.store
            .transact(|tx| load::<UserRecord>(tx, &UserRecord::key(tenant, user_id)))
    }

    /// Enables or disables a user.
    pub fn set_user_disabled(&self, tenant: &str, user_id: &str, disabled: bool) -> Result<()> {
        self.store.transact(|tx| {
            let key = UserRecord::key(tenant, user_id);
            let mut u = load::<UserRecord>(tx, &key)?.ok_or_else(|| err(ErrorCode::InvalidRequest, "unknown user"))?;
            u.disabled = disabled;
            save(tx, &key, &u)
        })
    }

    /// Installs a signing key for `tenant`; the previous active key of the same algorithm is
    /// retired (no longer signs) but stays published. Returns the new kid.
    // JOSE-key-rotation
    pub fn install_signing_key(&self, env: &mut Env<'_>, tenant: &str, material: KeyMaterial) -> Result<String> {
        let key = self.keys.new_key(env, tenant, &material)?;
        let now = env.now;
        self.store.transact(|tx| {
            let mut rec = load::<SigningKeysRecord>(tx, tenant)?.unwrap_or_default();
            if rec.keys.iter().any(|k| k.kid == key.kid) {
                return Ok(key.kid.clone());
            }
            if self.mutant(|m| m.rotation_forgets_old_keys) {
                rec.keys.clear();
            }
            for k in rec
                .keys
                .iter_mut()
                .filter(|k| k.alg == key.alg && k.retired_at.is_none())
            {
                k.retired_at = Some(now);
            }
            rec.keys.push(key.clone());
            save(tx, tenant, &rec)?;
            Ok(key.kid.clone())
        })
    }

    /// Stops publishing keys retired before `before` (their tokens have expired).
    pub fn prune_retired_keys(&self, tenant: &str, before: crate::env::UnixTime) -> Result<()> {
        self.store.transact(|tx| {
            let mut rec = load::<SigningKeysRecord>(tx, tenant)?.unwrap_or_default();
            rec.keys.retain(|k| k.retired_at.is_none_or(|t| t >= before));
            save(tx, tenant, &rec)
        })
    }

    /// The tenant's published JWKS.
    // JOSE-jwks-publication
    pub fn jwks(&self, tenant: &str) -> Result<jose_jwk::JwkSet> {
        let keys = self.store.transact(|tx| self.keys.published(tx, tenant))?;
        Ok(jose_jwk::JwkSet {
            keys: keys.iter().map(|k| k.jwk()).collect(),
        })
    }
}
