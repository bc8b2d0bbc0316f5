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
    /// The user's second factor: after the password of a new sign-in (`session_key` is `None`),
    /// or to raise a signed-in session to two factors (its store key).
    AwaitingSecondFactor {
        /// Who.
        user_id: String,
        /// The session being raised, if any.
        session_key: Option<String>,
        /// Wrong codes entered so far.
        failures: u32,
    },
    /// A user without a second factor who needs one: the authenticator app being set up.
    AwaitingEnrolment {
        /// Who.
        user_id: String,
        /// The session being raised, if any.
        session_key: Option<String>,
        /// The new secret, sealed (this record's key and `totp` as its place).
        secret: crate::sealing::Sealed,
        /// Wrong codes entered so far.
        failures: u32,
    },
    /// Signed in with a newly enrolled app: the recovery codes were shown once; the request
    /// goes on when the user continues from the browser of this session.
    AwaitingContinue {
        /// Store key of the session.
        session_key: String,
    },
}

impl AwaitingStep {
    /// The store key of the session that must answer the consent page, when consent is awaited.
    pub fn consent_session(&self) -> Option<&str> {
        match self {
            AwaitingStep::AwaitingConsent { session_key, .. } => Some(session_key),
            _ => None,
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
