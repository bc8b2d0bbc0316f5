//! `response_type` (OAuth 2.0 Multiple Response Types, OIDC Core §3): `code` for every client;
//! the implicit (`id_token`, `id_token token`) and hybrid (`code id_token`, `code token`,
//! `code id_token token`) types only for a client registered for them, and answered in the
//! fragment by default, never in the query.

use serde::{Deserialize, Serialize};

/// What the authorization endpoint returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResponseType {
    /// An authorization code.
    pub code: bool,
    /// An ID token.
    pub id_token: bool,
    /// An access token.
    pub token: bool,
}

impl Default for ResponseType {
    fn default() -> Self {
        ResponseType::CODE
    }
}

/// Every response type the provider supports, as discovery lists them.
pub const SUPPORTED: [&str; 6] = [
    "code",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
];

impl ResponseType {
    /// `code`.
    pub const CODE: ResponseType = ResponseType {
        code: true,
        id_token: false,
        token: false,
    };

    /// Parses a space-separated set in any order; `None` for anything not in [`SUPPORTED`]
    /// (`token` alone, the OAuth 2.0 implicit grant, is not: OAuth 2.1 and RFC 9700 §2.1.2).
    pub fn parse(s: &str) -> Option<Self> {
        let mut rt = ResponseType {
            code: false,
            id_token: false,
            token: false,
        };
        for part in s.split(' ') {
            let slot = match part {
                "code" => &mut rt.code,
                "id_token" => &mut rt.id_token,
                "token" => &mut rt.token,
                _ => return None,
            };
            if *slot {
                return None;
            }
            *slot = true;
        }
        SUPPORTED.contains(&rt.as_str()).then_some(rt)
    }

    /// The canonical spelling (`code id_token token` order).
    pub fn as_str(self) -> &'static str {
        match (self.code, self.id_token, self.token) {
            (true, false, false) => "code",
            (false, true, false) => "id_token",
            (false, true, true) => "id_token token",
            (true, true, false) => "code id_token",
            (true, false, true) => "code token",
            (true, true, true) => "code id_token token",
            (false, false, true) => "token",
            (false, false, false) => "",
        }
    }

    /// Whether tokens travel through the browser (anything but `code`): fragment by default.
    pub fn front_channel(self) -> bool {
        self.id_token || self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_order_once_each_and_only_the_supported_sets() {
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::CODE));
        let hybrid = ResponseType::parse("token id_token code").unwrap();
        assert_eq!(hybrid.as_str(), "code id_token token");
        assert!(hybrid.front_channel() && !ResponseType::CODE.front_channel());
        for bad in ["token", "", "code code", "code  token", "none", "code none", "Code"] {
            assert_eq!(ResponseType::parse(bad), None, "{bad:?}");
        }
        for s in SUPPORTED {
            assert_eq!(ResponseType::parse(s).map(|r| r.as_str()), Some(s));
        }
    }
}
