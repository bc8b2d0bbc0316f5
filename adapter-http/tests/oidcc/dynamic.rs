//! The Dynamic OP plan (`oidcc-dynamic-certification-test-plan`): every module registers its own
//! `private_key_jwt` client at the registration endpoint first. Dynamically registered clients
//! must use PKCE here (RFC 9700), so every request of this plan carries an S256 challenge.

use crate::harness::{m, Module, Outcome, Stop};
use crate::jwt;
use crate::op::{error_page, Auth, Ctx, Op, Page, Rp, RP};
use reqwest::Client;
use serde_json::{json, Value};

pub const MODULES: &[Module] = &[
    m!(
        "oidcc-server",
        covers("RFC7591-3.2-registration-response"),
        covers("OIDC-CORE-2-id-token-claims")
    ),
    m!(
        "oidcc-discovery-endpoint-verification",
        covers("OIDC-DISCOVERY-3-provider-metadata")
    ),
    m!("oidcc-idtoken-rs256", covers("OIDC-CORE-2-id-token-claims")),
    m!("oidcc-idtoken-unsigned", covers("JOSE-alg-none-rejected")),
    m!("oidcc-userinfo-rs256", covers("OIDC-CORE-5.3.2-signed-userinfo")),
    m!(
        "oidcc-ensure-redirect-uri-in-authorization-request",
        covers("OIDC-CORE-3.1.2.1-redirect-uri-required")
    ),
    m!(
        "oidcc-redirect-uri-query-OK",
        covers("RFC6749-3.1.2.3-redirect-exact-match")
    ),
    m!(
        "oidcc-redirect-uri-query-mismatch",
        covers("RFC6749-3.1.2.3-redirect-exact-match")
    ),
    m!(
        "oidcc-redirect-uri-query-added",
        covers("RFC6749-3.1.2.3-redirect-exact-match")
    ),
    m!("oidcc-redirect-uri-regfrag", covers("CLIENT-metadata-validation")),
    m!(
        "oidcc-registration-logo-uri",
        covers("OIDC-REGISTRATION-2-client-pages")
    ),
    m!(
        "oidcc-registration-policy-uri",
        covers("OIDC-REGISTRATION-2-client-pages")
    ),
    m!("oidcc-registration-tos-uri", covers("OIDC-REGISTRATION-2-client-pages")),
    m!(
        "oidcc-registration-jwks-uri",
        covers("OIDC-REGISTRATION-2-jwks-uri"),
        covers("OUTBOUND-fetch-guard")
    ),
    m!(
        "oidcc-registration-sector-uri",
        covers("OIDC-REGISTRATION-5-sector-identifier")
    ),
    m!(
        "oidcc-registration-sector-bad",
        covers("OIDC-REGISTRATION-5-sector-identifier")
    ),
    m!("oidcc-server-rotate-keys", covers("JOSE-key-rotation")),
    m!(
        "oidcc-request-uri-unsigned",
        covers("OIDC-CORE-6-request-object"),
        covers("OUTBOUND-fetch-guard")
    ),
    m!("oidcc-request-uri-signed-rs256", covers("OIDC-CORE-6-request-object")),
    m!(
        "oidcc-ensure-request-object-with-redirect-uri",
        covers("OIDC-CORE-6-request-object")
    ),
    m!("oidcc-refresh-token", covers("RFC6749-6-refresh-client-binding")),
    m!(
        "oidcc-refresh-token-rp-key-rotation",
        covers("OIDC-REGISTRATION-2-jwks-uri"),
        covers("OUTBOUND-fetch-guard")
    ),
    m!(
        "oidcc-ensure-client-assertion-with-iss-aud-succeeds",
        covers("OIDC-CORE-9-private-key-jwt")
    ),
];

/// The registration request every module starts from.
pub fn metadata() -> Value {
    let (_, jwk) = jwt::client_key();
    json!({
        "client_name": "Conformance dynamic client",
        "redirect_uris": [format!("{RP}/cb")],
        "post_logout_redirect_uris": [format!("{RP}/logged-out")],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk]},
        "scope": "openid profile email address phone offline_access",
        "contacts": ["certification@example.org"],
    })
}

/// POSTs `body` to the registration endpoint: (status, body).
pub async fn post_registration(op: &Op, body: &Value) -> (u16, Value) {
    let r = Client::new()
        .post(format!("{}/register", op.iss))
        .json(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// Registers `body` and returns the client, requiring 201.
pub async fn register_with(op: &Op, body: &Value) -> Rp {
    let (s, reg) = post_registration(op, body).await;
    assert_eq!(s, 201, "registration: {reg}");
    let (key, _) = jwt::client_key();
    Rp {
        id: reg["client_id"].as_str().unwrap().to_string(),
        secret: None,
        redirect: body["redirect_uris"][0].as_str().unwrap().to_string(),
        auth: Auth::PrivateKeyJwt(Box::new(key)),
    }
}

pub async fn register(op: &Op) -> Rp {
    register_with(op, &metadata()).await
}

/// Re-registers the module's client with `changes` on top of the default metadata.
async fn reregister(c: &mut Ctx<'_>, changes: Value) {
    let mut body = metadata();
    for (k, v) in changes.as_object().unwrap() {
        body[k] = v.clone();
    }
    c.rp = register_with(c.op, &body).await;
}

pub async fn run(name: &str, c: &mut Ctx<'_>) -> Outcome {
    c.pkce = true;
    match name {
        "oidcc-server" | "oidcc-ensure-client-assertion-with-iss-aud-succeeds" => {
            let req = c.request();
            let (tokens, claims) = c.happy(&req).await?;
            c.log
                .ok("private_key_jwt with aud = issuer accepted at the token endpoint");
            c.userinfo_json(tokens["access_token"].as_str().unwrap(), "get", &claims["sub"])
                .await
                .map(|_| ())
        }
        "oidcc-discovery-endpoint-verification" => crate::config::verification(c).await,
        "oidcc-idtoken-unsigned" => crate::basic::run(name, c).await,
        "oidcc-refresh-token" | "oidcc-ensure-request-object-with-redirect-uri" => crate::basic::run(name, c).await,
        "oidcc-idtoken-rs256" => {
            reregister(c, json!({"id_token_signed_response_alg": "RS256"})).await;
            let req = c.request();
            let (tokens, _) = c.happy(&req).await?;
            let (h, _) = jwt::decode(tokens["id_token"].as_str().unwrap()).map_err(Stop::Fail)?;
            c.log.require(h["alg"] == "RS256", "the ID token is RS256")
        }
        "oidcc-userinfo-rs256" => userinfo_rs256(c).await,
        "oidcc-ensure-redirect-uri-in-authorization-request" => {
            reregister(c, json!({"redirect_uris": [format!("{RP}/cb"), format!("{RP}/cb2")]})).await;
            let req = c.request().remove("redirect_uri");
            let p = c.send(&req, false).await;
            error_page(&mut c.log, &p, "a missing redirect_uri with two registered")
        }
        "oidcc-redirect-uri-query-OK" => {
            let with_query = format!("{RP}/cb?foo=bar");
            reregister(c, json!({"redirect_uris": [with_query]})).await;
            let req = c.request();
            let params = c.authorize(&req).await?;
            c.log.require(
                params.get("foo").map(String::as_str) == Some("bar"),
                "the registered query is kept",
            )?;
            c.log.require(params.contains_key("code"), "a code")
        }
        "oidcc-redirect-uri-query-mismatch" => {
            reregister(c, json!({"redirect_uris": [format!("{RP}/cb?foo=bar")]})).await;
            let req = c.request().set("redirect_uri", &format!("{RP}/cb?foo=zot"));
            let p = c.send(&req, false).await;
            error_page(&mut c.log, &p, "a redirect_uri with a different query")
        }
        "oidcc-redirect-uri-query-added" => {
            let req = c.request().set("redirect_uri", &format!("{RP}/cb?foo=bar"));
            let p = c.send(&req, false).await;
            error_page(&mut c.log, &p, "a redirect_uri with an added query")
        }
        "oidcc-redirect-uri-regfrag" => {
            let mut body = metadata();
            body["redirect_uris"] = json!([format!("{RP}/cb#fragment")]);
            let (s, reg) = post_registration(c.op, &body).await;
            c.log.require(
                s == 400
                    && matches!(
                        reg["error"].as_str(),
                        Some("invalid_redirect_uri" | "invalid_client_metadata")
                    ),
                format!("a redirect URI with a fragment is refused at registration (got {s}: {reg})"),
            )
        }
        "oidcc-registration-logo-uri" => shown(c, "logo_uri", "https://rp.example.org/logo.png").await,
        "oidcc-registration-policy-uri" => shown(c, "policy_uri", "https://rp.example.org/policy").await,
        "oidcc-registration-tos-uri" => shown(c, "tos_uri", "https://rp.example.org/tos").await,
        "oidcc-registration-jwks-uri" => {
            register_with_jwks_uri(c).await;
            c.log.ok("registered with jwks_uri");
            let req = c.request();
            c.happy(&req).await.map(|_| ())
        }
        "oidcc-registration-sector-uri" => {
            let path = format!("/{}/sector.json", c.op.unique("rp"));
            let uri =
                c.op.fixture
                    .put(&path, "application/json", json!([format!("{RP}/cb")]).to_string());
            let mut body = metadata();
            body["sector_identifier_uri"] = json!(uri);
            let (s, reg) = post_registration(c.op, &body).await;
            c.log.require(
                s == 201,
                format!("a sector_identifier_uri listing the redirect URI is accepted ({s}: {reg})"),
            )?;
            c.rp = register_with(c.op, &body).await;
            let req = c.request();
            c.happy(&req).await.map(|_| ())
        }
        "oidcc-registration-sector-bad" => {
            let path = format!("/{}/sector.json", c.op.unique("rp"));
            let uri = c.op.fixture.put(
                &path,
                "application/json",
                json!(["https://other.example/cb"]).to_string(),
            );
            let mut body = metadata();
            body["sector_identifier_uri"] = json!(uri);
            let (s, reg) = post_registration(c.op, &body).await;
            c.log.require(
                s == 400 && reg["error"] == "invalid_client_metadata",
                format!("a sector_identifier_uri not listing the redirect URI is refused (got {s}: {reg})"),
            )
        }
        "oidcc-server-rotate-keys" => rotate_keys(c).await,
        "oidcc-refresh-token-rp-key-rotation" => rp_key_rotation(c).await,
        "oidcc-request-uri-unsigned" => crate::objects::request_uri_unsigned(c).await,
        "oidcc-request-uri-signed-rs256" => crate::objects::request_uri_signed_rs256(c).await,
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

async fn userinfo_rs256(c: &mut Ctx<'_>) -> Outcome {
    reregister(c, json!({"userinfo_signed_response_alg": "RS256"})).await;
    let req = c.request();
    let (tokens, idt) = c.happy(&req).await?;
    let (s, ct, body) = c.userinfo(tokens["access_token"].as_str().unwrap(), "get").await;
    c.log.require(s == 200, format!("UserInfo answers 200 ({s}: {body})"))?;
    c.log.require(
        ct.starts_with("application/jwt"),
        format!("UserInfo is application/jwt (got {ct})"),
    )?;
    let (h, claims) =
        jwt::verify(&c.jwks().await, body.trim()).map_err(|e| Stop::Fail(format!("signed UserInfo: {e}")))?;
    c.log.require(h["alg"] == "RS256", "signed with RS256")?;
    c.log
        .require(claims["sub"] == idt["sub"], "sub equals the ID token's")?;
    c.log.require(claims["iss"] == c.op.iss.as_str(), "iss is the issuer")?;
    c.log.require(claims["aud"] == c.rp.id.as_str(), "aud is the client")
}

/// The registered URI must appear on the login page.
async fn shown(c: &mut Ctx<'_>, field: &str, uri: &str) -> Outcome {
    reregister(c, json!({ field: uri })).await;
    let req = c.request();
    let p = c.send(&req, false).await;
    let Page::Login(html) = &p else {
        return Err(Stop::Fail(format!(
            "expected the login page, got {}",
            crate::op::describe(&p)
        )));
    };
    let html = crate::op::unescape(html);
    c.log.require(
        html.contains(&format!("\"{uri}\"")),
        format!("the login page shows the registered {field}"),
    )?;
    let p = c.interact(p).await;
    let mut p = p;
    while matches!(p, Page::Consent(_)) {
        p = c.interact(p).await;
    }
    c.callback(&req, p).map(|_| ())
}

async fn rotate_keys(c: &mut Ctx<'_>) -> Outcome {
    let before = c.jwks().await;
    let kids = |j: &Value| -> Vec<String> {
        j["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, body) =
        c.op.admin(reqwest::Method::POST, "/tenants/demo/keys/rotate", json!({}))
            .await;
    c.log
        .require(s == 200, format!("the operator rotates the signing keys ({s}: {body})"))?;
    let after = c.jwks().await;
    let (old, new) = (kids(&before), kids(&after));
    c.log
        .require(new.iter().any(|k| !old.contains(k)), "the JWKS has a new key")?;
    c.log
        .should(old.iter().all(|k| new.contains(k)), "the old keys stay published");
    let req = c.request();
    let (tokens, _) = c.happy(&req).await?;
    let (h, _) = jwt::decode(tokens["id_token"].as_str().unwrap()).map_err(Stop::Fail)?;
    let kid = h["kid"].as_str().unwrap_or("").to_string();
    c.log
        .require(!old.contains(&kid), "new ID tokens are signed with the new key")
}

/// Registers the module's client with its key published at a `jwks_uri` on the fixture server;
/// returns the fixture path.
async fn register_with_jwks_uri(c: &mut Ctx<'_>) -> String {
    let (_, jwk) = jwt::client_key();
    let path = format!("/{}/jwks.json", c.op.unique("rp"));
    let uri =
        c.op.fixture
            .put(&path, "application/json", json!({"keys": [jwk]}).to_string());
    let mut body = metadata();
    body.as_object_mut().unwrap().remove("jwks");
    body["jwks_uri"] = json!(uri);
    c.rp = register_with(c.op, &body).await;
    path
}

/// The client publishes its keys at `jwks_uri`, rotates them, and refreshes with an assertion
/// signed by the new key: the provider must fetch the keys again.
async fn rp_key_rotation(c: &mut Ctx<'_>) -> Outcome {
    let path = register_with_jwks_uri(c).await;
    let req = c
        .request()
        .set("scope", "openid offline_access")
        .set("prompt", "consent");
    let (tokens, _) = c.happy(&req).await?;
    let rt = tokens["refresh_token"]
        .as_str()
        .ok_or(Stop::Fail("no refresh token".into()))?
        .to_string();
    // Rotate: only the new key is published from now on.
    let new_key = engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key()).unwrap();
    let mut new_jwk = serde_json::to_value(new_key.public().jwk()).unwrap();
    new_jwk["kid"] = json!(new_key.kid());
    c.op.fixture
        .put(&path, "application/json", json!({"keys": [new_jwk]}).to_string());
    c.rp.auth = Auth::PrivateKeyJwt(Box::new(new_key));
    let (s, body) = c
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .await;
    c.log.require(
        s == 200,
        format!("a refresh authenticated with the rotated key works (got {s}: {body})"),
    )
}
