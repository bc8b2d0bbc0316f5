//! The expiry index: which record may be dead by when, so a purge reads what expired instead of
//! every record of every table it purges.
//!
//! One entry per (time, table, key), keyed `{time:020}/{table}/{key}` in [`Table::Expiry`] with
//! an empty value, so the table sorts by time. [`save`](super::save) writes one for every record
//! whose [`Record::purge_at`](super::Record::purge_at) is set; refresh tokens, which carry no
//! time of their own, are noted by `grant::save_refresh_token`, the one place they are written.
//!
//! The rule the purge relies on: every record that can die has an entry at or before the time
//! it dies. An entry may be early (the purge finds the record alive and moves the entry to its
//! real deadline), stale (the record was extended: it has a later entry too) or dangling (the
//! record is gone: the entry goes). A record with no entry at all would stay for ever, so a
//! store written before this index existed is indexed whole once ([`BACKFILLED`]).

use super::{Table, Tx};
use crate::env::UnixTime;
use crate::error::StoreError;

/// Marks a store whose records written before the index existed have entries too. Sorts after
/// every entry (entries start with a digit), so a scan in time order never reaches it.
pub const BACKFILLED: &str = "~backfilled";

/// The tables whose records the index covers, by the name their entries carry. Grants come
/// before refresh tokens: a purge without the index reads them in this order, and judges a
/// refresh token by the family its scan of grants found alive.
pub const INDEXED: [Table; 8] = [
    Table::AuthTransaction,
    Table::Code,
    Table::Session,
    Table::AccessToken,
    Table::AssertionJti,
    Table::InitialAccessToken,
    Table::Grant,
    Table::RefreshToken,
];

/// The key of the entry saying `table`'s `key` may be dead after `at`.
pub fn entry_key(at: UnixTime, table: Table, key: &str) -> String {
    format!("{:020}/{}/{key}", at.0, table.name())
}

/// Notes that `table`'s `key` may be dead after `at`; nothing on a store that keeps no index
/// ([`Tx::keeps_expiry_index`]), so its saves format no entry.
pub fn note(tx: &mut dyn Tx, at: UnixTime, table: Table, key: &str) -> Result<(), StoreError> {
    if !tx.keeps_expiry_index() {
        return Ok(());
    }
    tx.put(Table::Expiry, &entry_key(at, table, key), Vec::new())
}

/// One entry, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// When the record may be dead.
    pub at: UnixTime,
    /// Its table.
    pub table: Table,
    /// Its key.
    pub key: &'a str,
}

/// Reads an entry's key; `None` for anything else (the marker, a table not indexed, garbage).
pub fn parse(entry: &str) -> Option<Entry<'_>> {
    let (at, rest) = entry.split_once('/')?;
    if at.len() != 20 || !at.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (name, key) = rest.split_once('/')?;
    let table = INDEXED.into_iter().find(|t| t.name() == name)?;
    Some(Entry {
        at: UnixTime(at.parse().ok()?),
        table,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sort_by_time_and_read_back() {
        let keys = [
            entry_key(UnixTime(u64::MAX), Table::Code, "t/x"),
            entry_key(UnixTime(99), Table::Session, "t/b"),
            entry_key(UnixTime(100), Table::Grant, "t/a/b"),
            BACKFILLED.to_string(),
        ];
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, [&keys[1], &keys[2], &keys[0], &keys[3]].map(|k| k.clone()));
        assert_eq!(
            parse(&keys[2]),
            Some(Entry {
                at: UnixTime(100),
                table: Table::Grant,
                key: "t/a/b"
            })
        );
        assert_eq!(parse(&keys[0]).map(|e| e.at), Some(UnixTime(u64::MAX)));
        for other in [
            BACKFILLED,
            "00000000000000000100/user/t/a",
            "100/code/t/x",
            "0000000000000000010x/code/t",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
