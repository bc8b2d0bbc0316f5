//! The Config OP plan: `oidcc-discovery-endpoint-verification`, and the discovery checks the
//! logout plans add.

use crate::harness::{Module, Outcome};
use crate::op::Ctx;
use serde_json::Value;

pub const MODULES: &[Module] = &[Module {
    name: "oidcc-discovery-endpoint-verification",
    // covers("OIDC-DISCOVERY-3-provider-metadata")
    requirements: &["OIDC-DISCOVERY-3-provider-metadata"],
}];

fn has(d: &Value, field: &str, value: &str) -> bool {
    d[field].as_array().is_some_and(|a| a.iter().any(|v| v == value))
}

pub async fn verification(c: &mut Ctx<'_>) -> Outcome {
    let r = reqwest::get(format!("{}/.well-known/openid-configuration", c.op.iss))
        .await
        .unwrap();
    c.log.require(r.status() == 200, "discovery answers 200")?;
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    c.log.require(ct.starts_with("application/json"), "discovery is JSON")?;
    let d: Value = r.json().await.unwrap();
    let iss = c.op.iss.clone();
    c.log.require(
        d["issuer"] == iss.as_str(),
        "issuer equals the URL it was fetched under",
    )?;
    for f in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        let v = d[f].as_str().unwrap_or("");
        c.log.require(v.starts_with(&iss), format!("{f} is under the issuer"))?;
    }
    // Every endpoint is https in production; this run is on loopback http, which the official
    // suite also accepts only for local test deployments.
    c.log.should(
        d.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with("_endpoint") || *k == "jwks_uri")
            .all(|(_, v)| {
                v.as_str()
                    .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://127.0.0.1"))
            }),
        "endpoints are https (loopback http here)",
    );
    c.log.require(
        has(&d, "scopes_supported", "openid"),
        "scopes_supported contains openid",
    )?;
    c.log.require(
        has(&d, "response_types_supported", "code"),
        "response_types_supported contains code",
    )?;
    c.log.require(
        has(&d, "subject_types_supported", "public"),
        "subject_types_supported contains public",
    )?;
    c.log.require(
        has(&d, "id_token_signing_alg_values_supported", "RS256"),
        "id_token_signing_alg_values_supported contains RS256",
    )?;
    c.log.require(
        !has(&d, "id_token_signing_alg_values_supported", "none") || has(&d, "response_types_supported", "code"),
        "alg none only with the code flow",
    )?;
    c.log
        .should(d["claims_supported"].is_array(), "claims_supported is listed");
    c.log
        .should(has(&d, "claims_supported", "sub"), "claims_supported contains sub");
    c.log.should(
        d["token_endpoint_auth_methods_supported"].is_array(),
        "token_endpoint_auth_methods_supported is listed",
    );
    if let Some(p) = d["claims_parameter_supported"].as_bool() {
        c.log.ok(format!("claims_parameter_supported is a boolean ({p})"));
    }
    for f in ["request_parameter_supported", "request_uri_parameter_supported"] {
        c.log
            .require(d.get(f).is_none_or(Value::is_boolean), format!("{f} is a boolean"))?;
    }
    // The JWKS: parseable, every key has kid, kty and no private part.
    let jwks: Value = reqwest::get(d["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    c.log.require(!keys.is_empty(), "the JWKS has keys")?;
    for k in &keys {
        c.log.require(
            k["kid"].is_string() && k["kty"].is_string(),
            "every JWK has kid and kty",
        )?;
        c.log.require(
            k.get("d").is_none() && k.get("p").is_none(),
            "no private key material in the JWKS",
        )?;
    }
    c.log
        .require(keys.iter().any(|k| k["kty"] == "RSA"), "an RSA key for RS256")
}

/// `end_session_endpoint` and the back-channel fields the logout plans verify.
pub async fn logout_verification(c: &mut Ctx<'_>, backchannel: bool) -> Outcome {
    verification(c).await?;
    let d = crate::basic::discovery(c).await;
    c.log.require(
        d["end_session_endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with(&c.op.iss)),
        "end_session_endpoint is published",
    )?;
    if backchannel {
        c.log.require(
            d["backchannel_logout_supported"] == true,
            "backchannel_logout_supported",
        )?;
        c.log.require(
            d["backchannel_logout_session_supported"] == true,
            "backchannel_logout_session_supported (sid)",
        )?;
    }
    Ok(())
}
