//! The engine's `Store` on sled: one tree, keys `{table}\0{key}`, serializable transactions
//! (one at a time, each committed as one atomic batch),
//! and every transaction that wrote flushed before the caller answers (by group commit inside
//! a request, see `group_commit`; at once outside one).
//!
//! Durability: sled's flush on Linux is `sync_file_range`, so acknowledged writes survive a
//! killed process; surviving a power cut is not promised.

use crate::group_commit::Flusher;
use engine::error::{EngineError, StoreError};
use engine::store::{Store, Table, Tx};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// The page cache used unless told otherwise: 16 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// A sled database holding every record.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    flusher: Flusher,
    lock: Mutex<()>,
}

fn full_key(table: Table, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(table.name().len() + 1 + key.len());
    k.extend_from_slice(table.name().as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.flusher.stop();
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir` with the default page cache.
    pub fn open(dir: &Path) -> Result<Self, sled::Error> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the database in `dir`, caching at most about `cache_bytes` of pages
    /// (sled's own default is 1 GiB, which a large store would fill).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self, sled::Error> {
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).open()?;
        let tree = db.open_tree("records")?;
        let flusher = Flusher::start(db.clone());
        Ok(SledStore {
            db,
            tree,
            flusher,
            lock: Mutex::new(()),
        })
    }

    /// The group-commit handle (requests run inside its `scope`).
    pub fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| StoreError(e.to_string()))
    }
}

/// One transaction: reads go to the tree (after this transaction's own writes), writes are
/// buffered and applied as one atomic sled batch at commit.
struct SledTx<'a> {
    tree: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    relaxed: bool,
}

impl Tx for SledTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = full_key(table, key);
        if let Some(w) = self.writes.get(&k) {
            return Ok(w.clone());
        }
        self.tree
            .get(k)
            .map(|v| v.map(|iv| iv.to_vec()))
            .map_err(|e| StoreError(e.to_string()))
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes.insert(full_key(table, key), Some(value));
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError> {
        self.writes.insert(full_key(table, key), None);
        Ok(())
    }
    fn relax_durability(&mut self) {
        self.relaxed = true;
    }
}

impl Store for SledStore {
    /// Serializable because every transaction holds the store's lock from its first read to
    /// its commit (sled's own transactions take a global write lock too, and also append a log
    /// record even when they only read; this does not). Writes commit as one atomic batch.
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        let value = {
            let _serial = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut tx = SledTx {
                tree: &self.tree,
                writes: BTreeMap::new(),
                relaxed: false,
            };
            let value = f(&mut tx)?;
            if tx.writes.is_empty() {
                return Ok(value);
            }
            let relaxed = tx.relaxed;
            let mut batch = sled::Batch::default();
            for (k, v) in tx.writes {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
            self.tree
                .apply_batch(batch)
                .map_err(|e| EngineError::Storage(StoreError(e.to_string())))?;
            if relaxed {
                // On disk with sled's next periodic flush (every 500 ms) or any later flush.
                return Ok(value);
            }
            value
        };
        self.flusher
            .committed()
            .map_err(|e| EngineError::Storage(StoreError(e.to_string())))?;
        Ok(value)
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let start = full_key(table, prefix);
        let skip = table.name().len() + 1;
        self.tree
            .scan_prefix(&start)
            .map(|kv| {
                let (k, v) = kv.map_err(|e| StoreError(e.to_string()))?;
                Ok((String::from_utf8_lossy(&k[skip..]).into_owned(), v.to_vec()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::error::ProtocolError;
    use spec::ErrorCode;

    #[test]
    fn commits_aborts_scans_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.transact(|tx| {
                tx.put(Table::User, "t/a", b"1".to_vec())?;
                tx.put(Table::UserIndex, "t/u/a", b"2".to_vec())?;
                Ok(())
            })
            .unwrap();
            let r: Result<(), _> = s.transact(|tx| {
                tx.put(Table::User, "t/b", b"3".to_vec())?;
                Err(EngineError::Protocol(ProtocolError::new(
                    ErrorCode::InvalidGrant,
                    "abort",
                )))
            });
            assert!(r.is_err());
            assert_eq!(
                s.scan(Table::User, "t/").unwrap(),
                vec![("t/a".to_string(), b"1".to_vec())]
            );
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::User, "t/a")?)).unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(s.transact(|tx| Ok(tx.get(Table::User, "t/b")?)).unwrap(), None);
    }

    #[test]
    fn relaxed_writes_are_visible_at_once_and_on_disk_after_a_clean_close() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.transact(|tx| {
                tx.relax_durability();
                Ok(tx.put(Table::AccessToken, "t/j", b"rec".to_vec())?)
            })
            .unwrap();
            assert_eq!(
                s.transact(|tx| Ok(tx.get(Table::AccessToken, "t/j")?)).unwrap(),
                Some(b"rec".to_vec())
            );
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::AccessToken, "t/j")?)).unwrap(),
            Some(b"rec".to_vec())
        );
    }

    #[test]
    fn concurrent_single_use_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        s.transact(|tx| Ok(tx.put(Table::Code, "c", b"issued".to_vec())?))
            .unwrap();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    s.transact(|tx| match tx.get(Table::Code, "c")? {
                        Some(v) if v == b"issued" => {
                            tx.put(Table::Code, "c", b"redeemed".to_vec())?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    })
                    .unwrap()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1);
    }
}
