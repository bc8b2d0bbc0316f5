//! One transaction on redb: reads from a snapshot (after this transaction's own writes), writes
//! buffered; at commit, under redb's single writer, every value read is compared with what is
//! stored now, and the writes apply only if none changed.

use super::{expiry_entry, fail, table_def, EXPIRY_INDEX};
use engine::env::UnixTime;
use engine::error::{EngineError, StoreError};
use engine::store::{Table, Tx};
use redb::{Database, Durability, ReadOnlyTable, ReadTransaction, ReadableTable};
use std::collections::BTreeMap;
use store_kit::expiry_in_value;

/// What a transaction read and means to write.
pub(super) struct RedbTx {
    snapshot: ReadTransaction,
    /// Tables opened in the snapshot so far.
    open: Vec<(Table, ReadOnlyTable<&'static str, &'static [u8]>)>,
    /// The first value each key read had, as stored (`None`: absent).
    reads: BTreeMap<(Table, String), Option<Vec<u8>>>,
    /// The last write to each key, as it will be stored (`None`: delete).
    writes: BTreeMap<(Table, String), Option<Vec<u8>>>,
    relaxed: bool,
}

impl RedbTx {
    pub(super) fn new(snapshot: ReadTransaction) -> Self {
        RedbTx {
            snapshot,
            open: Vec::new(),
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            relaxed: false,
        }
    }

    /// Whether it wrote anything.
    pub(super) fn wrote(&self) -> bool {
        !self.writes.is_empty()
    }

    /// Whether its writes may reach the disk after the answer (`relax_durability`).
    pub(super) fn relaxed(&self) -> bool {
        self.relaxed
    }

    /// Commits the writes (without fsync) if every value read is still the stored one: `false`
    /// if one changed, and nothing was written.
    pub(super) fn commit(self, db: &Database) -> Result<bool, EngineError> {
        let storage = |e: StoreError| EngineError::Storage(e);
        let mut w = db.begin_write().map_err(|e| storage(fail(e)))?;
        w.set_durability(Durability::None).map_err(|e| storage(fail(e)))?;
        let unchanged = (|| -> Result<bool, StoreError> {
            for (table, reads) in by_table(&self.reads) {
                let t = w.open_table(table_def(table)).map_err(fail)?;
                for (key, seen) in reads {
                    let now = t.get(key).map_err(fail)?;
                    if now.as_ref().map(|v| v.value()) != seen.as_deref() {
                        return Ok(false);
                    }
                }
            }
            let mut index = w.open_table(EXPIRY_INDEX).map_err(fail)?;
            for (table, writes) in by_table(&self.writes) {
                let mut t = w.open_table(table_def(table)).map_err(fail)?;
                for (key, value) in writes {
                    let before = t
                        .get(key)
                        .map_err(fail)?
                        .and_then(|v| expiry_in_value::time_of(v.value()));
                    let after = value.as_deref().and_then(expiry_in_value::time_of);
                    if before != after {
                        if let Some(at) = before {
                            index.remove(expiry_entry(table, at, key).as_str()).map_err(fail)?;
                        }
                        if let Some(at) = after {
                            index.insert(expiry_entry(table, at, key).as_str(), ()).map_err(fail)?;
                        }
                    }
                    match value {
                        Some(v) => {
                            t.insert(key, v.as_slice()).map_err(fail)?;
                        }
                        None => {
                            t.remove(key).map_err(fail)?;
                        }
                    }
                }
            }
            Ok(true)
        })()
        .map_err(storage)?;
        if unchanged {
            w.commit().map_err(|e| storage(fail(e)))?;
        } else {
            w.abort().map_err(|e| storage(fail(e)))?;
        }
        Ok(unchanged)
    }

    fn snapshot_get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let i = match self.open.iter().position(|(t, _)| *t == table) {
            Some(i) => i,
            None => {
                let t = self.snapshot.open_table(table_def(table)).map_err(fail)?;
                self.open.push((table, t));
                self.open.len() - 1
            }
        };
        Ok(self.open[i].1.get(key).map_err(fail)?.map(|v| v.value().to_vec()))
    }
}

/// The entries of `map` grouped by table (the map is ordered by table first).
fn by_table<V>(map: &BTreeMap<(Table, String), V>) -> Vec<(Table, Vec<(&str, &V)>)> {
    let mut groups: Vec<(Table, Vec<(&str, &V)>)> = Vec::new();
    for ((table, key), value) in map {
        match groups.last_mut() {
            Some((t, items)) if t == table => items.push((key, value)),
            _ => groups.push((*table, vec![(key, value)])),
        }
    }
    groups
}

impl Tx for RedbTx {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (table, key.to_string());
        let stored = match (self.writes.get(&k), self.reads.get(&k)) {
            (Some(w), _) => w.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => {
                let value = self.snapshot_get(table, key)?;
                self.reads.insert(k, value.clone());
                value
            }
        };
        Ok(stored.map(|v| expiry_in_value::decode(&v).to_vec()))
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes
            .insert((table, key.to_string()), Some(expiry_in_value::encode(value, None)));
        Ok(())
    }
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, at: UnixTime) -> Result<(), StoreError> {
        self.writes
            .insert((table, key.to_string()), Some(expiry_in_value::encode(value, Some(at))));
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), None);
        Ok(())
    }
    fn relax_durability(&mut self) {
        self.relaxed = true;
    }
}
