//! The signed-in user's own second factors (the account page): turn two-step sign-in on with an
//! authenticator app, make new recovery codes, turn it off where the tenant allows.
//!
//! Every action needs a live session of the tenant; changing or removing an existing app needs
//! a session that passed it (two factors), so a stolen one-factor cookie cannot take the app off.

use super::{amr, recovery, totp, Enrolment, Level, PendingTotp, SecondFactorPolicy, TotpFactor};
use crate::audit::AuditKind;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{EngineError, ProtocolError, Result};
use crate::sealing::{record_aad, Drawn};
use crate::session::{load_live, LiveSession};
use crate::store::{load, save, Store, Table, Tx};
use crate::tenant::TenantRecord;
use crate::user::UserRecord;

/// What the account page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPage {
    /// Who is signed in (username).
    pub username: String,
    /// The tenant's policy.
    pub policy: SecondFactorPolicy,
    /// When the app was set up, if it is.
    pub totp_enrolled_at: Option<UnixTime>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// The session passed two factors (it may change them).
    pub two_factor_session: bool,
    /// An app being set up: its key and link, waiting for its first code.
    pub setting_up: Option<Enrolment>,
    /// The result of the last action, or why it was refused.
    pub message: Option<Notice>,
    /// New recovery codes, shown once.
    pub new_codes: Vec<String>,
}

/// The result of an action, shown on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What to say.
    pub text: &'static str,
    /// Whether the action was refused.
    pub refused: bool,
}

impl Notice {
    fn done(text: &'static str) -> Self {
        Notice { text, refused: false }
    }
    fn refused(text: &'static str) -> Self {
        Notice { text, refused: true }
    }
}

/// What the account page can ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountAction {
    /// Show the page.
    View,
    /// Begin setting up an app: a new secret, shown as a QR code and a key.
    StartTotp,
    /// The app's first code: the app becomes the second factor, with ten recovery codes.
    ConfirmTotp(String),
    /// Make ten new recovery codes (the old ones stop working).
    NewRecoveryCodes,
    /// Turn two-step sign-in off: the app and the recovery codes are removed.
    RemoveTotp,
}

/// The account page's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountOutcome {
    /// The page.
    Page(AccountPage),
    /// No live session: sign in through an application first.
    SignInFirst,
    /// The store failed.
    ErrorPage(ProtocolError),
}

fn pending_aad(session_key: &str) -> Vec<u8> {
    record_aad(Table::Session, session_key, "totp")
}

impl<S: Store> Engine<S> {
    /// Handles the account page of the browser whose session cookie is `session`.
    pub fn handle_account(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        session: Option<&str>,
        action: AccountAction,
    ) -> AccountOutcome {
        let audit = self.audit_clock.draw(env);
        let secret: [u8; totp::SECRET_LEN] = env.random_bytes();
        let nonce: [u8; 12] = env.random_bytes();
        let (codes, hashes) = recovery::generate(env);
        let now = env.now;
        let out = self.store.transact(|tx| {
            let Some(mut live) = load_live(tx, tenant, session, now)? else {
                return Ok(AccountOutcome::SignInFirst);
            };
            let policy = load::<TenantRecord>(tx, tenant)?
                .map(|t| t.second_factor)
                .unwrap_or_default();
            let user_key = UserRecord::key(tenant, &live.user.id);
            let two_factors = Level::of(&live.record.amr) == Level::TwoFactors;
            let enrolled = live.user.second_factors.enrolled();
            let mut message = None;
            let mut new_codes = Vec::new();
            let mut event = None;
            match &action {
                AccountAction::View => {}
                AccountAction::StartTotp if enrolled => {
                    message = Some(Notice::refused("An authenticator app is already set up."))
                }
                AccountAction::StartTotp if policy == SecondFactorPolicy::PasswordOnly => {
                    message = Some(Notice::refused("Two-step sign-in is not offered here."))
                }
                AccountAction::StartTotp => {
                    let sealed = self
                        .keys
                        .sealer()
                        .seal(&mut Drawn(&nonce), &pending_aad(&live.key), &secret);
                    live.record.pending_totp = Some(PendingTotp { secret: sealed });
                    save(tx, &live.key, &live.record)?;
                }
                // Never replaces an app set up meanwhile (in a sign-in elsewhere).
                AccountAction::ConfirmTotp(_) if enrolled => {
                    message = Some(Notice::refused("An authenticator app is already set up."))
                }
                AccountAction::ConfirmTotp(code) => match self.pending_secret(&live)? {
                    None => message = Some(Notice::refused("Start again: no app is being set up.")),
                    Some(secret) => match totp::accept(&secret, code, now, 0) {
                        None => message = Some(Notice::refused("That code is not right.")),
                        Some(step) => {
                            let mut user = live.user.clone();
                            let sealed = self.keys.sealer().seal(
                                &mut Drawn(&nonce),
                                &record_aad(Table::User, &user_key, "totp"),
                                &secret,
                            );
                            user.second_factors.totp = Some(TotpFactor {
                                secret: sealed,
                                last_step: step,
                                enrolled_at: now,
                            });
                            user.second_factors.recovery_codes = hashes.clone();
                            save(tx, &user_key, &user)?;
                            live.user = user;
                            // The session just proved the app: it has two factors now.
                            live.record.pending_totp = None;
                            for m in [amr::OTP, amr::MFA] {
                                if !live.record.amr.iter().any(|x| x == m) {
                                    live.record.amr.push(m.into());
                                }
                            }
                            save(tx, &live.key, &live.record)?;
                            new_codes = codes.clone();
                            message = Some(Notice::done("Two-step sign-in is on."));
                            event = Some((
                                AuditKind::SecondFactorEnrolled,
                                "authenticator app set up on the account page",
                            ));
                        }
                    },
                },
                AccountAction::NewRecoveryCodes | AccountAction::RemoveTotp if !enrolled => {
                    message = Some(Notice::refused("No authenticator app is set up."))
                }
                AccountAction::NewRecoveryCodes | AccountAction::RemoveTotp if !two_factors => {
                    message = Some(Notice::refused(
                        "Sign in again with your app's code to change two-step sign-in.",
                    ))
                }
                AccountAction::NewRecoveryCodes => {
                    let mut user = live.user.clone();
                    user.second_factors.recovery_codes = hashes.clone();
                    save(tx, &user_key, &user)?;
                    live.user = user;
                    new_codes = codes.clone();
                    message = Some(Notice::done("New recovery codes: the old ones no longer work."));
                    event = Some((
                        AuditKind::SecondFactorEnrolled,
                        "new recovery codes made on the account page",
                    ));
                }
                // MFA-policy: the last factor cannot be removed where the tenant requires one.
                AccountAction::RemoveTotp if policy == SecondFactorPolicy::Required => {
                    message = Some(Notice::refused(
                        "Two-step sign-in is required here; an administrator can reset a lost app.",
                    ))
                }
                AccountAction::RemoveTotp => {
                    let mut user = live.user.clone();
                    user.second_factors = Default::default();
                    save(tx, &user_key, &user)?;
                    live.user = user;
                    message = Some(Notice::done("Two-step sign-in is off."));
                    event = Some((
                        AuditKind::SecondFactorRemoved,
                        "authenticator app removed on the account page",
                    ));
                }
            }
            if let Some((kind, detail)) = event {
                let e = audit
                    .event(kind, detail)
                    .actor(live.user.id.clone())
                    .subject(live.user.id.clone());
                self.audit(tx, tenant, &e)?;
            }
            let setting_up = match self.pending_secret(&live)? {
                Some(secret) if !live.user.second_factors.enrolled() => Some(Enrolment {
                    secret: totp::base32(&secret),
                    uri: totp::otpauth_uri(&secret, &self.issuer_name(tx, tenant)?, &account_name(&live.user)),
                }),
                _ => None,
            };
            Ok(AccountOutcome::Page(AccountPage {
                username: live.user.profile.username.clone(),
                policy,
                totp_enrolled_at: live.user.second_factors.totp.as_ref().map(|t| t.enrolled_at),
                recovery_codes_left: live.user.second_factors.recovery_codes.len(),
                two_factor_session: Level::of(&live.record.amr) == Level::TwoFactors,
                setting_up,
                message,
                new_codes,
            }))
        });
        out.unwrap_or_else(|e| AccountOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())))
    }

    /// The secret of the app being set up in `live`'s session, if any.
    fn pending_secret(&self, live: &LiveSession) -> Result<Option<Vec<u8>>> {
        let Some(p) = &live.record.pending_totp else {
            return Ok(None);
        };
        self.keys
            .sealer()
            .open(&pending_aad(&live.key), &p.secret)
            .map(Some)
            .map_err(|e| EngineError::Misuse(format!("a pending authenticator secret does not open: {e}")))
    }

    /// The name an authenticator app lists the account under: the tenant's display name.
    pub(crate) fn issuer_name(&self, tx: &mut dyn Tx, tenant: &str) -> Result<String> {
        Ok(load::<TenantRecord>(tx, tenant)?
            .map(|t| t.branding.display_name.unwrap_or(t.display_name))
            .unwrap_or_else(|| tenant.to_string()))
    }
}

/// The account an authenticator app shows: the email, or the username.
pub(crate) fn account_name(user: &UserRecord) -> String {
    user.profile
        .email
        .clone()
        .unwrap_or_else(|| user.profile.username.clone())
}
