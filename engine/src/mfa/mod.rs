//! Second factors: TOTP (RFC 6238) and recovery codes; the tenant's policy for them; and what a
//! session records of them, the methods (`amr`, RFC 8176) and the level (`acr`) it reached. The
//! second-factor steps of a sign-in are `authorize::second_factor`; the user's own page is `account`.

pub mod account;
pub mod policy;
pub mod recovery;
pub mod totp;

pub use policy::{AcrRequest, FactorDue, Level, SecondFactorPolicy};

use crate::env::UnixTime;
use crate::sealing::Sealed;
use crate::secret::SecretHash;
use serde::{Deserialize, Serialize};

/// `acr` of a session that used one factor (a password).
pub const ACR_ONE_FACTOR: &str = "1";
/// `acr` of a session that used two factors (a password and a one-time code).
pub const ACR_TWO_FACTORS: &str = "2";
/// The `acr` values this provider asserts (discovery's `acr_values_supported`).
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_ONE_FACTOR, ACR_TWO_FACTORS];

/// RFC 8176 method values a session records.
pub mod amr {
    /// Password.
    pub const PWD: &str = "pwd";
    /// One-time password (TOTP or a recovery code).
    pub const OTP: &str = "otp";
    /// More than one factor.
    pub const MFA: &str = "mfa";
}

/// The `acr` a session with methods `amr` reached.
// OIDC-CORE-2-acr
pub fn acr_of(amr: &[String]) -> &'static str {
    match Level::of(amr) {
        Level::OneFactor => ACR_ONE_FACTOR,
        Level::TwoFactors => ACR_TWO_FACTORS,
    }
}

/// A user's second factors, kept in the user record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondFactors {
    /// The authenticator app, once enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpFactor>,
    /// Unused recovery codes, hashed (each works once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<SecretHash>,
}

impl SecondFactors {
    /// Whether nothing is enrolled.
    pub fn is_empty(&self) -> bool {
        self.totp.is_none() && self.recovery_codes.is_empty()
    }

    /// Whether the user can pass a second factor (an authenticator app is enrolled).
    pub fn enrolled(&self) -> bool {
        self.totp.is_some()
    }
}

/// An enrolled authenticator app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpFactor {
    /// The shared secret, sealed under the system secret (the record's key and `totp` as its place).
    pub secret: Sealed,
    /// The last time step whose code was accepted: a code is accepted once (RFC 6238 §5.2).
    pub last_step: u64,
    /// When it was enrolled.
    pub enrolled_at: UnixTime,
}

/// A new authenticator app's secret, as the user's app takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The secret, base32 (typed by hand).
    pub secret: String,
    /// The `otpauth://` URI (shown as a QR code).
    pub uri: String,
}

/// An authenticator app being set up from the account page, kept in the session until its
/// first code arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTotp {
    /// The secret, sealed (the session's key and `totp` as its place).
    pub secret: Sealed,
}

/// Which second factor a code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorKind {
    /// A TOTP code from the authenticator app.
    Totp,
    /// A recovery code.
    RecoveryCode,
}
