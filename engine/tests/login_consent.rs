//! Login, browser sessions, consent, prompt and max_age.

mod common;
use common::*;
use engine::{AuthorizationRequest, AuthorizeOutcome, LoginOutcome};

fn transaction_of(out: &AuthorizeOutcome) -> String {
    match out {
        AuthorizeOutcome::Login(p) => p.transaction.clone(),
        AuthorizeOutcome::Consent(p) => p.transaction.clone(),
        other => panic!("expected a page, got {other:?}"),
    }
}

#[test]
fn wrong_password_unknown_or_disabled_user_get_the_same_rejection_and_can_retry() {
    spec::covers("LOGIN-invalid-credentials");
    let mut w = World::new(20);
    let txn = transaction_of(&w.authorize(&web_request(), None));
    let bob = w.create_user("bob", "bobs password");
    w.engine.set_user_disabled(T, &bob.id, true).unwrap();
    let mut messages = Vec::new();
    for (user, pw) in [
        ("alice", "wrong"),
        ("mallory", PASSWORD),
        ("bob", "bobs password"),
        ("", ""),
    ] {
        match w.login(&txn, user, pw, None) {
            LoginOutcome::Rejected(p) => {
                assert_eq!(p.transaction, txn);
                messages.push(p.error);
            }
            other => panic!("{user}: {other:?}"),
        }
    }
    assert!(messages.windows(2).all(|m| m[0] == m[1]), "{messages:?}");
    // The request is still pending: the right password (by email, any case) works.
    match w.login(&txn, "Alice@School.example", PASSWORD, None) {
        LoginOutcome::LoggedIn {
            next: AuthorizeOutcome::Consent(_),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    // ...and only once.
    assert!(matches!(
        w.login(&txn, "alice", PASSWORD, None),
        LoginOutcome::ErrorPage(_)
    ));
}

#[test]
fn login_creates_a_session_whose_sid_and_auth_time_reach_the_id_token() {
    spec::covers("OIDC-CORE-2-session");
    let mut w = World::new(21);
    let login_time = w.now;
    let (tokens, session) = w.web_tokens("openid");
    let id = claims(tokens.id_token.as_ref().unwrap());
    assert_eq!(id["auth_time"], login_time.0);
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    let sid = id["sid"].as_str().unwrap().to_string();
    // The same session serves a second request without login or consent.
    w.advance(100);
    let (code, _) = w.code_for(&web_request(), Some(&session));
    let id2 = claims(&w.exchange(&code).unwrap().id_token.unwrap());
    assert_eq!(id2["sid"], sid.as_str());
    assert_eq!(id2["auth_time"], login_time.0);
}

#[test]
fn consent_is_asked_once_and_then_only_for_new_scopes() {
    spec::covers("CONSENT-remembered");
    spec::covers("CONSENT-require-consent");
    let mut w = World::new(22);
    let (_, session) = w.web_tokens("openid profile");
    let session = Some(session.as_str());
    // Same scopes: straight to a code.
    let req = AuthorizationRequest {
        scope: Some("openid profile".into()),
        ..web_request()
    };
    assert!(w.authorize(&req, session).clone_code().is_some());
    // A new scope: only it is asked.
    let req = AuthorizationRequest {
        scope: Some("openid profile email".into()),
        ..web_request()
    };
    match w.authorize(&req, session) {
        AuthorizeOutcome::Consent(p) => assert_eq!(p.scopes, vec!["email".to_string()]),
        other => panic!("{other:?}"),
    }
    // A first-party client without require_consent never asks.
    let (out, _) = w.interact(&portal_request(), None);
    assert!(out.clone_code().is_some());
    let mut w2 = World::new(22);
    let out = w2.authorize(&portal_request(), None);
    let txn = transaction_of(&out);
    match w2.login(&txn, "alice", PASSWORD, None) {
        LoginOutcome::LoggedIn { next, .. } => assert!(next.clone_code().is_some(), "{next:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn denying_consent_redirects_access_denied_and_grants_nothing() {
    spec::covers("RFC6749-4.1.2.1-access-denied");
    let mut w = World::new(23);
    let txn = transaction_of(&w.authorize(&web_request(), None));
    let LoginOutcome::LoggedIn { session, next } = w.login(&txn, "alice", PASSWORD, None) else {
        panic!()
    };
    let txn = transaction_of(&next);
    let out = w.consent(&txn, Some(&session.token), false);
    assert_eq!(redirect_error(&out), "access_denied");
    // Nothing remembered: the next request asks again.
    assert!(matches!(
        w.authorize(&web_request(), Some(&session.token)),
        AuthorizeOutcome::Consent(_)
    ));
    // The answered transaction cannot be answered again.
    assert!(matches!(
        w.consent(&txn, Some(&session.token), true),
        AuthorizeOutcome::ErrorPage(_)
    ));
}

#[test]
fn consent_must_come_from_the_session_that_was_asked() {
    spec::covers("CONSENT-require-consent");
    let mut w = World::new(24);
    let txn = transaction_of(&w.authorize(&web_request(), None));
    let LoginOutcome::LoggedIn { next, session } = w.login(&txn, "alice", PASSWORD, None) else {
        panic!()
    };
    let txn = transaction_of(&next);
    assert!(matches!(w.consent(&txn, None, true), AuthorizeOutcome::ErrorPage(_)));
    assert!(matches!(
        w.consent(&txn, Some("forged-session"), true),
        AuthorizeOutcome::ErrorPage(_)
    ));
    // Another user's live session (an attacker with their own CSRF pair) is refused too...
    w.create_user("mallory", "mallory's password");
    let other = transaction_of(&w.authorize(&web_request(), None));
    let LoginOutcome::LoggedIn { session: mallory, .. } = w.login(&other, "mallory", "mallory's password", None) else {
        panic!()
    };
    assert!(matches!(
        w.consent(&txn, Some(&mallory.token), false),
        AuthorizeOutcome::ErrorPage(_)
    ));
    // ...and none of these refusals used up the transaction: its own session still answers it.
    let out = w.consent(&txn, Some(&session.token), true);
    assert!(!code_of(&out).is_empty());
}

#[test]
fn prompt_none_never_shows_ui() {
    spec::covers("OIDC-CORE-3.1.2.1-prompt-none");
    let mut w = World::new(25);
    let req = AuthorizationRequest {
        prompt: Some("none".into()),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&req, None)), "login_required");
    assert_eq!(
        redirect_error(&w.authorize(&req, Some("no-such-session"))),
        "login_required"
    );
    // Logged in but no consent yet (log in through the portal, which needs none).
    let (_, session) = w.interact(&portal_request(), None);
    let session = session.unwrap();
    assert_eq!(redirect_error(&w.authorize(&req, Some(&session))), "consent_required");
    // Once alice consented to the web client (in another session), the portal session gets a code silently.
    let (first, _) = w.web_tokens("openid profile email");
    let first = claims(first.id_token.as_ref().unwrap());
    let code = code_of(&w.authorize(&req, Some(&session)));
    let id = claims(&w.exchange(&code).unwrap().id_token.unwrap());
    assert_eq!(id["sub"], first["sub"]);
}

#[test]
fn prompt_login_forces_a_fresh_login_with_a_newer_auth_time() {
    spec::covers("OIDC-CORE-3.1.2.1-prompt-login");
    let mut w = World::new(26);
    let (t1, session) = w.web_tokens("openid profile email");
    w.advance(30);
    let req = AuthorizationRequest {
        prompt: Some("login".into()),
        ..web_request()
    };
    let out = w.authorize(&req, Some(&session));
    let txn = transaction_of(&out);
    assert!(matches!(out, AuthorizeOutcome::Login(_)));
    let LoginOutcome::LoggedIn { session: s2, next } = w.login(&txn, "alice", PASSWORD, Some(&session)) else {
        panic!()
    };
    let t2 = w.exchange(&code_of(&next)).unwrap();
    let (a1, a2) = (
        claims(t1.id_token.as_ref().unwrap()),
        claims(t2.id_token.as_ref().unwrap()),
    );
    assert_eq!(
        a2["auth_time"].as_u64().unwrap(),
        a1["auth_time"].as_u64().unwrap() + 30
    );
    // The old session was replaced.
    assert_eq!(
        redirect_error(&w.authorize(
            &AuthorizationRequest {
                prompt: Some("none".into()),
                ..web_request()
            },
            Some(&session)
        )),
        "login_required"
    );
    assert!(w.authorize(&web_request(), Some(&s2.token)).clone_code().is_some());
}

#[test]
fn prompt_consent_asks_again() {
    spec::covers("OIDC-CORE-3.1.2.1-prompt-consent");
    let mut w = World::new(27);
    let (_, session) = w.web_tokens("openid profile email");
    let req = AuthorizationRequest {
        prompt: Some("consent".into()),
        ..web_request()
    };
    match w.authorize(&req, Some(&session)) {
        AuthorizeOutcome::Consent(p) => assert_eq!(p.scopes, vec!["email", "openid", "profile"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_age_forces_login_when_the_session_is_older() {
    spec::covers("OIDC-CORE-3.1.2.1-max-age");
    let mut w = World::new(28);
    let (_, session) = w.web_tokens("openid profile email");
    w.advance(10);
    let young = AuthorizationRequest {
        max_age: Some("10000".into()),
        ..web_request()
    };
    let code = code_of(&w.authorize(&young, Some(&session)));
    let id = claims(&w.exchange(&code).unwrap().id_token.unwrap());
    assert!(id["auth_time"].is_u64());
    let old = AuthorizationRequest {
        max_age: Some("1".into()),
        ..web_request()
    };
    assert!(matches!(w.authorize(&old, Some(&session)), AuthorizeOutcome::Login(_)));
    let none = AuthorizationRequest {
        max_age: Some("1".into()),
        prompt: Some("none".into()),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&none, Some(&session))), "login_required");
}

#[test]
fn id_token_hint_must_be_ours_and_name_the_session_user() {
    spec::covers("OIDC-CORE-3.1.2.1-id-token-hint");
    let mut w = World::new(29);
    let (tokens, session) = w.web_tokens("openid profile email");
    let hint = tokens.id_token.unwrap();
    let silent = AuthorizationRequest {
        prompt: Some("none".into()),
        id_token_hint: Some(hint.clone()),
        ..web_request()
    };
    assert!(w.authorize(&silent, Some(&session)).clone_code().is_some());
    // A hint for another user: login_required with prompt=none.
    let carol = w.create_user("carol", "carols password");
    let req = AuthorizationRequest {
        client_id: Some("portal".into()),
        redirect_uri: Some("https://portal.example.com/cb".into()),
        ..web_request()
    };
    let out = w.authorize(&req, None);
    let LoginOutcome::LoggedIn { session: cs, .. } = w.login(&transaction_of(&out), "carol", "carols password", None)
    else {
        panic!()
    };
    assert_ne!(carol.id, w.alice.id);
    assert_eq!(redirect_error(&w.authorize(&silent, Some(&cs.token))), "login_required");
    // A tampered or foreign hint is invalid_request.
    let last = if hint.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &hint[..hint.len() - 1]);
    let bad = AuthorizationRequest {
        id_token_hint: Some(forged),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&bad, Some(&session))), "invalid_request");
    // An access token is not an ID token.
    let bad = AuthorizationRequest {
        id_token_hint: Some(tokens.access_token),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&bad, Some(&session))), "invalid_request");
}

trait CodeOf {
    fn clone_code(&self) -> Option<String>;
}

impl CodeOf for AuthorizeOutcome {
    fn clone_code(&self) -> Option<String> {
        match self {
            AuthorizeOutcome::Redirect(r) => r.param("code").map(str::to_owned),
            _ => None,
        }
    }
}
