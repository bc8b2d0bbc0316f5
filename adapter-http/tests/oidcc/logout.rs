//! The RP-Initiated Logout plan and the Back-Channel Logout plan.

use crate::harness::{m, Module, Outcome, Stop};
use crate::jwt;
use crate::op::{describe, Ctx, Page, RP};
use serde_json::{json, Value};

pub const RP_INITIATED: &[Module] = &[
    m!(
        "oidcc-rp-initiated-logout-discovery-endpoint-verification",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "oidcc-rp-initiated-logout",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect"),
        covers("OIDC-RPLOGOUT-logout-revokes")
    ),
    m!(
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "oidcc-rp-initiated-logout-modified-id-token-hint",
        covers("OIDC-RPLOGOUT-2-id-token-hint")
    ),
    m!(
        "oidcc-rp-initiated-logout-no-id-token-hint",
        covers("OIDC-RPLOGOUT-2-id-token-hint")
    ),
    m!(
        "oidcc-rp-initiated-logout-no-params",
        covers("OIDC-RPLOGOUT-2-id-token-hint")
    ),
    m!(
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
        covers("OIDC-RPLOGOUT-logout-revokes")
    ),
    m!(
        "oidcc-rp-initiated-logout-no-state",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "oidcc-rp-initiated-logout-only-state",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri",
        covers("OIDC-RPLOGOUT-2-post-logout-redirect")
    ),
    m!(
        "oidcc-rp-initiated-logout-bad-id-token-hint",
        covers("OIDC-RPLOGOUT-2-id-token-hint")
    ),
];

pub const BACKCHANNEL: &[Module] = &[
    m!(
        "oidcc-backchannel-logout-discovery-endpoint-verification",
        covers("OIDC-BCLOGOUT-2.4-logout-token")
    ),
    m!(
        "oidcc-backchannel-rp-initiated-logout",
        covers("OIDC-BCLOGOUT-2.4-logout-token"),
        covers("OIDC-RPLOGOUT-logout-revokes")
    ),
];

pub async fn run(name: &str, c: &mut Ctx<'_>) -> Outcome {
    let plru = format!("{RP}/logged-out");
    match name {
        "oidcc-rp-initiated-logout-discovery-endpoint-verification" => {
            crate::config::logout_verification(c, false).await
        }
        "oidcc-backchannel-logout-discovery-endpoint-verification" => crate::config::logout_verification(c, true).await,
        "oidcc-rp-initiated-logout" => redirected(c, true).await,
        "oidcc-rp-initiated-logout-no-state" => redirected(c, false).await,
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => {
            let idt = login(c).await?;
            refused(
                c,
                &[
                    ("id_token_hint", &idt),
                    ("post_logout_redirect_uri", &format!("{RP}/elsewhere")),
                ],
            )
            .await
        }
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri" => {
            let idt = login(c).await?;
            refused(
                c,
                &[
                    ("id_token_hint", &idt),
                    ("post_logout_redirect_uri", &format!("{plru}?foo=bar")),
                ],
            )
            .await
        }
        "oidcc-rp-initiated-logout-modified-id-token-hint" => {
            let idt = login(c).await?;
            let (_, claims) = jwt::decode(&idt).map_err(Stop::Fail)?;
            let none = jwt::unsigned(&claims);
            refused(
                c,
                &[
                    ("id_token_hint", &none),
                    ("post_logout_redirect_uri", &plru),
                    ("state", "s"),
                ],
            )
            .await
        }
        "oidcc-rp-initiated-logout-bad-id-token-hint" => {
            let idt = login(c).await?;
            let (_, claims) = jwt::decode(&idt).map_err(Stop::Fail)?;
            let (foreign, _) = jwt::client_key();
            let forged = engine::jose::encode(&foreign, "JWT", &claims);
            refused(
                c,
                &[
                    ("id_token_hint", &forged),
                    ("post_logout_redirect_uri", &plru),
                    ("state", "s"),
                ],
            )
            .await
        }
        "oidcc-rp-initiated-logout-no-id-token-hint" => {
            login(c).await?;
            refused(c, &[("post_logout_redirect_uri", &plru), ("state", "s")]).await
        }
        "oidcc-rp-initiated-logout-no-params" => {
            login(c).await?;
            shows_page(c, &[]).await
        }
        "oidcc-rp-initiated-logout-only-state" => {
            login(c).await?;
            shows_page(c, &[("state", "only")]).await
        }
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri" => {
            let idt = login(c).await?;
            shows_page(c, &[("id_token_hint", &idt)]).await
        }
        "oidcc-backchannel-rp-initiated-logout" => backchannel(c).await,
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

/// Logs in through the code flow; returns the ID token.
async fn login(c: &mut Ctx<'_>) -> Result<String, Stop> {
    let req = c.request();
    let (tokens, _) = c.happy(&req).await?;
    Ok(tokens["id_token"].as_str().unwrap().to_string())
}

async fn end_session(c: &Ctx<'_>, params: &[(&str, &str)]) -> Page {
    let mut u = url::Url::parse(&format!("{}/end-session", c.op.iss)).unwrap();
    for (k, v) in params {
        u.query_pairs_mut().append_pair(k, v);
    }
    let r = c.browser.get(u.as_str()).send().await.unwrap();
    c.page(r).await
}

/// After logout, `prompt=none` must fail: the session is gone.
async fn session_gone(c: &mut Ctx<'_>) -> Outcome {
    let req = c.request().set("prompt", "none");
    let p = c.send(&req, false).await;
    let params = c.callback(&req, p)?;
    c.log.require(
        params.get("error").map(String::as_str) == Some("login_required"),
        format!("prompt=none after logout gets login_required ({params:?})"),
    )
}

async fn redirected(c: &mut Ctx<'_>, with_state: bool) -> Outcome {
    let idt = login(c).await?;
    let plru = format!("{RP}/logged-out");
    let mut params = vec![
        ("id_token_hint", idt.as_str()),
        ("post_logout_redirect_uri", plru.as_str()),
    ];
    if with_state {
        params.push(("state", "bye-1"));
    }
    let p = end_session(c, &params).await;
    let Page::Callback { to, params: back } = &p else {
        return Err(Stop::Fail(format!(
            "expected a redirect to post_logout_redirect_uri, got {}",
            describe(&p)
        )));
    };
    c.log
        .require(*to == plru, "redirected to the registered post_logout_redirect_uri")?;
    if with_state {
        c.log.require(
            back.get("state").map(String::as_str) == Some("bye-1"),
            "state is returned",
        )?;
    } else {
        c.log
            .require(!back.contains_key("state"), "no state when none was sent")?;
    }
    session_gone(c).await
}

/// The provider must not redirect anywhere: an error page or its own confirmation page.
async fn refused(c: &mut Ctx<'_>, params: &[(&str, &str)]) -> Outcome {
    let p = end_session(c, params).await;
    match &p {
        Page::Error { .. } | Page::Other { .. } => c.log.require(true, "no redirect; the provider shows a page"),
        other => Err(Stop::Fail(format!("must not redirect, got {}", describe(other)))),
    }
}

/// The provider shows a page (confirmation or logged out); confirming logs out.
async fn shows_page(c: &mut Ctx<'_>, params: &[(&str, &str)]) -> Outcome {
    let p = end_session(c, params).await;
    let Page::Other { status, html } = p else {
        return Err(Stop::Fail(format!("expected a page, got {}", describe(&p))));
    };
    c.log.require(status == 200, "the page answers 200")?;
    if html.contains("name=\"confirm\"") {
        c.log.ok("the provider asks to confirm the logout");
        let mut form: Vec<(String, String)> = Vec::new();
        for chunk in html.split("<input type=\"hidden\" name=\"").skip(1) {
            if let Some((n, rest)) = chunk.split_once("\" value=\"") {
                form.push((n.into(), rest.split('"').next().unwrap_or("").into()));
            }
        }
        let r = c
            .browser
            .post(format!("{}/end-session", c.op.iss))
            .form(&form)
            .send()
            .await
            .unwrap();
        let p = c.page(r).await;
        c.log.require(
            matches!(p, Page::Other { status: 200, .. }),
            format!("logged out ({})", describe(&p)),
        )?;
    } else {
        c.log.ok("the provider shows its logged-out page");
    }
    session_gone(c).await
}

async fn backchannel(c: &mut Ctx<'_>) -> Outcome {
    let path = format!("/{}/backchannel", c.op.unique("rp"));
    let bc_uri = format!("{}{path}", c.op.fixture.base);
    c.rp =
        c.op.static_client(
            "client_secret_basic",
            json!({"backchannel_logout_uri": bc_uri, "backchannel_logout_session_required": true}),
        )
        .await;
    let req = c.request();
    let (tokens, idt) = c.happy(&req).await?;
    c.log.require(idt["sid"].is_string(), "the ID token carries sid")?;
    let plru = format!("{RP}/logged-out");
    let hint = tokens["id_token"].as_str().unwrap().to_string();
    let p = end_session(
        c,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", &plru),
            ("state", "b"),
        ],
    )
    .await;
    c.log.require(
        matches!(p, Page::Callback { .. }),
        format!("redirected after logout ({})", describe(&p)),
    )?;
    let posts = c.op.fixture.posts(&path);
    c.log.require(
        posts.len() == 1,
        format!(
            "one logout token POSTed to backchannel_logout_uri (got {})",
            posts.len()
        ),
    )?;
    let form: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(posts[0].as_bytes()).into_owned().collect();
    let token = form
        .get("logout_token")
        .ok_or(Stop::Fail("no logout_token parameter".into()))?;
    let (header, lt) = jwt::verify(&c.jwks().await, token).map_err(|e| Stop::Fail(format!("logout token: {e}")))?;
    c.log
        .should(header["typ"] == "logout+jwt", "logout token typ is logout+jwt");
    c.log.require(lt["iss"] == c.op.iss.as_str(), "logout token iss")?;
    c.log.require(
        lt["aud"] == c.rp.id.as_str() || lt["aud"].as_array().is_some_and(|a| a.contains(&json!(c.rp.id))),
        "logout token aud is the client",
    )?;
    c.log.require(lt["iat"].is_u64(), "logout token iat")?;
    c.log
        .require(lt["jti"].as_str().is_some_and(|j| !j.is_empty()), "logout token jti")?;
    c.log.require(
        lt["events"]["http://schemas.openid.net/event/backchannel-logout"] == Value::Object(Default::default()),
        "logout token events has the back-channel logout event",
    )?;
    c.log
        .require(lt["sid"] == idt["sid"], "logout token sid is the session's")?;
    c.log.require(lt.get("nonce").is_none(), "no nonce in a logout token")?;
    c.log.should(lt["sub"] == idt["sub"], "logout token sub is the user's");
    session_gone(c).await
}
