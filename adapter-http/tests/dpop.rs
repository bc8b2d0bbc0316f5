//! DPoP over HTTP (RFC 9449): the `DPoP` header at the token endpoint, `token_type: DPoP`, the
//! `DPoP` scheme and challenge at UserInfo, `use_dpop_nonce` with `DPoP-Nonce`, `cnf` in
//! introspection, and discovery.

mod common;
use common::*;
use engine::fixtures::{dpop_proof, ProofClaims};
use engine::jose::{KeyMaterial, SigningKey};
use reqwest::{Client, Method};
use serde_json::{json, Value};

struct Prover {
    key: SigningKey,
    n: u32,
}

impl Prover {
    fn new(seed: u8) -> Self {
        Prover {
            key: SigningKey::from_material(&KeyMaterial::p256_scalar(&[seed; 32])).unwrap(),
            n: 0,
        }
    }
    fn proof(&mut self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        self.n += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        dpop_proof(
            &self.key,
            &ProofClaims {
                htm: method.into(),
                htu: url.into(),
                iat: now,
                jti: format!("p-{}", self.n),
                access_token: token.map(str::to_owned),
                nonce: nonce.map(str::to_owned),
            },
        )
    }
}

/// POSTs `form` to the token endpoint with the demo client's credentials and `proof`.
async fn token_with(t: &TestServer, form: &[(&str, &str)], proof: &str) -> (u16, Option<String>, Value) {
    let r = Client::new()
        .post(format!("{}/token", t.iss))
        .basic_auth(&t.demo.client_id, Some(&t.demo.client_secret))
        .header("DPoP", proof)
        .form(form)
        .send()
        .await
        .unwrap();
    let nonce = r.headers().get("dpop-nonce").map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), nonce, r.json().await.unwrap())
}

async fn userinfo(t: &TestServer, authorization: &str, proof: Option<&str>) -> (u16, String, Option<String>, Value) {
    let mut rb = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .header("Authorization", authorization);
    if let Some(p) = proof {
        rb = rb.header("DPoP", p);
    }
    let r = rb.send().await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let nonce = r.headers().get("dpop-nonce").map(|v| v.to_str().unwrap().to_string());
    let status = r.status().as_u16();
    (status, challenge, nonce, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_dpop_bound_token_over_http_with_nonces() {
    spec::covers("RFC9449-7.1-dpop-challenge");
    let t = start().await;
    let d: Value = Client::new()
        .get(format!("{}/.well-known/openid-configuration", t.iss))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "RS256"])
    );
    // The tenant requires nonces.
    let root = root_token(&t).await;
    let (s, body) = call(
        &t,
        Method::PATCH,
        "/admin/v1/tenants/demo",
        Some(&root),
        Some(json!({"require_dpop_nonce": true})),
    )
    .await;
    assert_eq!((s, &body["require_dpop_nonce"]), (200, &json!(true)), "{body}");

    let b = browser();
    let code = demo_code(&t, &b, "openid profile").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let token_url = format!("{}/token", t.iss);
    let mut client = Prover::new(7);
    let (s, nonce, body) = token_with(&t, &form, &client.proof("POST", &token_url, None, None)).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("use_dpop_nonce")), "{body}");
    let nonce = nonce.expect("DPoP-Nonce with use_dpop_nonce");
    let (s, next_nonce, tokens) = token_with(&t, &form, &client.proof("POST", &token_url, None, Some(&nonce))).await;
    assert_eq!(s, 200, "{tokens}");
    assert!(next_nonce.is_some(), "the nonce to use next comes with the tokens");
    assert_eq!(tokens["token_type"], "DPoP");
    let at = tokens["access_token"].as_str().unwrap();
    assert!(jwt_payload(at)["cnf"]["jkt"].is_string());

    let ui = format!("{}/userinfo", t.iss);
    // Bearer: refused with a Bearer challenge.
    let (s, challenge, _, body) = userinfo(&t, &format!("Bearer {at}"), None).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_token")), "{body}");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    // DPoP without a nonce: use_dpop_nonce, with the nonce and a DPoP challenge.
    let (s, challenge, got_nonce, body) = userinfo(
        &t,
        &format!("DPoP {at}"),
        Some(&client.proof("GET", &ui, Some(at), None)),
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("use_dpop_nonce")), "{body}");
    assert!(
        challenge.starts_with("DPoP error=\"use_dpop_nonce\"") && challenge.contains("algs=\"ES256 ES384 RS256\""),
        "{challenge}"
    );
    let nonce = got_nonce.expect("DPoP-Nonce");
    // A proof for POST sent with GET: invalid_dpop_proof.
    let (s, challenge, _, body) = userinfo(
        &t,
        &format!("DPoP {at}"),
        Some(&client.proof("POST", &ui, Some(at), Some(&nonce))),
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_dpop_proof")), "{body}");
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let (s, _, _, claims) = userinfo(
        &t,
        &format!("DPoP {at}"),
        Some(&client.proof("GET", &ui, Some(at), Some(&nonce))),
    )
    .await;
    assert_eq!(s, 200, "{claims}");
    assert!(claims["sub"].is_string());

    // Introspection shows the binding.
    let r = Client::new()
        .post(format!("{}/introspect", t.iss))
        .basic_auth(&t.demo.client_id, Some(&t.demo.client_secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    let i: Value = r.json().await.unwrap();
    assert_eq!(i["token_type"], "DPoP", "{i}");
    assert_eq!(i["cnf"]["jkt"], jwt_payload(at)["cnf"]["jkt"]);
    // Two DPoP headers: refused.
    let code = demo_code(&t, &b, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", VERIFIER),
    ];
    let r = Client::new()
        .post(&token_url)
        .basic_auth(&t.demo.client_id, Some(&t.demo.client_secret))
        .header("DPoP", client.proof("POST", &token_url, None, Some(&nonce)))
        .header("DPoP", client.proof("POST", &token_url, None, Some(&nonce)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn the_admin_api_holds_a_client_to_the_fapi2_profile() {
    spec::covers("FAPI2-client-profile");
    let t = start().await;
    let root = root_token(&t).await;
    let key = SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let jwk = serde_json::to_value(key.public().jwk()).unwrap();
    let body = |auth: &str| {
        json!({"client_id": format!("bank-{auth}"), "name": "Bank", "token_endpoint_auth_method": auth,
               "redirect_uris": ["https://bank.example/cb"], "jwks": {"keys": [jwk.clone()]},
               "security_profile": "fapi2"})
    };
    let path = "/admin/v1/tenants/demo/clients";
    let refused = call(&t, Method::POST, path, Some(&root), Some(body("client_secret_basic"))).await;
    assert_eq!(
        (refused.0, refused.1["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{}",
        refused.1
    );
    let (s, c) = call(&t, Method::POST, path, Some(&root), Some(body("private_key_jwt"))).await;
    assert_eq!((s, c["security_profile"].as_str()), (201, Some("fapi2")), "{c}");
    // Its authorization requests must be pushed.
    let url = authorize_url(&t.iss, "bank-private_key_jwt", "https://bank.example/cb", "openid", "");
    let r = browser().get(&url).send().await.unwrap();
    let loc = location(&r);
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
    let (s, c) = call(
        &t,
        Method::PATCH,
        &format!("{path}/bank-private_key_jwt"),
        Some(&root),
        Some(json!({"security_profile": "none"})),
    )
    .await;
    assert_eq!((s, c["security_profile"].as_str()), (200, Some("none")), "{c}");
}
