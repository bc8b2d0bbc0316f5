//! The provider under test as the suite sees it: a started server, a test user with every claim,
//! registered clients, and a browser that walks the authorization pages like the suite's
//! automation does (fill the login form, approve consent).

use crate::harness::{require, Log, Stop};
use crate::jwt;
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

pub const USER: &str = "conformance";
pub const PASSWORD: &str = "correct horse battery staple 7";
pub const RP: &str = "https://rp.example.org";

/// The running provider.
pub struct Op {
    pub server: adapter_http::Server,
    pub _dir: tempfile::TempDir,
    pub iss: String,
    pub root: String,
    pub user_id: String,
    pub fixture: crate::fixture::Fixture,
    counter: AtomicU64,
}

impl Op {
    /// Starts a fresh server with limits high enough for a test plan's logins, and a user whose
    /// profile has every standard claim.
    pub async fn start(allow_private_fetch: bool) -> Op {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = adapter_http::Options::new("127.0.0.1:0", dir.path());
        opts.limits.login_per_ip = 1000;
        opts.limits.token_per_ip = 5000;
        opts.allow_private_fetch = allow_private_fetch;
        let server = adapter_http::start(&opts).await.expect("server starts");
        let admin = server.demo.clone().unwrap().admin.unwrap();
        let (_, token) =
            crate::common::cc_token(&admin.token_endpoint, &admin.client_id, &admin.client_secret, "admin").await;
        let root = token["access_token"].as_str().expect("admin token").to_string();
        let iss = format!("{}/demo", server.base);
        let mut op = Op {
            server,
            _dir: dir,
            iss,
            root,
            user_id: String::new(),
            fixture: crate::fixture::Fixture::start().await,
            counter: AtomicU64::new(0),
        };
        let (s, u) = op
            .admin(
                Method::POST,
                "/tenants/demo/users",
                json!({"username": USER, "password": PASSWORD, "email": "conformance@example.org",
                   "email_verified": true, "name": "Connie Formance", "given_name": "Connie",
                   "family_name": "Formance", "locale": "en", "picture": "https://example.org/c.png",
                   "phone_number": "+1 555 0100", "phone_number_verified": true,
                   "address": {"formatted": "1 Test Street, Testville", "street_address": "1 Test Street",
                               "locality": "Testville", "postal_code": "12345", "country": "NL"}}),
            )
            .await;
        assert_eq!(s, 201, "conformance user: {u}");
        op.user_id = u["id"].as_str().unwrap().to_string();
        // The Basic plan's static clients send no PKCE: the tenant lets confidential clients opt out.
        // The FAPI 2.0 plan's DPoP proofs must carry server nonces, as a FAPI deployment may ask.
        let (s, t) = op
            .admin(
                Method::PATCH,
                "/tenants/demo",
                json!({"allow_pkce_opt_out": true, "require_dpop_nonce": true}),
            )
            .await;
        assert_eq!((s, &t["allow_pkce_opt_out"]), (200, &json!(true)), "{t}");
        op
    }

    /// A value unique within this run.
    pub fn unique(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Calls the Admin API as the platform administrator.
    pub async fn admin(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let r = Client::new()
            .request(method, format!("{}/admin/v1{path}", self.server.base))
            .bearer_auth(&self.root)
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a static client through the Admin API (the certification "static_client"):
    /// every standard scope, consent on, PKCE optional (the Basic plan sends none).
    pub async fn static_client(&self, auth: &str, extra: Value) -> Rp {
        let id = self.unique("conf-client");
        let mut body = json!({"client_id": id, "name": format!("Conformance {id}"),
            "token_endpoint_auth_method": auth, "redirect_uris": [format!("{RP}/cb")],
            "post_logout_redirect_uris": [format!("{RP}/logged-out")],
            "grant_types": ["authorization_code", "refresh_token"],
            "allowed_scopes": ["openid", "profile", "email", "address", "phone", "offline_access"],
            "require_pkce": false, "require_consent": true});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, c) = self.admin(Method::POST, "/tenants/demo/clients", body).await;
        assert_eq!(s, 201, "static client: {c}");
        Rp {
            id,
            secret: c["client_secret"].as_str().map(str::to_owned),
            redirect: format!("{RP}/cb"),
            auth: match auth {
                "client_secret_post" => Auth::Post,
                _ => Auth::Basic,
            },
        }
    }
}

/// How the client authenticates at the token endpoint.
pub enum Auth {
    Basic,
    Post,
    PrivateKeyJwt(Box<engine::jose::SigningKey>),
}

/// A registered relying party.
pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
    pub redirect: String,
    pub auth: Auth,
}

/// An authorization request under construction.
#[derive(Clone)]
pub struct Req(pub Vec<(String, String)>);

impl Req {
    pub fn set(mut self, k: &str, v: &str) -> Self {
        self.0.retain(|(n, _)| n != k);
        self.0.push((k.into(), v.into()));
        self
    }
    pub fn remove(mut self, k: &str) -> Self {
        self.0.retain(|(n, _)| n != k);
        self
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

/// Where the authorization endpoint left the browser.
#[derive(Debug)]
pub enum Page {
    /// Back at the client: the response parameters, and the URI they were sent to.
    Callback {
        to: String,
        params: BTreeMap<String, String>,
    },
    /// Our login form.
    Login(String),
    /// Our consent form.
    Consent(String),
    /// An error page at the provider (no redirect).
    Error { status: u16, html: String },
    /// Any other page (logout confirmation, logged-out page).
    Other { status: u16, html: String },
}

/// One module's view: the provider, its client, its browser and its log.
pub struct Ctx<'a> {
    pub op: &'a Op,
    pub rp: Rp,
    pub form_post: bool,
    /// Send an S256 challenge with every request (the Dynamic plan).
    pub pkce: bool,
    pub log: Log,
    pub browser: Client,
    /// The `response_type` of the plan's variant (`code` but for the Implicit and Hybrid plans).
    pub response_type: &'static str,
}

pub use crate::common::{CHALLENGE, VERIFIER};

fn hidden_inputs(html: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for chunk in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let Some((name, rest)) = chunk.split_once("\" value=\"") else {
            continue;
        };
        let value = rest.split('"').next().unwrap_or("");
        out.insert(name.to_string(), unescape(value));
    }
    out
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn split_response(location: &str) -> (String, BTreeMap<String, String>) {
    let u = url::Url::parse(location).expect("absolute Location");
    let mut params: BTreeMap<String, String> = u.query_pairs().into_owned().collect();
    if let Some(f) = u.fragment() {
        params.extend(url::form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    let mut to = u.clone();
    to.set_query(None);
    to.set_fragment(None);
    (to.to_string(), params)
}

impl Ctx<'_> {
    pub fn new(op: &Op, rp: Rp, form_post: bool) -> Ctx<'_> {
        Ctx {
            op,
            rp,
            form_post,
            pkce: false,
            log: Log::default(),
            browser: crate::common::browser(),
            response_type: "code",
        }
    }

    /// The plan's default request: code flow, `openid`, fresh state and nonce.
    pub fn request(&self) -> Req {
        let mut r = Req(vec![
            ("client_id".into(), self.rp.id.clone()),
            ("redirect_uri".into(), self.rp.redirect.clone()),
            ("response_type".into(), self.response_type.into()),
            ("scope".into(), "openid".into()),
            ("state".into(), self.op.unique("state")),
            ("nonce".into(), self.op.unique("nonce")),
        ]);
        if self.form_post {
            r = r.set("response_mode", "form_post");
        }
        if self.pkce {
            r = r.set("code_challenge", CHALLENGE).set("code_challenge_method", "S256");
        }
        r
    }

    pub fn url(&self, req: &Req) -> String {
        let mut u = url::Url::parse(&format!("{}/authorize", self.op.iss)).unwrap();
        for (k, v) in &req.0 {
            u.query_pairs_mut().append_pair(k, v);
        }
        u.to_string()
    }

    /// Reads where a response leaves the browser, following redirects within the provider.
    pub async fn page(&self, mut r: Response) -> Page {
        loop {
            let status = r.status().as_u16();
            if r.status().is_redirection() {
                let loc = r.headers()["location"].to_str().unwrap().to_string();
                let loc = if loc.starts_with('/') {
                    format!("{}{loc}", self.op.server.base)
                } else {
                    loc
                };
                if loc.starts_with(&self.op.server.base) {
                    r = self.browser.get(&loc).send().await.unwrap();
                    continue;
                }
                let (to, params) = split_response(&loc);
                return Page::Callback { to, params };
            }
            let html = r.text().await.unwrap();
            return if html.contains("<title>Submit this form</title>") {
                let action = html
                    .split("action=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap();
                Page::Callback {
                    to: unescape(action),
                    params: hidden_inputs(&html),
                }
            } else if status >= 400 {
                Page::Error { status, html }
            } else if html.contains("name=\"password\"") {
                Page::Login(html)
            } else if html.contains("name=\"decision\"") {
                Page::Consent(html)
            } else {
                Page::Other { status, html }
            };
        }
    }

    /// Opens `url` and walks login and consent until the browser leaves the provider.
    pub async fn walk(&self, url: &str) -> Page {
        let r = self.browser.get(url).send().await.unwrap();
        let mut p = self.page(r).await;
        for _ in 0..4 {
            if !matches!(p, Page::Login(_) | Page::Consent(_)) {
                break;
            }
            p = self.interact(p).await;
        }
        p
    }

    /// Sends the request with GET (or POST when `post`).
    pub async fn send(&self, req: &Req, post: bool) -> Page {
        let r = if post {
            self.browser
                .post(format!("{}/authorize", self.op.iss))
                .form(&req.0)
                .send()
                .await
        } else {
            self.browser.get(self.url(req)).send().await
        };
        self.page(r.unwrap()).await
    }

    /// Fills the login form with `user`/`password`, or approves consent; returns the next page.
    pub async fn interact(&self, p: Page) -> Page {
        let (html, path, fields) = match &p {
            Page::Login(html) => (html, "login", [("username", USER), ("password", PASSWORD)].as_slice()),
            Page::Consent(html) => (html, "consent", [("decision", "approve")].as_slice()),
            _ => return p,
        };
        let mut form = hidden_inputs(html);
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let url = format!("{}/{path}", self.op.iss);
        let r = self.browser.post(url).form(&form).send().await;
        self.page(r.unwrap()).await
    }

    /// Sends `req` and walks login and consent until the browser leaves the provider.
    pub async fn authorize(&mut self, req: &Req) -> Result<BTreeMap<String, String>, Stop> {
        let mut p = self.send(req, false).await;
        let mut steps = 0;
        while matches!(p, Page::Login(_) | Page::Consent(_)) && steps < 4 {
            p = self.interact(p).await;
            steps += 1;
        }
        self.callback(req, p)
    }

    /// Requires that `p` is a response at the request's redirect URI; returns its parameters.
    pub fn callback(&mut self, req: &Req, p: Page) -> Result<BTreeMap<String, String>, Stop> {
        let Page::Callback { to, params } = p else {
            return Err(Stop::Fail(format!(
                "expected a response at the client, got {}",
                describe(&p)
            )));
        };
        let expected = req.get("redirect_uri").unwrap_or(&self.rp.redirect);
        let base = expected.split('?').next().unwrap();
        self.log.require(
            to.starts_with(base),
            format!("the response went to the redirect URI {base}"),
        )?;
        if let Some(state) = req.get("state") {
            self.log.require(
                params.get("state").map(String::as_str) == Some(state),
                "state is returned unchanged",
            )?;
        }
        self.log.require(
            params.get("iss").map(String::as_str) == Some(self.op.iss.as_str()),
            "iss in the authorization response (RFC 9207)",
        )?;
        Ok(params)
    }

    /// Requires a successful response; returns the code.
    pub async fn code(&mut self, req: &Req) -> Result<String, Stop> {
        self.response(req)
            .await?
            .get("code")
            .cloned()
            .ok_or_else(|| Stop::Fail("no code in the response".into()))
    }

    /// Requires a successful response; returns its parameters.
    pub async fn response(&mut self, req: &Req) -> Result<BTreeMap<String, String>, Stop> {
        let params = self.authorize(req).await?;
        if let Some(e) = params.get("error") {
            return Err(Stop::Fail(format!(
                "authorization error {e}: {}",
                params.get("error_description").cloned().unwrap_or_default()
            )));
        }
        Ok(params)
    }

    /// The tokens of a successful response `params` to `req`: its code redeemed, or (the implicit
    /// types) the tokens it carries. An ID token in the response itself is validated first, with
    /// `c_hash` beside a code and `at_hash` beside an access token (OIDC Core §3.3.2.11).
    pub async fn tokens_from(&mut self, params: &BTreeMap<String, String>, req: &Req) -> Result<Value, Stop> {
        let rt = req.get("response_type").unwrap_or("code").to_string();
        for (part, name) in [("code", "code"), ("token", "access_token"), ("id_token", "id_token")] {
            let named = rt.split(' ').any(|x| x == part);
            self.log.require(
                params.contains_key(name) == named,
                format!(
                    "response_type {rt}: {name} {} the response",
                    if named { "in" } else { "not in" }
                ),
            )?;
        }
        let front = json!({"id_token": params.get("id_token"), "access_token": params.get("access_token"),
                           "token_type": params.get("token_type")});
        if let Some(id) = params.get("id_token") {
            let claims = self.id_token(&front, req).await?;
            let (header, _) = jwt::decode(id).map_err(Stop::Fail)?;
            let alg = header["alg"].as_str().unwrap_or("").to_string();
            if let Some(code) = params.get("code") {
                self.log.require(
                    claims["c_hash"] == jwt::half_hash(&alg, code).as_str(),
                    "c_hash matches the code",
                )?;
            }
            if params.contains_key("access_token") {
                self.log
                    .require(claims["at_hash"].is_string(), "at_hash beside the access token")?;
            }
        }
        match params.get("code") {
            Some(code) => self.redeem(code, req).await,
            None => Ok(front),
        }
    }

    /// POSTs `form` to the token endpoint with the client's authentication.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let mut form: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut rb = Client::new().post(format!("{}/token", self.op.iss));
        match &self.rp.auth {
            Auth::Basic => rb = rb.basic_auth(&self.rp.id, self.rp.secret.as_deref()),
            Auth::Post => {
                form.push(("client_id".into(), self.rp.id.clone()));
                form.push(("client_secret".into(), self.rp.secret.clone().unwrap_or_default()));
            }
            Auth::PrivateKeyJwt(key) => {
                let a = jwt::client_assertion(key, &self.rp.id, &self.op.iss, &self.op.unique("jti"));
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion".into(), a));
            }
        }
        let r = rb.form(&form).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Redeems `code` and requires a token response with an ID token.
    pub async fn redeem(&mut self, code: &str, req: &Req) -> Result<Value, Stop> {
        let redirect = req.get("redirect_uri").unwrap_or(&self.rp.redirect).to_string();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
        ];
        let verifier = req
            .get("code_verifier_for_test")
            .map(str::to_owned)
            .or_else(|| req.get("code_challenge").map(|_| VERIFIER.to_string()));
        if let Some(v) = &verifier {
            form.push(("code_verifier", v));
        }
        let (s, body) = self.token(&form).await;
        self.log
            .require(s == 200, format!("token endpoint answers 200 (got {s}: {body})"))?;
        self.log.require(
            body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
            "token_type Bearer",
        )?;
        self.log.require(body["access_token"].is_string(), "an access token")?;
        self.log.require(body["id_token"].is_string(), "an ID token")?;
        Ok(body)
    }

    /// Validates the ID token of `tokens` (OIDC Core §3.1.3.7): signature by a JWKS key, iss,
    /// aud, exp, iat, nonce, at_hash. Returns its claims.
    pub async fn id_token(&mut self, tokens: &Value, req: &Req) -> Result<Value, Stop> {
        let jwks = self.jwks().await;
        let raw = tokens["id_token"].as_str().unwrap_or("");
        let (header, claims) = jwt::verify(&jwks, raw).map_err(|e| Stop::Fail(format!("ID token: {e}")))?;
        self.log
            .ok(format!("ID token signed with {} by a JWKS key", header["alg"]));
        let now = jwt::now();
        self.log
            .require(claims["iss"] == self.op.iss.as_str(), "ID token iss is the issuer")?;
        let aud_ok = match &claims["aud"] {
            Value::String(a) => a == &self.rp.id,
            Value::Array(a) => a.iter().any(|v| v == self.rp.id.as_str()) && claims["azp"] == self.rp.id.as_str(),
            _ => false,
        };
        self.log
            .require(aud_ok, "ID token aud is the client (azp when several)")?;
        self.log.require(
            claims["sub"].as_str().is_some_and(|s| !s.is_empty()),
            "ID token has sub",
        )?;
        self.log
            .require(claims["exp"].as_u64().is_some_and(|e| e > now), "ID token not expired")?;
        self.log.require(
            claims["iat"].as_u64().is_some_and(|i| i <= now + 5),
            "ID token iat not in the future",
        )?;
        match req.get("nonce") {
            Some(n) => self
                .log
                .require(claims["nonce"] == n, "ID token nonce is the request's")?,
            None => self.log.require(
                claims.get("nonce").is_none(),
                "no nonce in the ID token when none was sent",
            )?,
        }
        if let (Some(h), Some(at)) = (claims["at_hash"].as_str(), tokens["access_token"].as_str()) {
            let alg = header["alg"].as_str().unwrap_or("");
            self.log
                .require(h == jwt::half_hash(alg, at), "at_hash matches the access token")?;
        }
        Ok(claims)
    }

    pub async fn jwks(&self) -> Value {
        Client::new()
            .get(format!("{}/jwks", self.op.iss))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The whole happy path: code, tokens, ID token. Returns (tokens, ID token claims).
    pub async fn happy(&mut self, req: &Req) -> Result<(Value, Value), Stop> {
        let params = self.response(req).await?;
        let tokens = self.tokens_from(&params, req).await?;
        let claims = self.id_token(&tokens, req).await?;
        Ok((tokens, claims))
    }

    /// Calls UserInfo with `at`: `how` is "get", "post-header" or "post-body".
    pub async fn userinfo(&self, at: &str, how: &str) -> (u16, String, String) {
        let url = format!("{}/userinfo", self.op.iss);
        let rb = match how {
            "get" => Client::new().get(url).bearer_auth(at),
            "post-header" => Client::new().post(url).bearer_auth(at),
            _ => Client::new().post(url).form(&[("access_token", at)]),
        };
        let r = rb.send().await.unwrap();
        let s = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (s, ct, r.text().await.unwrap())
    }

    /// UserInfo as JSON; requires 200 and the ID token's `sub`.
    pub async fn userinfo_json(&mut self, at: &str, how: &str, sub: &Value) -> Result<Value, Stop> {
        let (s, ct, body) = self.userinfo(at, how).await;
        self.log
            .require(s == 200, format!("UserInfo ({how}) answers 200 (got {s}: {body})"))?;
        self.log
            .require(ct.starts_with("application/json"), "UserInfo is JSON")?;
        let v: Value = serde_json::from_str(&body).map_err(|e| Stop::Fail(format!("UserInfo JSON: {e}")))?;
        self.log
            .require(&v["sub"] == sub, "UserInfo sub equals the ID token's")?;
        Ok(v)
    }
}

pub fn describe(p: &Page) -> String {
    match p {
        Page::Callback { to, params } => format!("a response at {to} with {params:?}"),
        Page::Login(_) => "the login page".into(),
        Page::Consent(_) => "the consent page".into(),
        Page::Error { status, .. } => format!("an error page ({status})"),
        Page::Other { status, html } => format!("a page ({status}): {}", &html[..html.len().min(200)]),
    }
}

/// Requires an error page (no redirect) whose text names the problem.
pub fn error_page(log: &mut Log, p: &Page, what: &str) -> Result<(), Stop> {
    match p {
        Page::Error { status, html } => {
            log.require((400..500).contains(status), format!("error page status 4xx for {what}"))?;
            log.require(html.contains("error"), format!("the error page explains {what}"))
        }
        other => require(
            false,
            format!("{what}: expected an error page, got {}", describe(other)),
        ),
    }
}
