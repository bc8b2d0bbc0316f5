//! Reading client credentials from the Authorization header and the form body (RFC 6749 §2.3).

use base64ct::{Base64, Encoding};
use engine::ClientCredentials;

/// Credential fields a form body may carry.
#[derive(Default, Debug, Clone)]
pub struct BodyCredentials {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<String>,
    /// `client_assertion`.
    pub client_assertion: Option<String>,
    /// `client_assertion_type`.
    pub client_assertion_type: Option<String>,
}

fn form_decode(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Decides how the client presented itself. A present but malformed Authorization header, or
/// credentials in two places at once, is `Invalid` (never a silent fallback to the body).
pub fn read(authorization: Option<&str>, body: &BodyCredentials) -> ClientCredentials {
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (id, secret, assertion) = (
        nonempty(&body.client_id),
        nonempty(&body.client_secret),
        nonempty(&body.client_assertion),
    );
    if let Some(h) = authorization {
        let Some(b64) = h.strip_prefix("Basic ").map(str::trim) else {
            return ClientCredentials::Invalid;
        };
        let decoded = Base64::decode_vec(b64).ok().and_then(|d| String::from_utf8(d).ok());
        let Some((raw_id, raw_secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return ClientCredentials::Invalid;
        };
        let (Some(client_id), Some(secret_h)) = (form_decode(raw_id), form_decode(raw_secret)) else {
            return ClientCredentials::Invalid;
        };
        if secret.is_some()
            || assertion.is_some()
            || id.as_ref().is_some_and(|i| *i != client_id)
            || client_id.is_empty()
        {
            return ClientCredentials::Invalid;
        }
        return ClientCredentials::Basic {
            client_id,
            secret: secret_h,
        };
    }
    if let Some(assertion) = assertion {
        if secret.is_some() {
            return ClientCredentials::Invalid;
        }
        return ClientCredentials::Assertion {
            client_id: id,
            assertion_type: nonempty(&body.client_assertion_type).unwrap_or_default(),
            assertion,
        };
    }
    match (id, secret) {
        (Some(client_id), Some(secret)) => ClientCredentials::Post { client_id, secret },
        (None, Some(_)) => ClientCredentials::Invalid,
        (Some(client_id), None) => ClientCredentials::PublicId(client_id),
        (None, None) => ClientCredentials::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(id: Option<&str>, secret: Option<&str>) -> BodyCredentials {
        BodyCredentials {
            client_id: id.map(Into::into),
            client_secret: secret.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn basic_is_form_decoded_and_conflicts_are_invalid() {
        // RFC 6749 §2.3.1: id and secret are form-url-encoded before base64.
        let h = format!("Basic {}", Base64::encode_string(b"my%20app:s%3Acret+x"));
        assert_eq!(
            read(Some(&h), &body(None, None)),
            ClientCredentials::Basic {
                client_id: "my app".into(),
                secret: "s:cret x".into()
            }
        );
        assert_eq!(read(Some(&h), &body(None, Some("x"))), ClientCredentials::Invalid);
        assert_eq!(read(Some(&h), &body(Some("other"), None)), ClientCredentials::Invalid);
        assert_eq!(
            read(Some("Basic !!!"), &body(Some("a"), Some("b"))),
            ClientCredentials::Invalid
        );
        assert_eq!(
            read(Some("Bearer abc"), &body(Some("a"), Some("b"))),
            ClientCredentials::Invalid
        );
        assert_eq!(
            read(None, &body(Some("a"), Some("b"))),
            ClientCredentials::Post {
                client_id: "a".into(),
                secret: "b".into()
            }
        );
        assert_eq!(
            read(None, &body(Some("a"), None)),
            ClientCredentials::PublicId("a".into())
        );
        assert_eq!(read(None, &body(None, Some("b"))), ClientCredentials::Invalid);
        assert_eq!(read(None, &body(None, None)), ClientCredentials::Missing);
    }
}
