//! What every store crate shares: group commit (a flush thread that makes a batch of committed
//! writes durable before their requests answer) and the figures a store reports about itself.

mod flusher;

use engine::store::Table;
pub use flusher::{Flush, FlushStats, Flusher};

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
