//! JARM: `*.jwt` response modes deliver the authorization response (a code or an error) as one
//! `response` JWT, signed with the tenant's key for the client's
//! `authorization_signed_response_alg`, carrying `iss`, `aud` and `exp`.

mod common;
use common::*;
use engine::client::ClientRecord;
use engine::jose::keys::parse_jwks;
use engine::store::{load, save, Store};
use engine::{AuthorizationRequest, AuthorizeOutcome};
use serde_json::Value;
use spec::ResponseMode;

/// The claims of a JARM redirect's `response`, its signature checked against the tenant's JWKS.
fn verified_response(w: &World, out: &AuthorizeOutcome) -> (ResponseMode, engine::jose::Header, Value) {
    let AuthorizeOutcome::Redirect(r) = out else {
        panic!("{out:?}")
    };
    assert_eq!(r.params.len(), 1, "only `response`: {:?}", r.params);
    let jwt = r.param("response").expect("a response parameter");
    let compact = engine::jose::decode(jwt).unwrap();
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    let keys = parse_jwks(&jwks);
    let kid = compact.header.kid.clone();
    let (_, key) = keys
        .iter()
        .find(|(k, _)| *k == kid)
        .expect("signed with a published key");
    compact.verify(key).expect("the signature verifies");
    (r.mode, compact.header.clone(), compact.claims().unwrap())
}

fn jwt_mode(mode: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        response_mode: Some(mode.into()),
        ..web_request()
    }
}

#[test]
fn a_code_comes_signed_with_iss_aud_exp_and_state() {
    spec::covers("JARM-2.1-signed-response");
    let mut w = World::new(21);
    let (out, _) = w.interact(&jwt_mode("jwt"), None);
    let (mode, header, claims) = verified_response(&w, &out);
    assert_eq!(mode, ResponseMode::Query, "jwt is query.jwt for the code flow");
    assert_eq!(header.alg, "RS256");
    assert_eq!(claims["iss"], format!("https://id.example.com/{T}"));
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["state"], "st-123");
    assert!(claims["exp"].as_u64().unwrap() > w.now.0);
    let code = claims["code"].as_str().unwrap().to_string();
    assert!(w.exchange(&code).is_ok(), "the code inside is a real one");
}

#[test]
fn each_jwt_mode_delivers_where_its_base_mode_does_and_errors_come_signed_too() {
    spec::covers("JARM-2.3-response-modes");
    let mut w = World::new(22);
    for (name, mode) in [
        ("query.jwt", ResponseMode::Query),
        ("fragment.jwt", ResponseMode::Fragment),
        ("form_post.jwt", ResponseMode::FormPost),
    ] {
        let (out, _) = w.interact(&jwt_mode(name), None);
        assert_eq!(verified_response(&w, &out).0, mode, "{name}");
    }
    // An error after the redirect target is proven is signed as well.
    let mut bad = jwt_mode("fragment.jwt");
    bad.scope = Some("openid admin".into());
    let out = w.authorize(&bad, None);
    let (mode, _, claims) = verified_response(&w, &out);
    assert_eq!(
        (mode, claims["error"].as_str()),
        (ResponseMode::Fragment, Some("invalid_scope"))
    );
    assert_eq!(claims["aud"], "web");
    // An unknown mode is refused in the clear (nothing says the client reads JWTs).
    assert_eq!(
        redirect_error(&w.authorize(&jwt_mode("page.jwt"), None)),
        "invalid_request"
    );
}

#[test]
fn the_client_chooses_the_signing_alg() {
    let mut w = World::new(23);
    w.engine
        .store()
        .transact(|tx| {
            let key = ClientRecord::key(T, "web");
            let mut c = load::<ClientRecord>(tx, &key)?.unwrap();
            c.metadata
                .insert("authorization_signed_response_alg".into(), "ES384".into());
            save(tx, &key, &c)
        })
        .unwrap();
    let (out, _) = w.interact(&jwt_mode("jwt"), None);
    assert_eq!(verified_response(&w, &out).1.alg, "ES384");
}

#[test]
fn registration_takes_only_algs_the_provider_signs_with() {
    for (alg, ok) in [("ES256", true), ("PS256", false), ("none", false)] {
        let metadata = engine::client::registration::ClientMetadata::from_json(serde_json::json!({
            "redirect_uris": [WEB_CB],
            "authorization_signed_response_alg": alg,
        }))
        .unwrap();
        let mut w = World::new(24);
        w.engine
            .store()
            .transact(|tx| {
                let mut t = load::<engine::TenantRecord>(tx, T)?.unwrap();
                t.registration_policy = engine::tenant::RegistrationPolicy::Open;
                save(tx, T, &t)
            })
            .unwrap();
        let mut env = engine::Env::new(w.now, &mut w.rng);
        let registered = w.engine.handle_register(&mut env, T, None, &metadata);
        match ok {
            true => assert_eq!(registered.unwrap()["authorization_signed_response_alg"], alg),
            false => assert_eq!(code(registered), spec::ErrorCode::InvalidClientMetadata, "{alg}"),
        }
    }
}
