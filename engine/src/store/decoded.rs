//! Decoded records kept beside the bytes they were decoded from, so a record read on every
//! request (a client, a tenant's keys) is decoded once per distinct stored value. Every lookup
//! still reads the stored bytes in the caller's transaction and compares them, so a change is
//! never missed and no invalidation is needed; the answer is always `decode(stored bytes)`.

use super::{decode, Record, Tx};
use crate::error::EngineError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many records one cache holds; past this it starts again empty (a bound, not an LRU:
/// the hot set is small and re-decoding is only a cost).
const CAPACITY: usize = 1024;

/// A decoded record and the stored bytes it came from.
type Entry<R> = (Vec<u8>, Arc<R>);

/// Records of one type by key, each with the bytes it was decoded from.
pub struct DecodedCache<R> {
    entries: Mutex<HashMap<String, Entry<R>>>,
}

impl<R> Default for DecodedCache<R> {
    fn default() -> Self {
        DecodedCache {
            entries: Mutex::default(),
        }
    }
}

impl<R: Record> DecodedCache<R> {
    /// The record stored under `key`, read in `tx`, decoded once per distinct stored value.
    pub fn load(&self, tx: &mut dyn Tx, key: &str) -> Result<Option<Arc<R>>, EngineError> {
        let Some(raw) = tx.get(R::TABLE, key)? else {
            return Ok(None);
        };
        if let Some((bytes, rec)) = self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            if *bytes == raw {
                return Ok(Some(rec.clone()));
            }
        }
        let rec = Arc::new(decode::<R>(&raw)?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_string(), (raw, rec.clone()));
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::auth::AssertionJtiRecord as Rec;
    use crate::env::UnixTime;
    use crate::store::{save, MemStore, Store};

    fn put(store: &MemStore, key: &str, at: u64) {
        store
            .transact(|tx| {
                save(
                    tx,
                    key,
                    &Rec {
                        expires_at: UnixTime(at),
                    },
                )
            })
            .unwrap();
    }

    #[test]
    fn a_changed_record_is_decoded_again_and_a_deleted_one_is_gone() {
        let store = MemStore::default();
        let cache = DecodedCache::<Rec>::default();
        put(&store, "t/a", 5);
        let first = store.transact(|tx| cache.load(tx, "t/a")).unwrap().unwrap();
        let again = store.transact(|tx| cache.load(tx, "t/a")).unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "unchanged bytes: the decoded record is reused"
        );
        put(&store, "t/a", 6);
        let changed = store.transact(|tx| cache.load(tx, "t/a")).unwrap().unwrap();
        assert_eq!(changed.expires_at, UnixTime(6), "changed bytes are decoded again");
        store.transact(|tx| Ok(tx.delete(Rec::TABLE, "t/a")?)).unwrap();
        assert!(store.transact(|tx| cache.load(tx, "t/a")).unwrap().is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let store = MemStore::default();
        let cache = DecodedCache::<Rec>::default();
        for i in 0..CAPACITY + 10 {
            let key = format!("t/{i}");
            put(&store, &key, i as u64);
            let rec = store.transact(|tx| cache.load(tx, &key)).unwrap().unwrap();
            assert_eq!(rec.expires_at, UnixTime(i as u64));
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
    }
}
