//! Users: profile, credentials, organization context, and the claims each scope releases.

use crate::store::{Record, Table};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use spec::vocabulary::scopes;

/// A postal address (OIDC Core §5.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Full address for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// State or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A user's membership of an organization inside the tenant (Calimatic sense).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Organization id.
    pub organization_id: String,
    /// Role in it, e.g. `admin`, `teacher`.
    pub role: String,
}

/// Everything about a user that is not a credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Login name (unique per tenant, case-insensitive).
    pub username: String,
    /// Email (unique per tenant when set, case-insensitive).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the email was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Locale, e.g. `en-GB`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(default)]
    pub phone_number_verified: bool,
    /// Postal address.
    #[serde(default)]
    pub address: Option<Address>,
    /// Primary organization.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// All memberships.
    #[serde(default)]
    pub organization_memberships: Vec<Membership>,
    /// Platform user type, e.g. `customer_admin`.
    #[serde(default)]
    pub user_type: Option<String>,
    /// Platform permissions, e.g. `org:manage`.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A stored user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Owning tenant.
    pub tenant: String,
    /// Stable subject identifier.
    pub id: String,
    /// argon2id PHC hash of the password.
    pub password_hash: String,
    /// Disabled users cannot log in and their tokens die.
    pub disabled: bool,
    /// Last profile change (seconds), for `updated_at`.
    pub updated_at: u64,
    /// Profile.
    pub profile: UserProfile,
    /// Apps (client ids) this user holds a licence for (Calimatic `user_app_licenses`).
    #[serde(default)]
    pub app_licenses: std::collections::BTreeSet<String>,
    /// An outstanding activation link (an invited user sets their password with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<PendingActivation>,
    /// Second factors: the authenticator app and the unused recovery codes.
    #[serde(default, skip_serializing_if = "crate::mfa::SecondFactors::is_empty")]
    pub second_factors: crate::mfa::SecondFactors,
}

/// An outstanding activation link of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingActivation {
    /// SHA-256 of the link's secret.
    pub secret_hash: crate::secret::SecretHash,
    /// Unusable after this.
    pub expires_at: crate::env::UnixTime,
}

impl Record for UserRecord {
    const TABLE: Table = Table::User;
}

impl UserRecord {
    /// Store key.
    pub fn key(tenant: &str, id: &str) -> String {
        format!("{tenant}/{id}")
    }
}

/// Username / email → user id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIndexRecord {
    /// The user this name points at.
    pub user_id: String,
    /// Its tenant, so a sign-in reads the user with the name (empty in records written before).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
}

impl Record for UserIndexRecord {
    const TABLE: Table = Table::UserIndex;
    /// A sign-in reads the user the name points at next.
    fn links(&self) -> Vec<(Table, String)> {
        match self.tenant.is_empty() {
            true => Vec::new(),
            false => vec![(Table::User, UserRecord::key(&self.tenant, &self.user_id))],
        }
    }
}

impl UserIndexRecord {
    /// The entry naming `user_id` of `tenant`.
    pub fn new(tenant: &str, user_id: &str) -> Self {
        UserIndexRecord {
            user_id: user_id.to_string(),
            tenant: tenant.to_string(),
        }
    }

    /// Index key of a username.
    pub fn username_key(tenant: &str, username: &str) -> String {
        format!("{tenant}/u/{}", username.to_lowercase())
    }
    /// Index key of an email.
    pub fn email_key(tenant: &str, email: &str) -> String {
        format!("{tenant}/e/{}", email.to_lowercase())
    }
}

fn put(map: &mut Map<String, Value>, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        map.insert(name.into(), Value::String(v.clone()));
    }
}

/// The claims `scopes` release about `user` (without `sub`).
pub fn scope_claims(user: &UserRecord, granted: &[String]) -> Map<String, Value> {
    let p = &user.profile;
    let has = |s: &str| granted.iter().any(|g| g == s);
    let mut m = Map::new();
    if has(scopes::PROFILE) {
        put(&mut m, "name", &p.name);
        put(&mut m, "given_name", &p.given_name);
        put(&mut m, "family_name", &p.family_name);
        m.insert("preferred_username".into(), json!(p.username));
        put(&mut m, "picture", &p.picture);
        put(&mut m, "locale", &p.locale);
        m.insert("updated_at".into(), json!(user.updated_at));
    }
    if has(scopes::EMAIL) && p.email.is_some() {
        put(&mut m, "email", &p.email);
        m.insert("email_verified".into(), json!(p.email_verified));
    }
    if has(scopes::ADDRESS) {
        if let Some(a) = &p.address {
            m.insert("address".into(), json!(a));
        }
    }
    if has(scopes::PHONE) && p.phone_number.is_some() {
        put(&mut m, "phone_number", &p.phone_number);
        m.insert("phone_number_verified".into(), json!(p.phone_number_verified));
    }
    if has(scopes::ORGANIZATION) {
        m.insert("organization_id".into(), json!(p.organization_id));
        m.insert("organization_memberships".into(), json!(p.organization_memberships));
        m.insert("user_type".into(), json!(p.user_type));
        // The apps (client ids) the user holds a licence for: Calimatic's user_app_licenses.
        m.insert("app_licenses".into(), json!(user.app_licenses));
    }
    if has(scopes::PERMISSIONS) {
        m.insert("permissions".into(), json!(p.permissions));
    }
    m
}
