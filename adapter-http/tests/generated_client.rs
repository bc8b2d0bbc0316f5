//! A client generated from `openapi.yaml` by a real generator (openapi-python-client, pinned,
//! installed into a venv under `target/` on first use) creates a tenant, a client and a user
//! through the Admin API; the user then logs in and the code is exchanged.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const GENERATOR: &str = "openapi-python-client==0.29.1";

fn root() -> PathBuf {
    repo_root()
}

#[tokio::test]
async fn a_client_generated_from_openapi_yaml_provisions_and_logs_in() {
    let venv = pinned_venv("generated-client-venv", &[GENERATOR]);
    let out = tempfile::tempdir().unwrap();
    let gen = Command::new(venv.join("bin/openapi-python-client"))
        .args(["generate", "--meta", "none", "--path"])
        .arg(root().join("openapi.yaml"))
        .arg("--output-path")
        .arg(out.path().join("op_client"))
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "generation failed: {}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let t = start().await;
    let admin = t.demo.admin.clone().unwrap();
    let r: serde_json::Value = reqwest::Client::new()
        .post(&admin.token_endpoint)
        .basic_auth(&admin.client_id, Some(&admin.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated_client/flow.py");
    let run = tokio::process::Command::new(venv.join("bin/python"))
        .arg(script)
        .env("PYTHONPATH", out.path())
        .env("BASE", &t.server.base)
        .env("ADMIN_TOKEN", r["access_token"].as_str().unwrap())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "generated client flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{}/generated", t.server.base).as_str(),
            "gen-web",
            "gen-user",
            "gen@example.com"
        ]
    );
    t.server.stop().await.unwrap();
}
