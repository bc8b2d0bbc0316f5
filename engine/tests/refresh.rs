//! Refresh tokens: rotation, reuse detection, scope narrowing, client binding, issuance policy.

mod common;
use common::*;
use engine::client::auth::ClientCredentials;
use engine::{AuthorizationRequest, ClientSpec};
use quickcheck::{quickcheck, TestResult};
use spec::{ClientAuthMethod, ErrorCode, GrantType};

#[test]
fn every_refresh_rotates_and_the_old_token_stops_working() {
    spec::covers("OAUTH21-4.3.1-refresh-rotation");
    let mut w = World::new(50);
    let (t, _) = w.web_tokens("openid profile");
    let creds = w.web_creds();
    let mut rt = t.refresh_token.unwrap();
    for _ in 0..5 {
        w.advance(10);
        let next = w.token(&creds, &refresh_request(&rt)).unwrap();
        let new_rt = next.refresh_token.unwrap();
        assert_ne!(new_rt, rt);
        assert!(w.introspect(&creds, &new_rt).active);
        assert!(!w.introspect(&creds, &rt).active);
        let id = claims(&next.id_token.unwrap());
        assert!(id.get("nonce").is_none());
        assert_eq!(id["sub"], w.alice.id.as_str());
        rt = new_rt;
    }
}

#[test]
fn reusing_a_rotated_token_revokes_the_whole_family() {
    spec::covers("RFC9700-4.14.2-refresh-reuse");
    let mut w = World::new(51);
    let (t, _) = w.web_tokens("openid");
    let creds = w.web_creds();
    let stolen = t.refresh_token.unwrap();
    let honest = w.token(&creds, &refresh_request(&stolen)).unwrap();
    // The attacker replays the old token: refused, and the family dies.
    let e = w.token(&creds, &refresh_request(&stolen)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
    assert!(!w.introspect(&creds, honest.refresh_token.as_ref().unwrap()).active);
    assert!(!w.introspect(&creds, &honest.access_token).active);
    assert!(!w.introspect(&creds, &t.access_token).active);
    assert_eq!(
        w.token(&creds, &refresh_request(honest.refresh_token.as_ref().unwrap()))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn refresh_may_narrow_scope_but_never_widen_it() {
    spec::covers("RFC6749-6-refresh-scope-narrow");
    let mut w = World::new(52);
    let (t, _) = w.web_tokens("openid profile email");
    let creds = w.web_creds();
    let mut req = refresh_request(t.refresh_token.as_ref().unwrap());
    req.scope = Some("openid offline_access".into());
    assert_eq!(w.token(&creds, &req).unwrap_err().code(), ErrorCode::InvalidScope);
    req.scope = Some("email openid".into());
    let narrowed = w.token(&creds, &req).unwrap();
    assert_eq!(narrowed.scope, "email openid");
    // The family keeps its original grant: a later refresh without scope gets all of it.
    let full = w
        .token(&creds, &refresh_request(narrowed.refresh_token.as_ref().unwrap()))
        .unwrap();
    assert_eq!(full.scope, "email openid profile");
}

#[test]
fn a_refresh_token_only_works_for_its_client() {
    spec::covers("RFC6749-6-refresh-client-binding");
    let mut w = World::new(53);
    let (t, _) = w.web_tokens("openid");
    let rt = t.refresh_token.unwrap();
    let other = w.first_creds();
    assert_eq!(
        w.token(&other, &refresh_request(&rt)).unwrap_err().code(),
        ErrorCode::InvalidGrant
    );
    let creds = w.web_creds();
    assert!(
        w.token(&creds, &refresh_request(&rt)).is_ok(),
        "a foreign attempt does not burn the token"
    );
}

#[test]
fn refresh_tokens_follow_the_client_policy_and_expire() {
    spec::covers("RFC6749-4.1.2-refresh-policy");
    let mut w = World::new(54);
    // Policy off: only offline_access yields a refresh token.
    let mut s = ClientSpec::new(
        "Strict",
        ClientAuthMethod::ClientSecretBasic,
        &["https://strict.example/cb"],
    );
    s.client_id = Some("strict".into());
    s.refresh_without_offline_access = false;
    s.refresh_token_ttl = 100;
    let (_, secret) = w.add_client(T, s);
    let creds = ClientCredentials::Basic {
        client_id: "strict".into(),
        secret: secret.unwrap(),
    };
    let base = AuthorizationRequest {
        client_id: Some("strict".into()),
        redirect_uri: Some("https://strict.example/cb".into()),
        ..web_request()
    };
    let (code, session) = w.code_for(
        &AuthorizationRequest {
            scope: Some("openid".into()),
            ..base.clone()
        },
        None,
    );
    let t = w
        .token(
            &creds,
            &code_exchange(&code, "https://strict.example/cb", Some(VERIFIER)),
        )
        .unwrap();
    assert!(t.refresh_token.is_none());
    let (code, _) = w.code_for(
        &AuthorizationRequest {
            scope: Some("openid offline_access".into()),
            ..base
        },
        session.as_deref(),
    );
    let t = w
        .token(
            &creds,
            &code_exchange(&code, "https://strict.example/cb", Some(VERIFIER)),
        )
        .unwrap();
    let rt = t.refresh_token.unwrap();
    w.advance(100);
    assert_eq!(
        w.token(&creds, &refresh_request(&rt)).unwrap_err().code(),
        ErrorCode::InvalidGrant
    );
    // The SPA has no refresh_token grant at all.
    let (code, _) = w.code_for(&spa_request(), None);
    let spa = ClientCredentials::PublicId("spa".into());
    assert!(w
        .token(&spa, &code_exchange(&code, SPA_CB, Some(VERIFIER)))
        .unwrap()
        .refresh_token
        .is_none());
    let _ = GrantType::RefreshToken;
}

quickcheck! {
    /// Any interleaving of honest refreshes, replays of old tokens and revocations leaves at most
    /// one live refresh token in the family, and none once a replay or revocation happened.
    fn at_most_one_live_refresh_token_per_family(ops: Vec<u8>) -> TestResult {
        spec::covers("RFC9700-4.14.2-refresh-reuse");
        spec::covers("OAUTH21-4.3.1-refresh-rotation");
        if ops.len() > 12 {
            return TestResult::discard();
        }
        let mut w = World::new(55);
        let (t, _) = w.web_tokens("openid");
        let creds = w.web_creds();
        let mut all = vec![t.refresh_token.unwrap()];
        let mut dead = false;
        for op in ops {
            let pick = all[op as usize % all.len()].clone();
            match op % 3 {
                0 => {
                    let latest = all.last().unwrap().clone();
                    match w.token(&creds, &refresh_request(&latest)) {
                        Ok(r) => { assert!(!dead); all.push(r.refresh_token.unwrap()); }
                        Err(_) => assert!(dead),
                    }
                }
                1 => {
                    let is_latest = &pick == all.last().unwrap();
                    match w.token(&creds, &refresh_request(&pick)) {
                        Ok(r) => { assert!(is_latest && !dead); all.push(r.refresh_token.unwrap()); }
                        Err(_) => dead = true,
                    }
                }
                _ => { w.revoke(&creds, &pick).unwrap(); dead = true; }
            }
            let live = all.iter().filter(|rt| w.introspect(&creds, rt).active).count();
            if live > 1 || (dead && live != 0) {
                return TestResult::failed();
            }
        }
        TestResult::passed()
    }
}
