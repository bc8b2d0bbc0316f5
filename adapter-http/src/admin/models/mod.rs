//! Admin API request and response bodies (their OpenAPI schemas) and their translation to and
//! from engine types, one module per resource. No rule lives here: only shapes. The enums and
//! small bodies several resources share are here.

use engine::tenant::{RegistrationPolicy, TokenLifetimes};
use engine::Branding;
use poem_openapi::{Enum, Object};
use spec::{ClientAuthMethod, GrantType, SigningAlg};

/// A page of `$item`s with the cursor of the next.
macro_rules! page {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Object, Clone, Debug)]
        #[oai(skip_serializing_if_is_none)]
        #[oai(example)]
        pub struct $name {
            /// This page's items.
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; absent on the last page.
            #[oai(skip_serializing_if_is_none)]
            pub next_cursor: Option<String>,
        }

        impl Example for $name {
            fn example() -> Self {
                $name {
                    items: vec![<$item>::example()],
                    next_cursor: Some("ZGVtby8wMTky".into()),
                }
            }
        }

        impl $name {
            /// Converts an engine page.
            pub fn of<R>(p: engine::store::Page<R>, f: impl Fn(R) -> $item) -> Self {
                $name {
                    items: p.items.into_iter().map(f).collect(),
                    next_cursor: p.next_cursor,
                }
            }
        }
    };
}

mod clients;
mod operations;
mod organizations;
mod tenants;
mod users;

pub use clients::*;
pub use operations::*;
pub use organizations::*;
pub use tenants::*;
pub use users::*;

/// Token endpoint authentication method.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Public client (PKCE only).
    None,
    /// HTTP Basic.
    ClientSecretBasic,
    /// Secret in the form body.
    ClientSecretPost,
    /// Signed JWT assertion (RS256/ES256/ES384).
    PrivateKeyJwt,
}

impl From<AuthMethod> for ClientAuthMethod {
    fn from(m: AuthMethod) -> Self {
        match m {
            AuthMethod::None => ClientAuthMethod::None,
            AuthMethod::ClientSecretBasic => ClientAuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost => ClientAuthMethod::ClientSecretPost,
            AuthMethod::PrivateKeyJwt => ClientAuthMethod::PrivateKeyJwt,
        }
    }
}

impl From<ClientAuthMethod> for AuthMethod {
    fn from(m: ClientAuthMethod) -> Self {
        match m {
            ClientAuthMethod::None => AuthMethod::None,
            ClientAuthMethod::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost => AuthMethod::ClientSecretPost,
            ClientAuthMethod::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
        }
    }
}

/// OAuth grant type.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Grant {
    /// Authorization code (with PKCE).
    AuthorizationCode,
    /// Refresh token.
    RefreshToken,
    /// Client credentials.
    ClientCredentials,
}

impl From<Grant> for GrantType {
    fn from(g: Grant) -> Self {
        match g {
            Grant::AuthorizationCode => GrantType::AuthorizationCode,
            Grant::RefreshToken => GrantType::RefreshToken,
            Grant::ClientCredentials => GrantType::ClientCredentials,
        }
    }
}

impl From<GrantType> for Grant {
    fn from(g: GrantType) -> Self {
        match g {
            GrantType::AuthorizationCode => Grant::AuthorizationCode,
            GrantType::RefreshToken => Grant::RefreshToken,
            GrantType::ClientCredentials => Grant::ClientCredentials,
        }
    }
}

/// A security profile a client is held to: `fapi2` (FAPI 2.0 Security Profile: private_key_jwt,
/// PKCE S256, pushed authorization requests, DPoP-bound tokens, 60-second codes) or `none`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum Profile {
    /// The provider's defaults.
    None,
    /// FAPI 2.0 Security Profile.
    Fapi2,
}

impl From<Profile> for engine::client::SecurityProfile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::None => engine::client::SecurityProfile::None,
            Profile::Fapi2 => engine::client::SecurityProfile::Fapi2,
        }
    }
}

impl From<engine::client::SecurityProfile> for Profile {
    fn from(p: engine::client::SecurityProfile) -> Self {
        match p {
            engine::client::SecurityProfile::None => Profile::None,
            engine::client::SecurityProfile::Fapi2 => Profile::Fapi2,
        }
    }
}

/// A token signing algorithm.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256.
    ES256,
    /// ECDSA P-384.
    ES384,
}

impl From<Alg> for SigningAlg {
    fn from(a: Alg) -> Self {
        match a {
            Alg::RS256 => SigningAlg::RS256,
            Alg::ES256 => SigningAlg::ES256,
            Alg::ES384 => SigningAlg::ES384,
        }
    }
}

impl From<SigningAlg> for Alg {
    fn from(a: SigningAlg) -> Self {
        match a {
            SigningAlg::RS256 => Alg::RS256,
            SigningAlg::ES256 => Alg::ES256,
            SigningAlg::ES384 => Alg::ES384,
        }
    }
}

/// Who signs in with a second factor (an authenticator app, TOTP).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SecondFactor {
    /// Password only: second factors are neither offered nor asked for.
    PasswordOnly,
    /// Whoever enrolled an app is asked for it; `acr_values=2` takes a user without one through enrolment.
    Optional,
    /// Every user; one without an app sets one up after the password.
    Required,
}

impl From<SecondFactor> for engine::mfa::SecondFactorPolicy {
    fn from(p: SecondFactor) -> Self {
        match p {
            SecondFactor::PasswordOnly => Self::PasswordOnly,
            SecondFactor::Optional => Self::Optional,
            SecondFactor::Required => Self::Required,
        }
    }
}

impl From<engine::mfa::SecondFactorPolicy> for SecondFactor {
    fn from(p: engine::mfa::SecondFactorPolicy) -> Self {
        use engine::mfa::SecondFactorPolicy as P;
        match p {
            P::PasswordOnly => SecondFactor::PasswordOnly,
            P::Optional => SecondFactor::Optional,
            P::Required => SecondFactor::Required,
        }
    }
}

/// Dynamic registration policy.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Policy {
    /// Anyone may register.
    Open,
    /// Only with an initial access token.
    InitialAccessToken,
    /// Registration is off.
    Closed,
}

impl From<Policy> for RegistrationPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Open => RegistrationPolicy::Open,
            Policy::InitialAccessToken => RegistrationPolicy::InitialAccessToken,
            Policy::Closed => RegistrationPolicy::Closed,
        }
    }
}

impl From<RegistrationPolicy> for Policy {
    fn from(p: RegistrationPolicy) -> Self {
        match p {
            RegistrationPolicy::Open => Policy::Open,
            RegistrationPolicy::InitialAccessToken => Policy::InitialAccessToken,
            RegistrationPolicy::Closed => Policy::Closed,
        }
    }
}

/// Login, consent and logout page branding.
#[derive(Object, Clone, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct BrandingBody {
    /// Name shown on the pages.
    pub display_name: Option<String>,
    /// Logo URL.
    pub logo_url: Option<String>,
    /// Primary colour, e.g. `#0055aa`.
    pub primary_color: Option<String>,
}

impl From<BrandingBody> for Branding {
    fn from(b: BrandingBody) -> Self {
        Branding {
            display_name: b.display_name,
            logo_url: b.logo_url,
            primary_color: b.primary_color,
        }
    }
}

impl From<Branding> for BrandingBody {
    fn from(b: Branding) -> Self {
        BrandingBody {
            display_name: b.display_name,
            logo_url: b.logo_url,
            primary_color: b.primary_color,
        }
    }
}

/// Token lifetimes in seconds.
#[derive(Object, Clone, Copy, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Lifetimes {
    /// Access tokens.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub access_token_ttl: u64,
    /// ID tokens.
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub id_token_ttl: u64,
    /// Refresh tokens (from each rotation).
    #[oai(validator(minimum(value = "1"), maximum(value = "31622400")))]
    pub refresh_token_ttl: u64,
}

impl From<Lifetimes> for TokenLifetimes {
    fn from(l: Lifetimes) -> Self {
        TokenLifetimes {
            access_token_ttl: l.access_token_ttl,
            id_token_ttl: l.id_token_ttl,
            refresh_token_ttl: l.refresh_token_ttl,
        }
    }
}

impl From<TokenLifetimes> for Lifetimes {
    fn from(l: TokenLifetimes) -> Self {
        Lifetimes {
            access_token_ttl: l.access_token_ttl,
            id_token_ttl: l.id_token_ttl,
            refresh_token_ttl: l.refresh_token_ttl,
        }
    }
}
