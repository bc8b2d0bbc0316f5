//! Offline compaction of a data dir: both databases copied, checked and swapped in.

use super::audit_db;
use engine::error::StoreError;
use std::path::Path;
use store_kit::Compacted;

/// The page cache of each database `compact` opens: sled's own default, 1 GiB (the server is
/// stopped, and the copy reads every page once).
const COPY_CACHE_BYTES: u64 = 1024 * 1024 * 1024;

/// Where `compact` puts the old files while it swaps the new ones in: `{dir}.before-compact`.
pub fn set_aside(dir: &Path) -> std::path::PathBuf {
    beside(dir, ".before-compact")
}

/// `{dir}{suffix}`, next to `dir`.
fn beside(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// Rewrites the (stopped) server's data dir with only its live records: sled 0.34 appends every
/// write to its log and gives the space of dead ones back slowly, so a busy store's files keep
/// growing while what it holds stays flat. The store is opened once (finishing what a crash left),
/// then every tree of both databases is copied into `{dir}.compacting`, flushed, checked (same
/// CRC32 of all keys and values), and swapped in; the old files are removed last.
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
    if !super::holds_data(dir) {
        return Err(StoreError(format!("no sled data in {}", dir.display())));
    }
    // `.`, `data/..` and the like have no name to put a sibling beside.
    let dir = &dir.canonicalize().map_err(io)?;
    let fresh_dir = beside(dir, ".compacting");
    if fresh_dir.exists() {
        // A copy an earlier run did not finish: the old dir was not touched, start again.
        std::fs::remove_dir_all(&fresh_dir).map_err(io)?;
    }
    // Finishes an interrupted commit and the audit outbox, so the copies need not know of them.
    drop(super::SledStore::open(dir).map_err(err)?);
    // The copy holds the records database in the dir itself, whichever generation it was in.
    let records_dir = super::generations::current(dir).map_err(io)?.dir(dir);
    let (records_before, records) = copy_checked(&records_dir, &fresh_dir)?;
    let (audit_before, audit) = copy_checked(&audit_db::dir_of(dir), &audit_db::dir_of(&fresh_dir))?;
    std::fs::rename(dir, set_aside(dir)).map_err(io)?;
    std::fs::rename(&fresh_dir, dir).map_err(io)?;
    std::fs::remove_dir_all(set_aside(dir)).map_err(io)?;
    let size = |d: &Path| super::open_db(d, COPY_CACHE_BYTES).and_then(|db| db.size_on_disk());
    // The copied baseline was the old files'; the online compaction measures from these.
    let records_after = super::open_db(dir, COPY_CACHE_BYTES)
        .and_then(|db| {
            let bytes = db.size_on_disk()?;
            super::baseline::write(&db, bytes)?;
            db.flush()?;
            Ok(bytes)
        })
        .map_err(err)?;
    Ok(Compacted {
        before_bytes: records_before + audit_before,
        after_bytes: records_after + size(&audit_db::dir_of(dir)).map_err(err)?,
        entries: records + audit,
    })
}

/// Copies every tree of the database in `from` into a new one in `to`, flushes it and compares
/// checksums. Returns the old files' size and the entries copied.
fn copy_checked(from: &Path, to: &Path) -> Result<(u64, u64), StoreError> {
    let err = |e: sled::Error| StoreError(e.to_string());
    let old = super::open_db(from, COPY_CACHE_BYTES).map_err(err)?;
    let fresh = super::open_db(to, COPY_CACHE_BYTES).map_err(err)?;
    let mut entries = 0;
    for name in old.tree_names() {
        let (src, dst) = (old.open_tree(&name).map_err(err)?, fresh.open_tree(&name).map_err(err)?);
        for kv in src.iter() {
            let (k, v) = kv.map_err(err)?;
            dst.insert(k, v).map_err(err)?;
            entries += 1;
        }
    }
    fresh.flush().map_err(err)?;
    if old.checksum().map_err(err)? != fresh.checksum().map_err(err)? {
        return Err(StoreError(format!(
            "the copy of {}'s checksum differs from the original; nothing was changed",
            from.display()
        )));
    }
    Ok((old.size_on_disk().map_err(err)?, entries))
}
