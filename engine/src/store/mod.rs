//! Storage: a transactional key-value interface over typed records.
//!
//! The engine never sees a storage product. A `Store` runs a closure inside one
//! serializable transaction; the closure may be run again on conflict, so it must
//! only touch the world through its `Tx` (draw randomness before, not inside).

mod mem;

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
}

impl Table {
    /// Every table, for stores that lay them out up front.
    pub const ALL: [Table; 14] = [
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
}

/// A transactional store of records.
pub trait Store: Send + Sync {
    /// Runs `f` in one serializable transaction: all its writes commit together if it
    /// returns `Ok`, none if it returns `Err`. `f` may run more than once.
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>;

    /// Every (key, value) of `table` whose key starts with `prefix`, outside any transaction.
    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
}

/// A typed record living in one table.
pub trait Record: Serialize + DeserializeOwned {
    /// Its table.
    const TABLE: Table;
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

/// Encodes and writes a record.
pub fn save<R: Record>(tx: &mut dyn Tx, key: &str, record: &R) -> Result<(), EngineError> {
    let bytes = serde_json::to_vec(record).map_err(|e| EngineError::Misuse(format!("encode: {e}")))?;
    tx.put(R::TABLE, key, bytes)?;
    Ok(())
}

/// Decodes a scanned value.
pub fn decode<R: Record>(bytes: &[u8]) -> Result<R, EngineError> {
    serde_json::from_slice(bytes)
        .map_err(|e| EngineError::Storage(StoreError(format!("corrupt {} record: {e}", R::TABLE.name()))))
}
