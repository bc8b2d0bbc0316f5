//! The models' store: serializable transactions that can fail, over two engine instances.
//!
//! A call that runs *alone* sees the committed records, as `MemStore` would. A call that *raced*
//! another began before it (the model's `Begin`/`Finish`): each of its transactions runs first on
//! the records as they were when it began, and its commit is checked against what committed since
//! — a record it read or writes that changed in between is a serialization failure, as
//! PostgreSQL's SERIALIZABLE reports one. A failure (or an injected one, at the first read or at
//! the commit) rolls the attempt back and the engine's retry loop (`engine::store::retry`, the
//! one PostgreSQL uses) runs the transaction again, now on the committed records.

use crate::world::Snapshot;
use engine::error::{EngineError, StoreError};
use engine::store::retry::{with_retries, Attempt};
use engine::store::{ExpiredPage, Store, Table, Tx};
use engine::UnixTime;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A serialization failure the model injects, once per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// None.
    None,
    /// At the first read of the first transaction that reads.
    AtFirstRead,
    /// At the commit of the first transaction that writes.
    AtCommit,
}

type Records = BTreeMap<(Table, String), Vec<u8>>;

fn records(snapshot: &Snapshot) -> Records {
    snapshot.iter().map(|(t, k, v)| ((*t, k.clone()), v.clone())).collect()
}

struct Inner {
    committed: Records,
    /// The records as they were when a racing call began; `None` once it committed or conflicted
    /// (a new transaction then sees the committed records).
    began: Option<Records>,
    fault: Fault,
}

/// The store of one engine call in a model.
pub struct ModelStore {
    inner: Mutex<Inner>,
    /// A transaction met what another instance committed since the call began, and ran again.
    raced: std::sync::atomic::AtomicBool,
}

impl ModelStore {
    /// A call on `committed` that began when the records were `began` (`None`: it did not race),
    /// with `fault` injected.
    pub fn new(committed: &Snapshot, began: Option<&Snapshot>, fault: Fault) -> Self {
        ModelStore {
            inner: Mutex::new(Inner {
                committed: records(committed),
                began: began.map(records),
                fault,
            }),
            raced: Default::default(),
        }
    }

    /// Whether a transaction of the call met another instance's commit and ran again.
    pub fn raced(&self) -> bool {
        self.raced.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The committed records, in the model's snapshot order.
    pub fn snapshot(&self) -> Vec<(Table, String, Vec<u8>)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .committed
            .iter()
            .map(|((t, k), v)| (*t, k.clone(), v.clone()))
            .collect()
    }

    fn attempt<T>(&self, f: &dyn Fn(&mut dyn Tx) -> Result<T, EngineError>) -> Attempt<T> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let base = inner.began.clone().unwrap_or_else(|| inner.committed.clone());
        let mut tx = ModelTx {
            base: &base,
            read: BTreeMap::new(),
            writes: BTreeMap::new(),
            fail_at_read: inner.fault == Fault::AtFirstRead,
            failed: false,
        };
        let out = f(&mut tx);
        let (read, writes, failed) = (tx.read, tx.writes, tx.failed);
        if failed {
            inner.fault = Fault::None;
            inner.began = None;
            return Attempt::Conflict;
        }
        let value = match out {
            Ok(v) => v,
            Err(e) => return Attempt::Done(Err(e)),
        };
        // What a writing transaction read or overwrites must be as it saw it. One that only read
        // saw one moment's records: it is serializable at that moment, and commits.
        let stale = !writes.is_empty()
            && read
                .keys()
                .chain(writes.keys())
                .any(|k| base.get(k) != inner.committed.get(k));
        let injected = inner.fault == Fault::AtCommit && !writes.is_empty();
        if stale || injected {
            if injected {
                inner.fault = Fault::None;
            } else {
                self.raced.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            inner.began = None;
            return Attempt::Conflict;
        }
        if !writes.is_empty() {
            for (k, v) in writes {
                match v {
                    Some(v) => inner.committed.insert(k, v),
                    None => inner.committed.remove(&k),
                };
            }
            inner.began = None;
        }
        Attempt::Done(Ok(value))
    }
}

struct ModelTx<'a> {
    base: &'a Records,
    read: BTreeMap<(Table, String), ()>,
    writes: BTreeMap<(Table, String), Option<Vec<u8>>>,
    fail_at_read: bool,
    failed: bool,
}

impl Tx for ModelTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = (table, key.to_string());
        if let Some(w) = self.writes.get(&k) {
            return Ok(w.clone());
        }
        if self.fail_at_read || self.failed {
            self.fail_at_read = false;
            self.failed = true;
            return Err(StoreError("could not serialize access (injected)".into()));
        }
        let value = self.base.get(&k).cloned();
        self.read.insert(k, ());
        Ok(value)
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), Some(value));
        Ok(())
    }
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, _at: UnixTime) -> Result<(), StoreError> {
        self.put(table, key, value)
    }
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), None);
        Ok(())
    }
}

impl Store for ModelStore {
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        with_retries(|_| self.attempt(&f), |_| {})
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
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner
            .committed
            .range((table, prefix.to_string())..)
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .filter(|((_, k), _)| after.is_none_or(|a| k.as_str() > a))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    /// The models keep no expiry times (as their snapshots do not): nothing is ever expired.
    fn expired(&self, _: Table, _: UnixTime, _: Option<&str>, _: usize) -> Result<ExpiredPage, StoreError> {
        Ok(ExpiredPage::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn counter(store: &ModelStore) -> (u32, Option<Vec<u8>>) {
        let runs = AtomicU32::new(0);
        let out = store
            .transact(|tx| {
                runs.fetch_add(1, Ordering::SeqCst);
                let n = tx.get(Table::Grant, "n")?.map_or(0, |v| v[0]);
                tx.put(Table::Grant, "n", vec![n + 1])?;
                Ok(())
            })
            .map(|()| store.snapshot().first().map(|(_, _, v)| v.clone()));
        (runs.load(Ordering::SeqCst), out.unwrap())
    }

    #[test]
    fn an_injected_failure_runs_the_transaction_again_once() {
        let empty: Snapshot = Arc::new(Vec::new());
        for (fault, runs) in [(Fault::None, 1), (Fault::AtFirstRead, 2), (Fault::AtCommit, 2)] {
            let store = ModelStore::new(&empty, None, fault);
            assert_eq!(counter(&store), (runs, Some(vec![1])), "{fault:?}");
            assert!(!store.raced(), "an injected failure is not a race");
        }
    }

    #[test]
    fn a_write_on_records_changed_since_the_call_began_conflicts_and_runs_on_the_new_ones() {
        let began: Snapshot = Arc::new(vec![(Table::Grant, "n".into(), vec![1])]);
        let committed: Snapshot = Arc::new(vec![(Table::Grant, "n".into(), vec![5])]);
        let store = ModelStore::new(&committed, Some(&began), Fault::None);
        assert_eq!(counter(&store), (2, Some(vec![6])), "no update lost");
        assert!(store.raced());
        // A transaction that only reads commits on the records as they were.
        let store = ModelStore::new(&committed, Some(&began), Fault::None);
        let seen = store.transact(|tx| Ok(tx.get(Table::Grant, "n")?)).unwrap();
        assert_eq!(seen, Some(vec![1]));
        assert!(!store.raced());
    }
}
