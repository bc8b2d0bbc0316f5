//! The Basic OP plan's modules (`oidcc-basic-certification-test-plan`), also run by the Form Post
//! plan with `response_mode=form_post`.

use crate::harness::{m, Module, Outcome, Stop};
use crate::jwt;
use crate::op::{error_page, Ctx, Page, Req, RP};
use serde_json::{json, Value};
use std::time::Duration;

/// The plan, in the official order.
pub const MODULES: &[Module] = &[
    m!(
        "oidcc-server",
        covers("OIDC-CORE-2-id-token-claims"),
        covers("RFC9207-2-iss-parameter")
    ),
    m!(
        "oidcc-response-type-missing",
        covers("RFC6749-4.1.1-response-type-code")
    ),
    m!("oidcc-idtoken-signature", covers("OIDC-CORE-2-id-token-claims")),
    m!("oidcc-idtoken-unsigned", covers("JOSE-alg-none-rejected")),
    m!("oidcc-userinfo-get", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-userinfo-post-header", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-userinfo-post-body", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!(
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
        covers("OIDC-CORE-3.1.2.1-nonce")
    ),
    m!("oidcc-scope-profile", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-scope-email", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-scope-address", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-scope-phone", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-scope-all", covers("OIDC-CORE-5.3-userinfo-claims")),
    m!("oidcc-alternate-happy-flow", covers("RFC6749-3.3-scope-order")),
    m!("oidcc-display-page", covers("OIDC-CORE-3.1.2.1-optional-parameters")),
    m!("oidcc-display-popup", covers("OIDC-CORE-3.1.2.1-optional-parameters")),
    m!("oidcc-prompt-login", covers("OIDC-CORE-3.1.2.1-prompt-login")),
    m!(
        "oidcc-prompt-none-not-logged-in",
        covers("OIDC-CORE-3.1.2.1-prompt-none")
    ),
    m!("oidcc-prompt-none-logged-in", covers("OIDC-CORE-3.1.2.1-prompt-none")),
    m!("oidcc-max-age-1", covers("OIDC-CORE-3.1.2.1-max-age")),
    m!("oidcc-max-age-10000", covers("OIDC-CORE-3.1.2.1-max-age")),
    m!(
        "oidcc-ensure-request-with-unknown-parameter-succeeds",
        covers("RFC6749-3.1-unknown-parameters")
    ),
    m!("oidcc-id-token-hint", covers("OIDC-CORE-3.1.2.1-id-token-hint")),
    m!("oidcc-login-hint", covers("OIDC-CORE-3.1.2.1-login-hint")),
    m!("oidcc-ui-locales", covers("OIDC-CORE-3.1.2.1-optional-parameters")),
    m!("oidcc-claims-locales", covers("OIDC-CORE-3.1.2.1-optional-parameters")),
    m!(
        "oidcc-ensure-request-with-acr-values-succeeds",
        covers("OIDC-CORE-3.1.2.1-optional-parameters"),
        covers("OIDC-CORE-3.1.2.1-acr-values"),
        covers("OIDC-CORE-2-acr")
    ),
    m!("oidcc-codereuse", covers("RFC6749-4.1.2-code-single-use")),
    m!(
        "oidcc-codereuse-30seconds",
        covers("RFC6749-4.1.2-code-single-use"),
        covers("RFC6749-4.1.2-code-replay-revokes")
    ),
    m!(
        "oidcc-ensure-registered-redirect-uri",
        covers("RFC6749-3.1.2.3-redirect-exact-match"),
        covers("RFC6749-4.1.2.1-no-redirect-untrusted")
    ),
    m!("oidcc-ensure-post-request-succeeds", covers("OIDC-CORE-3.1.2.1-post")),
    m!("oidcc-server-client-secret-post", covers("RFC6749-2.3.1-client-secret")),
    m!(
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
        covers("OIDC-CORE-6-request-object")
    ),
    m!(
        "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
        covers("OIDC-CORE-6-request-object")
    ),
    m!("oidcc-claims-essential", covers("OIDC-CORE-5.5-claims-parameter")),
    m!(
        "oidcc-ensure-request-object-with-redirect-uri",
        covers("OIDC-CORE-6-request-object")
    ),
    m!("oidcc-refresh-token", covers("RFC6749-6-refresh-client-binding")),
    m!(
        "oidcc-ensure-request-with-valid-pkce-succeeds",
        covers("RFC7636-4.6-s256-verify")
    ),
];

/// Runs module `name`.
pub async fn run(name: &str, c: &mut Ctx<'_>) -> Outcome {
    match name {
        "oidcc-server" | "oidcc-userinfo-get" => server(c, "get").await,
        "oidcc-userinfo-post-header" => server(c, "post-header").await,
        "oidcc-userinfo-post-body" => server(c, "post-body").await,
        "oidcc-response-type-missing" => response_type_missing(c).await,
        "oidcc-idtoken-signature" => idtoken_signature(c).await,
        "oidcc-idtoken-unsigned" => idtoken_unsigned(c).await,
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => {
            let req = c.request().remove("nonce");
            c.happy(&req).await.map(|_| ())
        }
        "oidcc-scope-profile" => scope(c, "openid profile", &["name", "given_name", "family_name"]).await,
        "oidcc-scope-email" => scope(c, "openid email", &["email", "email_verified"]).await,
        "oidcc-scope-address" => scope(c, "openid address", &["address"]).await,
        "oidcc-scope-phone" => scope(c, "openid phone", &["phone_number", "phone_number_verified"]).await,
        "oidcc-scope-all" => {
            let all = ["name", "email", "address", "phone_number"];
            scope(c, "openid profile email address phone", &all).await
        }
        "oidcc-alternate-happy-flow" => alternate(c).await,
        "oidcc-display-page" => accepted(c, "display", "page").await,
        "oidcc-display-popup" => accepted(c, "display", "popup").await,
        "oidcc-ensure-request-with-unknown-parameter-succeeds" => accepted(c, "extra", "foobar").await,
        "oidcc-ui-locales" => accepted(c, "ui_locales", "se").await,
        "oidcc-claims-locales" => accepted(c, "claims_locales", "se").await,
        "oidcc-login-hint" => login_hint(c).await,
        "oidcc-ensure-request-with-acr-values-succeeds" => acr_values(c).await,
        "oidcc-prompt-login" => prompt_login(c).await,
        "oidcc-prompt-none-not-logged-in" => prompt_none_not_logged_in(c).await,
        "oidcc-prompt-none-logged-in" => silent(c, |r, _| r.set("prompt", "none")).await,
        "oidcc-id-token-hint" => silent(c, |r, idt| r.set("prompt", "none").set("id_token_hint", idt)).await,
        "oidcc-max-age-10000" => silent(c, |r, _| r.set("max_age", "10000")).await,
        "oidcc-max-age-1" => max_age_1(c).await,
        "oidcc-codereuse" => codereuse(c, 0).await,
        "oidcc-codereuse-30seconds" => codereuse(c, 30).await,
        "oidcc-ensure-registered-redirect-uri" => {
            let req = c.request().set("redirect_uri", &format!("{RP}/unregistered"));
            let p = c.send(&req, false).await;
            error_page(&mut c.log, &p, "an unregistered redirect_uri")
        }
        "oidcc-ensure-post-request-succeeds" => {
            let req = c.request();
            let mut p = c.send(&req, true).await;
            while matches!(p, Page::Login(_) | Page::Consent(_)) {
                p = c.interact(p).await;
            }
            let params = c.callback(&req, p)?;
            let tokens = c.tokens_from(&params, &req).await?;
            c.id_token(&tokens, &req).await.map(|_| ())
        }
        "oidcc-server-client-secret-post" => {
            let types = json!({"response_types": [c.response_type]});
            c.rp = c.op.static_client("client_secret_post", types).await;
            server(c, "get").await
        }
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => {
            crate::objects::request_uri_unsigned_or_rejected(c).await
        }
        "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported" => {
            crate::objects::request_unsigned_or_rejected(c).await
        }
        "oidcc-ensure-request-object-with-redirect-uri" => crate::objects::request_object_redirect_uri(c).await,
        "oidcc-claims-essential" => claims_essential(c).await,
        "oidcc-refresh-token" => refresh_token(c).await,
        "oidcc-ensure-request-with-valid-pkce-succeeds" => {
            let verifier = jwt::b64(c.op.unique("verifier-with-enough-entropy-for-pkce-43").as_bytes());
            let challenge =
                jwt::b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref());
            let req = c
                .request()
                .set("code_challenge", &challenge)
                .set("code_challenge_method", "S256")
                .set("code_verifier_for_test", &verifier);
            let code = c.code(&req.clone().remove("code_verifier_for_test")).await?;
            let tokens = c.redeem(&code, &req).await?;
            c.id_token(&tokens, &req).await.map(|_| ())
        }
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

/// Happy path, then UserInfo by `how`.
async fn server(c: &mut Ctx<'_>, how: &str) -> Outcome {
    let req = c.request();
    let (tokens, claims) = c.happy(&req).await?;
    // The implicit `id_token` type gives no access token (its modules skip UserInfo).
    if let Some(at) = tokens["access_token"].as_str() {
        c.userinfo_json(at, how, &claims["sub"]).await?;
    }
    Ok(())
}

async fn response_type_missing(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request().remove("response_type");
    match c.send(&req, false).await {
        Page::Callback { params, .. } => {
            let e = params.get("error").map(String::as_str);
            c.log.require(
                matches!(e, Some("invalid_request" | "unsupported_response_type")),
                format!("error invalid_request or unsupported_response_type (got {e:?})"),
            )?;
            c.log.require(!params.contains_key("code"), "no code")
        }
        p => error_page(&mut c.log, &p, "a missing response_type"),
    }
}

async fn idtoken_signature(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request();
    let (tokens, _) = c.happy(&req).await?;
    let (header, _) = jwt::decode(tokens["id_token"].as_str().unwrap()).map_err(Stop::Fail)?;
    c.log.require(header["alg"] != "none", "the ID token is signed")?;
    c.log
        .should(header["alg"] == "RS256", "the default ID token alg is RS256");
    Ok(())
}

async fn idtoken_unsigned(c: &mut Ctx<'_>) -> Outcome {
    let d = discovery(c).await;
    let algs = d["id_token_signing_alg_values_supported"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !algs.iter().any(|a| a == "none") {
        // The official module is skipped when the provider does not offer unsigned ID tokens.
        c.log.ok("id_token_signing_alg_values_supported does not list none");
        return Err(Stop::Skip(
            "unsigned ID tokens are not offered (alg none is not in discovery)".into(),
        ));
    }
    Err(Stop::Fail(
        "discovery lists alg none, which this suite does not exercise".into(),
    ))
}

pub async fn discovery(c: &Ctx<'_>) -> Value {
    reqwest::get(format!("{}/.well-known/openid-configuration", c.op.iss))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn scope(c: &mut Ctx<'_>, scope: &str, claims: &[&str]) -> Outcome {
    let req = c.request().set("scope", scope);
    let (tokens, idt) = c.happy(&req).await?;
    let ui = user_claims(c, &tokens, idt).await?;
    for claim in claims {
        c.log.should(
            ui.get(*claim).is_some(),
            format!("UserInfo (or the ID token, without an access token) returns {claim} for scope {scope}"),
        );
    }
    Ok(())
}

/// The user's claims: UserInfo's with the access token, or the ID token's when the response type
/// gave none (`id_token`: OIDC Core §5.4).
async fn user_claims(c: &mut Ctx<'_>, tokens: &Value, idt: Value) -> Result<Value, Stop> {
    match tokens["access_token"].as_str() {
        Some(at) => c.userinfo_json(at, "get", &idt["sub"]).await,
        None => Ok(idt),
    }
}

async fn alternate(c: &mut Ctx<'_>) -> Outcome {
    // Reordered parameters and scope values.
    let base = c.request();
    let mut params = base.0.clone();
    params.reverse();
    let req = Req(params).set("scope", "email openid");
    let (tokens, idt) = c.happy(&req).await?;
    let ui = user_claims(c, &tokens, idt).await?;
    c.log
        .should(ui.get("email").is_some(), "the email claim for scope \"email openid\"");
    Ok(())
}

/// A parameter the provider may not act on must not break the flow.
async fn accepted(c: &mut Ctx<'_>, name: &str, value: &str) -> Outcome {
    let req = c.request().set(name, value);
    c.happy(&req).await?;
    c.log.ok(format!("{name}={value} did not cause an error"));
    Ok(())
}

async fn login_hint(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request().set("login_hint", crate::op::USER);
    let p = c.send(&req, false).await;
    let Page::Login(html) = &p else {
        return Err(Stop::Fail(format!(
            "expected the login page, got {}",
            crate::op::describe(&p)
        )));
    };
    c.log.should(
        html.contains(&format!("value=\"{}\"", crate::op::USER)),
        "the login form is prefilled with login_hint",
    );
    let mut p = c.interact(p).await;
    while matches!(p, Page::Consent(_)) {
        p = c.interact(p).await;
    }
    let params = c.callback(&req, p)?;
    c.tokens_from(&params, &req).await.map(|_| ())
}

async fn acr_values(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request().set("acr_values", "1 2");
    let (_, idt) = c.happy(&req).await?;
    c.log.should(
        idt["acr"].as_str().is_some_and(|a| a == "1" || a == "2"),
        "a requested acr comes back in the ID token",
    );
    Ok(())
}

async fn prompt_login(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request();
    let (_, first) = c.happy(&req).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let req = c.request().set("prompt", "login");
    let p = c.send(&req, false).await;
    c.log
        .require(matches!(p, Page::Login(_)), "prompt=login shows the login page again")?;
    let mut p = c.interact(p).await;
    while matches!(p, Page::Consent(_)) {
        p = c.interact(p).await;
    }
    let params = c.callback(&req, p)?;
    let tokens = c.tokens_from(&params, &req).await?;
    let second = c.id_token(&tokens, &req).await?;
    c.log.require(second["sub"] == first["sub"], "same sub")?;
    c.log.require(
        second["auth_time"].as_u64() > first["auth_time"].as_u64(),
        "auth_time increased after re-authentication",
    )
}

async fn prompt_none_not_logged_in(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request().set("prompt", "none");
    let p = c.send(&req, false).await;
    let params = c.callback(&req, p)?;
    let e = params.get("error").map(String::as_str);
    c.log.require(
        matches!(e, Some("login_required" | "interaction_required" | "consent_required")),
        format!("prompt=none without a session answers login_required (got {e:?})"),
    )
}

/// Logs in, then sends a second request built by `second` (given the first ID token), which
/// must succeed without any page and keep sub and auth_time.
async fn silent(c: &mut Ctx<'_>, second: impl Fn(Req, &str) -> Req) -> Outcome {
    let req = c.request();
    let (tokens, first) = c.happy(&req).await?;
    let req = second(c.request(), tokens["id_token"].as_str().unwrap());
    let p = c.send(&req, false).await;
    let params = c.callback(&req, p)?;
    if params.contains_key("error") {
        return Err(Stop::Fail(format!("an error without interaction: {params:?}")));
    }
    c.log.ok("no login page on the second request");
    let tokens = c.tokens_from(&params, &req).await?;
    let idt = c.id_token(&tokens, &req).await?;
    c.log.require(idt["sub"] == first["sub"], "same sub")?;
    c.log.require(
        idt["auth_time"].is_u64() && idt["auth_time"] == first["auth_time"],
        "auth_time present and unchanged",
    )
}

async fn max_age_1(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request();
    let (_, first) = c.happy(&req).await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let req = c.request().set("max_age", "1");
    let p = c.send(&req, false).await;
    c.log
        .require(matches!(p, Page::Login(_)), "max_age=1 forces a new login")?;
    let mut p = c.interact(p).await;
    while matches!(p, Page::Consent(_)) {
        p = c.interact(p).await;
    }
    let params = c.callback(&req, p)?;
    let tokens = c.tokens_from(&params, &req).await?;
    let idt = c.id_token(&tokens, &req).await?;
    c.log
        .require(idt["auth_time"].is_u64(), "auth_time is returned when max_age is used")?;
    c.log.require(
        idt["auth_time"].as_u64() > first["auth_time"].as_u64(),
        "auth_time increased",
    )
}

async fn codereuse(c: &mut Ctx<'_>, wait: u64) -> Outcome {
    let req = c.request();
    let code = c.code(&req).await?;
    let tokens = c.redeem(&code, &req).await?;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let redirect = c.rp.redirect.clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
    ];
    let (s, body) = c.token(&form).await;
    let refused = s == 400 && body["error"] == "invalid_grant";
    if wait == 0 {
        c.log
            .should(refused, format!("a reused code gets invalid_grant (got {s}: {body})"));
    } else {
        c.log.require(
            refused,
            format!("a code reused after {wait} s gets invalid_grant (got {s}: {body})"),
        )?;
        let (s, _, _) = c.userinfo(&at, "get").await;
        c.log
            .should(s == 401, "the access token of the first redemption was revoked");
    }
    Ok(())
}

async fn claims_essential(c: &mut Ctx<'_>) -> Outcome {
    let claims = json!({"userinfo": {"name": {"essential": true}}}).to_string();
    let req = c.request().set("claims", &claims);
    let (tokens, idt) = c.happy(&req).await?;
    let ui = user_claims(c, &tokens, idt).await?;
    c.log
        .should(ui.get("name").is_some(), "the essential claim name is in UserInfo");
    Ok(())
}

async fn refresh_token(c: &mut Ctx<'_>) -> Outcome {
    let req = c
        .request()
        .set("scope", "openid offline_access")
        .set("prompt", "consent");
    let (tokens, idt) = c.happy(&req).await?;
    let Some(rt) = tokens["refresh_token"].as_str().map(str::to_owned) else {
        return Err(Stop::Skip("no refresh token was issued".into()));
    };
    // Another client may not use it.
    let thief = c.op.static_client("client_secret_basic", json!({})).await;
    let mine = std::mem::replace(&mut c.rp, thief);
    let (s, body) = c
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .await;
    c.rp = mine;
    c.log.require(
        s == 400 && body["error"] == "invalid_grant",
        format!("another client's refresh gets invalid_grant (got {s}: {body})"),
    )?;
    let (s, body) = c
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .await;
    c.log.require(
        s == 200,
        format!("the refresh token works for its client (got {s}: {body})"),
    )?;
    c.log.require(body["access_token"].is_string(), "a new access token")?;
    if let Some(new_idt) = body["id_token"].as_str() {
        let (_, claims) = jwt::verify(&c.jwks().await, new_idt).map_err(Stop::Fail)?;
        c.log
            .require(claims["sub"] == idt["sub"], "the refreshed ID token has the same sub")?;
        c.log
            .require(claims["iss"] == idt["iss"], "the refreshed ID token has the same iss")?;
    }
    let at = body["access_token"].as_str().unwrap().to_string();
    c.userinfo_json(&at, "get", &idt["sub"]).await.map(|_| ())
}
