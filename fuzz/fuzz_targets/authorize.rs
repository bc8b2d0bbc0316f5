//! The authorization endpoint on arbitrary query strings: never a panic, and a redirect only ever
//! goes to a registered redirect URI.
//! Requirements: covers("RFC6749-4.1.2.1-no-redirect-untrusted").
#![no_main]
#[path = "world.rs"]
mod world;
use engine::{AuthorizationRequest, AuthorizeOutcome, Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(map) = adapter_http::params::parse(data, &[]) else {
        return;
    };
    let req: AuthorizationRequest = serde_json::to_value(&map)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    let w = world::world();
    let engine = w.fresh();
    let mut rng = SeededRandom::new(data.len() as u64);
    let mut env = Env::new(UnixTime(world::NOW), &mut rng);
    let session = map.get("session").map(String::as_str);
    if let AuthorizeOutcome::Redirect(r) = engine.handle_authorize(&mut env, world::T, &req, session) {
        assert!(
            world::CLIENTS.iter().any(|(_, uri)| *uri == r.target.uri()),
            "redirect to {}",
            r.target.uri()
        );
        let _ = r.location();
    }
});
