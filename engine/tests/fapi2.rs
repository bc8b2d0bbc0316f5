//! A client held to the FAPI 2.0 Security Profile (`security_profile: fapi2`): private_key_jwt and
//! PKCE at registration, every authorization request pushed, every token DPoP-bound, codes of at
//! most 60 seconds.

mod common;
use common::*;
use engine::client::SecurityProfile;
use engine::dpop::DpopHeader;
use engine::fixtures::{dpop_proof, ProofClaims};
use engine::jose::{self, KeyMaterial, SigningKey};
use engine::{AuthorizationRequest, ClientCredentials, ClientSpec, Env};
use serde_json::json;
use spec::{ClientAuthMethod, ErrorCode};

const CB: &str = "https://fapi.example/cb";
const ISS: &str = "https://id.example.com/acme";

fn spec() -> (ClientSpec, SigningKey) {
    let key = SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let mut jwk = serde_json::to_value(key.public().jwk()).unwrap();
    jwk["kid"] = json!(key.kid());
    let mut s = ClientSpec::new("Bank", ClientAuthMethod::PrivateKeyJwt, &[CB]);
    s.client_id = Some("bank".into());
    s.jwks = Some(json!({ "keys": [jwk] }));
    s.extras.security_profile = SecurityProfile::Fapi2;
    (s, key)
}

fn creds(key: &SigningKey, jti: &str, now: u64) -> ClientCredentials {
    let claims = json!({"iss": "bank", "sub": "bank", "aud": ISS, "exp": now + 60, "jti": jti});
    ClientCredentials::Assertion {
        client_id: None,
        assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        assertion: jose::encode(key, "JWT", &claims),
    }
}

/// Pushes the bank's request (client assertion `jti`), walks it to a code.
fn pushed_code(w: &mut World, key: &SigningKey, jti: &str) -> String {
    let now = w.now.0;
    let mut env = Env::new(w.now, &mut w.rng);
    let pushed = w
        .engine
        .handle_par(&mut env, T, &creds(key, jti, now), &request())
        .unwrap();
    let by_uri = AuthorizationRequest {
        client_id: Some("bank".into()),
        request_uri: Some(pushed.request_uri),
        ..Default::default()
    };
    w.code_for(&by_uri, None).0
}

/// A DPoP proof for the token endpoint at `now`.
fn token_proof(now: u64, jti: &str) -> DpopHeader {
    let holder = SigningKey::from_material(&KeyMaterial::p256_scalar(&[3; 32])).unwrap();
    DpopHeader::post(dpop_proof(
        &holder,
        &ProofClaims {
            htm: "POST".into(),
            htu: format!("{ISS}/token"),
            iat: now,
            jti: jti.into(),
            access_token: None,
            nonce: None,
        },
    ))
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some("bank".into()),
        redirect_uri: Some(CB.into()),
        ..web_request()
    }
}

#[test]
fn the_profile_needs_private_key_jwt_and_pkce() {
    spec::covers("FAPI2-client-profile");
    let mut w = World::new(401);
    let mut env = Env::new(w.now, &mut w.rng);
    let (mut s, _) = spec();
    s.auth_method = ClientAuthMethod::ClientSecretBasic;
    assert_eq!(
        code(w.engine.create_client(&mut env, T, s)),
        ErrorCode::InvalidClientMetadata
    );
    let (mut s, _) = spec();
    s.require_pkce = false;
    assert_eq!(
        code(w.engine.create_client(&mut env, T, s)),
        ErrorCode::InvalidClientMetadata
    );
    let (s, _) = spec();
    let (c, _) = w.engine.create_client(&mut env, T, s).unwrap();
    assert!(c.fapi2() && c.pkce_required());
}

#[test]
fn a_fapi2_client_pushes_every_request_and_gets_only_dpop_bound_tokens() {
    spec::covers("FAPI2-client-profile");
    let mut w = World::new(402);
    let (s, key) = spec();
    w.add_client(T, s);
    // Not pushed: refused at the authorization endpoint.
    assert_eq!(redirect_error(&w.authorize(&request(), None)), "invalid_request");
    let now = w.now.0;
    let code_value = pushed_code(&mut w, &key, "a1");
    let exchange = code_exchange(&code_value, CB, Some(VERIFIER));
    // Without a proof: invalid_dpop_proof, and the code is still good.
    assert_eq!(
        code(w.token(&creds(&key, "a2", now), &exchange)),
        ErrorCode::InvalidDpopProof
    );
    let mut with_proof = exchange.clone();
    with_proof.dpop = Some(token_proof(now, "p1"));
    let t = w.token(&creds(&key, "a3", now), &with_proof).unwrap();
    assert_eq!(t.token_type, "DPoP");
}

#[test]
fn a_fapi2_clients_code_lives_sixty_seconds_at_most() {
    let mut w = World::tuned(403, |c| c.code_ttl = 600);
    let (s, key) = spec();
    w.add_client(T, s);
    let code_value = pushed_code(&mut w, &key, "b1");
    w.advance(61);
    let mut with_proof = code_exchange(&code_value, CB, Some(VERIFIER));
    with_proof.dpop = Some(token_proof(w.now.0, "p2"));
    assert_eq!(
        code(w.token(&creds(&key, "b2", w.now.0), &with_proof)),
        ErrorCode::InvalidGrant,
        "61 s on, the code is gone though the tenant's codes live 600 s"
    );
    // Another client's code of that age is still good.
    let (code_value, _) = w.code_for(&web_request(), None);
    w.advance(61);
    assert!(w.exchange(&code_value).is_ok());
}
