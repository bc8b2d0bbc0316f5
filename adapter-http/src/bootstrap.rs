//! First start: signing keys and the demo tenant, client, user and admin client.

use crate::data_store::DataStore;
use engine::jose::{KeyMaterial, SigningKey};
use engine::secret::b64url;
use engine::tenant::{RegistrationPolicy, SYSTEM_TENANT};
use engine::user::Membership;
use engine::{ClientSpec, Engine, EngineError, Env, TenantRecord, UserProfile};
use spec::{ClientAuthMethod, GrantType, SigningAlg};

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
pub fn ensure_system(e: &Engine<DataStore>, env: &mut Env<'_>) -> Result<Option<AdminCredentials>, EngineError> {
    if e.tenant(SYSTEM_TENANT)?.is_some() {
        return Ok(None);
    }
    create_tenant_with_keys(e, env, TenantRecord::new(SYSTEM_TENANT.into(), "System".into()))?;
    let mut admin = ClientSpec::new("Platform admin", ClientAuthMethod::ClientSecretBasic, &[]);
    admin.client_id = Some("admin".into());
    admin.grant_types = vec![GrantType::ClientCredentials];
    admin.allowed_scopes = Some(vec!["admin".into()]);
    admin.first_party = true;
    let (admin, secret) = e.create_client(env, SYSTEM_TENANT, admin)?;
    Ok(Some(AdminCredentials {
        token_endpoint: format!("{}/token", e.issuer(SYSTEM_TENANT)),
        client_id: admin.client_id,
        client_secret: secret.unwrap_or_default(),
    }))
}

/// A fresh key for `alg` (RSA-2048, P-256 or P-384), from OS randomness.
pub fn generate_key(alg: SigningAlg) -> KeyMaterial {
    use aws_lc_rs::encoding::AsDer;
    let ec = |len: usize, wrap: fn(&[u8]) -> KeyMaterial| loop {
        let mut scalar = [0u8; 48];
        getrandom::fill(&mut scalar[..len]).expect("OS randomness");
        let m = wrap(&scalar[..len]);
        if SigningKey::from_material(&m).is_ok() {
            break m;
        }
    };
    match alg {
        SigningAlg::RS256 => {
            let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key generation");
            KeyMaterial::rsa_pkcs8(rsa.as_der().expect("PKCS#8 encoding").as_ref())
        }
        SigningAlg::ES256 => ec(32, KeyMaterial::p256_scalar),
        SigningAlg::ES384 => ec(48, KeyMaterial::p384_scalar),
    }
}

/// One fresh key per algorithm we sign with.
pub fn generate_keys() -> Vec<KeyMaterial> {
    SigningAlg::ALL.into_iter().map(generate_key).collect()
}

/// Creates a tenant with fresh signing keys.
fn create_tenant_with_keys(e: &Engine<DataStore>, env: &mut Env<'_>, tenant: TenantRecord) -> Result<(), EngineError> {
    let slug = tenant.slug.clone();
    e.create_tenant(tenant)?;
    generate_keys()
        .into_iter()
        .try_for_each(|k| e.install_signing_key(env, &slug, k).map(|_| ()))
}

/// Gives every tenant an active key for each algorithm it lacks one for (data made by an older
/// version); returns how many keys were installed.
pub fn ensure_signing_keys(e: &Engine<DataStore>, env: &mut Env<'_>) -> Result<usize, EngineError> {
    let missing = e.missing_signing_algs()?;
    for (slug, alg) in &missing {
        e.install_signing_key(env, slug, generate_key(*alg))?;
    }
    Ok(missing.len())
}

/// On first start, creates the demo tenant and its credentials; `None` when they already exist.
/// One engine call at start-up.
pub fn ensure_demo(e: &Engine<DataStore>, env: &mut Env<'_>) -> Result<Option<DemoCredentials>, EngineError> {
    let admin = ensure_system(e, env)?;
    ensure_signing_keys(e, env)?;
    if e.tenant(DEMO_TENANT)?.is_some() {
        return Ok(None);
    }
    let mut demo = TenantRecord::new(DEMO_TENANT.into(), "Demo".into());
    demo.registration_policy = RegistrationPolicy::Open;
    create_tenant_with_keys(e, env, demo)?;
    let mut client = ClientSpec::new("Demo App", ClientAuthMethod::ClientSecretBasic, &[DEMO_REDIRECT]);
    client.client_id = Some("demo-client".into());
    client.post_logout_redirect_uris = vec!["http://localhost:3000/".into()];
    client.grant_types.push(GrantType::ClientCredentials);
    client.first_party = true;
    let (client, secret) = e.create_client(env, DEMO_TENANT, client)?;
    let password = b64url(&env.random_bytes::<12>());
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
    e.create_user(env, DEMO_TENANT, profile, &password)?;
    Ok(Some(DemoCredentials {
        tenant: DEMO_TENANT.into(),
        issuer: e.issuer(DEMO_TENANT),
        client_id: client.client_id,
        client_secret: secret.unwrap_or_default(),
        username: "demo".into(),
        password,
        admin,
    }))
}
