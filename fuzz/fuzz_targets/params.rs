//! Query and form parsing of the authorize, login, consent and end-session endpoints.
#![no_main]
use adapter_http::params::{parse, ParamError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let single = ["client_id", "redirect_uri", "state", "scope"];
    match parse(data, &single) {
        Ok(map) => {
            assert!(data.len() <= adapter_http::params::MAX_PARAMS_BYTES);
            // Every key came from the input, and parsing again gives the same answer.
            assert_eq!(parse(data, &single), Ok(map));
        }
        Err(ParamError::TooLarge) => assert!(data.len() > adapter_http::params::MAX_PARAMS_BYTES),
        Err(ParamError::Duplicate(k)) => assert!(single.contains(&k.as_str())),
        Err(ParamError::BadEncoding) => {}
    }
});
