//! The tenant's signing keys: stored material, the active signer per algorithm, the published JWKS,
//! and verification of tokens we issued.

use crate::env::UnixTime;
use crate::error::{EngineError, Result};
use crate::jose::{self, JoseError, KeyMaterial, SigningKey};
use crate::store::{DecodedCache, Record, Table, Tx};
use serde::{Deserialize, Serialize};
use spec::SigningAlg;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Algorithm it signs with.
    pub alg: SigningAlg,
    /// Private material.
    pub material: KeyMaterial,
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
/// Parsed keys, cached by (tenant, kid) so RSA keys are not re-parsed per token, and each
/// tenant's decoded key list, reused while the stored bytes are unchanged (so no invalidation
/// can be missed: a changed record is decoded again).
#[derive(Default)]
pub struct Keyring {
    cache: Mutex<HashMap<(String, String), Arc<SigningKey>>>,
    records: DecodedCache<SigningKeysRecord>,
}

impl Keyring {
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
        let key = Arc::new(
            SigningKey::from_material(&k.material)
                .map_err(|_| EngineError::Misuse(format!("stored signing key {} is unusable", k.kid)))?,
        );
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
