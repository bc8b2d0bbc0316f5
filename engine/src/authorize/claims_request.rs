//! Individual claims asked for with the `claims` parameter (OIDC Core §5.5): which standard
//! claims go into UserInfo and which into the ID token, on top of what the scopes release.

use crate::user::{scope_claims, UserRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use spec::vocabulary::scopes;

/// The longest `claims` parameter accepted, bytes.
pub const MAX_LEN: usize = 4096;

/// Claim names requested for each place (names of standard user claims only; others are
/// ignored, as §5.5 allows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    /// For the UserInfo response.
    #[serde(default)]
    pub userinfo: Vec<String>,
    /// For the ID token.
    #[serde(default)]
    pub id_token: Vec<String>,
    /// The ID token's `acr`, when asked for with a value or values (OIDC Core §5.5.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<AcrClaim>,
}

/// The `acr` member of the `claims` parameter's `id_token`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrClaim {
    /// `essential`.
    pub essential: bool,
    /// `value`, or `values` in order of preference.
    pub values: Vec<String>,
}

impl AcrClaim {
    /// The member as sent: `null` or `{essential, value, values}`; `None` when no value is named.
    fn parse(member: &Value) -> Option<AcrClaim> {
        let m = member.as_object()?;
        let strings = |v: &Value| v.as_str().map(|s| s.chars().take(256).collect::<String>());
        let mut values: Vec<String> = m.get("value").and_then(strings).into_iter().collect();
        if let Some(Value::Array(vs)) = m.get("values") {
            values.extend(vs.iter().take(16).filter_map(strings));
        }
        let essential = m.get("essential").and_then(Value::as_bool).unwrap_or(false);
        (!values.is_empty()).then_some(AcrClaim { essential, values })
    }
}

/// Standard claims the parameter may ask for individually.
const REQUESTABLE: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "picture",
    "locale",
    "updated_at",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];

impl RequestedClaims {
    /// Parses the parameter; `None` when it is not the JSON §5.5 describes.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_LEN {
            return None;
        }
        let Value::Object(top) = serde_json::from_str::<Value>(text).ok()? else {
            return None;
        };
        let mut out = RequestedClaims::default();
        for (place, members) in &top {
            let names = match members {
                Value::Object(m) => m,
                Value::Null => continue,
                _ => return None,
            };
            // Each member is null or an object with essential / value / values.
            if names.values().any(|v| !(v.is_null() || v.is_object())) {
                return None;
            }
            let kept: Vec<String> = names
                .keys()
                .filter(|n| REQUESTABLE.contains(&n.as_str()))
                .cloned()
                .collect();
            match place.as_str() {
                "userinfo" => out.userinfo = kept,
                "id_token" => {
                    out.acr = names.get("acr").and_then(AcrClaim::parse);
                    out.id_token = kept;
                }
                _ => {}
            }
        }
        Some(out)
    }

    /// Whether nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty() && self.acr.is_none()
    }
}

/// The values of `names` that `user` has.
pub fn named_claims(user: &UserRecord, names: &[String]) -> Map<String, Value> {
    if names.is_empty() {
        return Map::new();
    }
    let all: Vec<String> = [scopes::PROFILE, scopes::EMAIL, scopes::ADDRESS, scopes::PHONE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    scope_claims(user, &all)
        .into_iter()
        .filter(|(k, _)| names.contains(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_userinfo_and_id_token_members_and_refuses_other_shapes() {
        spec::covers("OIDC-CORE-5.5-claims-parameter");
        let r = RequestedClaims::parse(
            r#"{"userinfo":{"name":{"essential":true},"nickname":null},"id_token":{"email":null,"acr":{"values":["1"]}}}"#,
        )
        .unwrap();
        assert_eq!(r.userinfo, vec!["name"]);
        assert_eq!(r.id_token, vec!["email"]);
        for bad in [
            "[]",
            "\"x\"",
            r#"{"userinfo":[]}"#,
            r#"{"userinfo":{"name":true}}"#,
            "{",
        ] {
            assert!(RequestedClaims::parse(bad).is_none(), "{bad}");
        }
        assert!(RequestedClaims::parse(&format!("{{\"userinfo\":{{\"{}\":null}}}}", "a".repeat(5000))).is_none());
        assert!(RequestedClaims::parse("{}").unwrap().is_empty());
    }
}
