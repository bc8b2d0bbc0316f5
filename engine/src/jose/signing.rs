//! The tenant's signing keys: stored material, the active signer per algorithm, the published JWKS,
//! and verification of tokens we issued.

use crate::env::{Env, UnixTime};
use crate::error::{EngineError, Result};
use crate::jose::{self, JoseError, KeyMaterial, SigningKey};
use crate::sealing::{record_aad, Sealed, Sealer};
use crate::store::{DecodedCache, Record, Table, Tx};
use serde::{Deserialize, Serialize};
use spec::SigningAlg;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A stored key's private half: sealed under the system secret ([`crate::sealing`]), or in
/// clear in a record written before sealing existed (sealed in place by
/// [`crate::Engine::seal_key_material`] at the next start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredMaterial {
    /// Sealed; the associated data is (signing_keys, tenant, kid).
    Sealed(Sealed),
    /// In clear (older records only).
    Clear(KeyMaterial),
}

/// One stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithm it signs with.
    pub alg: SigningAlg,
    /// Private material.
    pub material: StoredMaterial,
    /// When it was installed.
    pub created_at: UnixTime,
    /// When a newer key of the same alg replaced it (still published, no longer signing).
    pub retired_at: Option<UnixTime>,
}

/// All keys of a tenant, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeysRecord {
    /// Keys.
    pub keys: Vec<StoredKey>,
}

impl Record for SigningKeysRecord {
    const TABLE: Table = Table::SigningKeys;
}

/// A tenant's stored key list as bytes, and decoded.
/// Parsed keys, cached by (tenant, kid) so RSA keys are not re-parsed (nor opened) per token, and
/// each tenant's decoded key list, reused while the stored bytes are unchanged (so no
/// invalidation can be missed: a changed record is decoded again).
pub struct Keyring {
    sealer: Arc<dyn Sealer>,
    cache: Mutex<HashMap<(String, String), Arc<SigningKey>>>,
    records: DecodedCache<SigningKeysRecord>,
}

/// Why a stored key cannot be used.
fn unusable(tenant: &str, kid: &str, why: impl std::fmt::Display) -> EngineError {
    EngineError::Misuse(format!("signing key {kid} of tenant {tenant} is unusable: {why}"))
}

impl Keyring {
    /// A keyring that seals and opens private keys with `sealer`.
    pub fn new(sealer: Arc<dyn Sealer>) -> Self {
        Keyring {
            sealer,
            cache: Mutex::default(),
            records: DecodedCache::default(),
        }
    }

    /// The sealer.
    pub fn sealer(&self) -> &dyn Sealer {
        &*self.sealer
    }

    /// `material` as a new stored key of `tenant`, sealed (the nonce from `env`), created now.
    // SECRETS-keys-sealed-at-rest
    pub fn new_key(&self, env: &mut Env<'_>, tenant: &str, material: &KeyMaterial) -> Result<StoredKey> {
        let key =
            SigningKey::from_material(material).map_err(|_| EngineError::Misuse("unusable key material".into()))?;
        let stored = StoredKey {
            kid: key.kid().into(),
            alg: key.alg(),
            material: StoredMaterial::Sealed(self.seal(env, tenant, key.kid(), material)?),
            created_at: env.now,
            retired_at: None,
        };
        // Parsed once: its first token is signed without parsing it again. (A key that is never
        // stored stays cached harmlessly: it is found only under its own kid, which nothing else has.)
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant.to_string(), stored.kid.clone()), Arc::new(key));
        Ok(stored)
    }

    fn seal(&self, env: &mut Env<'_>, tenant: &str, kid: &str, material: &KeyMaterial) -> Result<Sealed> {
        let plain = serde_json::to_vec(material).map_err(|e| EngineError::Misuse(format!("encode: {e}")))?;
        Ok(self
            .sealer
            .seal(&mut *env.rng, &record_aad(Table::SigningKeys, tenant, kid), &plain))
    }

    /// The private material of `tenant`'s stored key `k`, opened. A sealed key that does not open
    /// (another system secret, or a ciphertext moved from another record) is an error.
    pub fn open(&self, tenant: &str, k: &StoredKey) -> Result<KeyMaterial> {
        match &k.material {
            StoredMaterial::Clear(m) => Ok(m.clone()),
            StoredMaterial::Sealed(s) => {
                let plain = self
                    .sealer
                    .open(&record_aad(Table::SigningKeys, tenant, &k.kid), s)
                    .map_err(|e| unusable(tenant, &k.kid, e))?;
                serde_json::from_slice(&plain).map_err(|e| unusable(tenant, &k.kid, e))
            }
        }
    }

    /// `k` sealed under the current system secret: `None` when it already is.
    pub fn resealed(&self, env: &mut Env<'_>, tenant: &str, k: &StoredKey) -> Result<Option<StoredKey>> {
        if matches!(&k.material, StoredMaterial::Sealed(s) if s.key == self.sealer.current_key()) {
            return Ok(None);
        }
        let material = self.open(tenant, k)?;
        Ok(Some(StoredKey {
            material: StoredMaterial::Sealed(self.seal(env, tenant, &k.kid, &material)?),
            ..k.clone()
        }))
    }

    /// The tenant's stored keys (decoded once per distinct stored value).
    pub fn record(&self, tx: &mut dyn Tx, tenant: &str) -> Result<Arc<SigningKeysRecord>> {
        Ok(self.records.load(tx, tenant)?.unwrap_or_default())
    }

    /// Whether `kid` is one of the tenant's published keys.
    pub fn is_published(&self, tx: &mut dyn Tx, tenant: &str, kid: &str) -> Result<bool> {
        Ok(self.record(tx, tenant)?.keys.iter().any(|k| k.kid == kid))
    }

    fn parsed(&self, tenant: &str, k: &StoredKey) -> Result<Arc<SigningKey>> {
        let id = (tenant.to_string(), k.kid.clone());
        if let Some(key) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(key.clone());
        }
        let key = SigningKey::from_material(&self.open(tenant, k)?).map_err(|_| unusable(tenant, &k.kid, "bad key"))?;
        if key.kid() != k.kid {
            return Err(unusable(tenant, &k.kid, "its material is another key's"));
        }
        let key = Arc::new(key);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, key.clone());
        Ok(key)
    }

    /// The newest unretired key of `alg` for `tenant`.
    pub fn signer(&self, tx: &mut dyn Tx, tenant: &str, alg: SigningAlg) -> Result<Arc<SigningKey>> {
        let rec = self.record(tx, tenant)?;
        let k = rec
            .keys
            .iter()
            .rev()
            .find(|k| k.alg == alg && k.retired_at.is_none())
            .ok_or_else(|| EngineError::Misuse(format!("tenant {tenant} has no {} signing key", alg.as_str())))?;
        self.parsed(tenant, k)
    }

    /// Every published key of `tenant`, parsed: the active keys first (clients that take the first
    /// key of a type must find the one that signs), then the retired ones, most recently retired first.
    pub fn published(&self, tx: &mut dyn Tx, tenant: &str) -> Result<Vec<Arc<SigningKey>>> {
        let rec = self.record(tx, tenant)?;
        let mut keys: Vec<&StoredKey> = rec.keys.iter().collect();
        keys.sort_by_key(|k| k.retired_at.map(|t| std::cmp::Reverse(t.0)));
        keys.into_iter().map(|k| self.parsed(tenant, k)).collect()
    }

    /// Verifies a JWS we signed for `tenant` and returns its header `typ` and claims.
    /// `Ok(None)` when it is not a valid token of ours.
    pub fn verify_own(
        &self,
        tx: &mut dyn Tx,
        tenant: &str,
        token: &str,
    ) -> Result<Option<(Option<String>, serde_json::Value)>> {
        let Ok(compact) = jose::decode(token) else {
            return Ok(None);
        };
        let Some(kid) = compact.header.kid.as_deref() else {
            return Ok(None);
        };
        let rec = self.record(tx, tenant)?;
        let Some(stored) = rec.keys.iter().find(|k| k.kid == kid) else {
            return Ok(None);
        };
        let key = self.parsed(tenant, stored)?;
        match compact
            .verify(key.public())
            .and_then(|_| compact.claims::<serde_json::Value>())
        {
            Ok(claims) => Ok(Some((compact.header.typ.clone(), claims))),
            Err(JoseError::Malformed | JoseError::BadAlgorithm | JoseError::BadSignature | JoseError::BadKey) => {
                Ok(None)
            }
        }
    }
}
