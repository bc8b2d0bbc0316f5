//! The seeds' integration code (`examples/`) against a freshly started server: the SPA of the
//! Calimatic guide §5 in headless Chromium, its Python functions of §6 and the M2M curl of §7,
//! and local access-token verification with `jose` (§9). Writes
//! `conformance-reports/ecosystem.md`. Needs node/npm (installs `examples/node_modules` with
//! `npm ci`), python3 (a venv under `target/` with `requests`), curl and `/usr/bin/chromium`
//! (`.ci/run` installs the Debian package).

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const REQUESTS: &str = "requests==2.32.5";
const FLASK: &str = "flask==3.1.3";

fn root() -> PathBuf {
    repo_root()
}

fn examples() -> PathBuf {
    root().join("examples")
}

/// `examples/node_modules` from the lockfile, once.
fn node_modules() {
    npm_ci(&examples(), "playwright-core");
}

/// The venv's python, with the seed's one dependency and Flask (for the generated Flask app).
fn python() -> PathBuf {
    pinned_venv("examples-venv", &[REQUESTS, FLASK]).join("bin/python")
}

/// Runs a script that prints one JSON line; returns it (with `ok` from the exit status).
async fn run_json(program: &Path, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Value {
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} could not start: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut v: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| json!({"stdout": stdout, "stderr": String::from_utf8_lossy(&out.stderr)}));
    v["ok"] = json!(out.status.success() && v["ok"] == json!(true));
    v
}

fn version_of(package: &str) -> String {
    let path = examples().join(format!("node_modules/{package}/package.json"));
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The seed's code (§5, §6, §7, §9): the report's rows and each example's outcome.
async fn seed_examples(t: &TestServer) -> (String, Vec<(&'static str, Value)>) {
    spec::covers("SEED-integration-code");
    spec::covers("CORS-client-origins");
    let python = python();
    let root_tok = root_token(t).await;
    let app_name = "Python Seed App";
    let (s, client) = call(
        t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root_tok),
        Some(
            // No token_endpoint_auth_method, as the seed creates its clients: the seed's Python sends
            // the secret in the body, its curl and Next.js in the Basic header.
            json!({"client_id": "py-app", "name": app_name,
                    "redirect_uris": ["http://localhost:3001/callback"],
                    "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                    "first_party": true, "require_consent": false}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{client}");
    let secret = client["client_secret"].as_str().unwrap().to_string();
    assert_eq!(client["either_secret_method"], true, "{client}");
    // §7's curl sends the same client's secret in the Basic header.
    let (s, basic) = cc_token(&format!("{}/token", t.iss), "py-app", &secret, "openid").await;
    assert_eq!(s, 200, "{basic}");
    let node = PathBuf::from("node");

    // §6 and §7: the Python functions and the M2M curl.
    let py = run_json(
        &python,
        &["run_seed.py"],
        &examples().join("python"),
        &[
            ("ISSUER", &t.iss),
            ("CALIMATIC_CLIENT_ID", "py-app"),
            ("CALIMATIC_CLIENT_SECRET", &secret),
            ("REDIRECT_URI", "http://localhost:3001/callback"),
            ("USERNAME", &t.demo.username),
            ("PASSWORD", &t.demo.password),
            ("APP_NAME", app_name),
        ],
    )
    .await;
    // §9: jose verifies both kinds of access token with audience = client_id.
    let tokens = format!(
        "{},{}",
        py["user_access_token"].as_str().unwrap_or_default(),
        py["m2m_access_token"].as_str().unwrap_or_default()
    );
    let jose = run_json(
        &node,
        &["node/verify-access-token.mjs"],
        &examples(),
        &[("ISSUER", &t.iss), ("CLIENT_ID", "py-app"), ("TOKENS", &tokens)],
    )
    .await;
    // §5: the SPA in Chromium, registered as the guide's curl does.
    let spa = run_json(
        &node,
        &["spa/browser-test.mjs"],
        &examples(),
        &[
            ("ISSUER", &t.iss),
            ("USERNAME", &t.demo.username),
            ("PASSWORD", &t.demo.password),
            ("EXPECT_NAME", "Demo User"),
        ],
    )
    .await;

    let py_checks: Vec<String> = py["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        if c["ok"] == json!(true) { "✓" } else { "✗" },
                        c["check"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = format!(
        "| React SPA flow, public client, PKCE with `crypto.subtle`, token exchange and UserInfo by cross-origin `fetch` | Calimatic §5 | `examples/spa/` (driven by `spa/browser-test.mjs`) | Chromium {} via playwright-core {} | {} |\n\
         | Python server-side functions `generate_pkce`, `get_authorization_url`, `exchange_code`, `get_user_info`, `refresh_tokens` | Calimatic §6 | `examples/python/calimatic_seed.py` (driven by `run_seed.py`) | {REQUESTS} | {} |\n\
         | M2M `curl` (client credentials) and its documented access-token claims | Calimatic §7 | `examples/python/run_seed.py` | curl | {} |\n\
         | Local access-token verification, `createRemoteJWKSet` + `jwtVerify` with `audience` = client_id | Calimatic §9 | `examples/node/verify-access-token.mjs` | jose {} | {} |\n\n\
         Python and curl checks: {}.\n",
        spa["browser"].as_str().unwrap_or("?"),
        version_of("playwright-core"),
        verdict(&spa),
        verdict(&py),
        verdict(&py),
        version_of("jose"),
        verdict(&jose),
        py_checks.join("; "),
    );
    (
        rows,
        vec![
            ("Python seed", py),
            ("jose verification", jose),
            ("SPA in Chromium", spa),
        ],
    )
}

/// The guide's §4 Next.js + NextAuth app (`examples/nextjs`), built and signed into. Its client
/// is registered with `require_state: false`: Auth.js sends PKCE but no state.
async fn nextjs_seed(t: &TestServer) -> (String, Vec<(&'static str, Value)>) {
    let dir = examples().join("nextjs");
    let port = common::process::free_port();
    let root_tok = root_token(t).await;
    let (s, client) = call(
        t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root_tok),
        Some(json!({"client_id": "nextauth-seed", "name": "Next.js seed",
                    "redirect_uris": [format!("http://localhost:{port}/api/auth/callback/calimatic")],
                    "first_party": true, "require_consent": false, "require_state": false})),
    )
    .await;
    assert_eq!(s, 201, "{client}");
    let env = [
        ("CALIMATIC_ISSUER", t.iss.clone()),
        ("CALIMATIC_CLIENT_ID", "nextauth-seed".to_string()),
        (
            "CALIMATIC_CLIENT_SECRET",
            client["client_secret"].as_str().unwrap().to_string(),
        ),
        ("AUTH_SECRET", "examples-test-secret-0123456789abcdef".to_string()),
        ("AUTH_TRUST_HOST", "true".to_string()),
        ("AUTH_URL", format!("http://localhost:{port}")),
        ("NEXT_TELEMETRY_DISABLED", "1".to_string()),
    ];
    for args in [&["install", "--no-audit", "--no-fund"][..], &["run", "build"][..]] {
        let out = Command::new("npm")
            .args(args)
            .current_dir(&dir)
            .envs(env.clone())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut app = tokio::process::Command::new("node")
        .args(["node_modules/next/dist/bin/next", "start", "-p", &port.to_string()])
        .current_dir(&dir)
        .envs(env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port, &mut app).await;
    let start_url = format!("http://localhost:{port}/");
    let run = run_json(
        &PathBuf::from("node"),
        &["browser/login-flow.mjs"],
        &examples(),
        &[
            ("START_URL", start_url.as_str()),
            ("CLICK", "button[type=submit]"),
            ("USERNAME", t.demo.username.as_str()),
            ("PASSWORD", t.demo.password.as_str()),
            ("EXPECT_SELECTOR", "p"),
            ("EXPECT_TEXT", "Organization: demo-org"),
        ],
    )
    .await;
    app.kill().await.unwrap();
    let row = format!(
        "| Next.js with NextAuth.js v5 (`type: \"oidc\"`, scopes incl. `organization`, `code_challenge_method: \"S256\"`, the `jwt`/`session` callbacks reading `organization_id`, `organization_memberships`, `user_type`); the dashboard shows the organization id | Calimatic §4 | `examples/nextjs/` (client registered with `require_state: false`) | next 16.4.6, next-auth 5.0.0-beta.32, Chromium via playwright-core | {} |\n",
        verdict(&run)
    );
    (row, vec![("Next.js seed", run)])
}

fn verdict(v: &Value) -> &'static str {
    if v["ok"] == json!(true) {
        "pass"
    } else {
        "FAIL"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_code_and_the_generated_apps_work_against_a_fresh_server() {
    node_modules();
    let t = start().await;
    let (seed_part, mut outcomes) = seed_examples(&t).await;
    let (next_row, next_outcome) = nextjs_seed(&t).await;
    outcomes.extend(next_outcome);
    // The Next.js row joins the table, above the Python checks line.
    let (table, checks) = seed_part.split_once("\n\n").unwrap_or((seed_part.as_str(), ""));
    let seed_rows = format!("{table}\n{next_row}\n{checks}");
    let (starter_rows, starters) = generated_apps(&t).await;
    outcomes.extend(starters);
    let report = format!(
        "# Ecosystem: the seeds' integration code and generated apps against this provider\n\n\
         Written by `cargo test -p adapter-http --test examples` (part of CI) against a freshly started\n\
         server with the demo tenant. Each seed example is the seed's code with only the issuer URL and\n\
         the client credentials changed; the seed's `{{ISSUER}}/api/v1/oidc/...` endpoint layout is served\n\
         as the tenant's endpoints.\n\n\
         | example | seed | code | libraries | result |\n|---|---|---|---|---|\n{seed_rows}\n\
         ## Generated apps (`adapter-http new-app`)\n\n\
         Each is generated against the running server (which registers its client), started, and signed\n\
         into in headless Chromium through the provider's pages until its protected page shows the user.\n\n\
         | framework | client | libraries | result |\n|---|---|---|---|\n{starter_rows}\n\
         Auth.js sends PKCE but no `state` by default, and this provider refuses a request without\n\
         `state` (the Clavex guide's rule) unless the client is registered with `require_state: false`\n\
         (then PKCE is mandatory instead). The §4 example runs as printed with such a client; the\n\
         generated Next.js app asks Auth.js for `checks: [\"pkce\", \"state\"]` and works with either.\n"
    );
    std::fs::write(root().join("conformance-reports/ecosystem.md"), report).unwrap();
    for (what, v) in &outcomes {
        assert_eq!(v["ok"], json!(true), "{what}: {v:#}");
    }
}

/// Waits until `port` accepts connections (the generated app has started).
async fn wait_for_port(port: u16, child: &mut tokio::process::Child) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the generated app exited: {status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the generated app did not listen on {port}");
}

/// `new-app` for each framework, then a browser sign-in into the generated app.
async fn generated_apps(t: &TestServer) -> (String, Vec<(&'static str, Value)>) {
    spec::covers("STARTER-new-app");
    let python = python();
    let admin = t.demo.admin.clone().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    let runs = [
        ("react", "/", Some("#login"), "#who", "Welcome, Demo User"),
        ("flask", "/dashboard", None, "#who", "Welcome, Demo User"),
        (
            "nextjs",
            "/",
            Some("button[type=submit]"),
            "#org",
            "Organization: demo-org",
        ),
    ];
    for (framework, start_path, click, selector, expect) in runs {
        let port = common::process::free_port();
        let dir = work.path().join(format!("my-{framework}-app"));
        let new_app = |extra: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_adapter-http"))
                .arg("new-app")
                .arg(&dir)
                .args(["--framework", framework, "--issuer", &t.iss])
                .args(extra)
                .args(["--admin-client-id", &admin.client_id])
                .args(["--admin-client-secret", &admin.client_secret])
                .output()
                .unwrap()
        };
        let gen = new_app(&["--port", &port.to_string()]);
        let printed = String::from_utf8_lossy(&gen.stdout);
        assert!(
            gen.status.success(),
            "{printed}{}",
            String::from_utf8_lossy(&gen.stderr)
        );
        assert!(printed.contains("Registered client"), "{printed}");
        // Generating into the same directory again refuses and registers nothing.
        let again = new_app(&[]);
        assert!(!again.status.success());
        if framework == "nextjs" {
            // The generated app's own dependencies (pinned in its package.json), then a production build.
            for args in [&["install", "--no-audit", "--no-fund"][..], &["run", "build"][..]] {
                let out = Command::new("npm")
                    .args(args)
                    .current_dir(&dir)
                    .env("NEXT_TELEMETRY_DISABLED", "1")
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "npm {args:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let mut command = match framework {
            "react" => {
                let mut c = tokio::process::Command::new("node");
                c.arg("server.mjs");
                c
            }
            "flask" => {
                let mut c = tokio::process::Command::new(&python);
                c.arg("app.py");
                c
            }
            _ => {
                let mut c = tokio::process::Command::new("node");
                c.args(["node_modules/next/dist/bin/next", "start", "-p", &port.to_string()])
                    .env("NEXT_TELEMETRY_DISABLED", "1");
                c
            }
        };
        let mut app = command
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        wait_for_port(port, &mut app).await;
        let start_url = format!("http://localhost:{port}{start_path}");
        let mut env = vec![
            ("START_URL", start_url.as_str()),
            ("USERNAME", t.demo.username.as_str()),
            ("PASSWORD", t.demo.password.as_str()),
            ("EXPECT_SELECTOR", selector),
            ("EXPECT_TEXT", expect),
        ];
        if let Some(c) = click {
            env.push(("CLICK", c));
        }
        let run = run_json(&PathBuf::from("node"), &["browser/login-flow.mjs"], &examples(), &env).await;
        app.kill().await.unwrap();
        outcomes.push((framework, run));
    }
    let mut rows = String::new();
    for (framework, run) in &outcomes {
        let (client, libs) = match *framework {
            "react" => ("public, PKCE", "none (browser fetch)".to_string()),
            "flask" => ("confidential, client_secret_post", format!("{FLASK}, {REQUESTS}")),
            _ => (
                "confidential, client_secret_basic",
                "next 16.4.6, next-auth 5.0.0-beta.32".to_string(),
            ),
        };
        rows.push_str(&format!("| {framework} | {client} | {libs} | {} |\n", verdict(run)));
    }
    (rows, outcomes)
}
