//! The server over PostgreSQL (`--store postgres://…`), on a throwaway cluster the test starts:
//! the browser flow, tokens, the Admin API and a restart, as on the embedded stores.

mod common;
use adapter_http::data_store::postgres::cluster::TempCluster;
use common::*;
use reqwest::Client;

fn secrets() -> adapter_http::system_secret::GivenSecrets {
    adapter_http::system_secret::GivenSecrets(vec![common::process::TEST_SYSTEM_SECRET.into()])
}

async fn start_on(cluster: &TempCluster) -> adapter_http::Server {
    start_with(cluster, secrets()).await.unwrap()
}

/// A first start on `cluster`, as a test server (the demo tenant made by this start).
async fn first_start(cluster: &TempCluster) -> TestServer {
    let server = start_on(cluster).await;
    TestServer {
        demo: server.demo.clone().expect("the first start makes the demo tenant"),
        iss: format!("{}/demo", server.base),
        server,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// The server's `oidc_database_round_trips_total`, read when called.
fn round_trips(t: &TestServer) -> impl Fn() -> u64 {
    let metrics = t.server.state.metrics.clone();
    move || {
        metrics
            .render(Default::default())
            .lines()
            .find_map(|l| l.strip_prefix("oidc_database_round_trips_total "))
            .unwrap()
            .parse::<u64>()
            .unwrap()
    }
}

async fn start_with(
    cluster: &TempCluster,
    secrets: adapter_http::system_secret::GivenSecrets,
) -> Result<adapter_http::Server, adapter_http::StartError> {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = adapter_http::Options::new("127.0.0.1:0", dir.path());
    opts.database_url = Some(cluster.url());
    opts.system_secrets = secrets;
    adapter_http::start(&opts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_run_over_postgresql_and_survive_a_restart() {
    let cluster = TempCluster::start().unwrap();
    let server = start_on(&cluster).await;
    let demo = server.demo.clone().expect("first start creates the demo tenant");
    let iss = format!("{}/demo", server.base);
    let t = TestServer {
        server,
        dir: tempfile::tempdir().unwrap(),
        demo,
        iss,
    };
    assert!(
        std::fs::read_dir(t.dir.path()).unwrap().next().is_none(),
        "nothing is written to a data dir"
    );
    // The browser flow, the code once, refresh rotation and reuse detection.
    let code = demo_code(&t, &browser(), "openid profile").await;
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, refreshed) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_error(
        &token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await,
        400,
        "invalid_grant",
    );
    let newer = refreshed["refresh_token"].as_str().unwrap().to_string();
    assert_error(
        &token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &newer)]).await,
        400,
        "invalid_grant",
    );
    assert_error(&exchange(&t, &code).await, 400, "invalid_grant");
    // client_credentials and the Admin API.
    let (status, cc) = token(&t, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{cc}");
    let root = root_token(&t).await;
    let (status, tenants) = call(&t, reqwest::Method::GET, "/admin/v1/tenants", Some(&root), None).await;
    assert_eq!(status, 200, "{tenants}");
    assert!(tenants.to_string().contains("\"demo\""), "{tenants}");
    // A restart on the same database: the demo is not created again and the tokens still work.
    let TestServer { server, demo, dir, .. } = t;
    server.stop().await.unwrap();
    let again = start_on(&cluster).await;
    assert!(again.demo.is_none(), "the database kept the demo tenant");
    let t = TestServer {
        iss: format!("{}/demo", again.base),
        server: again,
        dir,
        demo,
    };
    let (status, cc) = token(&t, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{cc}");
    let purged = t
        .server
        .state
        .engine
        .call(|e, _| e.purge_expired(engine::UnixTime(u64::MAX / 2)))
        .await
        .unwrap();
    assert!(purged.codes >= 1 && purged.access_tokens >= 2, "{purged:?}");
}

/// While the database is down every answer is 503 `temporarily_unavailable` with `Retry-After`
/// (never a 500), `/healthz` says so, and the server recovers by itself once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_and_the_server_recovers_by_itself() {
    let cluster = TempCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = adapter_http::Options::new("127.0.0.1:0", dir.path());
    opts.database_url = Some(cluster.url());
    opts.system_secrets = secrets();
    opts.database_pool.timeout = std::time::Duration::from_secs(1);
    let server = adapter_http::start(&opts).await.unwrap();
    let t = TestServer {
        demo: server.demo.clone().unwrap(),
        iss: format!("{}/demo", server.base),
        server,
        dir,
    };
    let root = root_token(&t).await;
    let health = || async { reqwest::get(format!("{}/healthz", t.server.base)).await.unwrap() };
    assert_eq!(health().await.status(), 200);
    assert_eq!(token(&t, &[("grant_type", "client_credentials")]).await.0, 200);

    cluster.stop().unwrap();
    let cc = Client::new()
        .post(format!("{}/token", t.iss))
        .basic_auth(&t.demo.client_id, Some(&t.demo.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(cc.status(), 503);
    assert_eq!(cc.headers()["retry-after"], "1");
    assert_eq!(
        cc.json::<serde_json::Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    let page = browser()
        .get(authorize_url(&t.iss, &t.demo.client_id, CB, "openid", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503, "the authorization page too");
    assert!(page.headers().get("location").is_none(), "and no redirect anywhere");
    // Reads in a transaction, and the listings, which scan outside one: all 503, none a 500.
    for path in [
        "/admin/v1/tenants/demo",
        "/admin/v1/tenants",
        "/admin/v1/tenants/demo/clients",
        "/admin/v1/tenants/demo/users",
        "/admin/v1/tenants/demo/audit",
        "/admin/v1/tenants/demo/keys",
        "/admin/v1/tenants/demo/organizations",
    ] {
        let (status, body) = call(&t, reqwest::Method::GET, path, Some(&root), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("temporarily_unavailable")),
            "GET {path}: {body}"
        );
    }
    let down = health().await;
    assert_eq!(down.status(), 503);
    assert!(down.headers().contains_key("retry-after"));

    cluster.start_again().unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        if token(&t, &[("grant_type", "client_credentials")]).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the server reconnects by itself");
    assert_eq!(health().await.status(), 200);
}

/// `adapter-http migrate --from sled:DIR --to postgres://…` moves a data dir into PostgreSQL: the
/// demo client and user sign in there, and a refresh token issued on sled still refreshes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_moves_into_postgresql_with_migrate() {
    let cluster = TempCluster::start().unwrap();
    let t = start().await;
    let code = demo_code(&t, &browser(), "openid").await;
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let TestServer { server, dir, demo, .. } = t;
    server.stop().await.unwrap();

    let migrate = |from: String, to: String| {
        std::process::Command::new(env!("CARGO_BIN_EXE_adapter-http"))
            .args(["migrate", "--from", &from, "--to", &to])
            .output()
            .unwrap()
    };
    let sled = format!("sled:{}", dir.path().display());
    let out = migrate(sled.clone(), cluster.url());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("copied"));
    let again = migrate(sled, cluster.url());
    assert!(!again.status.success(), "a store that is not empty is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds tenants"));

    // The keys came sealed under the data dir's own secret: another secret is refused, clearly...
    let refused = start_with(&cluster, secrets())
        .await
        .err()
        .expect("the wrong secret is refused");
    assert!(
        refused.to_string().contains("not among the system secrets given"),
        "{refused}"
    );
    // ...and the one the data dir kept opens them.
    let kept = dir.path().join(adapter_http::system_secret::FILE_NAME);
    let given = adapter_http::system_secret::GivenSecrets::gather(None, &[kept]).unwrap();
    let server = start_with(&cluster, given).await.unwrap();
    assert!(server.demo.is_none(), "the demo tenant came with the data");
    let t = TestServer {
        iss: format!("{}/demo", server.base),
        server,
        dir: tempfile::tempdir().unwrap(),
        demo,
    };
    let (status, refreshed) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, 200, "{refreshed}");
    let code = demo_code(&t, &browser(), "openid").await;
    assert_eq!(exchange(&t, &code).await.0, 200);
    drop(dir);
}

/// Database round trips per token request on the happy path (the `oidc_database_round_trips_total`
/// counter): `BEGIN` and the first reads (client, keys, the code or refresh token, and the records
/// it links to: session or family, user, epoch) in one flight; the writes with `COMMIT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_take_two_database_round_trips() {
    let cluster = TempCluster::start().unwrap();
    let t = first_start(&cluster).await;
    let trips = round_trips(&t);
    let code = demo_code(&t, &browser(), "openid offline_access").await;
    // Every pooled connection prepares its statements once: warm them all.
    for _ in 0..20 {
        assert_eq!(token(&t, &[("grant_type", "client_credentials")]).await.0, 200);
    }
    let counted = |before: u64| trips() - before;
    let before = trips();
    assert_eq!(token(&t, &[("grant_type", "client_credentials")]).await.0, 200);
    assert_eq!(
        counted(before),
        2,
        "client_credentials: client and keys, then the token record"
    );
    let before = trips();
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        counted(before),
        2,
        "code: client, keys, the code and what it points to (session, user, epoch); writes"
    );
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let before = trips();
    let (status, refreshed) = token(&t, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        counted(before),
        2,
        "refresh: client, keys, the token and what it points to (family, user, epoch); writes"
    );
}

/// Over PostgreSQL the signing keys are sealed under the system secret: a `pg_dump` (what a
/// backup holds) has no private key in any encoding, after a key rotation too; and an instance
/// without a system secret does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_dump_holds_no_private_key() {
    use common::key_scan::{contains, hex, private_key_needles};
    let cluster = TempCluster::start().unwrap();
    let refused = start_with(&cluster, Default::default())
        .await
        .err()
        .expect("no system secret is refused over PostgreSQL");
    assert!(refused.to_string().contains("needs a system secret"), "{refused}");
    let t = first_start(&cluster).await;
    let root = root_token(&t).await;
    let (status, keys) = call(
        &t,
        reqwest::Method::POST,
        "/admin/v1/tenants/demo/keys/rotate",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200, "{keys}");
    let secrets = engine::sealing::SystemSecrets::new(&[common::process::TEST_SYSTEM_SECRET]).unwrap();
    let scan = tokio::task::block_in_place(|| private_key_needles(t.server.state.engine.store(), secrets));
    assert!(
        scan.kids.len() >= 6 + 3,
        "demo's keys before and after the rotation, and system's"
    );
    let dump = cluster.dump().unwrap();
    for kid in &scan.kids {
        assert!(
            contains(&dump, &hex(kid.as_bytes())),
            "the dump holds the stored records (kid {kid} is stored in clear)"
        );
    }
    let leaks: Vec<&String> = scan
        .needles
        .iter()
        .filter(|(_, n)| contains(&dump, n))
        .map(|(what, _)| what)
        .collect();
    assert!(leaks.is_empty(), "in the dump: {leaks:#?}");
}

/// `adapter-http secrets rotate` over PostgreSQL: the keys sealed under the old secret are sealed
/// under the new one, and instances given the new secret alone start and sign with the same keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_secret_rotates_over_postgresql() {
    let cluster = TempCluster::start().unwrap();
    let server = start_on(&cluster).await;
    let jwks = |base: String| async move {
        let v: serde_json::Value = reqwest::get(format!("{base}/demo/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["keys"].clone()
    };
    let before = jwks(server.base.clone()).await;
    server.stop().await.unwrap();
    let new = "the new system secret of the PostgreSQL rotation test";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_adapter-http"))
        .args(["secrets", "rotate", "--database-url", &cluster.url()])
        .env(
            "OP_SYSTEM_SECRET",
            format!("{new},{}", common::process::TEST_SYSTEM_SECRET),
        )
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        said.contains("sealed 6 keys and 0 app secrets under the new secret"),
        "demo's and system's keys: {said}"
    );
    assert!(
        start_with(&cluster, secrets()).await.is_err(),
        "the old secret alone no longer opens them"
    );
    let only_new = adapter_http::system_secret::GivenSecrets(vec![new.into()]);
    let server = start_with(&cluster, only_new).await.unwrap();
    assert_eq!(jwks(server.base.clone()).await, before);
    server.stop().await.unwrap();
}

/// Round trips of a sign-in with a session (single sign-on) on the happy path: `/authorize` reads
/// the tenant, the client and the session (and its user, linked) in one flight, the consent in a
/// second, and writes the code with `COMMIT`; `/token` takes two; `/userinfo` reads the access
/// token's record and everything it links to (keys, client, family, user, epoch) in one flight,
/// then commits. The page branding comes from the documents' cache, not the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_sign_on_takes_three_round_trips_at_authorize_and_two_at_userinfo() {
    let cluster = TempCluster::start().unwrap();
    let t = first_start(&cluster).await;
    let trips = round_trips(&t);
    let b = browser();
    demo_code(&t, &b, "openid").await;
    // Every pooled connection prepares its statements once: warm them all.
    for _ in 0..20 {
        let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
        let code = param(&location(&b.get(&url).send().await.unwrap()), "code").unwrap();
        let (_, tokens) = exchange(&t, &code).await;
        let r = Client::new()
            .get(format!("{}/userinfo", t.iss))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let before = trips();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let r = b.get(&url).send().await.unwrap();
    assert_eq!(
        trips() - before,
        3,
        "authorize: tenant, client, session and user; consent; code"
    );
    let code = param(&location(&r), "code").unwrap();
    let before = trips();
    let (status, tokens) = exchange(&t, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(trips() - before, 2, "token");
    let before = trips();
    let r = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(trips() - before, 2, "userinfo: the token and what it links to; COMMIT");
}

/// Round trips of a password sign-in: the form's POST reads the pending request and the name's
/// index entries (linked to the user) in one flight and commits; then, after the password check,
/// the pending request, the client and the consent in one flight, and the session with `COMMIT`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sign_in_takes_four_round_trips() {
    let cluster = TempCluster::start().unwrap();
    let t = first_start(&cluster).await;
    let trips = round_trips(&t);
    // The first flow renders the tenant's page branding (then cached) and records the consent.
    demo_code(&t, &browser(), "openid").await;
    let b = browser();
    let url = authorize_url(&t.iss, &t.demo.client_id, CB, "openid", "");
    let before = trips();
    let html = b.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        trips() - before,
        2,
        "the login page: tenant and client; the pending request"
    );
    let form = [
        ("transaction", hidden(&html, "transaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", t.demo.username.clone()),
        ("password", t.demo.password.clone()),
    ];
    let before = trips();
    let r = b.post(format!("{}/login", t.iss)).form(&form).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(trips() - before, 4, "the sign-in");
}
