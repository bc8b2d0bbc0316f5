//! `MemStore`: the in-memory store for tests, models and fuzzing.

use super::{Store, Table, Tx};
use crate::error::{EngineError, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;

type Map = BTreeMap<(Table, String), Vec<u8>>;

/// An in-memory store. Transactions are serialized by one lock, so they are trivially serializable.
#[derive(Default)]
pub struct MemStore {
    data: Mutex<Map>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding exactly `records` (as produced by [`MemStore::snapshot`]).
    pub fn from_snapshot(records: &[(Table, String, Vec<u8>)]) -> Self {
        let data = records.iter().map(|(t, k, v)| ((*t, k.clone()), v.clone())).collect();
        MemStore { data: Mutex::new(data) }
    }

    /// A copy of every record, for tests that compare whole states.
    pub fn snapshot(&self) -> Vec<(Table, String, Vec<u8>)> {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        data.iter().map(|((t, k), v)| (*t, k.clone(), v.clone())).collect()
    }
}

struct MemTx<'a> {
    base: &'a Map,
    writes: BTreeMap<(Table, String), Option<Vec<u8>>>,
}

impl Tx for MemTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (table, key.to_string());
        Ok(match self.writes.get(&k) {
            Some(v) => v.clone(),
            None => self.base.get(&k).cloned(),
        })
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), Some(value));
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), None);
        Ok(())
    }
}

impl Store for MemStore {
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = MemTx {
            base: &data,
            writes: BTreeMap::new(),
        };
        let out = f(&mut tx)?;
        let writes = std::mem::take(&mut tx.writes);
        for (k, v) in writes {
            match v {
                Some(v) => {
                    data.insert(k, v);
                }
                None => {
                    data.remove(&k);
                }
            }
        }
        Ok(out)
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        Ok(data
            .range((table, prefix.to_string())..)
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let start = match after {
            Some(a) if a >= prefix => Excluded((table, a.to_string())),
            _ => Included((table, prefix.to_string())),
        };
        Ok(data
            .range((start, Unbounded))
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::err;
    use spec::ErrorCode;

    #[test]
    fn paged_scans_agree_with_whole_scans() {
        crate::store::paging_check::assert_paged_scans_agree(&MemStore::new());
    }

    #[test]
    fn passes_the_store_contract() {
        use crate::store::contract_check::*;
        assert_commits_and_aborts(&MemStore::new());
        assert_single_use_has_one_winner(std::sync::Arc::new(MemStore::new()));
        assert_no_lost_updates(std::sync::Arc::new(MemStore::new()));
    }

    #[test]
    fn aborted_transactions_write_nothing() {
        let s = MemStore::new();
        let r: Result<(), _> = s.transact(|tx| {
            tx.put(Table::Code, "a", b"1".to_vec())?;
            Err(err(ErrorCode::InvalidGrant, "abort"))
        });
        assert!(r.is_err());
        assert!(s.snapshot().is_empty());
        s.transact(|tx| {
            tx.put(Table::Code, "a", b"1".to_vec())?;
            assert_eq!(tx.get(Table::Code, "a")?, Some(b"1".to_vec()));
            tx.delete(Table::Code, "a")?;
            assert_eq!(tx.get(Table::Code, "a")?, None);
            tx.put(Table::Code, "b", b"2".to_vec())?;
            Ok(())
        })
        .unwrap();
        assert_eq!(s.scan(Table::Code, "").unwrap(), vec![("b".to_string(), b"2".to_vec())]);
        assert!(s.scan(Table::Client, "").unwrap().is_empty());
    }
}
