//! Storage: a transactional key-value interface over typed records.
//!
//! The engine never sees a storage product. A `Store` runs a closure inside one
//! serializable transaction; the closure may be run again on conflict, so it must
//! only touch the world through its `Tx` (draw randomness before, not inside).

#[doc(hidden)]
pub mod contract_check;
mod decoded;
pub mod expiry;
mod mem;
#[doc(hidden)]
pub mod paging_check;

pub use decoded::DecodedCache;
pub use mem::MemStore;

use crate::error::{EngineError, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The record families (one keyspace each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Tenants by slug.
    Tenant,
    /// Clients by (tenant, client_id).
    Client,
    /// Users by (tenant, user id).
    User,
    /// Username / email → user id, by tenant.
    UserIndex,
    /// Browser sessions by (tenant, hash of session token).
    Session,
    /// Pending authorization requests by (tenant, hash of transaction id).
    AuthTransaction,
    /// Authorization codes by (tenant, hash of code).
    Code,
    /// Grants (token families) by (tenant, grant id).
    Grant,
    /// Refresh tokens by (tenant, hash of token).
    RefreshToken,
    /// Access tokens by (tenant, jti).
    AccessToken,
    /// Remembered consent by (tenant, user, client).
    Consent,
    /// Grant ids by (tenant, user, client), for logout.
    UserClientGrants,
    /// Signing keys by tenant.
    SigningKeys,
    /// Client assertion jtis seen, by (tenant, client, jti).
    AssertionJti,
    /// Organizations inside a tenant, by (tenant, organization id).
    Organization,
    /// Organization id → tenant.
    OrganizationIndex,
    /// Audit events by (tenant, time-ordered id).
    Audit,
    /// Initial access tokens for dynamic registration, by (tenant, hash of token).
    InitialAccessToken,
    /// The expiry index: which record may be dead by when (`expiry`).
    Expiry,
}

impl Table {
    /// Every table, for stores that lay them out up front.
    pub const ALL: [Table; 19] = [
        Table::Tenant,
        Table::Client,
        Table::User,
        Table::UserIndex,
        Table::Session,
        Table::AuthTransaction,
        Table::Code,
        Table::Grant,
        Table::RefreshToken,
        Table::AccessToken,
        Table::Consent,
        Table::UserClientGrants,
        Table::SigningKeys,
        Table::AssertionJti,
        Table::Organization,
        Table::OrganizationIndex,
        Table::Audit,
        Table::InitialAccessToken,
        Table::Expiry,
    ];

    /// A short stable name, usable as a key prefix or tree name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Tenant => "tenant",
            Table::Client => "client",
            Table::User => "user",
            Table::UserIndex => "user_index",
            Table::Session => "session",
            Table::AuthTransaction => "auth_tx",
            Table::Code => "code",
            Table::Grant => "grant",
            Table::RefreshToken => "refresh_token",
            Table::AccessToken => "access_token",
            Table::Consent => "consent",
            Table::UserClientGrants => "user_client_grants",
            Table::SigningKeys => "signing_keys",
            Table::AssertionJti => "assertion_jti",
            Table::Organization => "organization",
            Table::OrganizationIndex => "organization_index",
            Table::Audit => "audit",
            Table::InitialAccessToken => "initial_access_token",
            Table::Expiry => "expiry",
        }
    }
}

/// One transaction's view of the store.
pub trait Tx {
    /// Reads a value.
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a value (visible to later reads of this transaction, durable on commit).
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes a value.
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError>;
    /// Declares that losing this transaction's writes in a crash breaks no promise (a code not
    /// yet redeemed, a pending login, a client-credentials token record), so the answer need
    /// not wait for them to reach the disk. By default every write is durable before the
    /// caller answers; single-use and rotation writes never call this.
    fn relax_durability(&mut self) {}
    /// Whether the store behind this transaction keeps the expiry index
    /// ([`Store::keeps_expiry_index`]): when it does not, [`expiry::note`] writes nothing.
    fn keeps_expiry_index(&self) -> bool {
        true
    }
}

/// A transactional store of records.
pub trait Store: Send + Sync {
    /// Runs `f` in one serializable transaction: all its writes commit together if it
    /// returns `Ok`, none if it returns `Err`. `f` may run more than once.
    // RELIABILITY-concurrency
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>;

    /// Every (key, value) of `table` whose key starts with `prefix`, outside any transaction.
    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// At most `limit` (key, value) of `table` under `prefix` whose key sorts after `after`, in
    /// key order, outside any transaction: a table read a page at a time, in bounded memory.
    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Whether the store keeps the expiry index (`expiry`). One that does not drops the
    /// entries written to [`Table::Expiry`] (reads there find nothing), and the purge reads
    /// every record of the tables it purges instead: the trade for a store whose files and
    /// memory grow with the index's time-ordered keys (sled 0.34, `bench/profile-notes.md`).
    fn keeps_expiry_index(&self) -> bool {
        true
    }
}

/// Calls `f` with each page (at most `page` records) of `table` under `prefix`, in key order.
pub fn for_each_page<S: Store + ?Sized>(
    store: &S,
    table: Table,
    prefix: &str,
    page: usize,
    mut f: impl FnMut(&[(String, Vec<u8>)]) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let mut after: Option<String> = None;
    loop {
        let items = store.scan_after(table, prefix, after.as_deref(), page)?;
        f(&items)?;
        match items.last() {
            Some((key, _)) if items.len() == page => advance(table, &mut after, key)?,
            _ => return Ok(()),
        }
    }
}

/// Moves a paged scan's cursor to `key`, refusing a store whose `scan_after` went backwards or
/// stood still (it would page forever).
fn advance(table: Table, after: &mut Option<String>, key: &str) -> Result<(), EngineError> {
    if after.as_deref().is_some_and(|a| key <= a) {
        return Err(EngineError::Storage(StoreError(format!(
            "a paged scan of {} did not move past {key:?}",
            table.name()
        ))));
    }
    *after = Some(key.to_string());
    Ok(())
}

/// A typed record living in one table.
pub trait Record: Serialize + DeserializeOwned {
    /// Its table.
    const TABLE: Table;
    /// When the record may be dead, for records the background purge removes: `save` notes it
    /// in the expiry index. It may be early (the purge then checks again later), never late.
    fn purge_at(&self) -> Option<crate::env::UnixTime> {
        None
    }
}

/// Reads and decodes a record.
pub fn load<R: Record>(tx: &mut dyn Tx, key: &str) -> Result<Option<R>, EngineError> {
    match tx.get(R::TABLE, key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| EngineError::Storage(StoreError(format!("corrupt {} record: {e}", R::TABLE.name())))),
    }
}

/// Encodes and writes a record, and notes when it may be purged (`Record::purge_at`).
pub fn save<R: Record>(tx: &mut dyn Tx, key: &str, record: &R) -> Result<(), EngineError> {
    resave(tx, key, record)?;
    if let Some(at) = record.purge_at() {
        expiry::note(tx, at, R::TABLE, key)?;
    }
    Ok(())
}

/// Writes a record again under the key it was saved under, with the same `purge_at`: the
/// expiry entry of its first save still stands, so none is written (one write fewer where a
/// state flips: a code redeemed, a session ended, a token or grant revoked).
pub fn resave<R: Record>(tx: &mut dyn Tx, key: &str, record: &R) -> Result<(), EngineError> {
    let bytes = serde_json::to_vec(record).map_err(|e| EngineError::Misuse(format!("encode: {e}")))?;
    tx.put(R::TABLE, key, bytes)?;
    Ok(())
}

/// Decodes a scanned value.
pub fn decode<R: Record>(bytes: &[u8]) -> Result<R, EngineError> {
    serde_json::from_slice(bytes)
        .map_err(|e| EngineError::Storage(StoreError(format!("corrupt {} record: {e}", R::TABLE.name()))))
}

/// One page of a listing: the items and the cursor of the next page, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// Items in key order.
    pub items: Vec<T>,
    /// Pass back as `after` to get the next page.
    pub next_cursor: Option<String>,
}

/// Lists `R` records under `prefix` in key order: at most `limit` (1..=200) after `cursor`.
/// The cursor is the (encoded) last key returned, so pages stay stable while records change.
pub fn list_page<S: Store, R: Record>(
    store: &S,
    prefix: &str,
    cursor: Option<&str>,
    limit: usize,
    keep: impl Fn(&R) -> bool,
) -> Result<Page<R>, EngineError> {
    let after = match cursor {
        None => None,
        Some(c) => Some(
            crate::secret::b64url_decode(c)
                .and_then(|k| String::from_utf8(k).ok())
                .ok_or_else(|| crate::error::err(spec::ErrorCode::InvalidRequest, "invalid cursor"))?,
        ),
    };
    let limit = limit.clamp(1, 200);
    let mut items = Vec::new();
    let mut last: Option<String> = None;
    let mut after = after;
    loop {
        let batch = store.scan_after(R::TABLE, prefix, after.as_deref(), limit + 1)?;
        for (key, bytes) in &batch {
            let record = decode::<R>(bytes)?;
            if !keep(&record) {
                continue;
            }
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next_cursor: last.map(|k| crate::secret::b64url(k.as_bytes())),
                });
            }
            items.push(record);
            last = Some(key.clone());
        }
        match batch.last() {
            Some((key, _)) if batch.len() == limit + 1 => advance(R::TABLE, &mut after, key)?,
            _ => {
                return Ok(Page {
                    items,
                    next_cursor: None,
                })
            }
        }
    }
}
