//! First start: signing keys and the demo tenant, client, user and admin client.

use crate::state::AppState;
use engine::jose::{KeyMaterial, SigningKey};
use engine::secret::b64url;
use engine::tenant::{RegistrationPolicy, SYSTEM_TENANT};
use engine::user::Membership;
use engine::{ClientSpec, EngineError, TenantRecord, UserProfile};
use spec::{ClientAuthMethod, GrantType};

/// The demo tenant's slug.
pub const DEMO_TENANT: &str = "demo";
/// The demo client's redirect URI.
pub const DEMO_REDIRECT: &str = "http://localhost:3000/callback";

/// Credentials created at first start, printed once.
#[derive(Debug, Clone)]
pub struct DemoCredentials {
    /// Tenant slug.
    pub tenant: String,
    /// The tenant's issuer.
    pub issuer: String,
    /// Demo confidential client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Demo user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Admin client of the system tenant (client_credentials, scope `admin`), when this start made it.
    pub admin: Option<AdminCredentials>,
}

/// The platform admin client, created once in the system tenant.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    /// Where to get admin tokens (`{base}/system/token`).
    pub token_endpoint: String,
    /// Client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

/// On first start, creates the system tenant and its platform admin client; `None` when they exist.
pub fn ensure_system(state: &AppState) -> Result<Option<AdminCredentials>, EngineError> {
    if state.engine.tenant(SYSTEM_TENANT)?.is_some() {
        return Ok(None);
    }
    create_tenant_with_keys(state, TenantRecord::new(SYSTEM_TENANT.into(), "System".into()))?;
    let mut admin = ClientSpec::new("Platform admin", ClientAuthMethod::ClientSecretBasic, &[]);
    admin.client_id = Some("admin".into());
    admin.grant_types = vec![GrantType::ClientCredentials];
    admin.allowed_scopes = Some(vec!["admin".into()]);
    admin.first_party = true;
    let (admin, secret) = state.with_env(|e, env| e.create_client(env, SYSTEM_TENANT, admin))?;
    Ok(Some(AdminCredentials {
        token_endpoint: format!("{}/token", state.engine.issuer(SYSTEM_TENANT)),
        client_id: admin.client_id,
        client_secret: secret.unwrap_or_default(),
    }))
}

/// A fresh RSA-2048 key (RS256) and P-384 key (ES384), from OS randomness.
pub fn generate_keys() -> (KeyMaterial, KeyMaterial) {
    use aws_lc_rs::encoding::AsDer;
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
    let der = rsa.as_der().expect("PKCS#8 encoding");
    let rsa = KeyMaterial::rsa_pkcs8(der.as_ref());
    let p384 = loop {
        let mut scalar = [0u8; 48];
        getrandom::fill(&mut scalar).expect("OS randomness");
        let m = KeyMaterial::p384_scalar(&scalar);
        if SigningKey::from_material(&m).is_ok() {
            break m;
        }
    };
    (rsa, p384)
}

/// Creates a tenant with fresh signing keys.
pub fn create_tenant_with_keys(state: &AppState, tenant: TenantRecord) -> Result<(), EngineError> {
    let slug = tenant.slug.clone();
    state.engine.create_tenant(tenant)?;
    let (rsa, p384) = generate_keys();
    state.with_env(|e, env| {
        e.install_signing_key(env, &slug, rsa)?;
        e.install_signing_key(env, &slug, p384)
    })?;
    Ok(())
}

/// On first start, creates the demo tenant and its credentials; `None` when they already exist.
pub fn ensure_demo(state: &AppState) -> Result<Option<DemoCredentials>, EngineError> {
    let admin = ensure_system(state)?;
    if state.engine.tenant(DEMO_TENANT)?.is_some() {
        return Ok(None);
    }
    let mut demo = TenantRecord::new(DEMO_TENANT.into(), "Demo".into());
    demo.registration_policy = RegistrationPolicy::Open;
    create_tenant_with_keys(state, demo)?;
    let mut client = ClientSpec::new("Demo App", ClientAuthMethod::ClientSecretBasic, &[DEMO_REDIRECT]);
    client.client_id = Some("demo-client".into());
    client.post_logout_redirect_uris = vec!["http://localhost:3000/".into()];
    client.grant_types.push(GrantType::ClientCredentials);
    client.first_party = true;
    let (client, secret) = state.with_env(|e, env| e.create_client(env, DEMO_TENANT, client))?;
    let password = state.with_env(|_, env| b64url(&env.random_bytes::<12>()));
    let profile = UserProfile {
        username: "demo".into(),
        email: Some("demo@example.com".into()),
        email_verified: true,
        name: Some("Demo User".into()),
        given_name: Some("Demo".into()),
        family_name: Some("User".into()),
        organization_id: Some("demo-org".into()),
        organization_memberships: vec![Membership {
            organization_id: "demo-org".into(),
            role: "admin".into(),
        }],
        user_type: Some("customer_admin".into()),
        permissions: vec!["org:manage".into(), "org:users:read".into()],
        ..Default::default()
    };
    state.with_env(|e, env| e.create_user(env, DEMO_TENANT, profile, &password))?;
    Ok(Some(DemoCredentials {
        tenant: DEMO_TENANT.into(),
        issuer: state.engine.issuer(DEMO_TENANT),
        client_id: client.client_id,
        client_secret: secret.unwrap_or_default(),
        username: "demo".into(),
        password,
        admin,
    }))
}
