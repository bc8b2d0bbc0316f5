//! A real server on an ephemeral port with a temporary data directory, and a browser-like client.
#![allow(dead_code)]

use adapter_http::bootstrap::DemoCredentials;
use adapter_http::Server;
use reqwest::redirect::Policy;
use reqwest::{Client, Method, Response};
use serde_json::Value;
use std::path::Path;

pub const CB: &str = "http://localhost:3000/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub demo: DemoCredentials,
    pub iss: String,
}

pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let server = adapter_http::start(&adapter_http::Options::new("127.0.0.1:0", dir.path()))
        .await
        .unwrap();
    let demo = server.demo.clone().expect("first start creates the demo tenant");
    let iss = format!("{}/demo", server.base);
    TestServer { server, dir, demo, iss }
}

pub async fn start_with(limits: adapter_http::rate_limit::RateLimits) -> TestServer {
    start_tuned(|o| o.limits = limits).await
}

/// A server whose options `tune` adjusts (e.g. outbound fetches to loopback for a fixture).
pub async fn start_tuned(tune: impl FnOnce(&mut adapter_http::Options)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = adapter_http::Options::new("127.0.0.1:0", dir.path());
    tune(&mut opts);
    let server = adapter_http::start(&opts).await.unwrap();
    let demo = server.demo.clone().unwrap();
    let iss = format!("{}/demo", server.base);
    TestServer { server, dir, demo, iss }
}

pub async fn restart(dir: &Path) -> Server {
    restart_on(dir, Default::default()).await
}

/// Starts again on `dir`, which holds a `store`.
pub async fn restart_on(dir: &Path, store: adapter_http::data_store::StoreKind) -> Server {
    adapter_http::start(&adapter_http::Options {
        store,
        ..adapter_http::Options::new("127.0.0.1:0", dir)
    })
    .await
    .unwrap()
}

/// A browser-like client: cookie jar, no automatic redirects.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn authorize_url(iss: &str, client_id: &str, redirect: &str, scope: &str, extra: &str) -> String {
    let mut u = url::Url::parse(&format!("{iss}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    format!("{u}{extra}")
}

/// Walks authorize → login page → (consent page) and returns the final redirect.
pub async fn browse_to_redirect(b: &Client, iss: &str, url: &str, user: &str, password: &str) -> Response {
    let r = b.get(url).send().await.unwrap();
    if r.status().is_redirection() {
        return r;
    }
    let html = r.text().await.unwrap();
    let r = if html.contains("name=\"password\"") {
        let form = [
            ("transaction", hidden(&html, "transaction")),
            ("csrf", hidden(&html, "csrf")),
            ("username", user.into()),
            ("password", password.into()),
        ];
        b.post(format!("{iss}/login")).form(&form).send().await.unwrap()
    } else {
        panic!("expected a login page:\n{html}")
    };
    if r.status().is_redirection() {
        return r;
    }
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"decision\""), "expected the consent page:\n{html}");
    let form = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("decision", "approve".into()),
    ];
    b.post(format!("{iss}/consent")).form(&form).send().await.unwrap()
}

/// A code for the demo client through the pages.
pub async fn demo_code(t: &TestServer, b: &Client, scope: &str) -> String {
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, scope, "");
    let r = browse_to_redirect(b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "state").as_deref(), Some("st-1"), "{loc}");
    assert_eq!(param(&loc, "iss").as_deref(), Some(t.iss.as_str()));
    param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
}

/// POSTs a form to the token endpoint with the demo client's Basic credentials.
pub async fn token(t: &TestServer, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    token_as(t, &t.demo.client_id, &t.demo.client_secret, form).await
}

/// POSTs a form to the token endpoint with `client_id`'s Basic credentials.
pub async fn token_as(
    t: &TestServer,
    client_id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let r = Client::new()
        .post(format!("{}/token", t.iss))
        .basic_auth(client_id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    (status, r.json().await.unwrap())
}

pub async fn exchange(t: &TestServer, code: &str) -> (u16, serde_json::Value) {
    token(
        t,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// Submits the login form of `login_page` with `user` and `password`.
pub async fn submit_login(b: &Client, iss: &str, login_page: &str, user: &str, password: &str) -> Response {
    let form = [
        ("transaction", hidden(login_page, "transaction")),
        ("csrf", hidden(login_page, "csrf")),
        ("username", user.to_string()),
        ("password", password.to_string()),
    ];
    b.post(format!("{iss}/login")).form(&form).send().await.unwrap()
}

/// A platform admin token from the system tenant.
pub async fn root_token(t: &TestServer) -> String {
    let a = t.demo.admin.clone().expect("first start creates the admin client");
    cc_token(&a.token_endpoint, &a.client_id, &a.client_secret, "admin")
        .await
        .1["access_token"]
        .as_str()
        .expect("admin token")
        .to_string()
}

pub async fn cc_token(endpoint: &str, id: &str, secret: &str, scope: &str) -> (u16, Value) {
    let r = Client::new()
        .post(endpoint)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Calls the Admin API; returns the status and the JSON body (Null when empty).
pub async fn call(
    t: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = Client::new().request(method, format!("{}{path}", t.server.base));
    if let Some(tok) = token {
        rb = rb.bearer_auth(tok);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn assert_error(got: &(u16, Value), status: u16, error: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
    assert!(got.1["error_description"].is_string(), "{}", got.1);
}
pub mod key_scan;
pub mod process;
pub mod rp;

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Python venv under `target/{name}` with `packages` (pinned) installed, created once (needs
/// PyPI the first time); returns the venv's directory.
pub fn pinned_venv(name: &str, packages: &[&str]) -> std::path::PathBuf {
    use std::process::Command;
    let dir = repo_root().join("target").join(name);
    let marker = dir.join(format!("{}.installed", packages.join("+")));
    if !marker.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "python3 -m venv failed");
        let ok = Command::new(dir.join("bin/pip"))
            .args(["install", "-q"])
            .args(packages)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pip install {packages:?} failed");
        std::fs::write(&marker, "").unwrap();
    }
    dir
}

/// `dir/node_modules` installed from the lockfile with `npm ci`, unless `marker` is already there.
pub fn npm_ci(dir: &Path, marker: &str) {
    if !dir.join("node_modules").join(marker).exists() {
        let ok = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .status()
            .expect("npm is required")
            .success();
        assert!(ok, "npm ci failed in {}", dir.display());
    }
}

/// Creates an organization named `name` in the demo tenant; returns its id.
pub async fn demo_org(t: &TestServer, root: &str, name: &str) -> String {
    let body = serde_json::json!({ "name": name });
    let (status, org) = call(
        t,
        Method::POST,
        "/admin/v1/tenants/demo/organizations",
        Some(root),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    org["id"].as_str().unwrap().to_string()
}

/// The demo user's id.
pub async fn demo_user_id(t: &TestServer, root: &str) -> String {
    let (_, users) = call(t, Method::GET, "/admin/v1/tenants/demo/users", Some(root), None).await;
    let demo = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "demo");
    demo.unwrap()["id"].as_str().unwrap().to_string()
}

/// A JWT's payload, unverified (the tests verify signatures separately where it matters).
pub fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&engine::secret::b64url_decode(payload).unwrap()).unwrap()
}
