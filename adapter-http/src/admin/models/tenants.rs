//! Tenant bodies: a tenant, its creation and its changes.

use super::{BrandingBody, Lifetimes, Policy, SecondFactor};
use engine::admin::TenantPatch;
use engine::tenant::TokenLifetimes;
use engine::TenantRecord;
use poem_openapi::types::Example;
use poem_openapi::Object;

/// A tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Tenant {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Its issuer identifier (`{base}/{slug}`).
    pub issuer: String,
    /// Page branding.
    pub branding: BrandingBody,
    // Dynamic registration policy.
    pub registration_policy: Policy,
    /// Default token lifetimes of new clients.
    pub token_lifetimes: Lifetimes,
    /// Whether a confidential client may be registered with `require_pkce: false`.
    pub allow_pkce_opt_out: bool,
    /// Whether every authorization request must be pushed to `/par` first (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Whether every DPoP proof must carry a server nonce (RFC 9449 §8).
    pub require_dpop_nonce: bool,
    // Who signs in with a second factor.
    pub second_factor: SecondFactor,
}

impl Tenant {
    /// The body for `t`, whose issuer is `issuer`.
    pub fn of(t: TenantRecord, issuer: String) -> Self {
        Tenant {
            slug: t.slug,
            display_name: t.display_name,
            issuer,
            branding: t.branding.into(),
            registration_policy: t.registration_policy.into(),
            token_lifetimes: t.token_lifetimes.into(),
            allow_pkce_opt_out: t.allow_pkce_opt_out,
            require_pushed_authorization_requests: t.require_pushed_authorization_requests,
            require_dpop_nonce: t.require_dpop_nonce,
            second_factor: t.second_factor.into(),
        }
    }
}

impl Example for Tenant {
    fn example() -> Self {
        Tenant {
            slug: "acme".into(),
            display_name: "Acme Corp".into(),
            issuer: "https://id.example.com/acme".into(),
            branding: BrandingBody::default(),
            registration_policy: Policy::InitialAccessToken,
            token_lifetimes: TokenLifetimes::default().into(),
            allow_pkce_opt_out: false,
            require_pushed_authorization_requests: false,
            require_dpop_nonce: false,
            second_factor: SecondFactor::Optional,
        }
    }
}

/// A new tenant.
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TenantCreate {
    /// URL slug: 1-63 of a-z 0-9 - (not `system`, `admin`, …).
    pub slug: String,
    /// Display name.
    pub display_name: String,
    /// Page branding.
    pub branding: Option<BrandingBody>,
    // Dynamic registration policy (default `closed`).
    pub registration_policy: Option<Policy>,
    /// Default token lifetimes (default 3600 / 3600 / 30 days).
    pub token_lifetimes: Option<Lifetimes>,
    /// Let confidential clients be registered with `require_pkce: false` (default false).
    pub allow_pkce_opt_out: Option<bool>,
    /// Require every authorization request to be pushed to `/par` first (default false).
    pub require_pushed_authorization_requests: Option<bool>,
    /// Require a server nonce in every DPoP proof (default false).
    pub require_dpop_nonce: Option<bool>,
    // Who signs in with a second factor (default `optional`).
    pub second_factor: Option<SecondFactor>,
}

impl Example for TenantCreate {
    fn example() -> Self {
        TenantCreate {
            slug: "acme".into(),
            display_name: "Acme Corp".into(),
            branding: None,
            registration_policy: Some(Policy::InitialAccessToken),
            token_lifetimes: None,
            allow_pkce_opt_out: None,
            require_pushed_authorization_requests: None,
            require_dpop_nonce: None,
            second_factor: None,
        }
    }
}

impl TenantCreate {
    /// The record to create.
    pub fn into_record(self) -> TenantRecord {
        let mut t = TenantRecord::new(self.slug, self.display_name);
        if let Some(b) = self.branding {
            t.branding = b.into();
        }
        if let Some(p) = self.registration_policy {
            t.registration_policy = p.into();
        }
        if let Some(l) = self.token_lifetimes {
            t.token_lifetimes = l.into();
        }
        t.allow_pkce_opt_out = self.allow_pkce_opt_out.unwrap_or(false);
        t.require_pushed_authorization_requests = self.require_pushed_authorization_requests.unwrap_or(false);
        t.require_dpop_nonce = self.require_dpop_nonce.unwrap_or(false);
        if let Some(p) = self.second_factor {
            t.second_factor = p.into();
        }
        t
    }
}

/// Changes to a tenant (absent fields are kept).
#[derive(Object, Clone, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TenantUpdate {
    /// Display name.
    pub display_name: Option<String>,
    /// Page branding.
    pub branding: Option<BrandingBody>,
    // Dynamic registration policy.
    pub registration_policy: Option<Policy>,
    /// Default token lifetimes.
    pub token_lifetimes: Option<Lifetimes>,
    /// Let confidential clients be registered with `require_pkce: false`.
    pub allow_pkce_opt_out: Option<bool>,
    /// Require every authorization request to be pushed to `/par` first.
    pub require_pushed_authorization_requests: Option<bool>,
    /// Require a server nonce in every DPoP proof.
    pub require_dpop_nonce: Option<bool>,
    // Who signs in with a second factor.
    pub second_factor: Option<SecondFactor>,
}

impl From<TenantUpdate> for TenantPatch {
    fn from(u: TenantUpdate) -> Self {
        TenantPatch {
            display_name: u.display_name,
            branding: u.branding.map(Into::into),
            registration_policy: u.registration_policy.map(Into::into),
            token_lifetimes: u.token_lifetimes.map(Into::into),
            allow_pkce_opt_out: u.allow_pkce_opt_out,
            require_pushed_authorization_requests: u.require_pushed_authorization_requests,
            require_dpop_nonce: u.require_dpop_nonce,
            second_factor: u.second_factor.map(Into::into),
        }
    }
}

page!(TenantPage, Tenant, "A page of tenants.");

impl Example for TenantUpdate {
    fn example() -> Self {
        TenantUpdate {
            display_name: Some("Acme Corporation".into()),
            branding: Some(BrandingBody {
                display_name: Some("Acme".into()),
                logo_url: Some("https://acme.example/logo.png".into()),
                primary_color: Some("#0055aa".into()),
            }),
            registration_policy: Some(Policy::Open),
            token_lifetimes: None,
            allow_pkce_opt_out: None,
            require_pushed_authorization_requests: None,
            require_dpop_nonce: None,
            second_factor: Some(SecondFactor::Required),
        }
    }
}
