//! The seeds' "Common Errors" tables and malformed input, over HTTP.

mod common;
use adapter_http::data_store::StoreKind;
use common::*;
use reqwest::Client;
use serde_json::Value;

#[tokio::test]
async fn common_errors_from_the_seeds() {
    let t = start().await;
    let b = browser();
    // invalid_grant: code reused, redirect_uri mismatch, PKCE failure.
    let code = demo_code(&t, &b, "openid").await;
    let (s, e) = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:3000/callback/"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str(), e["error_description"].as_str()),
        (400, Some("invalid_grant"), Some("redirect_uri does not match"))
    );
    let (s, e) = token(
        &t,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(
        (s, e["error_description"].as_str()),
        (400, Some("PKCE verification failed"))
    );
    assert_eq!(exchange(&t, &code).await.0, 200);
    let (s, e) = exchange(&t, &code).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    // invalid_client: wrong secret (Basic → 401 + WWW-Authenticate), unknown client.
    let r = Client::new()
        .post(format!("{}/token", t.iss))
        .basic_auth("demo-client", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"demo\"");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // invalid_client: a deactivated client is refused at the token endpoint and the authorization endpoint.
    let engine = &t.server.state.engine;
    let set_active = |active: bool| {
        engine.call(move |e, _| {
            let mut client = e.client("demo", "demo-client").unwrap().unwrap();
            client.active = active;
            e.update_client(client).unwrap();
        })
    };
    set_active(false).await;
    let (s, e) = token(&t, &[("grant_type", "client_credentials")]).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")));
    let r = browser()
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    set_active(true).await;
    // redirect_uri_mismatch: an error page, never a redirect.
    let r = b
        .get(authorize_url(
            &t.iss,
            "demo-client",
            "http://localhost:3000/other",
            "openid",
            "",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("<code id=\"error\">redirect_uri_mismatch</code>"));
    // invalid_scope and missing state: redirected errors.
    let r = b
        .get(authorize_url(&t.iss, "demo-client", CB, "openid admin", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("invalid_scope"));
    let no_state = authorize_url(&t.iss, "demo-client", CB, "openid", "").replace("&state=st-1", "");
    let r = b.get(no_state).send().await.unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("invalid_request"));
    // access_denied.
    let fresh = browser();
    let url = authorize_url(&t.iss, "demo-client", CB, "openid email", "");
    let html = fresh.get(&url).send().await.unwrap().text().await.unwrap();
    let form = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "demo".into()),
        ("password", t.demo.password.clone()),
    ];
    let consent = fresh
        .post(format!("{}/login", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("transaction", hidden(&consent, "transaction")),
        ("csrf", hidden(&consent, "csrf")),
        ("decision", "deny".into()),
    ];
    let r = fresh
        .post(format!("{}/consent", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("access_denied"));
    // invalid_token at UserInfo.
    let r = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let r = Client::new().get(format!("{}/userinfo", t.iss)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn malformed_input_gets_400_with_the_spec_error_never_500() {
    let t = start().await;
    let token_url = format!("{}/token", t.iss);
    let c = Client::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&grant_type=refresh_token".to_vec(),
        ),
        ("application/json", br#"{"grant_type":"client_credentials"}"#.to_vec()),
        ("application/x-www-form-urlencoded", b"grant_type=%ff%fe".to_vec()),
        ("application/x-www-form-urlencoded", vec![b'a'; 200 * 1024]),
        ("text/plain", b"hello".to_vec()),
    ];
    for (ct, body) in cases {
        let r = c
            .post(&token_url)
            .header("content-type", ct)
            .basic_auth("demo-client", Some(&t.demo.client_secret))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{ct}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
    let r = c
        .post(&token_url)
        .form(&[("grant_type", "password")])
        .basic_auth("demo-client", Some(&t.demo.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
    // A malformed Basic header is invalid_client, not a fallback to the body.
    let r = c
        .post(&token_url)
        .header("authorization", "Basic %%%")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", &t.demo.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Authorize: duplicates and bad UTF-8 are error pages.
    for q in ["client_id=demo-client&client_id=demo-client", "client_id=%ff"] {
        let r = browser().get(format!("{}/authorize?{q}", t.iss)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert!(r.headers().get("location").is_none());
    }
    // Forms without the CSRF cookie are refused.
    let r = c
        .post(format!("{}/login", t.iss))
        .form(&[
            ("transaction", "x"),
            ("username", "demo"),
            ("password", "x"),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A live transaction and the right password, but a CSRF value that is not the cookie's: refused,
    // and no session is created (login CSRF).
    let victim = browser();
    let page = victim
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("transaction", hidden(&page, "transaction")),
        ("csrf", "forged".to_string()),
        ("username", "demo".to_string()),
        ("password", t.demo.password.clone()),
    ];
    let r = victim
        .post(format!("{}/login", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("op_session=")));
    // POST authorize with a form body works like GET.
    let r = browser()
        .post(format!("{}/authorize", t.iss))
        .form(&[
            ("client_id", "demo-client"),
            ("redirect_uri", CB),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("name=\"password\""));
}

#[tokio::test]
async fn refresh_families_survive_restarts() {
    families_survive_restarts(StoreKind::Sled).await;
}

#[tokio::test]
async fn refresh_families_survive_restarts_on_redb() {
    families_survive_restarts(StoreKind::Redb).await;
}

async fn families_survive_restarts(store: StoreKind) {
    let t = start_tuned(|o| o.store = store).await;
    let b = browser();
    let code = demo_code(&t, &b, "openid").await;
    let (_, tokens) = exchange(&t, &code).await;
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_string();
    let TestServer { server, dir, demo, .. } = t;
    server.stop().await.unwrap();
    // Restart on the same data: rotate.
    let server = restart_on(dir.path(), store).await;
    assert!(server.demo.is_none(), "the demo tenant is created once");
    let t = TestServer {
        iss: format!("{}/demo", server.base),
        server,
        dir,
        demo,
    };
    let (s, rotated) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!(s, 200, "{rotated}");
    let rt2 = rotated["refresh_token"].as_str().unwrap().to_string();
    let TestServer { server, dir, demo, .. } = t;
    server.stop().await.unwrap();
    // The other kind of store is refused, and the data stays as it was.
    let other = match store {
        StoreKind::Sled => StoreKind::Redb,
        StoreKind::Redb => StoreKind::Sled,
    };
    let refused = adapter_http::start(&adapter_http::Options {
        store: other,
        ..adapter_http::Options::new("127.0.0.1:0", dir.path())
    })
    .await
    .err()
    .expect("a data dir holding the other store is refused");
    assert!(
        refused.to_string().contains(&format!("holds a {} store", store.name())),
        "{refused}"
    );
    // Restart again: the old token is refused and kills the family.
    let server = restart_on(dir.path(), store).await;
    let t = TestServer {
        iss: format!("{}/demo", server.base),
        server,
        dir,
        demo,
    };
    let (s, e) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt1)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt2)]).await;
    assert_eq!(s, 400, "the family was revoked by the reuse");
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    use adapter_http::rate_limit::RateLimits;
    let t = start_with(RateLimits {
        token_per_ip: 1000,
        token_per_client: 2,
        login_per_ip: 1,
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = Client::new()
            .post(format!("{}/token", t.iss))
            .basic_auth("demo-client", Some(&t.demo.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
            assert_eq!(r.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
        }
    }
    assert_eq!(&statuses[..2], &[200, 200]);
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    // Login: one attempt per second per IP.
    let b = browser();
    let html = b
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first = submit_login(&b, &t.iss, &html, "demo", "wrong").await.status();
    let second = submit_login(&b, &t.iss, &html, "demo", "wrong").await;
    assert_eq!(first, 200);
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
}
