//! The store the server runs on: sled (`sled_store`) or redb (`redb_store`), chosen per data dir,
//! and what both report about themselves.

use crate::group_commit::Flusher;
use crate::redb_store::{self, RedbStore};
use crate::sled_store::{self, SledStore};
use engine::error::{EngineError, StoreError};
use engine::store::{Store, Table, Tx};
use std::path::Path;

/// Which embedded database holds a data dir.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// sled 0.34: an append-only log, whose records database the server rewrites into a new
    /// generation once its files have doubled (`sled_store::online_compact`).
    #[default]
    Sled,
    /// redb: a copy-on-write B-tree that reuses freed pages; its file stays bounded under churn.
    Redb,
}

impl StoreKind {
    /// What `dir` already holds, if anything (a sled dir whose compaction was interrupted
    /// between its two renames counts as sled: sled's `open` explains what to do).
    pub fn found_in(dir: &Path) -> Option<StoreKind> {
        if dir.join(redb_store::FILE_NAME).exists() {
            Some(StoreKind::Redb)
        } else if sled_store::holds_data(dir) || sled_store::set_aside(dir).exists() {
            Some(StoreKind::Sled)
        } else {
            None
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sled => "sled",
            StoreKind::Redb => "redb",
        }
    }
}

/// How many records a table holds and their size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    /// The table.
    pub table: Table,
    /// Its records.
    pub records: u64,
    /// Bytes of their keys (sled counts its table prefix too).
    pub key_bytes: u64,
    /// Bytes of their values.
    pub value_bytes: u64,
}

/// What the store holds, per table, and its files' size.
#[derive(Clone, Debug)]
pub struct StoreStats {
    /// Every table, in `Table::ALL` order.
    pub tables: Vec<TableStats>,
    /// The store's files on disk.
    pub disk_bytes: u64,
    /// Of those, the pages in use (redb: the rest are free pages later commits reuse; sled keeps
    /// no such count).
    pub used_bytes: Option<u64>,
}

/// Sizes of a data dir before and after `compact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// The store's files before.
    pub before_bytes: u64,
    /// The store's files after.
    pub after_bytes: u64,
    /// Records kept (sled: key-value pairs copied, every tree).
    pub entries: u64,
}

/// The open store.
pub enum DataStore {
    /// On sled.
    Sled(SledStore),
    /// On redb.
    Redb(RedbStore),
}

impl DataStore {
    /// Opens `dir` as `kind`, refusing a dir that holds the other kind (nothing is converted).
    pub fn open(kind: StoreKind, dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        match StoreKind::found_in(dir) {
            Some(found) if found != kind => {
                return Err(StoreError(format!(
                    "{} holds a {} store, not {}: start with --store {} (or use another --data-dir)",
                    dir.display(),
                    found.name(),
                    kind.name(),
                    found.name()
                )))
            }
            _ => {}
        }
        Ok(match kind {
            StoreKind::Sled => {
                DataStore::Sled(SledStore::open_with_cache(dir, cache_bytes).map_err(|e| StoreError(e.to_string()))?)
            }
            StoreKind::Redb => DataStore::Redb(RedbStore::open(dir, cache_bytes)?),
        })
    }

    /// Opens whatever `dir` holds (`None` if it holds no store).
    pub fn open_existing(dir: &Path, cache_bytes: u64) -> Result<Option<Self>, StoreError> {
        StoreKind::found_in(dir)
            .map(|kind| Self::open(kind, dir, cache_bytes))
            .transpose()
    }

    /// The group-commit handle (requests run inside its `scope`).
    pub fn flusher(&self) -> &Flusher {
        match self {
            DataStore::Sled(s) => s.flusher(),
            DataStore::Redb(s) => s.flusher(),
        }
    }

    /// Puts everything on disk (used at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        match self {
            DataStore::Sled(s) => s.flush(),
            DataStore::Redb(s) => s.flush(),
        }
    }

    /// Compacts the store while it runs if its files have grown enough to need it (sled: see
    /// `sled_store::online_compact`; redb reuses its freed pages and never needs it).
    pub fn compact_if_grown(&self) -> Result<Option<sled_store::OnlineCompaction>, StoreError> {
        match self {
            DataStore::Sled(s) => s.compact_if_grown(),
            DataStore::Redb(_) => Ok(None),
        }
    }

    /// Records and bytes per table, and the files' size.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        match self {
            DataStore::Sled(s) => s.stats(),
            DataStore::Redb(s) => s.stats(),
        }
    }
}

/// Compacts the (stopped) server's data dir, whichever store it holds.
pub fn compact(dir: &Path) -> Result<Compacted, StoreError> {
    match StoreKind::found_in(dir) {
        Some(StoreKind::Redb) => redb_store::compact(dir),
        // sled's own compaction also refuses a dir an interrupted compaction left empty.
        _ => sled_store::compact(dir),
    }
}

impl Store for DataStore {
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        match self {
            DataStore::Sled(s) => s.transact(f),
            DataStore::Redb(s) => s.transact(f),
        }
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match self {
            DataStore::Sled(s) => s.scan(table, prefix),
            DataStore::Redb(s) => s.scan(table, prefix),
        }
    }

    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match self {
            DataStore::Sled(s) => s.scan_after(table, prefix, after, limit),
            DataStore::Redb(s) => s.scan_after(table, prefix, after, limit),
        }
    }

    fn keeps_expiry_index(&self) -> bool {
        match self {
            DataStore::Sled(s) => s.keeps_expiry_index(),
            DataStore::Redb(s) => s.keeps_expiry_index(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::env::UnixTime;
    use engine::grant::AccessTokenRecord;

    #[test]
    fn the_purge_deletes_what_expired_on_either_store() {
        let root = tempfile::tempdir().unwrap();
        let now = UnixTime(1_000_000);
        for (kind, indexed) in [(StoreKind::Sled, false), (StoreKind::Redb, true)] {
            let store = DataStore::open(kind, &root.path().join(kind.name()), 1 << 20).unwrap();
            assert_eq!(store.keeps_expiry_index(), indexed, "{}", kind.name());
            let engine = engine::Engine::new(store, engine::EngineConfig::new("https://id.example.com"));
            engine.prepare_expiry_index().unwrap();
            let token = |expires_at| AccessTokenRecord {
                tenant: "t".into(),
                client_id: "c".into(),
                grant_id: None,
                expires_at,
                revoked: false,
                token_hash: None,
            };
            engine
                .store()
                .transact(|tx| {
                    engine::store::save(tx, "t/old", &token(UnixTime(now.0 - 1)))?;
                    engine::store::save(tx, "t/live", &token(now.plus(60)))
                })
                .unwrap();
            for (at, deleted, left) in [(now, 1, 1), (now, 0, 1), (now.plus(61), 1, 0)] {
                let report = engine.purge_expired(at).unwrap();
                assert_eq!(report.access_tokens, deleted, "{}: {report:?}", kind.name());
                assert_eq!(engine.store().scan(Table::AccessToken, "").unwrap().len(), left);
            }
        }
    }

    fn refusal(kind: StoreKind, dir: &Path) -> String {
        match DataStore::open(kind, dir, 1 << 20) {
            Err(e) => e.0,
            Ok(_) => panic!("{} opened as {}", dir.display(), kind.name()),
        }
    }

    #[test]
    fn a_data_dir_opens_only_as_the_store_it_holds() {
        let root = tempfile::tempdir().unwrap();
        let (sled_dir, redb_dir) = (root.path().join("s"), root.path().join("r"));
        drop(DataStore::open(StoreKind::Sled, &sled_dir, 1 << 20).unwrap());
        drop(DataStore::open(StoreKind::Redb, &redb_dir, 1 << 20).unwrap());
        assert_eq!(StoreKind::found_in(&sled_dir), Some(StoreKind::Sled));
        assert_eq!(StoreKind::found_in(&redb_dir), Some(StoreKind::Redb));
        assert!(refusal(StoreKind::Redb, &sled_dir).contains("holds a sled store, not redb"));
        assert!(refusal(StoreKind::Sled, &redb_dir).contains("holds a redb store, not sled"));
        assert!(DataStore::open_existing(&root.path().join("none"), 1 << 20)
            .unwrap()
            .is_none());
        // A sled compaction interrupted between its renames leaves the dir empty: still sled's.
        std::fs::rename(&sled_dir, sled_store::set_aside(&sled_dir)).unwrap();
        std::fs::create_dir(&sled_dir).unwrap();
        assert!(refusal(StoreKind::Redb, &sled_dir).contains("holds a sled store"));
        assert!(refusal(StoreKind::Sled, &sled_dir).contains("interrupted"));
        assert!(
            !sled_dir.join(redb_store::FILE_NAME).exists(),
            "no redb file was made beside it"
        );
    }
}
