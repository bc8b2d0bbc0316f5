//! DPoP (RFC 9449): proofs checked at the token, PAR, UserInfo and revocation endpoints; tokens
//! bound to the proof's key (`cnf.jkt`, token_type DPoP), refused without a proof from it; codes
//! bound with `dpop_jkt`; public clients' refresh tokens bound; server nonces.

mod common;
use common::*;
use engine::client::ClientRecord;
use engine::dpop::{DpopHeader, PresentedToken, Scheme};
use engine::fixtures::{dpop_proof, ProofClaims};
use engine::jose::{KeyMaterial, SigningKey};
use engine::store::{load, save, Store};
use engine::token::userinfo::UserInfoResponse;
use engine::{ClientCredentials, Env, Result, TenantRecord};
use spec::{ClientAuthMethod, ErrorCode, GrantType};

const TOKEN_URL: &str = "https://id.example.com/acme/token";
const USERINFO_URL: &str = "https://id.example.com/acme/userinfo";

/// A client's DPoP key: P-256 from `seed`.
fn key(seed: u8) -> SigningKey {
    SigningKey::from_material(&KeyMaterial::p256_scalar(&[seed; 32])).unwrap()
}

struct Prover {
    key: SigningKey,
    n: u32,
}

impl Prover {
    fn new(seed: u8) -> Self {
        Prover { key: key(seed), n: 0 }
    }
    fn jkt(&self) -> String {
        self.key.public().thumbprint()
    }
    /// The claims of a fresh, fitting proof for `POST url` at `now`.
    fn claims(&mut self, url: &str, now: u64) -> ProofClaims {
        self.n += 1;
        ProofClaims {
            htm: "POST".into(),
            htu: url.into(),
            iat: now,
            jti: format!("jti-{}-{}", self.jkt(), self.n),
            access_token: None,
            nonce: None,
        }
    }
    fn sign(&self, c: &ProofClaims) -> DpopHeader {
        DpopHeader {
            value: dpop_proof(&self.key, c),
            method: c.htm.clone(),
        }
    }
    fn post(&mut self, url: &str, now: u64) -> DpopHeader {
        let c = self.claims(url, now);
        self.sign(&c)
    }
    /// A proof for `GET /userinfo` with `token`.
    fn for_userinfo(&mut self, token: &str, now: u64) -> DpopHeader {
        let mut c = self.claims(USERINFO_URL, now);
        c.htm = "GET".into();
        c.access_token = Some(token.into());
        self.sign(&c)
    }
}

fn with_proof(mut req: engine::token::TokenRequest, proof: DpopHeader) -> engine::token::TokenRequest {
    req.dpop = Some(proof);
    req
}

fn userinfo(w: &mut World, presented: PresentedToken) -> Result<UserInfoResponse> {
    let mut env = Env::new(w.now, &mut w.rng);
    w.engine.handle_userinfo_presented(&mut env, T, &presented)
}

fn as_dpop(token: &str, proof: Option<DpopHeader>) -> PresentedToken {
    PresentedToken {
        token: token.into(),
        scheme: Scheme::Dpop,
        proof,
    }
}

fn set_client_metadata(w: &World, id: &str, name: &str, value: serde_json::Value) {
    w.engine
        .store()
        .transact(|tx| {
            let key = ClientRecord::key(T, id);
            let mut c = load::<ClientRecord>(tx, &key)?.unwrap();
            c.metadata.insert(name.into(), value.clone());
            save(tx, &key, &c)
        })
        .unwrap();
}

fn require_nonce(w: &World) {
    w.engine
        .store()
        .transact(|tx| {
            let mut t = load::<TenantRecord>(tx, T)?.unwrap();
            t.require_dpop_nonce = true;
            save(tx, T, &t)
        })
        .unwrap();
}

/// A code of the web client and its exchange request.
fn web_code(w: &mut World) -> engine::token::TokenRequest {
    let (code, _) = w.code_for(&web_request(), None);
    code_exchange(&code, WEB_CB, Some(VERIFIER))
}

#[test]
fn a_token_bought_with_a_proof_is_bound_to_its_key_and_honoured_only_with_a_proof_from_it() {
    spec::covers("RFC9449-5-token-request");
    spec::covers("RFC9449-5-token-type");
    spec::covers("RFC9449-6-cnf-jkt");
    spec::covers("RFC9449-6.2-introspection-cnf");
    spec::covers("RFC9449-7-resource-binding");
    spec::covers("RFC9449-11.1-proof-replay");
    let mut w = World::new(301);
    let mut client = Prover::new(7);
    let req = web_code(&mut w);
    let proof = client.post(TOKEN_URL, w.now.0);
    let creds = w.web_creds();
    let t = w.token(&creds, &with_proof(req, proof)).unwrap();
    assert_eq!(t.token_type, "DPoP");
    assert_eq!(claims(&t.access_token)["cnf"]["jkt"], client.jkt().as_str());
    let i = w.introspect(&creds, &t.access_token);
    assert!(i.active);
    assert_eq!(i.token_type, Some("DPoP"));
    assert_eq!(i.cnf.map(|c| c.jkt), Some(client.jkt()));

    // As a Bearer token: refused, with or without a proof.
    let bearer = w.userinfo(&t.access_token);
    assert_eq!(code(bearer), ErrorCode::InvalidToken);
    // As DPoP without a proof, with another key's proof, with a proof for another token.
    assert_eq!(
        code(userinfo(&mut w, as_dpop(&t.access_token, None))),
        ErrorCode::InvalidDpopProof
    );
    let mut thief = Prover::new(9);
    let stolen = thief.for_userinfo(&t.access_token, w.now.0);
    assert_eq!(
        code(userinfo(&mut w, as_dpop(&t.access_token, Some(stolen)))),
        ErrorCode::InvalidDpopProof
    );
    let other_token = client.for_userinfo("another.access.token", w.now.0);
    assert_eq!(
        code(userinfo(&mut w, as_dpop(&t.access_token, Some(other_token)))),
        ErrorCode::InvalidDpopProof,
        "ath must be the hash of the token presented"
    );
    // With a proof from its key: the claims; the same proof again: refused.
    let good = client.for_userinfo(&t.access_token, w.now.0);
    let ok = userinfo(&mut w, as_dpop(&t.access_token, Some(good.clone()))).unwrap();
    let UserInfoResponse::Json(c) = ok else { panic!() };
    assert_eq!(c["sub"], w.alice.id.as_str());
    assert_eq!(
        code(userinfo(&mut w, as_dpop(&t.access_token, Some(good)))),
        ErrorCode::InvalidDpopProof,
        "a proof is used once"
    );
}

#[test]
fn a_bearer_token_is_refused_as_dpop_and_a_request_without_a_proof_gets_bearer() {
    let mut w = World::new(302);
    let req = web_code(&mut w);
    let creds = w.web_creds();
    let t = w.token(&creds, &req).unwrap();
    assert_eq!(t.token_type, "Bearer");
    assert!(claims(&t.access_token).get("cnf").is_none());
    let mut client = Prover::new(7);
    let proof = client.for_userinfo(&t.access_token, w.now.0);
    assert_eq!(
        code(userinfo(&mut w, as_dpop(&t.access_token, Some(proof)))),
        ErrorCode::InvalidToken
    );
    assert!(w.userinfo(&t.access_token).is_ok());
}

#[test]
fn every_broken_proof_is_refused_and_the_code_survives_for_a_good_one() {
    spec::covers("RFC9449-4.3-proof-checks");
    let mut w = World::new(303);
    let req = web_code(&mut w);
    let creds = w.web_creds();
    let mut client = Prover::new(7);
    let now = w.now.0;
    let mut broken: Vec<(&str, DpopHeader)> = Vec::new();
    let mut c = client.claims(TOKEN_URL, now);
    c.htm = "GET".into();
    let get = DpopHeader {
        method: "POST".into(),
        ..client.sign(&c)
    };
    broken.push(("another method", get));
    let mut c = client.claims("https://id.example.com/acme/userinfo", now);
    broken.push(("another URL", client.sign(&c)));
    c = client.claims(TOKEN_URL, now - 61);
    broken.push(("61 s old", client.sign(&c)));
    c = client.claims(TOKEN_URL, now + 61);
    broken.push(("61 s ahead", client.sign(&c)));
    c = client.claims(TOKEN_URL, now);
    let good = client.sign(&c);
    broken.push((
        "two headers",
        DpopHeader {
            value: format!("{}, {}", good.value, good.value),
            method: "POST".into(),
        },
    ));
    // A header that is not ours to write: typ, alg, jwk changed, re-signed or not.
    let parts: Vec<&str> = good.value.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&engine::secret::b64url_decode(parts[0]).unwrap()).unwrap();
    let reheader = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut h = header.clone();
        f(&mut h);
        let h = engine::secret::b64url(&serde_json::to_vec(&h).unwrap());
        DpopHeader {
            value: format!("{h}.{}.{}", parts[1], parts[2]),
            method: "POST".into(),
        }
    };
    broken.push(("typ JWT", reheader(&|h| h["typ"] = "JWT".into())));
    broken.push(("alg HS256", reheader(&|h| h["alg"] = "HS256".into())));
    broken.push(("alg none", reheader(&|h| h["alg"] = "none".into())));
    broken.push(("no jwk", reheader(&|h| drop(h.as_object_mut().unwrap().remove("jwk")))));
    broken.push((
        "a private key in jwk",
        reheader(&|h| h["jwk"]["d"] = engine::secret::b64url(&[7u8; 32]).into()),
    ));
    let other = Prover::new(8);
    broken.push((
        "another key's jwk",
        reheader(&|h| h["jwk"] = serde_json::to_value(other.key.public().jwk()).unwrap()),
    ));
    broken.push((
        "a forged signature",
        DpopHeader {
            value: format!("{}.{}.{}", parts[0], parts[1], engine::secret::b64url(&[1u8; 64])),
            method: "POST".into(),
        },
    ));
    for (why, proof) in broken {
        let refused = w.token(&creds, &with_proof(req.clone(), proof));
        assert_eq!(
            refused.err().map(|e| e.code()),
            Some(ErrorCode::InvalidDpopProof),
            "{why}"
        );
    }
    let t = w.token(&creds, &with_proof(req.clone(), good.clone())).unwrap();
    assert_eq!(t.token_type, "DPoP");
    // The same proof for another token request: a replay.
    let cc = engine::token::TokenRequest {
        grant_type: Some("client_credentials".into()),
        ..Default::default()
    };
    let first = w.first_creds();
    let replayed = w.token(&first, &with_proof(cc, good));
    assert_eq!(code(replayed), ErrorCode::InvalidDpopProof);
}

#[test]
fn a_proof_for_the_seeds_endpoint_layout_is_accepted() {
    let mut w = World::new(304);
    let req = web_code(&mut w);
    let creds = w.web_creds();
    let mut client = Prover::new(7);
    let proof = client.post("https://id.example.com/acme/api/v1/oidc/token?x=1", w.now.0);
    assert_eq!(
        w.token(&creds, &with_proof(req, proof)).unwrap().token_type,
        "DPoP",
        "the seed's path, its query ignored"
    );
}

#[test]
fn a_tenant_that_requires_nonces_answers_use_dpop_nonce_until_the_proof_has_a_current_one() {
    spec::covers("RFC9449-8-server-nonce");
    let mut w = World::new(305);
    require_nonce(&w);
    let req = web_code(&mut w);
    let creds = w.web_creds();
    let mut client = Prover::new(7);
    let proof = client.post(TOKEN_URL, w.now.0);
    assert_eq!(
        code(w.token(&creds, &with_proof(req.clone(), proof))),
        ErrorCode::UseDpopNonce
    );
    let nonce = w.engine.dpop_nonce(w.now, T);
    let mut c = client.claims(TOKEN_URL, w.now.0);
    c.nonce = Some("made-up".into());
    assert_eq!(
        code(w.token(&creds, &with_proof(req.clone(), client.sign(&c)))),
        ErrorCode::UseDpopNonce
    );
    // A nonce from another tenant is not this one's.
    let theirs = w.engine.dpop_nonce(w.now, OTHER);
    c = client.claims(TOKEN_URL, w.now.0);
    c.nonce = Some(theirs);
    assert_eq!(
        code(w.token(&creds, &with_proof(req.clone(), client.sign(&c)))),
        ErrorCode::UseDpopNonce
    );
    c = client.claims(TOKEN_URL, w.now.0);
    c.nonce = Some(nonce.clone());
    assert_eq!(
        w.token(&creds, &with_proof(req, client.sign(&c))).unwrap().token_type,
        "DPoP",
        "the code was not used up by the refusals"
    );
    // Ten minutes on, that nonce is stale.
    w.advance(engine::dpop::nonce::WINDOW_SECS * 2);
    let req = web_code(&mut w);
    c = client.claims(TOKEN_URL, w.now.0);
    c.nonce = Some(nonce);
    assert_eq!(
        code(w.token(&creds, &with_proof(req, client.sign(&c)))),
        ErrorCode::UseDpopNonce
    );
}

#[test]
fn a_code_bound_with_dpop_jkt_is_redeemed_only_with_a_proof_from_that_key() {
    spec::covers("RFC9449-10-dpop-jkt");
    let mut w = World::new(306);
    let mut client = Prover::new(7);
    let mut areq = web_request();
    areq.dpop_jkt = Some(client.jkt());
    let (code_value, _) = w.code_for(&areq, None);
    let req = code_exchange(&code_value, WEB_CB, Some(VERIFIER));
    let creds = w.web_creds();
    assert_eq!(code(w.token(&creds, &req)), ErrorCode::InvalidGrant, "no proof");
    let mut thief = Prover::new(9);
    let theirs = thief.post(TOKEN_URL, w.now.0);
    assert_eq!(
        code(w.token(&creds, &with_proof(req.clone(), theirs))),
        ErrorCode::InvalidGrant,
        "another key"
    );
    let mine = client.post(TOKEN_URL, w.now.0);
    assert_eq!(w.token(&creds, &with_proof(req, mine)).unwrap().token_type, "DPoP");
    // A dpop_jkt that is not a thumbprint is refused at the authorization endpoint.
    areq.dpop_jkt = Some("not a thumbprint".into());
    assert_eq!(redirect_error(&w.authorize(&areq, None)), "invalid_request");
}

#[test]
fn a_pushed_request_with_a_proof_binds_its_code_to_the_proofs_key() {
    spec::covers("RFC9449-10.1-par-proof");
    let mut w = World::new(307);
    let creds = w.web_creds();
    let mut client = Prover::new(7);
    let par_url = "https://id.example.com/acme/par";
    let mut env = Env::new(w.now, &mut w.rng);
    let proof = client.post(par_url, w.now.0);
    let pushed = w
        .engine
        .handle_par_with_proof(&mut env, T, &creds, &web_request(), Some(&proof))
        .unwrap();
    // A dpop_jkt naming another key than the proof's: refused.
    let mut named = web_request();
    named.dpop_jkt = Some(Prover::new(9).jkt());
    let proof = client.post(par_url, w.now.0);
    let mismatch = w
        .engine
        .handle_par_with_proof(&mut env, T, &creds, &named, Some(&proof));
    assert_eq!(code(mismatch), ErrorCode::InvalidDpopProof);
    let areq = engine::AuthorizationRequest {
        client_id: Some("web".into()),
        request_uri: Some(pushed.request_uri),
        ..Default::default()
    };
    let (code_value, _) = w.code_for(&areq, None);
    let req = code_exchange(&code_value, WEB_CB, Some(VERIFIER));
    assert_eq!(code(w.token(&creds, &req)), ErrorCode::InvalidGrant);
    let mine = client.post(TOKEN_URL, w.now.0);
    assert_eq!(w.token(&creds, &with_proof(req, mine)).unwrap().token_type, "DPoP");
}

/// A public client that may refresh.
fn public_refresher(w: &mut World) -> ClientCredentials {
    let mut spec = engine::ClientSpec::new("Mobile", ClientAuthMethod::None, &[SPA_CB]);
    spec.client_id = Some("mobile".into());
    spec.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    spec.refresh_without_offline_access = true;
    w.add_client(T, spec);
    ClientCredentials::PublicId("mobile".into())
}

#[test]
fn a_public_clients_refresh_token_is_bound_to_its_key() {
    spec::covers("RFC9449-5-public-refresh-binding");
    spec::covers("RFC9449-revocation-proof");
    let mut w = World::new(308);
    let creds = public_refresher(&mut w);
    let mut areq = spa_request();
    areq.client_id = Some("mobile".into());
    let (code_value, _) = w.code_for(&areq, None);
    let mut client = Prover::new(7);
    let proof = client.post(TOKEN_URL, w.now.0);
    let t = w
        .token(
            &creds,
            &with_proof(code_exchange(&code_value, SPA_CB, Some(VERIFIER)), proof),
        )
        .unwrap();
    let rt = t.refresh_token.expect("a refresh token");
    let i = w.introspect(&creds, &rt);
    assert_eq!(i.cnf.map(|c| c.jkt), Some(client.jkt()));
    assert_eq!(code(w.token(&creds, &refresh_request(&rt))), ErrorCode::InvalidGrant);
    let mut thief = Prover::new(9);
    let theirs = thief.post(TOKEN_URL, w.now.0);
    assert_eq!(
        code(w.token(&creds, &with_proof(refresh_request(&rt), theirs))),
        ErrorCode::InvalidGrant
    );
    let mine = client.post(TOKEN_URL, w.now.0);
    let refreshed = w.token(&creds, &with_proof(refresh_request(&rt), mine)).unwrap();
    assert_eq!(refreshed.token_type, "DPoP");
    let rt2 = refreshed.refresh_token.unwrap();
    // Revoking it needs a proof from the key too.
    assert_eq!(code(w.revoke(&creds, &rt2)), ErrorCode::InvalidDpopProof);
    let revoke_url = "https://id.example.com/acme/revoke";
    let mut env = Env::new(w.now, &mut w.rng);
    let proof = client.post(revoke_url, w.now.0);
    w.engine
        .handle_revoke_with_proof(&mut env, T, &creds, &rt2, Some(&proof))
        .unwrap();
    assert!(!w.introspect(&creds, &rt2).active);
}

#[test]
fn a_confidential_clients_refresh_token_stays_unbound_and_each_access_token_takes_the_new_key() {
    let mut w = World::new(309);
    let mut c = web_request();
    c.scope = Some("openid offline_access".into());
    let (code_value, _) = w.code_for(&c, None);
    let creds = w.web_creds();
    let mut client = Prover::new(7);
    let proof = client.post(TOKEN_URL, w.now.0);
    let t = w
        .token(
            &creds,
            &with_proof(code_exchange(&code_value, WEB_CB, Some(VERIFIER)), proof),
        )
        .unwrap();
    let rt = t.refresh_token.expect("offline_access");
    let plain = w.token(&creds, &refresh_request(&rt)).unwrap();
    assert_eq!(plain.token_type, "Bearer");
    let mut next = Prover::new(8);
    let proof = next.post(TOKEN_URL, w.now.0);
    let bound = w
        .token(
            &creds,
            &with_proof(refresh_request(&plain.refresh_token.unwrap()), proof),
        )
        .unwrap();
    assert_eq!(claims(&bound.access_token)["cnf"]["jkt"], next.jkt().as_str());
}

#[test]
fn a_client_registered_for_dpop_bound_tokens_is_refused_a_token_without_a_proof() {
    spec::covers("RFC9449-5.2-dpop-bound-access-tokens");
    let mut w = World::new(310);
    set_client_metadata(&w, "web", "dpop_bound_access_tokens", true.into());
    let req = web_code(&mut w);
    let creds = w.web_creds();
    assert_eq!(code(w.token(&creds, &req)), ErrorCode::InvalidDpopProof);
    let mut client = Prover::new(7);
    let proof = client.post(TOKEN_URL, w.now.0);
    assert_eq!(w.token(&creds, &with_proof(req, proof)).unwrap().token_type, "DPoP");
}

#[test]
fn an_rsa_key_proves_too() {
    let mut w = World::new(311);
    let req = web_code(&mut w);
    let creds = w.web_creds();
    let mut client = Prover {
        key: SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap(),
        n: 0,
    };
    let proof = client.post(TOKEN_URL, w.now.0);
    let t = w.token(&creds, &with_proof(req, proof)).unwrap();
    assert_eq!(claims(&t.access_token)["cnf"]["jkt"], client.jkt().as_str());
}
