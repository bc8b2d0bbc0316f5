//! Client registration metadata validation.
#![no_main]
use engine::client::{build_client, check_client_spec, valid_redirect_uri, ClientSpec};
use engine::{Env, SeededRandom, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<ClientSpec>(data) else {
        return;
    };
    let verdict = check_client_spec(&spec);
    let mut rng = SeededRandom::new(0);
    let mut env = Env::new(UnixTime(0), &mut rng);
    match build_client(&mut env, "t", spec.clone()) {
        Ok((client, secret)) => {
            assert!(verdict.is_ok());
            assert!(client.redirect_uris.iter().all(|u| valid_redirect_uri(u)));
            assert_eq!(secret.is_some(), client.auth_method.uses_secret());
        }
        Err(e) => {
            assert!(verdict.is_err());
            assert!(matches!(
                e.code(),
                spec::ErrorCode::InvalidClientMetadata | spec::ErrorCode::InvalidRedirectUri
            ));
        }
    }
});
