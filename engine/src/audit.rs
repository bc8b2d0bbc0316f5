//! The per-tenant audit log: what happened, to whom, by whom, when.
//!
//! Events are written inside the transaction of the action they record, so an action and its
//! event commit together. Their keys are drawn before the transaction (it may be retried), from the
//! engine's [`AuditClock`]: the log reads back in the order events were drawn.

use crate::env::{Env, UnixTime};
use crate::error::Result;
use crate::secret::hex;
use crate::store::{save, Record, Table, Tx};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A user logged in.
    LoginSucceeded,
    /// A login was refused (wrong password, unknown or disabled user).
    LoginFailed,
    /// A user approved scopes for a client.
    ConsentGranted,
    /// A user denied a client.
    ConsentDenied,
    /// Tokens were issued (authorization code or client credentials).
    TokenIssued,
    /// A refresh token was rotated.
    TokenRefreshed,
    /// A rotated refresh token was presented again; its family was revoked.
    RefreshReuseDetected,
    /// A client revoked a token.
    TokenRevoked,
    /// A user logged out.
    Logout,
    /// A client registered itself (RFC 7591) or managed its registration (RFC 7592).
    ClientRegistration,
    /// An administrator changed something.
    AdminChange,
    /// A user was invited into an organization, or an app's invite was refused.
    OrganizationInvite,
    /// An invited user followed their activation link and set a password.
    AccountActivated,
    /// A user passed their second factor (a TOTP or recovery code).
    SecondFactorPassed,
    /// A wrong second-factor code was entered.
    SecondFactorFailed,
    /// A user enrolled an authenticator app (and got recovery codes).
    SecondFactorEnrolled,
    /// A user's second factors were removed or reset.
    SecondFactorRemoved,
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Time-ordered id, unique within the tenant.
    pub id: String,
    /// When.
    pub at: UnixTime,
    /// When, in nanoseconds since the epoch: strictly increasing within one engine (0 on events
    /// written before it was kept).
    #[serde(default)]
    pub at_nanos: u64,
    /// What.
    pub kind: AuditKind,
    /// Who did it: a user id, a client id, or `admin:{client_id}`.
    pub actor: Option<String>,
    /// What it was done to: a user id, a username attempted, a client id, a resource path.
    pub subject: Option<String>,
    /// The client involved.
    pub client_id: Option<String>,
    /// Short detail, e.g. `grant_type=refresh_token` or `PATCH clients/web`.
    pub detail: String,
}

impl Record for AuditEvent {
    const TABLE: Table = Table::Audit;
}

/// The time and id of an event to be written by a transaction, drawn before it.
#[derive(Clone, Debug)]
pub struct AuditStamp {
    at: UnixTime,
    nanos: u64,
    id: String,
}

/// Hands out audit instants: the caller's clock in nanoseconds, raised past the last one handed
/// out, so one engine's events never tie and sort in the order they were drawn.
#[derive(Debug, Default)]
pub struct AuditClock(AtomicU64);

impl AuditClock {
    /// The next instant at or after `nanos`, later than every one before.
    fn next(&self, nanos: u64) -> u64 {
        let mut last = self.0.load(Ordering::Relaxed);
        loop {
            let next = nanos.max(last.saturating_add(1));
            match self
                .0
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Draws a stamp. Ids are the instant (20 digits, so they sort as numbers; ids of the older
    /// whole-second format, 12 digits, sort before them) and random bytes that keep ids written by
    /// several instances at the same nanosecond apart.
    pub fn draw(&self, env: &mut Env<'_>) -> AuditStamp {
        let nanos = self.next(env.nanos);
        let r: [u8; 4] = env.random_bytes();
        AuditStamp {
            at: UnixTime(nanos / 1_000_000_000),
            nanos,
            id: format!("{nanos:020}-{}", hex(&r)),
        }
    }
}

impl AuditStamp {
    /// An event with this stamp.
    pub fn event(&self, kind: AuditKind, detail: impl Into<String>) -> AuditEvent {
        AuditEvent {
            id: self.id.clone(),
            at: self.at,
            at_nanos: self.nanos,
            kind,
            actor: None,
            subject: None,
            client_id: None,
            detail: detail.into(),
        }
    }
}

impl AuditEvent {
    /// Sets the actor.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    /// Sets the client.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
    /// Store key.
    pub fn key(tenant: &str, id: &str) -> String {
        format!("{tenant}/{id}")
    }
}

/// Writes `event` into `tenant`'s log (when `enabled`; models switch it off to keep states small).
pub(crate) fn write(tx: &mut dyn Tx, enabled: bool, tenant: &str, event: &AuditEvent) -> Result<()> {
    if enabled {
        save(tx, &AuditEvent::key(tenant, &event.id), event)?;
    }
    Ok(())
}
