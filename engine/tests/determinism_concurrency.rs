//! Same inputs give byte-identical outputs; concurrent redemption has exactly one winner.

mod common;
use common::*;
use engine::{Env, SeededRandom};
use spec::ErrorCode;
use std::sync::{Arc, Barrier};

fn run_flow(seed: u64) -> (String, Vec<(engine::store::Table, String, Vec<u8>)>) {
    let mut w = World::new(seed);
    let (t, session) = w.web_tokens("openid profile email");
    w.advance(5);
    let creds = w.web_creds();
    let r = w
        .token(&creds, &refresh_request(t.refresh_token.as_ref().unwrap()))
        .unwrap();
    let u = w.userinfo(&r.access_token).unwrap();
    let out = serde_json::json!({"first": serde_json::to_value(&t).unwrap(), "refreshed": serde_json::to_value(&r).unwrap(), "userinfo": u, "session": session});
    (out.to_string(), w.engine.store().snapshot())
}

#[test]
fn a_full_flow_is_byte_identical_for_the_same_seed() {
    spec::covers("ENGINE-deterministic");
    let (a, store_a) = run_flow(99);
    let (b, store_b) = run_flow(99);
    assert_eq!(a, b);
    assert_eq!(store_a, store_b);
    let (c, _) = run_flow(100);
    assert_ne!(a, c, "a different seed gives different secrets");
}

const THREADS: usize = 8;

#[test]
fn concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    spec::covers("RFC6749-4.1.2-code-single-use");
    let mut w = World::new(80);
    let (code, _) = w.code_for(&web_request(), None);
    let creds = w.web_creds();
    let now = w.now;
    let engine = Arc::new(w.engine);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (engine, barrier, code, creds) = (engine.clone(), barrier.clone(), code.clone(), creds.clone());
            std::thread::spawn(move || {
                let mut rng = SeededRandom::new(1000 + i as u64);
                barrier.wait();
                let mut env = Env::new(now, &mut rng);
                engine.handle_token(&mut env, T, &creds, &code_exchange(&code, WEB_CB, Some(VERIFIER)))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.code() == ErrorCode::InvalidGrant));
    // The losers were replays: the winner's tokens are revoked too.
    let winner = results.into_iter().find_map(|r| r.ok()).unwrap();
    let mut rng = SeededRandom::new(1);
    let mut env = Env::new(now, &mut rng);
    assert!(
        !engine
            .handle_introspect(&mut env, T, &creds, &winner.access_token)
            .unwrap()
            .active
    );
}

#[test]
fn concurrent_refreshes_of_one_token_have_at_most_one_winner_and_trip_reuse_detection() {
    spec::covers("RFC9700-4.14.2-refresh-reuse");
    let mut w = World::new(81);
    let (t, _) = w.web_tokens("openid");
    let rt = t.refresh_token.unwrap();
    let creds = w.web_creds();
    let now = w.now;
    let engine = Arc::new(w.engine);
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (engine, barrier, rt, creds) = (engine.clone(), barrier.clone(), rt.clone(), creds.clone());
            std::thread::spawn(move || {
                let mut rng = SeededRandom::new(2000 + i as u64);
                barrier.wait();
                let mut env = Env::new(now, &mut rng);
                engine.handle_token(&mut env, T, &creds, &refresh_request(&rt))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1);
    let mut rng = SeededRandom::new(1);
    let mut env = Env::new(now, &mut rng);
    let next = wins[0].refresh_token.as_ref().unwrap();
    assert!(
        !engine.handle_introspect(&mut env, T, &creds, next).unwrap().active,
        "reuse by the losers revoked the family"
    );
}
