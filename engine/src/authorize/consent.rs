//! Remembered consent per (user, client): the scopes the user approved.

use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The scopes a user has approved for a client.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// Approved scopes.
    pub scopes: BTreeSet<String>,
}

impl Record for ConsentRecord {
    const TABLE: Table = Table::Consent;
}

impl ConsentRecord {
    /// Store key.
    pub fn key(tenant: &str, user_id: &str, client_id: &str) -> String {
        format!("{tenant}/{user_id}/{client_id}")
    }

    /// The requested scopes not yet approved.
    pub fn missing<'a>(&self, requested: &'a [String]) -> Vec<&'a String> {
        requested.iter().filter(|s| !self.scopes.contains(*s)).collect()
    }
}
