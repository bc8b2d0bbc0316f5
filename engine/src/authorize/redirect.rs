//! Redirect targets: the only way to obtain one is an exact match against a registered URI,
//! so only a validated URI can ever receive a redirect (no open redirect).

use crate::client::{valid_redirect_uri, ClientRecord};
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
/// A registered string that today's registration rules refuse (stored by an older version) is
/// never a target.
pub fn check_redirect_uri(client: &ClientRecord, uri: &str) -> Option<RedirectTarget> {
    client
        .redirect_uris
        .iter()
        .any(|r| r == uri && valid_redirect_uri(r))
        .then(|| RedirectTarget { uri: uri.to_string() })
}

/// The `lenient_redirect` mutant: prefix matching (the classic open-redirect bug).
#[cfg(feature = "mutants")]
pub(crate) fn check_redirect_uri_by_prefix(client: &ClientRecord, uri: &str) -> Option<RedirectTarget> {
    client
        .redirect_uris
        .iter()
        .any(|r| uri.starts_with(r.as_str()))
        .then(|| RedirectTarget { uri: uri.to_string() })
}

/// Exact match against the client's registered post-logout redirect URIs.
pub fn check_post_logout_uri(client: &ClientRecord, uri: &str) -> Option<RedirectTarget> {
    client
        .post_logout_redirect_uris
        .iter()
        .any(|r| r == uri && valid_redirect_uri(r))
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
    /// JARM: the client the parameters are signed for, as one `response` JWT (`*.jwt` response
    /// modes). The engine signs them before it answers; an answer never leaves with this set.
    pub signed_for: Option<String>,
}

impl RedirectResponse {
    /// Looks a parameter up.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The URL to redirect to for query and fragment modes (form_post posts to `target.uri()` instead):
    /// the registered string exactly as registered, with the parameters appended.
    pub fn location(&self) -> String {
        let uri = self.target.uri();
        let params = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.params)
            .finish();
        if params.is_empty() {
            return uri.to_string();
        }
        match self.mode {
            ResponseMode::Fragment => format!("{uri}#{params}"),
            ResponseMode::Query | ResponseMode::FormPost if uri.ends_with('?') => format!("{uri}{params}"),
            ResponseMode::Query | ResponseMode::FormPost if uri.contains('?') => format!("{uri}&{params}"),
            ResponseMode::Query | ResponseMode::FormPost => format!("{uri}?{params}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientSpec;
    use crate::env::{Env, SeededRandom, UnixTime};
    use quickcheck::quickcheck;

    fn client_with(uris: &[&str]) -> ClientRecord {
        let mut rng = SeededRandom::new(1);
        let mut env = Env::new(UnixTime(0), &mut rng);
        let spec = ClientSpec::new("c", spec::ClientAuthMethod::ClientSecretBasic, uris);
        crate::client::build_client(&mut env, "t", spec).unwrap().0
    }

    quickcheck! {
        /// A URI is accepted exactly when it equals a registered one, whatever is appended, cut or changed.
        fn matching_is_exact(path: String, suffix: String, cut: usize) -> bool {
            spec::covers("RFC6749-3.1.2.3-redirect-exact-match");
            let path: String = path.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect();
            let registered = format!("https://app.example.com/{path}");
            let client = client_with(&[&registered]);
            let exact = check_redirect_uri(&client, &registered).map(|t| t.uri().to_string()) == Some(registered.clone());
            let longer = format!("{registered}{suffix}");
            let extended_ok = check_redirect_uri(&client, &longer).is_some() == suffix.is_empty();
            let shorter = &registered[..registered.len().saturating_sub(cut % 5 + 1)];
            let cut_refused = check_redirect_uri(&client, shorter).is_none();
            let upper = check_redirect_uri(&client, &registered.to_uppercase()).is_none();
            exact && extended_ok && cut_refused && upper
        }
    }

    #[test]
    fn query_and_fragment_locations_keep_registered_query() {
        let client = client_with(&["https://app.example.com/cb?tenant=a"]);
        let target = check_redirect_uri(&client, "https://app.example.com/cb?tenant=a").unwrap();
        let params = vec![("code".to_string(), "c&d".to_string()), ("state".into(), "s t".into())];
        let q = RedirectResponse {
            target: target.clone(),
            mode: ResponseMode::Query,
            params: params.clone(),
            signed_for: None,
        };
        assert_eq!(q.location(), "https://app.example.com/cb?tenant=a&code=c%26d&state=s+t");
        let f = RedirectResponse {
            target,
            mode: ResponseMode::Fragment,
            params,
            signed_for: None,
        };
        assert_eq!(f.location(), "https://app.example.com/cb?tenant=a#code=c%26d&state=s+t");
        // An empty path stays empty: the redirect goes to the registered string, not a rewrite of it.
        let bare = client_with(&["https://app.example.com"]);
        let q = RedirectResponse {
            target: check_redirect_uri(&bare, "https://app.example.com").unwrap(),
            mode: ResponseMode::Query,
            params: vec![("code".to_string(), "c".to_string())],
            signed_for: None,
        };
        assert_eq!(q.location(), "https://app.example.com?code=c");
    }

    #[test]
    fn a_stored_uri_that_registration_now_refuses_is_never_a_target() {
        let mut client = client_with(&["https://app.example.com/cb"]);
        client.redirect_uris.push("https://app.example.com/c\nb".into());
        client
            .post_logout_redirect_uris
            .push("https://user:pw@app.example.com/".into());
        assert!(check_redirect_uri(&client, "https://app.example.com/c\nb").is_none());
        assert!(check_post_logout_uri(&client, "https://user:pw@app.example.com/").is_none());
        assert!(check_redirect_uri(&client, "https://app.example.com/cb").is_some());
    }
}
