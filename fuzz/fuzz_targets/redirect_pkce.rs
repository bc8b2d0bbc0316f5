//! Redirect URI validation and exact matching; PKCE verifier/challenge.
//! Requirements: covers("RFC6749-3.1.2.3-redirect-exact-match"), covers("RFC7636-4.6-s256-verify").
#![no_main]
use arbitrary::Arbitrary;
use engine::client::{build_client, valid_redirect_uri, ClientSpec};
use engine::authorize::redirect::check_redirect_uri;
use engine::authorize::pkce;
use engine::{Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    registered: String,
    candidate: String,
    verifier: String,
    challenge: String,
}

fuzz_target!(|i: Input| {
    let _ = valid_redirect_uri(&i.candidate);
    if valid_redirect_uri(&i.registered) {
        let mut rng = SeededRandom::new(0);
        let mut env = Env::new(UnixTime(0), &mut rng);
        let spec = ClientSpec::new("c", spec::ClientAuthMethod::ClientSecretBasic, &[i.registered.as_str()]);
        if let Ok((client, _)) = build_client(&mut env, "t", spec) {
            let matched = check_redirect_uri(&client, &i.candidate).is_some();
            assert_eq!(matched, i.candidate == i.registered);
        }
    }
    if pkce::verify(&i.verifier, &i.challenge) {
        assert_eq!(pkce::s256(&i.verifier), i.challenge);
        assert!(pkce::valid_verifier(&i.verifier));
    }
    let _ = pkce::valid_challenge(&i.challenge);
});
