//! Authorization codes: issued → redeemed; a second redemption is a replay.

use crate::env::UnixTime;
use crate::secret::SecretHash;
use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};

/// How long after its expiry a code is still kept, to recognise a replay (and revoke what the
/// code issued) instead of answering as for an unknown code.
pub const CODE_REPLAY_GRACE_SECS: u64 = 600;

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
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub redirect_uri: String,
    /// The S256 challenge, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// The nonce for the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Granted scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Authentication methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Session id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    /// Store key of the browser session that authorized it (ended session: code refused).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_key: String,
    /// Individual claims asked for with the `claims` parameter.
    #[serde(
        default,
        skip_serializing_if = "crate::authorize::claims_request::RequestedClaims::is_empty"
    )]
    pub claims: crate::authorize::claims_request::RequestedClaims,
    /// The DPoP key the code is bound to (RFC 9449 §10): its redemption must be proven with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The (user, client) epoch when it was issued: a revocation of the pair since (logout,
    /// consent withdrawn, user disabled) kills the code too. Absent in records written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// When the code was issued.
    pub issued_at: UnixTime,
    /// Expiry (issue + code TTL).
    pub expires_at: UnixTime,
    /// Lifecycle state.
    pub state: CodeState,
}

impl Record for CodeRecord {
    const TABLE: Table = Table::Code;
    fn purge_at(&self) -> Option<UnixTime> {
        Some(self.expires_at.plus(CODE_REPLAY_GRACE_SECS))
    }
    /// Its redemption reads the session, the user and the pair's epoch next; a replay, the grant
    /// it produced.
    fn links(&self) -> Vec<(Table, String)> {
        match &self.state {
            CodeState::Redeemed { grant_id } => {
                vec![(
                    Table::Grant,
                    crate::token::grant::GrantRecord::key(&self.tenant, grant_id),
                )]
            }
            _ => vec![
                (Table::Session, self.session_key.clone()),
                (Table::User, crate::user::UserRecord::key(&self.tenant, &self.user_id)),
                (
                    Table::UserClientGrants,
                    crate::token::grant::UserClientEpochRecord::key(&self.tenant, &self.user_id, &self.client_id),
                ),
            ],
        }
    }
}

impl CodeRecord {
    /// What is kept of a code once redeemed, until the purge: enough to recognise a replay and
    /// revoke the grant it produced (RFC 6749 §4.1.2), and when it may go. Everything the
    /// exchange needed (redirect_uri, PKCE challenge, nonce, scopes, session) is dropped, so the
    /// ten minutes a redeemed code is kept cost a fraction of the bytes.
    pub fn redeemed(&self, grant_id: String) -> CodeRecord {
        CodeRecord {
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            user_id: self.user_id.clone(),
            redirect_uri: String::new(),
            code_challenge: None,
            nonce: None,
            scopes: Vec::new(),
            auth_time: self.auth_time,
            amr: Vec::new(),
            sid: String::new(),
            session_key: String::new(),
            claims: Default::default(),
            dpop_jkt: None,
            epoch: None,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            state: CodeState::Redeemed { grant_id },
        }
    }

    /// Store key of the code `code`.
    pub fn key(tenant: &str, code: &str) -> String {
        format!("{tenant}/{}", SecretHash::of(code).0)
    }
}
