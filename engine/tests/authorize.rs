//! The authorization request checks: which errors are pages, which are redirects, and with what.

mod common;
use common::*;
use engine::{AuthorizationRequest, AuthorizeOutcome, ClientSpec};
use spec::{ClientAuthMethod, ErrorCode};

#[test]
fn unknown_missing_or_deactivated_client_is_an_error_page() {
    spec::covers("OIDC-CORE-3.1.2.1-client-known");
    spec::covers("CLIENT-deactivated");
    spec::covers("RFC6749-4.1.2.1-no-redirect-untrusted");
    let mut w = World::new(1);
    let mut req = web_request();
    req.client_id = Some("nobody".into());
    assert_eq!(page_error(&w.authorize(&req, None)), ErrorCode::InvalidClient);
    req.client_id = None;
    assert_eq!(page_error(&w.authorize(&req, None)), ErrorCode::InvalidRequest);
    let mut web = w.web.clone();
    web.active = false;
    w.engine.update_client(web).unwrap();
    assert_eq!(page_error(&w.authorize(&web_request(), None)), ErrorCode::InvalidClient);
}

#[test]
fn redirect_uri_must_be_present_and_match_exactly() {
    spec::covers("RFC6749-3.1.2.3-redirect-exact-match");
    spec::covers("OIDC-CORE-3.1.2.1-redirect-uri-required");
    spec::covers("RFC6749-4.1.2.1-no-redirect-untrusted");
    let mut w = World::new(2);
    for bad in [
        "https://app.example.com/callback/",
        "https://app.example.com/callbac",
        "https://app.example.com/callback?x=1",
        "https://APP.example.com/callback",
        "https://app.example.com/callback#f",
        "https://evil.example/callback",
        "",
    ] {
        let mut req = web_request();
        req.redirect_uri = Some(bad.into());
        // Even with other errors present, an untrusted URI never gets a redirect.
        req.response_type = Some("token".into());
        let expected = if bad.is_empty() {
            ErrorCode::InvalidRequest
        } else {
            ErrorCode::RedirectUriMismatch
        };
        assert_eq!(page_error(&w.authorize(&req, None)), expected, "{bad}");
    }
    let mut req = web_request();
    req.redirect_uri = None;
    assert_eq!(page_error(&w.authorize(&req, None)), ErrorCode::InvalidRequest);
    // Another client's registered URI is not this client's.
    let mut req = web_request();
    req.redirect_uri = Some(SPA_CB.into());
    assert_eq!(page_error(&w.authorize(&req, None)), ErrorCode::RedirectUriMismatch);
}

fn expect_redirect_error(w: &mut World, req: &AuthorizationRequest, code: &str) {
    match w.authorize(req, None) {
        AuthorizeOutcome::Redirect(r) => {
            assert_eq!(r.param("error"), Some(code), "{r:?}");
            assert!(r.param("error_description").is_some());
            assert_eq!(r.param("iss"), Some("https://id.example.com/acme"));
            assert_eq!(r.target.uri(), req.redirect_uri.as_deref().unwrap());
            assert_eq!(r.param("state"), req.state.as_deref().filter(|s| !s.is_empty()));
        }
        other => panic!("expected {code} redirect, got {other:?}"),
    }
}

#[test]
fn errors_after_the_redirect_uri_is_trusted_are_redirected_with_state_and_iss() {
    spec::covers("RFC6749-4.1.2.1-error-redirect");
    spec::covers("RFC9207-2-iss-parameter");
    spec::covers("RFC6749-4.1.1-response-type-code");
    let mut w = World::new(3);
    let mut req = web_request();
    req.response_type = None;
    expect_redirect_error(&mut w, &req, "invalid_request");
    req.response_type = Some("token".into());
    expect_redirect_error(&mut w, &req, "unsupported_response_type");
    // Supported, but only for clients registered for it (tests/response_types.rs).
    req.response_type = Some("code id_token".into());
    expect_redirect_error(&mut w, &req, "unauthorized_client");
    req.response_type = Some("code bogus".into());
    expect_redirect_error(&mut w, &req, "unsupported_response_type");
}

#[test]
fn state_is_required() {
    spec::covers("CLAVEX-state-required");
    let mut w = World::new(4);
    for state in [None, Some(String::new())] {
        let mut req = web_request();
        req.state = state;
        expect_redirect_error(&mut w, &req, "invalid_request");
    }
    // A client registered with require_state=false may rely on PKCE: without state, the code
    // comes back without a state parameter; without a challenge too, it is still refused.
    let mut relaxed = ClientSpec::new("Auth.js app", ClientAuthMethod::ClientSecretBasic, &[WEB_CB]);
    relaxed.client_id = Some("authjs".into());
    relaxed.require_state = false;
    relaxed.require_pkce = false;
    relaxed.require_consent = false;
    w.add_client(T, relaxed);
    let mut req = web_request();
    req.client_id = Some("authjs".into());
    req.state = None;
    let (out, _) = w.interact(&req, None);
    let AuthorizeOutcome::Redirect(r) = &out else {
        panic!("expected a code redirect, got {out:?}")
    };
    assert!(r.param("code").is_some() && r.param("state").is_none(), "{r:?}");
    req.code_challenge = None;
    req.code_challenge_method = None;
    expect_redirect_error(&mut w, &req, "invalid_request");
}

#[test]
fn scopes_must_be_present_and_allowed() {
    spec::covers("OIDC-CORE-3.1.2.1-openid-scope");
    spec::covers("RFC6749-3.3-scope-allowed");
    let mut w = World::new(5);
    for scope in [
        "",
        "profile unknown_scope",
        "openid organization",
        "openid permissions",
        "openid admin",
        "openid unknown_scope",
    ] {
        let mut req = web_request();
        req.scope = Some(scope.into());
        expect_redirect_error(&mut w, &req, "invalid_scope");
    }
    // The first-party portal may ask for organization and permissions.
    let (out, _) = w.interact(&portal_request(), None);
    assert!(code_of(&out).len() == 43);
}

#[test]
fn without_openid_the_code_flow_is_plain_oauth_no_id_token_and_no_userinfo() {
    spec::covers("OIDC-CORE-3.1.2.1-openid-scope");
    let mut w = World::new(9);
    let mut req = web_request();
    req.scope = Some("profile email".into());
    let (code, _) = w.code_for(&req, None);
    let tokens = w.exchange(&code).unwrap();
    assert!(tokens.id_token.is_none(), "no ID token without openid");
    assert_eq!(tokens.scope, "email profile");
    assert_eq!(claims(&tokens.access_token)["scope"], "email profile");
    let err = w.userinfo(&tokens.access_token).unwrap_err();
    assert_eq!(
        (err.code(), err.code().http_status()),
        (ErrorCode::InsufficientScope, 403)
    );
    // The refresh token works and still issues no ID token.
    let creds = w.web_creds();
    let refreshed = w
        .token(&creds, &refresh_request(tokens.refresh_token.as_deref().unwrap()))
        .unwrap();
    assert!(refreshed.id_token.is_none() && !refreshed.access_token.is_empty());
}

#[test]
fn scope_order_and_repeats_do_not_matter() {
    spec::covers("RFC6749-3.3-scope-order");
    let mut w = World::new(6);
    let mut req = web_request();
    req.scope = Some("email  openid profile openid".into());
    let (code, _) = w.code_for(&req, None);
    let tokens = w.exchange(&code).unwrap();
    assert_eq!(tokens.scope, "email openid profile");
}

#[test]
fn pkce_is_s256_only_well_formed_and_required() {
    spec::covers("RFC7636-4.2-s256-only");
    spec::covers("RFC7636-4.2-challenge-format");
    spec::covers("RFC7636-4.4.1-pkce-required-public");
    spec::covers("RFC9700-2.1.1-pkce-required-default");
    let mut w = World::new(7);
    let cases: Vec<(AuthorizationRequest, &str)> = vec![
        (
            AuthorizationRequest {
                code_challenge_method: Some("plain".into()),
                ..spa_request()
            },
            "plain refused",
        ),
        (
            AuthorizationRequest {
                code_challenge_method: None,
                ..spa_request()
            },
            "default method is plain",
        ),
        (
            AuthorizationRequest {
                code_challenge_method: Some("S512".into()),
                ..spa_request()
            },
            "unknown method",
        ),
        (
            AuthorizationRequest {
                code_challenge: Some("short".into()),
                ..spa_request()
            },
            "bad challenge",
        ),
        (
            AuthorizationRequest {
                code_challenge: None,
                code_challenge_method: None,
                ..spa_request()
            },
            "public without PKCE",
        ),
        (
            AuthorizationRequest {
                code_challenge: None,
                code_challenge_method: None,
                ..web_request()
            },
            "confidential without PKCE",
        ),
        (
            AuthorizationRequest {
                code_challenge: None,
                ..web_request()
            },
            "method without challenge",
        ),
    ];
    for (req, why) in cases {
        match w.authorize(&req, None) {
            AuthorizeOutcome::Redirect(r) => assert_eq!(r.param("error"), Some("invalid_request"), "{why}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    // A confidential client an administrator exempted from PKCE may omit it.
    let mut spec = engine::ClientSpec::new(
        "Legacy",
        spec::ClientAuthMethod::ClientSecretBasic,
        &["https://legacy.example/cb"],
    );
    spec.client_id = Some("legacy".into());
    spec.require_pkce = false;
    w.add_client(T, spec);
    let req = AuthorizationRequest {
        client_id: Some("legacy".into()),
        redirect_uri: Some("https://legacy.example/cb".into()),
        code_challenge: None,
        code_challenge_method: None,
        ..web_request()
    };
    assert!(matches!(w.authorize(&req, None), AuthorizeOutcome::Login(_)));
}

#[test]
fn prompt_none_cannot_be_combined_and_unknown_values_are_refused() {
    spec::covers("OIDC-CORE-3.1.2.1-prompt-none-alone");
    let mut w = World::new(8);
    for p in ["none login", "consent none", "bogus"] {
        let req = AuthorizationRequest {
            prompt: Some(p.into()),
            ..web_request()
        };
        expect_redirect_error(&mut w, &req, "invalid_request");
    }
    let req = AuthorizationRequest {
        max_age: Some("-1".into()),
        ..web_request()
    };
    expect_redirect_error(&mut w, &req, "invalid_request");
}

fn unsigned_object(claims: serde_json::Value) -> String {
    use engine::secret::b64url;
    format!(
        "{}.{}.",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims.to_string().as_bytes())
    )
}

#[test]
fn request_objects_replace_the_query_and_bad_ones_are_refused() {
    spec::covers("OIDC-CORE-6-request-object");
    let mut w = World::new(9);
    // By value, unsigned: the object's state, nonce and scope win over the query's.
    let object = unsigned_object(serde_json::json!({
        "client_id": "web", "redirect_uri": WEB_CB, "response_type": "code", "scope": "openid email",
        "state": "from-object", "nonce": "n-object", "max_age": 3600,
        "claims": {"userinfo": {"name": {"essential": true}}}
    }));
    let req = AuthorizationRequest {
        request: Some(object.clone()),
        state: Some("from-query".into()),
        ..web_request()
    };
    let (out, _) = w.interact(&req, None);
    let AuthorizeOutcome::Redirect(r) = &out else {
        panic!("{out:?}")
    };
    assert_eq!(r.param("state"), Some("from-object"));
    let tokens = w.exchange(&code_of(&out)).unwrap();
    let id = claims(tokens.id_token.as_deref().unwrap());
    assert_eq!(id["nonce"], "n-object");
    assert_eq!(tokens.scope, "email openid");
    // The claims parameter inside the object asked for name in UserInfo (scope has no profile).
    let ui = w.userinfo(&tokens.access_token).unwrap();
    assert_eq!(ui["name"], "Alice Smith", "{ui:?}");
    // By reference: the adapter hands over what it fetched; a failed fetch is invalid_request_uri.
    let mut by_ref = AuthorizationRequest {
        request_uri: Some("https://rp.example/req.jwt".into()),
        ..web_request()
    };
    expect_redirect_error(&mut w, &by_ref, "invalid_request_uri");
    by_ref.request_uri_document = Some(Err("timed out".into()));
    expect_redirect_error(&mut w, &by_ref, "invalid_request_uri");
    by_ref.request_uri_document = Some(Ok(object.clone()));
    let (out, _) = w.interact(&by_ref, None);
    assert!(
        matches!(&out, AuthorizeOutcome::Redirect(r) if r.param("code").is_some()),
        "{out:?}"
    );
    // Refused: both at once, another client's id, expired, a signature that is not empty for
    // alg none, a signed object that no registered key verifies, garbage.
    let both = AuthorizationRequest {
        request: Some(object.clone()),
        request_uri: Some("https://rp.example/req.jwt".into()),
        ..web_request()
    };
    expect_redirect_error(&mut w, &both, "invalid_request");
    let now = 1_750_000_000u64;
    for bad in [
        unsigned_object(serde_json::json!({"client_id": "spa", "state": "x"})),
        unsigned_object(serde_json::json!({"exp": now - 10})),
        format!("{object}c2ln"),
        engine::jose::encode(
            &engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap(),
            "oauth-authz-req+jwt",
            &serde_json::json!({"client_id": "web", "aud": "https://id.example.com/acme"}),
        ),
        "not-a-jwt".into(),
    ] {
        let req = AuthorizationRequest {
            request: Some(bad.clone()),
            ..web_request()
        };
        expect_redirect_error(&mut w, &req, "invalid_request_object");
    }
    // A client that registered request_object_signing_alg=RS256 may not send alg none.
    let mut web = w.web.clone();
    web.metadata.insert("request_object_signing_alg".into(), "RS256".into());
    w.engine.update_client(web).unwrap();
    let req = AuthorizationRequest {
        request: Some(object.clone()),
        ..web_request()
    };
    expect_redirect_error(&mut w, &req, "invalid_request_object");
    let mut web = w.web.clone();
    web.metadata.remove("request_object_signing_alg");
    w.engine.update_client(web).unwrap();
    // An object whose redirect_uri is not registered never causes a redirect.
    let evil = unsigned_object(serde_json::json!({"redirect_uri": "https://evil.example/cb"}));
    let req = AuthorizationRequest {
        request: Some(evil),
        ..web_request()
    };
    assert!(matches!(w.authorize(&req, None), AuthorizeOutcome::ErrorPage(_)));
}

#[test]
fn response_modes_are_honoured_and_unknown_ones_refused() {
    spec::covers("OAUTH-RESPONSE-MODES-response-mode");
    let mut w = World::new(10);
    for unknown in ["web_message", "jwt.query", "query.jwt.jwt"] {
        let req = AuthorizationRequest {
            response_mode: Some(unknown.into()),
            ..web_request()
        };
        expect_redirect_error(&mut w, &req, "invalid_request");
    }
    for (mode, expect) in [
        ("form_post", spec::ResponseMode::FormPost),
        ("fragment", spec::ResponseMode::Fragment),
        ("query", spec::ResponseMode::Query),
    ] {
        let req = AuthorizationRequest {
            response_mode: Some(mode.into()),
            ..web_request()
        };
        let (out, _) = w.interact(&req, None);
        match out {
            AuthorizeOutcome::Redirect(r) => {
                assert_eq!(r.mode, expect);
                let loc = r.location();
                match expect {
                    spec::ResponseMode::Fragment => assert!(loc.contains("#code="), "{loc}"),
                    _ => assert!(loc.starts_with(&format!("{WEB_CB}?code=")), "{loc}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn unknown_and_optional_parameters_are_ignored() {
    spec::covers("RFC6749-3.1-unknown-parameters");
    spec::covers("OIDC-CORE-3.1.2.1-optional-parameters");
    let mut w = World::new(11);
    let mut params = serde_json::to_value(web_request()).unwrap();
    params["extra"] = "foobar".into();
    let req: AuthorizationRequest = serde_json::from_value(params.clone()).unwrap();
    assert_eq!(req, web_request());
    params["display"] = "popup".into();
    params["ui_locales"] = "fr-CA".into();
    params["claims_locales"] = "se".into();
    params["acr_values"] = "urn:mace:incommon:iap:silver".into();
    let req: AuthorizationRequest = serde_json::from_value(params).unwrap();
    assert_eq!(req.display.as_deref(), Some("popup"));
    let (out, _) = w.interact(&req, None);
    assert_eq!(code_of(&out).len(), 43);
    let tokens = w.exchange(&code_of(&out)).unwrap();
    // An acr value this provider does not know is ignored: one factor was used.
    assert_eq!(claims(tokens.id_token.as_deref().unwrap())["acr"], "1");
}

#[test]
fn login_hint_reaches_the_login_page() {
    spec::covers("OIDC-CORE-3.1.2.1-login-hint");
    let mut w = World::new(12);
    let req = AuthorizationRequest {
        login_hint: Some("alice@school.example".into()),
        ..web_request()
    };
    match w.authorize(&req, None) {
        AuthorizeOutcome::Login(p) => {
            assert_eq!(p.login_hint.as_deref(), Some("alice@school.example"));
            assert_eq!(p.client_name, "Web App");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_tenant_is_an_error_page() {
    spec::covers("TENANCY-isolation");
    let mut w = World::new(13);
    assert!(matches!(
        w.authorize_in("nope", &web_request(), None),
        AuthorizeOutcome::ErrorPage(_)
    ));
    // The web client is registered in acme only.
    assert_eq!(
        page_error(&w.authorize_in(OTHER, &web_request(), None)),
        ErrorCode::InvalidClient
    );
}
