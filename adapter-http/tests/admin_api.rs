//! The Admin API and dynamic registration over HTTP: authentication, tenant isolation, and each
//! resource's lifecycle with its effect on the protocol endpoints.

mod common;

use common::*;
use reqwest::{Client, Method};
use serde_json::{json, Value};

#[tokio::test]
async fn admin_calls_without_an_admin_token_get_json_401_or_403() {
    let t = start().await;
    let none = call(&t, Method::GET, "/admin/v1/tenants", None, None).await;
    assert_error(&none, 401, "invalid_token");
    let junk = call(&t, Method::GET, "/admin/v1/tenants", Some("junk"), None).await;
    assert_error(&junk, 401, "invalid_token");
    let r = Client::new()
        .get(format!("{}/admin/v1/tenants", t.server.base))
        .send()
        .await
        .unwrap();
    assert!(r
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    // The demo client's own client-credentials token has no admin scope.
    let (_, plain) = cc_token(
        &format!("{}/token", t.iss),
        &t.demo.client_id,
        &t.demo.client_secret,
        "openid",
    )
    .await;
    let plain = plain["access_token"].as_str().unwrap();
    assert_error(
        &call(&t, Method::GET, "/admin/v1/tenants", Some(plain), None).await,
        403,
        "insufficient_scope",
    );
    // Asking for the admin scope with a client that may not have it is invalid_scope.
    let (status, body) = cc_token(
        &format!("{}/token", t.iss),
        &t.demo.client_id,
        &t.demo.client_secret,
        "admin",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    // Malformed bodies are JSON errors too.
    let root = root_token(&t).await;
    let r = Client::new()
        .post(format!("{}/admin/v1/tenants", t.server.base))
        .bearer_auth(&root)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn tenant_admins_cannot_touch_other_tenants() {
    let t = start().await;
    let root = root_token(&t).await;
    let created = call(
        &t,
        Method::POST,
        "/admin/v1/tenants",
        Some(&root),
        Some(json!({"slug": "acme", "display_name": "Acme"})),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["issuer"], format!("{}/acme", t.server.base));
    assert_error(
        &call(
            &t,
            Method::POST,
            "/admin/v1/tenants",
            Some(&root),
            Some(json!({"slug": "acme", "display_name": "Again"})),
        )
        .await,
        409,
        "conflict",
    );
    assert_error(
        &call(
            &t,
            Method::POST,
            "/admin/v1/tenants",
            Some(&root),
            Some(json!({"slug": "admin", "display_name": "X"})),
        )
        .await,
        400,
        "invalid_request",
    );
    // A tenant admin client for acme, created by the platform admin.
    let admin_client = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/acme/clients",
        Some(&root),
        Some(json!({"client_id": "acme-admin", "name": "Acme admin", "grant_types": ["client_credentials"], "allowed_scopes": ["admin"]})),
    )
    .await;
    assert_eq!(admin_client.0, 201, "{}", admin_client.1);
    let secret = admin_client.1["client_secret"].as_str().unwrap();
    let (_, tok) = cc_token(&format!("{}/acme/token", t.server.base), "acme-admin", secret, "admin").await;
    let acme = tok["access_token"].as_str().unwrap();
    assert_eq!(
        call(&t, Method::GET, "/admin/v1/tenants/acme", Some(acme), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&t, Method::GET, "/admin/v1/tenants/acme/clients", Some(acme), None)
            .await
            .0,
        200
    );
    for (m, path) in [
        (Method::GET, "/admin/v1/tenants/demo"),
        (Method::GET, "/admin/v1/tenants/demo/clients"),
        (Method::GET, "/admin/v1/tenants/demo/users"),
        (Method::GET, "/admin/v1/tenants/demo/audit"),
        (Method::POST, "/admin/v1/tenants/demo/keys/rotate"),
        (Method::DELETE, "/admin/v1/tenants/demo"),
        (Method::GET, "/admin/v1/tenants"),
        (Method::GET, "/admin/v1/tenants/nonexistent"),
    ] {
        assert_error(&call(&t, m.clone(), path, Some(acme), None).await, 403, "forbidden");
    }
    assert_error(
        &call(
            &t,
            Method::POST,
            "/admin/v1/tenants",
            Some(acme),
            Some(json!({"slug": "evil", "display_name": "E"})),
        )
        .await,
        403,
        "forbidden",
    );
    // The platform admin sees 404 for what does not exist.
    assert_error(
        &call(&t, Method::GET, "/admin/v1/tenants/nonexistent", Some(&root), None).await,
        404,
        "not_found",
    );
    let list = call(&t, Method::GET, "/admin/v1/tenants?limit=2", Some(&root), None).await;
    assert_eq!(list.1["items"].as_array().unwrap().len(), 2);
    let next = list.1["next_cursor"].as_str().unwrap();
    let rest = call(
        &t,
        Method::GET,
        &format!("/admin/v1/tenants?limit=2&cursor={next}"),
        Some(&root),
        None,
    )
    .await;
    let mut slugs: Vec<&str> = list.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["slug"].as_str().unwrap())
        .collect();
    slugs.extend(
        rest.1["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["slug"].as_str().unwrap()),
    );
    assert_eq!(slugs, ["acme", "demo", "system"]);
    // Deleting the tenant kills its admin's token.
    assert_eq!(
        call(&t, Method::DELETE, "/admin/v1/tenants/acme", Some(&root), None)
            .await
            .0,
        200
    );
    assert_error(
        &call(&t, Method::GET, "/admin/v1/tenants/acme", Some(acme), None).await,
        401,
        "invalid_token",
    );
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn client_lifecycle_reaches_the_token_endpoint() {
    let t = start().await;
    let root = root_token(&t).await;
    let base = "/admin/v1/tenants/demo/clients";
    let bad = call(
        &t,
        Method::POST,
        base,
        Some(&root),
        Some(json!({"name": "X", "redirect_uris": ["http://evil.example/cb"]})),
    )
    .await;
    assert_error(&bad, 400, "invalid_redirect_uri");
    let svc = call(
        &t,
        Method::POST,
        base,
        Some(&root),
        Some(json!({"client_id": "svc", "name": "Service", "grant_types": ["client_credentials"]})),
    )
    .await;
    assert_eq!(svc.0, 201, "{}", svc.1);
    let secret = svc.1["client_secret"].as_str().unwrap().to_string();
    let got = call(&t, Method::GET, &format!("{base}/svc"), Some(&root), None).await;
    assert!(got.1.get("client_secret").is_none(), "the secret is shown once");
    let token_ep = format!("{}/token", t.iss);
    assert_eq!(cc_token(&token_ep, "svc", &secret, "openid").await.0, 200);
    let rotated = call(&t, Method::POST, &format!("{base}/svc/secret"), Some(&root), None).await;
    let new_secret = rotated.1["client_secret"].as_str().unwrap().to_string();
    assert_eq!(
        cc_token(&token_ep, "svc", &secret, "openid").await.1["error"],
        "invalid_client"
    );
    assert_eq!(cc_token(&token_ep, "svc", &new_secret, "openid").await.0, 200);
    let patched = call(
        &t,
        Method::PATCH,
        &format!("{base}/svc"),
        Some(&root),
        Some(json!({"name": "Renamed", "access_token_ttl": 600})),
    )
    .await;
    assert_eq!(
        (patched.1["name"].as_str(), patched.1["access_token_ttl"].as_u64()),
        (Some("Renamed"), Some(600))
    );
    assert_eq!(
        cc_token(&token_ep, "svc", &new_secret, "openid").await.1["expires_in"],
        600
    );
    assert_eq!(
        call(&t, Method::POST, &format!("{base}/svc/deactivate"), Some(&root), None)
            .await
            .1["active"],
        false
    );
    assert_eq!(
        cc_token(&token_ep, "svc", &new_secret, "openid").await.1["error"],
        "invalid_client"
    );
    assert_eq!(
        call(&t, Method::POST, &format!("{base}/svc/activate"), Some(&root), None)
            .await
            .1["active"],
        true
    );
    assert_eq!(cc_token(&token_ep, "svc", &new_secret, "openid").await.0, 200);
    let list = call(&t, Method::GET, base, Some(&root), None).await;
    assert!(list.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == "svc"));
    assert_eq!(
        call(&t, Method::DELETE, &format!("{base}/svc"), Some(&root), None)
            .await
            .0,
        200
    );
    assert_error(
        &call(&t, Method::GET, &format!("{base}/svc"), Some(&root), None).await,
        404,
        "not_found",
    );
    assert_eq!(
        cc_token(&token_ep, "svc", &new_secret, "openid").await.1["error"],
        "invalid_client"
    );
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn users_sessions_and_consents_are_managed_and_disabling_kills_tokens() {
    let t = start().await;
    let root = root_token(&t).await;
    let users = "/admin/v1/tenants/demo/users";
    let created = call(
        &t,
        Method::POST,
        users,
        Some(&root),
        Some(json!({"username": "jane", "password": "jane's password", "email": "jane@school.com", "given_name": "Jane"})),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);
    let jane = created.1["id"].as_str().unwrap().to_string();
    assert!(created.1.get("password").is_none() && created.1.get("password_hash").is_none());
    let dup = call(
        &t,
        Method::POST,
        users,
        Some(&root),
        Some(json!({"username": "JANE", "password": "whatever123"})),
    )
    .await;
    assert_error(&dup, 409, "conflict");
    let page = call(&t, Method::GET, &format!("{users}?limit=1"), Some(&root), None).await;
    assert_eq!(page.1["items"].as_array().unwrap().len(), 1);
    assert!(page.1["next_cursor"].is_string());
    let patched = call(
        &t,
        Method::PATCH,
        &format!("{users}/{jane}"),
        Some(&root),
        Some(json!({"family_name": "Smith"})),
    )
    .await;
    assert_eq!(patched.1["family_name"], "Smith");
    assert_eq!(
        call(
            &t,
            Method::PUT,
            &format!("{users}/{jane}/password"),
            Some(&root),
            Some(json!({"password": "a brand new one"}))
        )
        .await
        .0,
        200
    );
    // Jane logs in to the demo client and gets tokens.
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid profile offline_access", "");
    let r = browse_to_redirect(&b, &t.iss, &url, "jane", "a brand new one").await;
    let code = param(&location(&r), "code").unwrap();
    let (_, tokens) = exchange(&t, &code).await;
    let at = tokens["access_token"].as_str().unwrap();
    let sessions = call(&t, Method::GET, &format!("{users}/{jane}/sessions"), Some(&root), None).await;
    assert_eq!(sessions.1.as_array().unwrap().len(), 1);
    let consents = call(&t, Method::GET, &format!("{users}/{jane}/consents"), Some(&root), None).await;
    assert_eq!(consents.1[0]["client_id"], t.demo.client_id, "{}", consents.1);
    // Disabling ends the session and kills the tokens.
    assert_eq!(
        call(&t, Method::POST, &format!("{users}/{jane}/disable"), Some(&root), None)
            .await
            .1["disabled"],
        true
    );
    let ui = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 401);
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        token(&t, &[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .await
            .1["error"],
        "invalid_grant"
    );
    assert!(
        call(&t, Method::GET, &format!("{users}/{jane}/sessions"), Some(&root), None)
            .await
            .1
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        call(&t, Method::POST, &format!("{users}/{jane}/enable"), Some(&root), None)
            .await
            .1["disabled"],
        false
    );
    let consent = format!("{users}/{jane}/consents/{}", t.demo.client_id);
    assert_eq!(call(&t, Method::DELETE, &consent, Some(&root), None).await.0, 200);
    assert_error(
        &call(&t, Method::DELETE, &consent, Some(&root), None).await,
        404,
        "not_found",
    );
    assert_eq!(
        call(&t, Method::DELETE, &format!("{users}/{jane}"), Some(&root), None)
            .await
            .0,
        200
    );
    assert_error(
        &call(&t, Method::GET, &format!("{users}/{jane}"), Some(&root), None).await,
        404,
        "not_found",
    );
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn organizations_invites_and_licences_follow_the_calimatic_rules() {
    let t = start().await;
    let root = root_token(&t).await;
    let org = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/organizations",
        Some(&root),
        Some(json!({"name": "Springfield Elementary"})),
    )
    .await;
    assert_eq!(org.0, 201, "{}", org.1);
    let org_id = org.1["id"].as_str().unwrap().to_string();
    let access = call(
        &t,
        Method::PUT,
        &format!("/admin/v1/organizations/{org_id}/apps/{}", t.demo.client_id),
        Some(&root),
        Some(json!({"isEnabled": true})),
    )
    .await;
    assert_eq!(access.1["app_access"][0]["isEnabled"], true, "{}", access.1);
    // The app invites with its own credentials: it licenses itself.
    let invite = Client::new()
        .post(format!("{}/admin/v1/organizations/{org_id}/users", t.server.base))
        .header("x-client-id", &t.demo.client_id)
        .header("x-client-secret", &t.demo.client_secret)
        .json(&json!({"email": "user@example.com", "firstName": "Jane", "lastName": "Smith", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invite.status(), 201);
    let invited: Value = invite.json().await.unwrap();
    assert_eq!(invited["licenses"], json!([t.demo.client_id]));
    assert_eq!(invited["status"], "created");
    let wrong = Client::new()
        .post(format!("{}/admin/v1/organizations/{org_id}/users", t.server.base))
        .header("x-client-id", &t.demo.client_id)
        .header("x-client-secret", "wrong")
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // Bulk: each row reported; the bad row changes nothing.
    let bulk = Client::new()
        .post(format!(
            "{}/admin/v1/organizations/{org_id}/users/bulk-invite",
            t.server.base
        ))
        .bearer_auth(&root)
        .json(&json!({"users": [
            {"email": "user1@example.com", "firstName": "User", "lastName": "One", "role": "member"},
            {"email": "broken", "role": "member"},
            {"email": "user2@example.com", "role": "bad role!"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status(), 200);
    let report: Value = bulk.json().await.unwrap();
    assert_eq!(
        (report["succeeded"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(2)),
        "{report}"
    );
    assert_eq!(
        report["results"][0]["result"]["licenses"],
        json!([t.demo.client_id]),
        "admin, no apps: all enabled apps"
    );
    assert_eq!(report["results"][1]["error"], "invalid_request");
    let members = call(
        &t,
        Method::GET,
        &format!("/admin/v1/organizations/{org_id}/members"),
        Some(&root),
        None,
    )
    .await;
    let emails: Vec<&str> = members
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(!emails.contains(&"user2@example.com"));
    // Membership feeds the organization claims of the demo user.
    let demo_id = demo_user_id(&t, &root).await;
    let set = call(
        &t,
        Method::PUT,
        &format!("/admin/v1/organizations/{org_id}/members/{demo_id}"),
        Some(&root),
        Some(json!({"role": "teacher"})),
    )
    .await;
    assert_eq!(set.0, 200, "{}", set.1);
    let b = browser();
    let code = demo_code(&t, &b, "openid organization").await;
    let (_, tokens) = exchange(&t, &code).await;
    let info: Value = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["organization_memberships"]
        .as_array()
        .unwrap()
        .contains(&json!({"organization_id": org_id, "role": "teacher"})));
    t.server.stop().await.unwrap();
}

/// POSTs `body` to an invite route with an app's `x-client-id` / `x-client-secret`.
async fn app_invite(t: &TestServer, path: &str, id: &str, secret: &str, body: Value) -> (u16, Value) {
    let r = Client::new()
        .post(format!("{}{path}", t.server.base))
        .header("x-client-id", id)
        .header("x-client-secret", secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_app_cannot_make_anyone_an_organization_admin() {
    // The reproduction of the privilege escalation: a client registered anonymously, and the
    // static demo client that the organization never enabled, invite an existing member as admin.
    let t = start().await;
    let root = root_token(&t).await;
    let org_id = demo_org(&t, &root, "Org").await;
    let users = format!("/admin/v1/organizations/{org_id}/users");
    let bulk = format!("{users}/bulk-invite");
    let member = call(
        &t,
        Method::POST,
        &users,
        Some(&root),
        Some(json!({"email": "member@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(member.0, 201, "{}", member.1);
    let members_path = format!("/admin/v1/organizations/{org_id}/members");
    let members = || call(&t, Method::GET, &members_path, Some(&root), None);
    let before = members().await.1;
    let reg: Value = Client::new()
        .post(format!("{}/register", t.iss))
        .json(&json!({"redirect_uris": ["https://rp.example/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (dyn_id, dyn_secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let admin_row = json!({"email": "member@example.com", "role": "admin"});
    for (id, secret) in [
        (dyn_id, dyn_secret),
        (t.demo.client_id.as_str(), t.demo.client_secret.as_str()),
    ] {
        assert_error(
            &app_invite(&t, &users, id, secret, admin_row.clone()).await,
            403,
            "forbidden",
        );
        let rows = json!({"users": [admin_row, {"email": "brand-new@example.com", "role": "member"}]});
        assert_error(&app_invite(&t, &bulk, id, secret, rows).await, 403, "forbidden");
        let demote = json!({"users": [{"email": "member@example.com", "role": "guest"}]});
        assert_error(&app_invite(&t, &bulk, id, secret, demote).await, 403, "forbidden");
    }
    assert_eq!(members().await.1, before, "no role changed, no account created");
    // Enabled, the demo client still cannot give `admin`, and leaves a member as they are.
    let enable = format!("/admin/v1/organizations/{org_id}/apps/{}", t.demo.client_id);
    let on = call(&t, Method::PUT, &enable, Some(&root), Some(json!({"isEnabled": true}))).await;
    assert_eq!(on.1["app_roles"], json!(["member"]), "{}", on.1);
    let (id, secret) = (t.demo.client_id.as_str(), t.demo.client_secret.as_str());
    assert_error(
        &app_invite(&t, &users, id, secret, admin_row.clone()).await,
        403,
        "forbidden",
    );
    let rows =
        json!({"users": [admin_row, {"email": "member@example.com"}, {"email": "new@example.com", "role": "member"}]});
    let report = app_invite(&t, &bulk, id, secret, rows).await;
    assert_eq!(report.0, 200, "{}", report.1);
    let results = &report.1["results"];
    assert_eq!(results[0]["error"], "forbidden", "{report:?}");
    assert_eq!(results[1]["result"]["status"], "existing");
    assert_eq!(results[1]["result"]["licenses"], json!([]));
    assert_eq!(results[2]["result"]["status"], "created");
    assert_eq!(results[2]["result"]["licenses"], json!([t.demo.client_id]));
    let after = members().await.1;
    let role_of = |m: &Value, email: &str| {
        m.as_array()
            .unwrap()
            .iter()
            .find(|x| x["user"]["email"] == email)
            .map(|x| x["role"].clone())
    };
    assert_eq!(role_of(&after, "member@example.com"), Some(json!("member")));
    assert_eq!(role_of(&after, "new@example.com"), Some(json!("member")));
    // The audit log names the app on each of its invites, refused ones included.
    let log = call(
        &t,
        Method::GET,
        "/admin/v1/tenants/demo/audit?limit=200",
        Some(&root),
        None,
    )
    .await;
    let invites: Vec<&Value> = log.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "organization_invite")
        .collect();
    let by = |client: &str| invites.iter().filter(|e| e["client_id"] == client).count();
    assert_eq!(by(dyn_id), 3, "{invites:#?}");
    assert_eq!(by(&t.demo.client_id), 3 + 4, "{invites:#?}");
    // An admin widens what apps may give; the admin's own invites still change roles.
    let patch = call(
        &t,
        Method::PATCH,
        &format!("/admin/v1/organizations/{org_id}"),
        Some(&root),
        Some(json!({"app_roles": ["member", "teacher"]})),
    )
    .await;
    assert_eq!(patch.1["app_roles"], json!(["member", "teacher"]), "{}", patch.1);
    assert_eq!(patch.1["name"], "Org", "a patch leaves out what it does not name");
    let teacher = app_invite(
        &t,
        &users,
        id,
        secret,
        json!({"email": "t@example.com", "role": "teacher"}),
    )
    .await;
    assert_eq!(teacher.0, 201, "{}", teacher.1);
    let promoted = call(&t, Method::POST, &users, Some(&root), Some(admin_row.clone())).await;
    assert_eq!(promoted.1["status"], "added", "{}", promoted.1);
    assert_eq!(role_of(&members().await.1, "member@example.com"), Some(json!("admin")));
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_requires_a_licence_refuses_unassigned_users_until_bulk_assigned() {
    let t = start().await;
    let root = root_token(&t).await;
    let org_id = demo_org(&t, &root, "Org").await;
    let client = format!("/admin/v1/tenants/demo/clients/{}", t.demo.client_id);
    let patched = call(
        &t,
        Method::PATCH,
        &client,
        Some(&root),
        Some(json!({"license_required": true})),
    )
    .await;
    assert_eq!(patched.1["license_required"], true, "{}", patched.1);
    let demo_id = demo_user_id(&t, &root).await;
    // Not assigned: access_denied, redirected to the registered URI with state and iss.
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let r = browse_to_redirect(&browser(), &t.iss, &url, &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    assert!(loc.starts_with(CB), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("st-1"));
    // Bulk assign: the app must be enabled; the user must be a member.
    let bulk = format!("/admin/v1/organizations/{org_id}/licenses/{}", t.demo.client_id);
    let assign = json!({"assign": [demo_id]});
    assert_error(
        &call(&t, Method::POST, &bulk, Some(&root), Some(assign.clone())).await,
        403,
        "forbidden",
    );
    let enable = format!("/admin/v1/organizations/{org_id}/apps/{}", t.demo.client_id);
    call(&t, Method::PUT, &enable, Some(&root), Some(json!({"isEnabled": true}))).await;
    let report = call(&t, Method::POST, &bulk, Some(&root), Some(assign.clone())).await;
    assert_eq!(
        (report.1["succeeded"].as_u64(), report.1["failed"].as_u64()),
        (Some(0), Some(1)),
        "{}",
        report.1
    );
    assert_eq!(report.1["results"][0]["error"], "not_found", "not a member yet");
    let member = format!("/admin/v1/organizations/{org_id}/members/{demo_id}");
    call(&t, Method::PUT, &member, Some(&root), Some(json!({"role": "member"}))).await;
    let report = call(&t, Method::POST, &bulk, Some(&root), Some(assign)).await;
    assert_eq!(report.1["succeeded"], 1, "{}", report.1);
    // Assigned: the flow completes, and the claim lists the licence.
    let code = demo_code(&t, &browser(), "openid organization").await;
    let (_, tokens) = exchange(&t, &code).await;
    let info: Value = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["app_licenses"], json!([t.demo.client_id]), "{info}");
    // Withdrawn: the refresh token stops working.
    let report = call(
        &t,
        Method::POST,
        &bulk,
        Some(&root),
        Some(json!({"withdraw": [demo_id]})),
    )
    .await;
    assert_eq!(report.1["results"][0]["action"], "withdraw");
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (s, e) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn keys_rotate_and_the_audit_log_pages() {
    let t = start().await;
    let root = root_token(&t).await;
    let b = browser();
    let code = demo_code(&t, &b, "openid").await;
    let (_, tokens) = exchange(&t, &code).await;
    let jwks = |t: &TestServer| {
        let url = format!("{}/jwks", t.iss);
        async move {
            Client::new()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["keys"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(jwks(&t).await, 3, "RS256, ES256, ES384");
    let keys = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/keys/rotate",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(keys.0, 200, "{}", keys.1);
    assert_eq!(
        keys.1
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["active"] == true)
            .count(),
        3
    );
    assert_eq!(
        jwks(&t).await,
        6,
        "old keys stay published (and the cached JWKS shows the new ones)"
    );
    let ui = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200, "tokens signed before the rotation still verify");
    let mut kinds = Vec::new();
    let mut url = "/admin/v1/tenants/demo/audit?limit=2".to_string();
    loop {
        let page = call(&t, Method::GET, &url, Some(&root), None).await;
        kinds.extend(
            page.1["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap().to_string()),
        );
        match page.1["next_cursor"].as_str() {
            Some(c) => url = format!("/admin/v1/tenants/demo/audit?limit=2&cursor={c}"),
            None => break,
        }
    }
    for k in ["login_succeeded", "token_issued", "admin_change"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing in {kinds:?}");
    }
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn dynamic_registration_over_http() {
    let t = start().await;
    let root = root_token(&t).await;
    let disco: Value = Client::new()
        .get(format!("{}/.well-known/openid-configuration", t.iss))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disco["registration_endpoint"], format!("{}/register", t.iss));
    // The Calimatic seed's registration request, as written.
    let r = Client::new()
        .post(format!("{}/register", t.iss))
        .json(&json!({
            "client_name": "My App",
            "redirect_uris": ["https://myapp.com/auth/callback", "http://localhost:3001/auth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile email organization"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let reg: Value = r.json().await.unwrap();
    assert!(
        reg["client_secret"].is_string() && reg["registration_access_token"].is_string(),
        "{reg}"
    );
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let read = Client::new().get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        Client::new()
            .get(uri)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let put = Client::new()
        .put(uri)
        .bearer_auth(rat)
        .json(&json!({"client_id": reg["client_id"], "redirect_uris": ["https://myapp.com/cb2"], "client_name": "My App 2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(
        put.json::<Value>().await.unwrap()["redirect_uris"],
        json!(["https://myapp.com/cb2"])
    );
    // Strings that are not the URI a parser would write back are refused, not normalised: a
    // redirect goes to exactly what was registered.
    for uri in [
        "http://myapp.com/cb",
        "https://rp.example/c\nb",
        " https://rp.example/cb",
        "https://user:pw@rp.example/cb",
        "https://rp.example/a/../cb",
        "*",
        "https://*.rp.example/cb",
    ] {
        let bad = Client::new()
            .post(format!("{}/register", t.iss))
            .json(&json!({"redirect_uris": [uri]}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400, "{uri:?}");
        assert_eq!(
            bad.json::<Value>().await.unwrap()["error"],
            "invalid_redirect_uri",
            "{uri:?}"
        );
    }
    assert_eq!(
        Client::new()
            .delete(uri)
            .bearer_auth(rat)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        Client::new().get(uri).bearer_auth(rat).send().await.unwrap().status(),
        401
    );
    // Policy: initial access token.
    let patched = call(
        &t,
        Method::PATCH,
        "/admin/v1/tenants/demo",
        Some(&root),
        Some(json!({"registration_policy": "initial_access_token"})),
    )
    .await;
    assert_eq!(patched.1["registration_policy"], "initial_access_token");
    let body = json!({"redirect_uris": ["https://rp.example/cb"]});
    let no_token = Client::new()
        .post(format!("{}/register", t.iss))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let iat = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/initial-access-tokens",
        Some(&root),
        Some(json!({})),
    )
    .await;
    let iat = iat.1["initial_access_token"].as_str().unwrap().to_string();
    let ok = Client::new()
        .post(format!("{}/register", t.iss))
        .bearer_auth(&iat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    // Closed: refused, and discovery stops advertising it.
    call(
        &t,
        Method::PATCH,
        "/admin/v1/tenants/demo",
        Some(&root),
        Some(json!({"registration_policy": "closed"})),
    )
    .await;
    let closed = Client::new()
        .post(format!("{}/register", t.iss))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 403);
    let disco: Value = Client::new()
        .get(format!("{}/.well-known/openid-configuration", t.iss))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(disco.get("registration_endpoint").is_none());
    t.server.stop().await.unwrap();
}

/// Ending a user's sessions through the Admin API tells each client that registered a
/// `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0), as RP-initiated logout does.
#[tokio::test]
async fn ending_sessions_as_an_admin_sends_back_channel_logout_tokens() {
    use poem::{handler, post, web::Data, EndpointExt, Route};
    use std::sync::{Arc, Mutex};
    type Received = Arc<Mutex<Vec<String>>>;
    #[handler]
    fn receive(body: String, got: Data<&Received>) -> &'static str {
        got.lock().unwrap().push(body);
        "ok"
    }
    let got: Received = Arc::default();
    use poem::listener::{Acceptor, Listener};
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let rp = format!("http://{}", acceptor.local_addr()[0].as_socket_addr().unwrap());
    let app = Route::new().at("/bc", post(receive)).data(got.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));

    let t = start_tuned(|o| o.allow_private_fetch = true).await;
    let root = root_token(&t).await;
    let created = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(json!({"client_id": "bc-app", "name": "BC App", "redirect_uris": [CB],
                    "backchannel_logout_uri": format!("{rp}/bc")})),
    )
    .await;
    assert_eq!(created.0, 201, "{}", created.1);
    let b = browser();
    let url = authorize_url(&t.iss, "bc-app", CB, "openid", "");
    let r = browse_to_redirect(&b, &t.iss, &url, &t.demo.username, &t.demo.password).await;
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));
    let users = call(&t, Method::GET, "/admin/v1/tenants/demo/users", Some(&root), None).await;
    let user = users.1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == t.demo.username.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing is sent before the sessions end"
    );
    let ended = call(
        &t,
        Method::DELETE,
        &format!("/admin/v1/tenants/demo/users/{user}/sessions"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(ended.0, 200, "{}", ended.1);
    let posts = got.lock().unwrap().clone();
    assert_eq!(
        posts.len(),
        1,
        "one logout token for the one client in the session: {posts:?}"
    );
    let form: std::collections::BTreeMap<String, String> =
        url::form_urlencoded::parse(posts[0].as_bytes()).into_owned().collect();
    let token = form["logout_token"].as_str();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&<base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(payload).unwrap())
            .unwrap();
    assert_eq!(claims["iss"], t.iss.as_str());
    assert_eq!(claims["aud"], "bc-app");
    assert_eq!(claims["sub"], user.as_str());
    assert!(claims["sid"].is_string() && claims.get("nonce").is_none(), "{claims}");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    t.server.stop().await.unwrap();
}

/// A real SMTP server on loopback (aiosmtpd, pinned, in its own venv) writing to a maildir.
struct SmtpSink {
    child: std::process::Child,
    maildir: tempfile::TempDir,
    port: u16,
    python: std::path::PathBuf,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let venv = pinned_venv("smtp-venv", &["aiosmtpd==1.4.6"]);
        let python = venv.join("bin/python");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(&python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("box"))
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return SmtpSink {
                    child,
                    maildir,
                    port,
                    python,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start");
    }

    /// Waits for the `n`th message and returns its To, Subject and decoded body.
    async fn message(&self, n: usize) -> (String, String, String) {
        let new = self.maildir.path().join("box/new");
        for _ in 0..100 {
            let mut files: Vec<_> = std::fs::read_dir(&new)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
            if let Some(file) = files.get(n) {
                let script = "import email,sys\nm=email.message_from_binary_file(open(sys.argv[1],'rb'))\nprint(m['To']);print(m['Subject']);print(m.get_payload(decode=True).decode())";
                let out = std::process::Command::new(&self.python)
                    .args(["-c", script])
                    .arg(file)
                    .output()
                    .unwrap();
                let text = String::from_utf8(out.stdout).unwrap();
                let mut lines = text.splitn(3, '\n');
                let (to, subject, body) = (lines.next().unwrap(), lines.next().unwrap(), lines.next().unwrap_or(""));
                return (to.into(), subject.into(), body.into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no message {n} in {}", new.display());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_invited_user_gets_a_mail_follows_its_link_sets_a_password_and_signs_in() {
    spec::covers("INVITE-activation-link");
    let sink = SmtpSink::start();
    let port = sink.port;
    let t = start_tuned(|o| {
        o.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        o.smtp_from = "no-reply@id.example".into();
    })
    .await;
    let root = root_token(&t).await;
    let org_id = demo_org(&t, &root, "Springfield").await;
    let users = format!("/admin/v1/organizations/{org_id}/users");
    let invited = call(
        &t,
        Method::POST,
        &users,
        Some(&root),
        Some(json!({"email": "new.user@example.com", "firstName": "New"})),
    )
    .await;
    assert_eq!(invited.0, 201, "{}", invited.1);
    assert_eq!(invited.1["activation"]["delivery"], "email", "{}", invited.1);
    assert!(
        invited.1["activation"]["link"].is_null(),
        "a mailed link is not also returned"
    );
    let (to, subject, body) = sink.message(0).await;
    assert!(to.contains("new.user@example.com"), "{to}");
    assert!(subject.contains("Springfield"), "{subject}");
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/activate?token=", t.iss)))
        .unwrap_or_else(|| panic!("no link in:\n{body}"))
        .to_string();
    // The browser follows the link, types two different passwords, then the same one twice.
    let b = browser();
    let page = b.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("new.user@example.com"), "{html}");
    let post = |pw: &str, confirm: &str, html: &str| {
        let form = [
            ("token", hidden(html, "token")),
            ("csrf", hidden(html, "csrf")),
            ("password", pw.to_string()),
            ("password_confirm", confirm.to_string()),
        ];
        b.post(format!("{}/activate", t.iss)).form(&form).send()
    };
    let differ = post("my new password", "my new passw0rd", &html).await.unwrap();
    assert!(differ.text().await.unwrap().contains("differ"));
    let short = post("short", "short", &html).await.unwrap();
    assert!(short.text().await.unwrap().contains("8 to 1024"));
    let done = post("my new password", "my new password", &html).await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Your account is ready"));
    // Used up.
    let again = b.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("invalid, used or expired"));
    // The new user signs in to the demo app with that password.
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid email", "");
    let r = browse_to_redirect(&browser(), &t.iss, &url, "new.user@example.com", "my new password").await;
    let code = param(&location(&r), "code").expect("a code");
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("new.user@example.com"), Some(true))
    );
    t.server.stop().await.unwrap();
}

#[tokio::test]
async fn without_smtp_an_admin_gets_the_link_and_an_app_never_does() {
    let t = start().await;
    let root = root_token(&t).await;
    let org_id = demo_org(&t, &root, "Org").await;
    let users = format!("/admin/v1/organizations/{org_id}/users");
    let by_admin = call(
        &t,
        Method::POST,
        &users,
        Some(&root),
        Some(json!({"email": "a@example.com"})),
    )
    .await;
    assert_eq!(by_admin.1["activation"]["delivery"], "link", "{}", by_admin.1);
    let link = by_admin.1["activation"]["link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&format!("{}/activate?token=", t.iss)));
    let enable = format!("/admin/v1/organizations/{org_id}/apps/{}", t.demo.client_id);
    call(&t, Method::PUT, &enable, Some(&root), Some(json!({"isEnabled": true}))).await;
    let by_app = app_invite(
        &t,
        &users,
        &t.demo.client_id,
        &t.demo.client_secret,
        json!({"email": "b@example.com"}),
    )
    .await;
    assert_eq!(by_app.1["activation"]["delivery"], "pending", "{}", by_app.1);
    assert!(by_app.1["activation"]["link"].is_null());
    // An administrator issues the app-invited user's link; the admin-invited user's old one then
    // still works, and a re-issue for it replaces it.
    let b_id = by_app.1["user_id"].as_str().unwrap();
    let issued = call(
        &t,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{b_id}/activation"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(issued.1["delivery"], "link", "{}", issued.1);
    assert_eq!(
        browser()
            .get(issued.1["link"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let a_id = by_admin.1["user_id"].as_str().unwrap();
    let reissued = call(
        &t,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{a_id}/activation"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(browser().get(&link).send().await.unwrap().status(), 400, "replaced");
    assert_eq!(
        browser()
            .get(reissued.1["link"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A user who has a password gets none.
    let demo_id = demo_user_id(&t, &root).await;
    let conflict = call(
        &t,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{demo_id}/activation"),
        Some(&root),
        None,
    )
    .await;
    assert_error(&conflict, 409, "conflict");
    t.server.stop().await.unwrap();
}

/// An SMTP server that accepts and never answers costs a bulk invite one timeout, not one per
/// row: after the first failed mail the rest are reported `email_failed` at once, and an
/// administrator gets every link to pass on.
#[tokio::test]
async fn a_silent_smtp_server_costs_a_bulk_invite_one_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    let t = start_tuned(|o| o.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    let root = root_token(&t).await;
    let org_id = demo_org(&t, &root, "Org").await;
    let rows = json!({"users": [{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": "c@example.com"}]});
    let bulk = format!("/admin/v1/organizations/{org_id}/users/bulk-invite");
    let report = call(&t, Method::POST, &bulk, Some(&root), Some(rows)).await;
    assert_eq!(report.1["succeeded"], 3, "{}", report.1);
    for row in report.1["results"].as_array().unwrap() {
        assert_eq!(row["result"]["activation"]["delivery"], "email_failed", "{row}");
        assert!(row["result"]["activation"]["link"]
            .as_str()
            .unwrap()
            .contains("/activate?token="));
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one attempt, not three"
    );
    t.server.stop().await.unwrap();
}
