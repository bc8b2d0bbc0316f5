//! Operations bodies: signing keys, the audit log, initial access tokens.

use super::Alg;
use engine::admin::KeyInfo;
use engine::audit::AuditEvent;
use poem_openapi::types::Example;
use poem_openapi::Object;

/// A signing key (public facts only).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    // Algorithm.
    pub alg: Alg,
    /// Installed at.
    pub created_at: u64,
    /// Replaced at; still published until its tokens expire.
    pub retired_at: Option<u64>,
    /// Signs new tokens.
    pub active: bool,
}

impl From<KeyInfo> for SigningKey {
    fn from(k: KeyInfo) -> Self {
        SigningKey {
            kid: k.kid,
            alg: k.alg.into(),
            created_at: k.created_at.0,
            retired_at: k.retired_at.map(|t| t.0),
            active: k.retired_at.is_none(),
        }
    }
}

/// An audit event.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct AuditEntry {
    /// Time-ordered id.
    pub id: String,
    /// When (seconds).
    pub at: u64,
    /// When, in nanoseconds since the epoch (0 for events written by versions before it): events
    /// of one instance never tie, and the log lists them in the order they happened.
    pub at_nanos: u64,
    /// `login_succeeded`, `login_failed`, `consent_granted`, `consent_denied`, `token_issued`,
    /// `token_refreshed`, `refresh_reuse_detected`, `token_revoked`, `logout`, `client_registration`,
    /// `admin_change`, `organization_invite`.
    pub kind: String,
    /// Who.
    pub actor: Option<String>,
    /// To what.
    pub subject: Option<String>,
    /// Client involved.
    pub client_id: Option<String>,
    /// Detail.
    pub detail: String,
}

impl From<AuditEvent> for AuditEntry {
    fn from(e: AuditEvent) -> Self {
        AuditEntry {
            id: e.id,
            at: e.at.0,
            at_nanos: e.at_nanos,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            actor: e.actor,
            subject: e.subject,
            client_id: e.client_id,
            detail: e.detail,
        }
    }
}

/// Ask for an initial access token.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InitialAccessTokenInput {
    /// Lifetime in seconds (60 s to 30 days; default 1 day).
    #[oai(validator(minimum(value = "60"), maximum(value = "2592000")))]
    pub expires_in: Option<u64>,
}

/// A single-use initial access token for `POST /{tenant}/register`.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct InitialAccessToken {
    /// Send as `Authorization: Bearer …` to the registration endpoint.
    pub initial_access_token: String,
    /// When it expires (seconds).
    pub expires_at: u64,
}

page!(AuditPage, AuditEntry, "A page of audit events, oldest first.");

impl Example for SigningKey {
    fn example() -> Self {
        SigningKey {
            kid: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into(),
            alg: Alg::RS256,
            created_at: 1_750_000_000,
            retired_at: None,
            active: true,
        }
    }
}

impl Example for AuditEntry {
    fn example() -> Self {
        AuditEntry {
            id: "01750000000123456789-a1b2c3d4".into(),
            at: 1_750_000_000,
            at_nanos: 1_750_000_000_123_456_789,
            kind: "login_succeeded".into(),
            actor: Some("01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()),
            subject: Some("01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into()),
            client_id: Some("partners-portal".into()),
            detail: "sid=k3J9…".into(),
        }
    }
}

impl Example for InitialAccessTokenInput {
    fn example() -> Self {
        InitialAccessTokenInput {
            expires_in: Some(86_400),
        }
    }
}

impl Example for InitialAccessToken {
    fn example() -> Self {
        InitialAccessToken {
            initial_access_token: "Zx8…shown-once".into(),
            expires_at: 1_750_086_400,
        }
    }
}
