//! Request objects and the claims parameter on arbitrary input: the bytes are the object (as given,
//! and as the payload of an unsigned JWT), by value and by reference, with a claims parameter. Never
//! a panic, and a redirect only ever goes to a registered redirect URI, whatever the object says.
//! Requirements: covers("OIDC-CORE-6-request-object").
#![no_main]
#[path = "world.rs"]
mod world;
use engine::secret::b64url;
use engine::{AuthorizationRequest, AuthorizeOutcome, Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let (claims, object) = text.split_once('\n').unwrap_or(("", text.as_str()));
    let (client_id, redirect) = world::CLIENTS[data.len() % world::CLIENTS.len()];
    let unsigned = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(object.as_bytes()));
    let base = AuthorizationRequest {
        client_id: Some(client_id.into()),
        redirect_uri: Some(redirect.into()),
        response_type: Some("code".into()),
        scope: Some("openid".into()),
        state: Some("s".into()),
        code_challenge: Some(engine::authorize::pkce::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
        code_challenge_method: Some("S256".into()),
        claims: Some(claims.to_string()),
        ..Default::default()
    };
    let by_value = |o: &str| AuthorizationRequest {
        request: Some(o.to_string()),
        ..base.clone()
    };
    let by_reference = |o: &str| AuthorizationRequest {
        request_uri: Some("https://rp.example/ro.jwt".into()),
        request_uri_document: Some(Ok(o.to_string())),
        ..base.clone()
    };
    let w = world::world();
    let engine = w.fresh();
    let mut rng = SeededRandom::new(data.len() as u64);
    for req in [by_value(object), by_value(&unsigned), by_reference(&unsigned)] {
        let mut env = Env::new(UnixTime(world::NOW), &mut rng);
        if let AuthorizeOutcome::Redirect(r) = engine.handle_authorize(&mut env, world::T, &req, None) {
            assert!(
                world::CLIENTS.iter().any(|(_, uri)| *uri == r.target.uri()),
                "redirect to {}",
                r.target.uri()
            );
            let _ = r.location();
        }
    }
});
