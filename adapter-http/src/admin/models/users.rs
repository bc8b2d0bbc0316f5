//! User bodies: a user, its creation or changes, its password, sessions and consents.

use engine::admin::{SecondFactorInfo, SessionInfo, UserPatch};
use engine::{UserProfile, UserRecord};
use poem_openapi::types::Example;
use poem_openapi::Object;
use serde_json::Value;

/// A user's membership of an organization.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct MembershipBody {
    /// Organization id.
    pub organization_id: String,
    /// Role in it.
    pub role: String,
}

/// A user (never the password).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct User {
    /// Stable id (`sub`).
    pub id: String,
    /// Login name.
    pub username: String,
    /// Email.
    pub email: Option<String>,
    /// Email verified.
    pub email_verified: bool,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Phone verified.
    pub phone_number_verified: bool,
    /// Postal address (OIDC Core §5.1.1).
    pub address: Option<Value>,
    /// Primary organization.
    pub organization_id: Option<String>,
    /// Memberships.
    pub organization_memberships: Vec<MembershipBody>,
    /// Platform user type.
    pub user_type: Option<String>,
    /// Platform permissions.
    pub permissions: Vec<String>,
    /// Apps (client ids) licensed to the user.
    pub app_licenses: Vec<String>,
    /// Whether the user has a password (invited users have none until one is set).
    pub has_password: bool,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Last profile change (seconds).
    pub updated_at: u64,
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
        let p = u.profile;
        User {
            id: u.id,
            username: p.username,
            email: p.email,
            email_verified: p.email_verified,
            name: p.name,
            given_name: p.given_name,
            family_name: p.family_name,
            picture: p.picture,
            locale: p.locale,
            phone_number: p.phone_number,
            phone_number_verified: p.phone_number_verified,
            address: p.address.and_then(|a| serde_json::to_value(a).ok()),
            organization_id: p.organization_id,
            organization_memberships: p
                .organization_memberships
                .into_iter()
                .map(|m| MembershipBody {
                    organization_id: m.organization_id,
                    role: m.role,
                })
                .collect(),
            user_type: p.user_type,
            permissions: p.permissions,
            app_licenses: u.app_licenses.into_iter().collect(),
            has_password: !u.password_hash.is_empty(),
            disabled: u.disabled,
            updated_at: u.updated_at,
        }
    }
}

impl Example for User {
    fn example() -> Self {
        User {
            id: "01925f3a9c0e4b7d8f21a3b4c5d6e7f8".into(),
            username: "jane".into(),
            email: Some("jane@school.com".into()),
            email_verified: true,
            name: Some("Jane Smith".into()),
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            picture: None,
            locale: None,
            phone_number: None,
            phone_number_verified: false,
            address: None,
            organization_id: Some("7c1d…".into()),
            organization_memberships: vec![MembershipBody {
                organization_id: "7c1d…".into(),
                role: "teacher".into(),
            }],
            user_type: Some("customer_admin".into()),
            permissions: vec!["org:users:read".into()],
            app_licenses: vec!["partners-portal".into()],
            has_password: true,
            disabled: false,
            updated_at: 1_750_000_000,
        }
    }
}

/// A user to create, or profile changes (absent fields are kept).
#[derive(Object, Clone, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct UserInput {
    /// Login name (required on create).
    pub username: Option<String>,
    /// Password (create only; 8-1024 characters). Without one the user cannot log in yet.
    pub password: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Email verified.
    pub email_verified: Option<bool>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Phone.
    pub phone_number: Option<String>,
    /// Phone verified.
    pub phone_number_verified: Option<bool>,
    /// Postal address.
    pub address: Option<Value>,
    /// Primary organization.
    pub organization_id: Option<String>,
    /// Platform user type.
    pub user_type: Option<String>,
    /// Platform permissions.
    pub permissions: Option<Vec<String>>,
}

impl Example for UserInput {
    fn example() -> Self {
        UserInput {
            username: Some("jane".into()),
            password: Some("correct horse battery staple".into()),
            email: Some("jane@school.com".into()),
            email_verified: Some(true),
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            name: Some("Jane Smith".into()),
            ..Default::default()
        }
    }
}

impl UserInput {
    /// The profile changes; `Err` names a field with the wrong shape.
    pub fn into_patch(self) -> Result<(UserPatch, Option<String>), &'static str> {
        let address = match self.address {
            None => None,
            Some(a) => Some(serde_json::from_value(a).map_err(|_| "address must be an OIDC address object")?),
        };
        Ok((
            UserPatch {
                username: self.username,
                email: self.email,
                email_verified: self.email_verified,
                name: self.name,
                given_name: self.given_name,
                family_name: self.family_name,
                picture: self.picture,
                locale: self.locale,
                phone_number: self.phone_number,
                phone_number_verified: self.phone_number_verified,
                address,
                organization_id: self.organization_id,
                user_type: self.user_type,
                permissions: self.permissions,
            },
            self.password,
        ))
    }

    /// The profile of a new user.
    pub fn into_profile(self) -> Result<(UserProfile, Option<String>), &'static str> {
        let (patch, password) = self.into_patch()?;
        let mut p = UserProfile {
            username: patch.username.clone().unwrap_or_default(),
            ..Default::default()
        };
        let v = serde_json::to_value(&patch).map_err(|_| "unreadable profile")?;
        let mut base = serde_json::to_value(&p).map_err(|_| "unreadable profile")?;
        if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
            for (k, val) in o {
                if !val.is_null() {
                    b.insert(k.clone(), val.clone());
                }
            }
        }
        p = serde_json::from_value(base).map_err(|_| "a profile field has the wrong shape")?;
        Ok((p, password))
    }
}

/// A new password.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct PasswordBody {
    /// 8-1024 characters.
    pub password: String,
}

/// A browser session.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Session {
    /// Session id (`sid` claim).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: u64,
    /// When it expires.
    pub expires_at: u64,
}

impl From<SessionInfo> for Session {
    fn from(s: SessionInfo) -> Self {
        Session {
            sid: s.sid,
            auth_time: s.auth_time.0,
            expires_at: s.expires_at.0,
        }
    }
}

/// A user's second factors (never their secrets).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct SecondFactors {
    /// When the authenticator app (TOTP) was enrolled; absent when none is.
    pub totp_enrolled_at: Option<u64>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

impl From<SecondFactorInfo> for SecondFactors {
    fn from(s: SecondFactorInfo) -> Self {
        SecondFactors {
            totp_enrolled_at: s.totp_enrolled_at.map(|t| t.0),
            recovery_codes_left: u32::try_from(s.recovery_codes_left).unwrap_or(u32::MAX),
        }
    }
}

impl Example for SecondFactors {
    fn example() -> Self {
        SecondFactors {
            totp_enrolled_at: Some(1_750_000_000),
            recovery_codes_left: 9,
        }
    }
}

/// A remembered consent.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Consent {
    /// The client.
    pub client_id: String,
    /// Approved scopes.
    pub scopes: Vec<String>,
}

page!(UserPage, User, "A page of users.");

impl Example for PasswordBody {
    fn example() -> Self {
        PasswordBody {
            password: "correct horse battery staple".into(),
        }
    }
}

impl Example for Session {
    fn example() -> Self {
        Session {
            sid: "k3J9…".into(),
            auth_time: 1_750_000_000,
            expires_at: 1_750_086_400,
        }
    }
}

impl Example for Consent {
    fn example() -> Self {
        Consent {
            client_id: "partners-portal".into(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
        }
    }
}
