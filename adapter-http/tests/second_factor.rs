//! Two-step sign-in through the pages: enrolling an authenticator app (QR code and key),
//! recovery codes, a second sign-in with a recovery code, the acr/amr claims, discovery, and
//! the Admin API's view and reset of a user's second factors.

mod common;
use common::*;
use engine::mfa::totp;
use reqwest::{Client, Method};
use serde_json::Value;

/// The text of `<code class="secret" id="totp-secret">…</code>` on the enrolment page.
fn shown_secret(html: &str) -> Vec<u8> {
    let start = html.find("id=\"totp-secret\">").expect("the key is shown") + "id=\"totp-secret\">".len();
    let end = html[start..].find('<').unwrap() + start;
    totp::secret_from_base32(&html[start..end]).expect("base32")
}

/// The recovery codes listed on their page.
fn shown_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect()
}

fn now() -> engine::UnixTime {
    engine::UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

/// Posts one of the sign-in forms of `html` with `extra` fields.
async fn post_form(b: &Client, iss: &str, path: &str, html: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("transaction".to_string(), hidden(html, "transaction")),
        ("csrf".to_string(), hidden(html, "csrf")),
    ];
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.post(format!("{iss}/{path}")).form(&form).send().await.unwrap()
}

/// Approves the consent page if `r` is one; the final redirect's code.
async fn code_after(b: &Client, iss: &str, r: reqwest::Response) -> String {
    let r = if r.status().is_redirection() {
        r
    } else {
        let html = r.text().await.unwrap();
        assert!(html.contains("name=\"decision\""), "expected consent:\n{html}");
        post_form(b, iss, "consent", &html, &[("decision", "approve")]).await
    };
    param(&location(&r), "code").expect("a code")
}

#[tokio::test]
async fn an_app_is_enrolled_through_the_pages_and_a_recovery_code_signs_in_once() {
    let t = start().await;
    let root = root_token(&t).await;
    // Discovery lists the levels.
    let d: Value = Client::new()
        .get(format!("{}/.well-known/openid-configuration", t.iss))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["acr_values_supported"], serde_json::json!(["1", "2"]));
    // The app asks for two factors; the demo user has none: password, then set-up.
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid profile", "&acr_values=2");
    let login = b.get(&url).send().await.unwrap().text().await.unwrap();
    let r = submit_login(&b, &t.iss, &login, &t.demo.username, &t.demo.password).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("op_session=")),
        "no session before the second factor"
    );
    let setup = r.text().await.unwrap();
    assert!(
        setup.contains("Set up two-step sign-in") && setup.contains("<svg"),
        "{setup}"
    );
    let secret = shown_secret(&setup);
    let r = post_form(&b, &t.iss, "login/enrol", &setup, &[("code", "000000")]).await;
    assert!(r.text().await.unwrap().contains("That code is not right."));
    let code = totp::code_at(&secret, now());
    let r = post_form(&b, &t.iss, "login/enrol", &setup, &[("code", &code)]).await;
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("op_session=")));
    let page = r.text().await.unwrap();
    let codes = shown_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    let r = post_form(&b, &t.iss, "login/continue", &page, &[]).await;
    let code = code_after(&b, &t.iss, r).await;
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (id["acr"].clone(), id["amr"].clone()),
        ("2".into(), serde_json::json!(["pwd", "otp", "mfa"]))
    );

    // Another browser, no acr_values: the user enrolled, so the second step is asked.
    let b2 = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid profile", "");
    let login = b2.get(&url).send().await.unwrap().text().await.unwrap();
    let step = submit_login(&b2, &t.iss, &login, &t.demo.username, &t.demo.password)
        .await
        .text()
        .await
        .unwrap();
    assert!(step.contains("Two-step sign-in") && !step.contains("<svg"), "{step}");
    let r = post_form(&b2, &t.iss, "login/second-factor", &step, &[("code", &codes[0])]).await;
    let code = code_after(&b2, &t.iss, r).await;
    let (_, tokens) = exchange(&t, &code).await;
    assert_eq!(jwt_payload(tokens["id_token"].as_str().unwrap())["acr"], "2");

    // The same recovery code again, in a third browser: refused.
    let b3 = browser();
    let login = b3.get(&url).send().await.unwrap().text().await.unwrap();
    let step = submit_login(&b3, &t.iss, &login, &t.demo.username, &t.demo.password)
        .await
        .text()
        .await
        .unwrap();
    let again = post_form(&b3, &t.iss, "login/second-factor", &step, &[("code", &codes[0])]).await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("That code is not right."));

    // The Admin API: the app and nine codes; reset; then nothing.
    let user = demo_user_id(&t, &root).await;
    let path = format!("/admin/v1/tenants/demo/users/{user}/second-factors");
    let (s, f) = call(&t, Method::GET, &path, Some(&root), None).await;
    assert_eq!((s, f["recovery_codes_left"].as_u64()), (200, Some(9)), "{f}");
    assert!(f["totp_enrolled_at"].is_u64());
    let (s, _) = call(&t, Method::DELETE, &path, Some(&root), None).await;
    assert_eq!(s, 200);
    let (_, f) = call(&t, Method::GET, &path, Some(&root), None).await;
    assert_eq!(
        (f["recovery_codes_left"].as_u64(), f.get("totp_enrolled_at")),
        (Some(0), None)
    );
    // Password alone again (the demo tenant's policy is optional).
    let b4 = browser();
    let code = demo_code(&t, &b4, "openid").await;
    let (_, tokens) = exchange(&t, &code).await;
    assert_eq!(jwt_payload(tokens["id_token"].as_str().unwrap())["acr"], "1");
}

#[tokio::test]
async fn a_required_policy_over_the_admin_api_takes_the_user_through_set_up() {
    let t = start().await;
    let root = root_token(&t).await;
    let (s, tenant) = call(
        &t,
        Method::PATCH,
        "/admin/v1/tenants/demo",
        Some(&root),
        Some(serde_json::json!({ "second_factor": "required" })),
    )
    .await;
    assert_eq!(
        (s, tenant["second_factor"].as_str()),
        (200, Some("required")),
        "{tenant}"
    );
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let login = b.get(&url).send().await.unwrap().text().await.unwrap();
    let setup = submit_login(&b, &t.iss, &login, &t.demo.username, &t.demo.password)
        .await
        .text()
        .await
        .unwrap();
    assert!(setup.contains("Set up two-step sign-in"), "{setup}");
    // prompt=none with no session: login_required, as before.
    let r = b
        .get(authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "&prompt=none"))
        .send()
        .await
        .unwrap();
    assert_eq!(param(&location(&r), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn the_account_page_sets_up_an_app_for_the_signed_in_user() {
    let t = start().await;
    let b = browser();
    let url = format!("{}/account", t.iss);
    let r = b.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "no session yet");
    demo_code(&t, &b, "openid").await;
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Two-step sign-in is off"), "{page}");
    let csrf = hidden(&page, "csrf");
    let post = |action: &'static str, code: String| {
        let (b, url, csrf) = (b.clone(), url.clone(), csrf.clone());
        async move {
            let form = [("csrf", csrf), ("action", action.to_string()), ("code", code)];
            b.post(&url).form(&form).send().await.unwrap().text().await.unwrap()
        }
    };
    // A form without the CSRF value is refused.
    let r = b.post(&url).form(&[("action", "start")]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let setup = post("start", String::new()).await;
    assert!(setup.contains("<svg"), "{setup}");
    let secret = shown_secret(&setup);
    let done = post("confirm", totp::code_at(&secret, now())).await;
    assert!(done.contains("Two-step sign-in is on."), "{done}");
    assert_eq!(shown_codes(&done).len(), 10);
    // The demo tenant's policy is optional: the user may turn it off again.
    let off = post("remove", String::new()).await;
    assert!(off.contains("Two-step sign-in is off."), "{off}");
}

/// Sets up an app for the demo user on the account page (after a password sign-in); its secret.
async fn enrol_on_the_account_page(t: &TestServer) -> Vec<u8> {
    let b = browser();
    demo_code(t, &b, "openid").await;
    let url = format!("{}/account", t.iss);
    let page = b.get(&url).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    let post = |action: &'static str, code: String| {
        let form = [("csrf", csrf.clone()), ("action", action.to_string()), ("code", code)];
        let (b, url) = (b.clone(), url.clone());
        async move { b.post(&url).form(&form).send().await.unwrap().text().await.unwrap() }
    };
    let secret = shown_secret(&post("start", String::new()).await);
    let done = post("confirm", totp::code_at(&secret, now())).await;
    assert!(done.contains("Two-step sign-in is on."), "{done}");
    secret
}

#[tokio::test]
async fn wrong_codes_count_toward_the_failed_login_throttle() {
    spec::covers("MFA-totp-once");
    let t = start_with(adapter_http::rate_limit::RateLimits {
        login_per_ip: 0,
        login_failures_per_source: 3,
        login_failures_per_account: 100,
        ..Default::default()
    })
    .await;
    enrol_on_the_account_page(&t).await;
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let login = b.get(&url).send().await.unwrap().text().await.unwrap();
    let step = submit_login(&b, &t.iss, &login, &t.demo.username, &t.demo.password)
        .await
        .text()
        .await
        .unwrap();
    assert!(step.contains("Two-step sign-in"), "{step}");
    for _ in 0..2 {
        let r = post_form(&b, &t.iss, "login/second-factor", &step, &[("code", "000000")]).await;
        assert_eq!(r.status(), 200);
    }
    // The third wrong code uses up this source's failures for the account: 429 from now on,
    // for codes and passwords alike.
    let r = post_form(&b, &t.iss, "login/second-factor", &step, &[("code", "000000")]).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let again = b.get(&url).send().await.unwrap().text().await.unwrap();
    let r = submit_login(&b, &t.iss, &again, &t.demo.username, &t.demo.password).await;
    assert_eq!(r.status(), 429, "the right password, after three wrong codes");
}
