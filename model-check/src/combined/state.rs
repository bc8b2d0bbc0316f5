//! What the combined model's actors hold and know, beside the engine's records.

use super::world::Kind;
use crate::store::Fault;
use crate::world::Snapshot;

/// What an authorization request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Req {
    /// `scope=openid`.
    Plain,
    /// `scope=openid email`.
    Email,
    /// `prompt=none`.
    PromptNone,
    /// `max_age=0`.
    MaxAge0,
}

impl Req {
    /// All of them.
    pub const ALL: [Req; 4] = [Req::Plain, Req::Email, Req::PromptNone, Req::MaxAge0];
    /// The scopes it asks for, as a bit set ([`OPENID`], [`EMAIL`]).
    pub fn scopes(self) -> u8 {
        match self {
            Req::Email => OPENID | EMAIL,
            _ => OPENID,
        }
    }
}

/// Scope bit: `openid`.
pub const OPENID: u8 = 1;
/// Scope bit: `email`.
pub const EMAIL: u8 = 2;

/// A scope string as a bit set.
pub fn scope_bits(scope: &str) -> u8 {
    scope.split(' ').fold(0, |b, s| match s {
        "openid" => b | OPENID,
        "email" => b | EMAIL,
        _ => b | 0x80,
    })
}

/// A browser's session at one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sess {
    /// The cookie.
    pub cookie: String,
    /// Which of the user's sessions at the tenant (counts logins).
    pub no: u8,
    /// Model time of the login.
    pub auth_clock: u64,
}

/// The page a browser is on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Page {
    /// The login page of flow `1`, transaction `0`.
    Login(String, usize),
    /// The consent page of flow `1`, transaction `0`, asking scopes `2`.
    Consent(String, usize, u8),
}

/// One user's browser.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Browser {
    /// Its session per tenant.
    pub sessions: [Option<Sess>; 2],
    /// Logins so far per tenant.
    pub logins: [u8; 2],
    /// The page it is on.
    pub page: Option<Page>,
}

/// An authorization request a browser started.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// User.
    pub u: usize,
    /// Tenant.
    pub t: usize,
    /// Client.
    pub k: Kind,
    /// What it asks.
    pub req: Req,
    /// Model time it started.
    pub started: u64,
    /// The user logged in during this flow.
    pub logged_in_here: bool,
}

/// Why the model knows a token must no longer be active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Why {
    /// Its code was presented again.
    Replayed,
    /// A rotated refresh token of its family was presented.
    Reused,
    /// Its client revoked it (or its family's refresh token).
    Revoked,
    /// Its lifetime passed.
    Expired,
    /// The user logged out of its client.
    LoggedOut,
    /// Its user was disabled.
    Disabled,
    /// Its user's consent to its client was revoked.
    ConsentRevoked,
    /// Its client was deactivated.
    ClientOff,
}

/// An issued code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// The code.
    pub value: String,
    /// Its flow.
    pub flow: usize,
    /// The session that approved it.
    pub session: u8,
    /// Successful redemptions.
    pub redeemed: u8,
    /// Its family's latest refresh token (index into the tokens).
    pub latest_rt: Option<usize>,
    /// Tokens it would yield are dead already (its session logged out, its consent revoked).
    pub doomed: Option<Why>,
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokKind {
    /// Access token.
    Access,
    /// Refresh token.
    Refresh,
    /// ID token.
    Id,
}

/// A token the engine issued.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tok {
    /// Access, refresh or ID token.
    pub kind: TokKind,
    /// The token.
    pub value: String,
    /// Tenant.
    pub t: usize,
    /// User.
    pub u: usize,
    /// Client.
    pub k: Kind,
    /// The code its family descends from.
    pub code: usize,
    /// Model time of issue.
    pub issued: u64,
    /// The session behind it.
    pub session: u8,
    /// Set once the model knows it must be inactive.
    pub dead: Option<Why>,
}

/// A request begun at the second instance and not finished.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InFlight {
    /// The request.
    pub action: super::Action,
    /// The records when it began.
    pub began: Snapshot,
    /// Successful redemptions per code when it began.
    pub redeemed: Vec<u8>,
    /// Latest refresh token per code when it began.
    pub latest: Vec<Option<usize>>,
}

/// A broken rule, named by the property that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Broken {
    /// A code yielded tokens twice.
    CodeTwice,
    /// A code yielded tokens to another client or tenant.
    CodeWrongClient,
    /// A code yielded tokens without its flow's verifier.
    Pkce,
    /// A code yielded tokens with another redirect_uri.
    RedirectMismatch,
    /// A token the model knows dead was active.
    DeadActive(Why),
    /// A rotated refresh token was honoured.
    OldRefreshWorked,
    /// A refresh token was honoured for another client.
    RefreshWrongClient,
    /// A code or token carried scopes the user had not approved.
    NoConsent,
    /// A token was honoured by the other tenant.
    OtherTenant,
    /// The browser was sent to an unregistered redirect URI.
    UntrustedRedirect,
    /// The ID token's nonce differs from the request's.
    Nonce,
    /// The ID token's aud, azp, sub or sid does not match the client, user and session.
    IdClaims,
    /// `max_age=0` was answered with a code from an older login.
    MaxAge,
    /// `prompt=none` showed a page.
    PromptNoneUi,
    /// A disabled user obtained a token.
    DisabledUserToken,
    /// A deactivated client obtained a token.
    InactiveClientToken,
    /// A token signed before a key rotation stopped verifying.
    RotationBroke,
}

/// Goals reached (for the `sometimes` properties).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Goal {
    /// The confidential client got tokens.
    AppTokens,
    /// The public client got tokens.
    SpaTokens,
    /// A refresh rotated.
    Rotated,
    /// A remembered consent skipped the consent page.
    RememberedConsent,
    /// `prompt=none` answered with a code.
    SilentCode,
    /// `max_age=0` made a logged-in user log in again.
    StepUp,
    /// RP-initiated logout ended a session.
    LoggedOut,
    /// A key rotation left earlier tokens working.
    RotatedKeyKeptTokens,
    /// A request at the second instance met the other's commit and its retry answered.
    RacedAndRetried,
    /// Both tenants issued tokens.
    BothTenants,
}

/// A fault the second instance may meet.
pub const FAULTS: [Fault; 2] = [Fault::None, Fault::AtCommit];
