//! Second factors: TOTP and recovery codes at sign-in, the tenant's policy, acr/amr, step-up.

mod common;
use common::*;
use engine::admin::TenantPatch;
use engine::authorize::second_factor::{FactorOutcome, SecondFactorPage};
use engine::mfa::account::{AccountAction, AccountOutcome, AccountPage};
use engine::mfa::{totp, SecondFactorPolicy};
use engine::{AuthorizationRequest, AuthorizeOutcome, LoginOutcome};
use spec::ErrorCode;

fn set_policy(w: &mut World, policy: SecondFactorPolicy) {
    let token = admin_token(w, T);
    let p = principal(w, &token).unwrap();
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    let mut admin = w.engine.tenant_admin(&p, T).unwrap();
    let patch = TenantPatch {
        second_factor: Some(policy),
        ..Default::default()
    };
    admin.update_tenant(&mut env, patch).unwrap();
}

fn factor_page(out: &AuthorizeOutcome) -> SecondFactorPage {
    match out {
        AuthorizeOutcome::SecondFactor(p) => p.clone(),
        other => panic!("expected the second-factor page, got {other:?}"),
    }
}

fn with_acr(acr: &str) -> AuthorizationRequest {
    let mut req = web_request();
    req.acr_values = Some(acr.into());
    req
}

impl World {
    fn second_factor(&mut self, txn: &str, code: &str, session: Option<&str>) -> FactorOutcome {
        let mut env = engine::env::Env::new(self.now, &mut self.rng);
        self.engine.handle_second_factor(&mut env, T, txn, code, session)
    }
    fn enrol(&mut self, txn: &str, code: &str, session: Option<&str>) -> FactorOutcome {
        let mut env = engine::env::Env::new(self.now, &mut self.rng);
        self.engine.handle_totp_enrolment(&mut env, T, txn, code, session)
    }
    fn carry_on(&mut self, txn: &str, session: Option<&str>) -> AuthorizeOutcome {
        let mut env = engine::env::Env::new(self.now, &mut self.rng);
        self.engine.handle_sign_in_continue(&mut env, T, txn, session)
    }

    /// Password for `req` in a fresh browser: the second-factor page that follows.
    fn password_then_factor_page(&mut self, req: &AuthorizationRequest) -> SecondFactorPage {
        let AuthorizeOutcome::Login(login) = self.authorize(req, None) else {
            panic!("expected the login page")
        };
        match self.login(&login.transaction, "alice", PASSWORD, None) {
            LoginOutcome::SecondFactor(out) => factor_page(&out),
            other => panic!("expected a second factor to be asked, got {other:?}"),
        }
    }

    /// Enrols alice's app through a sign-in asking for two factors; returns the secret, the
    /// recovery codes and the session.
    fn enrol_alice(&mut self) -> (Vec<u8>, Vec<String>, String) {
        let page = self.password_then_factor_page(&with_acr("2"));
        let enrolment = page.enrolment.expect("alice has no app yet: enrolment");
        assert!(enrolment
            .uri
            .starts_with("otpauth://totp/ACME:alice%40school.example?secret="));
        let secret = totp::secret_from_base32(&enrolment.secret).unwrap();
        let code = totp::code_at(&secret, self.now);
        let FactorOutcome::Passed {
            session: Some(session),
            next: AuthorizeOutcome::RecoveryCodes(codes),
        } = self.enrol(&page.transaction, &code, None)
        else {
            panic!("enrolment failed")
        };
        assert_eq!(codes.codes.len(), 10);
        // The request goes on from the same browser: consent, then the code.
        let next = self.carry_on(&codes.transaction, Some(&session.token));
        let AuthorizeOutcome::Consent(consent) = next else {
            panic!("expected consent, got {next:?}")
        };
        let out = self.consent(&consent.transaction, Some(&session.token), true);
        let tokens = self.exchange(&code_of(&out)).unwrap();
        let id = claims(tokens.id_token.as_deref().unwrap());
        assert_eq!(id["acr"], "2");
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        (secret, codes.codes, session.token)
    }
}

#[test]
fn acr_values_2_enrols_an_app_and_the_id_token_says_two_factors() {
    spec::covers("OIDC-CORE-3.1.2.1-acr-values");
    spec::covers("OIDC-CORE-2-acr");
    let mut w = World::new(90);
    // Without a second factor: acr 1 and amr pwd.
    let (tokens, _) = w.web_tokens("openid");
    let id = claims(tokens.id_token.as_deref().unwrap());
    assert_eq!(
        (id["acr"].as_str(), id["amr"].clone()),
        (Some("1"), serde_json::json!(["pwd"]))
    );
    let (_, codes, _) = w.enrol_alice();
    assert!(codes.iter().all(|c| c.len() == 11));
    // The user record keeps the app's secret sealed and the codes hashed, never in clear.
    let stored = w.engine.user(T, &w.alice.id).unwrap().unwrap();
    let text = serde_json::to_string(&stored).unwrap();
    assert!(codes
        .iter()
        .all(|c| !text.contains(c.as_str()) && !text.contains(&c.replace('-', ""))));
    assert_eq!(stored.second_factors.recovery_codes.len(), 10);
}

#[test]
fn once_enrolled_every_sign_in_asks_and_a_code_works_once() {
    spec::covers("MFA-totp-once");
    spec::covers("MFA-policy");
    let mut w = World::new(91);
    let (secret, _, _) = w.enrol_alice();
    // A plain request (no acr_values) now asks for the app's code too.
    let page = w.password_then_factor_page(&web_request());
    assert!(page.enrolment.is_none());
    // The code already used at enrolment, in the same 30 seconds: refused.
    let used = totp::code_at(&secret, w.now);
    match w.second_factor(&page.transaction, &used, None) {
        FactorOutcome::Rejected { account, page } => {
            assert_eq!(account, "alice");
            assert_eq!(factor_page(&page).error, Some("That code is not right."));
        }
        other => panic!("a replayed code passed: {other:?}"),
    }
    // The next step's code passes; the sign-in ends in a code with two factors.
    w.advance(30);
    let code = totp::code_at(&secret, w.now);
    let FactorOutcome::Passed { session: Some(s), next } = w.second_factor(&page.transaction, &code, None) else {
        panic!("the fresh code failed")
    };
    let tokens = w.exchange(&code_of(&next)).unwrap();
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["acr"], "2");
    // The same code in another sign-in, same step: refused.
    let page = w.password_then_factor_page(&web_request());
    assert!(matches!(
        w.second_factor(&page.transaction, &code, Some(&s.token)),
        FactorOutcome::Rejected { .. }
    ));
}

#[test]
fn a_recovery_code_works_once() {
    spec::covers("MFA-recovery-once");
    let mut w = World::new(92);
    let (_, codes, _) = w.enrol_alice();
    let page = w.password_then_factor_page(&web_request());
    let typed = codes[4].to_uppercase();
    let FactorOutcome::Passed { next, .. } = w.second_factor(&page.transaction, &typed, None) else {
        panic!("a recovery code failed")
    };
    let tokens = w.exchange(&code_of(&next)).unwrap();
    assert_eq!(
        claims(tokens.id_token.as_deref().unwrap())["amr"],
        serde_json::json!(["pwd", "otp", "mfa"])
    );
    let page = w.password_then_factor_page(&web_request());
    assert!(matches!(
        w.second_factor(&page.transaction, &codes[4], None),
        FactorOutcome::Rejected { .. }
    ));
    let left = w
        .engine
        .user(T, &w.alice.id)
        .unwrap()
        .unwrap()
        .second_factors
        .recovery_codes
        .len();
    assert_eq!(left, 9);
}

#[test]
fn five_wrong_codes_abandon_the_sign_in() {
    let mut w = World::new(93);
    let (secret, _, _) = w.enrol_alice();
    w.advance(60);
    let page = w.password_then_factor_page(&web_request());
    for n in 1..5 {
        assert!(
            matches!(
                w.second_factor(&page.transaction, "000000", None),
                FactorOutcome::Rejected { .. }
            ),
            "wrong code {n}"
        );
    }
    match w.second_factor(&page.transaction, "000000", None) {
        FactorOutcome::ErrorPage(e) => assert_eq!(e.code, ErrorCode::AccessDenied),
        other => panic!("{other:?}"),
    }
    // Even the right code cannot finish it now.
    let code = totp::code_at(&secret, w.now);
    assert!(matches!(
        w.second_factor(&page.transaction, &code, None),
        FactorOutcome::ErrorPage(_)
    ));
}

#[test]
fn a_required_policy_raises_a_one_factor_session_before_any_code() {
    spec::covers("MFA-policy");
    let mut w = World::new(94);
    let (tokens, session) = w.web_tokens(web_request().scope.as_deref().unwrap());
    let sid = claims(tokens.id_token.as_deref().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    set_policy(&mut w, SecondFactorPolicy::Required);
    // prompt=none cannot show the enrolment: interaction_required.
    let mut silent = web_request();
    silent.prompt = Some("none".into());
    assert_eq!(
        redirect_error(&w.authorize(&silent, Some(&session))),
        "interaction_required"
    );
    // The signed-in session gets no code: alice sets up an app first, without her password.
    let page = factor_page(&w.authorize(&web_request(), Some(&session)));
    let secret = totp::secret_from_base32(&page.enrolment.expect("enrolment").secret).unwrap();
    // Another browser cannot answer for this session.
    let code = totp::code_at(&secret, w.now);
    assert!(matches!(
        w.enrol(&page.transaction, &code, None),
        FactorOutcome::ErrorPage(_)
    ));
    let FactorOutcome::Passed { session: None, next } = w.enrol(&page.transaction, &code, Some(&session)) else {
        panic!("enrolment in the session's browser failed")
    };
    let AuthorizeOutcome::RecoveryCodes(codes) = next else {
        panic!()
    };
    let out = w.carry_on(&codes.transaction, Some(&session));
    let tokens = w.exchange(&code_of(&out)).unwrap();
    let id = claims(tokens.id_token.as_deref().unwrap());
    assert_eq!(
        (id["acr"].as_str(), id["sid"].as_str()),
        (Some("2"), Some(sid.as_str())),
        "the same session, raised"
    );
    assert_eq!(id["auth_time"], w.now.0);
}

#[test]
fn an_essential_acr_nobody_offers_is_refused() {
    let mut w = World::new(95);
    let mut req = web_request();
    req.claims = Some(r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:loa:4"]}}}"#.into());
    assert_eq!(redirect_error(&w.authorize(&req, None)), "access_denied");
    // Password only: two factors asked as essential cannot be met either.
    set_policy(&mut w, SecondFactorPolicy::PasswordOnly);
    req.claims = Some(r#"{"id_token":{"acr":{"essential":true,"value":"2"}}}"#.into());
    let AuthorizeOutcome::Login(login) = w.authorize(&req, None) else {
        panic!()
    };
    match w.login(&login.transaction, "alice", PASSWORD, None) {
        LoginOutcome::SecondFactor(out) => assert_eq!(redirect_error(&out), "access_denied"),
        other => panic!("{other:?}"),
    }
    // ...while acr_values (voluntary) signs in with the password alone.
    let (out, _) = w.interact(&with_acr("2"), None);
    let tokens = w.exchange(&code_of(&out)).unwrap();
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["acr"], "1");
}

#[test]
fn a_user_disabled_between_password_and_code_gets_nothing() {
    let mut w = World::new(96);
    let (secret, _, _) = w.enrol_alice();
    w.advance(60);
    let page = w.password_then_factor_page(&web_request());
    let id = w.alice.id.clone();
    w.engine.set_user_disabled(T, &id, true).unwrap();
    let code = totp::code_at(&secret, w.now);
    assert_eq!(
        match w.second_factor(&page.transaction, &code, None) {
            FactorOutcome::ErrorPage(e) => e.code,
            other => panic!("{other:?}"),
        },
        ErrorCode::InvalidRequest
    );
}

#[test]
fn an_administrator_resets_a_lost_app_and_the_user_enrols_again() {
    let mut w = World::new(97);
    w.enrol_alice();
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let id = w.alice.id.clone();
    let info = w.engine.tenant_admin(&p, T).unwrap().second_factors(&id).unwrap();
    assert_eq!((info.totp_enrolled_at.is_some(), info.recovery_codes_left), (true, 10));
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    w.engine
        .tenant_admin(&p, T)
        .unwrap()
        .reset_second_factors(&mut env, &id)
        .unwrap();
    let info = w.engine.tenant_admin(&p, T).unwrap().second_factors(&id).unwrap();
    assert_eq!((info.totp_enrolled_at, info.recovery_codes_left), (None, 0));
    // Optional policy, nothing enrolled: the password alone signs in again.
    let (out, _) = w.interact(&web_request(), None);
    let tokens = w.exchange(&code_of(&out)).unwrap();
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["acr"], "1");
}

fn account(w: &mut World, session: Option<&str>, action: AccountAction) -> AccountPage {
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    match w.engine.handle_account(&mut env, T, session, action) {
        AccountOutcome::Page(p) => p,
        other => panic!("expected the account page, got {other:?}"),
    }
}

#[test]
fn the_account_page_turns_two_step_sign_in_on_and_off() {
    spec::covers("MFA-policy");
    let mut w = World::new(98);
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    assert_eq!(
        w.engine.handle_account(&mut env, T, None, AccountAction::View),
        AccountOutcome::SignInFirst
    );
    let (_, session) = w.web_tokens(web_request().scope.as_deref().unwrap());
    let s = Some(session.as_str());
    let page = account(&mut w, s, AccountAction::View);
    assert_eq!((page.totp_enrolled_at, page.two_factor_session), (None, false));
    let page = account(&mut w, s, AccountAction::StartTotp);
    let secret = totp::secret_from_base32(&page.setting_up.expect("a key to set up").secret).unwrap();
    let page = account(&mut w, s, AccountAction::ConfirmTotp("000000".into()));
    assert!(page.message.unwrap().refused && page.totp_enrolled_at.is_none());
    let code = totp::code_at(&secret, w.now);
    let page = account(&mut w, s, AccountAction::ConfirmTotp(code));
    assert_eq!(page.new_codes.len(), 10);
    assert!(page.totp_enrolled_at.is_some() && page.two_factor_session);
    // The session proved the app: the next request gets its code at once, with two factors.
    let (out, _) = w.interact(&web_request(), s);
    let tokens = w.exchange(&code_of(&out)).unwrap();
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["acr"], "2");
    // New recovery codes replace the old ones.
    let again = account(&mut w, s, AccountAction::NewRecoveryCodes);
    assert!(again.new_codes.iter().all(|c| !page.new_codes.contains(c)));
    let left = w
        .engine
        .user(T, &w.alice.id)
        .unwrap()
        .unwrap()
        .second_factors
        .recovery_codes;
    assert_eq!(left.len(), 10);
    // Required: the app cannot be taken off; optional again: it can.
    set_policy(&mut w, SecondFactorPolicy::Required);
    let page = account(&mut w, s, AccountAction::RemoveTotp);
    assert!(page.message.unwrap().refused && page.totp_enrolled_at.is_some());
    set_policy(&mut w, SecondFactorPolicy::Optional);
    let page = account(&mut w, s, AccountAction::RemoveTotp);
    assert_eq!((page.totp_enrolled_at, page.recovery_codes_left), (None, 0));
}

#[test]
fn a_one_factor_session_cannot_take_the_app_off() {
    let mut w = World::new(99);
    w.enrol_alice();
    // A session from before: signed in with the password alone while the tenant asked for no app.
    set_policy(&mut w, SecondFactorPolicy::PasswordOnly);
    let (_, session) = w.web_tokens(web_request().scope.as_deref().unwrap());
    set_policy(&mut w, SecondFactorPolicy::Optional);
    for action in [AccountAction::RemoveTotp, AccountAction::NewRecoveryCodes] {
        let page = account(&mut w, Some(&session), action);
        assert!(page.message.unwrap().refused, "a one-factor session changed the app");
        assert!(page.totp_enrolled_at.is_some() && page.new_codes.is_empty());
    }
}

#[test]
fn a_client_that_requires_two_factors_raises_the_tenants_policy_for_its_sign_ins() {
    spec::covers("MFA-policy");
    let mut w = World::new(100);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    let patch = engine::client::ClientPatch {
        require_second_factor: Some(true),
        ..Default::default()
    };
    w.engine
        .tenant_admin(&p, T)
        .unwrap()
        .update_client(&mut env, "web", patch)
        .unwrap();
    // The portal (first party) signs in with the password alone...
    let (out, session) = w.interact(&portal_request(), None);
    assert!(matches!(out, AuthorizeOutcome::Redirect(_)));
    // ...the web client, with the same session, needs an app first.
    let page = factor_page(&w.authorize(&web_request(), session.as_deref()));
    assert!(page.enrolment.is_some());
}

#[test]
fn a_set_up_begun_before_another_never_replaces_the_app() {
    let mut w = World::new(101);
    // Two sign-ins asking for two factors, both at the set-up page.
    let first = w.password_then_factor_page(&with_acr("2"));
    let (secret, _, _) = w.enrol_alice();
    let stale = totp::secret_from_base32(&first.enrolment.unwrap().secret).unwrap();
    w.advance(60);
    let code = totp::code_at(&stale, w.now);
    assert!(matches!(
        w.enrol(&first.transaction, &code, None),
        FactorOutcome::ErrorPage(_)
    ));
    // The app set up second is still the one that signs in.
    let page = w.password_then_factor_page(&web_request());
    let code = totp::code_at(&secret, w.now);
    assert!(matches!(
        w.second_factor(&page.transaction, &code, None),
        FactorOutcome::Passed { .. }
    ));
}

#[test]
fn a_registered_default_acr_values_is_asked_when_the_request_names_none() {
    spec::covers("OIDC-CORE-3.1.2.1-acr-values");
    let mut w = World::new(102);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = engine::env::Env::new(w.now, &mut w.rng);
    let patch = TenantPatch {
        registration_policy: Some(engine::tenant::RegistrationPolicy::Open),
        ..Default::default()
    };
    w.engine
        .tenant_admin(&p, T)
        .unwrap()
        .update_tenant(&mut env, patch)
        .unwrap();
    let m = engine::client::registration::ClientMetadata::from_json(serde_json::json!({
        "redirect_uris": ["https://rp.example/cb"],
        "default_acr_values": ["2"],
    }))
    .unwrap();
    let reg = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    assert_eq!(
        reg["default_acr_values"],
        serde_json::json!(["2"]),
        "echoed as registered"
    );
    let mut req = web_request();
    req.client_id = Some(reg["client_id"].as_str().unwrap().into());
    req.redirect_uri = Some("https://rp.example/cb".into());
    req.scope = Some("openid".into());
    let page = w.password_then_factor_page(&req);
    assert!(page.enrolment.is_some(), "two factors asked by the client's default");
    // The request's own acr_values win over the default.
    req.acr_values = Some("1".into());
    let AuthorizeOutcome::Login(login) = w.authorize(&req, None) else {
        panic!()
    };
    assert!(matches!(
        w.login(&login.transaction, "alice", PASSWORD, None),
        LoginOutcome::LoggedIn { .. }
    ));
}
