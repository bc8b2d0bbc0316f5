//! Authorization header (Basic) and body credential parsing.
#![no_main]
use adapter_http::client_credentials::{read, BodyCredentials};
use arbitrary::Arbitrary;
use engine::ClientCredentials;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    header: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    assertion: Option<String>,
    assertion_type: Option<String>,
}

fuzz_target!(|i: Input| {
    let body = BodyCredentials {
        client_id: i.client_id.clone(),
        client_secret: i.client_secret.clone(),
        client_assertion: i.assertion.clone(),
        client_assertion_type: i.assertion_type,
    };
    match read(i.header.as_deref(), &body) {
        // A header never silently falls back to body credentials.
        ClientCredentials::Post { .. }
        | ClientCredentials::PublicId(_)
        | ClientCredentials::Missing
        | ClientCredentials::Assertion { .. } => {
            assert!(i.header.is_none())
        }
        ClientCredentials::Basic { client_id, .. } => {
            assert!(!client_id.is_empty());
            assert!(
                i.client_secret.as_deref().unwrap_or("").is_empty() && i.assertion.as_deref().unwrap_or("").is_empty()
            );
        }
        ClientCredentials::Invalid => {}
    }
});
