//! The token, introspection and revocation form bodies as the API deserializes them.
#![no_main]
use adapter_http::api::{TokenForm, TokenManagementForm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_urlencoded::from_bytes::<TokenForm>(data);
    let _ = serde_urlencoded::from_bytes::<TokenManagementForm>(data);
});
