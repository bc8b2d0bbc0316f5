//! The size the records database's files had after its last compaction: what the online
//! compaction measures growth against (`online_compact`).
//!
//! It is kept in the database's default tree (the records live in the `records` tree), so it
//! survives a restart and belongs to its generation: a new generation holds none until its
//! compaction has switched to it and written its size. Without it, a process had to read every
//! record once to estimate it, on the first check past the floor after each start.
//!
//! The value is a hint, written without a flush of its own: if a crash loses it, the next check
//! estimates it again, once.

/// The key in the default tree.
pub(super) const KEY: &[u8] = b"compacted-bytes";

/// The recorded size (`None`: none recorded, or not a size).
pub(super) fn read(db: &sled::Db) -> Result<Option<u64>, sled::Error> {
    Ok(db
        .get(KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes))
}

/// Records `bytes` as the size after the last compaction.
pub(super) fn write(db: &sled::Db, bytes: u64) -> Result<(), sled::Error> {
    db.insert(KEY, &bytes.to_be_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_reads_back_and_anything_else_is_none() {
        let root = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(root.path()).open().unwrap();
        assert_eq!(read(&db).unwrap(), None);
        write(&db, 73_400_320).unwrap();
        assert_eq!(read(&db).unwrap(), Some(73_400_320));
        db.insert(KEY, b"12345").unwrap();
        assert_eq!(read(&db).unwrap(), None, "not eight bytes");
        assert!(
            db.open_tree("records").unwrap().is_empty(),
            "the records tree is not touched"
        );
    }
}
