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
pub mod retry;

pub use decoded::DecodedCache;
pub use mem::MemStore;

use crate::env::UnixTime;
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
    /// The engine's notes about the store itself: the marker that every record the purge deletes
    /// has its expiry time kept by the store (`expiry::MARKER`). (Older versions kept an expiry
    /// index here; the first purge of a store they wrote removes it.)
    Expiry,
    /// Pushed authorization requests (RFC 9126), by (tenant, hash of the request_uri).
    PushedRequest,
}

impl Table {
    /// Every table, for stores that lay them out up front.
    pub const ALL: [Table; 20] = [
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
        Table::PushedRequest,
    ];

    /// The tables a record of this one may point to ([`Record::links`]): what a store that pays a
    /// round trip per read fetches along with it.
    pub fn links_to(self) -> &'static [Table] {
        match self {
            Table::Code => &[Table::Session, Table::User, Table::UserClientGrants, Table::Grant],
            Table::RefreshToken => &[Table::Grant, Table::User, Table::UserClientGrants],
            Table::Session => &[Table::User],
            Table::UserIndex => &[Table::User],
            Table::AccessToken => &[
                Table::SigningKeys,
                Table::Client,
                Table::Grant,
                Table::User,
                Table::UserClientGrants,
            ],
            _ => &[],
        }
    }

    /// The table named `name` ([`Table::name`]).
    pub fn named(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

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
            Table::PushedRequest => "pushed_request",
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
    /// Writes a record the purge may delete once `at` has passed: the store keeps `at` with it (an
    /// index entry, a column, a header), and [`Store::expired`] names the key from then on. A
    /// plain `put` of the key, or its `delete`, forgets `at`; `get` and the scans return `value`
    /// as given.
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, at: UnixTime) -> Result<(), StoreError>;
    /// Writes a record that points to others (`links`: their tables, among
    /// [`Table::links_to`], and keys), with its purge time `at` as [`Tx::put_expiring`] takes
    /// it. A store that pays a round trip per read (PostgreSQL) keeps the links with the record
    /// and, whenever it reads the record, reads the records it points to in the same round trip.
    /// The others ignore them: reads return the same either way.
    fn put_linked(
        &mut self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        at: Option<UnixTime>,
        _links: &[(Table, String)],
    ) -> Result<(), StoreError> {
        match at {
            Some(at) => self.put_expiring(table, key, value, at),
            None => self.put(table, key, value),
        }
    }
    /// Declares that losing this transaction's writes in a crash breaks no promise (a code not
    /// yet redeemed, a pending login, a client-credentials token record), so the answer need
    /// not wait for them to reach the disk. By default every write is durable before the
    /// caller answers; single-use and rotation writes never call this.
    fn relax_durability(&mut self) {}
    /// A hint: these records are about to be read. A store that pays a round trip per read
    /// (PostgreSQL) fetches them in one; the others ignore it. Reads return the same either way.
    fn prefetch(&mut self, _keys: &[(Table, &str)]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// One page of [`Store::expired`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpiredPage {
    /// Keys whose expiry time (`Tx::put_expiring`) is before the time asked about.
    pub keys: Vec<String>,
    /// Pass back as `after` for the next page; `None`: none left.
    pub next: Option<String>,
    /// Records or index entries the store read for this page (what the purge costs).
    pub read: usize,
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

    /// At most `limit` keys of `table` whose expiry time is before `now`, outside any transaction,
    /// from where the page `after` names (`None`: the start): how the purge finds what may be
    /// dead. Each store answers it its own way: by an index in time order where it keeps one
    /// (redb, PostgreSQL, `MemStore`), by reading the table where an index costs more than it
    /// saves (sled). The purge deletes each key it is given or writes it again with a later time,
    /// so a store may name a key again on a later page or call, never skip one that is due.
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError>;
}

/// A borrowed store is a store (several engines over one store: tests, tools).
impl<S: Store> Store for &S {
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        (**self).transact(f)
    }
    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        (**self).scan(table, prefix)
    }
    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        (**self).scan_after(table, prefix, after, limit)
    }
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        (**self).expired(table, now, after, limit)
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
    /// When the record may be dead, for records the background purge removes: `save` hands it to
    /// the store with the record (`Tx::put_expiring`). It may be early (the purge then checks
    /// again later), never late.
    fn purge_at(&self) -> Option<UnixTime> {
        None
    }
    /// The records this one points to and that whoever reads it reads next (tables among
    /// [`Table::links_to`] of its table), so a store can fetch them together ([`Tx::put_linked`]).
    fn links(&self) -> Vec<(Table, String)> {
        Vec::new()
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

/// Encodes and writes a record, with when it may be purged (`Record::purge_at`) and the records
/// it points to (`Record::links`).
pub fn save<R: Record>(tx: &mut dyn Tx, key: &str, record: &R) -> Result<(), EngineError> {
    write(tx, key, record, record.purge_at())
}

/// Encodes and writes a record the purge may delete after `at` (for records whose time is not
/// their own: a refresh token lives as long as its family).
pub fn save_expiring<R: Record>(tx: &mut dyn Tx, key: &str, record: &R, at: UnixTime) -> Result<(), EngineError> {
    write(tx, key, record, Some(at))
}

fn write<R: Record>(tx: &mut dyn Tx, key: &str, record: &R, at: Option<UnixTime>) -> Result<(), EngineError> {
    let value = encode(record)?;
    let links = record.links();
    debug_assert!(links.iter().all(|(t, _)| R::TABLE.links_to().contains(t)));
    let written = match (links.is_empty(), at) {
        (false, _) => tx.put_linked(R::TABLE, key, value, at, &links),
        (true, Some(at)) => tx.put_expiring(R::TABLE, key, value, at),
        (true, None) => tx.put(R::TABLE, key, value),
    };
    Ok(written?)
}

fn encode<R: Record>(record: &R) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec(record).map_err(|e| EngineError::Misuse(format!("encode: {e}")))
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
