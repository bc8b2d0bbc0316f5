//! The server over PostgreSQL (`--store postgres://…`), on a throwaway cluster the test starts:
//! the browser flow, tokens, the Admin API and a restart, as on the embedded stores.

mod common;
use adapter_http::data_store::postgres::cluster::TempCluster;
use common::*;

async fn start_on(cluster: &TempCluster) -> adapter_http::Server {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = adapter_http::Options::new("127.0.0.1:0", dir.path());
    opts.database_url = Some(cluster.url());
    adapter_http::start(&opts).await.unwrap()
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
