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

/// How many records a table holds and their size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    /// The table.
    pub table: Table,
    /// Its records.
    pub records: u64,
    /// Bytes of their keys (with the table prefix).
    pub key_bytes: u64,
    /// Bytes of their values.
    pub value_bytes: u64,
}

/// What the store holds, per table, and its files' size.
#[derive(Clone, Debug)]
pub struct StoreStats {
    /// Every table, in `Table::ALL` order.
    pub tables: Vec<TableStats>,
    /// sled's files on disk.
    pub disk_bytes: u64,
}

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
        if !dir.join("conf").exists() && set_aside(dir).exists() {
            return Err(sled::Error::Unsupported(format!(
                "{} holds no data but {} does: a compaction was interrupted between its two renames; \
                 rename it back to {} and start again",
                dir.display(),
                set_aside(dir).display(),
                dir.display()
            )));
        }
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).open()?;
        let tree = db.open_tree("records")?;
        finish_interrupted_commit(&tree)?;
        db.flush()?;
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
        for kv in self.tree.iter() {
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
            disk_bytes: self.db.size_on_disk().map_err(err)?,
        })
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(|e| StoreError(e.to_string()))
    }
}

/// Where `compact` puts the old files while it swaps the new ones in: `{dir}.before-compact`.
fn set_aside(dir: &Path) -> std::path::PathBuf {
    beside(dir, ".before-compact")
}

/// `{dir}{suffix}`, next to `dir`.
fn beside(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Sizes of a data dir before and after `compact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// sled's files before.
    pub before_bytes: u64,
    /// sled's files after.
    pub after_bytes: u64,
    /// Key-value pairs copied (every tree).
    pub entries: u64,
}

/// Rewrites the (stopped) server's data dir with only its live records: sled 0.34 appends every
/// write to its log and gives the space of dead ones back slowly, so a busy store's files keep
/// growing while what it holds stays flat. Every tree is copied into `{dir}.compacting`, flushed,
/// checked (same CRC32 of all keys and values), and swapped in; the old files are removed last.
/// Nothing is lost if it stops part-way: before the swap the old dir is untouched, and a crash
/// between the two renames leaves `{dir}.before-compact`, which `open` refuses to overlook.
pub fn compact(dir: &Path) -> Result<Compacted, StoreError> {
    let err = |e: sled::Error| StoreError(e.to_string());
    let io = |e: std::io::Error| StoreError(e.to_string());
    if set_aside(dir).exists() {
        return Err(StoreError(format!(
            "{} exists (an earlier compaction did not finish): check it and remove or restore it first",
            set_aside(dir).display()
        )));
    }
    if !dir.join("conf").exists() {
        return Err(StoreError(format!("no sled data in {}", dir.display())));
    }
    // `.`, `data/..` and the like have no name to put a sibling beside.
    let dir = &dir.canonicalize().map_err(io)?;
    let fresh_dir = beside(dir, ".compacting");
    if fresh_dir.exists() {
        // A copy an earlier run did not finish: the old dir was not touched, start again.
        std::fs::remove_dir_all(&fresh_dir).map_err(io)?;
    }
    let (before_bytes, entries) = {
        let old = sled::Config::new().path(dir).open().map_err(err)?;
        finish_interrupted_commit(&old.open_tree("records").map_err(err)?).map_err(err)?;
        let fresh = sled::Config::new().path(&fresh_dir).open().map_err(err)?;
        let mut entries = 0;
        for name in old.tree_names() {
            let (from, to) = (old.open_tree(&name).map_err(err)?, fresh.open_tree(&name).map_err(err)?);
            for kv in from.iter() {
                let (k, v) = kv.map_err(err)?;
                to.insert(k, v).map_err(err)?;
                entries += 1;
            }
        }
        fresh.flush().map_err(err)?;
        if old.checksum().map_err(err)? != fresh.checksum().map_err(err)? {
            return Err(StoreError(
                "the copy's checksum differs from the original; nothing was changed".into(),
            ));
        }
        (old.size_on_disk().map_err(err)?, entries)
    };
    std::fs::rename(dir, set_aside(dir)).map_err(io)?;
    std::fs::rename(&fresh_dir, dir).map_err(io)?;
    std::fs::remove_dir_all(set_aside(dir)).map_err(io)?;
    let after_bytes = sled::Config::new()
        .path(dir)
        .open()
        .and_then(|db| db.size_on_disk())
        .map_err(err)?;
    Ok(Compacted {
        before_bytes,
        after_bytes,
        entries,
    })
}

/// Where a multi-write commit keeps its write set until every write is applied (outside every
/// table's key range: table names are lowercase ASCII).
const INTENT_KEY: &[u8] = b"\xffcommit-intent";

/// Applies a transaction's writes atomically. One write is one sled insert. Several are first
/// recorded as one intent value, then applied, then the intent is removed. sled recovers its
/// log as a prefix of the writes made (its own SIGKILL test, `tests/test_crash_recovery.rs`,
/// checks exactly that for single inserts), so after a crash either the intent survives (and
/// `open` finishes the commit) or none of the writes do. (sled's own `apply_batch` would do, but it rolls and
/// syncs the log buffer twice per batch: two synchronous disk writes per transaction.)
fn commit(tree: &sled::Tree, writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Result<(), sled::Error> {
    if writes.len() > 1 {
        tree.insert(INTENT_KEY, encode_writes(&writes))?;
    }
    for (k, v) in &writes {
        match v {
            Some(v) => tree.insert(k.as_slice(), v.as_slice())?,
            None => tree.remove(k.as_slice())?,
        };
    }
    if writes.len() > 1 {
        tree.remove(INTENT_KEY)?;
    }
    Ok(())
}

/// Re-applies the writes of a commit a crash interrupted (they are idempotent).
fn finish_interrupted_commit(tree: &sled::Tree) -> Result<(), sled::Error> {
    let Some(intent) = tree.get(INTENT_KEY)? else {
        return Ok(());
    };
    let writes = decode_writes(&intent)
        .ok_or_else(|| sled::Error::Unsupported("unreadable commit intent in the data dir".into()))?;
    tracing::warn!(writes = writes.len(), "finishing a commit interrupted by a crash");
    for (k, v) in writes {
        match v {
            Some(v) => tree.insert(k, v)?,
            None => tree.remove(k)?,
        };
    }
    tree.remove(INTENT_KEY)?;
    Ok(())
}

/// `[u32 key len][key][u8 1 + u32 len + value | u8 0]…`, little-endian lengths.
fn encode_writes(writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in writes {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
        match v {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
    }
    out
}

#[allow(clippy::type_complexity)]
fn decode_writes(mut b: &[u8]) -> Option<Vec<(Vec<u8>, Option<Vec<u8>>)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (b.get(..n)?, b.get(n..)?);
        *b = tail;
        Some(head)
    }
    fn len(b: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?) as usize)
    }
    let mut writes = Vec::new();
    while !b.is_empty() {
        let n = len(&mut b)?;
        let k = take(&mut b, n)?.to_vec();
        let v = match take(&mut b, 1)?[0] {
            1 => {
                let n = len(&mut b)?;
                Some(take(&mut b, n)?.to_vec())
            }
            0 => None,
            _ => return None,
        };
        writes.push((k, v));
    }
    Some(writes)
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
            commit(&self.tree, tx.writes).map_err(|e| EngineError::Storage(StoreError(e.to_string())))?;
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
        self.tree
            .range::<Vec<u8>, _>((start, Unbounded))
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&lower)))
            .take(limit)
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
                Ok(())
            })
            .unwrap();
        }
        let before: Vec<_> = {
            let s = SledStore::open(&dir).unwrap();
            s.tree.iter().map(|kv| kv.unwrap()).collect()
        };
        // Named through `..`, as an operator may: the siblings still go beside `data`.
        std::fs::create_dir(dir.join("sub")).unwrap();
        let c = compact(&dir.join("sub").join("..")).unwrap();
        assert_eq!(c.entries, 502);
        assert!(c.after_bytes < c.before_bytes, "{c:?}");
        assert!(!set_aside(&dir).exists() && !root.path().join("data.compacting").exists());
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(s.tree.iter().map(|kv| kv.unwrap()).collect::<Vec<_>>(), before);
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::User, "t/a")?)).unwrap(),
            Some(b"alice".to_vec())
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

    #[test]
    fn paged_scans_agree_with_whole_scans() {
        let dir = tempfile::tempdir().unwrap();
        engine::store::paging_check::assert_paged_scans_agree(&SledStore::open(dir.path()).unwrap());
    }

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
    fn a_commit_interrupted_after_its_intent_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            // What a crash in the middle of a two-write commit leaves: the intent, one write.
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let tree = db.open_tree("records").unwrap();
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
        assert!(s.tree.get(INTENT_KEY).unwrap().is_none());
        assert!(decode_writes(&[1, 0, 0, 0]).is_none(), "a truncated intent is refused");
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
