//! private_key_jwt assertions: arbitrary assertions never authenticate.
//! Requirements: covers("OIDC-CORE-9-private-key-jwt").
#![no_main]
#[path = "world.rs"]
mod world;
use arbitrary::Arbitrary;
use engine::client::auth::{ClientCredentials, JWT_BEARER};
use engine::token::TokenRequest;
use engine::{Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    client_id: Option<String>,
    right_type: bool,
    assertion: String,
}

fuzz_target!(|i: Input| {
    let w = world::world();
    let engine = w.fresh();
    let mut rng = SeededRandom::new(0);
    let mut env = Env::new(UnixTime(world::NOW), &mut rng);
    let creds = ClientCredentials::Assertion {
        client_id: i.client_id,
        assertion_type: if i.right_type { JWT_BEARER.into() } else { "x".into() },
        assertion: i.assertion,
    };
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        ..Default::default()
    };
    let r = engine.handle_token(&mut env, world::T, &creds, &req);
    assert_eq!(r.map(|_| ()).unwrap_err().code(), spec::ErrorCode::InvalidClient);
});
