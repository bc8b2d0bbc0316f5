//! Attacks from RFC 9700 (the OAuth 2.0 Security BCP) and the OpenID Foundation's negative tests,
//! each run over HTTP against a real server: the attacker's request and what must come back.

mod common;

use adapter_http::rate_limit::RateLimits;
use common::*;
use engine::jose::{self, SigningKey};
use engine::secret::b64url;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// No automatic redirects, no cookies: an attacker's client.
fn raw() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts an error page: `status`, HTML, and no redirect anywhere.
async fn assert_error_page(r: reqwest::Response, what: &str) {
    let status = r.status().as_u16();
    assert!(
        r.headers().get("location").is_none(),
        "{what}: redirected to {:?}",
        r.headers().get("location")
    );
    assert_eq!(status, 400, "{what}");
    assert!(r.text().await.unwrap().contains("<html"), "{what}: not an error page");
}

/// An ID token for the demo user and client, from a real login.
async fn demo_id_token(t: &TestServer, b: &Client) -> String {
    let code = demo_code(t, b, "openid").await;
    let (s, body) = exchange(t, &code).await;
    assert_eq!(s, 200, "{body}");
    body["id_token"].as_str().unwrap().to_string()
}

/// `token` re-signed with alg `none`, and with HS256 keyed by the provider's RSA public key
/// (as its JWK JSON and as the raw modulus): the classic key-confusion forgeries.
async fn forgeries(t: &TestServer, token: &str) -> Vec<(&'static str, String)> {
    let payload = token.split('.').nth(1).unwrap().to_string();
    let jwks: Value = raw()
        .get(format!("{}/jwks", t.iss))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap()
        .clone();
    let kid = rsa["kid"].as_str().unwrap().to_string();
    let hs = |key: &[u8]| {
        let header = b64url(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        format!(
            "{input}.{}",
            b64url(aws_lc_rs::hmac::sign(&k, input.as_bytes()).as_ref())
        )
    };
    let modulus = engine::secret::b64url_decode(rsa["n"].as_str().unwrap()).unwrap();
    vec![
        (
            "alg none",
            format!("{}.{payload}.", b64url(br#"{"alg":"none","typ":"JWT"}"#)),
        ),
        ("alg none, signature kept", {
            let sig = token.split('.').nth(2).unwrap();
            format!("{}.{payload}.{sig}", b64url(br#"{"alg":"none"}"#))
        }),
        ("HS256 keyed with the RSA JWK", hs(rsa.to_string().as_bytes())),
        ("HS256 keyed with the RSA modulus", hs(&modulus)),
    ]
}

#[tokio::test]
async fn open_redirect_variants_of_the_redirect_uri_get_an_error_page_never_a_redirect() {
    spec::covers("RFC6749-3.1.2.3-redirect-exact-match");
    spec::covers("RFC6749-4.1.2.1-no-redirect-untrusted");
    let t = start().await;
    let variants = [
        "HTTP://LOCALHOST:3000/callback",
        "http://localhost:3000/Callback",
        "http://localhost:3000/callback/",
        "http://localhost:3000/callback?next=https://evil.example",
        "http://localhost:3000/callback#x",
        "http://evil.example@localhost:3000/callback",
        "http://localhost:3000@evil.example/callback",
        "http://localhost:3000/callback/../callback",
        "http://localhost:3000/callback%2F..%2Fevil",
        "http://localhost:3001/callback",
        "https://localhost:3000/callback",
        "http://lоcalhost:3000/callback", // Cyrillic "о"
        "http://xn--lcalhost-9wg:3000/callback",
        "//evil.example/callback",
        "http://localhost:3000/callback ",
    ];
    for v in variants {
        // An error the engine would otherwise redirect (bad scope) must still not go to the variant.
        for extra in ["", "&scope=openid%20nonsense"] {
            let url = format!("{}{extra}", authorize_url(&t.iss, "demo-client", v, "openid", ""));
            let r = raw().get(&url).send().await.unwrap();
            assert_error_page(r, &format!("redirect_uri {v:?}{extra}")).await;
        }
    }
}

#[tokio::test]
async fn open_redirect_variants_of_the_post_logout_redirect_uri_are_never_followed() {
    spec::covers("OIDC-RPLOGOUT-2-post-logout-redirect");
    let t = start().await;
    let b = browser();
    let hint = demo_id_token(&t, &b).await;
    for v in [
        "http://localhost:3000",
        "http://LOCALHOST:3000/",
        "http://localhost:3000//",
        "http://localhost:3000/?next=https://evil.example",
        "http://evil.example@localhost:3000/",
        "http://localhost:3000@evil.example/",
        "http://lоcalhost:3000/",
        "https://evil.example/",
    ] {
        let r = b
            .get(format!("{}/end-session", t.iss))
            .query(&[("id_token_hint", hint.as_str()), ("post_logout_redirect_uri", v)])
            .send()
            .await
            .unwrap();
        assert_error_page(r, &format!("post_logout_redirect_uri {v:?}")).await;
    }
    // The registered one works, so the refusals above were about the URI.
    let r = b
        .get(format!("{}/end-session", t.iss))
        .query(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", "http://localhost:3000/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("http://localhost:3000/"));
}

/// Creates a confidential authorization-code client through the Admin API.
async fn admin_client(t: &TestServer, body: Value) -> (String, String) {
    let root = root_token(t).await;
    let (s, c) = call(
        t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap_or_default().to_string(),
    )
}

async fn redeem(t: &TestServer, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = raw()
        .post(format!("{}/token", t.iss))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn pkce_downgrade_a_verifier_without_a_challenge_is_refused() {
    spec::covers("RFC9700-4.8.2-pkce-downgrade");
    let t = start().await;
    let root = root_token(&t).await;
    let policy = json!({"allow_pkce_opt_out": true});
    call(&t, Method::PATCH, "/admin/v1/tenants/demo", Some(&root), Some(policy)).await;
    let (id, secret) = admin_client(
        &t,
        json!({"client_id": "nopkce", "name": "No PKCE", "redirect_uris": [CB], "require_pkce": false,
               "require_consent": false, "first_party": true}),
    )
    .await;
    let b = browser();
    let url = authorize_url(&t.iss, &id, CB, "openid", "");
    let url = url
        .replace(&format!("&code_challenge={CHALLENGE}"), "")
        .replace("&code_challenge_method=S256", "");
    assert!(!url.contains("code_challenge"));
    let r = browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let code = param(&location(&r), "code").expect("a code without PKCE for this client");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let (s, body) = redeem(&t, &id, &secret, &form).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // The demo client requires PKCE: no challenge, no code.
    let url = authorize_url(&t.iss, "demo-client", CB, "openid", "")
        .replace(&format!("&code_challenge={CHALLENGE}"), "")
        .replace("&code_challenge_method=S256", "");
    let loc = location(&b.get(&url).send().await.unwrap());
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
    assert!(param(&loc, "code").is_none());
}

#[tokio::test]
async fn code_injection_a_code_redeemed_by_another_client_fails() {
    spec::covers("RFC6749-4.1.3-code-client-binding");
    let t = start().await;
    let (other, other_secret) = admin_client(
        &t,
        json!({"client_id": "other", "name": "Other", "redirect_uris": [CB], "require_consent": false, "first_party": true}),
    )
    .await;
    let b = browser();
    let code = demo_code(&t, &b, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let (s, body) = redeem(&t, &other, &other_secret, &form).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn mix_up_every_authorization_response_carries_iss() {
    spec::covers("RFC9207-2-iss-parameter");
    let t = start().await;
    let b = browser();
    let ok = demo_code(&t, &b, "openid").await; // asserts iss on the success redirect
    assert!(!ok.is_empty());
    // An error redirect (unknown scope), in query and fragment modes.
    for mode in ["query", "fragment"] {
        let url = authorize_url(
            &t.iss,
            "demo-client",
            CB,
            "openid nonsense",
            &format!("&response_mode={mode}"),
        );
        let loc = location(&b.get(&url).send().await.unwrap());
        let params = if mode == "fragment" {
            loc.replacen('#', "?", 1)
        } else {
            loc.clone()
        };
        assert_eq!(param(&params, "error").as_deref(), Some("invalid_scope"), "{loc}");
        assert_eq!(param(&params, "iss").as_deref(), Some(t.iss.as_str()), "{loc}");
    }
    // Success in fragment and form_post modes.
    let loc = location(
        &b.get(authorize_url(
            &t.iss,
            "demo-client",
            CB,
            "openid",
            "&response_mode=fragment",
        ))
        .send()
        .await
        .unwrap(),
    );
    assert_eq!(
        param(&loc.replacen('#', "?", 1), "iss").as_deref(),
        Some(t.iss.as_str())
    );
    let html = b
        .get(authorize_url(
            &t.iss,
            "demo-client",
            CB,
            "openid",
            "&response_mode=form_post",
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hidden(&html, "iss").replace("&#x2f;", "/"), t.iss, "{html}");
}

#[tokio::test]
async fn pages_and_redirects_send_no_referrer_and_anti_framing_headers() {
    spec::covers("RFC9700-4.2.4-no-referrer");
    spec::covers("RFC9700-4.16-clickjacking");
    let t = start().await;
    let b = browser();
    let login_page = b
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap();
    let error_page = b.get(format!("{}/authorize", t.iss)).send().await.unwrap();
    let code_redirect = {
        let url = authorize_url(&t.iss, "demo-client", CB, "openid", "");
        browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await
    };
    let sso_redirect = b
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap();
    for (what, r) in [
        ("login page", login_page),
        ("error page", error_page),
        ("code redirect after login", code_redirect),
        ("code redirect", sso_redirect),
    ] {
        let h = r.headers();
        assert_eq!(
            h.get("referrer-policy").map(|v| v.to_str().unwrap()),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.to_str().unwrap()),
            Some("DENY"),
            "{what}"
        );
        let csp = h
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(csp.is_some_and(|c| c.contains("frame-ancestors 'none'")), "{what}");
        assert_eq!(
            h.get("cache-control").map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn form_posts_are_answered_with_303_never_307() {
    spec::covers("RFC9700-4.12-303-after-post");
    let t = start().await;
    let b = browser();
    let html = b
        .get(authorize_url(&t.iss, "demo-client", CB, "openid profile", ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Login: the answer is the consent page itself (no redirect) or a 303.
    let login = submit_login(&b, &t.iss, &html, &t.demo.username, &t.demo.password).await;
    assert!(
        login.status() == 200 || login.status() == 303,
        "login POST: {}",
        login.status()
    );
    let html = login.text().await.unwrap();
    let form = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("decision", "approve".into()),
    ];
    let r = b.post(format!("{}/consent", t.iss)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303, "consent POST");
    // Authorize by POST (a form-encoded authorization request) with a live session and consent.
    let form: Vec<(String, String)> = url::Url::parse(&authorize_url(&t.iss, "demo-client", CB, "openid profile", ""))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let r = b.post(format!("{}/authorize", t.iss)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303, "authorize POST");
    assert!(param(&location(&r), "code").is_some());
    // Logout confirmation POST.
    let r = b.get(format!("{}/end-session", t.iss)).send().await.unwrap();
    let html = r.text().await.unwrap();
    let form = [("confirm", "yes".to_string()), ("csrf", hidden(&html, "csrf"))];
    let r = b
        .post(format!("{}/end-session", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 307);
    assert!(r.status() == 200 || r.status() == 303, "{}", r.status());
}

#[tokio::test]
async fn login_csrf_a_form_without_the_matching_csrf_cookie_is_refused() {
    spec::covers("RFC9700-4.7-login-csrf");
    let t = start().await;
    // The attacker loads the login page itself, then makes the victim's browser post the form.
    let attacker = browser();
    let html = attacker
        .get(authorize_url(&t.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let victim = browser();
    let forged = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", t.demo.username.clone()),
        ("password", t.demo.password.clone()),
    ];
    let r = victim
        .post(format!("{}/login", t.iss))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("op_session=")),
        "no session may be set"
    );
    // Without any csrf field, from the attacker's own browser.
    let no_csrf = [
        ("transaction", hidden(&html, "transaction")),
        ("username", t.demo.username.clone()),
        ("password", t.demo.password.clone()),
    ];
    let r = attacker
        .post(format!("{}/login", t.iss))
        .form(&no_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("op_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

#[tokio::test]
async fn session_fixation_login_always_issues_a_new_session_and_ends_the_planted_one() {
    spec::covers("OIDC-SEC-session-fixation");
    let t = start().await;
    // The attacker signs in and plants its own session id in the victim's browser.
    let attacker = browser();
    let url = authorize_url(&t.iss, "demo-client", CB, "openid", "");
    let html = attacker.get(&url).send().await.unwrap().text().await.unwrap();
    let r = submit_login(&attacker, &t.iss, &html, &t.demo.username, &t.demo.password).await;
    let planted = session_cookie(&r).expect("a session cookie");
    let victim = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = format!("op_session={planted}");
    let prompt_login = authorize_url(&t.iss, "demo-client", CB, "openid", "&prompt=login");
    let r = victim
        .get(&prompt_login)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csrf = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("op_csrf="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap();
    let html = r.text().await.unwrap();
    let form = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", t.demo.username.clone()),
        ("password", t.demo.password.clone()),
    ];
    let r = victim
        .post(format!("{}/login", t.iss))
        .header("cookie", format!("{cookie}; op_csrf={csrf}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status() == 200 || r.status() == 303, "{}", r.status());
    let fresh = session_cookie(&r).expect("login sets a session cookie");
    assert_ne!(fresh, planted, "the session id must change at login");
    // The planted session is over: prompt=none with it is login_required.
    let none = authorize_url(&t.iss, "demo-client", CB, "openid", "&prompt=none");
    let r = victim.get(&none).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("login_required"));
    let r = victim
        .get(&none)
        .header("cookie", format!("op_session={fresh}"))
        .send()
        .await
        .unwrap();
    let loc = location(&r);
    assert!(param(&loc, "error").as_deref() != Some("login_required"), "{loc}");
}

/// A login page's HTML with the per-request values (transaction, csrf, echoed username) blanked.
fn normalized(html: &str) -> String {
    let mut out = html.to_string();
    for name in ["transaction", "csrf", "username"] {
        let v = hidden(&out, name);
        out = out.replace(
            &format!("name=\"{name}\" value=\"{v}\""),
            &format!("name=\"{name}\" value=\"X\""),
        );
    }
    out
}

#[tokio::test]
async fn user_enumeration_an_unknown_user_and_a_wrong_password_look_and_take_the_same() {
    spec::covers("LOGIN-invalid-credentials");
    let t = start_with(RateLimits {
        login_per_ip: 0,
        login_failures_per_source: 0,
        login_failures_per_account: 0,
        ..Default::default()
    })
    .await;
    let b = browser();
    let url = authorize_url(&t.iss, "demo-client", CB, "openid", "");
    let mut pages = Vec::new();
    let mut times: [Vec<Duration>; 2] = [vec![], vec![]];
    for round in 0..10 {
        let (i, user) = if round % 2 == 0 {
            (0, t.demo.username.as_str())
        } else {
            (1, "nobody-by-this-name")
        };
        let html = b.get(&url).send().await.unwrap().text().await.unwrap();
        let started = Instant::now();
        let r = submit_login(&b, &t.iss, &html, user, "wrong-password").await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        times[i].push(started.elapsed());
        pages.push((status, normalized(&body)));
    }
    for p in &pages {
        assert_eq!(p, &pages[0], "the two answers differ");
    }
    assert_eq!(pages[0].0, 200);
    assert!(pages[0].1.contains("Invalid username or password."));
    // Both run argon2id (a dummy hash for unknown names): medians within a factor of 2.
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut times[0]), median(&mut times[1]));
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "wrong password {known:?} vs unknown user {unknown:?}"
    );
}

#[tokio::test]
async fn brute_force_logins_are_throttled_per_source_slowed_per_account_and_per_ip() {
    spec::covers("LOGIN-brute-force-throttle");
    let t = start_with(RateLimits {
        login_per_ip: 0,
        login_failures_per_source: 3,
        login_failures_per_account: 5,
        ..Default::default()
    })
    .await;
    // Browsers on distinct loopback addresses: distinct sources to the server.
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let url = authorize_url(&t.iss, "demo-client", CB, "openid", "");
    let attempt = |b: reqwest::Client, user: &'static str, pw: String| {
        let (url, iss) = (url.clone(), t.iss.clone());
        async move {
            let html = b.get(&url).send().await.unwrap().text().await.unwrap();
            submit_login(&b, &iss, &html, user, &pw).await
        }
    };
    // Signed in: redirected back, or shown the consent page.
    let signed_in = |r: reqwest::Response| async move {
        r.status() == 303 || (r.status() == 200 && r.text().await.unwrap().contains("name=\"decision\""))
    };
    let attacker = from([127, 0, 0, 1]);
    for _ in 0..3 {
        assert_eq!(attempt(attacker.clone(), "demo", "guess".into()).await.status(), 200);
    }
    // That source is locked out of the account for the window, right password included, any case.
    let r = attempt(attacker.clone(), "DEMO", t.demo.password.clone()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 60);
    // The user, from elsewhere, still signs in: a stranger cannot lock them out.
    let user = attempt(from([127, 0, 0, 2]), "demo", t.demo.password.clone()).await;
    assert!(signed_in(user).await, "the owner signs in from another source");
    // Unknown names are throttled the same way (no enumeration by the throttle).
    for _ in 0..3 {
        assert_eq!(attempt(attacker.clone(), "ghost", "guess".into()).await.status(), 200);
    }
    assert_eq!(attempt(attacker.clone(), "ghost", "guess".into()).await.status(), 429);
    // Many sources past the account's ceiling (5): the account is slowed, one attempt per
    // interval from anyone, not locked.
    for last in 3..5 {
        assert_eq!(
            attempt(from([127, 0, 0, last]), "demo", "guess".into()).await.status(),
            200
        );
    }
    assert_eq!(
        attempt(from([127, 0, 0, 9]), "demo", "guess".into()).await.status(),
        200,
        "slot taken"
    );
    let slowed = attempt(from([127, 0, 0, 10]), "demo", t.demo.password.clone()).await;
    assert_eq!(slowed.status(), 429);
    let wait: u64 = slowed.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "a few seconds, not the window: {wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let later = attempt(from([127, 0, 0, 10]), "demo", t.demo.password.clone()).await;
    assert!(signed_in(later).await, "after the interval the owner gets in");
    // An administrator's unlock clears the locked source at once.
    let root = root_token(&t).await;
    let demo_id = demo_user_id(&t, &root).await;
    assert_eq!(
        attempt(attacker.clone(), "demo", t.demo.password.clone())
            .await
            .status(),
        429
    );
    let unlocked = call(
        &t,
        reqwest::Method::POST,
        &format!("/admin/v1/tenants/demo/users/{demo_id}/unlock"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(unlocked.0, 200, "{}", unlocked.1);
    assert!(signed_in(attempt(attacker.clone(), "demo", t.demo.password.clone()).await).await);
    // Per IP: a server with one attempt per second per IP.
    let t2 = start_with(RateLimits {
        login_per_ip: 1,
        ..Default::default()
    })
    .await;
    let b2 = browser();
    let html = b2
        .get(authorize_url(&t2.iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let statuses = [
        submit_login(&b2, &t2.iss, &html, "a", "x").await.status(),
        submit_login(&b2, &t2.iss, &html, "b", "x").await.status(),
    ];
    assert_eq!(statuses, [200, 429]);
}

#[tokio::test]
async fn alg_none_and_key_confusion_in_id_token_hint_are_refused() {
    spec::covers("JOSE-alg-none-rejected");
    spec::covers("JOSE-key-confusion-rejected");
    let t = start().await;
    let b = browser();
    let real = demo_id_token(&t, &b).await;
    for (what, forged) in forgeries(&t, &real).await {
        let r = b
            .get(format!("{}/end-session", t.iss))
            .query(&[
                ("id_token_hint", forged.as_str()),
                ("post_logout_redirect_uri", "http://localhost:3000/"),
            ])
            .send()
            .await
            .unwrap();
        assert_error_page(r, &format!("end-session with {what}")).await;
        let url = authorize_url(&t.iss, "demo-client", CB, "openid", "&prompt=none");
        let r = b.get(format!("{url}&id_token_hint={forged}")).send().await.unwrap();
        let loc = location(&r);
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "authorize with {what}: {loc}"
        );
        assert!(param(&loc, "code").is_none());
    }
    // The real hint still works, so the refusals were about the forgery.
    let url = authorize_url(&t.iss, "demo-client", CB, "openid", "&prompt=none");
    let loc = location(&b.get(format!("{url}&id_token_hint={real}")).send().await.unwrap());
    assert!(param(&loc, "code").is_some(), "{loc}");
}

/// A private_key_jwt client for client credentials, with the engine's second RSA test key.
async fn private_key_jwt_client(t: &TestServer) -> SigningKey {
    let key = SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let mut jwk = serde_json::to_value(key.public().jwk()).unwrap();
    jwk["kid"] = json!(key.kid());
    admin_client(
        t,
        json!({"client_id": "pkj", "name": "PKJ", "token_endpoint_auth_method": "private_key_jwt",
               "grant_types": ["client_credentials"], "jwks": {"keys": [jwk]}}),
    )
    .await;
    key
}

async fn with_assertion(t: &TestServer, assertion: &str) -> (u16, Value) {
    let r = raw()
        .post(format!("{}/token", t.iss))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn assertion_claims(t: &TestServer, aud: Value, jti: &str) -> Value {
    let _ = t;
    json!({"iss": "pkj", "sub": "pkj", "aud": aud, "exp": now() + 60, "iat": now(), "jti": jti})
}

#[tokio::test]
async fn client_assertions_alg_none_key_confusion_wrong_audience_and_replay_are_refused() {
    spec::covers("OIDC-CORE-9-private-key-jwt");
    spec::covers("JOSE-key-confusion-rejected");
    let t = start().await;
    let key = private_key_jwt_client(&t).await;
    let good = jose::encode(&key, "JWT", &assertion_claims(&t, json!(t.iss), "j-1"));
    let (s, body) = with_assertion(&t, &good).await;
    assert_eq!(s, 200, "{body}");
    // Replay of the same assertion (same jti).
    let (s, body) = with_assertion(&t, &good).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("invalid_client")),
        "replayed jti"
    );
    // Audience: the token endpoint (audience injection) and a foreign issuer are refused.
    for (i, aud) in [
        json!(format!("{}/token", t.iss)),
        json!("https://evil.example"),
        json!([t.iss, "https://evil.example"]),
    ]
    .into_iter()
    .enumerate()
    {
        let a = jose::encode(&key, "JWT", &assertion_claims(&t, aud.clone(), &format!("aud-{i}")));
        let (s, body) = with_assertion(&t, &a).await;
        assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "aud {aud}");
    }
    // alg none and HS256 keyed with the client's own public key.
    let fresh = jose::encode(&key, "JWT", &assertion_claims(&t, json!(t.iss), "j-2"));
    let payload = fresh.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64url(br#"{"alg":"none"}"#));
    let hs = {
        let header = b64url(json!({"alg": "HS256", "kid": key.kid()}).to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let jwk = serde_json::to_string(&key.public().jwk()).unwrap();
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwk.as_bytes());
        format!(
            "{input}.{}",
            b64url(aws_lc_rs::hmac::sign(&k, input.as_bytes()).as_ref())
        )
    };
    for (what, a) in [("alg none", none), ("HS256 with the public key", hs)] {
        let (s, body) = with_assertion(&t, &a).await;
        assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "{what}");
    }
    // The untouched assertion with a fresh jti is still good.
    assert_eq!(with_assertion(&t, &fresh).await.0, 200);
}

#[tokio::test]
async fn oversized_and_deeply_nested_json_get_400_never_500() {
    spec::covers("HTTP-input-limits");
    let t = start().await;
    let root = root_token(&t).await;
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(2_000), "}".repeat(2_000));
    let huge = json!({"client_name": "x".repeat(200_000), "redirect_uris": [CB]}).to_string();
    let many = json!({"redirect_uris": vec![CB; 20_000]}).to_string();
    for (path, token) in [
        (format!("{}/register", t.iss), None),
        (
            format!("{}/admin/v1/tenants/demo/clients", t.server.base),
            Some(root.as_str()),
        ),
        (
            format!("{}/admin/v1/tenants/demo/users", t.server.base),
            Some(root.as_str()),
        ),
    ] {
        for (what, body) in [
            ("deep array", &deep),
            ("deep object", &deep_object),
            ("200 KB", &huge),
            ("20,000 redirect URIs", &many),
        ] {
            let mut rb = raw()
                .post(&path)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(tok) = token {
                rb = rb.bearer_auth(tok);
            }
            let r = rb.send().await.unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(status == 400 || status == 413, "{what} to {path}: {status} {v}");
            assert!(v["error"].is_string(), "{what} to {path}: {v}");
        }
    }
    // The server is still fine.
    assert_eq!(
        raw()
            .get(format!("{}/healthz", t.server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn oversized_headers_and_cookies_get_431_never_500() {
    spec::covers("HTTP-input-limits");
    let t = start().await;
    let discovery = format!("{}/.well-known/openid-configuration", t.iss);
    let big_cookie = format!("op_session={}", "a".repeat(20_000));
    let r = raw().get(&discovery).header("cookie", big_cookie).send().await.unwrap();
    assert_eq!(r.status(), 431);
    let r = raw()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth("a".repeat(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let mut many = raw().get(&discovery);
    for i in 0..200 {
        many = many.header(format!("x-h{i}"), "v".repeat(100));
    }
    let status = many.send().await.map(|r| r.status().as_u16());
    assert!(matches!(status, Ok(431) | Ok(400)) || status.is_err(), "{status:?}");
    // A normal request on a fresh connection still works.
    assert_eq!(raw().get(&discovery).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn outbound_fetches_never_reach_private_addresses_without_the_development_flag() {
    spec::covers("OUTBOUND-fetch-guard");
    let t = start().await; // no --allow-private-fetch
                           // A listener on loopback that counts every connection the provider makes to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // request_uri at loopback: invalid_request_uri, redirected to the registered URI.
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let url = format!("{url}&request_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fro.jwt");
    let loc = location(&browser().get(url).send().await.unwrap());
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request_uri"), "{loc}");
    // jwks_uri and sector_identifier_uri at loopback (and at cloud metadata): invalid_client_metadata.
    for (field, target) in [
        ("jwks_uri", format!("http://127.0.0.1:{port}/jwks.json")),
        ("sector_identifier_uri", format!("http://localhost:{port}/sector.json")),
        ("jwks_uri", "http://169.254.169.254/latest/meta-data".to_string()),
    ] {
        let mut body = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt"});
        body[field] = json!(target);
        if field == "sector_identifier_uri" {
            body["token_endpoint_auth_method"] = json!("client_secret_basic");
        }
        let r = raw()
            .post(format!("{}/register", t.iss))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (status, v["error"].as_str()),
            (400, Some("invalid_client_metadata")),
            "{field} {target}: {v}"
        );
    }
    // A back-channel logout URI at loopback is never POSTed to either.
    let root = root_token(&t).await;
    let (s, c) = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(json!({"client_id": "bcl", "name": "BCL", "redirect_uris": [CB],
                    "backchannel_logout_uri": format!("http://127.0.0.1:{port}/logout")})),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let b = browser();
    let url = authorize_url(&t.iss, "bcl", CB, "openid", "");
    let code = param(
        &location(&browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await),
        "code",
    )
    .unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let (_, tokens) = token_as(&t, "bcl", c["client_secret"].as_str().unwrap(), &form).await;
    let hint = tokens["id_token"].as_str().expect("an ID token");
    let r = b
        .get(format!("{}/end-session?id_token_hint={hint}", t.iss))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "logged out (the POST to the private address was refused)"
    );
    assert!(r.text().await.unwrap().to_lowercase().contains("signed out"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no connection to a private address"
    );
}

/// Two servers given one shared state agree on failed logins and on document changes: the
/// handlers ask the `SharedState` trait, not their own process (the PostgreSQL issue's instances
/// share one through the database).
#[tokio::test]
async fn servers_sharing_state_count_failed_logins_and_see_document_changes_together() {
    use adapter_http::shared_state::{Handle, Local, SharedState};
    let limits = RateLimits {
        login_per_ip: 0,
        login_failures_per_source: 2,
        ..Default::default()
    };
    let shared: std::sync::Arc<dyn SharedState> = std::sync::Arc::new(Local::new(limits));
    let a = start_tuned(|o| {
        o.limits = limits;
        o.shared_state = Some(Handle(shared.clone()));
    })
    .await;
    let b = start_tuned(|o| {
        o.limits = limits;
        o.shared_state = Some(Handle(shared.clone()));
    })
    .await;
    let attempt = |t: &TestServer, pw: &str| {
        let (iss, url, pw) = (
            t.iss.clone(),
            authorize_url(&t.iss, "demo-client", CB, "openid", ""),
            pw.to_string(),
        );
        async move {
            let br = browser();
            let html = br.get(&url).send().await.unwrap().text().await.unwrap();
            submit_login(&br, &iss, &html, "demo", &pw).await.status()
        }
    };
    assert_eq!(attempt(&a, "guess").await, 200);
    assert_eq!(attempt(&b, "guess").await, 200);
    assert_eq!(attempt(&a, "guess").await, 429, "two failures, one on each server");
    assert_eq!(attempt(&b, "guess").await, 429);
    // A change on one server moves the generation both render their documents under.
    let before = shared.doc_generation();
    let root = root_token(&b).await;
    let body = json!({"display_name": "Demo renamed"});
    let r = call(&b, Method::PATCH, "/admin/v1/tenants/demo", Some(&root), Some(body)).await;
    assert_eq!(r.0, 200, "{}", r.1);
    assert!(shared.doc_generation() > before);
    a.server.stop().await.unwrap();
    b.server.stop().await.unwrap();
}
