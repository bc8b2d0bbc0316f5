//! Sealing the stored private keys under the current system secret: at start, the keys a version
//! before sealing left in clear (and a check that every sealed one opens with the secrets given,
//! so a wrong or missing secret stops the start instead of a token request); on the operator's
//! rotation, every key not yet under the newest secret.

use crate::engine::Engine;
use crate::env::Env;
use crate::error::{EngineError, Result};
use crate::jose::signing::{SigningKeysRecord, StoredKey};
use crate::sealing::{record_aad, Drawn};
use crate::store::{decode, for_each_page, load, save, Store, Table};
use crate::user::UserRecord;

/// Which stored keys [`Engine::reseal_key_material`] seals again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResealScope {
    /// Only keys still in clear (what each start does).
    Clear,
    /// Every key not sealed under the newest secret (after a new secret was put first).
    NotCurrent,
}

/// What a reseal found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Tenants with stored keys.
    pub tenants: usize,
    /// Stored keys; each opened with the secrets given.
    pub keys: usize,
    /// Keys found in clear.
    pub clear: usize,
    /// Keys written sealed under the newest secret.
    pub resealed: usize,
    /// Users' authenticator-app secrets (checked and sealed again on a rotation only).
    pub totp_secrets: usize,
    /// Of those, the ones written sealed under the newest secret.
    pub totp_resealed: usize,
}

impl<S: Store> Engine<S> {
    /// Opens every tenant's stored private keys (an error names the first that does not open:
    /// sealed under a secret not given, or changed), then seals again the ones `scope` names,
    /// one tenant per transaction. Writes nothing when a key does not open.
    pub fn reseal_key_material(&self, env: &mut Env<'_>, scope: ResealScope) -> Result<ResealReport> {
        let mut report = ResealReport::default();
        let mut records: Vec<(String, SigningKeysRecord)> = Vec::new();
        for_each_page(&self.store, Table::SigningKeys, "", 200, |page| {
            for (tenant, bytes) in page {
                let rec = decode::<SigningKeysRecord>(bytes)?;
                for k in &rec.keys {
                    self.keys.open(tenant, k)?;
                }
                records.push((tenant.clone(), rec));
            }
            Ok(())
        })?;
        for (tenant, rec) in records {
            report.tenants += 1;
            report.keys += rec.keys.len();
            let clear = |k: &StoredKey| matches!(k.material, crate::jose::signing::StoredMaterial::Clear(_));
            report.clear += rec.keys.iter().filter(|k| clear(k)).count();
            let mut fresh: Vec<(StoredKey, StoredKey)> = Vec::new();
            for k in rec.keys.iter().filter(|k| scope == ResealScope::NotCurrent || clear(k)) {
                if let Some(new) = self.keys.resealed(env, &tenant, k)? {
                    fresh.push((k.clone(), new));
                }
            }
            if fresh.is_empty() {
                continue;
            }
            report.resealed += self.store.transact(|tx| {
                let Some(mut now) = load::<SigningKeysRecord>(tx, &tenant)? else {
                    return Ok(0);
                };
                let mut n = 0;
                // Only keys unchanged since the scan (another instance may have sealed or pruned them).
                for k in now.keys.iter_mut() {
                    if let Some((_, new)) = fresh.iter().find(|(old, _)| old == k) {
                        *k = new.clone();
                        n += 1;
                    }
                }
                if n > 0 {
                    save(tx, &tenant, &now)?;
                }
                Ok(n)
            })?;
        }
        if scope == ResealScope::NotCurrent {
            self.reseal_totp_secrets(env, &mut report)?;
        }
        Ok(report)
    }

    /// Opens every user's authenticator-app secret, then seals again, one user per transaction,
    /// the ones not under the newest secret. Writes nothing when one does not open.
    fn reseal_totp_secrets(&self, env: &mut Env<'_>, report: &mut ResealReport) -> Result<()> {
        let sealer = self.keys.sealer();
        let aad = |key: &str| record_aad(Table::User, key, "totp");
        let mut stale: Vec<String> = Vec::new();
        for_each_page(&self.store, Table::User, "", 200, |page| {
            for (key, bytes) in page {
                let user = decode::<UserRecord>(bytes)?;
                let Some(totp) = &user.second_factors.totp else {
                    continue;
                };
                report.totp_secrets += 1;
                sealer.open(&aad(key), &totp.secret).map_err(|e| {
                    EngineError::Misuse(format!("the authenticator secret of user {key} does not open: {e}"))
                })?;
                if totp.secret.key != sealer.current_key() {
                    stale.push(key.clone());
                }
            }
            Ok(())
        })?;
        for key in stale {
            let nonce: [u8; 12] = env.random_bytes();
            report.totp_resealed += self.store.transact(|tx| {
                let Some(mut user) = load::<UserRecord>(tx, &key)? else {
                    return Ok(0);
                };
                let Some(totp) = &mut user.second_factors.totp else {
                    return Ok(0);
                };
                if totp.secret.key == sealer.current_key() {
                    return Ok(0);
                }
                let plain = sealer
                    .open(&aad(&key), &totp.secret)
                    .map_err(|e| EngineError::Misuse(format!("the authenticator secret of user {key}: {e}")))?;
                totp.secret = sealer.seal(&mut Drawn(&nonce), &aad(&key), &plain);
                save(tx, &key, &user)?;
                Ok(1)
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::env::{SeededRandom, UnixTime};
    use crate::fixtures;
    use crate::jose::signing::StoredMaterial;
    use crate::sealing::{SystemSecrets, A_TEST_SECRET};
    use crate::store::{MemStore, Tx};
    use std::sync::Arc;

    const OLD: &str = "the old system secret, thirty-two bytes or more";
    const NEW: &str = "the new system secret, thirty-two bytes or more";

    fn engine<'a>(store: &'a MemStore, secrets: &[&str]) -> Engine<&'a MemStore> {
        Engine::new(
            store,
            EngineConfig::new("https://op.example"),
            Arc::new(SystemSecrets::new(secrets).unwrap()),
        )
    }

    fn stored(e: &Engine<&MemStore>, tenant: &str) -> SigningKeysRecord {
        e.store().transact(|tx| load(tx, tenant)).unwrap().unwrap()
    }

    fn raw(e: &Engine<&MemStore>, tenant: &str) -> Vec<u8> {
        e.store()
            .transact(|tx| Ok(tx.get(Table::SigningKeys, tenant)?))
            .unwrap()
            .unwrap()
    }

    fn install(e: &Engine<&MemStore>, tenant: &str, seed: u64) -> String {
        let mut rng = SeededRandom::new(seed);
        let mut env = Env::new(UnixTime(1_000), &mut rng);
        e.install_signing_key(&mut env, tenant, fixtures::p256_key()).unwrap()
    }

    fn reseal(e: &Engine<&MemStore>, scope: ResealScope) -> Result<ResealReport> {
        let mut rng = SeededRandom::new(9);
        let mut env = Env::new(UnixTime(2_000), &mut rng);
        e.reseal_key_material(&mut env, scope)
    }

    #[test]
    fn keys_are_stored_sealed_and_sign_after_a_rotation_of_the_system_secret() {
        let store = MemStore::default();
        let old = engine(&store, &[OLD]);
        let kid = install(&old, "demo", 1);
        let bytes = raw(&old, "demo");
        let scalar = crate::secret::b64url(&fixtures::p256_key_scalar());
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&scalar),
            "the scalar is stored in clear"
        );
        assert!(matches!(
            stored(&old, "demo").keys[0].material,
            StoredMaterial::Sealed(_)
        ));
        // The new secret first, the old one still given: everything opens, and is sealed again.
        let both = engine(&store, &[NEW, OLD]);
        let r = reseal(&both, ResealScope::NotCurrent).unwrap();
        assert_eq!((r.tenants, r.keys, r.clear, r.resealed), (1, 1, 0, 1));
        assert_eq!(reseal(&both, ResealScope::NotCurrent).unwrap().resealed, 0);
        // The old secret removed: the key still opens and signs.
        let new = engine(&store, &[NEW]);
        assert_eq!(reseal(&new, ResealScope::Clear).unwrap().keys, 1);
        let signer = new
            .store()
            .transact(|tx| new.keys.signer(tx, "demo", spec::SigningAlg::ES256))
            .unwrap();
        assert_eq!(signer.kid(), kid);
        // Only the old secret: a clear error naming the tenant, the key and the cause; nothing written.
        let before = raw(&new, "demo");
        let e = reseal(&engine(&store, &[OLD]), ResealScope::Clear).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("demo") && text.contains(&kid) && text.contains("not among"),
            "{text}"
        );
        assert_eq!(raw(&new, "demo"), before);
    }

    #[test]
    fn authenticator_secrets_are_sealed_again_on_a_rotation() {
        let store = MemStore::default();
        let old = engine(&store, &[OLD]);
        let key = UserRecord::key("demo", "u1");
        let aad = record_aad(Table::User, &key, "totp");
        let mut rng = SeededRandom::new(3);
        let sealed = old.keys.sealer().seal(&mut rng, &aad, b"twenty bytes secret!");
        let user = UserRecord {
            tenant: "demo".into(),
            id: "u1".into(),
            password_hash: String::new(),
            disabled: false,
            updated_at: 0,
            profile: Default::default(),
            app_licenses: Default::default(),
            activation: None,
            second_factors: crate::mfa::SecondFactors {
                totp: Some(crate::mfa::TotpFactor {
                    secret: sealed,
                    last_step: 0,
                    enrolled_at: UnixTime(0),
                }),
                recovery_codes: Vec::new(),
            },
        };
        store.transact(|tx| save(tx, &key, &user)).unwrap();
        let both = engine(&store, &[NEW, OLD]);
        // A start checks signing keys only; the rotation checks and seals the app secrets too.
        assert_eq!(reseal(&both, ResealScope::Clear).unwrap().totp_secrets, 0);
        let r = reseal(&both, ResealScope::NotCurrent).unwrap();
        assert_eq!((r.totp_secrets, r.totp_resealed), (1, 1));
        assert_eq!(reseal(&both, ResealScope::NotCurrent).unwrap().totp_resealed, 0);
        let new = engine(&store, &[NEW]);
        let stored: UserRecord = new.store().transact(|tx| load(tx, &key)).unwrap().unwrap();
        let secret = stored.second_factors.totp.unwrap().secret;
        assert_eq!(new.keys.sealer().open(&aad, &secret).unwrap(), b"twenty bytes secret!");
        // Only the old secret: the rotation stops, naming the user.
        let e = reseal(&engine(&store, &[OLD]), ResealScope::NotCurrent).unwrap_err();
        assert!(e.to_string().contains("demo/u1"), "{e}");
    }

    #[test]
    fn keys_stored_in_clear_by_an_older_version_are_sealed_once() {
        let store = MemStore::default();
        let e = engine(&store, &[A_TEST_SECRET]);
        let kid = install(&e, "demo", 1);
        // Write the record as a version before sealing did.
        let mut rec = stored(&e, "demo");
        rec.keys[0].material = StoredMaterial::Clear(fixtures::p256_key());
        let legacy = serde_json::to_vec(&rec).unwrap();
        assert!(String::from_utf8_lossy(&legacy).contains("\"kind\":\"p256_scalar\""));
        store
            .transact(|tx: &mut dyn Tx| Ok(tx.put(Table::SigningKeys, "demo", legacy.clone())?))
            .unwrap();
        let r = reseal(&e, ResealScope::Clear).unwrap();
        assert_eq!((r.clear, r.resealed), (1, 1));
        assert!(matches!(stored(&e, "demo").keys[0].material, StoredMaterial::Sealed(_)));
        assert_eq!(reseal(&e, ResealScope::Clear).unwrap().resealed, 0);
        assert_eq!(stored(&e, "demo").keys[0].kid, kid);
    }

    #[test]
    fn a_sealed_key_copied_into_another_tenants_record_is_refused() {
        let store = MemStore::default();
        let e = engine(&store, &[A_TEST_SECRET]);
        install(&e, "acme", 1);
        let kid = install(&e, "demo", 2);
        let demo = stored(&e, "demo");
        let mut acme = stored(&e, "acme");
        acme.keys[0].material = demo.keys[0].material.clone();
        acme.keys[0].kid = kid.clone();
        let bytes = serde_json::to_vec(&acme).unwrap();
        store
            .transact(|tx: &mut dyn Tx| Ok(tx.put(Table::SigningKeys, "acme", bytes.clone())?))
            .unwrap();
        let fresh = engine(&store, &[A_TEST_SECRET]);
        let err = fresh
            .store()
            .transact(|tx| fresh.keys.signer(tx, "acme", spec::SigningAlg::ES256).map(|_| ()))
            .unwrap_err();
        assert!(err.to_string().contains("does not open"), "{err}");
        assert!(reseal(&fresh, ResealScope::Clear).is_err());
        // The tenant it was copied from still signs.
        fresh
            .store()
            .transact(|tx| fresh.keys.signer(tx, "demo", spec::SigningAlg::ES256).map(|_| ()))
            .unwrap();
    }
}
