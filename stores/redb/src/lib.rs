//! The engine's `Store` on redb: one file (`{dir}/store.redb`) holding one redb table per engine
//! table. redb is a copy-on-write B-tree whose freed pages are reused by later commits, so under
//! steady churn the file stays near the high-water mark of what is live, where sled 0.34's log
//! keeps growing (`conformance-reports/store-growth.md`).
//!
//! Transactions (see `tx`) read from a snapshot and buffer their writes; only a transaction that
//! wrote takes redb's single writer, checks that what it read is still what is stored (else it
//! runs again), and commits. Reads never wait for a writer or for the disk.
//!
//! Expiry: a record's expiry time is kept in its value (`store_kit::expiry_in_value`) and in an
//! index of its own ([`EXPIRY_INDEX`], keys `{table}/{time:020}/{key}`), kept exact by each
//! commit: `Store::expired` reads the due entries of one table in time order and nothing else.
//!
//! Durability: a commit goes to redb without an fsync (`Durability::None`); the group-commit
//! thread (`store_kit::Flusher`) then makes every commit so far durable with one `Durability::Immediate`
//! commit, and a request answers only after that covers its writes. redb's durable commit ends
//! in `fsync`, so acknowledged writes survive a killed process and a power cut.

mod tx;

use engine::env::UnixTime;
use engine::error::{EngineError, StoreError};
use engine::store::{ExpiredPage, Store, Table};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store_kit::{expiry_in_value, Flush, Flusher, Lifecycle};
use store_kit::{StoreStats, TableStats};
use tx::RedbTx;

/// The database file inside a data dir.
pub const FILE_NAME: &str = "store.redb";

/// The redb table holding an engine table's records: keys as the engine writes them.
fn table_def(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

/// The expiry index: one empty entry `{table}/{time:020}/{key}` per record written with a time.
const EXPIRY_INDEX: TableDefinition<'static, &'static str, ()> = TableDefinition::new("expiry_by_time");

/// The index entry of `table`'s `key` expiring at `at`.
fn expiry_entry(table: Table, at: UnixTime, key: &str) -> String {
    format!("{}/{:020}/{key}", table.name(), at.0)
}

/// Any redb error, as the engine's storage error.
fn fail(e: impl Into<redb::Error>) -> StoreError {
    StoreError(e.into().to_string())
}

/// The redb database in a data dir.
pub struct RedbStore {
    db: Arc<Db>,
    flusher: Flusher,
}

/// The database, shared with the group-commit thread.
struct Db {
    db: Database,
    path: PathBuf,
    /// Set by a commit that no request waits to see on disk (`relax_durability`).
    backlog: AtomicBool,
}

impl Flush for Db {
    /// One durable commit: it puts every commit made before it on disk and ends in `fsync`.
    fn flush(&self) -> Result<(), StoreError> {
        self.backlog.store(false, Ordering::SeqCst);
        let mut w = self.db.begin_write().map_err(fail)?;
        w.set_durability(Durability::Immediate).map_err(fail)?;
        w.commit().map_err(fail)
    }
    /// Relaxed commits go to disk at the flush thread's next round (within 500 ms).
    fn has_backlog(&self) -> bool {
        self.backlog.load(Ordering::SeqCst)
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        self.flusher.stop();
    }
}

impl RedbStore {
    /// Opens (or creates) `{dir}/store.redb`, caching at most `cache_bytes` of pages.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let db = redb::Builder::new()
            .set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX))
            .create(&path)
            .map_err(|e| StoreError(format!("{}: {}", path.display(), redb::Error::from(e))))?;
        // Every table exists from the start, so a read never meets a missing one.
        let w = db.begin_write().map_err(fail)?;
        for table in Table::ALL {
            w.open_table(table_def(table)).map_err(fail)?;
        }
        w.open_table(EXPIRY_INDEX).map_err(fail)?;
        w.commit().map_err(fail)?;
        let db = Arc::new(Db {
            db,
            path,
            backlog: AtomicBool::new(false),
        });
        let flusher = Flusher::start(db.clone());
        Ok(RedbStore { db, flusher })
    }

    /// The group-commit handle (engine calls run inside its `track`).
    pub fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    /// Makes every commit so far durable (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()
    }

    /// Records and bytes per table, from one snapshot, and the file's size.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let r = self.db.db.begin_read().map_err(fail)?;
        let mut tables = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            let mut s = TableStats {
                table,
                records: 0,
                key_bytes: 0,
                value_bytes: 0,
            };
            for kv in r.open_table(table_def(table)).map_err(fail)?.iter().map_err(fail)? {
                let (k, v) = kv.map_err(fail)?;
                s.records += 1;
                s.key_bytes += k.value().len() as u64;
                s.value_bytes += v.value().len() as u64;
            }
            tables.push(s);
        }
        let w = self.db.db.begin_write().map_err(fail)?;
        let pages = w.stats().map_err(fail)?;
        w.abort().map_err(fail)?;
        Ok(StoreStats {
            tables,
            disk_bytes: file_size(&self.db.path)?,
            used_bytes: Some(pages.allocated_pages() * pages.page_size() as u64),
        })
    }

    /// Scans `table` from `start`, keeping keys under `prefix`, at most `limit` of them.
    fn range(
        &self,
        table: Table,
        prefix: &str,
        start: std::ops::Bound<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let r = self.db.db.begin_read().map_err(fail)?;
        let t = r.open_table(table_def(table)).map_err(fail)?;
        let mut out = Vec::new();
        for kv in t.range::<&str>((start, std::ops::Bound::Unbounded)).map_err(fail)? {
            if out.len() == limit {
                break;
            }
            let (k, v) = kv.map_err(fail)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_string(), expiry_in_value::decode(v.value()).to_vec()));
        }
        Ok(out)
    }
}

fn file_size(path: &Path) -> Result<u64, StoreError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| StoreError(format!("{}: {e}", path.display())))
}

/// Gives back the file's free pages (the server must be stopped). redb reuses freed pages while
/// it runs, so this only shrinks a file after a peak that will not come back.
pub fn compact(dir: &Path) -> Result<store_kit::Compacted, StoreError> {
    let path = dir.join(FILE_NAME);
    let before_bytes = file_size(&path)?;
    let mut db = Database::open(&path).map_err(fail)?;
    while db.compact().map_err(fail)? {}
    let r = db.begin_read().map_err(fail)?;
    let mut entries = 0;
    for table in Table::ALL {
        entries += redb::ReadableTableMetadata::len(&r.open_table(table_def(table)).map_err(fail)?).map_err(fail)?;
    }
    drop(r);
    drop(db);
    Ok(store_kit::Compacted {
        before_bytes,
        after_bytes: file_size(&path)?,
        entries,
    })
}

impl Store for RedbStore {
    /// Runs `f` on a snapshot; if it wrote, commits under redb's single writer after checking
    /// that every value it read is unchanged, else runs it again on a new snapshot. That makes
    /// the transactions serializable: each one's effect is as if it ran at its commit.
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn engine::store::Tx) -> Result<T, EngineError>,
    {
        loop {
            let snapshot = self.db.db.begin_read().map_err(|e| EngineError::Storage(fail(e)))?;
            let mut tx = RedbTx::new(snapshot);
            let value = f(&mut tx)?;
            if !tx.wrote() {
                return Ok(value);
            }
            let relaxed = tx.relaxed();
            if !tx.commit(&self.db.db)? {
                continue;
            }
            if relaxed {
                self.db.backlog.store(true, Ordering::SeqCst);
            } else {
                self.flusher.committed().map_err(EngineError::Storage)?;
            }
            return Ok(value);
        }
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.range(table, prefix, std::ops::Bound::Included(prefix), usize::MAX)
    }

    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let start = match after {
            Some(a) if a >= prefix => std::ops::Bound::Excluded(a),
            _ => std::ops::Bound::Included(prefix),
        };
        self.range(table, prefix, start, limit)
    }

    /// By the index, in time order: the due entries of `table` alone; the cursor is the last
    /// entry's key.
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        let (lower, upper) = (format!("{}/", table.name()), expiry_entry(table, now, ""));
        let start = match after {
            Some(a) => Excluded(a),
            None => Included(lower.as_str()),
        };
        let r = self.db.db.begin_read().map_err(fail)?;
        let index = r.open_table(EXPIRY_INDEX).map_err(fail)?;
        let mut page = ExpiredPage::default();
        let mut last = None;
        for entry in index.range::<&str>((start, Excluded(upper.as_str()))).map_err(fail)? {
            let (entry, _) = entry.map_err(fail)?;
            page.read += 1;
            if page.keys.len() == limit {
                page.next = last;
                break;
            }
            let entry = entry.value();
            // `{table}/{time:020}/{key}`: the key is what follows the time.
            if let Some(key) = entry.get(lower.len() + 21..) {
                page.keys.push(key.to_string());
            }
            last = Some(entry.to_string());
        }
        Ok(page)
    }
}

/// The store's lifecycle: group commit, shutdown flush, figures (redb reuses its freed pages and
/// needs no upkeep).
impl Lifecycle for RedbStore {
    fn flusher(&self) -> &Flusher {
        RedbStore::flusher(self)
    }

    fn flush(&self) -> Result<(), StoreError> {
        RedbStore::flush(self)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        RedbStore::stats(self)
    }
}

#[cfg(test)]
mod tests;
