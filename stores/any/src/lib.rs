//! The store a server runs on: sled (`store_sled`) or redb (`store_redb`), chosen per data dir,
//! or PostgreSQL (`store_postgres`), chosen by a URL, behind one type the engine runs over, with
//! the lifecycle they share (open, flush, background upkeep, stats, where engine calls run). The
//! HTTP server names no storage product; it opens this.

use engine::env::UnixTime;
use engine::error::{EngineError, StoreError};
use engine::store::{ExpiredPage, Store, Table, Tx};
use std::path::Path;
pub use store_kit::{Compacted, EngineCalls, FlushStats, Flusher, Lifecycle, StoreStats, TableStats};
use store_postgres::PgStore;
pub use store_postgres::{self as postgres, ConnectOptions};
use store_redb::{self as redb_store, RedbStore};
use store_sled::{self as sled_store, SledStore};

/// Which embedded database holds a data dir.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
        } else if sled_store::found_in(dir) {
            Some(StoreKind::Sled)
        } else {
            None
        }
    }

    /// Its name on the command line: `sled` or `redb`.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sled => "sled",
            StoreKind::Redb => "redb",
        }
    }
}

/// The open store.
pub enum DataStore {
    /// On sled.
    Sled(SledStore),
    /// On redb.
    Redb(RedbStore),
    /// On PostgreSQL.
    Postgres(PgStore),
}

/// Whether `s` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_database_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
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

    /// Connects to the PostgreSQL database at `url` and creates or migrates its schema. Blocks:
    /// call it off the async workers.
    pub fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        PgStore::open(url, options).map(DataStore::Postgres)
    }

    /// Runs `f` while no other process runs its own over this store: on PostgreSQL under an
    /// advisory lock (`PgStore::exclusively`); an embedded data dir has one process already.
    pub fn exclusively<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        match self {
            DataStore::Postgres(s) => s.exclusively(f),
            _ => Ok(f()),
        }
    }

    /// Opens whatever `dir` holds (`None` if it holds no store).
    pub fn open_existing(dir: &Path, cache_bytes: u64) -> Result<Option<Self>, StoreError> {
        StoreKind::found_in(dir)
            .map(|kind| Self::open(kind, dir, cache_bytes))
            .transpose()
    }
}

impl Lifecycle for DataStore {
    fn flusher(&self) -> &Flusher {
        match self {
            DataStore::Sled(s) => Lifecycle::flusher(s),
            DataStore::Redb(s) => Lifecycle::flusher(s),
            DataStore::Postgres(s) => Lifecycle::flusher(s),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        match self {
            DataStore::Sled(s) => Lifecycle::flush(s),
            DataStore::Redb(s) => Lifecycle::flush(s),
            DataStore::Postgres(s) => Lifecycle::flush(s),
        }
    }

    fn maintain(&self) -> Result<(), StoreError> {
        match self {
            DataStore::Sled(s) => s.maintain(),
            DataStore::Redb(s) => s.maintain(),
            DataStore::Postgres(s) => Lifecycle::maintain(s),
        }
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        match self {
            DataStore::Sled(s) => Lifecycle::stats(s),
            DataStore::Redb(s) => Lifecycle::stats(s),
            DataStore::Postgres(s) => Lifecycle::stats(s),
        }
    }

    fn health(&self) -> Result<(), StoreError> {
        match self {
            DataStore::Sled(s) => s.health(),
            DataStore::Redb(s) => s.health(),
            DataStore::Postgres(s) => Lifecycle::health(s),
        }
    }

    fn engine_calls(&self) -> EngineCalls {
        match self {
            DataStore::Sled(s) => s.engine_calls(),
            DataStore::Redb(s) => s.engine_calls(),
            DataStore::Postgres(s) => s.engine_calls(),
        }
    }
}

/// Copies every record of `from` into `to` (another kind of store, typically a data dir into
/// PostgreSQL), a page at a time, and returns how many. `to` must hold no tenant yet. Expiry
/// times are not copied, nor the engine's marker that every record has one: the first purge on
/// `to` goes through it once and gives each live record its time. Both servers must be stopped.
pub fn copy_into(from: &DataStore, to: &DataStore) -> Result<u64, StoreError> {
    const PAGE: usize = 512;
    if !to.scan_after(Table::Tenant, "", None, 1)?.is_empty() {
        return Err(StoreError(
            "the target already holds tenants: copy only into an empty store".into(),
        ));
    }
    let mut copied = 0u64;
    for table in Table::ALL.into_iter().filter(|t| *t != Table::Expiry) {
        let mut after: Option<String> = None;
        loop {
            let page = from.scan_after(table, "", after.as_deref(), PAGE)?;
            if page.is_empty() {
                break;
            }
            to.transact(|tx| {
                for (key, value) in &page {
                    tx.put(table, key, value.clone())?;
                }
                Ok(())
            })
            .map_err(|e| StoreError(format!("writing {}: {e}", table.name())))?;
            copied += page.len() as u64;
            if page.len() < PAGE {
                break;
            }
            after = page.last().map(|(key, _)| key.clone());
        }
    }
    Ok(copied)
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
            DataStore::Postgres(s) => s.transact(f),
        }
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match self {
            DataStore::Sled(s) => s.scan(table, prefix),
            DataStore::Redb(s) => s.scan(table, prefix),
            DataStore::Postgres(s) => s.scan(table, prefix),
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
            DataStore::Postgres(s) => s.scan_after(table, prefix, after, limit),
        }
    }

    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        match self {
            DataStore::Sled(s) => s.expired(table, now, after, limit),
            DataStore::Redb(s) => s.expired(table, now, after, limit),
            DataStore::Postgres(s) => s.expired(table, now, after, limit),
        }
    }
}

impl std::str::FromStr for StoreKind {
    type Err = String;

    /// `sled` or `redb`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sled" => Ok(StoreKind::Sled),
            "redb" => Ok(StoreKind::Redb),
            other => Err(format!("unknown store {other:?}: sled or redb")),
        }
    }
}

/// The sizes of the sled cache a store opens with unless told otherwise.
pub use store_sled::{DEFAULT_CACHE_BYTES, DEFAULT_CACHE_MB};

#[cfg(test)]
mod tests {
    use super::*;
    use engine::env::UnixTime;
    use engine::token::grant::AccessTokenRecord;

    #[test]
    fn either_store_answers_the_lifecycle_the_server_drives() {
        let root = tempfile::tempdir().unwrap();
        for kind in [StoreKind::Sled, StoreKind::Redb] {
            let dir = root.path().join(kind.name());
            let store = DataStore::open(kind, &dir, 1 << 20).unwrap();
            store
                .transact(|tx| tx.put(Table::User, "t/u1", b"user".to_vec()).map_err(EngineError::from))
                .unwrap();
            store.maintain().unwrap();
            Lifecycle::flush(&store).unwrap();
            let stats = Lifecycle::stats(&store).unwrap();
            let users = stats.tables.iter().find(|t| t.table == Table::User).unwrap();
            assert_eq!(users.records, 1, "{}", kind.name());
            assert!(stats.disk_bytes > 0);
            assert_eq!(
                Lifecycle::flusher(&store).stats().flushes,
                0,
                "no request waited on a flush"
            );
            drop(store);
            // The same dir opens again as what it holds; the other kind is refused.
            assert!(DataStore::open_existing(&dir, 1 << 20).unwrap().is_some());
            let other = if kind == StoreKind::Sled {
                StoreKind::Redb
            } else {
                StoreKind::Sled
            };
            assert!(DataStore::open(other, &dir, 1 << 20).is_err());
        }
    }

    #[test]
    fn the_purge_deletes_what_expired_on_either_store() {
        let root = tempfile::tempdir().unwrap();
        let now = UnixTime(1_000_000);
        for kind in [StoreKind::Sled, StoreKind::Redb] {
            let store = DataStore::open(kind, &root.path().join(kind.name()), 1 << 20).unwrap();
            let engine = engine::Engine::new(
                store,
                engine::EngineConfig::new("https://id.example.com"),
                std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
            );
            assert!(engine.prepare_expiry().unwrap());
            let token = |expires_at| AccessTokenRecord {
                tenant: "t".into(),
                client_id: "c".into(),
                grant_id: None,
                user_id: None,
                expires_at,
                revoked: false,
                token_hash: None,
                jkt: None,
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

    #[test]
    fn a_copy_holds_every_record_and_refuses_a_store_that_is_not_empty() {
        let root = tempfile::tempdir().unwrap();
        let from = DataStore::open(StoreKind::Sled, &root.path().join("s"), 1 << 20).unwrap();
        from.transact(|tx| {
            for i in 0..1_300 {
                tx.put(Table::User, &format!("t/{i:05}"), format!("u{i}").into_bytes())?;
            }
            tx.put(Table::Tenant, "t", b"tenant".to_vec())?;
            tx.put(Table::Audit, "t/0001", b"event".to_vec())?;
            tx.put(Table::Expiry, "~expiry-kept-by-store", Vec::new())?;
            Ok(())
        })
        .unwrap();
        let to = DataStore::open(StoreKind::Redb, &root.path().join("r"), 1 << 20).unwrap();
        assert_eq!(copy_into(&from, &to).unwrap(), 1_302);
        assert_eq!(to.scan(Table::User, "").unwrap(), from.scan(Table::User, "").unwrap());
        assert_eq!(to.scan(Table::Audit, "").unwrap().len(), 1);
        assert!(
            to.scan(Table::Expiry, "").unwrap().is_empty(),
            "the marker stays behind"
        );
        assert!(copy_into(&from, &to).is_err(), "the target holds a tenant now");
    }

    #[test]
    fn a_data_dir_an_older_version_wrote_gets_its_expiry_times_at_the_first_purge() {
        let root = tempfile::tempdir().unwrap();
        let now = UnixTime(1_000_000);
        for kind in [StoreKind::Sled, StoreKind::Redb] {
            let dir = root.path().join(kind.name());
            let store = DataStore::open(kind, &dir, 1 << 20).unwrap();
            // As an older version wrote it: records without times, its index in `Expiry`.
            store
                .transact(|tx| {
                    for (key, expires_at) in [("t/old", UnixTime(now.0 - 1)), ("t/live", now.plus(60))] {
                        let record = AccessTokenRecord {
                            tenant: "t".into(),
                            client_id: "c".into(),
                            grant_id: None,
                            user_id: None,
                            expires_at,
                            revoked: false,
                            token_hash: None,
                            jkt: None,
                        };
                        tx.put(Table::AccessToken, key, serde_json::to_vec(&record).unwrap())?;
                    }
                    tx.put(Table::Expiry, "00000000000000999999/access_token/t/old", Vec::new())?;
                    tx.put(Table::Expiry, "~backfilled", Vec::new())?;
                    Ok(())
                })
                .unwrap();
            let engine = engine::Engine::new(
                store,
                engine::EngineConfig::new("https://id.example.com"),
                std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
            );
            assert!(!engine.prepare_expiry().unwrap(), "{}", kind.name());
            assert_eq!(engine.purge_expired(now).unwrap().access_tokens, 1, "{}", kind.name());
            let due_later = engine
                .store()
                .expired(Table::AccessToken, now.plus(61), None, 10)
                .unwrap();
            assert_eq!(
                due_later.keys,
                ["t/live"],
                "{}: the live record got its time",
                kind.name()
            );
            assert_eq!(
                engine.store().scan(Table::Expiry, "").unwrap().len(),
                1,
                "only the marker"
            );
            drop(engine);
            // And it holds after a restart.
            let engine = engine::Engine::new(
                DataStore::open(kind, &dir, 1 << 20).unwrap(),
                engine::EngineConfig::new("https://id.example.com"),
                std::sync::Arc::new(engine::sealing::SystemSecrets::for_tests()),
            );
            assert!(engine.prepare_expiry().unwrap());
            assert_eq!(
                engine.purge_expired(now.plus(61)).unwrap().access_tokens,
                1,
                "{}",
                kind.name()
            );
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
