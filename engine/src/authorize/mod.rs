//! The authorization endpoint and the interaction it drives: login, consent, code issue.

pub mod claims_request;
pub mod consent;
pub mod jarm;
pub mod pkce;
pub mod pushed;
pub mod redirect;
pub mod response_type;
pub mod second_factor;

pub mod checks;
pub mod front_channel;
pub mod request;
pub mod request_object;
pub mod transaction;

pub use request::{AuthorizationRequest, ValidatedRequest};

use crate::audit::AuditKind;
use crate::authorize::consent::ConsentRecord;
use crate::authorize::redirect::{RedirectResponse, RedirectTarget};
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::{Env, UnixTime};
use crate::error::{EngineError, ProtocolError, Result};
use crate::secret::mint;
use crate::session::{load_live, LiveSession, SessionRecord, SessionState};
use crate::store::{load, save, Record, Store, Table, Tx};
use crate::tenant::{Branding, TenantRecord};
use crate::token::code::{CodeRecord, CodeState};
use crate::token::grant::UserClientEpochRecord;
use crate::user::{UserIndexRecord, UserRecord};
use checks::Rejection;
use spec::{ErrorCode, Prompt};
use transaction::{AuthTransactionRecord, AwaitingStep};

/// What the adapter must do after an authorization-endpoint step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Show an error page; the redirect URI was not (or no longer) trusted.
    ErrorPage(ProtocolError),
    /// Send the user agent to the client (code or error).
    Redirect(RedirectResponse),
    /// Show the login page.
    Login(LoginPage),
    /// Show the consent page.
    Consent(ConsentPage),
    /// Show the second-factor page (enter a code, or set up an authenticator app).
    SecondFactor(second_factor::SecondFactorPage),
    /// Show new recovery codes, once, with a button to continue.
    RecoveryCodes(second_factor::RecoveryCodesPage),
}

/// What the login page needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginPage {
    /// Transaction id to post back.
    pub transaction: String,
    /// Client asking.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// Its branding.
    pub branding: Branding,
    /// Username to prefill.
    pub login_hint: Option<String>,
    /// Message after a failed attempt.
    pub error: Option<&'static str>,
    /// The client's privacy policy and terms of service (registered https URLs).
    pub links: ClientLinks,
}

/// A client's registered policy and terms links, shown on the login and consent pages.
/// OIDC-REGISTRATION-2-client-pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientLinks {
    /// `policy_uri`.
    pub policy_uri: Option<String>,
    /// `tos_uri`.
    pub tos_uri: Option<String>,
}

impl ClientLinks {
    /// The links `client` registered.
    pub fn of(client: &ClientRecord) -> Self {
        ClientLinks {
            policy_uri: client.page_link("policy_uri"),
            tos_uri: client.page_link("tos_uri"),
        }
    }
}

/// What the consent page needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentPage {
    /// Transaction id to post back.
    pub transaction: String,
    /// Client asking.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// Its branding.
    pub branding: Branding,
    /// Scopes to approve.
    pub scopes: Vec<String>,
    /// Who is logged in (username).
    pub username: String,
    /// The client's privacy policy and terms of service.
    pub links: ClientLinks,
}

/// A session the adapter must set as a cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// Cookie value (secret; stored hashed).
    pub token: String,
    /// Cookie expiry.
    pub expires_at: UnixTime,
}

/// The result of a login attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Wrong credentials: show the login page again.
    Rejected(LoginPage),
    /// The password was right and a second factor is due: no session yet; show this (the
    /// second-factor page, or an error redirect when none can be met).
    SecondFactor(AuthorizeOutcome),
    /// Logged in: set the session cookie, then follow `next`.
    LoggedIn {
        /// The new session.
        session: NewSession,
        /// Consent page, redirect with a code, or an error.
        next: AuthorizeOutcome,
    },
    /// The transaction is unknown, expired or already finished.
    ErrorPage(ProtocolError),
}

/// Random values a step may need, drawn before the store transaction (which may be retried).
pub(crate) struct Fresh {
    pub(crate) audit: crate::audit::AuditStamp,
    pub(crate) transaction: String,
    pub(crate) code: String,
    pub(crate) session: String,
    pub(crate) sid: String,
    /// An access token's jti and its grant's id, for the response types that issue one here.
    pub(crate) jti: String,
    pub(crate) grant_id: String,
    /// A new authenticator app's secret, for a step that enrols one.
    pub(crate) factor: second_factor::FactorDraw,
}

impl Fresh {
    pub(crate) fn draw(env: &mut Env<'_>, clock: &crate::audit::AuditClock) -> Self {
        Fresh {
            audit: clock.draw(env),
            transaction: mint(env, ""),
            code: mint(env, ""),
            session: mint(env, ""),
            sid: mint(env, ""),
            jti: crate::secret::mint_id(env),
            grant_id: crate::secret::mint_id(env),
            factor: second_factor::FactorDraw::draw(env),
        }
    }
}

fn rejection_outcome(r: Rejection, iss: &str) -> AuthorizeOutcome {
    match r {
        Rejection::Page(e) => AuthorizeOutcome::ErrorPage(e),
        Rejection::Redirect {
            target,
            mode,
            signed_for,
            state,
            error,
        } => AuthorizeOutcome::Redirect(error_redirect(target, mode, signed_for, state, error, iss)),
    }
}

// RFC6749-4.1.2.1-error-redirect
fn error_redirect(
    target: RedirectTarget,
    mode: spec::ResponseMode,
    signed_for: Option<String>,
    state: Option<String>,
    e: ProtocolError,
    iss: &str,
) -> RedirectResponse {
    let mut params = vec![
        ("error".to_string(), e.code.as_str().to_string()),
        ("error_description".into(), e.description.into_owned()),
    ];
    if let Some(s) = state {
        params.push(("state".into(), s));
    }
    // RFC9207-2-iss-parameter
    params.push(("iss".into(), iss.to_string()));
    RedirectResponse {
        target,
        mode,
        params,
        signed_for,
    }
}

fn storage_page(e: EngineError) -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage(ProtocolError::new(e.code(), e.description()))
}

pub(crate) fn expired_transaction() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::InvalidRequest,
        "this sign-in request is unknown, expired or already completed; start again from the application",
    )
}

/// A pending step being advanced inside one transaction.
pub(crate) struct Step<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) iss: String,
    pub(crate) client: ClientRecord,
    pub(crate) target: RedirectTarget,
    pub(crate) req: ValidatedRequest,
    pub(crate) now: UnixTime,
    /// The tenant's second-factor policy.
    pub(crate) policy: crate::mfa::SecondFactorPolicy,
}

impl Step<'_> {
    /// JARM: the client its responses are signed for.
    fn signed_for(&self) -> Option<String> {
        self.req.jarm.then(|| self.client.client_id.clone())
    }

    pub(crate) fn redirect_error(&self, code: ErrorCode, d: &'static str) -> AuthorizeOutcome {
        AuthorizeOutcome::Redirect(error_redirect(
            self.target.clone(),
            self.req.response_mode,
            self.signed_for(),
            self.req.state.clone(),
            ProtocolError::new(code, d),
            &self.iss,
        ))
    }

    /// LICENSE-required: a client that requires assignment answers `access_denied` (to its
    /// registered redirect URI) for a user without its licence.
    fn check_license(&self, user: &crate::user::UserRecord) -> Option<AuthorizeOutcome> {
        // LICENSE-required
        (!self.client.admits(user)).then(|| {
            self.redirect_error(
                ErrorCode::AccessDenied,
                "the user is not assigned to this application; ask an administrator for access",
            )
        })
    }

    fn login_page(&self, transaction: &str, error: Option<&'static str>) -> LoginPage {
        LoginPage {
            transaction: transaction.to_string(),
            client_id: self.client.client_id.clone(),
            client_name: self.client.name.clone(),
            branding: self.client.branding.clone(),
            // OIDC-CORE-3.1.2.1-login-hint
            login_hint: self.req.login_hint.clone(),
            error,
            links: ClientLinks::of(&self.client),
        }
    }
}

impl<S: Store> Engine<S> {
    /// Handles `GET|POST /authorize`. `session` is the browser's session cookie, if any.
    pub fn handle_authorize(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        req: &AuthorizationRequest,
        session: Option<&str>,
    ) -> AuthorizeOutcome {
        let fresh = Fresh::draw(env, &self.audit_clock);
        let now = env.now;
        let iss = self.issuer(tenant);
        let out = self.store.transact(|tx| {
            // JARM: a redirect of a `*.jwt` response mode leaves signed.
            let out = (|| -> Result<AuthorizeOutcome> {
                // Writes here are a code not yet redeemed or a pending login/consent: a crash may
                // lose them (the user starts again) without breaking anything acknowledged. Taking a
                // pushed request is not among them: it is used once.
                let pushing = pushed::names_pushed_request(req);
                if !pushing {
                    tx.relax_durability();
                }
                // What every request reads first, in one go where reads cost a round trip: the
                // tenant, the client, the browser's session (and, linked to it, its user).
                let client_key = req.client_id.as_deref().map(|id| ClientRecord::key(tenant, id));
                let session_key = session.map(|s| SessionRecord::key(tenant, s));
                let mut first = vec![(Table::Tenant, tenant)];
                first.extend(client_key.as_deref().map(|k| (Table::Client, k)));
                first.extend(session_key.as_deref().map(|k| (Table::Session, k)));
                tx.prefetch(&first)?;
                let Some(tenant_record) = load::<TenantRecord>(tx, tenant)? else {
                    return Ok(AuthorizeOutcome::ErrorPage(ProtocolError::new(
                        ErrorCode::InvalidRequest,
                        "unknown tenant",
                    )));
                };
                // RFC9126-4-client-id-match: the pushed request replaces every other parameter.
                let taken;
                let req = match pushing {
                    false => req,
                    true => match pushed::take(tx, tenant, req, now, self.mutant(|m| m.par_reuse))? {
                        Ok(r) => {
                            taken = r;
                            &taken
                        }
                        Err(e) => return Ok(AuthorizeOutcome::ErrorPage(e)),
                    },
                };
                let req_pushed = req.pushed;
                let (client, target, req) = match checks::validate(
                    tx,
                    self.caches(),
                    tenant,
                    &iss,
                    now,
                    req,
                    self.mutant(|m| m.lenient_redirect),
                )? {
                    Ok(v) => v,
                    Err(r) => return Ok(rejection_outcome(r, &iss)),
                };
                // RFC9126-6-require-par
                if !req_pushed && pushed::required_for(&client, tenant_record.require_pushed_authorization_requests) {
                    let error = ProtocolError::new(
                        ErrorCode::InvalidRequest,
                        "this client must push its authorization requests to the par endpoint first",
                    );
                    return Ok(AuthorizeOutcome::Redirect(error_redirect(
                        target,
                        req.response_mode,
                        req.jarm.then(|| client.client_id.clone()),
                        req.state.clone(),
                        error,
                        &iss,
                    )));
                }
                let live = load_live(tx, tenant, session, now)?;
                let step = Step {
                    tenant,
                    iss: iss.clone(),
                    client,
                    target,
                    req,
                    now,
                    policy: tenant_record.second_factor,
                };
                self.advance(tx, step, live, false, &fresh)
            })()?;
            self.signed_response(tx, tenant, now, out)
        });
        out.unwrap_or_else(storage_page)
    }

    /// Decides what a validated request needs next: login, a second factor, consent, or its code.
    pub(crate) fn advance(
        &self,
        tx: &mut dyn Tx,
        step: Step<'_>,
        live: Option<LiveSession>,
        just_logged_in: bool,
        fresh: &Fresh,
    ) -> Result<AuthorizeOutcome> {
        let req = &step.req;
        let needs_login = match &live {
            None => true,
            Some(s) => {
                !just_logged_in
                    // OIDC-CORE-3.1.2.1-prompt-login
                    && (req.prompts_for(Prompt::Login)
                        || req.prompts_for(Prompt::SelectAccount)
                        || req.max_age.is_some_and(|m| {
                            step.now.0.saturating_sub(s.record.auth_time.0) > m && !self.mutant(|m| m.ignore_max_age)
                        })
                        || req.hint_subject.as_ref().is_some_and(|h| *h != s.user.id))
            }
        };
        let expires_at = step.now.plus(self.config.auth_transaction_ttl);
        let tx_key = AuthTransactionRecord::key(step.tenant, &fresh.transaction);
        let Some(live) = live.filter(|_| !needs_login) else {
            if req.prompts_for(Prompt::None) && !self.mutant(|m| m.prompt_none_shows_login) {
                return Ok(step.redirect_error(ErrorCode::LoginRequired, "the user is not logged in"));
            }
            let rec = AuthTransactionRecord {
                tenant: step.tenant.into(),
                request: req.clone(),
                expires_at,
                step: AwaitingStep::AwaitingLogin,
            };
            save(tx, &tx_key, &rec)?;
            return Ok(AuthorizeOutcome::Login(step.login_page(&fresh.transaction, None)));
        };
        if let Some(refused) = step.check_license(&live.user) {
            return Ok(refused);
        }
        // MFA-policy: a session short of the factors due is raised first (or refused).
        let has = crate::mfa::Level::of(&live.record.amr);
        if let Some(out) = self.factor_step(tx, &step, &live.user, has, Some(&live.key), fresh)? {
            return Ok(out);
        }
        // In one go where reads cost a round trip: the consent and the pair's epoch (the code records it).
        let consent_key = ConsentRecord::key(step.tenant, &live.user.id, &step.client.client_id);
        let epoch_key = UserClientEpochRecord::key(step.tenant, &live.user.id, &step.client.client_id);
        tx.prefetch(&[(Table::Consent, &consent_key), (Table::UserClientGrants, &epoch_key)])?;
        let consent = load::<ConsentRecord>(tx, &consent_key)?.unwrap_or_default();
        // CONSENT-remembered
        let missing: Vec<String> = consent.missing(&req.scopes).into_iter().cloned().collect();
        // OIDC-CORE-3.1.2.1-prompt-consent
        let asked = req.prompts_for(Prompt::Consent);
        // CONSENT-require-consent
        if !self.mutant(|m| m.skip_consent) && (asked || (step.client.require_consent && !missing.is_empty())) {
            if req.prompts_for(Prompt::None) {
                return Ok(step.redirect_error(
                    ErrorCode::ConsentRequired,
                    "the user has not consented to the requested scopes",
                ));
            }
            let scopes = if asked { req.scopes.clone() } else { missing };
            return ask_consent(tx, &step, &live, &fresh.transaction, expires_at, scopes);
        }
        self.issue_code(tx, &step, &live.record, &live.key, fresh)
    }

    /// Stores a code bound to the request and session, and answers with it.
    fn issue_code(
        &self,
        tx: &mut dyn Tx,
        step: &Step<'_>,
        session: &SessionRecord,
        session_key: &str,
        fresh: &Fresh,
    ) -> Result<AuthorizeOutcome> {
        let code = fresh.code.as_str();
        let rec = CodeRecord {
            tenant: step.tenant.into(),
            client_id: step.client.client_id.clone(),
            user_id: session.user_id.clone(),
            redirect_uri: step.req.redirect_uri.clone(),
            code_challenge: step.req.code_challenge.clone(),
            nonce: step.req.nonce.clone(),
            scopes: step.req.scopes.clone(),
            auth_time: session.auth_time,
            amr: session.amr.clone(),
            sid: session.sid.clone(),
            session_key: session_key.to_string(),
            claims: step.req.claims.clone(),
            dpop_jkt: step.req.dpop_jkt.clone(),
            epoch: Some(crate::token::grant::current_epoch(
                tx,
                step.tenant,
                &session.user_id,
                &step.client.client_id,
            )?),
            issued_at: step.now,
            // FAPI2-client-profile: a FAPI 2.0 client's codes live 60 seconds at most.
            expires_at: step.now.plus(match step.client.fapi2() {
                true => self.config.code_ttl.min(60),
                false => self.config.code_ttl,
            }),
            state: CodeState::Issued,
        };
        let rt = step.req.response_type;
        if rt.code {
            save(tx, &CodeRecord::key(step.tenant, code), &rec)?;
        }
        // OIDC-BCLOGOUT-2.4-logout-token: remember who to tell when this session ends.
        if !session.clients.contains(&step.client.client_id) {
            let mut s = session.clone();
            s.clients.push(step.client.client_id.clone());
            save(tx, session_key, &s)?;
        }
        let mut params = Vec::new();
        if rt.code {
            params.push(("code".to_string(), code.to_string()));
        }
        if rt.front_channel() {
            let issued = front_channel::Issue {
                tenant: step.tenant,
                iss: &step.iss,
                client: &step.client,
                req: &step.req,
                session,
                code: rt.code.then_some(code),
                jti: &fresh.jti,
                grant_id: &fresh.grant_id,
                now: step.now,
            };
            params.extend(self.front_channel_tokens(tx, &issued)?);
        }
        if let Some(state) = &step.req.state {
            params.push(("state".into(), state.clone()));
        }
        // RFC9207-2-iss-parameter
        params.push(("iss".into(), step.iss.clone()));
        Ok(AuthorizeOutcome::Redirect(RedirectResponse {
            target: step.target.clone(),
            mode: step.req.response_mode,
            params,
            signed_for: step.signed_for(),
        }))
    }

    /// Loads a pending transaction, ends it, and re-proves its client; `Err(outcome)` when it
    /// cannot continue.
    pub(crate) fn resume<'t>(
        &self,
        tx: &mut dyn Tx,
        tenant: &'t str,
        transaction: &str,
        now: UnixTime,
    ) -> Result<Result<(AuthTransactionRecord, Step<'t>), AuthorizeOutcome>> {
        let key = AuthTransactionRecord::key(tenant, transaction);
        let rec = match load::<AuthTransactionRecord>(tx, &key)? {
            Some(r) if r.expires_at > now && r.tenant == tenant => r,
            _ => return Ok(Err(AuthorizeOutcome::ErrorPage(expired_transaction()))),
        };
        tx.delete(AuthTransactionRecord::TABLE, &key)?;
        Ok(self.resume_in_place(tx, tenant, &rec, now)?.map(|step| (rec, step)))
    }

    /// The step of pending `rec` (kept as it is), its client re-proved.
    pub(crate) fn resume_in_place<'t>(
        &self,
        tx: &mut dyn Tx,
        tenant: &'t str,
        rec: &AuthTransactionRecord,
        now: UnixTime,
    ) -> Result<Result<Step<'t>, AuthorizeOutcome>> {
        let iss = self.issuer(tenant);
        let policy = load::<TenantRecord>(tx, tenant)?
            .map(|t| t.second_factor)
            .unwrap_or_default();
        Ok(match checks::recheck(tx, &self.clients, tenant, &rec.request)? {
            Ok((client, target)) => Ok(Step {
                tenant,
                iss,
                client,
                target,
                req: rec.request.clone(),
                now,
                policy,
            }),
            Err(r) => Err(rejection_outcome(r, &iss)),
        })
    }

    fn dummy_password_hash(&self) -> &str {
        self.dummy_hash
            .get_or_init(|| crate::password::hash(self.config.password, "not the password", &[0u8; 16]))
    }

    /// Handles the login form: `username` (or email) and `password` for pending `transaction`.
    /// `current_session` is ended when the login succeeds (one browser, one session).
    pub fn handle_login(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        username: &str,
        password: &str,
        current_session: Option<&str>,
    ) -> LoginOutcome {
        let fresh = Fresh::draw(env, &self.audit_clock);
        let now = env.now;
        // 1. Read: the pending request and the user, without holding a write transaction over argon2.
        let name = username.trim();
        let (by_username, by_email) = (
            UserIndexRecord::username_key(tenant, name),
            UserIndexRecord::email_key(tenant, name),
        );
        let looked_up = self.store.transact(|tx| {
            let key = AuthTransactionRecord::key(tenant, transaction);
            // In one go where reads cost a round trip: the pending request and the name's index
            // entries (each linked to its user).
            tx.prefetch(&[
                (Table::AuthTransaction, &key),
                (Table::UserIndex, &by_username),
                (Table::UserIndex, &by_email),
            ])?;
            let Some(rec) = load::<AuthTransactionRecord>(tx, &key)?
                .filter(|r| r.expires_at > now && r.step == AwaitingStep::AwaitingLogin)
            else {
                return Ok(None);
            };
            let mut id = load::<UserIndexRecord>(tx, &by_username)?;
            if id.is_none() {
                id = load::<UserIndexRecord>(tx, &by_email)?;
            }
            let user = match id {
                Some(i) => load::<UserRecord>(tx, &UserRecord::key(tenant, &i.user_id))?,
                None => None,
            };
            Ok(Some((rec, user)))
        });
        let (pending, user) = match looked_up {
            Ok(Some(v)) => v,
            Ok(None) => return LoginOutcome::ErrorPage(expired_transaction()),
            Err(e) => return LoginOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())),
        };
        // 2. Verify the password (same cost whether or not the user exists).
        let hash = user
            .as_ref()
            .map_or(self.dummy_password_hash(), |u| u.password_hash.as_str());
        let verified = crate::password::verify(password, hash);
        let user = user.filter(|u| verified && !u.disabled);
        // 3. Write: the session and the next step.
        let client_key = ClientRecord::key(tenant, &pending.request.client_id);
        let consent_key = user
            .as_ref()
            .map(|u| ConsentRecord::key(tenant, &u.id, &pending.request.client_id));
        let epoch_key = user
            .as_ref()
            .map(|u| UserClientEpochRecord::key(tenant, &u.id, &pending.request.client_id));
        let old_session_key = current_session.map(|s| SessionRecord::key(tenant, s));
        let out = self.store.transact(|tx| {
            let mut first = vec![
                (Table::AuthTransaction, AuthTransactionRecord::key(tenant, transaction)),
                (Table::Client, client_key.clone()),
                // The tenant's second-factor policy.
                (Table::Tenant, tenant.to_string()),
            ];
            first.extend(consent_key.clone().map(|k| (Table::Consent, k)));
            first.extend(epoch_key.clone().map(|k| (Table::UserClientGrants, k)));
            first.extend(old_session_key.clone().map(|k| (Table::Session, k)));
            tx.prefetch(&first.iter().map(|(t, k)| (*t, k.as_str())).collect::<Vec<_>>())?;
            let Some(user) = &user else {
                let client = load::<ClientRecord>(tx, &ClientRecord::key(tenant, &pending.request.client_id))?;
                let page = LoginPage {
                    transaction: transaction.to_string(),
                    client_id: pending.request.client_id.clone(),
                    client_name: client
                        .as_ref()
                        .map_or_else(|| pending.request.client_id.clone(), |c| c.name.clone()),
                    links: client.as_ref().map(ClientLinks::of).unwrap_or_default(),
                    branding: client.map(|c| c.branding).unwrap_or_default(),
                    login_hint: Some(username.to_string()),
                    error: Some("Invalid username or password."),
                };
                let event = fresh
                    .audit
                    .event(AuditKind::LoginFailed, "invalid username or password")
                    .subject(username.trim().chars().take(256).collect::<String>())
                    .client(pending.request.client_id.clone());
                self.audit(tx, tenant, &event)?;
                // LOGIN-invalid-credentials
                return Ok(LoginOutcome::Rejected(page));
            };
            let step = match self.resume(tx, tenant, transaction, now)? {
                Ok((rec, step)) if rec.step == AwaitingStep::AwaitingLogin => step,
                Ok(_) => return Ok(LoginOutcome::ErrorPage(expired_transaction())),
                Err(AuthorizeOutcome::ErrorPage(e)) => return Ok(LoginOutcome::ErrorPage(e)),
                Err(_) => return Ok(LoginOutcome::ErrorPage(expired_transaction())),
            };
            // MFA-policy: a second factor due comes before any session.
            if let Some(out) = self.factor_step(tx, &step, user, crate::mfa::Level::OneFactor, None, &fresh)? {
                return Ok(LoginOutcome::SecondFactor(self.signed_response(tx, tenant, now, out)?));
            }
            // OIDC-SEC-session-fixation
            if let Some(old_key) = &old_session_key {
                if let Some(mut s) = load::<SessionRecord>(tx, old_key)? {
                    s.state = SessionState::Ended;
                    save(tx, old_key, &s)?;
                }
            }
            let (key, session) = self.new_session(
                tx,
                user,
                vec![crate::mfa::amr::PWD.into()],
                &pending.request.client_id,
                &fresh,
                now,
            )?;
            let live = LiveSession {
                key,
                record: session,
                user: user.clone(),
            };
            let next = self.advance(tx, step, Some(live), true, &fresh)?;
            let next = self.signed_response(tx, tenant, now, next)?;
            Ok(LoginOutcome::LoggedIn {
                session: NewSession {
                    token: fresh.session.clone(),
                    expires_at: now.plus(self.config.session_ttl),
                },
                next,
            })
        });
        out.unwrap_or_else(|e| LoginOutcome::ErrorPage(ProtocolError::new(e.code(), e.description())))
    }

    /// Handles the consent form: `approve` or deny the scopes of pending `transaction`,
    /// answered from the browser session `session` that was asked.
    pub fn handle_consent(
        &self,
        env: &mut Env<'_>,
        tenant: &str,
        transaction: &str,
        session: Option<&str>,
        approve: bool,
    ) -> AuthorizeOutcome {
        let fresh = Fresh::draw(env, &self.audit_clock);
        let now = env.now;
        let out = self.store.transact(|tx| {
            // JARM: a redirect of a `*.jwt` response mode leaves signed.
            let out = (|| -> Result<AuthorizeOutcome> {
                // Only the browser session that logged in may answer: anyone else (a forged POST
                // naming someone's transaction) is refused without touching it.
                let key = AuthTransactionRecord::key(tenant, transaction);
                let live = match (
                    load::<AuthTransactionRecord>(tx, &key)?,
                    load_live(tx, tenant, session, now)?,
                ) {
                    (Some(rec), Some(live)) if rec.step.consent_session() == Some(live.key.as_str()) => live,
                    _ => return Ok(AuthorizeOutcome::ErrorPage(expired_transaction())),
                };
                let (rec, step) = match self.resume(tx, tenant, transaction, now)? {
                    Ok(v) => v,
                    Err(o) => return Ok(o),
                };
                let AwaitingStep::AwaitingConsent { scopes, .. } = &rec.step else {
                    return Ok(AuthorizeOutcome::ErrorPage(expired_transaction()));
                };
                let kind = if approve {
                    AuditKind::ConsentGranted
                } else {
                    AuditKind::ConsentDenied
                };
                let event = fresh
                    .audit
                    .event(kind, format!("scope={}", scopes.join(" ")))
                    .actor(live.user.id.clone())
                    .subject(live.user.id.clone())
                    .client(step.client.client_id.clone());
                self.audit(tx, tenant, &event)?;
                if !approve {
                    // RFC6749-4.1.2.1-access-denied
                    return Ok(step.redirect_error(ErrorCode::AccessDenied, "the user denied the request"));
                }
                if let Some(refused) = step.check_license(&live.user) {
                    return Ok(refused);
                }
                let ckey = ConsentRecord::key(tenant, &live.user.id, &step.client.client_id);
                let mut consent = load::<ConsentRecord>(tx, &ckey)?.unwrap_or_default();
                consent.scopes.extend(scopes.iter().cloned());
                save(tx, &ckey, &consent)?;
                // CONSENT-require-consent: a consent withdrawn while this page was open leaves
                // scopes the user has not approved now; they are asked for, not granted.
                let missing: Vec<String> = consent.missing(&step.req.scopes).into_iter().cloned().collect();
                if step.client.require_consent && !missing.is_empty() {
                    let expires_at = now.plus(self.config.auth_transaction_ttl);
                    return ask_consent(tx, &step, &live, transaction, expires_at, missing);
                }
                self.issue_code(tx, &step, &live.record, &live.key, &fresh)
            })()?;
            self.signed_response(tx, tenant, now, out)
        });
        out.unwrap_or_else(storage_page)
    }
}

/// Stores `transaction` as awaiting the user's consent to `scopes` and shows the consent page.
fn ask_consent(
    tx: &mut dyn Tx,
    step: &Step<'_>,
    live: &LiveSession,
    transaction: &str,
    expires_at: UnixTime,
    scopes: Vec<String>,
) -> Result<AuthorizeOutcome> {
    let rec = AuthTransactionRecord {
        tenant: step.tenant.into(),
        request: step.req.clone(),
        expires_at,
        step: AwaitingStep::AwaitingConsent {
            session_key: live.key.clone(),
            scopes: scopes.clone(),
        },
    };
    save(tx, &AuthTransactionRecord::key(step.tenant, transaction), &rec)?;
    Ok(AuthorizeOutcome::Consent(ConsentPage {
        transaction: transaction.to_string(),
        client_id: step.client.client_id.clone(),
        client_name: step.client.name.clone(),
        branding: step.client.branding.clone(),
        scopes,
        username: live.user.profile.username.clone(),
        links: ClientLinks::of(&step.client),
    }))
}
