//! Admin rules: who may manage what, client/user lifecycles and what they revoke, organizations
//! and invites, signing key rotation, the audit log, and dynamic registration.

mod common;

use common::*;
use engine::admin::{AdminPrincipal, AdminScope, UserPatch};
use engine::audit::AuditKind;
use engine::client::auth::ClientCredentials;
use engine::client::registration::ClientMetadata;
use engine::client::ClientPatch;
use engine::store::Store;
use engine::tenant::{RegistrationPolicy, SYSTEM_TENANT};
use engine::{fixtures, AuthorizeOutcome, ClientSpec, Env, TenantRecord, UserProfile};
use serde_json::json;
use spec::{ClientAuthMethod, ErrorCode, GrantType};

#[test]
fn admin_calls_need_an_admin_scoped_client_credentials_token() {
    spec::covers("ADMIN-bearer-authentication");
    let mut w = World::new(1);
    let mut env = Env::new(w.now, &mut w.rng);
    assert_eq!(
        code(w.engine.authenticate_admin(&mut env, None)),
        ErrorCode::InvalidToken
    );
    assert_eq!(
        code(w.engine.authenticate_admin(&mut env, Some("not-a-jwt"))),
        ErrorCode::InvalidToken
    );
    // A user's token and a client-credentials token without the scope are not admin tokens.
    let (user_tokens, _) = w.web_tokens("openid profile");
    assert_eq!(
        code(principal(&mut w, &user_tokens.access_token)),
        ErrorCode::InsufficientScope
    );
    let creds = w.first_creds();
    let plain = cc_token_with(&mut w, T, creds, "openid").unwrap();
    assert_eq!(code(principal(&mut w, &plain)), ErrorCode::InsufficientScope);
    // A real admin token manages its own tenant only.
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    assert_eq!(p.scope, AdminScope::Tenant(T.into()));
    // An expired admin token is refused.
    w.advance(3601);
    assert_eq!(code(principal(&mut w, &token)), ErrorCode::InvalidToken);
}

#[test]
fn tenant_admins_stay_in_their_tenant_and_platform_admins_manage_tenants() {
    spec::covers("ADMIN-tenant-scope");
    let mut w = World::new(2);
    let acme = admin_token(&mut w, T);
    let acme = principal(&mut w, &acme).unwrap();
    assert!(w.engine.tenant_admin(&acme, T).is_ok());
    assert_eq!(
        code(w.engine.tenant_admin(&acme, OTHER).map(|_| ())),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(w.engine.tenant_admin(&acme, "nope").map(|_| ())),
        ErrorCode::Forbidden
    );
    let mut env = Env::new(w.now, &mut w.rng);
    let t = TenantRecord::new("initech".into(), "Initech".into());
    let keys = [fixtures::rsa_key()];
    assert_eq!(
        code(w.engine.admin_create_tenant(&acme, &mut env, t.clone(), &keys)),
        ErrorCode::Forbidden
    );
    assert_eq!(code(w.engine.admin_list_tenants(&acme, None, 10)), ErrorCode::Forbidden);

    let root = admin_token(&mut w, SYSTEM_TENANT);
    let root = principal(&mut w, &root).unwrap();
    assert_eq!(root.scope, AdminScope::Platform);
    let mut env = Env::new(w.now, &mut w.rng);
    w.engine.admin_create_tenant(&root, &mut env, t.clone(), &keys).unwrap();
    assert_eq!(
        code(w.engine.admin_create_tenant(&root, &mut env, t, &keys)),
        ErrorCode::Conflict
    );
    for bad in ["admin", "system", "Upper", "-x", ""] {
        let t = TenantRecord::new(bad.into(), "X".into());
        assert_eq!(
            code(w.engine.admin_create_tenant(&root, &mut env, t, &keys)),
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
    assert_eq!(
        code(w.engine.tenant_admin(&root, "nope").map(|_| ())),
        ErrorCode::NotFound
    );
    assert!(!w.engine.jwks("initech").unwrap().keys.is_empty());
    let slugs: Vec<String> = w
        .engine
        .admin_list_tenants(&root, None, 2)
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.slug)
        .collect();
    assert_eq!(slugs, vec!["acme", "globex"]);
    // Deleting a tenant removes its clients and users; the system tenant cannot be deleted.
    w.engine.admin_delete_tenant(&root, &mut env, OTHER).unwrap();
    assert!(w.engine.tenant(OTHER).unwrap().is_none());
    assert!(w
        .engine
        .store()
        .scan(engine::store::Table::Client, "globex/")
        .unwrap()
        .is_empty());
    assert_eq!(
        code(w.engine.admin_delete_tenant(&root, &mut env, SYSTEM_TENANT)),
        ErrorCode::Forbidden
    );
}

#[test]
fn a_client_created_without_a_method_takes_its_secret_in_the_header_or_the_body() {
    spec::covers("CLIENT-secret-method-default");
    let mut w = World::new(30);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let make = |env: &mut Env<'_>, id: &str, method: Option<ClientAuthMethod>| {
        let patch = ClientPatch {
            client_id: Some(id.into()),
            name: Some(id.into()),
            auth_method: method,
            grant_types: Some(vec![GrantType::ClientCredentials]),
            ..Default::default()
        };
        admin.create_client(env, patch).unwrap()
    };
    let loose = make(&mut env, "seed-app", None);
    let strict = make(&mut env, "strict-app", Some(ClientAuthMethod::ClientSecretBasic));
    assert!(loose.client.either_secret_method && !strict.client.either_secret_method);
    let post_only = make(&mut env, "post-app", Some(ClientAuthMethod::ClientSecretPost));
    drop(admin);
    let creds = |c: &engine::admin::ClientCreated, basic: bool| {
        let (client_id, secret) = (c.client.client_id.clone(), c.client_secret.clone().unwrap());
        if basic {
            ClientCredentials::Basic { client_id, secret }
        } else {
            ClientCredentials::Post { client_id, secret }
        }
    };
    for basic in [true, false] {
        assert!(
            cc_token_with(&mut w, T, creds(&loose, basic), "openid").is_ok(),
            "basic={basic}"
        );
    }
    assert!(cc_token_with(&mut w, T, creds(&strict, true), "openid").is_ok());
    assert_eq!(
        code(cc_token_with(&mut w, T, creds(&strict, false), "openid")),
        ErrorCode::InvalidClient
    );
    assert_eq!(
        code(cc_token_with(&mut w, T, creds(&post_only, true), "openid")),
        ErrorCode::InvalidClient
    );
    // Choosing a method later makes the client strict.
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let patch = ClientPatch {
        auth_method: Some(ClientAuthMethod::ClientSecretPost),
        ..Default::default()
    };
    let updated = admin.update_client(&mut env, "seed-app", patch).unwrap();
    assert!(!updated.client.either_secret_method);
    drop(admin);
    assert_eq!(
        code(cc_token_with(&mut w, T, creds(&loose, true), "openid")),
        ErrorCode::InvalidClient
    );
    assert!(cc_token_with(&mut w, T, creds(&loose, false), "openid").is_ok());
    // Dynamic registration's RFC 7591 default (client_secret_basic) stays strict.
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    let m = metadata(
        json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["authorization_code", "client_credentials"]}),
    );
    let reg = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let (id, secret) = (
        reg["client_id"].as_str().unwrap().to_string(),
        reg["client_secret"].as_str().unwrap().to_string(),
    );
    let post = ClientCredentials::Post { client_id: id, secret };
    assert_eq!(code(cc_token_with(&mut w, T, post, "openid")), ErrorCode::InvalidClient);
}

#[test]
fn client_secrets_are_shown_once_rotate_at_once_and_deactivation_kills_tokens() {
    spec::covers("ADMIN-secret-once");
    spec::covers("CLIENT-deactivated");
    let mut w = World::new(3);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let patch = ClientPatch {
        client_id: Some("svc".into()),
        name: Some("Service".into()),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        ..Default::default()
    };
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let created = admin.create_client(&mut env, patch.clone()).unwrap();
    let secret = created.client_secret.clone().unwrap();
    assert_ne!(
        created.client.secret_hash.as_ref().unwrap().0,
        secret,
        "only the hash is stored"
    );
    assert_eq!(code(admin.create_client(&mut env, patch)), ErrorCode::Conflict);
    let rotated = admin
        .rotate_client_secret(&mut env, "svc")
        .unwrap()
        .client_secret
        .unwrap();
    drop(admin);
    assert_eq!(
        code(cc_token(&mut w, T, "svc", &secret, "openid")),
        ErrorCode::InvalidClient
    );
    let at = cc_token(&mut w, T, "svc", &rotated, "openid").unwrap();
    let creds = ClientCredentials::Basic {
        client_id: "svc".into(),
        secret: rotated.clone(),
    };
    assert!(w.introspect(&creds, &at).active);
    // Updates are re-validated as a whole.
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let bad = ClientPatch {
        redirect_uris: Some(vec!["http://evil.example/cb".into()]),
        ..Default::default()
    };
    assert_eq!(
        code(admin.update_client(&mut env, "web", bad)),
        ErrorCode::InvalidRedirectUri
    );
    admin.set_client_active(&mut env, "svc", false).unwrap();
    drop(admin);
    assert_eq!(
        code(cc_token(&mut w, T, "svc", &rotated, "openid")),
        ErrorCode::InvalidClient
    );
    let first = w.first_creds();
    assert!(!w.introspect(&first, &at).active || w.introspect(&first, &at).client_id.is_none());
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    admin.delete_client(&mut env, "svc").unwrap();
    assert_eq!(code(admin.client("svc")), ErrorCode::NotFound);
}

#[test]
fn disabling_a_user_ends_sessions_and_kills_tokens() {
    spec::covers("ADMIN-user-disable-revokes");
    let mut w = World::new(4);
    let (tokens, session) = w.web_tokens("openid profile offline_access");
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let alice = w.alice.id.clone();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    assert_eq!(admin.sessions(&alice).unwrap().len(), 1);
    admin.set_user_disabled(&mut env, &alice, true).unwrap();
    admin.set_user_disabled(&mut env, &alice, false).unwrap();
    drop(admin);
    // Re-enabling does not bring back what disabling ended.
    assert!(w.userinfo(&tokens.access_token).is_err());
    let rt = tokens.refresh_token.clone().unwrap();
    let creds = w.web_creds();
    assert_eq!(code(w.token(&creds, &refresh_request(&rt))), ErrorCode::InvalidGrant);
    assert!(matches!(
        w.authorize(&web_request(), Some(&session)),
        AuthorizeOutcome::Login(_)
    ));
}

/// Found by the combined model: a code issued before the user withdrew consent yielded live
/// tokens when redeemed after.
#[test]
fn a_code_issued_before_consent_is_withdrawn_is_refused() {
    spec::covers("ADMIN-user-disable-revokes");
    let mut w = World::new(6);
    let mut req = web_request();
    req.scope = Some("openid profile".into());
    let (code_before, session) = w.code_for(&req, None);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let alice = w.alice.id.clone();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    admin.revoke_consents(&mut env, &alice, Some("web")).unwrap();
    drop(admin);
    assert_eq!(code(w.exchange(&code_before)), ErrorCode::InvalidGrant);
    // Consent given again: a new code works.
    let (code_after, _) = w.code_for(&req, session.as_deref());
    assert!(w.exchange(&code_after).is_ok());
}

/// Found by the combined model: consent withdrawn while a consent page for one more scope was
/// open; approving that page granted the withdrawn scopes too.
#[test]
fn approving_a_page_after_consent_was_withdrawn_asks_again_for_what_was_withdrawn() {
    spec::covers("CONSENT-require-consent");
    let mut w = World::new(7);
    let mut req = web_request();
    req.scope = Some("openid profile".into());
    let (_, session) = w.code_for(&req, None);
    req.scope = Some("openid profile email".into());
    let AuthorizeOutcome::Consent(page) = w.authorize(&req, session.as_deref()) else {
        panic!("consent is asked for the new scope");
    };
    assert_eq!(page.scopes, vec!["email".to_string()]);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let alice = w.alice.id.clone();
    let mut env = Env::new(w.now, &mut w.rng);
    w.engine
        .tenant_admin(&p, T)
        .unwrap()
        .revoke_consents(&mut env, &alice, Some("web"))
        .unwrap();
    let AuthorizeOutcome::Consent(again) = w.consent(&page.transaction, session.as_deref(), true) else {
        panic!("the withdrawn scopes are asked for again, not granted");
    };
    assert_eq!(again.scopes, vec!["openid".to_string(), "profile".to_string()]);
    let out = w.consent(&again.transaction, session.as_deref(), true);
    let tokens = w.exchange(&code_of(&out)).unwrap();
    let mut granted: Vec<&str> = tokens.scope.split(' ').collect();
    granted.sort_unstable();
    assert_eq!(granted, ["email", "openid", "profile"]);
}

#[test]
fn revoking_sessions_and_consents_revokes_what_they_cover() {
    spec::covers("ADMIN-user-disable-revokes");
    let mut w = World::new(5);
    let (tokens, session) = w.web_tokens("openid profile offline_access");
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let alice = w.alice.id.clone();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let consents = admin.consents(&alice).unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].0, "web");
    admin.revoke_consents(&mut env, &alice, Some("web")).unwrap();
    assert!(admin.consents(&alice).unwrap().is_empty());
    drop(admin);
    assert!(
        w.userinfo(&tokens.access_token).is_err(),
        "the consent's grant is revoked"
    );
    // The session still logs in, but consent is asked again.
    assert!(matches!(
        w.authorize(&web_request(), Some(&session)),
        AuthorizeOutcome::Consent(_)
    ));
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let sid = admin.sessions(&alice).unwrap()[0].sid.clone();
    assert_eq!(
        code(admin.revoke_sessions(&mut env, &alice, Some("nope"))),
        ErrorCode::NotFound
    );
    admin.revoke_sessions(&mut env, &alice, Some(&sid)).unwrap();
    assert!(admin.sessions(&alice).unwrap().is_empty());
    drop(admin);
    assert!(matches!(
        w.authorize(&web_request(), Some(&session)),
        AuthorizeOutcome::Login(_)
    ));
}

#[test]
fn users_are_created_updated_listed_and_deleted_with_unique_names() {
    let mut w = World::new(6);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let profile = |u: &str| UserProfile {
        username: u.into(),
        email: Some(format!("{u}@example.com")),
        ..Default::default()
    };
    let bob = admin
        .create_user(&mut env, profile("bob"), Some("bob's password"))
        .unwrap();
    assert_eq!(
        code(admin.create_user(&mut env, profile("BOB"), Some("another password"))),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(admin.create_user(&mut env, profile("carol"), Some("short"))),
        ErrorCode::InvalidRequest
    );
    let carol = admin.create_user(&mut env, profile("carol"), None).unwrap();
    let taken = UserPatch {
        email: Some("bob@example.com".into()),
        ..Default::default()
    };
    assert_eq!(code(admin.update_user(&mut env, &carol.id, taken)), ErrorCode::Conflict);
    let rename = UserPatch {
        username: Some("caroline".into()),
        given_name: Some("Caroline".into()),
        ..Default::default()
    };
    assert_eq!(
        admin.update_user(&mut env, &carol.id, rename).unwrap().profile.username,
        "caroline"
    );
    // Pages follow the cursor without repeats.
    let first = admin.list_users(None, 2).unwrap();
    let second = admin.list_users(first.next_cursor.as_deref(), 2).unwrap();
    assert_eq!(first.items.len() + second.items.len(), 3);
    assert!(second.next_cursor.is_none());
    assert!(first.items.iter().all(|u| !second.items.contains(u)));
    assert_eq!(code(admin.list_users(Some("!!"), 2)), ErrorCode::InvalidRequest);
    admin.delete_user(&mut env, &bob.id).unwrap();
    assert_eq!(code(admin.user(&bob.id)), ErrorCode::NotFound);
    // The name is free again.
    admin
        .create_user(&mut env, profile("bob"), Some("bob's password"))
        .unwrap();
    admin.set_password(&mut env, &carol.id, "a new password").unwrap();
    drop(admin);
    let mut req = web_request();
    req.prompt = Some("login".into());
    let AuthorizeOutcome::Login(page) = w.authorize(&req, None) else {
        panic!("login page expected")
    };
    assert!(matches!(
        w.login(&page.transaction, "caroline", "a new password", None),
        engine::LoginOutcome::LoggedIn { .. }
    ));
}

#[test]
fn memberships_feed_the_organization_claims() {
    let mut w = World::new(8);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let alice = w.alice.id.clone();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let org = admin.create_organization(&mut env, "Shelbyville High").unwrap();
    admin
        .set_membership(&mut env, &org.id, &alice, Some("principal"))
        .unwrap();
    drop(admin);
    let mut req = portal_request();
    req.scope = Some("openid organization".into());
    let (code_value, _) = w.code_for(&req, None);
    let creds = w.first_creds();
    let t = w
        .token(
            &creds,
            &code_exchange(&code_value, "https://portal.example.com/cb", Some(VERIFIER)),
        )
        .unwrap();
    let info = w.userinfo(&t.access_token).unwrap();
    let memberships = info["organization_memberships"].as_array().unwrap();
    assert!(
        memberships.contains(&json!({"organization_id": org.id, "role": "principal"})),
        "{info:?}"
    );
}

#[test]
fn key_rotation_keeps_old_keys_published_until_their_tokens_expire() {
    let mut w = World::new(9);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let (tokens, _) = w.web_tokens("openid profile");
    let before: Vec<String> = w
        .engine
        .jwks(T)
        .unwrap()
        .keys
        .iter()
        .map(|k| k.prm.kid.clone().unwrap())
        .collect();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let keys = admin.rotate_signing_keys(&mut env, &[fixtures::rsa_key2()]).unwrap();
    assert_eq!(
        keys.iter().filter(|k| k.retired_at.is_none()).count(),
        2,
        "one RS256 and one ES384 active"
    );
    drop(admin);
    let after: Vec<String> = w
        .engine
        .jwks(T)
        .unwrap()
        .keys
        .iter()
        .map(|k| k.prm.kid.clone().unwrap())
        .collect();
    assert!(before.iter().all(|k| after.contains(k)), "old keys stay published");
    assert!(
        w.userinfo(&tokens.access_token).is_ok(),
        "tokens signed by the old key still verify"
    );
    let (fresh, _) = w.web_tokens("openid profile");
    assert_ne!(header(&fresh.access_token).kid, header(&tokens.access_token).kid);
    // Once every old token has expired, the next rotation unpublishes the retired key.
    let old_kid = header(&tokens.access_token).kid.unwrap();
    w.advance(3601);
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    admin.rotate_signing_keys(&mut env, &[]).unwrap();
    drop(admin);
    let published: Vec<String> = w
        .engine
        .jwks(T)
        .unwrap()
        .keys
        .iter()
        .map(|k| k.prm.kid.clone().unwrap())
        .collect();
    assert!(!published.contains(&old_kid), "{published:?}");
    assert_eq!(published.len(), 2);
}

#[test]
fn the_audit_log_records_logins_consents_tokens_reuse_revocations_and_admin_changes() {
    spec::covers("ADMIN-audit");
    let mut w = World::new(10);
    let AuthorizeOutcome::Login(page) = w.authorize(&web_request(), None) else {
        panic!("login page expected")
    };
    w.login(&page.transaction, "alice", "wrong password", None);
    let (tokens, _) = w.web_tokens("openid offline_access");
    let creds = w.web_creds();
    let rt = tokens.refresh_token.clone().unwrap();
    w.token(&creds, &refresh_request(&rt)).unwrap();
    assert!(w.token(&creds, &refresh_request(&rt)).is_err());
    w.revoke(&creds, &tokens.access_token).unwrap();
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    admin.set_client_active(&mut env, "spa", false).unwrap();
    let mut kinds = Vec::new();
    let mut cursor = None;
    loop {
        let page = admin.audit_log(cursor.as_deref(), 3).unwrap();
        kinds.extend(page.items.iter().map(|e| e.kind));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    // All of it happened within one second: the log still reads back in the order it happened.
    assert_eq!(
        kinds,
        [
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded,
            AuditKind::ConsentGranted,
            AuditKind::TokenIssued,
            AuditKind::TokenRefreshed,
            AuditKind::RefreshReuseDetected,
            AuditKind::TokenRevoked,
            AuditKind::TokenIssued,
            AuditKind::AdminChange,
        ]
    );
    let log = admin.audit_log(None, 200).unwrap().items;
    assert!(log
        .iter()
        .all(|e| e.at == w.now && e.at_nanos / 1_000_000_000 == w.now.0));
    assert!(log
        .windows(2)
        .all(|p| p[0].at_nanos < p[1].at_nanos && p[0].id < p[1].id));
    let change = log.iter().find(|e| e.kind == AuditKind::AdminChange).unwrap();
    assert_eq!(
        change.actor.as_deref(),
        Some(format!("admin:{T}/{}", p.client_id).as_str())
    );
    assert_eq!(change.detail, "deactivate client");
    let failed = log.iter().find(|e| e.kind == AuditKind::LoginFailed).unwrap();
    assert_eq!(failed.subject.as_deref(), Some("alice"));
}

fn set_policy(w: &mut World, policy: RegistrationPolicy) -> AdminPrincipal {
    let token = admin_token(w, T);
    let p = principal(w, &token).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let mut admin = w.engine.tenant_admin(&p, T).unwrap();
    let patch = engine::admin::TenantPatch {
        registration_policy: Some(policy),
        ..Default::default()
    };
    admin.update_tenant(&mut env, patch).unwrap();
    p
}

fn metadata(v: serde_json::Value) -> ClientMetadata {
    ClientMetadata::from_json(v).unwrap()
}

#[test]
fn registration_follows_the_tenant_policy() {
    spec::covers("RFC7591-3-registration-policy");
    let mut w = World::new(11);
    let m = metadata(json!({"redirect_uris": ["https://rp.example/cb"]}));
    let mut env = Env::new(w.now, &mut w.rng);
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &m)),
        ErrorCode::AccessDenied
    );
    let p = set_policy(&mut w, RegistrationPolicy::InitialAccessToken);
    let mut env = Env::new(w.now, &mut w.rng);
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &m)),
        ErrorCode::InvalidToken
    );
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, Some("guess"), &m)),
        ErrorCode::InvalidToken
    );
    let admin = w.engine.tenant_admin(&p, T).unwrap();
    let (iat, _) = admin.create_initial_access_token(&mut env, 600).unwrap();
    drop(admin);
    w.engine.handle_register(&mut env, T, Some(&iat), &m).unwrap();
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, Some(&iat), &m)),
        ErrorCode::InvalidToken,
        "initial access tokens are single use"
    );
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    assert!(w.engine.handle_register(&mut env, T, None, &m).is_ok());
}

#[test]
fn registered_clients_are_third_party_and_bad_metadata_gets_the_rfc_7591_codes() {
    spec::covers("RFC7591-3.2-registration-response");
    let mut w = World::new(12);
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    let m = metadata(json!({
        "client_name": "My App",
        "redirect_uris": ["https://myapp.com/auth/callback", "http://localhost:3001/auth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email organization",
        "contacts": ["ops@myapp.com"]
    }));
    let body = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let mut granted: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    granted.sort();
    assert_eq!(
        granted,
        ["email", "openid", "profile"],
        "first-party scopes are removed"
    );
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["contacts"], json!(["ops@myapp.com"]));
    assert!(body["client_secret"].as_str().is_some_and(|s| s.len() >= 43));
    let id = body["client_id"].as_str().unwrap();
    assert_eq!(
        body["registration_client_uri"],
        format!("https://id.example.com/{T}/register/{id}")
    );
    let stored = w.engine.client(T, id).unwrap().unwrap();
    assert!(stored.require_consent && !stored.first_party && stored.dynamically_registered);
    for (bad, want) in [
        (
            json!({"redirect_uris": ["http://myapp.com/cb"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (
            json!({"redirect_uris": ["https://myapp.com/cb#x"]}),
            ErrorCode::InvalidRedirectUri,
        ),
        (json!({"redirect_uris": ["/cb"]}), ErrorCode::InvalidRedirectUri),
        (json!({"redirect_uris": []}), ErrorCode::InvalidRedirectUri),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "magic"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "openid root"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_id": "mine"}),
            ErrorCode::InvalidClientMetadata,
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "jwks": 5}),
            ErrorCode::InvalidClientMetadata,
        ),
    ] {
        let r = ClientMetadata::from_json(bad.clone()).and_then(|m| w.engine.handle_register(&mut env, T, None, &m));
        assert_eq!(code(r), want, "{bad}");
    }
    assert_eq!(
        code(ClientMetadata::from_json(json!({"redirect_uris": "x"}))),
        ErrorCode::InvalidClientMetadata
    );
    assert_eq!(
        code(ClientMetadata::from_json(json!([1]))),
        ErrorCode::InvalidClientMetadata
    );
}

#[test]
fn the_registration_access_token_manages_its_own_client_only() {
    spec::covers("RFC7592-2-client-management");
    let mut w = World::new(13);
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    let m = metadata(json!({"redirect_uris": ["https://rp.example/cb"], "client_name": "RP"}));
    let a = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let b = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let (a_id, a_rat) = (
        a["client_id"].as_str().unwrap(),
        a["registration_access_token"].as_str().unwrap(),
    );
    let b_id = b["client_id"].as_str().unwrap();
    let read = w.engine.handle_registration_read(T, a_id, Some(a_rat)).unwrap();
    assert_eq!(read["client_name"], "RP");
    assert!(read.get("client_secret").is_none());
    assert_eq!(
        code(w.engine.handle_registration_read(T, b_id, Some(a_rat))),
        ErrorCode::InvalidToken
    );
    assert_eq!(
        code(w.engine.handle_registration_read(T, a_id, None)),
        ErrorCode::InvalidToken
    );
    assert_eq!(
        code(w.engine.handle_registration_read(T, "web", Some(a_rat))),
        ErrorCode::InvalidToken
    );
    let update =
        metadata(json!({"client_id": a_id, "redirect_uris": ["https://rp.example/new"], "client_name": "RP 2"}));
    let updated = w
        .engine
        .handle_registration_update(&mut env, T, a_id, Some(a_rat), &update)
        .unwrap();
    assert_eq!(updated["redirect_uris"], json!(["https://rp.example/new"]));
    let wrong = metadata(json!({"client_id": b_id, "redirect_uris": ["https://rp.example/new"]}));
    assert_eq!(
        code(
            w.engine
                .handle_registration_update(&mut env, T, a_id, Some(a_rat), &wrong)
        ),
        ErrorCode::InvalidRequest
    );
    w.engine
        .handle_registration_delete(&mut env, T, a_id, Some(a_rat))
        .unwrap();
    assert!(w.engine.client(T, a_id).unwrap().is_none());
    assert_eq!(
        code(w.engine.handle_registration_read(T, a_id, Some(a_rat))),
        ErrorCode::InvalidToken
    );
}

#[test]
fn deleting_a_registration_ends_its_tokens() {
    // RFC 7592 §2.3: a deleted client's grants and tokens are invalidated with it.
    spec::covers("RFC7592-2-client-management");
    let mut w = World::new(14);
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    let m = metadata(
        json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none",
                            "grant_types": ["authorization_code", "refresh_token"]}),
    );
    let body = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let id = body["client_id"].as_str().unwrap().to_string();
    let rat = body["registration_access_token"].as_str().unwrap().to_string();
    let req = engine::AuthorizationRequest {
        client_id: Some(id.clone()),
        redirect_uri: Some("https://rp.example/cb".into()),
        scope: Some("openid offline_access".into()),
        ..web_request()
    };
    let (code_value, _) = w.code_for(&req, None);
    let creds = ClientCredentials::PublicId(id.clone());
    let tokens = w
        .token(
            &creds,
            &code_exchange(&code_value, "https://rp.example/cb", Some(VERIFIER)),
        )
        .unwrap();
    assert!(w.userinfo(&tokens.access_token).is_ok());
    let rt = tokens.refresh_token.expect("offline_access was granted");
    let rt = w.token(&creds, &refresh_request(&rt)).unwrap().refresh_token.unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    w.engine
        .handle_registration_delete(&mut env, T, &id, Some(&rat))
        .unwrap();
    assert!(
        w.userinfo(&tokens.access_token).is_err(),
        "UserInfo still serves a deleted client's token"
    );
    assert!(w.token(&creds, &refresh_request(&rt)).is_err());
}

#[test]
fn registration_uses_the_fetched_jwks_uri_and_checks_the_sector_identifier_list() {
    spec::covers("OIDC-REGISTRATION-2-jwks-uri");
    spec::covers("OIDC-REGISTRATION-5-sector-identifier");
    let mut w = World::new(13);
    set_policy(&mut w, RegistrationPolicy::Open);
    let key = engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let mut jwk = serde_json::to_value(key.public().jwk()).unwrap();
    jwk["kid"] = json!(key.kid());
    let jwks = json!({"keys": [jwk]}).to_string();
    let base = json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
                      "jwks_uri": "https://rp.example/jwks.json"});
    let mut env = Env::new(w.now, &mut w.rng);
    // Not fetched (or the fetch failed), garbage, a set without usable keys: refused.
    for doc in [
        None,
        Some(Err("timed out".to_string())),
        Some(Ok("<html>".into())),
        Some(Ok(r#"{"keys":[]}"#.into())),
    ] {
        let mut m = metadata(base.clone());
        m.fetched.jwks_uri = doc.clone();
        assert_eq!(
            code(w.engine.handle_register(&mut env, T, None, &m)),
            ErrorCode::InvalidClientMetadata,
            "{doc:?}"
        );
    }
    // jwks and jwks_uri together: refused.
    let mut both = base.clone();
    both["jwks"] = json!({"keys": [jwk]});
    let mut m = metadata(both);
    m.fetched.jwks_uri = Some(Ok(jwks.clone()));
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &m)),
        ErrorCode::InvalidClientMetadata
    );
    // The fetched keys become the client's; the answer echoes jwks_uri, not the keys.
    let mut m = metadata(base.clone());
    m.fetched.jwks_uri = Some(Ok(jwks.clone()));
    let body = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    assert_eq!(body["jwks_uri"], "https://rp.example/jwks.json");
    assert!(body.get("jwks").is_none());
    let id = body["client_id"].as_str().unwrap();
    let stored = w.engine.client(T, id).unwrap().unwrap();
    assert_eq!(engine::jose::keys::parse_jwks(stored.jwks.as_ref().unwrap()).len(), 1);
    // sector_identifier_uri: the fetched list must contain every redirect URI.
    let mut sector = json!({"redirect_uris": ["https://rp.example/cb", "https://rp.example/cb2"],
                            "sector_identifier_uri": "https://rp.example/sector.json"});
    for (doc, ok) in [
        (
            Some(Ok(
                r#"["https://rp.example/cb","https://rp.example/cb2","https://x.example/"]"#.to_string(),
            )),
            true,
        ),
        (Some(Ok(r#"["https://rp.example/cb"]"#.to_string())), false),
        (Some(Ok(r#"{"redirect_uris":[]}"#.to_string())), false),
        (Some(Err("404".to_string())), false),
        (None, false),
    ] {
        let mut m = metadata(sector.clone());
        m.fetched.sector_identifier_uri = doc.clone();
        let r = w.engine.handle_register(&mut env, T, None, &m);
        assert_eq!(r.is_ok(), ok, "{doc:?}: {r:?}");
        if !ok {
            assert_eq!(code(r), ErrorCode::InvalidClientMetadata);
        }
    }
    sector["subject_type"] = json!("pairwise");
    let mut m = metadata(sector);
    m.fetched.sector_identifier_uri = Some(Ok(r#"["https://rp.example/cb","https://rp.example/cb2"]"#.into()));
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &m)),
        ErrorCode::InvalidClientMetadata,
        "pairwise subjects are not offered"
    );
}

#[test]
fn registered_policy_and_terms_reach_the_login_page() {
    spec::covers("OIDC-REGISTRATION-2-client-pages");
    let mut w = World::new(14);
    set_policy(&mut w, RegistrationPolicy::Open);
    let m = metadata(json!({"redirect_uris": ["https://rp.example/cb"], "client_name": "RP",
        "logo_uri": "https://rp.example/logo.png", "policy_uri": "https://rp.example/policy",
        "tos_uri": "https://rp.example/tos"}));
    let body = {
        let mut env = Env::new(w.now, &mut w.rng);
        w.engine.handle_register(&mut env, T, None, &m).unwrap()
    };
    let req = engine::AuthorizationRequest {
        client_id: body["client_id"].as_str().map(str::to_owned),
        redirect_uri: Some("https://rp.example/cb".into()),
        ..web_request()
    };
    match w.authorize(&req, None) {
        engine::AuthorizeOutcome::Login(p) => {
            assert_eq!(p.links.policy_uri.as_deref(), Some("https://rp.example/policy"));
            assert_eq!(p.links.tos_uri.as_deref(), Some("https://rp.example/tos"));
            assert_eq!(p.branding.logo_url.as_deref(), Some("https://rp.example/logo.png"));
        }
        other => panic!("{other:?}"),
    }
    let bad = metadata(json!({"redirect_uris": ["https://rp.example/cb"], "policy_uri": "javascript:alert(1)"}));
    let mut env = Env::new(w.now, &mut w.rng);
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &bad)),
        ErrorCode::InvalidClientMetadata
    );
}

#[test]
fn keys_behind_a_jwks_uri_are_replaced_only_by_a_usable_fetched_set() {
    spec::covers("OIDC-REGISTRATION-2-jwks-uri");
    let mut w = World::new(15);
    set_policy(&mut w, RegistrationPolicy::Open);
    let old = engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key2()).unwrap();
    let new = engine::jose::SigningKey::from_material(&engine::fixtures::rsa_key()).unwrap();
    let set = |k: &engine::jose::SigningKey| {
        let mut jwk = serde_json::to_value(k.public().jwk()).unwrap();
        jwk["kid"] = json!(k.kid());
        json!({"keys": [jwk]}).to_string()
    };
    let mut m = metadata(json!({"redirect_uris": ["https://rp.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example/jwks.json"}));
    m.fetched.jwks_uri = Some(Ok(set(&old)));
    let mut env = Env::new(w.now, &mut w.rng);
    let id = w.engine.handle_register(&mut env, T, None, &m).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let signed_by = |k: &engine::jose::SigningKey| engine::jose::encode(k, "JWT", &json!({"sub": id}));
    // A known kid needs no fetch; an unknown one names the URI.
    assert_eq!(w.engine.jwks_uri_to_refresh(T, &id, &signed_by(&old)), None);
    assert_eq!(
        w.engine.jwks_uri_to_refresh(T, &id, &signed_by(&new)).as_deref(),
        Some("https://rp.example/jwks.json")
    );
    // Failed or useless fetches change nothing.
    for bad in [
        Err("timeout".to_string()),
        Ok("{}".to_string()),
        Ok("not json".to_string()),
    ] {
        assert!(!w.engine.handle_client_jwks_refresh(&mut env, T, &id, &bad).unwrap());
    }
    assert!(w.engine.jwks_uri_to_refresh(T, &id, &signed_by(&new)).is_some());
    assert!(w
        .engine
        .handle_client_jwks_refresh(&mut env, T, &id, &Ok(set(&new)))
        .unwrap());
    assert_eq!(w.engine.jwks_uri_to_refresh(T, &id, &signed_by(&new)), None);
    // A client that registered jwks (no URI) is never changed this way.
    assert_eq!(w.engine.jwks_uri_to_refresh(T, "web", &signed_by(&new)), None);
    assert!(!w
        .engine
        .handle_client_jwks_refresh(&mut env, T, "web", &Ok(set(&new)))
        .unwrap());
}

#[test]
fn sessions_an_admin_ends_send_logout_tokens_to_back_channel_clients() {
    spec::covers("OIDC-BCLOGOUT-2.4-logout-token");
    let mut w = World::new(16);
    let mut spec = ClientSpec::new("BC App", ClientAuthMethod::ClientSecretBasic, &[WEB_CB]);
    spec.client_id = Some("bc".into());
    spec.extras.backchannel_logout_uri = Some("https://bc.example.com/logout".into());
    w.add_client(T, spec);
    let alice = w.alice.id.clone();
    let bc_request = engine::AuthorizationRequest {
        client_id: Some("bc".into()),
        ..web_request()
    };
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    // Revoking the sessions, disabling and deleting the user each tell the client once.
    for how in ["revoke sessions", "disable", "delete"] {
        let (_, session) = w.code_for(&bc_request, None);
        assert!(session.is_some());
        let mut env = Env::new(w.now, &mut w.rng);
        let admin = w.engine.tenant_admin(&p, T).unwrap();
        let sid = admin.sessions(&alice).unwrap()[0].sid.clone();
        let notices = match how {
            "revoke sessions" => admin.revoke_sessions(&mut env, &alice, None).unwrap(),
            "disable" => admin.set_user_disabled(&mut env, &alice, true).unwrap().1,
            _ => admin.delete_user(&mut env, &alice).unwrap(),
        };
        assert_eq!(notices.len(), 1, "{how}");
        assert_eq!(notices[0].uri, "https://bc.example.com/logout");
        let lt = claims(&notices[0].logout_token);
        assert_eq!(
            (lt["aud"].as_str(), lt["sid"].as_str()),
            (Some("bc"), Some(sid.as_str())),
            "{how}"
        );
        if how == "disable" {
            // Nothing left to end: enabling and disabling again tells nobody.
            admin.set_user_disabled(&mut env, &alice, false).unwrap();
            assert!(admin.set_user_disabled(&mut env, &alice, true).unwrap().1.is_empty());
            admin.set_user_disabled(&mut env, &alice, false).unwrap();
        }
    }
}

#[test]
fn a_confidential_client_goes_without_pkce_only_where_the_tenant_allows_it() {
    spec::covers("PKCE-opt-out-policy");
    let mut w = World::new(31);
    let token = admin_token(&mut w, T);
    let p = principal(&mut w, &token).unwrap();
    let mut env = Env::new(w.now, &mut w.rng);
    let mut admin = w.engine.tenant_admin(&p, T).unwrap();
    let no_pkce = |id: &str, method: ClientAuthMethod| ClientPatch {
        client_id: Some(id.into()),
        name: Some(id.into()),
        auth_method: Some(method),
        redirect_uris: Some(vec!["https://rp.example/cb".into()]),
        require_pkce: Some(false),
        ..Default::default()
    };
    let refused = admin.create_client(&mut env, no_pkce("passport", ClientAuthMethod::ClientSecretPost));
    assert_eq!(code(refused), ErrorCode::InvalidClientMetadata);
    // Updating an existing client to go without PKCE is refused the same way.
    admin
        .create_client(
            &mut env,
            ClientPatch {
                require_pkce: None,
                ..no_pkce("later", ClientAuthMethod::ClientSecretBasic)
            },
        )
        .unwrap();
    let off = ClientPatch {
        require_pkce: Some(false),
        ..Default::default()
    };
    assert_eq!(
        code(admin.update_client(&mut env, "later", off.clone())),
        ErrorCode::InvalidClientMetadata
    );
    let allow = engine::admin::TenantPatch {
        allow_pkce_opt_out: Some(true),
        ..Default::default()
    };
    assert!(admin.update_tenant(&mut env, allow).unwrap().allow_pkce_opt_out);
    let made = admin
        .create_client(&mut env, no_pkce("passport", ClientAuthMethod::ClientSecretPost))
        .unwrap();
    assert!(!made.client.require_pkce);
    assert!(!admin.update_client(&mut env, "later", off).unwrap().client.require_pkce);
    // Never for a public client, whatever the tenant says.
    let public = admin.create_client(&mut env, no_pkce("spa-nopkce", ClientAuthMethod::None));
    assert_eq!(code(public), ErrorCode::InvalidClientMetadata);
    drop(admin);
    // Dynamic registration: the `require_pkce` extension, under the same policy.
    set_policy(&mut w, RegistrationPolicy::Open);
    let mut env = Env::new(w.now, &mut w.rng);
    let m = metadata(json!({"redirect_uris": ["https://rp.example/cb"], "require_pkce": false}));
    let reg = w.engine.handle_register(&mut env, T, None, &m).unwrap();
    let id = reg["client_id"].as_str().unwrap();
    assert!(!w.engine.client(T, id).unwrap().unwrap().require_pkce);
    let deny = engine::admin::TenantPatch {
        allow_pkce_opt_out: Some(false),
        ..Default::default()
    };
    let mut admin = w.engine.tenant_admin(&p, T).unwrap();
    admin.update_tenant(&mut env, deny).unwrap();
    drop(admin);
    assert_eq!(
        code(w.engine.handle_register(&mut env, T, None, &m)),
        ErrorCode::InvalidClientMetadata
    );
}
