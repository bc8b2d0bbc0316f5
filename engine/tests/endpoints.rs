//! Client credentials, revocation, introspection, UserInfo, logout, tenant isolation, key rotation.

mod common;
use common::*;
use engine::client::auth::ClientCredentials;
use engine::session::logout::{EndSessionOutcome, EndSessionRequest};
use engine::store::{Store, Table};
use engine::token::TokenRequest;
use engine::{fixtures, AuthorizationRequest, AuthorizeOutcome, Env, UnixTime};
use serde_json::json;
use spec::ErrorCode;

fn cc(scope: Option<&str>) -> TokenRequest {
    TokenRequest {
        grant_type: Some("client_credentials".into()),
        scope: scope.map(str::to_owned),
        ..Default::default()
    }
}

#[test]
fn client_credentials_issue_an_access_token_about_the_client_only() {
    spec::covers("RFC6749-4.4-client-credentials");
    let mut w = World::new(60);
    let creds = w.first_creds();
    let t = w.token(&creds, &cc(Some("openid"))).unwrap();
    assert!(t.id_token.is_none() && t.refresh_token.is_none());
    assert_eq!((t.scope.as_str(), t.expires_in), ("openid", 3600));
    let at = claims(&t.access_token);
    assert_eq!(at["sub"], "portal");
    assert_eq!(at["aud"], "portal");
    assert_eq!(at["client_id"], "portal");
    assert_eq!(at["token_type"], "access_token");
    assert_eq!(at["application"], "Partners Portal");
    assert!(w.introspect(&creds, &t.access_token).active);
    assert_eq!(
        w.token(&creds, &cc(Some("offline_access"))).unwrap_err().code(),
        ErrorCode::InvalidScope
    );
    assert_eq!(
        w.token(&creds, &cc(Some("admin"))).unwrap_err().code(),
        ErrorCode::InvalidScope
    );
    assert_eq!(w.token(&creds, &cc(None)).unwrap().scope, "");
    // Public clients and clients without the grant cannot.
    let spa = ClientCredentials::PublicId("spa".into());
    assert_eq!(
        w.token(&spa, &cc(None)).unwrap_err().code(),
        ErrorCode::UnauthorizedClient
    );
    let web = w.web_creds();
    assert_eq!(
        w.token(&web, &cc(None)).unwrap_err().code(),
        ErrorCode::UnauthorizedClient
    );
    // And UserInfo refuses a token with no user.
    assert_eq!(w.userinfo(&t.access_token).unwrap_err().code(), ErrorCode::InvalidToken);
}

#[test]
fn revoking_a_refresh_token_kills_its_family_and_an_access_token_only_itself() {
    spec::covers("RFC7009-2.1-revocation");
    let mut w = World::new(61);
    let creds = w.web_creds();
    let (a, _) = w.web_tokens("openid profile email");
    let (b, _) = w.web_tokens("openid profile email");
    w.revoke(&creds, &a.access_token).unwrap();
    assert!(!w.introspect(&creds, &a.access_token).active);
    assert!(
        w.introspect(&creds, a.refresh_token.as_ref().unwrap()).active,
        "revoking an access token leaves the refresh token"
    );
    w.revoke(&creds, b.refresh_token.as_ref().unwrap()).unwrap();
    assert!(!w.introspect(&creds, b.refresh_token.as_ref().unwrap()).active);
    assert!(!w.introspect(&creds, &b.access_token).active);
    assert_eq!(
        w.token(&creds, &refresh_request(b.refresh_token.as_ref().unwrap()))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidGrant
    );
    assert!(
        w.introspect(&creds, a.refresh_token.as_ref().unwrap()).active,
        "other families are untouched"
    );
}

#[test]
fn revocation_of_unknown_or_foreign_tokens_succeeds_and_changes_nothing() {
    spec::covers("RFC7009-2.2-unknown-token");
    let mut w = World::new(62);
    let (t, _) = w.web_tokens("openid");
    let web = w.web_creds();
    let other = w.first_creds();
    let before = w.engine.store().snapshot();
    for token in [
        "",
        "garbage",
        "a.b.c",
        t.access_token.as_str(),
        t.refresh_token.as_deref().unwrap(),
    ] {
        w.revoke(&other, token).unwrap();
    }
    assert_eq!(w.engine.store().snapshot(), before);
    assert!(w.introspect(&web, &t.access_token).active);
}

#[test]
fn revocation_and_introspection_need_an_authenticated_client() {
    spec::covers("RFC7009-2.1-client-auth");
    let mut w = World::new(63);
    let (t, _) = w.web_tokens("openid");
    let bad = ClientCredentials::Basic {
        client_id: "web".into(),
        secret: "wrong".into(),
    };
    assert_eq!(
        w.revoke(&bad, &t.access_token).unwrap_err().code(),
        ErrorCode::InvalidClient
    );
    assert_eq!(
        w.revoke(&ClientCredentials::Missing, &t.access_token)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidClient
    );
    let mut env = Env::new(w.now, &mut w.rng);
    assert_eq!(
        w.engine
            .handle_introspect(&mut env, T, &bad, &t.access_token)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidClient
    );
    let web = w.web_creds();
    assert!(w.introspect(&web, &t.access_token).active);
}

#[test]
fn introspection_reports_live_tokens_and_nothing_about_dead_or_foreign_ones() {
    spec::covers("RFC7662-2.2-inactive");
    let mut w = World::new(64);
    let (t, _) = w.web_tokens("openid profile");
    let web = w.web_creds();
    let i = w.introspect(&web, &t.access_token);
    assert!(i.active);
    assert_eq!(i.scope.as_deref(), Some("openid profile"));
    assert_eq!(i.client_id.as_deref(), Some("web"));
    assert_eq!(i.sub.as_deref(), Some(w.alice.id.as_str()));
    assert_eq!(i.exp, Some(w.now.0 + 3600));
    let v = serde_json::to_value(w.introspect(&web, "nonsense")).unwrap();
    assert_eq!(v, json!({"active": false}));
    // Another client does not learn about this client's tokens.
    let other = w.first_creds();
    assert!(!w.introspect(&other, &t.access_token).active);
    // ID tokens are not access tokens.
    assert!(!w.introspect(&web, t.id_token.as_ref().unwrap()).active);
    // Looked up by jti, so only the exact token issued counts: not the same header and claims
    // with another signature, nor widened claims with the original signature.
    let parts: Vec<&str> = t.access_token.split('.').collect();
    let mut sig = engine::secret::b64url_decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let resigned = format!("{}.{}.{}", parts[0], parts[1], engine::secret::b64url(&sig));
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine::secret::b64url_decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("openid profile email admin");
    let widened = format!(
        "{}.{}.{}",
        parts[0],
        engine::secret::b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    for forged in [&resigned, &widened] {
        assert!(!w.introspect(&web, forged).active);
        assert!(w.userinfo(forged).is_err());
    }
    assert!(w.introspect(&web, &t.access_token).active);
    // Expired.
    w.advance(3600);
    assert!(!w.introspect(&web, &t.access_token).active);
}

#[test]
fn userinfo_returns_exactly_the_granted_scopes_claims() {
    spec::covers("OIDC-CORE-5.3-userinfo-claims");
    let mut w = World::new(65);
    let (t, _) = w.web_tokens("openid");
    let u = w.userinfo(&t.access_token).unwrap();
    assert_eq!(serde_json::Value::Object(u), json!({"sub": w.alice.id}));
    let (t, _) = w.web_tokens("openid profile email address phone");
    let u = w.userinfo(&t.access_token).unwrap();
    assert_eq!(u["name"], "Alice Smith");
    assert_eq!(u["given_name"], "Alice");
    assert_eq!(u["preferred_username"], "alice");
    assert_eq!(u["email"], "alice@school.example");
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["address"]["locality"], "London");
    assert_eq!(u["phone_number"], "+44 20 7946 0000");
    assert!(u.get("organization_id").is_none() && u.get("permissions").is_none());
    let (code, _) = w.code_for(&portal_request(), None);
    let creds = w.first_creds();
    let t = w
        .token(
            &creds,
            &code_exchange(&code, "https://portal.example.com/cb", Some(VERIFIER)),
        )
        .unwrap();
    let u = w.userinfo(&t.access_token).unwrap();
    assert_eq!(u["organization_id"], "org-1");
    assert_eq!(u["organization_memberships"][0]["role"], "admin");
    assert_eq!(u["user_type"], "customer_admin");
    assert_eq!(u["permissions"], json!(["org:manage", "licenses:read"]));
}

#[test]
fn userinfo_refuses_everything_but_a_live_access_token() {
    spec::covers("RFC6750-3.1-invalid-token");
    let mut w = World::new(66);
    let (t, _) = w.web_tokens("openid profile");
    let last = if t.access_token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &t.access_token[..t.access_token.len() - 1]);
    for bad in [
        t.id_token.clone().unwrap(),
        t.refresh_token.clone().unwrap(),
        forged,
        "".into(),
        "x.y.z".into(),
    ] {
        assert_eq!(
            w.userinfo(&bad).unwrap_err().code(),
            ErrorCode::InvalidToken,
            "{bad:.30}"
        );
    }
    assert!(w.userinfo(&t.access_token).is_ok());
    // Disabled user: the token dies.
    w.engine.set_user_disabled(T, &w.alice.id, true).unwrap();
    assert_eq!(w.userinfo(&t.access_token).unwrap_err().code(), ErrorCode::InvalidToken);
    w.engine.set_user_disabled(T, &w.alice.id, false).unwrap();
    let creds = w.web_creds();
    w.revoke(&creds, &t.access_token).unwrap();
    assert_eq!(w.userinfo(&t.access_token).unwrap_err().code(), ErrorCode::InvalidToken);
    let (t2, _) = w.web_tokens("openid");
    w.advance(3601);
    assert_eq!(
        w.userinfo(&t2.access_token).unwrap_err().code(),
        ErrorCode::InvalidToken
    );
}

fn logout_req(hint: Option<&str>, uri: Option<&str>) -> EndSessionRequest {
    EndSessionRequest {
        id_token_hint: hint.map(str::to_owned),
        client_id: None,
        post_logout_redirect_uri: uri.map(str::to_owned),
        state: Some("bye".into()),
    }
}

#[test]
fn logout_with_a_hint_ends_the_session_revokes_and_redirects_with_state() {
    spec::covers("OIDC-RPLOGOUT-logout-revokes");
    spec::covers("OIDC-RPLOGOUT-2-post-logout-redirect");
    let mut w = World::new(67);
    let (t, session) = w.web_tokens("openid");
    let (other_client, _) = {
        let (code, _) = w.code_for(&portal_request(), Some(&session));
        let creds = w.first_creds();
        (
            w.token(
                &creds,
                &code_exchange(&code, "https://portal.example.com/cb", Some(VERIFIER)),
            )
            .unwrap(),
            (),
        )
    };
    let out = w.end_session(
        &logout_req(t.id_token.as_deref(), Some("https://app.example.com/logged-out")),
        Some(&session),
        false,
    );
    match out {
        EndSessionOutcome::LoggedOut { redirect: Some(r), .. } => {
            assert_eq!(r.location(), "https://app.example.com/logged-out?state=bye");
        }
        other => panic!("{other:?}"),
    }
    let web = w.web_creds();
    assert!(!w.introspect(&web, t.refresh_token.as_ref().unwrap()).active);
    assert!(!w.introspect(&web, &t.access_token).active);
    let portal = w.first_creds();
    assert!(
        w.introspect(&portal, other_client.refresh_token.as_ref().unwrap())
            .active,
        "other clients' grants survive"
    );
    let silent = AuthorizationRequest {
        prompt: Some("none".into()),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&silent, Some(&session))), "login_required");
}

#[test]
fn logout_never_redirects_to_an_unregistered_uri_or_on_a_bad_hint() {
    spec::covers("OIDC-RPLOGOUT-2-post-logout-redirect");
    spec::covers("OIDC-RPLOGOUT-2-id-token-hint");
    spec::covers("JOSE-alg-none-rejected");
    let mut w = World::new(68);
    let (t, session) = w.web_tokens("openid");
    let hint = t.id_token.unwrap();
    let parts: Vec<&str> = hint.split('.').collect();
    let none_hint = format!("{}.{}.", engine::secret::b64url(br#"{"alg":"none"}"#), parts[1]);
    let foreign = {
        let key = engine::jose::SigningKey::from_material(&fixtures::rsa_key2()).unwrap();
        engine::jose::encode(&key, "JWT", &claims(&hint))
    };
    let cases = [
        logout_req(Some(&hint), Some("https://app.example.com/logged-out?foo=bar")),
        logout_req(Some(&hint), Some("https://evil.example/")),
        logout_req(Some(&none_hint), Some("https://app.example.com/logged-out")),
        logout_req(Some(&foreign), Some("https://app.example.com/logged-out")),
        logout_req(Some(&t.access_token), None),
        logout_req(None, Some("https://app.example.com/logged-out")),
        EndSessionRequest {
            client_id: Some("portal".into()),
            ..logout_req(Some(&hint), None)
        },
    ];
    for req in cases {
        assert!(
            matches!(
                w.end_session(&req, Some(&session), true),
                EndSessionOutcome::ErrorPage(_)
            ),
            "{req:?}"
        );
    }
    // Nothing was ended by the refused requests.
    let web = w.web_creds();
    assert!(w.introspect(&web, t.refresh_token.as_ref().unwrap()).active);
    let again = AuthorizationRequest {
        scope: Some("openid".into()),
        ..web_request()
    };
    assert!(
        matches!(w.authorize(&again, Some(&session)), AuthorizeOutcome::Redirect(_)),
        "the session is still live"
    );
}

#[test]
fn logout_without_a_hint_asks_for_confirmation_first() {
    spec::covers("OIDC-RPLOGOUT-2-id-token-hint");
    let mut w = World::new(69);
    let (t, session) = w.web_tokens("openid");
    let req = EndSessionRequest {
        client_id: Some("web".into()),
        ..logout_req(None, Some("https://app.example.com/logged-out"))
    };
    assert_eq!(
        w.end_session(&req, Some(&session), false),
        EndSessionOutcome::Confirm {
            client_name: Some("Web App".into())
        }
    );
    let web = w.web_creds();
    assert!(
        w.introspect(&web, t.refresh_token.as_ref().unwrap()).active,
        "nothing happens before confirmation"
    );
    match w.end_session(&req, Some(&session), true) {
        EndSessionOutcome::LoggedOut { redirect: Some(r), .. } => assert_eq!(r.param("state"), Some("bye")),
        other => panic!("{other:?}"),
    }
    assert!(!w.introspect(&web, t.refresh_token.as_ref().unwrap()).active);
    // No parameters at all: confirm, then a logged-out page.
    let empty = EndSessionRequest::default();
    assert_eq!(
        w.end_session(&empty, None, false),
        EndSessionOutcome::Confirm { client_name: None }
    );
    assert_eq!(
        w.end_session(&empty, None, true),
        EndSessionOutcome::LoggedOut {
            redirect: None,
            backchannel: vec![]
        }
    );
}

#[test]
fn logout_sends_a_logout_token_to_each_backchannel_client_of_the_session() {
    spec::covers("OIDC-BCLOGOUT-2.4-logout-token");
    let mut w = World::new(71);
    let mut spec = engine::ClientSpec::new("BC App", spec::ClientAuthMethod::ClientSecretBasic, &[WEB_CB]);
    spec.client_id = Some("bc".into());
    spec.extras.backchannel_logout_uri = Some("https://bc.example.com/logout".into());
    let (_, bc_secret) = w.add_client(T, spec);
    // One session, two clients: the web client (no back-channel URI) and the bc client.
    let (t, session) = w.web_tokens("openid profile");
    let bc_req = AuthorizationRequest {
        client_id: Some("bc".into()),
        ..web_request()
    };
    let (code, _) = w.code_for(&bc_req, Some(&session));
    let bc_creds = ClientCredentials::Basic {
        client_id: "bc".into(),
        secret: bc_secret.unwrap(),
    };
    let bc_tokens = w
        .token(&bc_creds, &code_exchange(&code, WEB_CB, Some(VERIFIER)))
        .unwrap();
    let sid = claims(t.id_token.as_deref().unwrap())["sid"].clone();
    let out = w.end_session(&logout_req(t.id_token.as_deref(), None), Some(&session), false);
    let EndSessionOutcome::LoggedOut { backchannel, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(backchannel.len(), 1, "only the client with a back-channel URI");
    assert_eq!(backchannel[0].uri, "https://bc.example.com/logout");
    let token = &backchannel[0].logout_token;
    assert_eq!(header(token).typ.as_deref(), Some("logout+jwt"));
    let lt = claims(token);
    assert_eq!(lt["iss"], "https://id.example.com/acme");
    assert_eq!(lt["aud"], "bc");
    assert_eq!(lt["sid"], sid);
    assert_eq!(lt["sub"], w.alice.id.as_str());
    assert!(lt["jti"].is_string() && lt["iat"].is_u64() && lt["exp"].as_u64() > lt["iat"].as_u64());
    assert_eq!(
        lt["events"][engine::session::logout::BACKCHANNEL_EVENT],
        serde_json::json!({})
    );
    assert!(lt.get("nonce").is_none());
    // The notified client's grant is gone; a second logout of the ended session notifies nobody.
    assert!(
        !w.introspect(&bc_creds, bc_tokens.refresh_token.as_ref().unwrap())
            .active
    );
    let again = w.end_session(&logout_req(t.id_token.as_deref(), None), Some(&session), false);
    assert!(matches!(again, EndSessionOutcome::LoggedOut { backchannel, .. } if backchannel.is_empty()));
}

#[test]
fn userinfo_is_a_signed_jwt_for_clients_registered_for_one() {
    spec::covers("OIDC-CORE-5.3.2-signed-userinfo");
    let mut w = World::new(72);
    let (t, _) = w.web_tokens("openid profile");
    let mut env = Env::new(w.now, &mut w.rng);
    let plain = w.engine.handle_userinfo_response(&mut env, T, &t.access_token).unwrap();
    assert!(matches!(plain, engine::token::userinfo::UserInfoResponse::Json(ref m) if m["name"] == "Alice Smith"));
    let mut web = w.web.clone();
    web.extras.userinfo_signed_response_alg = Some(spec::SigningAlg::ES384);
    w.engine.update_client(web).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let signed = w.engine.handle_userinfo_response(&mut env, T, &t.access_token).unwrap();
    let engine::token::userinfo::UserInfoResponse::Jwt(jwt) = signed else {
        panic!("{signed:?}")
    };
    assert_eq!(header(&jwt).alg, "ES384");
    let c = claims(&jwt);
    assert_eq!(
        (c["iss"].as_str(), c["aud"].as_str()),
        (Some("https://id.example.com/acme"), Some("web"))
    );
    assert_eq!(c["sub"], w.alice.id.as_str());
    assert_eq!(c["name"], "Alice Smith");
    // It verifies with a published key.
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    let compact = engine::jose::decode(&jwt).unwrap();
    let verified = engine::jose::keys::parse_jwks(&jwks)
        .iter()
        .any(|(kid, key)| kid.as_deref() == compact.header.kid.as_deref() && compact.verify(key).is_ok());
    assert!(verified, "signed by a published key");
}

#[test]
fn nothing_of_one_tenant_works_in_another() {
    spec::covers("TENANCY-isolation");
    let mut w = World::new(70);
    let (t, session) = w.web_tokens("openid profile");
    let creds = w.web_creds();
    // A same-named client in the other tenant, with its own secret.
    let mut s = engine::ClientSpec::new("Web App", spec::ClientAuthMethod::ClientSecretBasic, &[WEB_CB]);
    s.client_id = Some("web".into());
    let (_, other_secret) = w.add_client(OTHER, s);
    let other_creds = ClientCredentials::Basic {
        client_id: "web".into(),
        secret: other_secret.unwrap(),
    };
    let mut env = Env::new(w.now, &mut w.rng);
    let e = &w.engine;
    assert_eq!(
        e.handle_userinfo(&mut env, OTHER, &t.access_token).unwrap_err().code(),
        ErrorCode::InvalidToken
    );
    assert!(
        !e.handle_introspect(&mut env, OTHER, &other_creds, &t.access_token)
            .unwrap()
            .active
    );
    assert!(
        !e.handle_introspect(&mut env, OTHER, &other_creds, t.refresh_token.as_ref().unwrap())
            .unwrap()
            .active
    );
    assert_eq!(
        e.handle_token(
            &mut env,
            OTHER,
            &creds,
            &refresh_request(t.refresh_token.as_ref().unwrap())
        )
        .unwrap_err()
        .code(),
        ErrorCode::InvalidClient
    );
    assert_eq!(
        e.handle_token(
            &mut env,
            OTHER,
            &other_creds,
            &refresh_request(t.refresh_token.as_ref().unwrap())
        )
        .unwrap_err()
        .code(),
        ErrorCode::InvalidGrant
    );
    // The acme session is no session in globex: login is needed there.
    assert!(matches!(
        e.handle_authorize(&mut env, OTHER, &web_request(), Some(&session)),
        AuthorizeOutcome::Login(_)
    ));
    // A code of acme is unknown in globex.
    let (code, _) = w.code_for(&web_request(), Some(&session));
    let mut env = Env::new(w.now, &mut w.rng);
    let e = &w.engine;
    let r = e.handle_token(
        &mut env,
        OTHER,
        &other_creds,
        &code_exchange(&code, WEB_CB, Some(VERIFIER)),
    );
    assert_eq!(r.unwrap_err().code(), ErrorCode::InvalidGrant);
    // Both tenants use the same test keys here, so the refusals above come from the issuer and record checks.
    assert_eq!(e.issuer(OTHER), "https://id.example.com/globex");
}

#[test]
fn key_rotation_keeps_the_old_key_published_and_old_tokens_valid() {
    spec::covers("JOSE-jwks-publication");
    spec::covers("JOSE-key-rotation");
    let mut w = World::new(71);
    let (t, _) = w.web_tokens("openid");
    let old_kid = header(&t.access_token).kid.unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let new_kid = w.engine.install_signing_key(&mut env, T, fixtures::rsa_key2()).unwrap();
    assert_ne!(old_kid, new_kid);
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3, "RS256 old + new, ES384");
    // Active keys first: a client that takes the first RSA key (python-jose) takes the signing one.
    let first_rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap();
    assert_eq!(first_rsa["kid"], new_kid.as_str());
    assert_eq!(kids.last(), Some(&old_kid.as_str()), "retired keys come last: {kids:?}");
    let (t2, _) = w.web_tokens("openid");
    assert_eq!(header(&t2.access_token).kid.unwrap(), new_kid);
    assert!(
        w.userinfo(&t.access_token).is_ok(),
        "tokens signed by the retired key still verify"
    );
    // Pruning retired keys stops publishing the old one.
    w.engine.prune_retired_keys(T, w.now.plus(1)).unwrap();
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(w.userinfo(&t.access_token).is_err());
}

#[test]
fn a_code_dies_with_the_session_that_authorized_it() {
    spec::covers("OIDC-RPLOGOUT-logout-revokes");
    let mut w = World::new(72);
    let (t, session) = w.web_tokens("openid profile email");
    let (code, _) = w.code_for(&web_request(), Some(&session));
    let out = w.end_session(&logout_req(t.id_token.as_deref(), None), Some(&session), false);
    assert!(matches!(out, EndSessionOutcome::LoggedOut { .. }), "{out:?}");
    let e = w.exchange(&code).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidGrant);
}

#[test]
fn purge_deletes_only_what_nothing_can_use_and_keeps_live_families() {
    spec::covers("RFC9700-4.14.2-refresh-reuse");
    let mut w = World::new(90);
    // Indexed from the start: what the flows below write is found through their own entries.
    assert_eq!(w.engine.purge_expired(w.now).unwrap().total(), 0);
    let web = w.web_creds();
    let (old, _) = w.web_tokens("openid offline_access");
    let old_rt = old.refresh_token.clone().unwrap();
    // Fresh: nothing is dead yet.
    assert_eq!(w.engine.purge_expired(w.now).unwrap().total(), 0);
    // Past the refresh lifetime (30 days) plus the access-token lifetime: the first family is over.
    w.advance(31 * 86_400);
    let (live, _) = w.web_tokens("openid offline_access");
    let live_rt = live.refresh_token.clone().unwrap();
    let report = w.engine.purge_expired(w.now).unwrap();
    assert!(report.refresh_tokens >= 1 && report.grants >= 1, "{report:?}");
    assert!(
        report.codes >= 1 && report.access_tokens >= 1 && report.sessions >= 1,
        "{report:?}"
    );
    assert_eq!(
        w.engine.purge_expired(w.now).unwrap().total(),
        0,
        "a second purge finds nothing"
    );
    // The live family is untouched: its access token works and its refresh token rotates.
    assert!(w.userinfo(&live.access_token).is_ok());
    assert!(w.introspect(&web, &live.access_token).active);
    let rotated = w
        .token(&web, &refresh_request(&live_rt))
        .expect("live refresh still rotates");
    // Reuse detection still holds for the live family after a purge.
    w.engine.purge_expired(w.now).unwrap();
    assert_eq!(
        w.token(&web, &refresh_request(&live_rt)).unwrap_err().code(),
        ErrorCode::InvalidGrant
    );
    assert!(w
        .token(&web, &refresh_request(&rotated.refresh_token.unwrap()))
        .is_err());
    // The purged family's refresh token is simply unknown.
    assert_eq!(
        w.token(&web, &refresh_request(&old_rt)).unwrap_err().code(),
        ErrorCode::InvalidGrant
    );
}

#[test]
fn a_family_without_refresh_tokens_goes_once_its_access_token_expires() {
    let mut w = World::new(94);
    assert_eq!(w.engine.purge_expired(w.now).unwrap().total(), 0);
    let grants = |w: &World| w.engine.store().scan(Table::Grant, "").unwrap().len();
    // A client that gets refresh tokens only with offline_access (the web client always does).
    w.engine
        .store()
        .transact(|tx| {
            let key = engine::client::ClientRecord::key(T, "web");
            let mut web = engine::store::load::<engine::client::ClientRecord>(tx, &key)?.unwrap();
            web.refresh_without_offline_access = false;
            engine::store::save(tx, &key, &web)
        })
        .unwrap();
    let (t, _) = w.web_tokens("openid");
    assert!(t.refresh_token.is_none(), "no offline_access, no refresh token");
    assert_eq!(grants(&w), 1);
    let ttl = t.expires_in;
    w.advance(ttl - 1);
    assert_eq!(w.engine.purge_expired(w.now).unwrap().grants, 0);
    assert!(
        w.userinfo(&t.access_token).is_ok(),
        "the family lives as long as its token"
    );
    w.advance(2);
    let report = w.engine.purge_expired(w.now).unwrap();
    assert_eq!((report.grants, report.access_tokens), (1, 1), "{report:?}");
    assert_eq!(
        grants(&w),
        0,
        "one grant left behind per login would grow the store for ever"
    );
}

#[test]
fn purge_goes_through_tables_larger_than_one_page() {
    use engine::token::grant::AccessTokenRecord;
    let w = World::new(93);
    let record = |expires_at| AccessTokenRecord {
        tenant: T.into(),
        client_id: "web".into(),
        grant_id: None,
        user_id: None,
        expires_at,
        revoked: false,
        token_hash: None,
        jkt: None,
    };
    // A store the expiry index covers from the start (the first purge indexes what was there).
    w.engine.purge_expired(w.now).unwrap();
    // 2,600 expired records (more than two pages) with a live one every 100th key.
    w.engine
        .store()
        .transact(|tx| {
            for i in 0..2_600 {
                let at = if i % 100 == 0 {
                    w.now.plus(3_600)
                } else {
                    UnixTime(w.now.0 - 1)
                };
                engine::store::save(tx, &AccessTokenRecord::key(T, &format!("jti-{i:05}")), &record(at))?;
            }
            Ok(())
        })
        .unwrap();
    let report = w.engine.purge_expired(w.now).unwrap();
    assert_eq!(report.access_tokens, 2_574, "{report:?}");
    // Each expired record's expiry entry was read once, and at most one page of entries not due.
    assert!((2_574..=2_574 + 1_024).contains(&report.read), "{report:?}");
    let left = w.engine.store().scan(Table::AccessToken, "").unwrap();
    assert_eq!(left.len(), 26, "the live ones stay");
}

#[test]
fn purge_drops_audit_events_past_their_retention_only() {
    let mut w = World::new(92);
    let count = |w: &World| w.engine.store().scan(Table::Audit, "").unwrap().len();
    w.web_tokens("openid");
    let first = count(&w);
    assert!(first > 0, "a login and a token exchange are audited");
    w.advance(89 * 86_400);
    assert_eq!(
        w.engine.purge_expired(w.now).unwrap().audit_events,
        0,
        "within the 90 days nothing goes"
    );
    w.web_tokens("openid");
    let both = count(&w);
    assert!(both > first);
    w.advance(2 * 86_400);
    let report = w.engine.purge_expired(w.now).unwrap();
    assert_eq!(
        report.audit_events, first,
        "exactly the events older than 90 days: {report:?}"
    );
    assert_eq!(count(&w), both - first);
}

#[test]
fn cors_origins_are_the_origins_of_the_tenants_redirect_uris() {
    spec::covers("CORS-client-origins");
    let mut w = World::new(91);
    let origins: Vec<String> = w.engine.cors_origins(T).unwrap().into_iter().collect();
    assert_eq!(
        origins,
        [
            "http://localhost:5173",
            "https://app.example.com",
            "https://portal.example.com"
        ]
    );
    assert!(
        w.engine.cors_origins(OTHER).unwrap().is_empty(),
        "tenants do not share origins"
    );
    let mut spec = engine::ClientSpec::new(
        "Native",
        spec::ClientAuthMethod::None,
        &["com.example.app:/callback", "https://spa.example.org:8443/cb"],
    );
    spec.client_id = Some("native".into());
    w.add_client(T, spec);
    let origins = w.engine.cors_origins(T).unwrap();
    assert!(origins.contains("https://spa.example.org:8443"));
    assert_eq!(origins.len(), 4, "a private-use scheme has no web origin: {origins:?}");
}
