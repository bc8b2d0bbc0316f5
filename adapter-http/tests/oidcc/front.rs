//! The OpenID Foundation `oidcc-implicit-certification-test-plan` and
//! `oidcc-hybrid-certification-test-plan`: the modules whose behaviour the response type changes,
//! each run for every `response_type` variant of its plan (Implicit: `id_token`,
//! `id_token token`; Hybrid: `code id_token`, `code token`, `code id_token token`). The plan's
//! client is registered through the Admin API for those response types. A module fails if any
//! variant fails; a variant the module does not apply to (UserInfo without an access token) is
//! skipped, and a module all of whose variants are skipped is SKIPPED.

use crate::harness::{m, Module, Outcome, Stop};
use crate::jwt;
use crate::op::{error_page, Ctx, Page, Req, Rp, RP};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const IMPLICIT: &[&str] = &["id_token", "id_token token"];
pub const HYBRID: &[&str] = &["code id_token", "code token", "code id_token token"];

/// The Implicit plan's modules here.
pub const IMPLICIT_MODULES: &[Module] = &[
    m!(
        "oidcc-server",
        covers("OIDC-CORE-3.3-hybrid-implicit"),
        covers("OIDC-CORE-3.3.2.11-c-hash"),
        covers("OAUTH-MULTIPLE-RESPONSE-TYPES-fragment")
    ),
    m!(
        "oidcc-response-type-missing",
        covers("RFC6749-4.1.1-response-type-code")
    ),
    m!("oidcc-idtoken-signature", covers("OIDC-CORE-2-id-token-claims")),
    m!("oidcc-userinfo-get", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-userinfo-post-header", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!(
        "oidcc-ensure-request-without-nonce-fails",
        covers("OIDC-CORE-3.2.2.1-nonce-required")
    ),
    m!("oidcc-scope-email", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!(
        "oidcc-ensure-registered-redirect-uri",
        covers("RFC6749-3.1.2.3-redirect-exact-match")
    ),
    m!(
        "oidcc-prompt-none-not-logged-in",
        covers("OIDC-CORE-3.1.2.1-prompt-none")
    ),
];

/// The Hybrid plan's: the same, and code reuse.
pub const HYBRID_MODULES: &[Module] = &[
    m!(
        "oidcc-server",
        covers("OIDC-CORE-3.3-hybrid-implicit"),
        covers("OIDC-CORE-3.3.2.11-c-hash"),
        covers("OAUTH-MULTIPLE-RESPONSE-TYPES-fragment")
    ),
    m!(
        "oidcc-response-type-missing",
        covers("RFC6749-4.1.1-response-type-code")
    ),
    m!("oidcc-idtoken-signature", covers("OIDC-CORE-2-id-token-claims")),
    m!("oidcc-userinfo-get", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-userinfo-post-header", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!(
        "oidcc-ensure-request-without-nonce-fails",
        covers("OIDC-CORE-3.2.2.1-nonce-required")
    ),
    m!("oidcc-scope-email", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!(
        "oidcc-ensure-registered-redirect-uri",
        covers("RFC6749-3.1.2.3-redirect-exact-match")
    ),
    m!(
        "oidcc-prompt-none-not-logged-in",
        covers("OIDC-CORE-3.1.2.1-prompt-none")
    ),
    m!("oidcc-codereuse", covers("RFC6749-4.1.2-code-single-use")),
];

/// The plan's client: registered for `types`.
pub async fn register(op: &crate::op::Op, types: &[&str]) -> Rp {
    op.static_client("client_secret_basic", json!({"response_types": types}))
        .await
}

/// A request of `rt` with nonce and state.
fn request(c: &Ctx<'_>, rt: &str) -> Req {
    c.request().set("response_type", rt)
}

/// What the authorization endpoint returned, checked: fragment, the parts the type names, and the
/// ID token (signature, claims, nonce, `c_hash`, `at_hash`) when there is one. Returns the
/// parameters and the ID token's claims.
async fn front(c: &mut Ctx<'_>, rt: &str) -> Result<(Req, BTreeMap<String, String>, Option<Value>), Stop> {
    let req = request(c, rt);
    let url = c.url(&req);
    let p = c.walk(&url).await;
    let Page::Callback { .. } = &p else {
        return Err(Stop::Fail(format!(
            "{rt}: expected a response, got {}",
            crate::op::describe(&p)
        )));
    };
    let params = c.callback(&req, p)?;
    if let Some(e) = params.get("error") {
        return Err(Stop::Fail(format!("{rt}: authorization error {e}")));
    }
    for (part, name) in [("code", "code"), ("token", "access_token"), ("id_token", "id_token")] {
        let named = rt.split(' ').any(|x| x == part);
        c.log.require(
            params.contains_key(name) == named,
            format!("{rt}: {name} {} the response", if named { "in" } else { "not in" }),
        )?;
    }
    let Some(id) = params.get("id_token") else {
        return Ok((req, params, None));
    };
    let tokens = json!({"id_token": id, "access_token": params.get("access_token")});
    let claims = c.id_token(&tokens, &req).await?;
    if let Some(code) = params.get("code") {
        let (header, _) = jwt::decode(id).map_err(Stop::Fail)?;
        let alg = header["alg"].as_str().unwrap_or("");
        c.log.require(
            claims["c_hash"] == jwt::half_hash(alg, code).as_str(),
            format!("{rt}: c_hash matches the code"),
        )?;
    }
    if params.contains_key("access_token") {
        c.log.require(
            claims["at_hash"].is_string(),
            format!("{rt}: at_hash beside the access token"),
        )?;
    }
    Ok((req, params, Some(claims)))
}

/// The `sub` of the response: the ID token's, else the redeemed code's.
async fn subject(
    c: &mut Ctx<'_>,
    req: &Req,
    params: &BTreeMap<String, String>,
    claims: &Option<Value>,
) -> Result<Value, Stop> {
    if let Some(c) = claims {
        return Ok(c["sub"].clone());
    }
    let code = params
        .get("code")
        .ok_or_else(|| Stop::Fail("no ID token and no code".into()))?;
    let tokens = c.redeem(code, req).await?;
    Ok(c.id_token(&tokens, req).await?["sub"].clone())
}

/// Runs `module` for one variant; `Err(Skip)` when it does not apply to it.
async fn variant(name: &str, c: &mut Ctx<'_>, rt: &str) -> Outcome {
    match name {
        "oidcc-server" | "oidcc-idtoken-signature" => {
            let (req, params, claims) = front(c, rt).await?;
            if let Some(code) = params.get("code") {
                let tokens = c.redeem(code, &req).await?;
                let from_token = c.id_token(&tokens, &req).await?;
                if let Some(front) = &claims {
                    c.log.require(
                        from_token["sub"] == front["sub"],
                        format!("{rt}: the token endpoint's ID token names the same sub"),
                    )?;
                }
            }
            Ok(())
        }
        "oidcc-response-type-missing" => {
            let req = request(c, rt).remove("response_type");
            match c.send(&req, false).await {
                Page::Callback { params, .. } => c.log.require(
                    params.get("error").map(String::as_str) == Some("invalid_request")
                        && !params.contains_key("code")
                        && !params.contains_key("id_token"),
                    format!("{rt}: a missing response_type is invalid_request, with nothing issued"),
                ),
                p => error_page(&mut c.log, &p, "a missing response_type"),
            }
        }
        "oidcc-userinfo-get" | "oidcc-userinfo-post-header" => {
            if !rt.split(' ').any(|x| x == "token") {
                return Err(Stop::Skip(format!("{rt} returns no access token")));
            }
            let (req, params, claims) = front(c, rt).await?;
            let sub = subject(c, &req, &params, &claims).await?;
            let how = if name.ends_with("get") { "get" } else { "post-header" };
            c.userinfo_json(&params["access_token"], how, &sub).await.map(|_| ())
        }
        "oidcc-ensure-request-without-nonce-fails" => {
            if !rt.split(' ').any(|x| x == "id_token") {
                return Err(Stop::Skip(format!(
                    "{rt} returns no ID token from the authorization endpoint"
                )));
            }
            let req = request(c, rt).remove("nonce");
            match c.send(&req, false).await {
                Page::Callback { params, .. } => c.log.require(
                    params.get("error").map(String::as_str) == Some("invalid_request")
                        && !params.contains_key("id_token"),
                    format!("{rt}: a request without nonce is invalid_request ({params:?})"),
                ),
                p => error_page(&mut c.log, &p, "a request without nonce"),
            }
        }
        "oidcc-scope-email" => {
            let req = request(c, rt).set("scope", "openid email");
            let url = c.url(&req);
            let p = c.walk(&url).await;
            let params = c.callback(&req, p)?;
            let claims = match (params.get("access_token"), params.get("id_token")) {
                (Some(at), _) => {
                    let sub = match params.get("id_token") {
                        Some(id) => jwt::decode(id).map_err(Stop::Fail)?.1["sub"].clone(),
                        None => {
                            let tokens = c.redeem(&params["code"], &req).await?;
                            c.id_token(&tokens, &req).await?["sub"].clone()
                        }
                    };
                    c.userinfo_json(at, "get", &sub).await?
                }
                (None, Some(id)) => c.id_token(&json!({"id_token": id}), &req).await?,
                _ => return Err(Stop::Fail("neither an access token nor an ID token".into())),
            };
            c.log
                .require(claims["email"].is_string(), format!("{rt}: the email claim"))
        }
        "oidcc-ensure-registered-redirect-uri" => {
            let req = request(c, rt).set("redirect_uri", &format!("{RP}/unregistered"));
            let p = c.send(&req, false).await;
            error_page(&mut c.log, &p, "an unregistered redirect_uri")
        }
        "oidcc-prompt-none-not-logged-in" => {
            let req = request(c, rt).set("prompt", "none");
            match c.send(&req, false).await {
                Page::Callback { params, .. } => c.log.require(
                    params.get("error").map(String::as_str) == Some("login_required"),
                    format!("{rt}: prompt=none without a session is login_required"),
                ),
                p => Err(Stop::Fail(format!(
                    "expected a response, got {}",
                    crate::op::describe(&p)
                ))),
            }
        }
        "oidcc-codereuse" => {
            if !rt.starts_with("code") {
                return Err(Stop::Skip(format!("{rt} returns no code")));
            }
            let (req, params, _) = front(c, rt).await?;
            c.redeem(&params["code"], &req).await?;
            let (s, body) = c
                .token(&[
                    ("grant_type", "authorization_code"),
                    ("code", &params["code"]),
                    ("redirect_uri", &c.rp.redirect.clone()),
                ])
                .await;
            c.log.require(
                s == 400 && body["error"] == "invalid_grant",
                format!("{rt}: the code a second time is invalid_grant"),
            )
        }
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

/// Runs module `name` for each of `types`, each in a fresh browser.
pub async fn run(name: &str, c: &mut Ctx<'_>, types: &[&str]) -> Outcome {
    let mut skipped = Vec::new();
    for rt in types {
        c.browser = crate::common::browser();
        match variant(name, c, rt).await {
            Ok(()) => c.log.ok(format!("variant response_type={rt}")),
            Err(Stop::Skip(why)) => skipped.push(why),
            Err(fail) => return Err(fail),
        }
    }
    if skipped.len() == types.len() {
        return Err(Stop::Skip(skipped.join("; ")));
    }
    for s in skipped {
        c.log.info(format!("variant skipped: {s}"));
    }
    Ok(())
}
