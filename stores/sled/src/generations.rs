//! Where the records database lives in a data dir, and how an online compaction's copy takes
//! its place.
//!
//! A data dir starts with the records database in the dir itself (sled's `conf`, `db`, `blobs/`,
//! `snap.*`; the layout every earlier version wrote) and audit events in `audit/`. Each online
//! compaction copies the live records into a new generation, `records.{n}/`, and then names it
//! in `records.current`, written to a temporary file, synced and renamed over the old one: that
//! rename is the switch. A crash before it leaves the old generation current (the unfinished
//! copy is removed at the next open); a crash after it leaves the new one current (the old files
//! are removed at the next open).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file naming the current generation (absent: the records database is the dir itself).
const POINTER: &str = "records.current";
/// The pointer's next value, until it is renamed over [`POINTER`].
const POINTER_NEXT: &str = "records.current.next";
/// What sled 0.34 keeps in a database's dir (`config.rs`, `snapshot.rs`).
const SLED_FILES: [&str; 3] = ["conf", "db", "blobs"];

/// The generation a records database is: 0 in the data dir itself, `n` in `records.{n}/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Generation(pub(super) u64);

impl Generation {
    /// Its directory inside `data_dir`.
    pub(super) fn dir(self, data_dir: &Path) -> PathBuf {
        match self.0 {
            0 => data_dir.to_path_buf(),
            n => data_dir.join(format!("records.{n}")),
        }
    }

    /// The one an online compaction copies into next.
    pub(super) fn next(self) -> Generation {
        Generation(self.0 + 1)
    }
}

/// Whether `data_dir` holds a sled store (in either layout).
pub(crate) fn holds_data(data_dir: &Path) -> bool {
    data_dir.join("conf").exists() || data_dir.join(POINTER).exists()
}

/// The current generation, as `records.current` names it.
pub(super) fn current(data_dir: &Path) -> std::io::Result<Generation> {
    let text = match std::fs::read_to_string(data_dir.join(POINTER)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Generation(0)),
        Err(e) => return Err(e),
    };
    text.trim()
        .strip_prefix("records.")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map(Generation)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not name a records generation: {text:?}",
                    data_dir.join(POINTER).display()
                ),
            )
        })
}

/// Makes `generation` the current one: the pointer is written beside, synced, renamed over the
/// old one and the rename synced with the dir. Everything in the generation must be on disk first.
pub(super) fn switch_to(data_dir: &Path, generation: Generation) -> std::io::Result<()> {
    let next = data_dir.join(POINTER_NEXT);
    {
        let mut f = std::fs::File::create(&next)?;
        writeln!(f, "records.{}", generation.0)?;
        f.sync_all()?;
    }
    std::fs::rename(&next, data_dir.join(POINTER))?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Removes every records database of `data_dir` but `current`'s: older generations, copies a
/// crash interrupted, and the first layout's files once a generation has replaced them. The audit
/// database (`audit/`) is not touched.
pub(super) fn remove_all_but(data_dir: &Path, current: Generation) -> std::io::Result<()> {
    let _ = std::fs::remove_file(data_dir.join(POINTER_NEXT));
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let generation = name
            .strip_prefix("records.")
            .and_then(|n| n.parse::<u64>().ok())
            .map(Generation);
        let stale = match generation {
            Some(g) => g != current,
            None => current.0 > 0 && (SLED_FILES.contains(&name.as_ref()) || name.starts_with("snap.")),
        };
        if !stale {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_names_the_current_generation_and_the_rest_goes() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        assert!(!holds_data(dir));
        assert_eq!(current(dir).unwrap(), Generation(0));
        assert_eq!(Generation(0).dir(dir), dir);
        for f in ["conf", "db", "snap.00000000000000A1"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        std::fs::create_dir_all(dir.join("blobs")).unwrap();
        std::fs::create_dir_all(dir.join("audit")).unwrap();
        assert!(holds_data(dir));
        // Generation 0 current: the first layout's files stay, an unfinished copy goes.
        std::fs::create_dir_all(Generation(1).dir(dir)).unwrap();
        remove_all_but(dir, Generation(0)).unwrap();
        assert!(dir.join("db").exists() && dir.join("blobs").exists() && !dir.join("records.1").exists());

        std::fs::create_dir_all(Generation(2).dir(dir)).unwrap();
        switch_to(dir, Generation(2)).unwrap();
        assert_eq!(current(dir).unwrap(), Generation(2));
        std::fs::create_dir_all(Generation(3).dir(dir)).unwrap();
        remove_all_but(dir, Generation(2)).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["audit", "records.2", "records.current"]);
        assert!(holds_data(dir));
        assert_eq!(Generation(2).next().dir(dir), dir.join("records.3"));

        std::fs::write(dir.join(POINTER), "records.0\n").unwrap();
        assert!(current(dir).is_err(), "generation 0 is never named");
        std::fs::write(dir.join(POINTER), "../elsewhere\n").unwrap();
        assert!(current(dir).is_err());
    }
}
