//! Grants: the token family one authorization (or one client-credentials call) produced.
//!
//! Lifecycle: active (refresh generation n) → rotated to n+1 → … ; revoked on replay of its
//! code, on reuse of a rotated refresh token, on revocation, or on logout. Access tokens
//! belong to a grant and die with it.

use crate::env::UnixTime;
use crate::error::Result;
use crate::secret::SecretHash;
use crate::store::{load, save, Record, Table, Tx};
use serde::{Deserialize, Serialize};

/// Why a grant was revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RevocationReason {
    /// Its authorization code was presented again.
    CodeReplay,
    /// A rotated refresh token of the family was presented again.
    RefreshReuse,
    /// The client revoked it (RFC 7009).
    ClientRevoked,
    /// The user logged out of the client, or an administrator ended the user's sessions.
    Logout,
    /// An administrator disabled or deleted the user.
    UserDisabled,
    /// The user's consent to the client was revoked.
    ConsentRevoked,
}

/// Whether the family is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantState {
    /// Tokens of this family may be used.
    Active,
    /// No token of this family is accepted any more.
    Revoked(RevocationReason),
}

/// The refresh side of a family: which generation is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshState {
    /// The only generation that may be presented (earlier ones are reuse).
    pub generation: u32,
    /// When the current refresh token expires.
    pub expires_at: UnixTime,
}

/// A token family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Identifier.
    pub grant_id: String,
    /// The client the tokens were issued to.
    pub client_id: String,
    /// The user (subject).
    pub user_id: String,
    /// Granted scopes (refresh may narrow, never widen).
    pub scopes: Vec<String>,
    /// Session id of the login.
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// How the user authenticated.
    pub amr: Vec<String>,
    /// Alive or revoked.
    pub state: GrantState,
    /// Refresh token generation, when the family has refresh tokens.
    pub refresh: Option<RefreshState>,
}

impl Record for GrantRecord {
    const TABLE: Table = Table::Grant;
}

impl GrantRecord {
    /// Store key.
    pub fn key(tenant: &str, grant_id: &str) -> String {
        format!("{tenant}/{grant_id}")
    }
}

/// A refresh token, stored under its hash: which family and generation it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Family.
    pub grant_id: String,
    /// Generation within the family.
    pub generation: u32,
}

impl Record for RefreshTokenRecord {
    const TABLE: Table = Table::RefreshToken;
}

impl RefreshTokenRecord {
    /// Store key of refresh token `token`.
    pub fn key(tenant: &str, token: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(token).0)
    }
}

/// An issued access token, by jti: its own revocation flag and its family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Family (none for client credentials).
    pub grant_id: Option<String>,
    /// Expiry.
    pub expires_at: UnixTime,
    /// Revoked on its own (RFC 7009).
    pub revoked: bool,
}

impl Record for AccessTokenRecord {
    const TABLE: Table = Table::AccessToken;
}

impl AccessTokenRecord {
    /// Store key.
    pub fn key(tenant: &str, jti: &str) -> String {
        format!("{tenant}/{jti}")
    }
}

/// The grant ids of one (user, client), so logout can revoke them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClientGrantsRecord {
    /// Grant ids, oldest first.
    pub grant_ids: Vec<String>,
}

impl Record for UserClientGrantsRecord {
    const TABLE: Table = Table::UserClientGrants;
}

impl UserClientGrantsRecord {
    /// Store key.
    pub fn key(tenant: &str, user_id: &str, client_id: &str) -> String {
        format!("{tenant}/{user_id}/{client_id}")
    }
}

/// Marks a grant revoked (idempotent; the first reason is kept).
pub fn revoke(tx: &mut dyn Tx, tenant: &str, grant_id: &str, reason: RevocationReason) -> Result<()> {
    let key = GrantRecord::key(tenant, grant_id);
    if let Some(mut g) = load::<GrantRecord>(tx, &key)? {
        if g.state == GrantState::Active {
            g.state = GrantState::Revoked(reason);
            save(tx, &key, &g)?;
        }
    }
    Ok(())
}

/// Records `grant_id` under its (user, client), dropping ids of grants already revoked.
pub fn index_for_user(tx: &mut dyn Tx, tenant: &str, user_id: &str, client_id: &str, grant_id: &str) -> Result<()> {
    let key = UserClientGrantsRecord::key(tenant, user_id, client_id);
    let mut idx = load::<UserClientGrantsRecord>(tx, &key)?.unwrap_or_default();
    let mut kept = Vec::with_capacity(idx.grant_ids.len() + 1);
    for id in idx.grant_ids.drain(..) {
        if load::<GrantRecord>(tx, &GrantRecord::key(tenant, &id))?.is_some_and(|g| g.state == GrantState::Active) {
            kept.push(id);
        }
    }
    kept.push(grant_id.to_string());
    idx.grant_ids = kept;
    save(tx, &key, &idx)
}

/// Revokes every grant of (user, client).
pub fn revoke_for_user(
    tx: &mut dyn Tx,
    tenant: &str,
    user_id: &str,
    client_id: &str,
    reason: RevocationReason,
) -> Result<()> {
    let key = UserClientGrantsRecord::key(tenant, user_id, client_id);
    if let Some(idx) = load::<UserClientGrantsRecord>(tx, &key)? {
        for id in &idx.grant_ids {
            revoke(tx, tenant, id, reason)?;
        }
        tx.delete(Table::UserClientGrants, &key)?;
    }
    Ok(())
}
