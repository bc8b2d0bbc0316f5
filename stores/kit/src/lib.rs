//! What every store crate shares: group commit (a flush thread that makes a batch of committed
//! writes durable before their requests answer) and the figures a store reports about itself.

pub mod expiry_in_value;
mod flusher;

use engine::error::StoreError;
use engine::store::{Store, Table};
pub use flusher::{Flush, FlushStats, Flusher, Ticket};

/// What the server does with a store besides its transactions: its durability, its upkeep and
/// its figures. Every store crate implements it; the server names no store beyond opening one.
pub trait Lifecycle: Store {
    /// The group-commit handle: an engine call runs inside its `track`, and the caller awaits
    /// the ticket before answering.
    fn flusher(&self) -> &Flusher;
    /// Puts everything on disk (at shutdown).
    fn flush(&self) -> Result<(), StoreError>;
    /// Upkeep the server runs in the background after each purge, logging what it did (sled
    /// compacts its records database online once its files have grown; others need none).
    fn maintain(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records and bytes per table, and the files' size (for `store-stats` and metrics).
    fn stats(&self) -> Result<StoreStats, StoreError>;
    /// Whether the store can answer now (`/healthz`): a database that cannot be reached says why.
    fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Where the server runs engine calls over this store (`EngineCalls`).
    fn engine_calls(&self) -> EngineCalls {
        EngineCalls::Inline
    }
}

/// Where the server's one engine boundary runs an engine call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineCalls {
    /// On the async worker that awaits it: for a store whose transactions answer from memory and
    /// leave their disk waits to the flush thread (the embedded stores). Measured on 2 cores, the
    /// blocking pool's two thread hand-offs per call cost 15–55 % of the throughput
    /// (`docs/performance.md`).
    Inline,
    /// On the blocking pool: for a store whose transactions wait on something slow (a network
    /// round trip), which would otherwise stall every request sharing the worker.
    BlockingPool,
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
