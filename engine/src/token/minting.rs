//! Token minting: what goes into access tokens (RFC 9068) and ID tokens (OIDC Core §2).
//! Claims are decided inside the store transaction; signing happens after it commits.

use crate::client::ClientRecord;
use crate::env::UnixTime;
use crate::jose::{self, SigningKey};
use crate::secret::b64url;
use crate::user::{scope_claims, UserRecord};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256, Sha384};
use spec::vocabulary::scopes;
use spec::SigningAlg;
use std::sync::Arc;

/// The token endpoint's success response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// JWT access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the request's DPoP key.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
    /// Granted scope.
    pub scope: String,
    /// ID token, when `openid` was granted to a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Refresh token, when the client's policy issues one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// Who the tokens are about.
pub struct Subject<'a> {
    /// The user, or `None` for client credentials (sub = client_id).
    pub user: Option<&'a UserRecord>,
    /// Login time.
    pub auth_time: Option<UnixTime>,
    /// Session id.
    pub sid: Option<&'a str>,
    /// Authentication methods.
    pub amr: &'a [String],
}

/// Everything decided about a token response: the access token (signed, as its record needs
/// its hash) and the ID token still to sign.
pub struct TokenPlan {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) subject: String,
    pub(crate) id: Option<(Arc<SigningKey>, Map<String, Value>)>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
}

/// The access token's claims.
pub fn access_claims(
    iss: &str,
    client: &ClientRecord,
    subject: &Subject<'_>,
    granted: &[String],
    jti: &str,
    audience: &[String],
    now: UnixTime,
) -> Map<String, Value> {
    let sub = subject.user.map_or(client.client_id.as_str(), |u| u.id.as_str());
    let mut c = Map::new();
    c.insert("iss".into(), json!(iss));
    c.insert("sub".into(), json!(sub));
    match audience {
        [one] => c.insert("aud".into(), json!(one)),
        many => c.insert("aud".into(), json!(many)),
    };
    c.insert("client_id".into(), json!(client.client_id));
    c.insert("scope".into(), json!(granted.join(" ")));
    c.insert("jti".into(), json!(jti));
    c.insert("iat".into(), json!(now.0));
    c.insert("exp".into(), json!(now.0 + client.access_token_ttl));
    c.insert("token_type".into(), json!("access_token"));
    c.insert("application".into(), json!(client.name));
    if let Some(t) = subject.auth_time {
        c.insert("auth_time".into(), json!(t.0));
    }
    if let Some(user) = subject.user {
        let org: Vec<String> = granted
            .iter()
            .filter(|s| *s == scopes::ORGANIZATION || *s == scopes::PERMISSIONS)
            .cloned()
            .collect();
        c.extend(scope_claims(user, &org));
    }
    c
}

/// The ID token's claims, without at_hash (added when the access token exists).
// OIDC-CORE-2-id-token-claims
pub fn id_claims(
    iss: &str,
    client: &ClientRecord,
    subject: &Subject<'_>,
    user: &UserRecord,
    granted: &[String],
    nonce: Option<&str>,
    now: UnixTime,
) -> Map<String, Value> {
    let mut c = scope_claims(user, granted);
    c.insert("iss".into(), json!(iss));
    c.insert("sub".into(), json!(user.id));
    c.insert("aud".into(), json!(client.client_id));
    c.insert("azp".into(), json!(client.client_id));
    c.insert("iat".into(), json!(now.0));
    c.insert("exp".into(), json!(now.0 + client.id_token_ttl));
    if let Some(t) = subject.auth_time {
        c.insert("auth_time".into(), json!(t.0));
    }
    if let Some(sid) = subject.sid {
        c.insert("sid".into(), json!(sid));
    }
    if !subject.amr.is_empty() {
        c.insert("amr".into(), json!(subject.amr));
        // OIDC-CORE-2-acr
        c.insert("acr".into(), json!(crate::mfa::acr_of(subject.amr)));
    }
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    c
}

/// at_hash: base64url of the left half of the hash of the access token (hash size per alg).
// OIDC-CORE-3.1.3.6-at-hash
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    match alg {
        SigningAlg::ES384 => {
            let d = Sha384::digest(access_token.as_bytes());
            b64url(&d[..24])
        }
        SigningAlg::RS256 | SigningAlg::ES256 => {
            let d = Sha256::digest(access_token.as_bytes());
            b64url(&d[..16])
        }
    }
}

impl TokenPlan {
    /// `DPoP` for a token bound to a key, else `Bearer`.
    // RFC9449-5-token-type
    pub(crate) fn token_type_for(jkt: Option<&str>) -> &'static str {
        if jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }

    /// Signs the planned ID token and assembles the response.
    pub fn sign(self) -> TokenResponse {
        let access_token = self.access_token;
        let id_token = self.id.map(|(key, mut claims)| {
            claims.insert("at_hash".into(), json!(at_hash(key.alg(), &access_token)));
            jose::encode(&key, "JWT", &claims)
        });
        TokenResponse {
            access_token,
            token_type: self.token_type,
            expires_in: self.expires_in,
            scope: self.scope,
            id_token,
            refresh_token: self.refresh_token,
        }
    }
}
