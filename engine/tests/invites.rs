//! Organization invites and app licences (Calimatic seed §8): the licence rules, the bounds on what
//! an app may do with its own credentials (only where enabled, only the roles apps may give, never
//! to a member), and what a licence means to a client that requires one.

mod common;

use common::*;
use engine::admin::organization::OrganizationRecord;
use engine::admin::{AdminPrincipal, Invite, InviteCaller, InviteStatus, OrganizationPatch, TenantPatch};
use engine::audit::AuditKind;
use engine::client::registration::ClientMetadata;
use engine::tenant::RegistrationPolicy;
use engine::{Env, UserProfile, UserRecord};
use quickcheck::{quickcheck, TestResult};
use serde_json::json;
use spec::ErrorCode;
use std::collections::BTreeMap;

fn invite(email: &str, role: Option<&str>, apps: Option<Vec<&str>>) -> Invite {
    Invite {
        email: email.into(),
        first_name: Some("Jane".into()),
        last_name: Some("Smith".into()),
        role: role.map(str::to_owned),
        applications: apps.map(|a| a.into_iter().map(String::from).collect()),
    }
}

/// A world with one organization: `portal` enabled, `web` and `spa` not; alice its `admin`.
struct Org {
    w: World,
    p: AdminPrincipal,
    org: OrganizationRecord,
}

impl Org {
    fn new(seed: u64) -> Org {
        let mut w = World::new(seed);
        let token = admin_token(&mut w, T);
        let p = principal(&mut w, &token).unwrap();
        let alice = w.alice.id.clone();
        let mut env = Env::new(w.now, &mut w.rng);
        let admin = w.engine.tenant_admin(&p, T).unwrap();
        let org = admin.create_organization(&mut env, "Springfield Elementary").unwrap();
        admin.set_app_access(&mut env, &org.id, "portal", true).unwrap();
        admin.set_app_access(&mut env, &org.id, "web", false).unwrap();
        admin.set_membership(&mut env, &org.id, &alice, Some("admin")).unwrap();
        drop(admin);
        let mut admin = w.engine.tenant_admin(&p, T).unwrap();
        let open = TenantPatch {
            registration_policy: Some(RegistrationPolicy::Open),
            ..Default::default()
        };
        admin.update_tenant(&mut env, open).unwrap();
        drop(admin);
        Org { w, p, org }
    }

    fn app(
        &mut self,
        client: &str,
        secret: &str,
        rows: &[Invite],
    ) -> engine::Result<Vec<engine::Result<engine::admin::InviteOutcome>>> {
        let mut env = Env::new(self.w.now, &mut self.w.rng);
        self.w.engine.app_invite(&mut env, &self.org.id, client, secret, rows)
    }

    fn admin_invite(&mut self, row: &Invite) -> engine::Result<engine::admin::InviteOutcome> {
        let mut env = Env::new(self.w.now, &mut self.w.rng);
        let admin = self.w.engine.tenant_admin(&self.p, T).unwrap();
        admin.invite(&mut env, &self.org.id, &InviteCaller::Admin, row)
    }

    fn register(&mut self) -> (String, String) {
        let mut env = Env::new(self.w.now, &mut self.w.rng);
        let m = ClientMetadata::from_json(json!({"redirect_uris": ["https://rp.example/cb"]})).unwrap();
        let body = self.w.engine.handle_register(&mut env, T, None, &m).unwrap();
        let v = serde_json::to_value(&body).unwrap();
        (
            v["client_id"].as_str().unwrap().to_string(),
            v["client_secret"].as_str().unwrap().to_string(),
        )
    }

    /// Every user of the tenant with their role in the organization, if any.
    fn roles(&self) -> BTreeMap<String, Option<String>> {
        let admin = self.w.engine.tenant_admin(&self.p, T).unwrap();
        let mut out = BTreeMap::new();
        let mut cursor = None;
        loop {
            let page = admin.list_users(cursor.as_deref(), 200).unwrap();
            for u in page.items {
                out.insert(u.profile.username.clone(), role_in(&u, &self.org.id));
            }
            cursor = match page.next_cursor {
                Some(c) => Some(c),
                None => return out,
            };
        }
    }

    fn user(&self, username: &str) -> UserRecord {
        let admin = self.w.engine.tenant_admin(&self.p, T).unwrap();
        let id = admin
            .list_users(None, 200)
            .unwrap()
            .items
            .into_iter()
            .find(|u| u.profile.username == username)
            .unwrap()
            .id;
        admin.user(&id).unwrap()
    }

    fn invite_events(&self) -> Vec<engine::audit::AuditEvent> {
        let admin = self.w.engine.tenant_admin(&self.p, T).unwrap();
        let log = admin.audit_log(None, 200).unwrap().items;
        log.into_iter()
            .filter(|e| e.kind == AuditKind::OrganizationInvite)
            .collect()
    }
}

fn role_in(u: &UserRecord, org_id: &str) -> Option<String> {
    u.profile
        .organization_memberships
        .iter()
        .find(|m| m.organization_id == org_id)
        .map(|m| m.role.clone())
}

#[test]
fn invites_assign_licences_by_the_seed_rules_and_rows_apply_whole() {
    spec::covers("ADMIN-invite-licensing");
    let mut o = Org::new(7);
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    let org = o.org.id.clone();
    admin.set_app_access(&mut env, &org, "web", true).unwrap();
    admin.set_app_access(&mut env, &org, "spa", false).unwrap();
    assert_eq!(
        code(admin.set_app_access(&mut env, &org, "ghost", true)),
        ErrorCode::NotFound
    );
    let teacher = OrganizationPatch {
        app_roles: Some(["member".to_string(), "teacher".to_string()].into()),
        ..Default::default()
    };
    admin.update_organization(&mut env, &org, &teacher).unwrap();
    drop(admin);
    // Admin, no apps: every enabled app.
    let all = o.admin_invite(&invite("a@x.com", Some("teacher"), None)).unwrap();
    assert_eq!(all.licenses, vec!["portal", "web"]);
    assert_eq!(all.status, InviteStatus::Created);
    // Admin, explicit apps: filtered to enabled ones.
    let some = o
        .admin_invite(&invite("b@x.com", Some("teacher"), Some(vec!["spa", "web", "ghost"])))
        .unwrap();
    assert_eq!(some.licenses, vec!["web"]);
    // App client: its own licence, plus explicit enabled ones; wrong secret refused.
    let secret = o.w.first_secret.clone();
    let rows = [
        invite("c@x.com", Some("teacher"), None),
        invite("not-an-email", Some("teacher"), None),
        invite("d@x.com", Some("teacher"), Some(vec!["web"])),
    ];
    assert_eq!(code(o.app("portal", "wrong", &rows)), ErrorCode::InvalidClient);
    let out = o.app("portal", &secret, &rows).unwrap();
    assert_eq!(out[0].as_ref().unwrap().licenses, vec!["portal"]);
    assert_eq!(out[1].as_ref().unwrap_err().code(), ErrorCode::InvalidRequest);
    assert_eq!(out[2].as_ref().unwrap().licenses, vec!["portal", "web"]);
    // The failed row wrote nothing; the others are members with their role.
    let roles = o.roles();
    for email in ["a@x.com", "b@x.com", "c@x.com", "d@x.com"] {
        assert_eq!(roles[email].as_deref(), Some("teacher"), "{email}");
    }
    assert!(!roles.contains_key("not-an-email"));
    assert_eq!(o.user("c@x.com").profile.organization_id.as_deref(), Some(org.as_str()));
}

#[test]
fn an_app_invites_only_where_enabled_and_a_registered_client_never_unless_enabled() {
    spec::covers("ADMIN-app-invite-bounds");
    let mut o = Org::new(21);
    let before = o.roles();
    let carol = invite("alice@school.example", Some("admin"), None);
    let new_one = invite("new@x.com", Some("member"), None);
    // A registered (third-party) client: authenticated, but not enabled for the organization.
    let (dyn_id, dyn_secret) = o.register();
    assert_eq!(
        code(o.app(&dyn_id, &dyn_secret, std::slice::from_ref(&carol))),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(o.app(&dyn_id, &dyn_secret, &[new_one.clone(), carol.clone()])),
        ErrorCode::Forbidden,
        "bulk too"
    );
    // A static client of the tenant that the organization did not enable (`web` is disabled,
    // `spa` never named).
    let web_secret = o.w.web_secret.clone();
    assert_eq!(
        code(o.app("web", &web_secret, std::slice::from_ref(&new_one))),
        ErrorCode::Forbidden
    );
    assert_eq!(o.roles(), before, "nothing changed, no account created");
    // Each refusal is in the audit log, naming the app.
    let refused: Vec<_> = o
        .invite_events()
        .into_iter()
        .filter(|e| e.detail.starts_with("refused"))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    let by = |client: &str| {
        refused
            .iter()
            .filter(|e| e.client_id.as_deref() == Some(client))
            .count()
    };
    assert_eq!((by(&dyn_id), by("web")), (2, 1));
    assert!(refused.iter().all(|e| e.actor.as_deref().unwrap().starts_with("app:")));
    // Once an administrator enables the registered client, it may invite (as a member).
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    admin.set_app_access(&mut env, &o.org.id, &dyn_id, true).unwrap();
    drop(admin);
    let out = o.app(&dyn_id, &dyn_secret, std::slice::from_ref(&new_one)).unwrap();
    let created = out[0].as_ref().unwrap();
    assert_eq!(created.status, InviteStatus::Created);
    assert_eq!(created.licenses, vec![dyn_id.clone()]);
}

#[test]
fn an_app_gives_only_the_roles_apps_may_give_and_never_changes_a_member() {
    spec::covers("ADMIN-app-invite-bounds");
    let mut o = Org::new(22);
    let secret = o.w.first_secret.clone();
    let alice = o.w.alice.id.clone();
    let alice_before = o.user("alice");
    // The issue's reproduction: an existing member made admin. Refused by role, nothing changes.
    let out = o
        .app(
            "portal",
            &secret,
            &[invite("alice@school.example", Some("admin"), None)],
        )
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().code(), ErrorCode::Forbidden);
    // A new user with a role apps may not give: refused, no account.
    let out = o
        .app("portal", &secret, &[invite("eve@x.com", Some("owner"), None)])
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().code(), ErrorCode::Forbidden);
    assert!(!o.roles().contains_key("eve@x.com"));
    // An allowed role for an existing member (a demotion, admin -> member): reported, unchanged.
    let out = o
        .app(
            "portal",
            &secret,
            &[invite("alice@school.example", None, Some(vec!["portal"]))],
        )
        .unwrap();
    let row = out[0].as_ref().unwrap();
    assert_eq!(row.status, InviteStatus::Existing);
    assert!(row.licenses.is_empty());
    assert_eq!(o.user("alice"), alice_before, "role, licences and profile untouched");
    // The allowed path: a new email as a member gets the app's licence.
    let out = o
        .app("portal", &secret, &[invite("new@x.com", Some("member"), None)])
        .unwrap();
    let row = out[0].as_ref().unwrap();
    assert_eq!(
        (row.status, row.licenses.clone()),
        (InviteStatus::Created, vec!["portal".to_string()])
    );
    assert!(o.user("new@x.com").app_licenses.contains("portal"));
    assert_eq!(o.roles()["new@x.com"].as_deref(), Some("member"));
    // An administrator may let apps give more roles, and still changes members' roles itself.
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    let patch = OrganizationPatch {
        app_roles: Some(["student".to_string()].into()),
        ..Default::default()
    };
    let org = admin.update_organization(&mut env, &o.org.id, &patch).unwrap();
    assert_eq!(org.app_roles.iter().collect::<Vec<_>>(), ["student"]);
    let bad = OrganizationPatch {
        app_roles: Some(["bad role!".to_string()].into()),
        ..Default::default()
    };
    assert_eq!(
        code(admin.update_organization(&mut env, &o.org.id, &bad)),
        ErrorCode::InvalidRequest
    );
    drop(admin);
    let out = o
        .app(
            "portal",
            &secret,
            &[
                invite("pupil@x.com", Some("student"), None),
                invite("m@x.com", None, None),
            ],
        )
        .unwrap();
    assert!(out[0].is_ok());
    assert_eq!(
        out[1].as_ref().unwrap_err().code(),
        ErrorCode::Forbidden,
        "member is no longer an app role"
    );
    let changed = o
        .admin_invite(&invite("alice@school.example", Some("teacher"), None))
        .unwrap();
    assert_eq!(changed.status, InviteStatus::Added);
    assert_eq!(role_in(&o.user("alice"), &o.org.id).as_deref(), Some("teacher"));
    assert_eq!(o.user("alice").id, alice);
    // Every invite is an audit event naming its caller: the app's with the app as client.
    let events = o.invite_events();
    let by_app: Vec<_> = events
        .iter()
        .filter(|e| e.client_id.as_deref() == Some("portal"))
        .collect();
    assert_eq!(by_app.len(), 6, "{events:#?}");
    assert!(by_app.iter().all(|e| e.actor.as_deref() == Some("app:acme/portal")));
    assert!(by_app.iter().any(|e| e.detail.contains("existing member, unchanged")));
    assert!(events
        .iter()
        .any(|e| e.client_id.is_none() && e.actor.as_deref().unwrap().starts_with("admin:")));
}

/// The app-side callers of the property below.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Enabled,
    WrongSecret,
    NotEnabled,
    Registered,
    Public,
}

const EMAILS: [&str; 5] = [
    "alice@school.example",
    "carol@x.com",
    "dave@x.com",
    "new1@x.com",
    "new2@x.com",
];
const ROLES: [Option<&str>; 5] = [None, Some("member"), Some("admin"), Some("owner"), Some("teacher")];

quickcheck! {
    /// No sequence of calls an app can make with client credentials (registering itself, single and
    /// bulk invites, by enabled, disabled, registered and public clients, right or wrong secrets)
    /// changes the role of anyone who was a member, or gives anyone a role apps may not give.
    fn no_app_call_sequence_raises_a_role(ops: Vec<(u8, u8, u8, bool)>) -> TestResult {
        spec::covers("ADMIN-app-invite-bounds");
        if ops.len() > 16 {
            return TestResult::discard();
        }
        let mut o = Org::new(31);
        let mut env = Env::new(o.w.now, &mut o.w.rng);
        let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
        for (name, role) in [("carol", Some("member")), ("dave", None)] {
            let p = UserProfile { username: name.into(), email: Some(format!("{name}@x.com")), ..Default::default() };
            let u = admin.create_user(&mut env, p, None).unwrap();
            if role.is_some() {
                admin.set_membership(&mut env, &o.org.id, &u.id, role).unwrap();
            }
        }
        drop(admin);
        let before = o.roles();
        let mut registered = Vec::new();
        for (caller, email, role, bulk) in ops {
            let callers = [Caller::Enabled, Caller::WrongSecret, Caller::NotEnabled, Caller::Registered, Caller::Public];
            let (id, secret) = match callers[caller as usize % callers.len()] {
                Caller::Enabled => ("portal".to_string(), o.w.first_secret.clone()),
                Caller::WrongSecret => ("portal".to_string(), "guess".to_string()),
                Caller::NotEnabled => ("web".to_string(), o.w.web_secret.clone()),
                Caller::Public => ("spa".to_string(), String::new()),
                Caller::Registered => {
                    if registered.is_empty() || role % 2 == 0 {
                        registered.push(o.register());
                    }
                    registered[email as usize % registered.len()].clone()
                }
            };
            let row = |i: u8| invite(EMAILS[i as usize % EMAILS.len()], ROLES[role as usize % ROLES.len()], None);
            let rows = if bulk { vec![row(email), row(email.wrapping_add(1))] } else { vec![row(email)] };
            let _ = o.app(&id, &secret, &rows);
            for (user, now) in o.roles() {
                let was = before.get(&user).cloned().flatten();
                let ok = match (&was, &now) {
                    (Some(_), _) => was == now,
                    (None, None) => true,
                    (None, Some(r)) => r == "member",
                };
                if !ok {
                    return TestResult::error(format!("{user}: {was:?} -> {now:?}"));
                }
            }
        }
        TestResult::passed()
    }
}

#[test]
fn a_client_that_requires_a_licence_admits_only_licensed_users() {
    spec::covers("LICENSE-required");
    let mut o = Org::new(40);
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    let require = engine::client::ClientPatch {
        license_required: Some(true),
        ..Default::default()
    };
    assert!(
        admin
            .update_client(&mut env, "web", require)
            .unwrap()
            .client
            .license_required
    );
    let outsider = admin
        .create_user(
            &mut env,
            UserProfile {
                username: "bob".into(),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    // Assigning needs the app enabled for the organization.
    let alice = vec![o.w.alice.id.clone()];
    assert_eq!(
        code(admin.bulk_licenses(&mut env, &o.org.id, "web", &alice, &[])),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(admin.bulk_licenses(&mut env, &o.org.id, "ghost", &alice, &[])),
        ErrorCode::NotFound
    );
    drop(admin);
    // Without the licence: access_denied, as an error redirect to the registered URI.
    let txn = match o.w.authorize(&web_request(), None) {
        engine::AuthorizeOutcome::Login(p) => p.transaction,
        other => panic!("{other:?}"),
    };
    let engine::LoginOutcome::LoggedIn { next, session } = o.w.login(&txn, "alice", PASSWORD, None) else {
        panic!("login")
    };
    assert_eq!(redirect_error(&next), "access_denied");
    match &next {
        engine::AuthorizeOutcome::Redirect(r) => assert_eq!(r.target.uri(), WEB_CB),
        other => panic!("{other:?}"),
    }
    // The same browser session, asking again, is refused again (not only right after login).
    assert_eq!(
        redirect_error(&o.w.authorize(&web_request(), Some(&session.token))),
        "access_denied"
    );
    // Bulk assign: alice (a member) gets it; a non-member's row fails and changes nothing.
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    admin.set_app_access(&mut env, &o.org.id, "web", true).unwrap();
    let rows = admin
        .bulk_licenses(
            &mut env,
            &o.org.id,
            "web",
            &[o.w.alice.id.clone(), outsider.id.clone()],
            &[],
        )
        .unwrap();
    assert!(rows[0].result.is_ok());
    assert_eq!(rows[1].result.as_ref().unwrap_err().code(), ErrorCode::NotFound);
    assert!(!o.user("bob").app_licenses.contains("web"));
    drop(admin);
    let (tokens, _) = o.w.web_tokens("openid offline_access");
    let rt = tokens.refresh_token.clone().unwrap();
    // The licences are visible to apps: `app_licenses` with the organization scope.
    let (code_value, _) = o.w.code_for(&portal_request(), None);
    let creds = o.w.first_creds();
    let portal =
        o.w.token(
            &creds,
            &code_exchange(&code_value, "https://portal.example.com/cb", Some(VERIFIER)),
        )
        .unwrap();
    let info = o.w.userinfo(&portal.access_token).unwrap();
    assert_eq!(info["app_licenses"], json!(["web"]), "{info:?}");
    // Withdrawn: the next refresh is refused.
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    let rows = admin
        .bulk_licenses(&mut env, &o.org.id, "web", &[], &[o.w.alice.id.clone()])
        .unwrap();
    assert!(rows[0].result.is_ok());
    drop(admin);
    let web = o.w.web_creds();
    let refused = o.w.token(&web, &refresh_request(&rt)).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidGrant);
    // A client that does not require one admits anyone, licensed or not.
    let (out, _) = o.w.interact(&portal_request(), None);
    assert!(!code_of(&out).is_empty());
}

#[test]
fn an_invited_user_activates_the_account_with_a_single_use_expiring_link() {
    spec::covers("INVITE-activation-link");
    let mut o = Org::new(41);
    let created = o.admin_invite(&invite("new@x.com", None, None)).unwrap();
    let link = created.activation.clone().expect("a created user gets a link");
    assert!(link.token.starts_with(&format!("{}.", created.user.id)));
    assert_eq!(link.expires_at, o.w.now.plus(7 * 86_400));
    // Stored hashed: the record holds no part of the secret.
    let secret = link.token.split_once('.').unwrap().1;
    let stored = serde_json::to_string(&o.user("new@x.com")).unwrap();
    assert!(!stored.contains(secret) && stored.contains("activation"));
    // An existing user gets no link.
    let again = o.admin_invite(&invite("alice@school.example", None, None)).unwrap();
    assert!(again.activation.is_none());
    let env = Env::new(o.w.now, &mut o.w.rng);
    let info = o.w.engine.activation_info(&env, T, &link.token).unwrap();
    assert_eq!(info.username, "new@x.com");
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    let wrong = format!("{}.{}", created.user.id, "x".repeat(43));
    for bad in [wrong.as_str(), "garbage", "", &format!("../{}", link.token)] {
        assert_eq!(
            code(o.w.engine.handle_activation(&mut env, T, bad, "a new password")),
            ErrorCode::InvalidRequest,
            "{bad}"
        );
    }
    assert_eq!(
        code(o.w.engine.handle_activation(&mut env, T, &link.token, "short")),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        code(
            o.w.engine
                .handle_activation(&mut env, OTHER, &link.token, "a new password")
        ),
        ErrorCode::InvalidRequest,
        "another tenant"
    );
    let user =
        o.w.engine
            .handle_activation(&mut env, T, &link.token, "a new password")
            .unwrap();
    assert!(user.profile.email_verified && user.activation.is_none());
    // Single use.
    assert_eq!(
        code(
            o.w.engine
                .handle_activation(&mut env, T, &link.token, "another password")
        ),
        ErrorCode::InvalidRequest
    );
    // The user signs in with the password they chose.
    let txn = match o.w.authorize(&web_request(), None) {
        engine::AuthorizeOutcome::Login(p) => p.transaction,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        o.w.login(&txn, "new@x.com", "a new password", None),
        engine::LoginOutcome::LoggedIn { .. }
    ));
    // Expiry, and a new link replacing the old one; none for a user who has a password.
    let late = o.admin_invite(&invite("late@x.com", None, None)).unwrap();
    let old = late.activation.unwrap();
    o.w.advance(7 * 86_400 + 1);
    let mut env = Env::new(o.w.now, &mut o.w.rng);
    assert_eq!(
        code(o.w.engine.handle_activation(&mut env, T, &old.token, "a new password")),
        ErrorCode::InvalidRequest
    );
    let admin = o.w.engine.tenant_admin(&o.p, T).unwrap();
    let (_, fresh) = admin.issue_activation(&mut env, &late.user.id).unwrap();
    assert_eq!(code(admin.issue_activation(&mut env, &user.id)), ErrorCode::Conflict);
    drop(admin);
    assert_eq!(
        code(o.w.engine.handle_activation(&mut env, T, &old.token, "a new password")),
        ErrorCode::InvalidRequest
    );
    o.w.engine
        .handle_activation(&mut env, T, &fresh.token, "a new password")
        .unwrap();
}
