//! The OpenID Foundation `oidcc-implicit-certification-test-plan` and
//! `oidcc-hybrid-certification-test-plan`: the Basic plan's modules, each run for every
//! `response_type` variant of its plan (Implicit: `id_token`, `id_token token`; Hybrid:
//! `code id_token`, `code token`, `code id_token token`), with the response's own ID token checked
//! (`c_hash`, `at_hash`, nonce) before its code is redeemed; plus
//! `oidcc-ensure-request-without-nonce-fails`. The modules that need a code or a token endpoint
//! are left out of the Implicit plan, as the official plans leave them out; a variant a module
//! does not apply to (UserInfo without an access token) is skipped, and a module all of whose
//! variants are skipped is SKIPPED. The plan's client is registered for its types through the
//! Admin API.

use crate::harness::{m, Module, Outcome, Stop};
use crate::op::{error_page, Ctx, Page, Rp};
use serde_json::json;

pub const IMPLICIT: &[&str] = &["id_token", "id_token token"];
pub const HYBRID: &[&str] = &["code id_token", "code token", "code id_token token"];

/// Modules of these plans beyond the Basic plan's.
pub const EXTRA: &[Module] = &[m!(
    "oidcc-ensure-request-without-nonce-fails",
    covers("OIDC-CORE-3.2.2.1-nonce-required")
)];

/// The Basic modules the Implicit plan leaves out: they redeem a code or call the token endpoint,
/// or test the code flow alone.
pub const NOT_IMPLICIT: &[&str] = &[
    "oidcc-codereuse",
    "oidcc-codereuse-30seconds",
    "oidcc-refresh-token",
    "oidcc-ensure-request-with-valid-pkce-succeeds",
    "oidcc-server-client-secret-post",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
];

/// The Basic modules the Hybrid plan leaves out.
pub const NOT_HYBRID: &[&str] = &["oidcc-ensure-request-without-nonce-succeeds-for-code-flow"];

/// The plan's client: registered for `types`.
pub async fn register(op: &crate::op::Op, types: &[&str]) -> Rp {
    op.static_client("client_secret_basic", json!({"response_types": types}))
        .await
}

/// Why `module` does not apply to `rt`, if it does not.
fn not_applicable(module: &str, rt: &str) -> Option<String> {
    let has = |part: &str| rt.split(' ').any(|x| x == part);
    match module {
        "oidcc-userinfo-get" | "oidcc-userinfo-post-header" | "oidcc-userinfo-post-body"
            if !has("token") && !has("code") =>
        {
            Some(format!("{rt} gives no access token"))
        }
        "oidcc-ensure-request-without-nonce-fails" if !has("id_token") => {
            Some(format!("{rt} returns no ID token from the authorization endpoint"))
        }
        _ => None,
    }
}

async fn variant(name: &str, c: &mut Ctx<'_>, rt: &'static str) -> Outcome {
    if let Some(why) = not_applicable(name, rt) {
        return Err(Stop::Skip(why));
    }
    c.response_type = rt;
    if name != "oidcc-ensure-request-without-nonce-fails" {
        return crate::basic::run(name, c).await;
    }
    let req = c.request().remove("nonce");
    match c.send(&req, false).await {
        Page::Callback { params, .. } => c.log.require(
            params.get("error").map(String::as_str) == Some("invalid_request") && !params.contains_key("id_token"),
            format!("{rt}: a request without nonce is invalid_request ({params:?})"),
        ),
        p => error_page(&mut c.log, &p, "a request without nonce"),
    }
}

/// Runs module `name` for each of `types`, each in a fresh browser.
pub async fn run(name: &str, c: &mut Ctx<'_>, types: &[&'static str]) -> Outcome {
    let mut skipped = Vec::new();
    for rt in types {
        c.browser = crate::common::browser();
        match variant(name, c, rt).await {
            Ok(()) => c.log.ok(format!("variant response_type={rt}")),
            Err(Stop::Skip(why)) => skipped.push(why),
            Err(Stop::Fail(why)) => return Err(Stop::Fail(format!("response_type={rt}: {why}"))),
        }
    }
    if skipped.len() == types.len() {
        skipped.dedup();
        return Err(Stop::Skip(skipped.join("; ")));
    }
    for s in skipped {
        c.log.info(format!("variant skipped: {s}"));
    }
    Ok(())
}
