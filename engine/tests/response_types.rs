//! The implicit and hybrid response types (OIDC Core §3.2, §3.3): off unless the client is
//! registered for them; in the fragment by default, never the query; an ID token with the nonce,
//! `c_hash` beside a code and `at_hash` beside an access token; the access token works at
//! UserInfo; a hybrid code is redeemed as any code.

mod common;
use common::*;
use engine::authorize::response_type::ResponseType;
use engine::client::ClientRecord;
use engine::jose::keys::parse_jwks;
use engine::store::{load, save, Store};
use engine::token::minting::at_hash;
use engine::{AuthorizationRequest, AuthorizeOutcome};
use serde_json::Value;
use spec::{ResponseMode, SigningAlg};

fn allow(w: &World, types: &[&str]) {
    w.engine
        .store()
        .transact(|tx| {
            let key = ClientRecord::key(T, "web");
            let mut c = load::<ClientRecord>(tx, &key)?.unwrap();
            c.extras.response_types = types.iter().map(|t| t.to_string()).collect();
            save(tx, &key, &c)
        })
        .unwrap();
}

fn asking(rt: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        response_type: Some(rt.into()),
        ..web_request()
    }
}

/// The verified claims of an ID token of the tenant.
fn verified(w: &World, jwt: &str) -> Value {
    let compact = engine::jose::decode(jwt).unwrap();
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    let ok = parse_jwks(&jwks)
        .iter()
        .any(|(kid, key)| *kid == compact.header.kid && compact.verify(key).is_ok());
    assert!(ok, "signed by a published key");
    compact.claims().unwrap()
}

fn redirect(out: &AuthorizeOutcome) -> &engine::RedirectResponse {
    match out {
        AuthorizeOutcome::Redirect(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_registration_only_code_and_token_alone_never() {
    spec::covers("RFC9700-2.1.2-implicit-off");
    let mut w = World::new(501);
    for rt in [
        "id_token",
        "code id_token",
        "code token",
        "code id_token token",
        "id_token token",
    ] {
        assert_eq!(
            redirect_error(&w.authorize(&asking(rt), None)),
            "unauthorized_client",
            "{rt}"
        );
    }
    allow(&w, &["token", "code id_token"]);
    assert_eq!(
        redirect_error(&w.authorize(&asking("token"), None)),
        "unsupported_response_type"
    );
    assert_eq!(
        redirect_error(&w.authorize(&asking("code"), None)),
        "unauthorized_client",
        "a client that lists its response types gets those only"
    );
}

#[test]
fn each_hybrid_and_implicit_type_answers_in_the_fragment_with_what_it_names() {
    spec::covers("OIDC-CORE-3.3-hybrid-implicit");
    spec::covers("OIDC-CORE-3.3.2.11-c-hash");
    spec::covers("OAUTH-MULTIPLE-RESPONSE-TYPES-fragment");
    let mut w = World::new(502);
    allow(&w, &engine::authorize::response_type::SUPPORTED);
    for rt in [
        "id_token",
        "id_token token",
        "code id_token",
        "code token",
        "code id_token token",
    ] {
        let parsed = ResponseType::parse(rt).unwrap();
        let (out, _) = w.interact(&asking(rt), None);
        let r = redirect(&out);
        assert_eq!(r.mode, ResponseMode::Fragment, "{rt}");
        assert!(r.location().contains('#'), "{rt}: {}", r.location());
        assert_eq!(r.param("state"), Some("st-123"));
        assert_eq!(r.param("code").is_some(), parsed.code, "{rt}");
        assert_eq!(r.param("access_token").is_some(), parsed.token, "{rt}");
        assert_eq!(r.param("id_token").is_some(), parsed.id_token, "{rt}");
        if let Some(at) = r.param("access_token") {
            assert_eq!(r.param("token_type"), Some("Bearer"));
            let claims = w.userinfo(at).expect("the access token works at UserInfo");
            assert_eq!(claims["sub"], w.alice.id.as_str());
        }
        if let Some(id) = r.param("id_token") {
            let c = verified(&w, id);
            assert_eq!(c["nonce"], "n-456", "{rt}");
            assert_eq!(c["aud"], "web");
            let alg = SigningAlg::RS256;
            match r.param("code") {
                Some(code) => assert_eq!(c["c_hash"], at_hash(alg, code).as_str(), "{rt}"),
                None => assert!(c.get("c_hash").is_none()),
            }
            match r.param("access_token") {
                Some(at) => assert_eq!(c["at_hash"], at_hash(alg, at).as_str(), "{rt}"),
                None => {
                    assert!(c.get("at_hash").is_none());
                    // No access token to fetch UserInfo with: the claims come in the ID token.
                    assert_eq!(c["email"], "alice@school.example", "{rt}");
                }
            }
        }
        if let Some(code) = r.param("code") {
            let t = w.exchange(code).expect("a hybrid code is redeemed as any code");
            assert!(t.id_token.is_some());
        }
    }
}

#[test]
fn an_id_token_needs_a_nonce_and_tokens_never_go_in_the_query() {
    spec::covers("OIDC-CORE-3.2.2.1-nonce-required");
    let mut w = World::new(503);
    allow(&w, &["code id_token", "id_token token"]);
    let mut no_nonce = asking("code id_token");
    no_nonce.nonce = None;
    let out = w.authorize(&no_nonce, None);
    assert_eq!(redirect_error(&out), "invalid_request");
    assert_eq!(
        redirect(&out).mode,
        ResponseMode::Fragment,
        "the error goes where the answer would"
    );
    let mut query = asking("id_token token");
    query.response_mode = Some("query".into());
    assert_eq!(redirect_error(&w.authorize(&query, None)), "invalid_request");
    let mut form = asking("id_token token");
    form.response_mode = Some("form_post".into());
    let (out, _) = w.interact(&form, None);
    assert_eq!(redirect(&out).mode, ResponseMode::FormPost);
    assert!(redirect(&out).param("access_token").is_some());
}

#[test]
fn an_implicit_access_token_dies_with_logout_and_has_no_refresh_token() {
    let mut w = World::new(504);
    allow(&w, &["id_token token"]);
    let (out, session) = w.interact(&asking("id_token token"), None);
    let r = redirect(&out);
    assert!(r.param("refresh_token").is_none());
    let at = r.param("access_token").unwrap().to_string();
    let id = r.param("id_token").unwrap().to_string();
    assert!(w.introspect(&w.web_creds(), &at).active);
    let req = engine::session::logout::EndSessionRequest {
        id_token_hint: Some(id),
        ..Default::default()
    };
    w.end_session(&req, session.as_deref(), true);
    assert!(!w.introspect(&w.web_creds(), &at).active, "logout revokes it");
}

#[test]
fn claims_asked_of_userinfo_come_in_the_id_token_when_no_access_token_does() {
    spec::covers("OIDC-CORE-5.5-claims-parameter");
    let mut w = World::new(505);
    allow(&w, &["id_token", "id_token token"]);
    let claims = r#"{"userinfo": {"phone_number": null}}"#;
    let mut req = asking("id_token");
    req.claims = Some(claims.into());
    let (out, _) = w.interact(&req, None);
    let c = verified(&w, redirect(&out).param("id_token").unwrap());
    assert_eq!(c["phone_number"], "+44 20 7946 0000");
    let mut req = asking("id_token token");
    req.claims = Some(claims.into());
    let (out, _) = w.interact(&req, None);
    let c = verified(&w, redirect(&out).param("id_token").unwrap());
    assert!(
        c.get("phone_number").is_none(),
        "with an access token they come from UserInfo"
    );
}
