//! The OpenID Foundation `fapi2-security-profile-final` plan, private_key_jwt + DPoP variant, PAR
//! required: the modules that can run here, each named after the official one. The client is
//! registered dynamically with `require_pushed_authorization_requests` and
//! `dpop_bound_access_tokens`; every request goes through `/par`; every token is DPoP-bound, and
//! the tenant requires DPoP nonces (the suite's client answers `use_dpop_nonce` as a real one does).

use crate::harness::{m, Module, Outcome, Stop};
use crate::jwt;
use crate::op::{error_page, Ctx, Op, Page, Rp, CHALLENGE, VERIFIER};
use engine::fixtures::{dpop_proof, ProofClaims};
use engine::jose::{KeyMaterial, SigningKey};
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const MODULES: &[Module] = &[
    m!(
        "fapi2-security-profile-final-happy-flow",
        covers("RFC9126-2-pushed-authorization-request"),
        covers("RFC9449-5-token-request"),
        covers("RFC9449-7-resource-binding"),
        covers("RFC9449-8-server-nonce")
    ),
    m!(
        "fapi2-security-profile-final-dpop-negative-tests",
        covers("RFC9449-4.3-proof-checks")
    ),
    m!(
        "fapi2-security-profile-final-ensure-dpop-auth-code-binding-success",
        covers("RFC9449-10-dpop-jkt")
    ),
    m!(
        "fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails",
        covers("RFC9449-10.1-par-proof")
    ),
    m!(
        "fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt",
        covers("RFC9449-10-dpop-jkt")
    ),
    m!(
        "fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails",
        covers("RFC9126-6-require-par")
    ),
    m!(
        "fapi2-security-profile-final-par-attempt-reuse-request_uri",
        covers("RFC9126-2.2-request-uri-one-time")
    ),
    m!(
        "fapi2-security-profile-final-par-attempt-to-use-expired-request_uri",
        covers("RFC9126-2.2-request-uri-one-time")
    ),
    m!(
        "fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client",
        covers("RFC9126-4-client-id-match")
    ),
    m!(
        "fapi2-security-profile-final-par-authorization-request-containing-request_uri",
        covers("RFC9126-2.1-no-request-uri")
    ),
    m!(
        "fapi2-security-profile-final-par-ensure-pkce-required",
        covers("RFC7636-4.4.1-pkce-required-public")
    ),
    m!(
        "fapi2-security-profile-final-par-plain-pkce-rejected",
        covers("RFC7636-4.2-s256-only")
    ),
    m!(
        "fapi2-security-profile-final-ensure-pkce-code-verifier-required",
        covers("RFC7636-4.6-s256-verify")
    ),
    m!(
        "fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected",
        covers("RFC7636-4.6-s256-verify")
    ),
    m!(
        "fapi2-security-profile-final-attempt-reuse-authorization-code-after-one-second",
        covers("RFC6749-4.1.2-code-replay-revokes")
    ),
    m!(
        "fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client",
        covers("RFC6749-4.1.3-code-client-binding")
    ),
    m!("fapi2-security-profile-final-ensure-response-type-token-fails"),
    m!("fapi2-security-profile-final-par-test-par-endpoint-url-as-audience-fails"),
    m!("fapi2-security-profile-final-par-test-token-endpoint-url-as-audience-fails"),
    m!("fapi2-security-profile-final-par-test-array-as-audience-fails"),
    m!(
        "fapi2-security-profile-final-refresh-token",
        covers("OAUTH21-4.3.1-refresh-rotation"),
        covers("RFC9449-5-token-type")
    ),
];

/// The plan's client metadata: private_key_jwt, PAR required, DPoP-bound tokens, and the
/// provider's FAPI 2.0 profile switch (which implies the two flags).
pub fn metadata() -> Value {
    let mut body = crate::dynamic::metadata();
    body["require_pushed_authorization_requests"] = json!(true);
    body["dpop_bound_access_tokens"] = json!(true);
    body["security_profile"] = json!("fapi2");
    body
}

/// Registers the plan's client.
pub async fn register(op: &Op) -> Rp {
    crate::dynamic::register_with(op, &metadata()).await
}

/// A client's DPoP key and the proofs it makes, with the nonce it was last given.
struct Prover {
    key: SigningKey,
    nonce: Option<String>,
}

impl Prover {
    fn new(seed: u8) -> Self {
        Prover {
            key: SigningKey::from_material(&KeyMaterial::p256_scalar(&[seed; 32])).unwrap(),
            nonce: None,
        }
    }
    fn jkt(&self) -> String {
        self.key.public().thumbprint()
    }
    fn proof_with(&self, op: &Op, tune: impl FnOnce(&mut ProofClaims)) -> String {
        let mut c = ProofClaims {
            htm: "POST".into(),
            htu: String::new(),
            iat: jwt::now(),
            jti: op.unique("dpop"),
            access_token: None,
            nonce: self.nonce.clone(),
        };
        tune(&mut c);
        dpop_proof(&self.key, &c)
    }
}

/// One request to the provider: method, endpoint, form; sent again once with the nonce the
/// provider asked for, as a client does.
async fn call(
    c: &Ctx<'_>,
    prover: &mut Prover,
    endpoint: &str,
    form: &[(&str, &str)],
    auth: Option<&str>,
    assertion_aud: Option<Value>,
) -> (u16, Value) {
    for _ in 0..2 {
        let url = format!("{}/{endpoint}", c.op.iss);
        let mut form: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (method, mut rb) = if endpoint == "userinfo" {
            ("GET", Client::new().get(&url))
        } else {
            if let crate::op::Auth::PrivateKeyJwt(key) = &c.rp.auth {
                let aud = assertion_aud.clone().unwrap_or(json!(c.op.iss));
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion".into(),
                    assertion(key, &c.rp.id, aud, &c.op.unique("jti")),
                ));
            }
            ("POST", Client::new().post(&url))
        };
        let proof = prover.proof_with(c.op, |p| {
            p.htm = method.into();
            p.htu = url.clone();
            p.access_token = auth.map(str::to_owned);
        });
        rb = rb.header("DPoP", proof);
        if let Some(at) = auth {
            rb = rb.header("Authorization", format!("DPoP {at}"));
        }
        if method == "POST" {
            rb = rb.form(&form);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let nonce = r.headers().get("dpop-nonce").map(|v| v.to_str().unwrap().to_string());
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if nonce.is_some() {
            prover.nonce = nonce;
        }
        if body["error"] != "use_dpop_nonce" {
            return (status, body);
        }
    }
    (0, json!({"error": "use_dpop_nonce twice"}))
}

fn assertion(key: &SigningKey, client_id: &str, aud: Value, jti: &str) -> String {
    let now = jwt::now();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": now + 60});
    engine::jose::encode(key, "JWT", &claims)
}

/// The plan's authorization request parameters (without client_id).
fn request(c: &Ctx<'_>) -> Vec<(String, String)> {
    vec![
        ("response_type".into(), "code".into()),
        ("redirect_uri".into(), c.rp.redirect.clone()),
        ("scope".into(), "openid profile".into()),
        ("state".into(), c.op.unique("state")),
        ("nonce".into(), c.op.unique("nonce")),
        ("code_challenge".into(), CHALLENGE.into()),
        ("code_challenge_method".into(), "S256".into()),
    ]
}

fn set(req: &mut Vec<(String, String)>, k: &str, v: Option<&str>) {
    req.retain(|(key, _)| key != k);
    if let Some(v) = v {
        req.push((k.into(), v.into()));
    }
}

/// Pushes `req`; (status, body).
async fn push(c: &Ctx<'_>, prover: &mut Prover, req: &[(String, String)]) -> (u16, Value) {
    let form: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    call(c, prover, "par", &form, None, None).await
}

/// The authorization URL of a pushed request.
fn authorize_url(c: &Ctx<'_>, client_id: &str, request_uri: &str) -> String {
    let mut u = url::Url::parse(&format!("{}/authorize", c.op.iss)).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("request_uri", request_uri);
    u.to_string()
}

/// Pushes `req`, walks the pages, and returns the response's parameters.
async fn pushed_code(c: &mut Ctx<'_>, prover: &mut Prover, req: &[(String, String)]) -> Result<String, Stop> {
    let (s, body) = push(c, prover, req).await;
    c.log
        .require(s == 201, format!("the PAR endpoint answers 201 (got {s}: {body})"))?;
    let uri = body["request_uri"].as_str().unwrap_or_default().to_string();
    let p = c.walk(&authorize_url(c, &c.rp.id.clone(), &uri)).await;
    let params = callback(c, p)?;
    params
        .get("code")
        .cloned()
        .ok_or_else(|| Stop::Fail(format!("no code in the response: {params:?}")))
}

fn callback(c: &mut Ctx<'_>, p: Page) -> Result<BTreeMap<String, String>, Stop> {
    let req = crate::op::Req(vec![("redirect_uri".into(), c.rp.redirect.clone())]);
    c.callback(&req, p)
}

async fn redeem(c: &Ctx<'_>, prover: &mut Prover, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let redirect = c.rp.redirect.clone();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect.as_str()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    call(c, prover, "token", &form, None, None).await
}

fn refused(c: &mut Ctx<'_>, got: &(u16, Value), status: u16, error: &str, what: &str) -> Outcome {
    c.log.require(
        got.0 == status && got.1["error"] == error,
        format!("{what}: {status} {error} (got {} {})", got.0, got.1),
    )
}

pub async fn run(name: &str, c: &mut Ctx<'_>) -> Outcome {
    let short = name.strip_prefix("fapi2-security-profile-final-").unwrap_or(name);
    let mut prover = Prover::new(11);
    match short {
        "happy-flow" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let tokens = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            c.log
                .require(tokens.0 == 200, format!("the code is redeemed ({})", tokens.1))?;
            c.log.require(tokens.1["token_type"] == "DPoP", "token_type DPoP")?;
            let at = tokens.1["access_token"].as_str().unwrap_or_default().to_string();
            let cnf = jwt::decode(&at).map(|(_, claims)| claims["cnf"]["jkt"].clone());
            c.log.require(
                cnf.as_ref().ok() == Some(&json!(prover.jkt())),
                "the access token's cnf.jkt is the proof key's thumbprint",
            )?;
            let ui = call(c, &mut prover, "userinfo", &[], Some(&at), None).await;
            c.log.require(
                ui.0 == 200 && ui.1["sub"].is_string(),
                format!("UserInfo with DPoP ({})", ui.1),
            )?;
            let bearer = Client::new()
                .get(format!("{}/userinfo", c.op.iss))
                .bearer_auth(&at)
                .send()
                .await
                .unwrap();
            c.log
                .require(bearer.status() == 401, "the bound token as a Bearer token is refused")
        }
        "dpop-negative-tests" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let token_url = format!("{}/token", c.op.iss);
            let redirect = c.rp.redirect.clone();
            let cases: Vec<(&str, String)> = vec![
                (
                    "htm GET",
                    prover.proof_with(c.op, |p| (p.htm, p.htu) = ("GET".into(), token_url.clone())),
                ),
                (
                    "htu of the PAR endpoint",
                    prover.proof_with(c.op, |p| p.htu = format!("{}/par", c.op.iss)),
                ),
                (
                    "iat 5 minutes old",
                    prover.proof_with(c.op, |p| (p.htu, p.iat) = (token_url.clone(), p.iat - 300)),
                ),
                (
                    "iat 5 minutes ahead",
                    prover.proof_with(c.op, |p| (p.htu, p.iat) = (token_url.clone(), p.iat + 300)),
                ),
                ("another signature", {
                    let good = prover.proof_with(c.op, |p| p.htu = token_url.clone());
                    let (h, rest) = good.split_once('.').unwrap();
                    let (body, _) = rest.split_once('.').unwrap();
                    format!("{h}.{body}.{}", jwt::b64(&[7u8; 64]))
                }),
                ("typ JWT", {
                    let good = prover.proof_with(c.op, |p| p.htu = token_url.clone());
                    retype(&good, |h| h["typ"] = json!("JWT"))
                }),
                ("alg HS256", {
                    let good = prover.proof_with(c.op, |p| p.htu = token_url.clone());
                    retype(&good, |h| h["alg"] = json!("HS256"))
                }),
                ("a private key in jwk", {
                    let good = prover.proof_with(c.op, |p| p.htu = token_url.clone());
                    retype(&good, |h| h["jwk"]["d"] = json!(jwt::b64(&[11u8; 32])))
                }),
            ];
            for (what, proof) in cases {
                let key = match &c.rp.auth {
                    crate::op::Auth::PrivateKeyJwt(k) => k,
                    _ => unreachable!("the plan's client uses private_key_jwt"),
                };
                let a = assertion(key, &c.rp.id, json!(c.op.iss), &c.op.unique("jti"));
                let r = Client::new()
                    .post(&token_url)
                    .header("DPoP", proof)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect.as_str()),
                        ("code_verifier", VERIFIER),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ),
                        ("client_assertion", a.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let got = (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null));
                refused(c, &got, 400, "invalid_dpop_proof", what)?;
            }
            let ok = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            c.log.require(
                ok.0 == 200,
                "after the refusals the code is still good for a valid proof",
            )
        }
        "ensure-dpop-auth-code-binding-success" => {
            let mut req = request(c);
            set(&mut req, "dpop_jkt", Some(&prover.jkt()));
            let code = pushed_code(c, &mut prover, &req).await?;
            let r = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            c.log.require(
                r.0 == 200 && r.1["token_type"] == "DPoP",
                "the dpop_jkt key redeems the code",
            )
        }
        "ensure-mismatched-dpop-jkt-fails" => {
            let mut req = request(c);
            set(&mut req, "dpop_jkt", Some(&Prover::new(13).jkt()));
            let got = push(c, &mut prover, &req).await;
            refused(
                c,
                &got,
                400,
                "invalid_dpop_proof",
                "a dpop_jkt other than the proof's key at PAR",
            )
        }
        "ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let mut other = Prover::new(14);
            let got = redeem(c, &mut other, &code, Some(VERIFIER)).await;
            refused(
                c,
                &got,
                400,
                "invalid_grant",
                "a proof from another key than the code's",
            )
        }
        "ensure-unsigned-authorization-request-without-using-par-fails" => {
            let mut req = crate::op::Req(request(c));
            req.0.push(("client_id".into(), c.rp.id.clone()));
            let p = c.send(&req, false).await;
            match p {
                Page::Callback { params, .. } => c.log.require(
                    params.get("error").map(String::as_str) == Some("invalid_request"),
                    format!("a request that was not pushed is refused ({params:?})"),
                ),
                other => error_page(&mut c.log, &other, "a request that was not pushed"),
            }
        }
        "par-attempt-reuse-request_uri" => {
            let (s, body) = push(c, &mut prover, &request(c)).await;
            c.log.require(s == 201, "pushed")?;
            let url = authorize_url(c, &c.rp.id.clone(), body["request_uri"].as_str().unwrap_or_default());
            let first = c.walk(&url).await;
            callback(c, first)?;
            let again = c.walk(&url).await;
            error_page(&mut c.log, &again, "a request_uri used twice")
        }
        "par-attempt-to-use-expired-request_uri" => Err(Stop::Skip(
            "waiting out the 60 s lifetime is left to engine/tests/pushed.rs, which moves the clock".into(),
        )),
        "par-attempt-to-use-request_uri-for-different-client" => {
            let (s, body) = push(c, &mut prover, &request(c)).await;
            c.log.require(s == 201, "pushed")?;
            let other = register(c.op).await;
            let url = authorize_url(c, &other.id, body["request_uri"].as_str().unwrap_or_default());
            let p = c.walk(&url).await;
            error_page(&mut c.log, &p, "another client's request_uri")
        }
        "par-authorization-request-containing-request_uri" => {
            let mut req = request(c);
            set(
                &mut req,
                "request_uri",
                Some("urn:ietf:params:oauth:request_uri:made-up"),
            );
            let got = push(c, &mut prover, &req).await;
            refused(c, &got, 400, "invalid_request", "a pushed request naming a request_uri")
        }
        "par-ensure-pkce-required" => {
            let mut req = request(c);
            set(&mut req, "code_challenge", None);
            set(&mut req, "code_challenge_method", None);
            let got = push(c, &mut prover, &req).await;
            refused(c, &got, 400, "invalid_request", "a pushed request without PKCE")
        }
        "par-plain-pkce-rejected" => {
            let mut req = request(c);
            set(&mut req, "code_challenge_method", Some("plain"));
            let got = push(c, &mut prover, &req).await;
            refused(c, &got, 400, "invalid_request", "code_challenge_method plain")
        }
        "ensure-pkce-code-verifier-required" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let got = redeem(c, &mut prover, &code, None).await;
            refused(c, &got, 400, "invalid_grant", "a code redeemed without its verifier")
        }
        "incorrect-pkce-code-verifier-rejected" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let wrong = "x".repeat(43);
            let got = redeem(c, &mut prover, &code, Some(&wrong)).await;
            refused(c, &got, 400, "invalid_grant", "a wrong verifier")
        }
        "attempt-reuse-authorization-code-after-one-second" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            let first = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            c.log.require(first.0 == 200, "the first redemption")?;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let again = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            refused(c, &again, 400, "invalid_grant", "the code a second time")?;
            let at = first.1["access_token"].as_str().unwrap_or_default().to_string();
            let ui = call(c, &mut prover, "userinfo", &[], Some(&at), None).await;
            c.log.require(ui.0 == 401, "the tokens of a replayed code are revoked")
        }
        "ensure-authorization-code-is-bound-to-client" => {
            let code = pushed_code(c, &mut prover, &request(c)).await?;
            c.rp = register(c.op).await;
            let got = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            refused(c, &got, 400, "invalid_grant", "another client redeeming the code")
        }
        "ensure-response-type-token-fails" => {
            let mut req = request(c);
            set(&mut req, "response_type", Some("token"));
            let got = push(c, &mut prover, &req).await;
            c.log.require(
                got.0 == 400
                    && got.1["error"]
                        .as_str()
                        .is_some_and(|e| e.starts_with("unsupported_response_type") || e == "invalid_request"),
                format!("response_type token is refused ({})", got.1),
            )
        }
        "par-test-par-endpoint-url-as-audience-fails"
        | "par-test-token-endpoint-url-as-audience-fails"
        | "par-test-array-as-audience-fails" => {
            let aud = match short {
                "par-test-par-endpoint-url-as-audience-fails" => json!(format!("{}/par", c.op.iss)),
                "par-test-token-endpoint-url-as-audience-fails" => json!(format!("{}/token", c.op.iss)),
                _ => json!([c.op.iss.clone(), format!("{}/par", c.op.iss)]),
            };
            let req = request(c);
            let form: Vec<(&str, &str)> = req.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let got = call(c, &mut prover, "par", &form, None, Some(aud)).await;
            refused(
                c,
                &got,
                401,
                "invalid_client",
                "a client assertion whose aud is not the issuer alone",
            )
        }
        "refresh-token" => {
            let mut req = request(c);
            set(&mut req, "scope", Some("openid offline_access"));
            let code = pushed_code(c, &mut prover, &req).await?;
            let tokens = redeem(c, &mut prover, &code, Some(VERIFIER)).await;
            c.log.require(tokens.0 == 200, "redeemed")?;
            let rt = tokens.1["refresh_token"].as_str().unwrap_or_default().to_string();
            c.log.require(!rt.is_empty(), "a refresh token with offline_access")?;
            let refreshed = call(
                c,
                &mut prover,
                "token",
                &[("grant_type", "refresh_token"), ("refresh_token", rt.as_str())],
                None,
                None,
            )
            .await;
            c.log.require(
                refreshed.0 == 200 && refreshed.1["token_type"] == "DPoP",
                format!("the refresh gives a DPoP-bound token ({})", refreshed.1),
            )?;
            c.log
                .require(refreshed.1["refresh_token"] != json!(rt), "the refresh token rotates")
        }
        other => Err(Stop::Fail(format!("no such module {other}"))),
    }
}

/// `jwt` with its header changed by `f` (the signature left as it was).
fn retype(jwt: &str, f: impl FnOnce(&mut Value)) -> String {
    let (h, rest) = jwt.split_once('.').unwrap();
    let mut header: Value = serde_json::from_slice(&engine::secret::b64url_decode(h).unwrap()).unwrap();
    f(&mut header);
    format!("{}.{rest}", jwt::b64(header.to_string().as_bytes()))
}
