//! Compaction of the records database while the server runs.
//!
//! sled 0.34 appends every write to its log and gives the space of dead records back slowly: under
//! the churn of codes, tokens and sessions its files kept growing (2.4 GB for ~150 MB of live
//! records after 1 M flows, `conformance-reports/store-growth.md`) while what it held stayed flat.
//! So, once the files have doubled since the last compaction, the live records are copied into a
//! new generation (`generations`) and the server switches to it:
//! 1. the copy runs beside the transactions, and every key they write meanwhile is noted;
//! 2. the noted keys are copied again (read from the old generation, which is still current),
//!    round after round, until few are left;
//! 3. with the store's lock held (no transaction runs) and the flush thread waiting, the last
//!    noted keys are copied, the copy is flushed, and `records.current` names it: the switch;
//! 4. the old generation is closed once no scan holds it, and its files are removed.
//!
//! Nothing acknowledged is lost: until the switch the old generation is current and is what
//! every flush covers; the switch comes only after the copy holds every write and is on disk.

use super::generations::{self, Generation};
use super::{Records, SledStore};
use engine::error::StoreError;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Below this size the records database is never compacted online.
pub const MIN_BYTES: u64 = 64 * 1024 * 1024;
/// The files are compacted once they are this many times their size after the last compaction.
pub const GROWTH: u64 = 2;
/// Before the first compaction, the size one would leave is taken as this many times the live
/// keys and values (an offline compaction left 1,012 MB of files for 432 MB of them). A store
/// created empty records 0 at once (`baseline`), so it compacts first once past the floor.
const FRESH_FILES_PER_LIVE_BYTE: u64 = 3;
/// Catch-up rounds stop once a round has at most this many keys to copy again (the rest are
/// copied with the lock held).
const FEW_KEYS: usize = 512;
/// At most this many catch-up rounds (under a write rate faster than the copy, the lock is
/// taken anyway).
const MAX_ROUNDS: u32 = 16;

/// What an online compaction did.
#[derive(Clone, Debug)]
pub struct OnlineCompaction {
    /// The records database's files before.
    pub before_bytes: u64,
    /// Its files after (the new generation).
    pub after_bytes: u64,
    /// Records copied.
    pub records: u64,
    /// Their keys and values.
    pub live_bytes: u64,
    /// Keys written during the copy and copied again.
    pub recopied: u64,
    /// How long transactions waited for the switch.
    pub switch: Duration,
    /// The whole compaction.
    pub took: Duration,
}

fn sled_err(e: sled::Error) -> StoreError {
    StoreError(e.to_string())
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError(e.to_string())
}

/// Copies each key's current value in `from` (or its absence) to `to`.
fn copy_keys(from: &sled::Tree, to: &sled::Tree, keys: HashSet<Vec<u8>>) -> Result<(), sled::Error> {
    for k in keys {
        match from.get(&k)? {
            Some(v) => to.insert(k, v)?,
            None => to.remove(k)?,
        };
    }
    Ok(())
}

impl SledStore {
    /// Compacts the records database if its files have grown past [`GROWTH`] times their size
    /// after the last compaction (and past [`MIN_BYTES`]). Called after each purge.
    pub fn compact_if_grown(&self) -> Result<Option<OnlineCompaction>, StoreError> {
        self.compact_if_grown_past(MIN_BYTES)
    }

    /// [`Self::compact_if_grown`] with another floor than [`MIN_BYTES`].
    fn compact_if_grown_past(&self, min_bytes: u64) -> Result<Option<OnlineCompaction>, StoreError> {
        let size = self.shared.records().db.size_on_disk().map_err(sled_err)?;
        if size <= min_bytes {
            return Ok(None);
        }
        let baseline = {
            let mut last = self.compacted_size.lock().unwrap_or_else(|p| p.into_inner());
            match *last {
                Some(b) => b,
                None => {
                    let live: u64 = self
                        .shared
                        .records()
                        .tree
                        .iter()
                        .map(|kv| kv.map(|(k, v)| (k.len() + v.len()) as u64))
                        .sum::<Result<u64, _>>()
                        .map_err(sled_err)?;
                    let estimate = live * FRESH_FILES_PER_LIVE_BYTE;
                    super::baseline::write(&self.shared.records().db, estimate).map_err(sled_err)?;
                    *last.insert(estimate)
                }
            }
        };
        if size <= GROWTH * baseline {
            return Ok(None);
        }
        self.compact_online().map(Some)
    }

    /// Copies the live records into a new generation and switches to it while transactions
    /// go on (see the module's comment). On an error before the switch, the copy is removed
    /// and the old generation stays current.
    pub fn compact_online(&self) -> Result<OnlineCompaction, StoreError> {
        let started = Instant::now();
        // One compaction at a time; the size it leaves is the next one's baseline.
        let mut compacted_size = self.compacted_size.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.shared.records();
        let before_bytes = old.db.size_on_disk().map_err(sled_err)?;
        let next = old.generation.next();
        let next_dir = next.dir(&self.data_dir);
        if next_dir.exists() {
            std::fs::remove_dir_all(&next_dir).map_err(io_err)?;
        }
        let fresh = Records::open(&self.data_dir, next, self.cache_bytes).map_err(sled_err)?;
        // From here on, every key written to the old tree is noted (after its write).
        *self.shared.written.lock().unwrap_or_else(|p| p.into_inner()) = Some(HashSet::new());
        let copied = self.copy_and_switch(&old, fresh, next);
        *self.shared.written.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let (records, live_bytes, recopied, switch) = match copied {
            Ok(done) => done,
            Err(e) => {
                // `fresh` was dropped with the failed copy; the old generation is still current.
                let _ = std::fs::remove_dir_all(&next_dir);
                return Err(e);
            }
        };
        let current = self.shared.records();
        let after_bytes = current.db.size_on_disk().map_err(sled_err)?;
        *compacted_size = Some(after_bytes);
        if let Err(e) = super::baseline::write(&current.db, after_bytes) {
            tracing::warn!(error = %e, "could not record the compacted size; the next start estimates it");
        }
        self.retire(old, next);
        Ok(OnlineCompaction {
            before_bytes,
            after_bytes,
            records,
            live_bytes,
            recopied,
            switch,
            took: started.elapsed(),
        })
    }

    /// Steps 1 to 3: the copy, the catch-up rounds, and the switch. Returns the records copied,
    /// their bytes, the keys copied again, and how long the switch held the lock.
    fn copy_and_switch(
        &self,
        old: &Records,
        fresh: Records,
        next: Generation,
    ) -> Result<(u64, u64, u64, Duration), StoreError> {
        let (mut records, mut live_bytes) = (0u64, 0u64);
        for kv in old.tree.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            records += 1;
            live_bytes += (k.len() + v.len()) as u64;
            fresh.tree.insert(k, v).map_err(sled_err)?;
        }
        let take_written = || {
            let mut written = self.shared.written.lock().unwrap_or_else(|p| p.into_inner());
            written.as_mut().map(std::mem::take).unwrap_or_default()
        };
        let mut recopied = 0u64;
        for _ in 0..MAX_ROUNDS {
            let keys = take_written();
            let few = keys.len() <= FEW_KEYS;
            recopied += keys.len() as u64;
            copy_keys(&old.tree, &fresh.tree, keys).map_err(sled_err)?;
            if few {
                break;
            }
        }
        let switch_started = Instant::now();
        let _serial = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Waits for a flush in progress; the flush thread then waits for the switch.
        let mut current = self.shared.records.write().unwrap_or_else(|p| p.into_inner());
        let keys = take_written();
        recopied += keys.len() as u64;
        copy_keys(&old.tree, &fresh.tree, keys).map_err(sled_err)?;
        fresh.db.flush().map_err(sled_err)?;
        if let Err(e) = generations::switch_to(&self.data_dir, next) {
            // The rename may have happened and only the dir's sync failed: what is on disk decides.
            if generations::current(&self.data_dir).ok() != Some(next) {
                return Err(io_err(e));
            }
            tracing::warn!(error = %e, "records generation switched, but its dir's sync failed");
        }
        *current = Arc::new(fresh);
        Ok((records, live_bytes, recopied, switch_started.elapsed()))
    }

    /// Step 4: closes the old generation once no scan holds it (waiting at most a minute) and
    /// removes its files; files it cannot remove now go at the next open.
    fn retire(&self, old: Arc<Records>, current: Generation) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut old = old;
        loop {
            match Arc::try_unwrap(old) {
                Ok(records) => {
                    drop(records);
                    break;
                }
                Err(still_held) if Instant::now() < deadline => {
                    old = still_held;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => {
                    tracing::warn!("an old records generation is still read; its files go at the next start");
                    return;
                }
            }
        }
        if let Err(e) = generations::remove_all_but(&self.data_dir, current) {
            tracing::warn!(error = %e, "could not remove an old records generation; it goes at the next start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::store::{Store, Table};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Everything the records tree holds, outbox and intent apart: `{table}\0{key}` → value.
    fn contents(s: &SledStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
        s.shared
            .records()
            .tree
            .iter()
            .map(|kv| kv.unwrap())
            .filter(|(k, _)| k[0] < 0xfe)
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    /// Writes new keys and deletes older ones until told to stop, with audit events (outbox
    /// copies) among them, most without waiting for a flush (so that many land during each step
    /// of a compaction); returns what the store must hold. Each key is written once, so a write
    /// a compaction lost stays lost.
    fn churn(s: &SledStore, stop: &AtomicBool) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut expected = BTreeMap::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) || i < 5_000 {
            let (key, gone) = (format!("t/{i:08}"), format!("t/{:08}", i.wrapping_sub(300)));
            let value = format!("v{i}").into_bytes();
            s.transact(|tx| {
                if !i.is_multiple_of(50) {
                    tx.relax_durability();
                }
                tx.put(Table::Code, &key, value.clone())?;
                tx.delete(Table::Code, &gone)?;
                if i.is_multiple_of(3) {
                    tx.put(Table::Audit, &format!("t/{i:08}"), b"event".to_vec())?;
                }
                Ok(())
            })
            .unwrap();
            expected.insert(crate::full_key(Table::Code, &key), value);
            expected.remove(&crate::full_key(Table::Code, &gone));
            i += 1;
        }
        expected
    }

    #[test]
    fn writes_during_online_compactions_are_all_kept_and_old_generations_go() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let s = SledStore::open(&dir).unwrap();
        s.transact(|tx| Ok(tx.put(Table::User, "t/alice", b"alice".to_vec())?))
            .unwrap();
        let stop = AtomicBool::new(false);
        let (expected, compactions) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| churn(&s, &stop));
            let mut compactions = Vec::new();
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(30));
                compactions.push(s.compact_online().unwrap());
            }
            stop.store(true, Ordering::Relaxed);
            (writer.join().unwrap(), compactions)
        });
        assert!(
            compactions.iter().any(|c| c.recopied > 0),
            "the writer ran during the copies: {compactions:?}"
        );
        let mut want = expected.clone();
        want.insert(crate::full_key(Table::User, "t/alice"), b"alice".to_vec());
        assert_eq!(contents(&s), want);
        assert_eq!(s.shared.records().generation, Generation(3));
        drop(s);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["audit", "records.3", "records.current"],
            "the first layout's files went too"
        );
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(contents(&s), want, "and all of it is there after a restart");
        assert!(
            s.shared
                .records()
                .tree
                .scan_prefix(crate::audit_db::OUTBOX_PREFIX)
                .next()
                .is_none(),
            "no outbox copy was left behind to be applied again"
        );
        let events = s.scan(Table::Audit, "t/").unwrap().len();
        assert!(events >= 5_000 / 3, "{events} audit events");
    }

    #[test]
    fn read_modify_writes_and_single_use_hold_across_switches() {
        let root = tempfile::tempdir().unwrap();
        let s = Arc::new(SledStore::open(root.path()).unwrap());
        let checks = {
            let s = s.clone();
            std::thread::spawn(move || {
                engine::store::contract_check::assert_no_lost_updates(s.clone());
                engine::store::contract_check::assert_single_use_has_one_winner(s.clone());
                // Slow transactions: each holds its generation across a switch's start.
                let slow: Vec<_> = (0..4)
                    .map(|_| {
                        let s = s.clone();
                        std::thread::spawn(move || {
                            for _ in 0..100 {
                                s.transact(|tx| {
                                    let n = tx.get(Table::Grant, "slow/n")?.map_or(0, |v| v.len());
                                    std::thread::sleep(Duration::from_micros(300));
                                    Ok(tx.put(Table::Grant, "slow/n", vec![0; n + 1])?)
                                })
                                .unwrap();
                            }
                        })
                    })
                    .collect();
                for t in slow {
                    t.join().unwrap();
                }
                let n = s.transact(|tx| Ok(tx.get(Table::Grant, "slow/n")?)).unwrap();
                assert_eq!(n.map(|v| v.len()), Some(400), "no increment lost");
            })
        };
        let mut switches = 0;
        while !checks.is_finished() {
            s.compact_online().unwrap();
            switches += 1;
        }
        checks.join().expect("the contract held");
        assert!(switches > 1, "{switches} switches");
    }

    #[test]
    fn the_offline_compaction_reads_the_current_generation() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let want = {
            let s = SledStore::open(&dir).unwrap();
            for i in 0..300 {
                s.transact(|tx| Ok(tx.put(Table::Code, &format!("t/{i:04}"), vec![1u8; 64])?))
                    .unwrap();
            }
            s.compact_online().unwrap();
            s.transact(|tx| Ok(tx.put(Table::User, "t/alice", b"after the switch".to_vec())?))
                .unwrap();
            contents(&s)
        };
        assert_eq!(want.len(), 301);
        {
            // A baseline far above what the copy leaves, which it must replace.
            let db = crate::open_db(&generations::current(&dir).unwrap().dir(&dir), 1 << 20).unwrap();
            crate::baseline::write(&db, u64::MAX / 4).unwrap();
            db.flush().unwrap();
        }
        let c = crate::compact(&dir).unwrap();
        assert!(c.entries >= 301, "{c:?}");
        assert!(!dir.join("records.current").exists(), "the copy is in the first layout");
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(s.shared.records().generation, Generation(0));
        assert_eq!(contents(&s), want);
        let baseline = recorded(&s).unwrap();
        assert!(
            baseline > 0 && baseline <= s.shared.records().db.size_on_disk().unwrap(),
            "the copy's own size: {baseline}"
        );
    }

    /// The server's churn: new keys (codes, tokens) written, the expired ones deleted; 200 live.
    fn churn_codes(s: &SledStore, next: &mut u64, n: u64) {
        let value = vec![7u8; 1024];
        for _ in 0..n {
            let i = *next;
            *next += 1;
            s.transact(|tx| {
                tx.put(Table::Code, &format!("t/{i:08}"), value.clone())?;
                Ok(tx.delete(Table::Code, &format!("t/{:08}", i.wrapping_sub(200)))?)
            })
            .unwrap();
        }
    }

    /// Churns until `compact_if_grown_past(floor)` compacts (at most 40,000 writes).
    fn churn_until_compacted(s: &SledStore, next: &mut u64, floor: u64) -> OnlineCompaction {
        for _ in 0..400 {
            churn_codes(s, next, 100);
            if let Some(c) = s.compact_if_grown_past(floor).unwrap() {
                return c;
            }
        }
        panic!("no compaction: the files never grew past twice the baseline")
    }

    fn recorded(s: &SledStore) -> Option<u64> {
        crate::baseline::read(&s.shared.records().db).unwrap()
    }

    #[test]
    fn it_compacts_once_the_files_have_doubled_since_the_last_time() {
        let root = tempfile::tempdir().unwrap();
        let s = SledStore::open(root.path()).unwrap();
        assert_eq!(recorded(&s), Some(0), "a new store starts from nothing");
        let mut next = 0;
        churn_codes(&s, &mut next, 200);
        let size = || s.shared.records().db.size_on_disk().unwrap();
        let floor = size();
        assert!(s.compact_if_grown_past(floor).unwrap().is_none(), "not past the floor");
        // A new store compacts first once past the floor.
        let c = churn_until_compacted(&s, &mut next, floor);
        assert_eq!(c.records, 200);
        assert!(c.before_bytes > floor && c.after_bytes < c.before_bytes, "{c:?}");
        assert_eq!(recorded(&s), Some(c.after_bytes), "the copy's size is kept");
        assert!(
            s.compact_if_grown_past(0).unwrap().is_none(),
            "the new baseline is the copy's size"
        );
        let c2 = churn_until_compacted(&s, &mut next, 0);
        assert!(c2.before_bytes > 2 * c.after_bytes, "{c:?} {c2:?}");
        let last = format!("t/{:08}", next - 1);
        assert_eq!(
            s.transact(|tx| Ok(tx.get(Table::Code, &last)?)).unwrap(),
            Some(vec![7u8; 1024])
        );
    }

    #[test]
    fn the_baseline_outlives_the_process_and_a_store_without_one_estimates_it_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let mut next = 0;
        let after = {
            let s = SledStore::open(dir).unwrap();
            churn_codes(&s, &mut next, 200);
            churn_until_compacted(&s, &mut next, 0).after_bytes
        };
        {
            let s = SledStore::open(dir).unwrap();
            assert_eq!(*s.compacted_size.lock().unwrap(), Some(after), "read back at open");
        }
        // A store written before the baseline was kept: none recorded, records present.
        {
            let db = crate::open_db(&generations::current(dir).unwrap().dir(dir), 1 << 20).unwrap();
            db.remove(crate::baseline::KEY).unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir).unwrap();
        assert_eq!(*s.compacted_size.lock().unwrap(), None);
        assert!(s.compact_if_grown_past(0).unwrap().is_none(), "just opened: not grown");
        let estimate = recorded(&s).expect("the estimate is kept");
        let live = 200 * (1024 + crate::full_key(Table::Code, "t/00000000").len() as u64);
        assert!(
            estimate >= 3 * live && estimate < 4 * live,
            "{estimate} for {live} live bytes"
        );
        let c = churn_until_compacted(&s, &mut next, 0);
        assert!(c.before_bytes > 2 * estimate, "{c:?}");
    }
}
