//! Browser sessions: active → ended.

pub mod logout;

use crate::env::UnixTime;
use crate::error::Result;
use crate::secret::SecretHash;
use crate::store::{load, Record, Table, Tx};
use crate::user::UserRecord;
use serde::{Deserialize, Serialize};

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionState {
    /// Logged in.
    Active,
    /// Logged out (RP-initiated logout or replaced by a new login).
    Ended,
}

/// A browser session, stored under the hash of its cookie token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Owning tenant.
    pub tenant: String,
    /// The logged-in user.
    pub user_id: String,
    /// Public session id (`sid` claim).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// How (`pwd`).
    pub amr: Vec<String>,
    /// When the session stops being valid.
    pub expires_at: UnixTime,
    /// Lifecycle state.
    pub state: SessionState,
    /// Clients that received a code in this session (told by back-channel logout when it ends).
    #[serde(default)]
    pub clients: Vec<String>,
    /// An authenticator app being set up from the account page, until its first code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_totp: Option<crate::mfa::PendingTotp>,
}

impl Record for SessionRecord {
    const TABLE: Table = Table::Session;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
    /// Whoever reads a session reads its user next ([`load_live`]).
    fn links(&self) -> Vec<(Table, String)> {
        vec![(Table::User, UserRecord::key(&self.tenant, &self.user_id))]
    }
}

impl SessionRecord {
    /// Store key for the session whose cookie token is `token`.
    pub fn key(tenant: &str, token: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(token).0)
    }
}

/// A live session and its (enabled) user.
pub struct LiveSession {
    /// The session's store key.
    pub key: String,
    /// The session.
    pub record: SessionRecord,
    /// Its user.
    pub user: UserRecord,
}

/// Loads the session behind `token` if it is active, unexpired, and its user exists and is enabled.
pub fn load_live(tx: &mut dyn Tx, tenant: &str, token: Option<&str>, now: UnixTime) -> Result<Option<LiveSession>> {
    let Some(token) = token else { return Ok(None) };
    let key = SessionRecord::key(tenant, token);
    let Some(record) = load::<SessionRecord>(tx, &key)? else {
        return Ok(None);
    };
    if record.state != SessionState::Active || record.expires_at <= now || record.tenant != tenant {
        return Ok(None);
    }
    let Some(user) = load::<UserRecord>(tx, &UserRecord::key(tenant, &record.user_id))? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    Ok(Some(LiveSession { key, record, user }))
}
