//! End-to-end flows over HTTP against the real server.

mod common;
use common::*;
use engine::{ClientSpec, Env};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use spec::{ClientAuthMethod, GrantType};

/// A response's headers but `date`, as sorted (name, value) pairs.
fn headers_but_date(h: &poem::http::HeaderMap) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = h
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    headers.sort();
    headers
}

/// The first GET of a document is routed (and renders it); later ones are answered from the
/// cache before routing, and must not differ in anything but `date`.
#[tokio::test]
async fn cached_documents_answer_like_routed_ones() {
    let t = start().await;
    let snapshot = |url: String| async move {
        let r = reqwest::get(url).await.unwrap();
        let status = r.status();
        let headers = headers_but_date(r.headers());
        (status, headers, r.bytes().await.unwrap())
    };
    for url in [
        format!("{}/.well-known/openid-configuration", t.iss),
        format!("{}/.well-known/oauth-authorization-server/demo", t.server.base),
        format!("{}/jwks", t.iss),
    ] {
        let routed = snapshot(url.clone()).await;
        assert_eq!(routed.0, 200, "{url}");
        assert!(
            routed
                .1
                .iter()
                .any(|(k, v)| k == "cache-control" && v == "public, max-age=300"),
            "{url}: {:?}",
            routed.1
        );
        assert!(routed.1.iter().any(|(k, _)| k == "x-frame-options"), "{url}");
        let cached = snapshot(url.clone()).await;
        assert_eq!(cached, routed, "{url}");
    }
    let oversized = Client::new()
        .get(format!("{}/jwks", t.iss))
        .header("X-Padding", "a".repeat(9 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        oversized.status(),
        431,
        "a cached document does not bypass the header limit"
    );
    let cors = Client::new()
        .get(format!("{}/jwks", t.iss))
        .header("Origin", "https://spa.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cors.headers()["access-control-allow-origin"],
        "*",
        "a CORS request is still answered for CORS"
    );
    t.server.stop().await.unwrap();
}

/// Introspection is answered before routing when it can be (`fast_introspect`); every answer
/// must equal the routed one (the same app with the fast paths off) in all but `date` and the
/// order of the JSON object's members.
#[tokio::test]
async fn introspection_answers_like_the_routed_endpoint() {
    use poem::EndpointExt;
    let t = start().await;
    let state = t.server.state.clone();
    let fast = adapter_http::app(state.clone(), false).map_to_response().boxed();
    let routed = adapter_http::app(state, true).map_to_response().boxed();
    let (_, cc) = token(&t, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    let at = cc["access_token"].as_str().unwrap().to_string();
    let (_, revoked) = token(&t, &[("grant_type", "client_credentials")]).await;
    let revoked = revoked["access_token"].as_str().unwrap().to_string();
    assert_eq!(token_management(&t, "revoke", &revoked).await.0, 200);
    let code = demo_code(&t, &browser(), "openid").await;
    let (_, tokens) = exchange(&t, &code).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    use base64ct::Encoding;
    let basic_of = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64ct::Base64::encode_string(format!("{id}:{secret}").as_bytes())
        )
    };
    let basic = basic_of(&t.demo.client_id, &t.demo.client_secret);
    let wrong = basic_of(&t.demo.client_id, "nope");
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let cases: Vec<(Option<&str>, String)> = vec![
        (Some(&basic), format!("token={}", enc(&at))),
        (
            Some(&basic),
            format!("token={}&token_type_hint=refresh_token", enc(&at)),
        ),
        (Some(&basic), format!("token={}", enc(&rt))),
        (Some(&basic), format!("token={}", enc(&revoked))),
        (Some(&basic), "token=never-issued".into()),
        (Some(&basic), "token=a.b.c".into()),
        (Some(&basic), "token=".into()),
        (Some(&basic), "token_type_hint=access_token".into()),
        (Some(&basic), format!("token={0}&token={0}", enc(&at))),
        (Some(&basic), format!("token={}&client_secret=x", enc(&at))),
        (Some(&wrong), format!("token={}", enc(&at))),
        (Some("Bearer x"), format!("token={}", enc(&at))),
        (
            None,
            format!(
                "token={}&client_id={}&client_secret={}",
                enc(&at),
                t.demo.client_id,
                t.demo.client_secret
            ),
        ),
        (None, format!("token={}", enc(&at))),
        (None, format!("token={}&client_id=demo-client", enc(&at))),
        (Some(&basic), "token=%ff".into()),
        (
            None,
            format!(
                "token={}&client_assertion_type={}&client_assertion=a.b.c",
                enc(&at),
                enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            ),
        ),
    ];
    let mut statuses = Vec::new();
    let before = t.server.state.metrics.introspections_before_routing();
    for (auth, body) in &cases {
        let f = poem_answer(&fast, *auth, body).await;
        let r = poem_answer(&routed, *auth, body).await;
        assert_eq!(f, r, "{auth:?} {body}");
        statuses.push(f.0.as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 400, 400, 401, 401, 401, 401, 401, 401, 400, 401]
    );
    // All but the repeated `token`, the undecodable body and the client assertion were answered
    // before routing.
    let fast_answers = t.server.state.metrics.introspections_before_routing() - before;
    assert_eq!(fast_answers, cases.len() as u64 - 3);
    let active = poem_answer(&fast, Some(&basic), &format!("token={}", enc(&at))).await;
    assert_eq!(active.2["active"], true, "{}", active.2);
    assert_eq!(active.2["client_id"], t.demo.client_id.as_str(), "{}", active.2);
    t.server.stop().await.unwrap();
}

/// A form POST to `/demo/introspect` through `ep`: status, headers but `date` (sorted), body.
async fn poem_answer(
    ep: &poem::endpoint::BoxEndpoint<'static, poem::Response>,
    auth: Option<&str>,
    body: &str,
) -> (poem::http::StatusCode, Vec<(String, String)>, Value) {
    use poem::Endpoint;
    let mut b = poem::Request::builder()
        .method(poem::http::Method::POST)
        .uri("/demo/introspect".parse().unwrap())
        .content_type("application/x-www-form-urlencoded")
        .header("content-length", body.len().to_string());
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    let r = ep.get_response(b.body(body.to_string())).await;
    let headers = headers_but_date(r.headers());
    let status = r.status();
    let body = r.into_body().into_string().await.unwrap();
    let json = serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, headers, json)
}

#[tokio::test]
async fn discovery_and_jwks_are_truthful() {
    let t = start().await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", t.iss))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], t.iss.as_str());
    for (k, path) in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "token"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", "jwks"),
        ("end_session_endpoint", "end-session"),
        ("introspection_endpoint", "introspect"),
        ("revocation_endpoint", "revoke"),
        ("pushed_authorization_request_endpoint", "par"),
    ] {
        assert_eq!(d[k], format!("{}/{path}", t.iss), "{k}");
    }
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        d["response_types_supported"],
        serde_json::json!([
            "code",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token"
        ])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["require_pushed_authorization_requests"], false);
    for mode in [
        "query",
        "form_post",
        "jwt",
        "query.jwt",
        "fragment.jwt",
        "form_post.jwt",
    ] {
        assert!(
            d["response_modes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == mode),
            "{mode}"
        );
    }
    let rfc8414: Value = reqwest::get(format!("{}/.well-known/oauth-authorization-server/demo", t.server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rfc8414, d);
    let jwks: Value = reqwest::get(format!("{}/jwks", t.iss))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, vec!["RS256", "ES256", "ES384"]);
    assert_eq!(
        reqwest::get(format!("{}/nope/.well-known/openid-configuration", t.server.base))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", t.server.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn confidential_client_full_flow_through_the_pages() {
    let t = start().await;
    let b = browser();
    // The login page: anti-framing headers and the public form contract.
    let r = b
        .get(authorize_url(
            &t.iss,
            &t.demo.client_id,
            CB,
            "openid profile email organization",
            "",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("op_csrf="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/demo"),
        "{cookie}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    // Wrong password: the page again, with an error.
    let again = submit_login(&b, &t.iss, &html, "demo", "wrong")
        .await
        .text()
        .await
        .unwrap();
    assert!(again.contains("Invalid username or password"));
    // The rest of the flow.
    let code = demo_code(&t, &b, "openid profile email organization").await;
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let at = tokens["access_token"].as_str().unwrap();
    let ui: Value = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["email"], "demo@example.com");
    assert_eq!(ui["organization_id"], "demo-org");
    // POST userinfo: header and form body.
    let ui2: Value = Client::new()
        .post(format!("{}/userinfo", t.iss))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui2, ui);
    let ui3: Value = Client::new()
        .post(format!("{}/userinfo", t.iss))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui3, ui);
    // Refresh rotation, then reuse detection.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (s, rotated) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!(s, 200);
    let (s, reuse) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((s, reuse["error"].as_str()), (400, Some("invalid_grant")));
    let (_, i) = token_management(&t, "introspect", rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(i["active"], false, "reuse revoked the family");
    // The code cannot be used twice.
    let (s, e) = exchange(&t, &code).await;
    assert_eq!(
        (s, e["error_description"].as_str()),
        (400, Some("Authorization code is invalid, expired, or already used"))
    );
}

async fn token_management(t: &TestServer, endpoint: &str, token: &str) -> (u16, Value) {
    let r = Client::new()
        .post(format!("{}/{endpoint}", t.iss))
        .basic_auth(&t.demo.client_id, Some(&t.demo.client_secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn public_client_flow_with_pkce_only() {
    let t = start().await;
    let mut spec = ClientSpec::new("SPA", ClientAuthMethod::None, &["http://localhost:5173/callback"]);
    spec.client_id = Some("spa".into());
    spec.grant_types = vec![GrantType::AuthorizationCode];
    t.server
        .state
        .engine
        .call(|e, env: &mut Env<'_>| e.create_client(env, "demo", spec))
        .await
        .unwrap();
    let b = browser();
    let url = authorize_url(
        &t.iss,
        "spa",
        "http://localhost:5173/callback",
        "openid profile email",
        "",
    );
    let r = browse_to_redirect(&b, &t.iss, &url, "demo", &t.demo.password).await;
    let code = param(&location(&r), "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:5173/callback"),
        ("client_id", "spa"),
        ("code_verifier", VERIFIER),
    ];
    let r = Client::new()
        .post(format!("{}/token", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none());
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn client_credentials_introspection_and_revocation() {
    let t = start().await;
    let (s, cc) = token(&t, &[("grant_type", "client_credentials"), ("scope", "openid")]).await;
    assert_eq!(s, 200, "{cc}");
    assert!(cc.get("refresh_token").is_none() && cc.get("id_token").is_none());
    let at = cc["access_token"].as_str().unwrap();
    let (s, i) = token_management(&t, "introspect", at).await;
    assert_eq!(
        (s, &i["active"], &i["client_id"]),
        (200, &Value::Bool(true), &Value::String("demo-client".into()))
    );
    let (s, _) = token_management(&t, "revoke", at).await;
    assert_eq!(s, 200);
    let (_, i) = token_management(&t, "introspect", at).await;
    assert_eq!(i, serde_json::json!({"active": false}));
    let (s, _) = token_management(&t, "revoke", "never-issued").await;
    assert_eq!(s, 200);
    // Introspection needs client authentication.
    let r = Client::new()
        .post(format!("{}/introspect", t.iss))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn prompt_none_logout_and_post_logout_redirect() {
    let t = start().await;
    let b = browser();
    let silent = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "&prompt=none");
    let r = b.get(&silent).send().await.unwrap();
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&loc, "iss").as_deref(), Some(t.iss.as_str()));
    let code = demo_code(&t, &b, "openid").await;
    let (_, tokens) = exchange(&t, &code).await;
    // Logged in with consent: prompt=none succeeds silently.
    let r = b.get(&silent).send().await.unwrap();
    assert!(param(&location(&r), "code").is_some());
    // Logout with a registered post_logout_redirect_uri.
    let mut u = url::Url::parse(&format!("{}/end-session", t.iss)).unwrap();
    u.query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "http://localhost:3000/")
        .append_pair("state", "bye");
    let r = b.get(u.as_str()).send().await.unwrap();
    assert_eq!(location(&r), "http://localhost:3000/?state=bye");
    let (_, i) = token_management(&t, "introspect", tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(i["active"], false);
    let r = b.get(&silent).send().await.unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("login_required"));
    // An unregistered post_logout_redirect_uri is never followed.
    let mut u = url::Url::parse(&format!("{}/end-session", t.iss)).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", "demo-client")
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let r = b.get(u.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // No parameters: a confirmation page, then a logged-out page.
    let html = b
        .get(format!("{}/end-session", t.iss))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [("csrf", hidden(&html, "csrf")), ("confirm", "yes".into())];
    let done = b
        .post(format!("{}/end-session", t.iss))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("You are signed out"));
}

#[tokio::test]
async fn form_post_response_mode_renders_an_auto_submitting_form() {
    let t = start().await;
    let b = browser();
    demo_code(&t, &b, "openid").await;
    let r = b
        .get(authorize_url(
            &t.iss,
            &t.demo.client_id,
            CB,
            "openid",
            "&response_mode=form_post",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.replace("&#x2f;", "/").contains(&format!("action=\"{CB}\"")),
        "{html}"
    );
    assert!(hidden(&html, "code").len() == 43);
    assert_eq!(hidden(&html, "state"), "st-1");
}

#[tokio::test]
async fn a_resource_indicator_sets_the_access_token_audience_over_http() {
    spec::covers("RFC8707-resource-indicators");
    let t = start().await;
    let root = root_token(&t).await;
    let api = "https://api.example.com/";
    let (s, c) = call(
        &t,
        reqwest::Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(
            serde_json::json!({"client_id": "svc", "name": "Service", "grant_types": ["client_credentials"],
                                "allowed_resources": [api]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["allowed_resources"][0], api);
    let secret = c["client_secret"].as_str().unwrap();
    let cc = |resource: &'static str| {
        Client::new()
            .post(format!("{}/token", t.iss))
            .basic_auth("svc", Some(secret))
            .form(&[("grant_type", "client_credentials"), ("resource", resource)])
            .send()
    };
    let v: Value = cc(api).await.unwrap().json().await.unwrap();
    let claims = jwt_payload(v["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], api);
    let r = cc("https://elsewhere.example/").await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_target");
    // A second client is the API (RFC 7662 §2.1): it introspects the tokens issued for it.
    let (s, rs) = call(
        &t,
        reqwest::Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(
            serde_json::json!({"client_id": "reports-api", "name": "Reports API", "grant_types": ["client_credentials"],
                                "resource_server_for": [api]}),
        ),
    )
    .await;
    assert_eq!((s, rs["resource_server_for"][0].as_str()), (201, Some(api)), "{rs}");
    let introspect = |id: String, secret: String, token: String| {
        let url = format!("{}/introspect", t.iss);
        async move {
            let r = Client::new()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let token = v["access_token"].as_str().unwrap().to_string();
    let rs_secret = rs["client_secret"].as_str().unwrap().to_string();
    let seen = introspect("reports-api".into(), rs_secret.clone(), token.clone()).await;
    assert_eq!(
        (seen["active"].as_bool(), seen["aud"].as_str()),
        (Some(true), Some(api)),
        "{seen}"
    );
    assert_eq!(seen["client_id"], "svc");
    let demo = introspect(t.demo.client_id.clone(), t.demo.client_secret.clone(), token).await;
    assert_eq!(demo, serde_json::json!({"active": false}), "anyone else learns nothing");
    let plain: Value = Client::new()
        .post(format!("{}/token", t.iss))
        .basic_auth("svc", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let not_for_api = plain["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        introspect("reports-api".into(), rs_secret, not_for_api).await["active"],
        false
    );
}

/// `--metrics-listen`: the login's argon2id check is counted with its CPU time, each purge with
/// what it read, on a listener of its own; the public port does not answer `/metrics`.
#[tokio::test]
async fn metrics_count_the_password_checks_and_the_purges_on_their_own_listener() {
    let t = start_tuned(|o| {
        o.metrics_listen = Some("127.0.0.1:0".into());
        o.purge_every = Some(std::time::Duration::from_millis(300));
    })
    .await;
    let metrics_url = format!("http://{}/metrics", t.server.metrics_addr.expect("metrics listener"));
    let scrape = || async {
        let r = reqwest::get(&metrics_url).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        r.text().await.unwrap()
    };
    let value = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value(&scrape().await, "oidc_password_checks_total"), 0.0);
    let b = browser();
    demo_code(&t, &b, "openid").await;
    let text = scrape().await;
    assert_eq!(value(&text, "oidc_password_checks_total"), 1.0, "one login form");
    // The default argon2id cost (19 MiB, 2 passes) takes milliseconds of CPU on any machine.
    let cpu = value(&text, "oidc_password_check_cpu_seconds_total");
    assert!(cpu > 0.001, "argon2id CPU {cpu} s");
    // Purges run every 300 ms here; the login left a session, a code and audit events to read.
    let mut text = text;
    for _ in 0..50 {
        if value(&text, "oidc_purge_records_read_total") > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = scrape().await;
    }
    assert!(value(&text, "oidc_purges_total") >= 1.0, "{text}");
    assert!(value(&text, "oidc_purge_records_read_total") > 0.0, "{text}");
    let public = reqwest::get(format!("{}/metrics", t.server.base)).await.unwrap();
    assert_eq!(public.status(), 404, "the public port does not serve metrics");
}

/// RFC 9126 over HTTP: the demo client pushes its request (Basic auth), gets 201 with a one-time
/// `request_uri`, and the browser signs in with `client_id` and `request_uri` alone; a second use
/// is an error page; bad pushes get the token endpoint's JSON errors.
#[tokio::test]
async fn a_pushed_authorization_request_signs_in_through_the_pages() {
    spec::covers("RFC9126-2-pushed-authorization-request");
    let t = start().await;
    let http = Client::new();
    let push = |form: Vec<(&'static str, String)>, secret: String| {
        http.post(format!("{}/par", t.iss))
            .basic_auth(&t.demo.client_id, Some(secret))
            .form(&form)
            .send()
    };
    let form = vec![
        ("response_type", "code".to_string()),
        ("redirect_uri", CB.to_string()),
        ("scope", "openid".to_string()),
        ("state", "pushed-state".to_string()),
        ("code_challenge", CHALLENGE.to_string()),
        ("code_challenge_method", "S256".to_string()),
    ];
    let r = push(form.clone(), t.demo.client_secret.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let url = format!(
        "{}/authorize?client_id={}&request_uri={}",
        t.iss,
        t.demo.client_id,
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );
    let b = browser();
    let r = browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    assert!(loc.starts_with(CB), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("pushed-state"));
    let code = param(&loc, "code").unwrap();
    assert_eq!(exchange(&t, &code).await.0, 200);
    let again = b.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 400, "a spent request_uri");
    assert!(again.headers().get("location").is_none());
    // Bad pushes: the JSON error of the check that failed, or 401 for a wrong secret.
    let mut bad_scope = form.clone();
    bad_scope[2].1 = "openid admin".into();
    let r = push(bad_scope, t.demo.client_secret.clone()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = push(form.clone(), "wrong".into()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let mut with_uri = form;
    with_uri.push(("request_uri", request_uri));
    let r = push(with_uri, t.demo.client_secret.clone()).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}

/// JARM through the pages: `query.jwt` redirects with one `response` JWT holding the code, the
/// state and the issuer; `form_post.jwt` posts it.
#[tokio::test]
async fn a_jarm_response_carries_the_code_in_a_signed_jwt() {
    spec::covers("JARM-2.3-response-modes");
    let t = start().await;
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "&response_mode=query.jwt");
    let r = browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    assert!(param(&loc, "code").is_none(), "nothing in the clear: {loc}");
    let jwt = param(&loc, "response").unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&engine::secret::b64url_decode(payload).unwrap()).unwrap();
    assert_eq!(claims["iss"], t.iss.as_str());
    assert_eq!(claims["aud"], t.demo.client_id.as_str());
    assert_eq!(claims["state"], "st-1");
    let code = claims["code"].as_str().unwrap().to_string();
    assert_eq!(exchange(&t, &code).await.0, 200);
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "&response_mode=form_post.jwt");
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"response\""), "{page}");
    assert!(!page.contains("name=\"code\""), "{page}");
}

/// The hybrid flow through the pages: a client the Admin API registered for `code id_token` gets
/// the code and an ID token in the fragment.
#[tokio::test]
async fn a_hybrid_response_comes_in_the_fragment_through_the_pages() {
    spec::covers("OIDC-CORE-3.3-hybrid-implicit");
    let t = start().await;
    let root = root_token(&t).await;
    let path = format!("/admin/v1/tenants/demo/clients/{}", t.demo.client_id);
    let (s, c) = call(
        &t,
        Method::PATCH,
        &path,
        Some(&root),
        Some(json!({"response_types": ["code", "id_token code"]})),
    )
    .await;
    assert_eq!(
        (s, &c["response_types"]),
        (200, &json!(["code", "code id_token"])),
        "{c}"
    );
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "")
        .replace("response_type=code", "response_type=code+id_token");
    let b = browser();
    let r = browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    let (_, fragment) = loc.split_once('#').unwrap_or_else(|| panic!("no fragment: {loc}"));
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
    assert!(params.contains_key("code") && params.contains_key("id_token"), "{loc}");
    assert_eq!(jwt_payload(&params["id_token"])["nonce"], "n-1");
    assert!(jwt_payload(&params["id_token"])["c_hash"].is_string());
    assert_eq!(exchange(&t, &params["code"]).await.0, 200);
}
