//! Request objects (OIDC Core §6): by value (`request`) and by reference (`request_uri`),
//! unsigned and RS256-signed, and the claims parameter inside them.

use crate::harness::{Outcome, Stop};
use crate::jwt;
use crate::op::{Ctx, Page, Req};
use serde_json::{json, Map, Value};

/// The claims of a request object carrying `req`'s parameters.
fn object_claims(c: &Ctx<'_>, req: &Req) -> Value {
    let mut m = Map::new();
    for (k, v) in &req.0 {
        m.insert(k.clone(), json!(v));
    }
    m.insert("iss".into(), json!(c.rp.id));
    m.insert("aud".into(), json!(c.op.iss));
    m.insert("iat".into(), json!(jwt::now()));
    m.insert("exp".into(), json!(jwt::now() + 300));
    m.insert("jti".into(), json!(c.op.unique("ro")));
    Value::Object(m)
}

/// The outer request that accompanies an object: only what OAuth requires outside it.
fn outer(c: &Ctx<'_>) -> Req {
    Req(vec![
        ("client_id".into(), c.rp.id.clone()),
        ("response_type".into(), c.response_type.into()),
        ("scope".into(), "openid".into()),
    ])
}

async fn supported(c: &Ctx<'_>, flag: &str) -> bool {
    crate::basic::discovery(c).await[flag] == true
}

/// Sends `outer` + the object; the response must come from the object's parameters
/// (state, nonce, redirect_uri) or be the `rejected` error when the provider says it does not
/// support objects.
async fn object_flow(c: &mut Ctx<'_>, inner: &Req, outer_req: Req, supported: bool, rejected: &str) -> Outcome {
    let mut p = c.send(&outer_req, false).await;
    if !supported {
        let Page::Callback { params, .. } = &p else {
            return Err(Stop::Fail(format!(
                "expected an error response, got {}",
                crate::op::describe(&p)
            )));
        };
        return c.log.require(
            params.get("error").map(String::as_str) == Some(rejected),
            format!("{rejected} when objects are not supported (got {params:?})"),
        );
    }
    while matches!(p, Page::Login(_) | Page::Consent(_)) {
        p = c.interact(p).await;
    }
    // The response must honour the object's state and redirect_uri.
    let params = c.callback(inner, p)?;
    let tokens = c.tokens_from(&params, inner).await?;
    c.id_token(&tokens, inner).await?; // the nonce must be the object's
    Ok(())
}

pub async fn request_unsigned_or_rejected(c: &mut Ctx<'_>) -> Outcome {
    let inner = c.request();
    let object = jwt::unsigned(&object_claims(c, &inner));
    let outer = outer(c).set("redirect_uri", &c.rp.redirect).set("request", &object);
    let s = supported(c, "request_parameter_supported").await;
    object_flow(c, &inner, outer, s, "request_not_supported").await
}

pub async fn request_uri_unsigned_or_rejected(c: &mut Ctx<'_>) -> Outcome {
    let inner = c.request();
    let object = jwt::unsigned(&object_claims(c, &inner));
    let uri = c.op.fixture.put(
        &format!("/{}.jwt", c.op.unique("ro")),
        "application/oauth-authz-req+jwt",
        object,
    );
    let outer = outer(c).set("redirect_uri", &c.rp.redirect).set("request_uri", &uri);
    let s = supported(c, "request_uri_parameter_supported").await;
    object_flow(c, &inner, outer, s, "request_uri_not_supported").await
}

/// `request_uri` must be supported (Dynamic plan): unsigned.
pub async fn request_uri_unsigned(c: &mut Ctx<'_>) -> Outcome {
    c.log.require(
        supported(c, "request_uri_parameter_supported").await,
        "request_uri_parameter_supported",
    )?;
    request_uri_unsigned_or_rejected(c).await
}

/// `request_uri` to an RS256-signed object (Dynamic plan).
pub async fn request_uri_signed_rs256(c: &mut Ctx<'_>) -> Outcome {
    let d = crate::basic::discovery(c).await;
    let algs = d["request_object_signing_alg_values_supported"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.log.require(
        algs.iter().any(|a| a == "RS256"),
        "request_object_signing_alg_values_supported has RS256",
    )?;
    let inner = c.request();
    let (key, _) = jwt::client_key();
    let object = engine::jose::encode(&key, "oauth-authz-req+jwt", &object_claims(c, &inner));
    let uri = c.op.fixture.put(
        &format!("/{}.jwt", c.op.unique("ro")),
        "application/oauth-authz-req+jwt",
        object,
    );
    let first = outer(c).set("request_uri", &uri);
    object_flow(c, &inner, first, true, "").await?;
    // The same object with its signature altered must be refused.
    let inner = c.request();
    let good = engine::jose::encode(&key, "oauth-authz-req+jwt", &object_claims(c, &inner));
    let (head, sig) = good.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let bad = format!("{head}.{flipped}{}", &sig[1..]);
    let uri = c.op.fixture.put(
        &format!("/{}.jwt", c.op.unique("ro")),
        "application/oauth-authz-req+jwt",
        bad,
    );
    let p = c.send(&outer(c).set("request_uri", &uri), false).await;
    let refused = match &p {
        Page::Callback { params, .. } => {
            params.get("error").map(String::as_str) == Some("invalid_request_object") && !params.contains_key("code")
        }
        Page::Error { .. } => true,
        _ => false,
    };
    c.log.require(
        refused,
        format!(
            "a request object with a bad signature is refused ({})",
            crate::op::describe(&p)
        ),
    )
}

/// The redirect_uri only inside the object must be used (or the request refused with a page).
pub async fn request_object_redirect_uri(c: &mut Ctx<'_>) -> Outcome {
    if !supported(c, "request_parameter_supported").await {
        return Err(Stop::Skip("request objects are not supported".into()));
    }
    let inner = c.request();
    let object = jwt::unsigned(&object_claims(c, &inner));
    let outer = outer(c).set("request", &object);
    let p = c.send(&outer, false).await;
    if let Page::Error { .. } = p {
        c.log.ok("an error page when redirect_uri is only in the object");
        return Ok(());
    }
    let mut p = p;
    while matches!(p, Page::Login(_) | Page::Consent(_)) {
        p = c.interact(p).await;
    }
    let params = c.callback(&inner, p)?;
    c.log.require(
        params.contains_key("code") || params.contains_key("id_token"),
        "a response at the object's redirect_uri",
    )
}
