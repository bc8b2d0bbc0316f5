//! Pushed authorization requests (RFC 9126): pushed once, used once, by the client that pushed
//! them, within 60 seconds; checked at the push as `/authorize` checks; required per client or
//! per tenant.

mod common;
use common::*;
use engine::authorize::pushed::{PushedRequest, REQUEST_URI_PREFIX};
use engine::client::ClientRecord;
use engine::store::{load, save, Store};
use engine::{AuthorizationRequest, AuthorizeOutcome, ClientCredentials, TenantRecord};
use spec::ErrorCode;

fn push(w: &mut World, creds: &ClientCredentials, req: &AuthorizationRequest) -> engine::Result<PushedRequest> {
    let mut env = engine::Env::new(w.now, &mut w.rng);
    w.engine.handle_par(&mut env, T, creds, req)
}

/// What the browser carries to `/authorize` after a push.
fn by_reference(client_id: &str, pushed: &PushedRequest) -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some(client_id.into()),
        request_uri: Some(pushed.request_uri.clone()),
        ..Default::default()
    }
}

fn pushed_web_request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: None,
        ..web_request()
    }
}

#[test]
fn a_pushed_request_signs_in_once_and_its_uri_is_then_spent() {
    spec::covers("RFC9126-2-pushed-authorization-request");
    spec::covers("RFC9126-2.2-request-uri-one-time");
    let mut w = World::new(11);
    let creds = w.web_creds();
    let pushed = push(&mut w, &creds, &pushed_web_request()).unwrap();
    assert!(pushed.request_uri.starts_with(REQUEST_URI_PREFIX));
    assert_eq!(pushed.expires_in, 60);
    // Parameters beside client_id and request_uri are not the pushed request's: ignored.
    let mut req = by_reference("web", &pushed);
    req.state = Some("from-the-url".into());
    req.redirect_uri = Some("https://evil.example/cb".into());
    let (out, _) = w.interact(&req, None);
    let AuthorizeOutcome::Redirect(r) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(r.target.uri(), WEB_CB);
    assert_eq!(r.param("state"), Some("st-123"), "the pushed state");
    let code = code_of(&out);
    let tokens = w.exchange(&code).unwrap();
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["nonce"], "n-456");
    // Spent: a second use is refused on a page, never redirected.
    assert_eq!(
        page_error(&w.authorize(&by_reference("web", &pushed), None)),
        ErrorCode::InvalidRequestUri
    );
}

#[test]
fn a_pushed_request_expires_after_sixty_seconds_and_belongs_to_its_client() {
    spec::covers("RFC9126-4-client-id-match");
    let mut w = World::new(12);
    let creds = w.web_creds();
    let pushed = push(&mut w, &creds, &pushed_web_request()).unwrap();
    // Another client's id: refused, and the request stays usable by its own client.
    assert_eq!(
        page_error(&w.authorize(&by_reference("spa", &pushed), None)),
        ErrorCode::InvalidRequestUri
    );
    let mut no_id = by_reference("web", &pushed);
    no_id.client_id = None;
    assert!(matches!(w.authorize(&no_id, None), AuthorizeOutcome::ErrorPage(_)));
    assert!(matches!(
        w.authorize(&by_reference("web", &pushed), None),
        AuthorizeOutcome::Login(_)
    ));
    let late = push(&mut w, &creds, &pushed_web_request()).unwrap();
    w.advance(61);
    assert_eq!(
        page_error(&w.authorize(&by_reference("web", &late), None)),
        ErrorCode::InvalidRequestUri
    );
    let unknown = PushedRequest {
        request_uri: format!("{REQUEST_URI_PREFIX}never-pushed"),
        expires_in: 60,
    };
    assert_eq!(
        page_error(&w.authorize(&by_reference("web", &unknown), None)),
        ErrorCode::InvalidRequestUri
    );
}

#[test]
fn a_push_is_checked_as_authorize_would_check_it() {
    spec::covers("RFC9126-2.1-no-request-uri");
    let mut w = World::new(13);
    let creds = w.web_creds();
    let with = |f: fn(&mut AuthorizationRequest)| {
        let mut r = pushed_web_request();
        f(&mut r);
        r
    };
    let cases: [(AuthorizationRequest, ErrorCode); 6] = [
        (with(|r| r.scope = Some("openid admin".into())), ErrorCode::InvalidScope),
        (
            with(|r| r.redirect_uri = Some("https://evil.example/cb".into())),
            ErrorCode::RedirectUriMismatch,
        ),
        (
            with(|r| r.response_type = Some("token".into())),
            ErrorCode::UnsupportedResponseType,
        ),
        (
            with(|r| r.code_challenge_method = Some("plain".into())),
            ErrorCode::InvalidRequest,
        ),
        (
            with(|r| r.request_uri = Some("https://app.example.com/req.jwt".into())),
            ErrorCode::InvalidRequest,
        ),
        (with(|r| r.client_id = Some("spa".into())), ErrorCode::InvalidRequest),
    ];
    for (req, expected) in cases {
        assert_eq!(code(push(&mut w, &creds, &req)), expected, "{req:?}");
    }
    let wrong = ClientCredentials::Basic {
        client_id: "web".into(),
        secret: "not the secret".into(),
    };
    let refused = push(&mut w, &wrong, &pushed_web_request()).unwrap_err();
    assert_eq!((refused.code(), refused.http_status()), (ErrorCode::InvalidClient, 401));
    // A public client pushes with its client_id alone.
    let spa = AuthorizationRequest {
        client_id: None,
        ..spa_request()
    };
    let pushed = push(&mut w, &ClientCredentials::PublicId("spa".into()), &spa).unwrap();
    assert!(matches!(
        w.authorize(&by_reference("spa", &pushed), None),
        AuthorizeOutcome::Login(_)
    ));
}

#[test]
fn a_client_or_a_tenant_can_require_pushed_requests() {
    spec::covers("RFC9126-6-require-par");
    let mut w = World::new(14);
    let store = w.engine.store();
    store
        .transact(|tx| {
            let key = ClientRecord::key(T, "web");
            let mut c = load::<ClientRecord>(tx, &key)?.unwrap();
            c.metadata
                .insert("require_pushed_authorization_requests".into(), true.into());
            save(tx, &key, &c)
        })
        .unwrap();
    assert_eq!(redirect_error(&w.authorize(&web_request(), None)), "invalid_request");
    let creds = w.web_creds();
    let pushed = push(&mut w, &creds, &pushed_web_request()).unwrap();
    assert!(matches!(
        w.authorize(&by_reference("web", &pushed), None),
        AuthorizeOutcome::Login(_)
    ));
    // Other clients are not affected until the tenant requires it of everyone.
    assert!(matches!(w.authorize(&spa_request(), None), AuthorizeOutcome::Login(_)));
    w.engine
        .store()
        .transact(|tx| {
            let mut t = load::<TenantRecord>(tx, T)?.unwrap();
            t.require_pushed_authorization_requests = true;
            save(tx, T, &t)
        })
        .unwrap();
    assert_eq!(redirect_error(&w.authorize(&spa_request(), None)), "invalid_request");
}

#[test]
fn a_dynamically_registered_client_can_require_pushed_requests() {
    spec::covers("RFC9126-6-require-par");
    let mut w = World::new(15);
    w.engine
        .store()
        .transact(|tx| {
            let mut t = load::<TenantRecord>(tx, T)?.unwrap();
            t.registration_policy = engine::tenant::RegistrationPolicy::Open;
            save(tx, T, &t)
        })
        .unwrap();
    let metadata = engine::client::registration::ClientMetadata::from_json(serde_json::json!({
        "redirect_uris": [WEB_CB],
        "require_pushed_authorization_requests": true,
    }))
    .unwrap();
    let mut env = engine::Env::new(w.now, &mut w.rng);
    let body = w.engine.handle_register(&mut env, T, None, &metadata).unwrap();
    assert_eq!(body["require_pushed_authorization_requests"], true, "echoed: {body:?}");
    let client_id = body["client_id"].as_str().unwrap().to_string();
    let req = AuthorizationRequest {
        client_id: Some(client_id.clone()),
        scope: Some("openid".into()),
        ..web_request()
    };
    assert_eq!(redirect_error(&w.authorize(&req, None)), "invalid_request");
    let secret = body["client_secret"].as_str().unwrap().to_string();
    let creds = ClientCredentials::Basic {
        client_id: client_id.clone(),
        secret,
    };
    let pushed = push(&mut w, &creds, &AuthorizationRequest { client_id: None, ..req }).unwrap();
    assert!(matches!(
        w.authorize(&by_reference(&client_id, &pushed), None),
        AuthorizeOutcome::Login(_)
    ));
}
