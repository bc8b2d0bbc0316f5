//! The token endpoint: code exchange, token contents, client authentication.

mod common;
use common::*;
use engine::client::auth::{ClientCredentials, JWT_BEARER};
use engine::jose::{self, SigningKey, VerifyKey};
use engine::secret::b64url;
use engine::token::TokenRequest;
use engine::{fixtures, AuthorizationRequest, ClientSpec};
use serde_json::json;
use spec::{ClientAuthMethod, ErrorCode, GrantType, SigningAlg};

fn error_of<T: std::fmt::Debug>(r: engine::Result<T>) -> (ErrorCode, String) {
    let e = r.expect_err("expected an error");
    (e.code(), e.description().into_owned())
}

fn verify_with_jwks(w: &World, jwt: &str) {
    let jwks = serde_json::to_value(w.engine.jwks(T).unwrap()).unwrap();
    let keys = jose::keys::parse_jwks(&jwks);
    let c = jose::decode(jwt).unwrap();
    let kid = c.header.kid.clone().unwrap();
    let (_, key) = keys
        .iter()
        .find(|(k, _)| k.as_deref() == Some(kid.as_str()))
        .expect("kid published");
    c.verify(key).expect("signature verifies with the published key");
}

#[test]
fn code_exchange_returns_signed_id_and_access_tokens_with_the_required_claims() {
    spec::covers("OIDC-CORE-2-id-token-claims");
    spec::covers("RFC9068-2-jwt-access-token");
    spec::covers("OIDC-CORE-3.1.2.1-nonce");
    spec::covers("TOKENS-lifetimes");
    let mut w = World::new(30);
    let issued_at = w.now.0;
    let (t, _) = w.web_tokens("openid profile email");
    assert_eq!(t.token_type, "Bearer");
    assert_eq!(t.expires_in, 3600);
    assert!(t.refresh_token.is_some());
    let id_jwt = t.id_token.as_ref().unwrap();
    assert_eq!(header(id_jwt).alg, "RS256");
    assert_eq!(header(id_jwt).typ.as_deref(), Some("JWT"));
    verify_with_jwks(&w, id_jwt);
    let id = claims(id_jwt);
    assert_eq!(id["iss"], "https://id.example.com/acme");
    assert_eq!(id["sub"], w.alice.id.as_str());
    assert_eq!(id["aud"], "web");
    assert_eq!(id["azp"], "web");
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["iat"], issued_at);
    assert_eq!(id["exp"], issued_at + 3600);
    assert_eq!(id["auth_time"], issued_at);
    assert!(id["sid"].is_string() && id["at_hash"].is_string());
    assert_eq!(id["email"], "alice@school.example");
    assert_eq!(id["name"], "Alice Smith");
    assert!(
        id.get("organization_id").is_none(),
        "no organization scope, no organization claims"
    );
    let at_jwt = &t.access_token;
    assert_eq!(header(at_jwt).typ.as_deref(), Some("at+jwt"));
    verify_with_jwks(&w, at_jwt);
    let at = claims(at_jwt);
    for (k, v) in [
        ("iss", json!("https://id.example.com/acme")),
        ("sub", json!(w.alice.id)),
        ("aud", json!("web")),
        ("client_id", json!("web")),
    ] {
        assert_eq!(at[k], v, "{k}");
    }
    assert_eq!(at["scope"], "email openid profile");
    assert_eq!(at["exp"], issued_at + 3600);
    assert!(at["jti"].is_string() && at["iat"].is_u64());
}

#[test]
fn without_a_nonce_the_code_flow_still_works() {
    spec::covers("OIDC-CORE-3.1.2.1-nonce");
    let mut w = World::new(31);
    let req = AuthorizationRequest {
        nonce: None,
        ..web_request()
    };
    let (code, _) = w.code_for(&req, None);
    let id = claims(&w.exchange(&code).unwrap().id_token.unwrap());
    assert!(id.get("nonce").is_none());
}

#[test]
fn at_hash_is_the_left_half_of_the_access_token_hash() {
    spec::covers("OIDC-CORE-3.1.3.6-at-hash");
    let mut w = World::new(32);
    let (t, _) = w.web_tokens("openid");
    use sha2::Digest;
    let d = sha2::Sha256::digest(t.access_token.as_bytes());
    assert_eq!(
        claims(t.id_token.as_ref().unwrap())["at_hash"],
        b64url(&d[..16]).as_str()
    );
    assert_eq!(engine::token::minting::at_hash(SigningAlg::ES384, "x").len(), 32);
}

#[test]
fn es384_clients_get_es384_id_tokens_and_lifetimes_are_per_client() {
    spec::covers("OIDC-CORE-2-id-token-claims");
    spec::covers("TOKENS-lifetimes");
    let mut w = World::new(33);
    let mut s = ClientSpec::new(
        "EC App",
        ClientAuthMethod::ClientSecretBasic,
        &["https://ec.example/cb"],
    );
    s.client_id = Some("ec".into());
    s.id_token_signed_response_alg = SigningAlg::ES384;
    s.access_token_ttl = 300;
    let (_, secret) = w.add_client(T, s);
    let req = AuthorizationRequest {
        client_id: Some("ec".into()),
        redirect_uri: Some("https://ec.example/cb".into()),
        ..web_request()
    };
    let (code, _) = w.code_for(&req, None);
    let creds = ClientCredentials::Basic {
        client_id: "ec".into(),
        secret: secret.unwrap(),
    };
    let t = w
        .token(&creds, &code_exchange(&code, "https://ec.example/cb", Some(VERIFIER)))
        .unwrap();
    assert_eq!(t.expires_in, 300);
    assert_eq!(
        claims(&t.access_token)["exp"].as_u64().unwrap() - claims(&t.access_token)["iat"].as_u64().unwrap(),
        300
    );
    let id = t.id_token.unwrap();
    assert_eq!(header(&id).alg, "ES384");
    verify_with_jwks(&w, &id);
    let d = <sha2::Sha384 as sha2::Digest>::digest(t.access_token.as_bytes());
    assert_eq!(claims(&id)["at_hash"], b64url(&d[..24]).as_str());
}

#[test]
fn es256_clients_get_es256_id_and_access_tokens_and_a_tenant_lacking_the_key_is_reported() {
    spec::covers("OIDC-CORE-2-id-token-claims");
    spec::covers("RFC9068-2-jwt-access-token");
    let mut w = World::new(35);
    assert!(
        w.engine
            .missing_signing_algs()
            .unwrap()
            .contains(&(T.to_string(), SigningAlg::ES256)),
        "the world installs RS256 and ES384 keys only"
    );
    let mut env = engine::Env::new(w.now, &mut w.rng);
    w.engine.install_signing_key(&mut env, T, fixtures::p256_key()).unwrap();
    assert!(!w.engine.missing_signing_algs().unwrap().iter().any(|(t, _)| t == T));
    let mut s = ClientSpec::new(
        "P-256 App",
        ClientAuthMethod::ClientSecretBasic,
        &["https://p256.example/cb"],
    );
    s.client_id = Some("p256".into());
    s.grant_types.push(GrantType::ClientCredentials);
    s.id_token_signed_response_alg = SigningAlg::ES256;
    s.access_token_signed_response_alg = SigningAlg::ES256;
    let (_, secret) = w.add_client(T, s);
    let creds = ClientCredentials::Basic {
        client_id: "p256".into(),
        secret: secret.unwrap(),
    };
    let req = AuthorizationRequest {
        client_id: Some("p256".into()),
        redirect_uri: Some("https://p256.example/cb".into()),
        ..web_request()
    };
    let (code, _) = w.code_for(&req, None);
    let t = w
        .token(&creds, &code_exchange(&code, "https://p256.example/cb", Some(VERIFIER)))
        .unwrap();
    let id = t.id_token.unwrap();
    for jwt in [&id, &t.access_token] {
        assert_eq!(header(jwt).alg, "ES256");
        verify_with_jwks(&w, jwt);
    }
    let d = <sha2::Sha256 as sha2::Digest>::digest(t.access_token.as_bytes());
    assert_eq!(claims(&id)["at_hash"], b64url(&d[..16]).as_str());
    let cc = TokenRequest {
        grant_type: Some("client_credentials".into()),
        ..Default::default()
    };
    let m2m = w.token(&creds, &cc).unwrap();
    assert_eq!(header(&m2m.access_token).alg, "ES256");
    verify_with_jwks(&w, &m2m.access_token);
}

#[test]
fn organization_and_permissions_claims_for_first_party_apps() {
    spec::covers("OIDC-CORE-5.3-userinfo-claims");
    let mut w = World::new(34);
    let (code, _) = w.code_for(&portal_request(), None);
    let creds = w.first_creds();
    let t = w
        .token(
            &creds,
            &code_exchange(&code, "https://portal.example.com/cb", Some(VERIFIER)),
        )
        .unwrap();
    let at = claims(&t.access_token);
    assert_eq!(at["organization_id"], "org-1");
    assert_eq!(
        at["organization_memberships"][1],
        json!({"organization_id": "org-2", "role": "teacher"})
    );
    assert_eq!(at["user_type"], "customer_admin");
    assert_eq!(at["permissions"], json!(["org:manage", "licenses:read"]));
    assert!(at.get("email").is_none(), "access tokens carry no profile PII");
    let id = claims(t.id_token.as_ref().unwrap());
    assert_eq!(id["organization_id"], "org-1");
}

#[test]
fn codes_expire_after_60_seconds() {
    spec::covers("RFC6749-4.1.2-code-ttl");
    let mut w = World::new(35);
    let (code, session) = w.code_for(&web_request(), None);
    w.advance(60);
    assert_eq!(
        error_of(w.exchange(&code)),
        (
            ErrorCode::InvalidGrant,
            "Authorization code is invalid, expired, or already used".into()
        )
    );
    let (code, _) = w.code_for(&web_request(), session.as_deref());
    w.advance(59);
    assert!(w.exchange(&code).is_ok());
}

#[test]
fn a_code_works_once_and_its_replay_revokes_what_it_issued() {
    spec::covers("RFC6749-4.1.2-code-single-use");
    spec::covers("RFC6749-4.1.2-code-replay-revokes");
    let mut w = World::new(36);
    let (code, _) = w.code_for(&web_request(), None);
    let t = w.exchange(&code).unwrap();
    let creds = w.web_creds();
    let rt = t.refresh_token.clone().unwrap();
    w.advance(30);
    assert_eq!(error_of(w.exchange(&code)).0, ErrorCode::InvalidGrant);
    // Tokens from the first redemption are dead.
    assert!(!w.introspect(&creds, &t.access_token).active);
    assert_eq!(
        error_of(w.token(&creds, &refresh_request(&rt))).0,
        ErrorCode::InvalidGrant
    );
    assert_eq!(w.userinfo(&t.access_token).unwrap_err().code(), ErrorCode::InvalidToken);
    // An unknown code is the same error.
    assert_eq!(error_of(w.exchange("not-a-code")).0, ErrorCode::InvalidGrant);
}

#[test]
fn a_redeemed_code_keeps_only_what_recognising_a_replay_needs() {
    spec::covers("RFC6749-4.1.2-code-replay-revokes");
    use engine::store::{load, Store};
    use engine::token::code::{CodeRecord, CodeState};
    let mut w = World::new(39);
    let (code, _) = w.code_for(&web_request(), None);
    let key = CodeRecord::key(T, &code);
    let read = |w: &World| {
        w.engine
            .store()
            .transact(|tx| load::<CodeRecord>(tx, &key))
            .unwrap()
            .unwrap()
    };
    let issued = read(&w);
    assert!(!issued.redirect_uri.is_empty() && issued.code_challenge.is_some() && !issued.scopes.is_empty());
    let t = w.exchange(&code).unwrap();
    let kept = read(&w);
    let CodeState::Redeemed { grant_id } = &kept.state else {
        panic!("the code is marked redeemed")
    };
    assert_eq!(kept, issued.redeemed(grant_id.clone()));
    assert_eq!(
        (kept.client_id.as_str(), kept.expires_at),
        (issued.client_id.as_str(), issued.expires_at)
    );
    assert!(kept.redirect_uri.is_empty() && kept.code_challenge.is_none() && kept.nonce.is_none());
    assert!(kept.scopes.is_empty() && kept.session_key.is_empty() && kept.claims.is_empty());
    let size = |r: &CodeRecord| serde_json::to_vec(r).unwrap().len();
    assert!(
        size(&kept) * 2 < size(&issued),
        "{} vs {} bytes",
        size(&kept),
        size(&issued)
    );
    // The slim record still does its one job: a replay revokes what the code issued.
    let creds = w.web_creds();
    assert_eq!(error_of(w.exchange(&code)).0, ErrorCode::InvalidGrant);
    assert!(!w.introspect(&creds, &t.access_token).active);
}

#[test]
fn a_code_is_bound_to_its_client() {
    spec::covers("RFC6749-4.1.3-code-client-binding");
    let mut w = World::new(37);
    let (code, _) = w.code_for(&web_request(), None);
    let creds = w.first_creds();
    assert_eq!(
        error_of(w.token(&creds, &code_exchange(&code, WEB_CB, Some(VERIFIER)))).0,
        ErrorCode::InvalidGrant
    );
    // The rightful client can still redeem it.
    assert!(w.exchange(&code).is_ok());
}

#[test]
fn redirect_uri_must_match_the_authorization_request() {
    spec::covers("RFC6749-4.1.3-redirect-uri-match");
    let mut w = World::new(38);
    let (code, _) = w.code_for(&web_request(), None);
    let creds = w.web_creds();
    for uri in [
        None,
        Some("https://app.example.com/callback/"),
        Some("https://app.example.com/other"),
    ] {
        let mut req = code_exchange(&code, WEB_CB, Some(VERIFIER));
        req.redirect_uri = uri.map(str::to_owned);
        assert_eq!(
            error_of(w.token(&creds, &req)),
            (ErrorCode::InvalidGrant, "redirect_uri does not match".into())
        );
    }
}

#[test]
fn pkce_verifier_must_match_and_cannot_be_downgraded() {
    spec::covers("RFC7636-4.6-s256-verify");
    spec::covers("RFC9700-4.8.2-pkce-downgrade");
    let mut w = World::new(39);
    let (code, session) = w.code_for(&web_request(), None);
    let creds = w.web_creds();
    let wrong = "x".repeat(43);
    for v in [None, Some(wrong.as_str()), Some(challenge().as_str()), Some("short")] {
        let req = code_exchange(&code, WEB_CB, v);
        assert_eq!(
            error_of(w.token(&creds, &req)),
            (ErrorCode::InvalidGrant, "PKCE verification failed".into())
        );
    }
    assert!(w.exchange(&code).is_ok());
    // Downgrade: a code issued without a challenge refuses a verifier.
    let mut s = ClientSpec::new(
        "Legacy",
        ClientAuthMethod::ClientSecretBasic,
        &["https://legacy.example/cb"],
    );
    s.client_id = Some("legacy".into());
    s.require_pkce = false;
    let (_, secret) = w.add_client(T, s);
    let req = AuthorizationRequest {
        client_id: Some("legacy".into()),
        redirect_uri: Some("https://legacy.example/cb".into()),
        code_challenge: None,
        code_challenge_method: None,
        ..web_request()
    };
    let (code, _) = w.code_for(&req, session.as_deref());
    let creds = ClientCredentials::Basic {
        client_id: "legacy".into(),
        secret: secret.unwrap(),
    };
    assert_eq!(
        error_of(w.token(
            &creds,
            &code_exchange(&code, "https://legacy.example/cb", Some(VERIFIER))
        ))
        .0,
        ErrorCode::InvalidGrant
    );
    assert!(w
        .token(&creds, &code_exchange(&code, "https://legacy.example/cb", None))
        .is_ok());
}

#[test]
fn public_clients_exchange_with_client_id_and_verifier_only() {
    spec::covers("RFC7636-4.4.1-pkce-required-public");
    let mut w = World::new(40);
    let (code, _) = w.code_for(&spa_request(), None);
    let creds = ClientCredentials::PublicId("spa".into());
    assert_eq!(
        error_of(w.token(&creds, &code_exchange(&code, SPA_CB, None))).0,
        ErrorCode::InvalidGrant
    );
    let t = w.token(&creds, &code_exchange(&code, SPA_CB, Some(VERIFIER))).unwrap();
    assert!(t.refresh_token.is_none(), "the SPA is not registered for refresh_token");
    // A public client cannot pretend to be confidential, nor a confidential one public.
    let spa_secret = ClientCredentials::Post {
        client_id: "spa".into(),
        secret: "anything".into(),
    };
    assert_eq!(
        error_of(w.token(&spa_secret, &code_exchange(&code, SPA_CB, Some(VERIFIER)))).0,
        ErrorCode::InvalidClient
    );
    let web_public = ClientCredentials::PublicId("web".into());
    assert_eq!(
        error_of(w.token(&web_public, &code_exchange(&code, SPA_CB, Some(VERIFIER)))).0,
        ErrorCode::InvalidClient
    );
}

#[test]
fn grant_type_errors() {
    spec::covers("RFC6749-5.2-unsupported-grant-type");
    let mut w = World::new(41);
    let creds = w.web_creds();
    let req = |g: Option<&str>| TokenRequest {
        grant_type: g.map(str::to_owned),
        ..Default::default()
    };
    assert_eq!(error_of(w.token(&creds, &req(None))).0, ErrorCode::InvalidRequest);
    assert_eq!(
        error_of(w.token(&creds, &req(Some("password")))).0,
        ErrorCode::UnsupportedGrantType
    );
    assert_eq!(
        error_of(w.token(&creds, &req(Some("client_credentials")))).0,
        ErrorCode::UnauthorizedClient
    );
    let spa = ClientCredentials::PublicId("spa".into());
    assert_eq!(
        error_of(w.token(&spa, &req(Some("refresh_token")))).0,
        ErrorCode::UnauthorizedClient
    );
    assert_eq!(
        error_of(w.token(&creds, &req(Some("authorization_code")))).0,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn client_secrets_are_checked_and_must_use_the_registered_method() {
    spec::covers("RFC6749-2.3.1-client-secret");
    spec::covers("OIDC-CORE-9-auth-method-registered");
    spec::covers("SECRETS-hashed-at-rest");
    let mut w = World::new(42);
    let (code, _) = w.code_for(&web_request(), None);
    let req = code_exchange(&code, WEB_CB, Some(VERIFIER));
    let secret = w.web_secret.clone();
    for creds in [
        ClientCredentials::Missing,
        ClientCredentials::Invalid,
        ClientCredentials::Basic {
            client_id: "web".into(),
            secret: format!("{secret}x"),
        },
        ClientCredentials::Basic {
            client_id: "nobody".into(),
            secret: secret.clone(),
        },
        // Right secret, wrong method: web is registered for client_secret_basic.
        ClientCredentials::Post {
            client_id: "web".into(),
            secret: secret.clone(),
        },
    ] {
        assert_eq!(error_of(w.token(&creds, &req)).0, ErrorCode::InvalidClient, "{creds:?}");
    }
    assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
    // The secret is not stored anywhere in the clear.
    let dump: Vec<u8> = w
        .engine
        .store()
        .snapshot()
        .into_iter()
        .flat_map(|(_, _, v)| v)
        .collect();
    assert!(!String::from_utf8_lossy(&dump).contains(&secret));
    assert!(w.exchange(&code).is_ok());
}

#[test]
fn deactivated_clients_cannot_get_tokens() {
    spec::covers("CLIENT-deactivated");
    let mut w = World::new(43);
    let (code, _) = w.code_for(&web_request(), None);
    let mut web = w.web.clone();
    web.active = false;
    w.engine.update_client(web).unwrap();
    assert_eq!(error_of(w.exchange(&code)).0, ErrorCode::InvalidClient);
}

fn es256_assertion(claims: &serde_json::Value, kid: &str) -> String {
    use p256::ecdsa::signature::Signer;
    let h = b64url(
        serde_json::to_string(&json!({"alg": "ES256", "kid": kid}))
            .unwrap()
            .as_bytes(),
    );
    let p = b64url(claims.to_string().as_bytes());
    let input = format!("{h}.{p}");
    let sig: p256::ecdsa::Signature = fixtures::p256_signing_key().sign(input.as_bytes());
    format!("{input}.{}", b64url(&sig.to_bytes()))
}

#[test]
fn private_key_jwt_assertions_are_fully_checked() {
    spec::covers("OIDC-CORE-9-private-key-jwt");
    spec::covers("OIDC-CORE-9-auth-method-registered");
    let mut w = World::new(44);
    let ec_pub = VerifyKey::P256(*fixtures::p256_signing_key().verifying_key());
    let rsa = SigningKey::from_material(&fixtures::rsa_key2()).unwrap();
    let mut ec_jwk = serde_json::to_value(ec_pub.jwk()).unwrap();
    ec_jwk["kid"] = json!("ec1");
    let mut rsa_jwk = serde_json::to_value(rsa.public().jwk()).unwrap();
    rsa_jwk["kid"] = json!(rsa.kid());
    let mut s = ClientSpec::new(
        "FAPI App",
        ClientAuthMethod::PrivateKeyJwt,
        &["https://fapi.example/cb"],
    );
    s.client_id = Some("fapi".into());
    s.grant_types.push(GrantType::ClientCredentials);
    s.jwks = Some(json!({"keys": [ec_jwk, rsa_jwk]}));
    w.add_client(T, s);
    let iss = "https://id.example.com/acme";
    let now = w.now.0;
    let good = json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now + 60, "jti": "j1"});
    let cc = TokenRequest {
        grant_type: Some("client_credentials".into()),
        ..Default::default()
    };
    let assertion = |a: String| ClientCredentials::Assertion {
        client_id: None,
        assertion_type: JWT_BEARER.into(),
        assertion: a,
    };
    assert!(w.token(&assertion(es256_assertion(&good, "ec1")), &cc).is_ok());
    // jti single use.
    assert_eq!(
        error_of(w.token(&assertion(es256_assertion(&good, "ec1")), &cc)).0,
        ErrorCode::InvalidClient
    );
    // aud may be the issuer as a one-element array; RS256 works too.
    let rs = json!({"iss": "fapi", "sub": "fapi", "aud": [iss], "exp": now + 60, "jti": "j2"});
    assert!(w.token(&assertion(jose::encode(&rsa, "JWT", &rs)), &cc).is_ok());
    let bad_cases = [
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": "https://elsewhere/token", "exp": now + 60, "jti": "j3"}),
            "ec1",
        ),
        // The token endpoint (audience injection), or the issuer beside another audience.
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": format!("{iss}/token"), "exp": now + 60, "jti": "j3t"}),
            "ec1",
        ),
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": [iss, "https://elsewhere"], "exp": now + 60, "jti": "j3a"}),
            "ec1",
        ),
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now - 1, "jti": "j4"}),
            "ec1",
        ),
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now + 100_000, "jti": "j5"}),
            "ec1",
        ),
        (
            json!({"iss": "other", "sub": "fapi", "aud": iss, "exp": now + 60, "jti": "j6"}),
            "ec1",
        ),
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now + 60}),
            "ec1",
        ),
        (
            json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now + 60, "jti": "j7"}),
            "unknown-kid",
        ),
    ];
    for (c, kid) in bad_cases {
        assert_eq!(
            error_of(w.token(&assertion(es256_assertion(&c, kid)), &cc)).0,
            ErrorCode::InvalidClient,
            "{c}"
        );
    }
    // Signed by a key the client did not register.
    let foreign = SigningKey::from_material(&fixtures::rsa_key()).unwrap();
    let c = json!({"iss": "fapi", "sub": "fapi", "aud": iss, "exp": now + 60, "jti": "j8"});
    assert_eq!(
        error_of(w.token(&assertion(jose::encode(&foreign, "JWT", &c)), &cc)).0,
        ErrorCode::InvalidClient
    );
    // alg none.
    let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(c.to_string().as_bytes()));
    assert_eq!(error_of(w.token(&assertion(none), &cc)).0, ErrorCode::InvalidClient);
    // Wrong assertion type.
    let wrong_type = ClientCredentials::Assertion {
        client_id: None,
        assertion_type: "urn:other".into(),
        assertion: es256_assertion(&c, "ec1"),
    };
    assert_eq!(error_of(w.token(&wrong_type, &cc)).0, ErrorCode::InvalidClient);
    // A secret-based client cannot use an assertion, nor this client a secret.
    let c = json!({"iss": "web", "sub": "web", "aud": iss, "exp": now + 60, "jti": "j9"});
    assert_eq!(
        error_of(w.token(&assertion(es256_assertion(&c, "ec1")), &cc)).0,
        ErrorCode::InvalidClient
    );
    let secret = ClientCredentials::Basic {
        client_id: "fapi".into(),
        secret: "guess".into(),
    };
    assert_eq!(error_of(w.token(&secret, &cc)).0, ErrorCode::InvalidClient);
}

#[test]
fn resource_indicators_set_the_audience_to_a_registered_api_only() {
    spec::covers("RFC8707-resource-indicators");
    let mut w = World::new(93);
    let api = "https://api.example.com/";
    let mut s = ClientSpec::new("Reporting", ClientAuthMethod::ClientSecretPost, &[]);
    s.client_id = Some("reporting".into());
    s.grant_types = vec![GrantType::ClientCredentials];
    s.allowed_resources = vec![api.into(), "urn:example:ledger".into()];
    let (_, secret) = w.add_client(T, s);
    let creds = ClientCredentials::Post {
        client_id: "reporting".into(),
        secret: secret.unwrap(),
    };
    let cc = |resource: &[&str]| TokenRequest {
        grant_type: Some("client_credentials".into()),
        resource: resource.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    };
    // No resource: the client_id, as before.
    let t = w.token(&creds, &cc(&[])).unwrap();
    assert_eq!(claims(&t.access_token)["aud"], "reporting");
    // One registered resource: that API alone; two: both.
    let t = w.token(&creds, &cc(&[api])).unwrap();
    assert_eq!(claims(&t.access_token)["aud"], api);
    let t = w.token(&creds, &cc(&[api, "urn:example:ledger"])).unwrap();
    assert_eq!(claims(&t.access_token)["aud"], json!([api, "urn:example:ledger"]));
    // Anything else is invalid_target (400), and no token is issued.
    for bad in [
        "https://other.example.com/",
        "https://api.example.com/#x",
        "relative/path",
    ] {
        let e = w.token(&creds, &cc(&[bad])).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidTarget, "{bad}");
        assert_eq!(e.code().http_status(), 400);
    }
    // A client without registered resources cannot name one.
    let e = w.token(&w.first_creds(), &cc(&[api])).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidTarget);
    // Registration refuses a resource that is not an absolute URI without a fragment.
    let mut bad = ClientSpec::new("Bad", ClientAuthMethod::ClientSecretPost, &[]);
    bad.grant_types = vec![GrantType::ClientCredentials];
    bad.allowed_resources = vec!["https://api.example.com/#f".into()];
    let mut env = engine::Env::new(w.now, &mut w.rng);
    assert!(w.engine.create_client(&mut env, T, bad).is_err());
}

#[test]
fn the_api_a_token_was_issued_for_may_introspect_it_and_no_one_else() {
    spec::covers("RFC7662-2.1-resource-server");
    let mut w = World::new(94);
    let api = "https://api.example.com/";
    let mut s = ClientSpec::new("Reporting", ClientAuthMethod::ClientSecretPost, &[]);
    s.client_id = Some("reporting".into());
    s.grant_types = vec![GrantType::ClientCredentials];
    s.allowed_resources = vec![api.into()];
    let (_, secret) = w.add_client(T, s);
    let reporting = ClientCredentials::Post {
        client_id: "reporting".into(),
        secret: secret.unwrap(),
    };
    // The API itself: a confidential client that is the resource server of `api`.
    let mut rs = ClientSpec::new("Reports API", ClientAuthMethod::ClientSecretBasic, &[]);
    rs.client_id = Some("reports-api".into());
    rs.grant_types = vec![GrantType::ClientCredentials];
    rs.resource_server_for = vec![api.into()];
    let (_, rs_secret) = w.add_client(T, rs);
    let api_creds = ClientCredentials::Basic {
        client_id: "reports-api".into(),
        secret: rs_secret.unwrap(),
    };
    let cc = |resource: &[&str]| TokenRequest {
        grant_type: Some("client_credentials".into()),
        resource: resource.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    };
    let for_api = w.token(&reporting, &cc(&[api])).unwrap().access_token;
    let plain = w.token(&reporting, &cc(&[])).unwrap().access_token;
    let seen = w.introspect(&api_creds, &for_api);
    assert!(seen.active);
    assert_eq!(
        (seen.aud.as_deref(), seen.client_id.as_deref()),
        (Some(api), Some("reporting"))
    );
    // A token not issued for the API, and another client asking about the API's token: inactive.
    assert!(!w.introspect(&api_creds, &plain).active);
    let web = w.web_creds();
    assert!(!w.introspect(&web, &for_api).active);
    // A user's token issued to the web client (aud = web) is not the API's to see.
    let (user_tokens, _) = w.web_tokens("openid");
    assert!(!w.introspect(&api_creds, &user_tokens.access_token).active);
    // Revoked: inactive for the API too.
    w.revoke(&reporting, &for_api).unwrap();
    assert!(!w.introspect(&api_creds, &for_api).active);
    // Registration refuses a resource_server_for that is not an absolute URI.
    let mut bad = ClientSpec::new("Bad", ClientAuthMethod::ClientSecretPost, &[]);
    bad.grant_types = vec![GrantType::ClientCredentials];
    bad.resource_server_for = vec!["not a uri".into()];
    let mut env = engine::Env::new(w.now, &mut w.rng);
    assert!(w.engine.create_client(&mut env, T, bad).is_err());
}
