//! When a sign-in needs a second factor: the tenant's policy, what the request asks (`acr_values`,
//! the `claims` parameter's `acr`), and what the user has enrolled.

use super::{amr, ACR_ONE_FACTOR, ACR_TWO_FACTORS};
use serde::{Deserialize, Serialize};

/// A tenant's second-factor policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorPolicy {
    /// Password only: second factors are neither offered nor asked for.
    PasswordOnly,
    /// Users may enrol a second factor; whoever did is asked for it at each sign-in, and a
    /// request for two factors (`acr_values=2`) takes a user without one through enrolment.
    #[default]
    Optional,
    /// Every sign-in uses two factors; a user without one enrols after the password.
    Required,
}

/// How many factors a session used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// A password.
    OneFactor,
    /// A password and a one-time code.
    TwoFactors,
}

impl Level {
    /// The level a session with methods `amr` reached.
    pub fn of(methods: &[String]) -> Level {
        match methods.iter().any(|m| m == amr::MFA) {
            true => Level::TwoFactors,
            false => Level::OneFactor,
        }
    }

    fn from_acr(v: &str) -> Option<Level> {
        match v {
            ACR_ONE_FACTOR => Some(Level::OneFactor),
            ACR_TWO_FACTORS => Some(Level::TwoFactors),
            _ => None,
        }
    }
}

/// The level an authorization request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrRequest {
    /// The level.
    pub level: Level,
    /// Asked as an essential claim (OIDC Core §5.5.1.1): not met means no sign-in.
    pub essential: bool,
}

/// Why the requested `acr` cannot be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmet;

/// The level a request asks: the first value of `acr_values` this provider knows (values are in
/// order of preference, OIDC Core §3.1.2.1), and the `claims` parameter's `acr` (its `value` or
/// first known of `values`), the higher of the two. An essential `acr` naming no value this
/// provider knows cannot be met.
// OIDC-CORE-3.1.2.1-acr-values
pub fn requested(
    acr_values: Option<&str>,
    claim: Option<&crate::authorize::claims_request::AcrClaim>,
) -> Result<Option<AcrRequest>, Unmet> {
    let voluntary = acr_values
        .and_then(|v| v.split(' ').find_map(Level::from_acr))
        .map(|level| AcrRequest {
            level,
            essential: false,
        });
    let claimed = match claim {
        None => None,
        Some(c) => match c.values.iter().find_map(|v| Level::from_acr(v)) {
            Some(level) => Some(AcrRequest {
                level,
                essential: c.essential,
            }),
            None if c.essential && !c.values.is_empty() => return Err(Unmet),
            None => None,
        },
    };
    Ok(match (voluntary, claimed) {
        (Some(a), Some(b)) if a.level > b.level => Some(a),
        (a, Some(b)) => Some(AcrRequest {
            level: b.level.max(a.map_or(b.level, |a| a.level)),
            essential: b.essential,
        }),
        (a, None) => a,
    })
}

/// What a sign-in needs after what the session has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorDue {
    /// Nothing more.
    Nothing,
    /// The user's second factor.
    Verify,
    /// The user has none and needs one: enrol an authenticator app.
    Enrol,
    /// Two factors were asked as essential, and the tenant has none to offer.
    Unmet,
}

/// What a session at `has` of a user with (`enrolled`) or without a second factor still needs,
/// under `policy` and what the request asks.
// MFA-policy
pub fn due(policy: SecondFactorPolicy, enrolled: bool, has: Level, asked: Option<AcrRequest>) -> FactorDue {
    if has == Level::TwoFactors {
        return FactorDue::Nothing;
    }
    let asked_two = asked.is_some_and(|a| a.level == Level::TwoFactors);
    match policy {
        SecondFactorPolicy::PasswordOnly => match asked {
            Some(a) if a.level == Level::TwoFactors && a.essential => FactorDue::Unmet,
            _ => FactorDue::Nothing,
        },
        SecondFactorPolicy::Optional | SecondFactorPolicy::Required if enrolled => FactorDue::Verify,
        SecondFactorPolicy::Required => FactorDue::Enrol,
        SecondFactorPolicy::Optional if asked_two => FactorDue::Enrol,
        SecondFactorPolicy::Optional => FactorDue::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::claims_request::AcrClaim;

    fn claim(essential: bool, values: &[&str]) -> AcrClaim {
        AcrClaim {
            essential,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn the_first_known_acr_value_is_the_one_asked() {
        let two = Some(AcrRequest {
            level: Level::TwoFactors,
            essential: false,
        });
        assert_eq!(requested(Some("urn:x 2 1"), None), Ok(two));
        assert_eq!(requested(Some("1 2"), None).unwrap().unwrap().level, Level::OneFactor);
        assert_eq!(requested(Some("urn:mace:incommon:iap:silver"), None), Ok(None));
        assert_eq!(requested(None, None), Ok(None));
    }

    #[test]
    fn an_essential_acr_claim_nobody_knows_is_unmet() {
        assert_eq!(requested(None, Some(&claim(true, &["urn:x"]))), Err(Unmet));
        assert_eq!(requested(None, Some(&claim(false, &["urn:x"]))), Ok(None));
        let r = requested(Some("1"), Some(&claim(true, &["urn:x", "2"])))
            .unwrap()
            .unwrap();
        assert_eq!((r.level, r.essential), (Level::TwoFactors, true));
    }

    #[test]
    fn policy_decides_who_is_asked() {
        use FactorDue::*;
        use SecondFactorPolicy::*;
        let two = Some(AcrRequest {
            level: Level::TwoFactors,
            essential: true,
        });
        assert_eq!(due(Optional, false, Level::OneFactor, None), Nothing);
        assert_eq!(due(Optional, true, Level::OneFactor, None), Verify);
        assert_eq!(due(Optional, false, Level::OneFactor, two), Enrol);
        assert_eq!(due(Required, false, Level::OneFactor, None), Enrol);
        assert_eq!(due(Required, true, Level::OneFactor, None), Verify);
        assert_eq!(due(Required, true, Level::TwoFactors, two), Nothing);
        assert_eq!(due(PasswordOnly, true, Level::OneFactor, None), Nothing);
        assert_eq!(due(PasswordOnly, true, Level::OneFactor, two), Unmet);
    }
}
