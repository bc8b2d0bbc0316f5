//! Grants: the token family one authorization (or one client-credentials call) produced.
//!
//! Lifecycle: active (refresh generation n) → rotated to n+1 → … ; revoked on replay of its
//! code, on reuse of a rotated refresh token, or on revocation. Access tokens belong to a grant
//! and die with it.
//!
//! Logout, consent withdrawal and disabling a user end *every* grant of a (user, client) at once
//! by bumping that pair's epoch: a grant is alive only while the epoch it was created under is
//! current. So creating a grant and ending them all are single writes, however many families a
//! user has (one index listing every grant made each new grant cost O(families)).

use crate::env::UnixTime;
use crate::error::Result;
use crate::secret::SecretHash;
use crate::store::{load, save, save_expiring, Record, Table, Tx};
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
    /// The (user, client) epoch it was created under.
    #[serde(default)]
    pub epoch: u64,
    /// Individual claims asked for with the `claims` parameter.
    #[serde(default)]
    pub claims: crate::authorize::claims_request::RequestedClaims,
    /// For a family without refresh tokens: when the access token its code bought expires, after
    /// which nothing can use the family. (Families written before this field are kept.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_until: Option<UnixTime>,
    /// For a public client that used DPoP: the key its refresh tokens are bound to (RFC 9449 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

impl Record for GrantRecord {
    const TABLE: Table = Table::Grant;
    /// A family with refresh tokens expires through them (each refresh token's time stands for
    /// its family, which the purge deletes with its last token); one without, when its access
    /// token expires.
    fn purge_at(&self) -> Option<UnixTime> {
        match self.refresh {
            Some(_) => None,
            None => self.tokens_until,
        }
    }
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
    /// The family's user and client, so a refresh can fetch the family, the user and the pair's
    /// epoch in one go (absent in records written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<(String, String)>,
}

impl Record for RefreshTokenRecord {
    const TABLE: Table = Table::RefreshToken;
    /// A refresh reads the family, the user and the pair's epoch next.
    fn links(&self) -> Vec<(Table, String)> {
        let mut links = vec![(Table::Grant, GrantRecord::key(&self.tenant, &self.grant_id))];
        if let Some((user, client)) = &self.holder {
            links.push((Table::User, crate::user::UserRecord::key(&self.tenant, user)));
            links.push((
                Table::UserClientGrants,
                UserClientEpochRecord::key(&self.tenant, user, client),
            ));
        }
        links
    }
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
    /// The family's user, so a check of the token fetches the family, the user and the pair's
    /// epoch in one go (absent for client credentials, and in records written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Expiry.
    pub expires_at: UnixTime,
    /// Revoked on its own (RFC 7009).
    pub revoked: bool,
    /// SHA-256 of the whole token as issued: a presented token whose hash matches is ours
    /// without verifying its signature again.
    #[serde(default)]
    pub token_hash: Option<SecretHash>,
    /// The DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6): it is accepted only with a
    /// proof from that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl Record for AccessTokenRecord {
    const TABLE: Table = Table::AccessToken;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at)
    }
    /// A check of the token (userinfo, introspection) reads the keys that signed it, its client,
    /// and for a user's token the family, the user and the pair's epoch.
    fn links(&self) -> Vec<(Table, String)> {
        let t = &self.tenant;
        let mut links = vec![
            (Table::SigningKeys, t.clone()),
            (Table::Client, crate::client::ClientRecord::key(t, &self.client_id)),
        ];
        if let Some(grant_id) = &self.grant_id {
            links.push((Table::Grant, GrantRecord::key(t, grant_id)));
        }
        if let Some(user) = &self.user_id {
            links.push((Table::User, crate::user::UserRecord::key(t, user)));
            links.push((
                Table::UserClientGrants,
                UserClientEpochRecord::key(t, user, &self.client_id),
            ));
        }
        links
    }
}

impl AccessTokenRecord {
    /// Store key.
    pub fn key(tenant: &str, jti: &str) -> String {
        format!("{tenant}/{jti}")
    }
}

/// The epoch of one (user, client): grants made under an earlier epoch are dead. The record
/// exists once the pair has had a grant, so a user's clients can be listed by key prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClientEpochRecord {
    /// Current epoch.
    #[serde(default)]
    pub epoch: u64,
}

impl Record for UserClientEpochRecord {
    const TABLE: Table = Table::UserClientGrants;
}

impl UserClientEpochRecord {
    /// Store key.
    pub fn key(tenant: &str, user_id: &str, client_id: &str) -> String {
        format!("{tenant}/{user_id}/{client_id}")
    }
}

/// Writes `token` as the current refresh token of `family` (the generation its refresh state
/// names), expiring at the family's refresh expiry: refresh tokens stand for their family in the
/// purge (`GrantRecord::purge_at`). A family without refresh state gets none.
pub fn save_refresh_token(tx: &mut dyn Tx, family: &GrantRecord, token: &str) -> Result<()> {
    let Some(refresh) = family.refresh else {
        return Ok(());
    };
    let key = RefreshTokenRecord::key(&family.tenant, token);
    let record = RefreshTokenRecord {
        tenant: family.tenant.clone(),
        grant_id: family.grant_id.clone(),
        generation: refresh.generation,
        holder: Some((family.user_id.clone(), family.client_id.clone())),
    };
    save_expiring(tx, &key, &record, refresh.expires_at)
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

/// The epoch a new grant of (user, client) is created under (recording the pair on first use).
pub fn epoch_for_new_grant(tx: &mut dyn Tx, tenant: &str, user_id: &str, client_id: &str) -> Result<u64> {
    let key = UserClientEpochRecord::key(tenant, user_id, client_id);
    match load::<UserClientEpochRecord>(tx, &key)? {
        Some(r) => Ok(r.epoch),
        None => {
            save(tx, &key, &UserClientEpochRecord::default())?;
            Ok(0)
        }
    }
}

/// The current epoch of (user, client), read only.
pub fn current_epoch(tx: &mut dyn Tx, tenant: &str, user_id: &str, client_id: &str) -> Result<u64> {
    let key = UserClientEpochRecord::key(tenant, user_id, client_id);
    Ok(load::<UserClientEpochRecord>(tx, &key)?.unwrap_or_default().epoch)
}

/// Whether `grant` is alive: not revoked on its own, and its (user, client) epoch still current.
pub fn is_alive(tx: &mut dyn Tx, grant: &GrantRecord) -> Result<bool> {
    if grant.state != GrantState::Active {
        return Ok(false);
    }
    let key = UserClientEpochRecord::key(&grant.tenant, &grant.user_id, &grant.client_id);
    let current = load::<UserClientEpochRecord>(tx, &key)?.unwrap_or_default().epoch;
    Ok(current == grant.epoch)
}

/// Ends every grant of (user, client) made so far (one write: the pair's epoch moves on).
/// `reason` is what the caller records in the audit log; grants are not rewritten one by one.
pub fn revoke_for_user(
    tx: &mut dyn Tx,
    tenant: &str,
    user_id: &str,
    client_id: &str,
    _reason: RevocationReason,
) -> Result<()> {
    let key = UserClientEpochRecord::key(tenant, user_id, client_id);
    let mut rec = load::<UserClientEpochRecord>(tx, &key)?.unwrap_or_default();
    rec.epoch += 1;
    save(tx, &key, &rec)
}
