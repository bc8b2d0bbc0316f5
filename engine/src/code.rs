//! Authorization codes: issued → redeemed; a second redemption is a replay.

use crate::env::UnixTime;
use crate::secret::SecretHash;
use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};

/// Where a code is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeState {
    /// Waiting to be exchanged.
    Issued,
    /// Exchanged once; the grant it produced.
    Redeemed {
        /// Grant (token family) created by the exchange.
        grant_id: String,
    },
}

/// An authorization code, stored under its hash, bound to everything the exchange must check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Owning tenant.
    pub tenant: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who authorized it.
    pub user_id: String,
    /// The redirect_uri of the authorization request.
    pub redirect_uri: String,
    /// The S256 challenge, if one was sent.
    pub code_challenge: Option<String>,
    /// The nonce for the ID token.
    pub nonce: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Session id.
    pub sid: String,
    /// Store key of the browser session that authorized it (ended session: code refused).
    pub session_key: String,
    /// Individual claims asked for with the `claims` parameter.
    #[serde(default)]
    pub claims: crate::claims_request::RequestedClaims,
    /// When the code was issued.
    pub issued_at: UnixTime,
    /// Expiry (issue + code TTL).
    pub expires_at: UnixTime,
    /// Lifecycle state.
    pub state: CodeState,
}

impl Record for CodeRecord {
    const TABLE: Table = Table::Code;
}

impl CodeRecord {
    /// Store key of the code `code`.
    pub fn key(tenant: &str, code: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(code).0)
    }
}
