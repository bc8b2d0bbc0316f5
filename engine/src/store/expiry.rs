//! What the purge goes through: the tables whose records can die, and the marker saying the store
//! keeps an expiry time with every one of them.
//!
//! [`save`](super::save) hands each record's [`Record::purge_at`](super::Record::purge_at) to the
//! store with the record (`Tx::put_expiring`); refresh tokens, which carry no time of their own,
//! get their family's refresh expiry from `grant::save_refresh_token`, the one place they are
//! written. The purge asks the store for what is due (`Store::expired`).
//!
//! The rule the purge relies on: every record that can die has an expiry time at or before the
//! time it dies. A time may be early (the purge finds the record alive and writes it again with
//! its real deadline). A record with no time at all would stay for ever, so a store written by a
//! version that kept its expiry index in the engine (or none) is gone through whole once, and
//! then marked ([`MARKER`]).

use super::Table;

/// In [`Table::Expiry`]: every record of the [`PURGED`] tables that can die has its expiry time
/// kept by the store. (Distinct from the marker of the engine-kept index older versions wrote.)
pub const MARKER: &str = "~expiry-kept-by-store";

/// The tables the purge goes through.
pub const PURGED: [Table; 9] = [
    Table::AuthTransaction,
    Table::Code,
    Table::Session,
    Table::AccessToken,
    Table::AssertionJti,
    Table::InitialAccessToken,
    Table::Grant,
    Table::RefreshToken,
    Table::PushedRequest,
];
