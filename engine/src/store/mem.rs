//! `MemStore`: the in-memory store for tests, models and fuzzing.

use super::{ExpiredPage, Store, Table, Tx};
use crate::env::UnixTime;
use crate::error::{EngineError, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// A value and the time the purge may delete it after (`Tx::put_expiring`).
type Stored = (Vec<u8>, Option<UnixTime>);

#[derive(Default)]
struct Data {
    records: BTreeMap<(Table, String), Stored>,
    /// (table, expiry time, key) of every record written with a time: `expired` reads it in time
    /// order, as an indexed store does.
    expiry: BTreeSet<(Table, UnixTime, String)>,
}

impl Data {
    fn write(&mut self, (table, key): (Table, String), value: Option<Stored>) {
        if let Some((_, Some(at))) = self.records.get(&(table, key.clone())) {
            self.expiry.remove(&(table, *at, key.clone()));
        }
        match value {
            Some(stored) => {
                if let Some(at) = stored.1 {
                    self.expiry.insert((table, at, key.clone()));
                }
                self.records.insert((table, key), stored);
            }
            None => {
                self.records.remove(&(table, key));
            }
        }
    }
}

/// An in-memory store. Transactions are serialized by one lock, so they are trivially serializable.
#[derive(Default)]
pub struct MemStore {
    data: Mutex<Data>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding exactly `records` (as produced by [`MemStore::snapshot`]), without
    /// expiry times.
    pub fn from_snapshot(records: &[(Table, String, Vec<u8>)]) -> Self {
        let records = records
            .iter()
            .map(|(t, k, v)| ((*t, k.clone()), (v.clone(), None)))
            .collect();
        MemStore {
            data: Mutex::new(Data {
                records,
                expiry: BTreeSet::new(),
            }),
        }
    }

    /// A copy of every record (values as written, expiry times left out), for tests that
    /// compare whole states.
    pub fn snapshot(&self) -> Vec<(Table, String, Vec<u8>)> {
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        data.records
            .iter()
            .map(|((t, k), (v, _))| (*t, k.clone(), v.clone()))
            .collect()
    }
}

struct MemTx<'a> {
    base: &'a Data,
    writes: BTreeMap<(Table, String), Option<Stored>>,
}

impl Tx for MemTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (table, key.to_string());
        Ok(match self.writes.get(&k) {
            Some(v) => v.as_ref().map(|(v, _)| v.clone()),
            None => self.base.records.get(&k).map(|(v, _)| v.clone()),
        })
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), Some((value, None)));
        Ok(())
    }
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, at: UnixTime) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), Some((value, Some(at))));
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
            data.write(k, v);
        }
        Ok(out)
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.scan_after(table, prefix, None, usize::MAX)
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
            .records
            .range((start, Unbounded))
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), (v, _))| (k.clone(), v.clone()))
            .collect())
    }

    /// By the index in time order; the cursor is the last entry's time and key.
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let start = match after.and_then(|a| a.split_once('/')) {
            Some((at, key)) => Excluded((table, UnixTime(at.parse().unwrap_or(0)), key.to_string())),
            None => Included((table, UnixTime(0), String::new())),
        };
        let mut page = ExpiredPage::default();
        let mut last = None;
        for (t, at, key) in data.expiry.range((start, Unbounded)) {
            if *t != table || *at >= now {
                break;
            }
            page.read += 1;
            if page.keys.len() == limit {
                page.next = last.map(|(at, key): (UnixTime, &String)| format!("{}/{key}", at.0));
                break;
            }
            page.keys.push(key.clone());
            last = Some((*at, key));
        }
        Ok(page)
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
        assert_expiry_kept(&MemStore::new());
        assert_links_change_no_read(&MemStore::new());
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
