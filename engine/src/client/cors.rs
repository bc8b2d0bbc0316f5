//! Which browser origins may call the token, UserInfo, introspection and revocation endpoints from
//! script (CORS, for single-page apps that are public clients): the origins of the redirect URIs
//! of the tenant's active clients. A page on any other origin gets no CORS grant.

use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::error::Result;
use crate::store::{decode, Record, Store};
use std::collections::BTreeSet;

/// The origin (`scheme://host[:port]`, default port left out) of an absolute http(s) URI.
pub fn origin_of(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

impl<S: Store> Engine<S> {
    /// The origins of the redirect URIs of `tenant`'s active clients.
    // CORS-client-origins
    pub fn cors_origins(&self, tenant: &str) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for (_, bytes) in self.store.scan(ClientRecord::TABLE, &format!("{tenant}/"))? {
            let client = decode::<ClientRecord>(&bytes)?;
            if client.active {
                out.extend(client.redirect_uris.iter().filter_map(|u| origin_of(u)));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_non_default_port() {
        assert_eq!(
            origin_of("http://localhost:5173/callback").as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(
            origin_of("https://app.example.com/cb?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("https://app.example.com:443/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("HTTPS://App.Example.com/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(origin_of("com.example.app:/callback"), None);
        assert_eq!(origin_of("not a url"), None);
    }
}
