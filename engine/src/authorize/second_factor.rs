//! The second-factor steps of a sign-in: after the password (or to raise a signed-in session to
//! two factors), the user enters a TOTP or recovery code, or, without a second factor where one
//! is needed, sets up an authenticator app and is shown ten recovery codes once.
//!
//! A sign-in that needs a second factor creates no session before the factor passes: the
//! pending transaction carries who typed the right password, and only the browser that holds
//! its (secret) id can finish it.

use super::transaction::{AuthTransactionRecord, AwaitingStep};
use super::{expired_transaction, AuthorizeOutcome, ClientLinks, Fresh, NewSession, Step};
use crate::audit::AuditKind;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{ProtocolError, Result};
use crate::mfa::account::account_name;
use crate::mfa::policy::{due, FactorDue, Level};
use crate::mfa::{amr, recovery, totp, Enrolment, FactorKind, TotpFactor};
use crate::sealing::{record_aad, Drawn};
use crate::session::{LiveSession, SessionRecord, SessionState};
use crate::store::{load, save, Record, Store, Table, Tx};
use crate::tenant::Branding;
use crate::user::UserRecord;
use spec::{ErrorCode, Prompt};

/// Wrong codes after which a pending sign-in is abandoned (the failed-login throttle counts them too).
pub const MAX_FAILURES: u32 = 5;

/// What the second-factor page needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondFactorPage {
    /// Transaction id to post back.
    pub transaction: String,
    /// Client asking.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// Its branding.
    pub branding: Branding,
    /// Who is signing in (username).
    pub username: String,
    /// Message after a wrong code.
    pub error: Option<&'static str>,
    /// The client's privacy policy and terms of service.
    pub links: ClientLinks,
    /// Set when the user has no second factor yet: the app to set up.
    pub enrolment: Option<Enrolment>,
}

/// The page showing new recovery codes, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCodesPage {
    /// Transaction id to continue with.
    pub transaction: String,
    /// Client asking.
    pub client_name: String,
    /// Its branding.
    pub branding: Branding,
    /// The codes.
    pub codes: Vec<String>,
}

/// The result of a second-factor or enrolment form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactorOutcome {
    /// A wrong code: show `page` again, and count a failed sign-in for `account` (a username).
    Rejected {
        /// The page.
        page: AuthorizeOutcome,
        /// Whose sign-in failed.
        account: String,
    },
    /// Passed: set `session` when this finished a new sign-in, then follow `next`.
    Passed {
        /// The new session, if one was made.
        session: Option<NewSession>,
        /// Recovery codes, consent, a redirect with the code, or an error.
        next: AuthorizeOutcome,
    },
    /// The transaction is unknown, expired, finished, or was abandoned after too many wrong codes.
    ErrorPage(ProtocolError),
}

/// Random values drawn before a store transaction for a factor step: a new app's secret and
/// the nonce that seals it.
#[derive(Clone, Debug)]
pub(crate) struct FactorDraw {
    pub(crate) secret: [u8; totp::SECRET_LEN],
    pub(crate) nonce: [u8; 12],
}

impl FactorDraw {
    pub(crate) fn draw(env: &mut Env<'_>) -> Self {
        FactorDraw {
            secret: env.random_bytes(),
            nonce: env.random_bytes(),
        }
    }
}

fn totp_aad(tenant: &str, user_id: &str) -> Vec<u8> {
    record_aad(Table::User, &UserRecord::key(tenant, user_id), "totp")
}

fn pending_aad(tx_key: &str) -> Vec<u8> {
    record_aad(Table::AuthTransaction, tx_key, "totp")
}

fn abandoned() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::AccessDenied,
        "too many wrong codes; start again from the application",
    )
}

/// The session's methods once a second factor passed.
fn with_second_factor(mut methods: Vec<String>) -> Vec<String> {
    for m in [amr::PWD, amr::OTP, amr::MFA] {
        if !methods.iter().any(|x| x == m) {
            methods.push(m.into());
        }
    }
    methods
}

impl<S: Store> Engine<S> {
    /// Whether `user`, at `has` factors, needs another before `step` goes on: `Some(page or
    /// error redirect)` with the pending step stored under `fresh.transaction`, or `None`.
    /// `session_key` names a signed-in session being raised.
    // MFA-policy
    pub(crate) fn factor_step(
        &self,
        tx: &mut dyn Tx,
        step: &Step<'_>,
        user: &UserRecord,
        has: Level,
        session_key: Option<&str>,
        fresh: &Fresh,
    ) -> Result<Option<AuthorizeOutcome>> {
        let due = match self.mutant(|m| m.skip_second_factor) {
            true => FactorDue::Nothing,
            // A client that requires two factors raises the tenant's policy for its sign-ins.
            false => {
                let policy = match step.client.require_second_factor {
                    true => crate::mfa::SecondFactorPolicy::Required,
                    false => step.policy,
                };
                due(policy, user.second_factors.enrolled(), has, step.req.acr)
            }
        };
        let key = AuthTransactionRecord::key(step.tenant, &fresh.transaction);
        let (awaiting, enrolment) = match due {
            FactorDue::Nothing => return Ok(None),
            FactorDue::Unmet => {
                return Ok(Some(step.redirect_error(
                    ErrorCode::AccessDenied,
                    "two-factor sign-in was required, and this tenant offers none",
                )))
            }
            // OIDC-CORE-3.1.2.1-prompt-none
            _ if step.req.prompts_for(Prompt::None) => {
                return Ok(Some(step.redirect_error(
                    ErrorCode::InteractionRequired,
                    "the user must enter a second factor",
                )))
            }
            FactorDue::Verify => (
                AwaitingStep::AwaitingSecondFactor {
                    user_id: user.id.clone(),
                    session_key: session_key.map(str::to_owned),
                    failures: 0,
                },
                None,
            ),
            FactorDue::Enrol => {
                let secret = &fresh.factor.secret;
                let sealed = self
                    .keys
                    .sealer()
                    .seal(&mut Drawn(&fresh.factor.nonce), &pending_aad(&key), secret);
                let enrolment = Enrolment {
                    secret: totp::base32(secret),
                    uri: totp::otpauth_uri(secret, &self.issuer_name(tx, step.tenant)?, &account_name(user)),
                };
                let awaiting = AwaitingStep::AwaitingEnrolment {
                    user_id: user.id.clone(),
                    session_key: session_key.map(str::to_owned),
                    secret: sealed,
                    failures: 0,
                };
                (awaiting, Some(enrolment))
            }
        };
        let rec = AuthTransactionRecord {
            tenant: step.tenant.into(),
            request: step.req.clone(),
            expires_at: step.now.plus(self.config.auth_transaction_ttl),
            step: awaiting,
        };
        save(tx, &key, &rec)?;
        Ok(Some(AuthorizeOutcome::SecondFactor(factor_page(
            step,
            &fresh.transaction,
            user,
            None,
            enrolment,
        ))))
    }

    /// Handles the second-factor form: `code` (6 digits from the app, or a recovery code) for
    /// pending `transaction`. `current_session` is the browser's session cookie: the session
    /// being raised, or the one a new sign-in replaces.
    pub fn handle_second_factor(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        code: &str,
        current_session: Option<&str>,
    ) -> FactorOutcome {
        self.factor_form(env, tenant, transaction, code, current_session, false)
    }

    /// Handles the enrolment form: the first `code` of the authenticator app being set up for
    /// pending `transaction`. On success the app is the user's second factor, ten recovery
    /// codes are made, and the page showing them (once) comes next.
    pub fn handle_totp_enrolment(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        code: &str,
        current_session: Option<&str>,
    ) -> FactorOutcome {
        self.factor_form(env, tenant, transaction, code, current_session, true)
    }

    fn factor_form(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        code: &str,
        current_session: Option<&str>,
        enrolling: bool,
    ) -> FactorOutcome {
        let fresh = Fresh::draw(env, &self.audit_clock);
        let (codes, code_hashes) = recovery::generate(env);
        let now = env.now;
        let out = self.store.transact(|tx| {
            let key = AuthTransactionRecord::key(tenant, transaction);
            let Some(mut rec) =
                load::<AuthTransactionRecord>(tx, &key)?.filter(|r| r.expires_at > now && r.tenant == tenant)
            else {
                return Ok(FactorOutcome::ErrorPage(expired_transaction()));
            };
            let (user_id, session_key) = match (&rec.step, enrolling) {
                (
                    AwaitingStep::AwaitingSecondFactor {
                        user_id, session_key, ..
                    },
                    false,
                )
                | (
                    AwaitingStep::AwaitingEnrolment {
                        user_id, session_key, ..
                    },
                    true,
                ) => (user_id.clone(), session_key.clone()),
                _ => return Ok(FactorOutcome::ErrorPage(expired_transaction())),
            };
            // A session being raised answers from its own browser only.
            let presented = current_session.map(|s| SessionRecord::key(tenant, s));
            if session_key.is_some() && session_key != presented {
                return Ok(FactorOutcome::ErrorPage(expired_transaction()));
            }
            let user_key = UserRecord::key(tenant, &user_id);
            let Some(mut user) = load::<UserRecord>(tx, &user_key)?.filter(|u| !u.disabled) else {
                tx.delete(AuthTransactionRecord::TABLE, &key)?;
                return Ok(FactorOutcome::ErrorPage(expired_transaction()));
            };
            // A set-up begun before the user set up an app elsewhere never replaces that app.
            if enrolling && user.second_factors.enrolled() {
                tx.delete(AuthTransactionRecord::TABLE, &key)?;
                return Ok(FactorOutcome::ErrorPage(expired_transaction()));
            }
            let passed = match &rec.step {
                AwaitingStep::AwaitingEnrolment { secret, .. } => {
                    let secret = self.keys.sealer().open(&pending_aad(&key), secret).map_err(|e| {
                        crate::error::EngineError::Misuse(format!("a pending authenticator secret does not open: {e}"))
                    })?;
                    totp::accept(&secret, code, now, 0).map(|step| {
                        let sealed = self.keys.sealer().seal(
                            &mut Drawn(&fresh.factor.nonce),
                            &totp_aad(tenant, &user_id),
                            &secret,
                        );
                        user.second_factors.totp = Some(TotpFactor {
                            secret: sealed,
                            last_step: step,
                            enrolled_at: now,
                        });
                        user.second_factors.recovery_codes = code_hashes.clone();
                        FactorKind::Totp
                    })
                }
                _ => self.verify_factor(tenant, &mut user, code, now)?,
            };
            let Some(kind) = passed else {
                let failures = match &mut rec.step {
                    AwaitingStep::AwaitingSecondFactor { failures, .. }
                    | AwaitingStep::AwaitingEnrolment { failures, .. } => {
                        *failures += 1;
                        *failures
                    }
                    _ => MAX_FAILURES,
                };
                let event = fresh
                    .audit
                    .event(AuditKind::SecondFactorFailed, format!("failures={failures}"))
                    .actor(user.id.clone())
                    .subject(user.id.clone())
                    .client(rec.request.client_id.clone());
                self.audit(tx, tenant, &event)?;
                if failures >= MAX_FAILURES {
                    tx.delete(AuthTransactionRecord::TABLE, &key)?;
                    return Ok(FactorOutcome::ErrorPage(abandoned()));
                }
                save(tx, &key, &rec)?;
                let step = match self.resume_in_place(tx, tenant, &rec, now)? {
                    Ok(step) => step,
                    Err(o) => return Ok(FactorOutcome::ErrorPage(page_error(o))),
                };
                let enrolment = match &rec.step {
                    AwaitingStep::AwaitingEnrolment { secret, .. } => {
                        let secret = self.keys.sealer().open(&pending_aad(&key), secret).unwrap_or_default();
                        Some(Enrolment {
                            secret: totp::base32(&secret),
                            uri: totp::otpauth_uri(&secret, &self.issuer_name(tx, tenant)?, &account_name(&user)),
                        })
                    }
                    _ => None,
                };
                let page = factor_page(&step, transaction, &user, Some("That code is not right."), enrolment);
                return Ok(FactorOutcome::Rejected {
                    page: AuthorizeOutcome::SecondFactor(page),
                    account: user.profile.username.clone(),
                });
            };
            // Passed: the user record keeps the used step or the spent recovery code.
            save(tx, &user_key, &user)?;
            let (kind_audit, detail) = match (enrolling, kind) {
                (true, _) => (
                    AuditKind::SecondFactorEnrolled,
                    "authenticator app enrolled; 10 recovery codes made",
                ),
                (false, FactorKind::Totp) => (AuditKind::SecondFactorPassed, "totp"),
                (false, FactorKind::RecoveryCode) => (AuditKind::SecondFactorPassed, "recovery code"),
            };
            let event = fresh
                .audit
                .event(kind_audit, detail)
                .actor(user.id.clone())
                .subject(user.id.clone())
                .client(rec.request.client_id.clone());
            self.audit(tx, tenant, &event)?;
            let step = match self.resume(tx, tenant, transaction, now)? {
                Ok((_, step)) => step,
                Err(o) => return Ok(FactorOutcome::ErrorPage(page_error(o))),
            };
            // The session: the one raised, or a new one (ending the browser's previous one).
            let (live, new_session) = match &session_key {
                Some(k) => {
                    let Some(mut record) = load::<SessionRecord>(tx, k)?
                        .filter(|s| s.state == SessionState::Active && s.expires_at > now && s.user_id == user.id)
                    else {
                        return Ok(FactorOutcome::ErrorPage(expired_transaction()));
                    };
                    record.amr = with_second_factor(record.amr);
                    record.auth_time = now;
                    save(tx, k, &record)?;
                    let live = LiveSession {
                        key: k.clone(),
                        record,
                        user: user.clone(),
                    };
                    (live, None)
                }
                None => {
                    // OIDC-SEC-session-fixation
                    if let Some(old_key) = &presented {
                        if let Some(mut s) = load::<SessionRecord>(tx, old_key)? {
                            s.state = SessionState::Ended;
                            save(tx, old_key, &s)?;
                        }
                    }
                    let (key, record) = self.new_session(
                        tx,
                        &user,
                        with_second_factor(Vec::new()),
                        &rec.request.client_id,
                        &fresh,
                        now,
                    )?;
                    let new = NewSession {
                        token: fresh.session.clone(),
                        expires_at: record.expires_at,
                    };
                    let live = LiveSession {
                        key,
                        record,
                        user: user.clone(),
                    };
                    (live, Some(new))
                }
            };
            let next = match enrolling {
                // The codes are shown once; the request goes on when the user continues.
                true => {
                    let rec = AuthTransactionRecord {
                        tenant: tenant.into(),
                        request: step.req.clone(),
                        expires_at: now.plus(self.config.auth_transaction_ttl),
                        step: AwaitingStep::AwaitingContinue {
                            session_key: live.key.clone(),
                        },
                    };
                    save(tx, &AuthTransactionRecord::key(tenant, &fresh.transaction), &rec)?;
                    AuthorizeOutcome::RecoveryCodes(RecoveryCodesPage {
                        transaction: fresh.transaction.clone(),
                        client_name: step.client.name.clone(),
                        branding: step.client.branding.clone(),
                        codes: codes.clone(),
                    })
                }
                false => {
                    let next = self.advance(tx, step, Some(live), true, &fresh)?;
                    self.signed_response(tx, tenant, now, next)?
                }
            };
            Ok(FactorOutcome::Passed {
                session: new_session,
                next,
            })
        });
        out.unwrap_or_else(|e| FactorOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())))
    }

    /// Checks `code` against `user`'s app (once per time step) or unused recovery codes,
    /// recording its use in `user`.
    fn verify_factor(
        &self,
        tenant: &str,
        user: &mut UserRecord,
        code: &str,
        now: UnixTime,
    ) -> Result<Option<FactorKind>> {
        if recovery::looks_like(code) {
            // MFA-recovery-once
            let ok = recovery::take(&mut user.second_factors.recovery_codes, code);
            return Ok(ok.then_some(FactorKind::RecoveryCode));
        }
        let Some(factor) = &mut user.second_factors.totp else {
            return Ok(None);
        };
        let secret = self
            .keys
            .sealer()
            .open(&totp_aad(tenant, &user.id), &factor.secret)
            .map_err(|e| {
                crate::error::EngineError::Misuse(format!("a user's authenticator secret does not open: {e}"))
            })?;
        // MFA-totp-once
        let last = match self.mutant(|m| m.totp_replay) {
            true => 0,
            false => factor.last_step,
        };
        Ok(totp::accept(&secret, code, now, last).map(|step| {
            factor.last_step = step;
            FactorKind::Totp
        }))
    }

    /// Handles "continue" after the recovery codes were shown: the request goes on, from the
    /// browser of the session that enrolled.
    pub fn handle_sign_in_continue(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        session: Option<&str>,
    ) -> AuthorizeOutcome {
        let fresh = Fresh::draw(env, &self.audit_clock);
        let now = env.now;
        let out = self.store.transact(|tx| {
            let key = AuthTransactionRecord::key(tenant, transaction);
            let live = match (
                load::<AuthTransactionRecord>(tx, &key)?,
                crate::session::load_live(tx, tenant, session, now)?,
            ) {
                (
                    Some(AuthTransactionRecord {
                        step: AwaitingStep::AwaitingContinue { session_key },
                        ..
                    }),
                    Some(live),
                ) if session_key == live.key => live,
                _ => return Ok(AuthorizeOutcome::ErrorPage(expired_transaction())),
            };
            let step = match self.resume(tx, tenant, transaction, now)? {
                Ok((_, step)) => step,
                Err(o) => return Ok(o),
            };
            let next = self.advance(tx, step, Some(live), true, &fresh)?;
            self.signed_response(tx, tenant, now, next)
        });
        out.unwrap_or_else(|e| AuthorizeOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())))
    }

    /// A new active session of `user` (in the user's tenant) with methods `amr`, under
    /// `fresh.session`; audited.
    pub(crate) fn new_session(
        &self,
        tx: &mut dyn Tx,
        user: &UserRecord,
        amr: Vec<String>,
        client_id: &str,
        fresh: &Fresh,
        now: UnixTime,
    ) -> Result<(String, SessionRecord)> {
        let tenant = user.tenant.as_str();
        // OIDC-CORE-2-session
        let session = SessionRecord {
            tenant: tenant.into(),
            user_id: user.id.clone(),
            sid: fresh.sid.clone(),
            auth_time: now,
            amr,
            expires_at: now.plus(self.config.session_ttl),
            state: SessionState::Active,
            clients: Vec::new(),
            pending_totp: None,
        };
        let key = SessionRecord::key(tenant, &fresh.session);
        save(tx, &key, &session)?;
        let event = fresh
            .audit
            .event(AuditKind::LoginSucceeded, format!("sid={}", fresh.sid))
            .actor(user.id.clone())
            .subject(user.id.clone())
            .client(client_id.to_string());
        self.audit(tx, tenant, &event)?;
        Ok((key, session))
    }
}

fn page_error(o: AuthorizeOutcome) -> ProtocolError {
    match o {
        AuthorizeOutcome::ErrorPage(e) => e,
        _ => expired_transaction(),
    }
}

fn factor_page(
    step: &Step<'_>,
    transaction: &str,
    user: &UserRecord,
    error: Option<&'static str>,
    enrolment: Option<Enrolment>,
) -> SecondFactorPage {
    SecondFactorPage {
        transaction: transaction.to_string(),
        client_id: step.client.client_id.clone(),
        client_name: step.client.name.clone(),
        branding: step.client.branding.clone(),
        username: user.profile.username.clone(),
        error,
        links: ClientLinks::of(&step.client),
        enrolment,
    }
}
