//! Three instances of the real binary over one PostgreSQL (a throwaway cluster), as behind a load
//! balancer: one issuer, requests spread over the instances. Whatever one process guarantees holds
//! across them: a code is redeemed once, a refresh token rotated once, a rotated key is published
//! by every instance within a second, and failed sign-ins count wherever they were made.

mod common;

use adapter_http::data_store::postgres::cluster::TempCluster;
use common::process::{free_port, ChildServer, Printed};
use common::rp::*;
use common::*;
use reqwest::Client;
use serde_json::Value;
use std::time::{Duration, Instant};

const RACERS: usize = 24;

/// Three instances, the database and where they write their logs.
struct Instances {
    servers: Vec<ChildServer>,
    /// The one issuer (the first instance's address, as a load balancer's would be).
    iss: String,
    printed: Printed,
    _cluster: TempCluster,
    _dir: tempfile::TempDir,
}

impl Instances {
    /// Three instances on a fresh database with `extra` arguments.
    fn start(extra: &[&str]) -> Instances {
        let cluster = TempCluster::start().unwrap();
        let url = cluster.url();
        Self::start_on(cluster, &url, extra)
    }

    /// The same over TLS to the database (`sslmode=require`, the cluster's own CA).
    fn start_over_tls(extra: &[&str]) -> Instances {
        let cluster = TempCluster::start_with_tls().unwrap();
        let (url, ca) = (cluster.tls_url(), cluster.ca_file());
        let mut args = vec!["--database-ca-file", ca.to_str().unwrap()];
        args.extend_from_slice(extra);
        Self::start_on(cluster, &url, &args)
    }

    fn start_on(cluster: TempCluster, url: &str, extra: &[&str]) -> Instances {
        let dir = tempfile::tempdir().unwrap();
        let first = free_port();
        let issuer = format!("http://127.0.0.1:{first}");
        let mut args = vec!["--database-url", url, "--issuer-base", &issuer, "--log-level", "warn"];
        args.extend_from_slice(extra);
        let at = |n: usize| {
            (
                dir.path().join(format!("data-{n}")),
                dir.path().join(format!("logs-{n}")),
            )
        };
        let (data, logs) = at(0);
        let a = ChildServer::start_on(first, &data, &logs, &args);
        // The first start creates the demo tenant and prints its credentials; the others find it.
        let printed = a.printed();
        let mut servers = vec![a];
        for n in 1..3 {
            let (data, logs) = at(n);
            servers.push(ChildServer::start(&data, &logs, &args));
        }
        Instances {
            servers,
            iss: format!("{issuer}/demo"),
            printed,
            _cluster: cluster,
            _dir: dir,
        }
    }

    /// Instance `n`'s address for the demo tenant (`n` taken round the three).
    fn at(&self, n: usize) -> String {
        format!("{}/demo", self.servers[n % self.servers.len()].base)
    }

    fn secret(&self) -> String {
        self.printed.client_secret.clone()
    }

    /// A code for the demo user, signed in at instance `n`.
    async fn code(&self, b: &Client, n: usize) -> String {
        let at = self.at(n);
        let url = authorize_url(&at, "demo-client", CB, "openid", "");
        let r = browse_to_redirect(b, &at, &url, "demo", &self.printed.password).await;
        let loc = location(&r);
        assert_eq!(param(&loc, "iss").as_deref(), Some(self.iss.as_str()), "one issuer");
        param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
    }

    /// Introspects `token` at instance `n`.
    async fn active_at(&self, n: usize, token: &str) -> bool {
        let r = Client::new()
            .post(format!("{}/introspect", self.at(n)))
            .basic_auth("demo-client", Some(self.secret()))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["active"] == true
    }

    /// A platform admin token, from instance `n`.
    async fn root_token(&self, n: usize) -> String {
        let endpoint = format!("{}/system/token", self.servers[n].base);
        let p = &self.printed;
        let (status, body) = cc_token(&endpoint, &p.admin_client_id, &p.admin_client_secret, "admin").await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn jwks_at(&self, n: usize) -> Value {
        reqwest::get(format!("{}/jwks", self.at(n)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Instances {
    /// A failed test shows what the instances logged.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for s in &self.servers {
                for name in ["stdout", "stderr"] {
                    let path = s.log_dir.join(format!("{name}-1.log"));
                    eprintln!(
                        "--- {}:\n{}",
                        path.display(),
                        std::fs::read_to_string(&path).unwrap_or_default()
                    );
                }
            }
        }
    }
}

/// Runs `call(i)` for i in 0..RACERS at once.
async fn race<F, Fut>(call: F) -> Vec<(u16, Value)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (u16, Value)> + Send + 'static,
{
    futures_join((0..RACERS).map(|i| tokio::spawn(call(i)))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redeemed_at_three_instances_at_once_wins_once_and_the_replay_revokes_everywhere() {
    spec::covers("RFC6749-4.1.2-code-single-use");
    let i = Instances::start(&["--token-rate-per-ip", "0", "--token-rate-per-client", "0"]);
    let code = i.code(&browser(), 0).await;
    let results = race(|n| {
        let (at, secret, code) = (i.at(n), i.secret(), code.clone());
        async move { redeem(&at, &secret, &code).await.unwrap() }
    })
    .await;
    let winners: Vec<&(u16, Value)> = results.iter().filter(|r| r.0 == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|r| r.0 == 200 || r.1["error"] == "invalid_grant"),
        "{results:?}"
    );
    // The replays revoked what the winner was given, as seen from every instance.
    let access = winners[0].1["access_token"].as_str().unwrap();
    let refresh_token = winners[0].1["refresh_token"].as_str().unwrap();
    for n in 0..3 {
        assert!(
            !i.active_at(n, access).await,
            "the access token is revoked at instance {n}"
        );
        let (status, body) = refresh(&i.at(n), &i.secret(), refresh_token).await.unwrap();
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "at {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_rotated_at_three_instances_at_once_wins_at_most_once_and_the_family_dies_everywhere() {
    spec::covers("RFC9700-4.14.2-refresh-reuse");
    let i = Instances::start(&["--token-rate-per-ip", "0", "--token-rate-per-client", "0"]);
    let code = i.code(&browser(), 1).await;
    let (status, tokens) = redeem(&i.at(2), &i.secret(), &code).await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let results = race(|n| {
        let (at, secret, rt) = (i.at(n), i.secret(), rt.clone());
        async move { refresh(&at, &secret, &rt).await.unwrap() }
    })
    .await;
    let winners: Vec<&(u16, Value)> = results.iter().filter(|r| r.0 == 200).collect();
    assert!(winners.len() <= 1, "{results:?}");
    assert!(
        results.iter().all(|r| r.0 == 200 || r.1["error"] == "invalid_grant"),
        "{results:?}"
    );
    let mut family = vec![rt.clone()];
    family.extend(
        winners
            .iter()
            .map(|w| w.1["refresh_token"].as_str().unwrap().to_string()),
    );
    for n in 0..3 {
        for token in &family {
            let (status, body) = refresh(&i.at(n), &i.secret(), token).await.unwrap();
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "at {n}");
        }
        assert!(
            !i.active_at(n, tokens["access_token"].as_str().unwrap()).await,
            "the family's access token is revoked at {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_at_one_instance_is_published_by_every_instance_within_a_second() {
    // Over TLS to the database: the pools and the instances' notifications both.
    let i = Instances::start_over_tls(&[]);
    // Every instance has rendered (and cached) its JWKS.
    let before = i.jwks_at(0).await;
    for n in 1..3 {
        assert_eq!(i.jwks_at(n).await, before);
    }
    let root = i.root_token(0).await;
    let r = Client::new()
        .post(format!("{}/admin/v1/tenants/demo/keys/rotate", i.servers[0].base))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated = Instant::now();
    let after = i.jwks_at(0).await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 6, "{after}");
    for n in 1..3 {
        loop {
            if i.jwks_at(n).await == after {
                break;
            }
            assert!(
                rotated.elapsed() < Duration::from_secs(1),
                "instance {n} still serves the old JWKS after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A token signed at instance 2 after the rotation names a key every instance publishes.
    let code = i.code(&browser(), 2).await;
    let (status, tokens) = redeem(&i.at(2), &i.secret(), &code).await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    let header = jwt_header(tokens["id_token"].as_str().unwrap());
    let new_kids: Vec<&Value> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| !before["keys"].as_array().unwrap().contains(k))
        .map(|k| &k["kid"])
        .collect();
    assert!(new_kids.contains(&&header["kid"]), "signed with a new key: {header}");
}

/// The decoded header of a compact JWS.
fn jwt_header(jwt: &str) -> Value {
    let head = jwt.split('.').next().unwrap();
    serde_json::from_slice(&engine::secret::b64url_decode(head).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_spread_over_three_instances_lock_the_source_out_at_all_of_them() {
    spec::covers("LOGIN-brute-force-throttle");
    let i = Instances::start(&["--login-failures-per-source", "3", "--login-rate-per-ip", "0"]);
    let attempt = |n: usize, password: &str| {
        let (at, password) = (i.at(n), password.to_string());
        async move {
            let b = browser();
            let url = authorize_url(&at, "demo-client", CB, "openid", "");
            let html = b.get(&url).send().await.unwrap().text().await.unwrap();
            submit_login(&b, &at, &html, "demo", &password).await.status().as_u16()
        }
    };
    for n in 0..3 {
        assert_eq!(attempt(n, "wrong").await, 200, "failure {} at instance {n}", n + 1);
    }
    // Each instance saw one failure itself; within a notification's delay all three count the
    // three, and refuse the source even with the right password.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for n in 0..3 {
        assert_eq!(attempt(n, &i.printed.password).await, 429, "instance {n}");
    }
}

/// HAProxy running `docs/haproxy.cfg` in front of the instances; killed on drop.
struct Haproxy(std::process::Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Haproxy {
    /// Starts `docs/haproxy.cfg` on `port` in front of the three instances.
    fn start(port: u16, i: &Instances) -> Haproxy {
        let config = repo_root().join("docs/haproxy.cfg");
        let address = |n: usize| format!("127.0.0.1:{}", i.servers[n].port);
        // Debian puts it in /usr/sbin, which a user's PATH may not name.
        let program = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("haproxy");
        let child = std::process::Command::new(program)
            .args(["-db", "-f"])
            .arg(&config)
            .env("OIDC_LB_BIND", format!("127.0.0.1:{port}"))
            .env("OIDC_INSTANCE_A", address(0))
            .env("OIDC_INSTANCE_B", address(1))
            .env("OIDC_INSTANCE_C", address(2))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("haproxy (apt-get install haproxy)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Haproxy(child)
    }
}

/// The operations doc's HAProxy config in front of three instances: a browser signs in and its
/// relying party gets tokens with every request going to the next instance, and with
/// `--trusted-proxies` the failed-login throttle counts the client behind the proxy, not the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_haproxy_any_instance_serves_any_step_and_the_client_address_is_the_one_counted() {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let cluster = TempCluster::start().unwrap();
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--database-url",
        &url,
        "--issuer-base",
        &issuer,
        "--trusted-proxies",
        "127.0.0.1",
        "--login-failures-per-source",
        "2",
        "--log-level",
        "warn",
    ];
    let mut servers = Vec::new();
    for n in 0..3 {
        let (data, logs) = (
            dir.path().join(format!("data-{n}")),
            dir.path().join(format!("logs-{n}")),
        );
        servers.push(ChildServer::start(&data, &logs, &args));
    }
    // Started one right after the other, the three race to create the demo tenant: exactly one
    // does (and prints its credentials), the others find it.
    for s in &servers {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reqwest::get(format!("{}/healthz", s.base))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(Instant::now() < deadline, "{} is not up", s.base);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let banner = |s: &ChildServer| {
        std::fs::read_to_string(s.log_dir.join("stdout-1.log"))
            .unwrap()
            .contains("demo client_secret:")
    };
    let creators: Vec<&ChildServer> = servers.iter().filter(|s| banner(s)).collect();
    assert_eq!(creators.len(), 1, "one instance creates the demo tenant");
    let printed = creators[0].printed();
    let i = Instances {
        servers,
        iss: format!("{issuer}/demo"),
        printed,
        _cluster: cluster,
        _dir: dir,
    };
    let _lb = Haproxy::start(port, &i);
    // Round robin: the authorize page, the login post, the consent post and the token request
    // each go to the next instance.
    let lb = i.iss.clone();
    let code = {
        let b = browser();
        let url = authorize_url(&lb, "demo-client", CB, "openid offline_access", "");
        let r = browse_to_redirect(&b, &lb, &url, "demo", &i.printed.password).await;
        param(&location(&r), "code").expect("a code through the proxy")
    };
    let (status, tokens) = redeem(&lb, &i.secret(), &code).await.unwrap();
    assert_eq!(status, 200, "{tokens}");
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&lb, &i.secret(), rt).await.unwrap().0, 200);
    // Two failures from 127.0.0.2 lock that client out of the account, wherever its attempts
    // land; 127.0.0.3, behind the same proxy, still signs in.
    let from = |ip: [u8; 4]| {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let attempt = |b: Client, password: String| {
        let lb = lb.clone();
        async move {
            let url = authorize_url(&lb, "demo-client", CB, "openid", "");
            let html = b.get(&url).send().await.unwrap().text().await.unwrap();
            submit_login(&b, &lb, &html, "demo", &password).await.status().as_u16()
        }
    };
    for _ in 0..2 {
        assert_eq!(attempt(from([127, 0, 0, 2]), "wrong".into()).await, 200);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(attempt(from([127, 0, 0, 2]), i.printed.password.clone()).await, 429);
    let other = attempt(from([127, 0, 0, 3]), i.printed.password.clone()).await;
    assert!(
        other == 200 || other == 303,
        "another client behind the proxy is not locked out: {other}"
    );
}
