//! Real relying-party libraries, unmodified, and a real browser: each runs a complete flow
//! (discovery → authorize → login/consent → token → ID token validation → UserInfo → refresh →
//! logout) against the server. openid-client (npm) and Authlib (PyPI) run as scripts under
//! `conformance/`; the Rust `openidconnect` crate runs here; Chromium is driven by playwright-core.

use crate::common;
use crate::harness::{m, Module, Outcome, Stop};
use crate::op::{Ctx, Page, Rp, PASSWORD, RP, USER};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const MODULES: &[Module] = &[
    m!(
        "openid-client",
        covers("OIDC-CORE-2-id-token-claims"),
        covers("OIDC-CORE-5.3-userinfo-claims"),
        covers("OAUTH21-4.3.1-refresh-rotation"),
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "openid-client-par-dpop",
        covers("RFC9126-2-pushed-authorization-request"),
        covers("RFC9449-5-token-request"),
        covers("RFC9449-7-resource-binding"),
        covers("RFC9449-8-server-nonce")
    ),
    m!(
        "authlib",
        covers("OIDC-CORE-2-id-token-claims"),
        covers("OIDC-CORE-5.3-userinfo-claims"),
        covers("OAUTH21-4.3.1-refresh-rotation"),
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "requests-oauthlib-joserfc",
        covers("OIDC-CORE-2-id-token-claims"),
        covers("OIDC-CORE-3.1.2.1-openid-scope"),
        covers("OAUTH21-4.3.1-refresh-rotation")
    ),
    m!(
        "passport-openidconnect",
        covers("PKCE-opt-out-policy"),
        covers("CLIENT-secret-method-default"),
        covers("OIDC-CORE-5.3-userinfo-claims")
    ),
    m!(
        "openidconnect-rs",
        covers("OIDC-CORE-2-id-token-claims"),
        covers("OIDC-CORE-3.1.3.6-at-hash"),
        covers("OAUTH21-4.3.1-refresh-rotation"),
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "chromium-login-consent-logout",
        covers("RFC9700-4.7-login-csrf"),
        covers("OIDC-RPLOGOUT-2-post-logout-redirect"),
        covers("OIDC-RPLOGOUT-logout-revokes")
    ),
    m!(
        "chromium-two-step-sign-in",
        covers("OIDC-CORE-3.1.2.1-acr-values"),
        covers("OIDC-CORE-2-acr"),
        covers("MFA-policy")
    ),
];

/// Pinned versions installed from the registries.
const AUTHLIB: &str = "authlib==1.9.9";
const REQUESTS: &str = "requests==2.32.5";
const REQUESTS_OAUTHLIB: [&str; 3] = ["requests-oauthlib==2.0.0", "oauthlib==3.3.1", "joserfc==1.8.0"];

fn python_packages() -> Vec<&'static str> {
    [AUTHLIB, REQUESTS].into_iter().chain(REQUESTS_OAUTHLIB).collect()
}

fn conformance_dir() -> PathBuf {
    common::repo_root().join("conformance")
}

/// Installs the npm packages (from the lockfile) and the Python venv, once, before modules run.
pub fn prepare() {
    common::npm_ci(&conformance_dir(), "passport-openidconnect");
    common::pinned_venv("conformance-venv", &python_packages());
}

fn python() -> PathBuf {
    common::pinned_venv("conformance-venv", &python_packages()).join("bin/python")
}

/// The module's client: Basic auth, PKCE required, callbacks at the fictional RP and at the
/// suite's tiny RP (the fixture server).
async fn client(c: &mut Ctx<'_>) -> (String, String) {
    let tiny_cb =
        c.op.fixture
            .put("/tiny-rp/cb", "text/html", "<h1>tiny RP: signed in</h1>".into());
    let tiny_out = c.op.fixture.put(
        "/tiny-rp/logged-out",
        "text/html",
        "<h1>tiny RP: signed out</h1>".into(),
    );
    c.rp =
        c.op.static_client(
            "client_secret_basic",
            json!({"name": "Tiny RP", "require_pkce": true, "redirect_uris": [format!("{RP}/cb"), tiny_cb],
                   "post_logout_redirect_uris": [format!("{RP}/logged-out"), tiny_out]}),
        )
        .await;
    (tiny_cb, tiny_out)
}

/// Runs a script that prints one JSON line; returns it.
async fn script(program: &Path, script: &str, env: &[(&str, String)]) -> Value {
    let out = tokio::process::Command::new(program)
        .arg(conformance_dir().join(script))
        .current_dir(conformance_dir())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} could not start: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut v: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| json!({"error": format!("no result: {stdout} {}", String::from_utf8_lossy(&out.stderr))}));
    v["ok"] = json!(out.status.success() && v["ok"] == json!(true));
    v
}

fn judge(c: &mut Ctx<'_>, v: &Value) -> Outcome {
    for s in v["steps"].as_array().into_iter().flatten() {
        c.log.ok(s.as_str().unwrap_or("").to_string());
    }
    c.log.info(v["library"].as_str().unwrap_or("?").to_string());
    if v["ok"] == true {
        Ok(())
    } else {
        Err(Stop::Fail(format!(
            "{} failed after {:?}: {}",
            v["library"].as_str().unwrap_or("?"),
            v["steps"],
            v["error"].as_str().unwrap_or("")
        )))
    }
}

fn common_env(c: &Ctx<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("ISSUER", c.op.iss.clone()),
        ("CLIENT_ID", c.rp.id.clone()),
        ("CLIENT_SECRET", c.rp.secret.clone().unwrap_or_default()),
        ("REDIRECT_URI", format!("{RP}/cb")),
        ("POST_LOGOUT_URI", format!("{RP}/logged-out")),
        ("USERNAME", USER.into()),
        ("PASSWORD", PASSWORD.into()),
    ]
}

pub async fn run(name: &str, c: &mut Ctx<'_>) -> Outcome {
    let (tiny_cb, tiny_out) = client(c).await;
    match name {
        "openid-client" => {
            let v = script(Path::new("node"), "rp/openid-client.mjs", &common_env(c)).await;
            judge(c, &v)
        }
        "openid-client-par-dpop" => {
            // The FAPI 2.0 plan's client: private_key_jwt, PAR required, DPoP-bound tokens.
            c.rp = crate::fapi2::register(c.op).await;
            let (key, _) = crate::jwt::client_key();
            let mut env = common_env(c);
            env.push(("CLIENT_KEY_PKCS8", engine::fixtures::RSA2_PKCS8_B64.to_string()));
            env.push(("CLIENT_KEY_KID", key.kid().to_string()));
            let v = script(Path::new("node"), "rp/openid-client-fapi2.mjs", &env).await;
            judge(c, &v)
        }
        "authlib" => {
            let v = script(&python(), "rp/authlib_flow.py", &common_env(c)).await;
            judge(c, &v)
        }
        "requests-oauthlib-joserfc" => {
            let v = script(&python(), "rp/requests_oauthlib_flow.py", &common_env(c)).await;
            judge(c, &v)
        }
        "passport-openidconnect" => passport(c).await,
        "openidconnect-rs" => openidconnect_rs(c).await,
        "chromium-login-consent-logout" => chromium(c, &tiny_cb, &tiny_out).await,
        "chromium-two-step-sign-in" => chromium_two_step(c, &tiny_cb).await,
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

/// passport-openidconnect in an Express app: a client registered the way the compatibility page
/// says (no token_endpoint_auth_method, so the secret may come in the body; no PKCE, which the
/// suite's tenant allows).
async fn passport(c: &mut Ctx<'_>) -> Outcome {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Stop::Fail(format!("no free port: {e}")))?
        .port();
    let id = c.op.unique("passport");
    let body = json!({"client_id": id, "name": "Express + passport", "require_pkce": false,
        "redirect_uris": [format!("http://127.0.0.1:{port}/cb")],
        "allowed_scopes": ["openid", "profile", "email"]});
    let (s, client) = c.op.admin(reqwest::Method::POST, "/tenants/demo/clients", body).await;
    c.log.require(
        s == 201,
        format!("client registered without a method and without PKCE: {client}"),
    )?;
    c.log.require(
        client["either_secret_method"] == true,
        "the secret is accepted in the body",
    )?;
    let mut env = common_env(c);
    env.retain(|(k, _)| !matches!(*k, "CLIENT_ID" | "CLIENT_SECRET"));
    env.extend([
        ("CLIENT_ID", id),
        (
            "CLIENT_SECRET",
            client["client_secret"].as_str().unwrap_or_default().to_string(),
        ),
        ("APP_PORT", port.to_string()),
    ]);
    let v = script(Path::new("node"), "rp/passport.mjs", &env).await;
    judge(c, &v)
}

async fn chromium(c: &mut Ctx<'_>, tiny_cb: &str, tiny_out: &str) -> Outcome {
    let shots = common::repo_root().join("conformance-reports/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut req = c
        .request()
        .set("redirect_uri", tiny_cb)
        .set("scope", "openid profile email");
    req = req
        .set("code_challenge", crate::op::CHALLENGE)
        .set("code_challenge_method", "S256");
    let silent = req.clone().set("prompt", "none");
    let mut env = common_env(c);
    env.extend([
        ("AUTHORIZE_URL", c.url(&req)),
        ("SILENT_URL", c.url(&silent)),
        ("REDIRECT_URI", tiny_cb.to_string()),
        ("POST_LOGOUT_URI", tiny_out.to_string()),
        ("TOKEN_ENDPOINT", format!("{}/token", c.op.iss)),
        ("END_SESSION_ENDPOINT", format!("{}/end-session", c.op.iss)),
        ("CODE_VERIFIER", crate::op::VERIFIER.into()),
        ("SCREENSHOTS", shots.display().to_string()),
    ]);
    let v = script(Path::new("node"), "browser/login-consent-logout.mjs", &env).await;
    judge(c, &v)?;
    for f in ["login.png", "consent.png"] {
        let size = std::fs::metadata(shots.join(f)).map(|m| m.len()).unwrap_or(0);
        c.log.require(
            size > 1000,
            format!("screenshot conformance-reports/screenshots/{f} written"),
        )?;
    }
    Ok(())
}

/// Two-step sign-in in Chromium, as a user of its own (setting up an app changes how that user
/// signs in; the other modules' user keeps signing in with a password).
async fn chromium_two_step(c: &mut Ctx<'_>, tiny_cb: &str) -> Outcome {
    let shots = common::repo_root().join("conformance-reports/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (username, password) = ("two-step", "two step password 1");
    let body = json!({"username": username, "password": password, "email": "two-step@example.com"});
    let (s, user) = c.op.admin(reqwest::Method::POST, "/tenants/demo/users", body).await;
    c.log.require(s == 201, format!("a user of its own: {user}"))?;
    let req = c
        .request()
        .set("redirect_uri", tiny_cb)
        .set("scope", "openid")
        .set("acr_values", "2")
        .set("code_challenge", crate::op::CHALLENGE)
        .set("code_challenge_method", "S256");
    let mut env = common_env(c);
    env.retain(|(k, _)| !matches!(*k, "USERNAME" | "PASSWORD" | "REDIRECT_URI"));
    env.extend([
        ("AUTHORIZE_URL", c.url(&req)),
        ("REDIRECT_URI", tiny_cb.to_string()),
        ("TOKEN_ENDPOINT", format!("{}/token", c.op.iss)),
        ("CODE_VERIFIER", crate::op::VERIFIER.into()),
        ("USERNAME", username.into()),
        ("PASSWORD", password.into()),
        ("SCREENSHOTS", shots.display().to_string()),
    ]);
    let v = script(Path::new("node"), "browser/two-step-sign-in.mjs", &env).await;
    judge(c, &v)?;
    for f in ["second-factor-setup.png", "recovery-codes.png"] {
        let size = std::fs::metadata(shots.join(f)).map(|m| m.len()).unwrap_or(0);
        c.log.require(
            size > 1000,
            format!("screenshot conformance-reports/screenshots/{f} written"),
        )?;
    }
    Ok(())
}

fn fail<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> Stop {
    move |e| Stop::Fail(format!("openidconnect: {what}: {e:?}"))
}

async fn openidconnect_rs(c: &mut Ctx<'_>) -> Outcome {
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(c.op.iss.clone()).unwrap(), &http)
        .await
        .map_err(fail("discovery"))?;
    c.log.ok("discovery");
    let Rp { id, secret, .. } = &c.rp;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.clone()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{RP}/cb")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_prompt(openidconnect::core::CoreAuthPrompt::Consent)
        .set_pkce_challenge(challenge)
        .url();
    let params = match c.walk(url.as_str()).await {
        Page::Callback { params, .. } => params,
        p => {
            return Err(Stop::Fail(format!(
                "expected the callback, got {}",
                crate::op::describe(&p)
            )))
        }
    };
    c.log
        .require(params.get("state") == Some(csrf.secret()), "state returned")?;
    let code = params
        .get("code")
        .cloned()
        .ok_or(Stop::Fail(format!("no code: {params:?}")))?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(fail("token endpoint"))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(fail("token exchange"))?;
    let id_token = tokens.id_token().ok_or(Stop::Fail("no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .map_err(fail("ID token verification"))?;
    c.log
        .ok("ID token verified by the library (signature, iss, aud, exp, nonce)");
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().map_err(fail("alg"))?,
        id_token.signing_key(&client.id_token_verifier()).map_err(fail("key"))?,
    )
    .map_err(fail("at_hash"))?;
    c.log
        .require(claims.access_token_hash() == Some(&expected), "at_hash matches")?;
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .map_err(fail("userinfo endpoint"))?
        .request_async(&http)
        .await
        .map_err(fail("userinfo"))?;
    c.log.require(
        userinfo.subject() == claims.subject(),
        "UserInfo sub equals the ID token's",
    )?;
    c.log.require(userinfo.email().is_some(), "UserInfo has email")?;
    let rt = tokens.refresh_token().ok_or(Stop::Fail("no refresh token".into()))?;
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(rt.secret().clone()))
        .map_err(fail("refresh endpoint"))?
        .request_async(&http)
        .await
        .map_err(fail("refresh"))?;
    c.log.require(
        refreshed.refresh_token().is_some_and(|n| n.secret() != rt.secret()),
        "refresh token rotated",
    )?;
    let mut end = url::Url::parse(&format!("{}/end-session", c.op.iss)).unwrap();
    end.query_pairs_mut()
        .append_pair("id_token_hint", &id_token.to_string())
        .append_pair("post_logout_redirect_uri", &format!("{RP}/logged-out"))
        .append_pair("state", "bye");
    match c.walk(end.as_str()).await {
        Page::Callback { to, params } => {
            c.log.require(
                to == format!("{RP}/logged-out") && params.get("state").map(String::as_str) == Some("bye"),
                "logout returns to post_logout_redirect_uri with state",
            )?;
        }
        p => return Err(Stop::Fail(format!("logout: {}", crate::op::describe(&p)))),
    }
    let (s, _) = c
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refreshed.refresh_token().unwrap().secret()),
        ])
        .await;
    c.log.require(s == 400, "the refresh token died with the logout")?;
    c.log.info(format!("openidconnect {}", locked_version("openidconnect")));
    Ok(())
}

/// The version of `package` in the workspace's Cargo.lock.
fn locked_version(package: &str) -> String {
    let lock = std::fs::read_to_string(common::repo_root().join("Cargo.lock")).unwrap_or_default();
    let marker = format!("name = \"{package}\"\nversion = \"");
    lock.find(&marker)
        .map(|i| lock[i + marker.len()..].split('"').next().unwrap_or("?").to_string())
        .unwrap_or_else(|| "?".into())
}
