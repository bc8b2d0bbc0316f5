//! Audit events live in a second sled database, `{data dir}/audit`.
//!
//! Why a second database: sled 0.34 gives the space of deleted records back only while what a
//! database holds stays about flat. The audit log only grows (until its retention removes old
//! events), and while it shared the records' database, none of the churn's garbage was given back:
//! 6.9 GB of files for 0.57 GB of records after 1 M flows (`conformance-reports/store-growth.md`).
//! Measured apart, the records' database levels off at about 3× what it holds.
//!
//! An event still commits with the action it records, through an outbox. The action's atomic batch
//! in the records database also carries a copy of each audit write under `OUTBOX_PREFIX`; then the
//! audit writes are applied to the audit database; each copy is removed only after a flush of the
//! audit database has covered its write. After a crash, `open` applies every copy left (the same
//! key and value again), so an event is lost only with its action.

use std::sync::Mutex;

/// Where the records tree keeps a copy of an audit write until the audit database has it on disk
/// (outside every table's key range: table names are lowercase ASCII).
pub(super) const OUTBOX_PREFIX: &[u8] = b"\xfeaudit-outbox\0";

/// The key prefix of audit records (`{table}\0`).
pub(super) const AUDIT_KEY_PREFIX: &[u8] = b"audit\0";

/// One write, as the outbox holds it.
type Write = (Vec<u8>, Option<Vec<u8>>);

/// The audit database and the outbox copies waiting for its flush.
pub(super) struct AuditDb {
    pub(super) db: sled::Db,
    pub(super) tree: sled::Tree,
    /// (outbox key, outbox value) of writes applied to `tree` but not yet known to be on disk.
    waiting: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// The audit database's directory inside the data dir.
pub(super) fn dir_of(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("audit")
}

/// An audit write's copy in the records tree: key and value.
fn outbox_entry((key, value): &Write) -> (Vec<u8>, Vec<u8>) {
    let mut k = OUTBOX_PREFIX.to_vec();
    k.extend_from_slice(key);
    let v = match value {
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(1);
            out.extend_from_slice(v);
            out
        }
        None => vec![0],
    };
    (k, v)
}

fn from_outbox(k: &[u8], v: &[u8]) -> Option<Write> {
    let key = k.strip_prefix(OUTBOX_PREFIX)?.to_vec();
    match v.split_first()? {
        (1, rest) => Some((key, Some(rest.to_vec()))),
        (0, []) => Some((key, None)),
        _ => None,
    }
}

fn apply(tree: &sled::Tree, (key, value): &Write) -> Result<(), sled::Error> {
    match value {
        Some(v) => tree.insert(key.as_slice(), v.as_slice())?,
        None => tree.remove(key.as_slice())?,
    };
    Ok(())
}

impl AuditDb {
    /// Opens the audit database in `dir`, finishes what a crash left in `records`' outbox, and
    /// moves audit records an older data dir kept in `records` over.
    pub(super) fn open(dir: &std::path::Path, cache_bytes: u64, records: &sled::Tree) -> Result<Self, sled::Error> {
        let db = super::open_db(dir, cache_bytes)?;
        let tree = db.open_tree("records")?;
        let audit = AuditDb {
            db,
            tree,
            waiting: Mutex::new(Vec::new()),
        };
        audit.recover(records)?;
        audit.move_over(records)?;
        Ok(audit)
    }

    /// Applies every write still in the outbox (a crash came before the flush that would have
    /// removed it), makes them durable, and empties the outbox.
    fn recover(&self, records: &sled::Tree) -> Result<(), sled::Error> {
        let mut left = Vec::new();
        for kv in records.scan_prefix(OUTBOX_PREFIX) {
            let (k, v) = kv?;
            let write = from_outbox(&k, &v)
                .ok_or_else(|| sled::Error::Unsupported("unreadable audit outbox entry in the data dir".into()))?;
            apply(&self.tree, &write)?;
            left.push(k);
        }
        if left.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            events = left.len(),
            "re-applying audit writes a crash left in the outbox"
        );
        self.db.flush()?;
        for k in left {
            records.remove(k)?;
        }
        Ok(())
    }

    /// Moves audit records kept in the records tree (data dirs from before the split) here.
    /// Copies first and removes after the copy is on disk, so a crash part-way loses nothing.
    fn move_over(&self, records: &sled::Tree) -> Result<(), sled::Error> {
        let mut moved = Vec::new();
        for kv in records.scan_prefix(AUDIT_KEY_PREFIX) {
            let (k, v) = kv?;
            self.tree.insert(&k, v)?;
            moved.push(k);
        }
        if moved.is_empty() {
            return Ok(());
        }
        tracing::info!(events = moved.len(), "moved audit events into their own database");
        self.db.flush()?;
        for k in moved {
            records.remove(k)?;
        }
        Ok(())
    }

    /// Splits a transaction's writes: audit writes are taken out, and a copy of each goes into
    /// the outbox with the rest (so it commits atomically with them). Returns the audit writes.
    pub(super) fn take_audit_writes(writes: &mut std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Vec<Write> {
        let audit_keys: Vec<Vec<u8>> = writes
            .range(AUDIT_KEY_PREFIX.to_vec()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(AUDIT_KEY_PREFIX))
            .cloned()
            .collect();
        let mut taken = Vec::with_capacity(audit_keys.len());
        for k in audit_keys {
            if let Some(v) = writes.remove(&k) {
                let write = (k, v);
                let (ok, ov) = outbox_entry(&write);
                writes.insert(ok, Some(ov));
                taken.push(write);
            }
        }
        taken
    }

    /// Applies audit writes whose outbox copies have committed, and queues the copies for removal
    /// after the next flush.
    pub(super) fn apply_committed(&self, writes: &[Write]) -> Result<(), sled::Error> {
        if writes.is_empty() {
            return Ok(());
        }
        for w in writes {
            apply(&self.tree, w)?;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.extend(writes.iter().map(outbox_entry));
        Ok(())
    }

    /// Whether outbox copies wait for a flush.
    pub(super) fn has_waiting(&self) -> bool {
        !self.waiting.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// Flushes the audit database, then removes the outbox copies that flush covered (each only
    /// if it still holds the same write: a later write of the same key keeps its own copy).
    /// Returns the outbox keys it may have removed from `records`.
    pub(super) fn flush(&self, records: &sled::Tree) -> Result<Vec<Vec<u8>>, sled::Error> {
        let covered = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        if covered.is_empty() {
            return Ok(Vec::new());
        }
        if let Err(e) = self.db.flush() {
            self.waiting.lock().unwrap_or_else(|p| p.into_inner()).extend(covered);
            return Err(e);
        }
        let mut removed = Vec::with_capacity(covered.len());
        for (k, v) in covered {
            // Err(CompareAndSwapError) means another write of the key replaced the copy: keep it.
            let _ = records.compare_and_swap(&k, Some(v), None::<Vec<u8>>)?;
            removed.push(k);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn audit_writes_are_taken_out_and_copied_into_the_outbox() {
        let mut writes = BTreeMap::new();
        writes.insert(b"code\0t/c".to_vec(), Some(b"redeemed".to_vec()));
        writes.insert(b"audit\0t/1".to_vec(), Some(b"event".to_vec()));
        writes.insert(b"audit\0t/0".to_vec(), None);
        writes.insert(b"auth_tx\0t/x".to_vec(), None);
        let taken = AuditDb::take_audit_writes(&mut writes);
        assert_eq!(
            taken,
            vec![
                (b"audit\0t/0".to_vec(), None),
                (b"audit\0t/1".to_vec(), Some(b"event".to_vec()))
            ]
        );
        assert!(writes.keys().all(|k| !k.starts_with(AUDIT_KEY_PREFIX)));
        assert_eq!(writes.len(), 4, "two records and two outbox copies");
        let copies: Vec<Write> = writes
            .iter()
            .filter_map(|(k, v)| from_outbox(k, v.as_deref()?))
            .collect();
        assert_eq!(copies, taken);
    }
}
