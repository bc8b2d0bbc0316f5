//! Pushed authorization request bodies (RFC 9126): arbitrary form bodies as the PAR endpoint
//! deserializes them, pushed by the web client. Never a panic; a pushed request, when accepted,
//! signs in only to a registered redirect URI and is taken once.
//! Requirements: covers("RFC9126-2.2-request-uri-one-time").
#![no_main]
#[path = "world.rs"]
mod world;
use adapter_http::api::par::ParForm;
use engine::{AuthorizationRequest, AuthorizeOutcome, Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = serde_urlencoded::from_bytes::<ParForm>(data) else {
        return;
    };
    let w = world::world();
    let engine = w.fresh();
    let mut rng = SeededRandom::new(data.len() as u64);
    let mut env = Env::new(UnixTime(world::NOW), &mut rng);
    let Ok(pushed) = engine.handle_par(&mut env, world::T, &w.creds(0), &form.request()) else {
        return;
    };
    assert!(pushed
        .request_uri
        .starts_with(engine::authorize::pushed::REQUEST_URI_PREFIX));
    let by_uri = AuthorizationRequest {
        client_id: Some("web".into()),
        request_uri: Some(pushed.request_uri.clone()),
        ..Default::default()
    };
    let first = engine.handle_authorize(&mut env, world::T, &by_uri, None);
    assert!(
        !matches!(first, AuthorizeOutcome::ErrorPage(_)),
        "an accepted push is usable once: {first:?}"
    );
    if let AuthorizeOutcome::Redirect(r) = &first {
        assert_eq!(r.target.uri(), world::CLIENTS[0].1);
    }
    let again = engine.handle_authorize(&mut env, world::T, &by_uri, None);
    assert!(
        matches!(again, AuthorizeOutcome::ErrorPage(_)),
        "a request_uri used twice: {again:?}"
    );
});
