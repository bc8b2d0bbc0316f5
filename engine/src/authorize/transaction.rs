//! A pending authorization request: awaiting login → awaiting consent → (code issued | denied).
//! The record is deleted when the request ends, so a transaction completes at most once.

use super::request::ValidatedRequest;
use crate::env::UnixTime;
use crate::secret::SecretHash;
use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};

/// What the pending request waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AwaitingStep {
    /// The user to log in.
    AwaitingLogin,
    /// The logged-in user (of this session) to approve or deny the scopes.
    AwaitingConsent {
        /// Store key of the session that must answer.
        session_key: String,
        /// Scopes shown on the consent page.
        scopes: Vec<String>,
    },
}

impl AwaitingStep {
    /// The store key of the session that must answer the consent page, when consent is awaited.
    pub fn consent_session(&self) -> Option<&str> {
        match self {
            AwaitingStep::AwaitingConsent { session_key, .. } => Some(session_key),
            AwaitingStep::AwaitingLogin => None,
        }
    }
}

/// A pending authorization request, stored under the hash of its transaction id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthTransactionRecord {
    /// Owning tenant.
    pub tenant: String,
    /// The validated request.
    pub request: ValidatedRequest,
    /// Abandoned after this.
    pub expires_at: UnixTime,
    /// What it waits for.
    pub step: AwaitingStep,
}

impl Record for AuthTransactionRecord {
    const TABLE: Table = Table::AuthTransaction;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
}

impl AuthTransactionRecord {
    /// Store key of transaction id `id`.
    pub fn key(tenant: &str, id: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(id).0)
    }
}
