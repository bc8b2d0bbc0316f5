//! Redirect targets: the only way to obtain one is an exact match against a registered URI,
//! so only a validated URI can ever receive a redirect (no open redirect).

use crate::client::ClientRecord;
use spec::ResponseMode;

/// A redirect URI proven to be registered for the client. Only [`check_redirect_uri`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectTarget {
    uri: String,
}

impl RedirectTarget {
    /// The registered URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }
}

/// Exact, character-for-character match of `uri` against the client's registered redirect URIs.
pub fn check_redirect_uri(client: &ClientRecord, uri: &str) -> Option<RedirectTarget> {
    client
        .redirect_uris
        .iter()
        .any(|r| r == uri)
        .then(|| RedirectTarget { uri: uri.to_string() })
}

/// Exact match against the client's registered post-logout redirect URIs.
pub fn check_post_logout_uri(client: &ClientRecord, uri: &str) -> Option<RedirectTarget> {
    client
        .post_logout_redirect_uris
        .iter()
        .any(|r| r == uri)
        .then(|| RedirectTarget { uri: uri.to_string() })
}

/// Parameters to deliver to a redirect target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectResponse {
    /// Where to send the user agent.
    pub target: RedirectTarget,
    /// How to send the parameters.
    pub mode: ResponseMode,
    /// The parameters, in order.
    pub params: Vec<(String, String)>,
}

impl RedirectResponse {
    /// Looks a parameter up.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The URL to redirect to for query and fragment modes (form_post posts to `target.uri()` instead).
    pub fn location(&self) -> String {
        let mut url = url::Url::parse(self.target.uri()).expect("registered redirect URIs are absolute URLs");
        match self.mode {
            ResponseMode::Fragment => {
                let frag = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.params)
                    .finish();
                url.set_fragment(Some(&frag));
            }
            ResponseMode::Query | ResponseMode::FormPost => {
                if !self.params.is_empty() {
                    url.query_pairs_mut().extend_pairs(&self.params);
                }
            }
        }
        url.to_string()
    }
}
