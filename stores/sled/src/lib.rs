//! The engine's `Store` on sled: keys `{table}\0{key}` in one tree, audit events in a second
//! database (`audit_db`), serializable transactions (one at a time, each committed as one atomic
//! batch, see `commit`), and every transaction that wrote flushed before the caller answers (by
//! group commit inside an engine call the server tracks, see `store_kit::Flusher`; at once
//! outside one). The records database
//! is compacted while the server runs once its files have grown (`online_compact`), into a new
//! generation of the data dir (`generations`). It keeps no expiry index: a record's expiry time
//! is kept in its value (`store_kit::expiry_in_value`), and `Store::expired` reads the table
//! (see [`SledStore::expired`]).
//!
//! Durability: sled's flush on Linux is `sync_file_range`, so acknowledged writes survive a
//! killed process; surviving a power cut is not promised.

mod audit_db;
mod baseline;
mod commit;
mod compact;
mod generations;
mod online_compact;

pub use compact::compact;
use generations::holds_data;
pub use online_compact::OnlineCompaction;

use audit_db::AuditDb;
use commit::{commit, finish_interrupted_commit};
pub use compact::set_aside;
use engine::env::UnixTime;
use engine::error::{EngineError, StoreError};
use engine::store::{ExpiredPage, Store, Table, Tx};
use generations::Generation;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use store_kit::{expiry_in_value, Flush, Flusher, Lifecycle};
use store_kit::{StoreStats, TableStats};

/// Whether `dir` holds a sled store (a dir whose compaction was interrupted between its two
/// renames counts: `open` explains what to do).
pub fn found_in(dir: &Path) -> bool {
    holds_data(dir) || set_aside(dir).exists()
}

/// The page cache used unless told otherwise: 8 MiB. sled keeps its page table and each
/// cached node's decoded form beside this budget, so RSS grows by a few times the setting; at
/// 16 MiB a server serving refreshes over 100,000 families on disk used ~64 MiB, at 8 MiB
/// ~54 MiB, with no throughput difference the benchmark could see (`bench/profile-notes.md`).
pub const DEFAULT_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// [`DEFAULT_CACHE_BYTES`] in MiB, for the command line.
pub const DEFAULT_CACHE_MB: u64 = DEFAULT_CACHE_BYTES / (1024 * 1024);

/// A sled database holding every record but audit events, and one holding those.
pub struct SledStore {
    shared: Arc<Shared>,
    flusher: Flusher,
    /// Held by each transaction from its first read to its commit, and by an online compaction
    /// while it switches generations.
    lock: Mutex<()>,
    data_dir: PathBuf,
    cache_bytes: u64,
    /// The records database's size after its last compaction (`baseline`; `None`: not known,
    /// estimated from the live records at the first check that needs it).
    compacted_size: Mutex<Option<u64>>,
}

/// What the transactions, the flush thread and an online compaction share.
struct Shared {
    /// The current generation of the records database (replaced by an online compaction).
    records: RwLock<Arc<Records>>,
    audit: AuditDb,
    /// While an online compaction copies: the keys written to the records tree since it began.
    written: Mutex<Option<HashSet<Vec<u8>>>>,
}

/// One generation of the records database.
struct Records {
    db: sled::Db,
    tree: sled::Tree,
    generation: Generation,
}

/// Opens the sled database in `dir`. sled locks its `db` file, and a database this process
/// has just closed may keep that lock a moment longer (its flush thread lets go of the file after
/// the drop returns), so a lock held elsewhere is waited for up to 5 s before it is an error.
pub(crate) fn open_db(dir: &Path, cache_bytes: u64) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new().path(dir).cache_capacity(cache_bytes).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

impl Records {
    fn open(data_dir: &Path, generation: Generation, cache_bytes: u64) -> Result<Self, sled::Error> {
        let db = open_db(&generation.dir(data_dir), cache_bytes)?;
        let tree = db.open_tree("records")?;
        Ok(Records { db, tree, generation })
    }
}

impl Shared {
    /// The current records database.
    fn records(&self) -> Arc<Records> {
        self.records.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Notes keys just written to the records tree, if an online compaction is copying it.
    /// (No copy is made while none runs: this is on every write's path.)
    fn note_written<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = written.as_mut() {
            set.extend(keys.into_iter().map(<[u8]>::to_vec));
        }
    }
}

impl Flush for Shared {
    /// The audit database first: the records' outbox copies of its writes go only once it is on
    /// disk. Holds the current generation for the whole flush, so a switch waits for it.
    fn flush(&self) -> Result<(), StoreError> {
        let err = |e: sled::Error| StoreError(e.to_string());
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        let removed = self.audit.flush(&records.tree).map_err(err)?;
        self.note_written(removed.iter().map(Vec::as_slice));
        sled::Tree::flush(&records.db).map_err(err)?;
        Ok(())
    }
    /// Writes that need no flush before their answer (`relax_durability`) still leave outbox
    /// copies: they go at the flush thread's next round.
    fn has_backlog(&self) -> bool {
        self.audit.has_waiting()
    }
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
        if !holds_data(dir) && set_aside(dir).exists() {
            return Err(sled::Error::Unsupported(format!(
                "{} holds no data but {} does: a compaction was interrupted between its two renames; \
                 rename it back to {} and start again",
                dir.display(),
                set_aside(dir).display(),
                dir.display()
            )));
        }
        let generation = generations::current(dir)?;
        if generation.0 > 0 && !generation.dir(dir).join("conf").exists() {
            return Err(sled::Error::Unsupported(format!(
                "{} names {}, which holds no sled database: restore it (or the pointer) before starting",
                dir.join("records.current").display(),
                generation.dir(dir).display()
            )));
        }
        let records = Records::open(dir, generation, cache_bytes)?;
        generations::remove_all_but(dir, generation)?;
        finish_interrupted_commit(&records.tree)?;
        let mut compacted_size = baseline::read(&records.db)?;
        if compacted_size.is_none() && records.tree.is_empty() {
            // A new store: what the estimate would find, without the read.
            baseline::write(&records.db, 0)?;
            compacted_size = Some(0);
        }
        let audit = AuditDb::open(&audit_db::dir_of(dir), cache_bytes / 4, &records.tree)?;
        sled::Tree::flush(&records.db)?;
        let shared = Arc::new(Shared {
            records: RwLock::new(Arc::new(records)),
            audit,
            written: Mutex::new(None),
        });
        let flusher = Flusher::start(shared.clone());
        Ok(SledStore {
            shared,
            flusher,
            lock: Mutex::new(()),
            data_dir: dir.to_path_buf(),
            cache_bytes,
            compacted_size: Mutex::new(compacted_size),
        })
    }

    /// The group-commit handle (engine calls run inside its `track`).
    pub fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    /// Records and bytes per table, read straight from the tree (streaming, in bounded memory),
    /// and what sled's files take on disk (the log keeps garbage until it compacts a segment).
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let err = |e: sled::Error| StoreError(e.to_string());
        let mut tables: Vec<TableStats> = Table::ALL
            .iter()
            .map(|&table| TableStats {
                table,
                records: 0,
                key_bytes: 0,
                value_bytes: 0,
            })
            .collect();
        let records = self.shared.records();
        for kv in records.tree.iter().chain(self.shared.audit.tree.iter()) {
            let (k, v) = kv.map_err(err)?;
            let name = k.split(|b| *b == 0).next().unwrap_or_default();
            if let Some(t) = tables.iter_mut().find(|t| t.table.name().as_bytes() == name) {
                t.records += 1;
                t.key_bytes += k.len() as u64;
                t.value_bytes += v.len() as u64;
            }
        }
        Ok(StoreStats {
            tables,
            disk_bytes: records.db.size_on_disk().map_err(err)? + self.shared.audit.db.size_on_disk().map_err(err)?,
            used_bytes: None,
        })
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush()
    }

    /// Runs `f` on the tree a table's records live in (the records tree of the current
    /// generation, held until `f` returns so that an online compaction does not close it).
    fn with_tree<T>(&self, table: Table, f: impl FnOnce(&sled::Tree) -> T) -> T {
        match table {
            Table::Audit => f(&self.shared.audit.tree),
            _ => f(&self.shared.records().tree),
        }
    }
}

/// One transaction: reads go to the tree (after this transaction's own writes), writes are
/// buffered and applied as one atomic sled batch at commit.
struct SledTx<'a> {
    records: &'a sled::Tree,
    audit: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    relaxed: bool,
}

impl Tx for SledTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let k = full_key(table, key);
        if let Some(w) = self.writes.get(&k) {
            return Ok(w.as_deref().map(|v| expiry_in_value::decode(v).to_vec()));
        }
        let tree = match table {
            Table::Audit => self.audit,
            _ => self.records,
        };
        tree.get(k)
            .map(|v| v.map(|iv| expiry_in_value::decode(&iv).to_vec()))
            .map_err(|e| StoreError(e.to_string()))
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.writes
            .insert(full_key(table, key), Some(expiry_in_value::encode(value, None)));
        Ok(())
    }
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, at: UnixTime) -> Result<(), StoreError> {
        self.writes
            .insert(full_key(table, key), Some(expiry_in_value::encode(value, Some(at))));
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
            // No switch of generations while the lock is held: the guard can be dropped.
            let records = self.shared.records();
            let mut tx = SledTx {
                records: &records.tree,
                audit: &self.shared.audit.tree,
                writes: BTreeMap::new(),
                relaxed: false,
            };
            let value = f(&mut tx)?;
            if tx.writes.is_empty() {
                return Ok(value);
            }
            let (relaxed, mut writes) = (tx.relaxed, tx.writes);
            let audit_writes = AuditDb::take_audit_writes(&mut writes);
            let fail = |e: sled::Error| EngineError::Storage(StoreError(e.to_string()));
            let many = writes.len() > 1;
            commit(&records.tree, &writes).map_err(fail)?;
            // A commit of several writes also wrote (and removed) its intent.
            let intent = many.then_some(commit::INTENT_KEY);
            self.shared.note_written(writes.keys().map(Vec::as_slice).chain(intent));
            self.shared.audit.apply_committed(&audit_writes).map_err(fail)?;
            if relaxed {
                // On disk with sled's next periodic flush (every 500 ms) or any later flush.
                return Ok(value);
            }
            value
        };
        self.flusher.committed().map_err(EngineError::Storage)?;
        Ok(value)
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let start = full_key(table, prefix);
        let skip = table.name().len() + 1;
        self.with_tree(table, |tree| {
            tree.scan_prefix(&start)
                .map(|kv| {
                    let (k, v) = kv.map_err(|e| StoreError(e.to_string()))?;
                    let value = expiry_in_value::decode(&v).to_vec();
                    Ok((String::from_utf8_lossy(&k[skip..]).into_owned(), value))
                })
                .collect()
        })
    }

    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let lower = full_key(table, prefix);
        let start = match after {
            Some(a) if a >= prefix => Excluded(full_key(table, a)),
            _ => Included(lower.clone()),
        };
        let skip = table.name().len() + 1;
        self.with_tree(table, |tree| {
            tree.range::<Vec<u8>, _>((start, Unbounded))
                .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&lower)))
                .take(limit)
                .map(|kv| {
                    let (k, v) = kv.map_err(|e| StoreError(e.to_string()))?;
                    let value = expiry_in_value::decode(&v).to_vec();
                    Ok((String::from_utf8_lossy(&k[skip..]).into_owned(), value))
                })
                .collect()
        })
    }

    /// By reading the table from `after` in key order, each value's time from its first bytes
    /// (`expiry_in_value`), until `limit` keys are due or [`EXPIRED_SCAN`] records were read.
    /// No index: on sled 0.34 an index's time-ordered keys cost ~2.3 KB of file per flow beside
    /// the records, and ~35 bytes of memory per entry once the database is opened (it is how
    /// many pages sled tracks). At 100,000 families that was 10–16 MiB more RSS and 20–30 % fewer
    /// refreshes per second (`bench/profile-notes.md`, eighth session of 2026-11-27). So a purge
    /// reads every record of the purged tables, but decodes none that is not due.
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let lower = full_key(table, "");
        let start = match after {
            Some(a) => Excluded(full_key(table, a)),
            None => Included(lower.clone()),
        };
        let skip = lower.len();
        let mut page = ExpiredPage::default();
        self.with_tree(table, |tree| {
            for kv in tree.range::<Vec<u8>, _>((start, Unbounded)) {
                let (k, v) = kv.map_err(|e| StoreError(e.to_string()))?;
                if !k.starts_with(&lower) {
                    return Ok(());
                }
                page.read += 1;
                let key = String::from_utf8_lossy(&k[skip..]).into_owned();
                if expiry_in_value::time_of(&v).is_some_and(|at| at < now) {
                    page.keys.push(key.clone());
                }
                if page.keys.len() == limit || page.read == EXPIRED_SCAN {
                    page.next = Some(key);
                    return Ok(());
                }
            }
            Ok(())
        })?;
        Ok(page)
    }
}

/// Records `SledStore::expired` reads at most per page.
const EXPIRED_SCAN: usize = 16 * 1024;

/// The store's lifecycle: group commit, shutdown flush, online compaction, figures.
impl Lifecycle for SledStore {
    fn flusher(&self) -> &Flusher {
        SledStore::flusher(self)
    }

    fn flush(&self) -> Result<(), StoreError> {
        SledStore::flush(self)
    }

    fn maintain(&self) -> Result<(), StoreError> {
        if let Some(c) = self.compact_if_grown()? {
            tracing::info!(
                before_mb = c.before_bytes / 1_000_000,
                after_mb = c.after_bytes / 1_000_000,
                records = c.records,
                live_mb = c.live_bytes / 1_000_000,
                recopied = c.recopied,
                switch_ms = c.switch.as_millis() as u64,
                took_ms = c.took.as_millis() as u64,
                "compacted the records database online"
            );
        }
        Ok(())
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        SledStore::stats(self)
    }
}

#[cfg(test)]
mod tests {
    use super::commit::{decode_writes, encode_writes, INTENT_KEY};
    use super::*;

    #[test]
    fn stats_count_each_tables_records_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        s.transact(|tx| {
            tx.put(Table::User, "t/a", b"12345".to_vec())?;
            tx.put(Table::User, "t/b", b"1".to_vec())?;
            tx.put(Table::UserIndex, "t/u/a", b"ab".to_vec())?;
            Ok(())
        })
        .unwrap();
        s.transact(|tx| Ok(tx.delete(Table::User, "t/b")?)).unwrap();
        let stats = s.stats().unwrap();
        let of = |t: Table| stats.tables.iter().find(|s| s.table == t).unwrap().clone();
        assert_eq!((of(Table::User).records, of(Table::User).value_bytes), (1, 5));
        assert_eq!(of(Table::User).key_bytes, "user\0t/a".len() as u64);
        assert_eq!((of(Table::UserIndex).records, of(Table::UserIndex).value_bytes), (1, 2));
        assert_eq!(of(Table::UserIndex).key_bytes, "user_index\0t/u/a".len() as u64);
        assert_eq!(of(Table::Code).records, 0);
        assert_eq!(stats.tables.len(), Table::ALL.len());
        assert!(stats.disk_bytes > 0);
    }

    #[test]
    fn compaction_keeps_every_record_and_gives_the_space_back() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let value = vec![7u8; 2048];
        {
            let s = SledStore::open(&dir).unwrap();
            for round in 0..4 {
                for i in 0..500 {
                    s.transact(|tx| Ok(tx.put(Table::Code, &format!("t/{i}"), value.clone())?))
                        .unwrap();
                }
                if round < 3 {
                    for i in 0..500 {
                        s.transact(|tx| Ok(tx.delete(Table::Code, &format!("t/{i}"))?)).unwrap();
                    }
                }
            }
            s.transact(|tx| {
                tx.put(Table::User, "t/a", b"alice".to_vec())?;
                tx.put(Table::UserIndex, "t/u/a", b"a".to_vec())?;
                tx.put(Table::Audit, "t/0001", b"user created".to_vec())?;
                Ok(())
            })
            .unwrap();
        }
        let before: Vec<_> = {
            let s = SledStore::open(&dir).unwrap();
            s.shared.records().tree.iter().map(|kv| kv.unwrap()).collect()
        };
        // Named through `..`, as an operator may: the siblings still go beside `data`.
        std::fs::create_dir(dir.join("sub")).unwrap();
        let c = compact(&dir.join("sub").join("..")).unwrap();
        assert_eq!(c.entries, 504, "503 records and the compacted size (baseline.rs)");
        assert!(c.after_bytes < c.before_bytes, "{c:?}");
        assert!(!set_aside(&dir).exists() && !root.path().join("data.compacting").exists());
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(
            s.shared.records().tree.iter().map(|kv| kv.unwrap()).collect::<Vec<_>>(),
            before
        );
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::User, "t/a")?)).unwrap(),
            Some(b"alice".to_vec())
        );
        assert_eq!(
            s.scan(Table::Audit, "t/").unwrap(),
            vec![("t/0001".to_string(), b"user created".to_vec())]
        );
        drop(s);
        // A crash between the two renames: the server refuses to start on an empty dir.
        std::fs::rename(&dir, set_aside(&dir)).unwrap();
        let refused = SledStore::open(&dir)
            .err()
            .expect("an empty dir beside a set-aside one is refused");
        assert!(refused.to_string().contains("interrupted"), "{refused}");
        assert!(compact(&dir).is_err(), "compaction will not run over a set-aside dir");
        std::fs::rename(set_aside(&dir), &dir).unwrap();
        assert!(SledStore::open(&dir).is_ok());
    }

    /// The records database opened bare, to lay out what a crash or an older version left.
    fn raw_records(dir: &Path) -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().path(dir).open().unwrap();
        let tree = db.open_tree("records").unwrap();
        (db, tree)
    }

    fn keys_under(tree: &sled::Tree, prefix: &[u8]) -> Vec<Vec<u8>> {
        tree.scan_prefix(prefix).map(|kv| kv.unwrap().0.to_vec()).collect()
    }

    #[test]
    fn audit_events_live_in_their_own_database_and_commit_with_their_action() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.transact(|tx| {
                tx.put(Table::Code, "t/c", b"redeemed".to_vec())?;
                tx.put(Table::Audit, "t/0001", b"code redeemed".to_vec())?;
                Ok(())
            })
            .unwrap();
            assert!(keys_under(&s.shared.records().tree, audit_db::AUDIT_KEY_PREFIX).is_empty());
            assert_eq!(
                keys_under(&s.shared.audit.tree, b""),
                vec![full_key(Table::Audit, "t/0001")]
            );
            assert!(
                keys_under(&s.shared.records().tree, audit_db::OUTBOX_PREFIX).is_empty(),
                "the outbox copy goes once the audit database is flushed"
            );
            assert_eq!(
                s.transact(|tx| Ok(tx.get(Table::Audit, "t/0001")?)).unwrap(),
                Some(b"code redeemed".to_vec())
            );
            // A failed transaction writes its event nowhere.
            let r: Result<(), _> = s.transact(|tx| {
                tx.put(Table::Audit, "t/0002", b"never".to_vec())?;
                Err(EngineError::Misuse("abort".into()))
            });
            assert!(r.is_err());
            s.transact(|tx| Ok(tx.delete(Table::Audit, "t/0001")?)).unwrap();
            s.transact(|tx| Ok(tx.put(Table::Audit, "t/0003", b"later".to_vec())?))
                .unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.scan(Table::Audit, "t/").unwrap(),
            vec![("t/0003".to_string(), b"later".to_vec())]
        );
        let stats = s.stats().unwrap();
        let audit = stats.tables.iter().find(|t| t.table == Table::Audit).unwrap();
        assert_eq!((audit.records, audit.value_bytes), (1, 5));
    }

    #[test]
    fn an_audit_write_a_crash_left_in_the_outbox_is_applied_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A crash after the action's batch committed, before the audit database had the event.
            let (db, tree) = raw_records(dir.path());
            let mut writes = BTreeMap::new();
            writes.insert(full_key(Table::Code, "t/c"), Some(b"redeemed".to_vec()));
            writes.insert(full_key(Table::Audit, "t/0001"), Some(b"code redeemed".to_vec()));
            writes.insert(full_key(Table::Audit, "t/0000"), None);
            AuditDb::take_audit_writes(&mut writes);
            commit::commit(&tree, &writes).unwrap();
            db.flush().unwrap();
            let audit = sled::Config::new().path(audit_db::dir_of(dir.path())).open().unwrap();
            audit
                .open_tree("records")
                .unwrap()
                .insert(full_key(Table::Audit, "t/0000"), b"old".to_vec())
                .unwrap();
            audit.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.scan(Table::Audit, "").unwrap(),
            vec![("t/0001".to_string(), b"code redeemed".to_vec())]
        );
        assert!(keys_under(&s.shared.records().tree, audit_db::OUTBOX_PREFIX).is_empty());
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::Code, "t/c")?)).unwrap(),
            Some(b"redeemed".to_vec())
        );
    }

    #[test]
    fn audit_events_of_an_older_data_dir_move_to_their_own_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (db, tree) = raw_records(dir.path());
            tree.insert(full_key(Table::Audit, "t/0001"), b"e1".to_vec()).unwrap();
            tree.insert(full_key(Table::Audit, "u/0002"), b"e2".to_vec()).unwrap();
            tree.insert(full_key(Table::User, "t/a"), b"alice".to_vec()).unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.scan(Table::Audit, "").unwrap(),
            vec![
                ("t/0001".to_string(), b"e1".to_vec()),
                ("u/0002".to_string(), b"e2".to_vec())
            ]
        );
        assert!(keys_under(&s.shared.records().tree, audit_db::AUDIT_KEY_PREFIX).is_empty());
        assert_eq!(s.scan(Table::User, "").unwrap().len(), 1);
    }

    #[test]
    fn keeps_expiry_times_in_values_and_reads_what_an_earlier_version_wrote() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (db, tree) = raw_records(dir.path());
            tree.insert(full_key(Table::Code, "t/c"), b"{\"issued\":1}".to_vec())
                .unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        engine::store::contract_check::assert_expiry_kept(&s);
        let code = s.transact(|tx| Ok(tx.get(Table::Code, "t/c")?)).unwrap();
        assert_eq!(
            code.as_deref(),
            Some(&b"{\"issued\":1}"[..]),
            "a record written before reads as written"
        );
        let due = s.expired(Table::Code, UnixTime(u64::MAX), None, 10).unwrap();
        assert_eq!(
            due.keys,
            ["contract/other-table"],
            "a record without a time is never due"
        );
        assert_eq!(due.read, 2, "sled reads the table");
        engine::store::contract_check::assert_links_change_no_read(&s);
    }

    #[test]
    fn paged_scans_agree_with_whole_scans() {
        let dir = tempfile::tempdir().unwrap();
        engine::store::paging_check::assert_paged_scans_agree(&SledStore::open(dir.path()).unwrap());
    }

    #[test]
    fn commits_aborts_scans_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        engine::store::contract_check::assert_commits_and_aborts(&SledStore::open(dir.path()).unwrap());
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.scan(Table::User, "contract/").unwrap(),
            vec![("contract/a".to_string(), b"1".to_vec())]
        );
    }

    #[test]
    fn outbox_copies_of_relaxed_writes_go_without_a_waiting_request() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        for i in 0..100 {
            s.transact(|tx| {
                tx.relax_durability();
                tx.put(Table::AccessToken, &format!("t/{i}"), b"rec".to_vec())?;
                Ok(tx.put(Table::Audit, &format!("t/{i:04}"), b"token issued".to_vec())?)
            })
            .unwrap();
        }
        // No request waits for a flush; the flush thread's next round (every 500 ms) takes them.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while s.shared.audit.has_waiting() || !keys_under(&s.shared.records().tree, audit_db::OUTBOX_PREFIX).is_empty()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "outbox copies of relaxed writes piled up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(s.scan(Table::Audit, "t/").unwrap().len(), 100);
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
    fn a_commit_interrupted_after_its_intent_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            // What a crash in the middle of a two-write commit leaves: the intent, one write.
            let (db, tree) = raw_records(dir.path());
            tree.insert(full_key(Table::Grant, "t/g"), b"old".to_vec()).unwrap();
            tree.insert(full_key(Table::Code, "t/c"), b"issued".to_vec()).unwrap();
            let mut writes = BTreeMap::new();
            writes.insert(full_key(Table::Code, "t/c"), Some(b"redeemed".to_vec()));
            writes.insert(full_key(Table::Grant, "t/g"), None);
            writes.insert(full_key(Table::RefreshToken, "t/r"), Some(Vec::new()));
            assert_eq!(
                decode_writes(&encode_writes(&writes)).unwrap(),
                writes.clone().into_iter().collect::<Vec<_>>()
            );
            tree.insert(INTENT_KEY, encode_writes(&writes)).unwrap();
            tree.insert(full_key(Table::Code, "t/c"), b"redeemed".to_vec()).unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        let read = |t, k: &str| s.transact(|tx| Ok(tx.get(t, k)?)).unwrap();
        assert_eq!(read(Table::Code, "t/c"), Some(b"redeemed".to_vec()));
        assert_eq!(read(Table::Grant, "t/g"), None);
        assert_eq!(read(Table::RefreshToken, "t/r"), Some(Vec::new()));
        assert!(s.shared.records().tree.get(INTENT_KEY).unwrap().is_none());
        assert!(decode_writes(&[1, 0, 0, 0]).is_none(), "a truncated intent is refused");
    }

    #[test]
    fn concurrent_single_use_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        engine::store::contract_check::assert_single_use_has_one_winner(Arc::new(SledStore::open(dir.path()).unwrap()));
    }

    #[test]
    fn concurrent_read_modify_writes_are_never_lost() {
        let dir = tempfile::tempdir().unwrap();
        engine::store::contract_check::assert_no_lost_updates(Arc::new(SledStore::open(dir.path()).unwrap()));
    }
}
