//! Hostile input generated from `openapi.yaml` by schemathesis (PyPI, pinned; installed into a
//! venv under `target/` on first use) against a running server with a platform admin token:
//! no 5xx, and every response matches its documented status, content type, headers and schema.

mod common;

use common::process::{env_u64, report_section};
use common::*;
use std::path::PathBuf;

const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The checks run. Left out, and why:
/// - `positive_data_acceptance`: a schema-valid OAuth request is still refused for what a schema
///   cannot say (an unknown code, a grant type the client may not use, a non-https redirect URI).
/// - `negative_data_rejection`: poem-openapi reads a JSON number or boolean given for a string
///   field as that string (`"slug": false` becomes the tenant `false`); noted in the report.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,unsupported_method,missing_required_header,\
use_after_free,ensure_resource_availability,ignored_auth";

fn root() -> PathBuf {
    repo_root()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_response_off_its_schema() {
    spec::covers("HTTP-input-limits");
    let venv = pinned_venv("schemathesis-venv", &[SCHEMATHESIS]);
    let t = start_with(adapter_http::rate_limit::RateLimits {
        token_per_ip: 0,
        token_per_client: 0,
        login_per_ip: 0,
        login_failures_per_source: 0,
        login_failures_per_account: 0,
    })
    .await;
    let token = root_token(&t).await;
    let examples = env_u64("SCHEMATHESIS_EXAMPLES", 15);
    let seed = env_u64("SCHEMATHESIS_SEED", 1);
    let work = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(venv.join("bin/st"))
        .current_dir(work.path())
        .arg("run")
        .arg(root().join("openapi.yaml"))
        .args(["--url", &t.server.base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--workers", "1", "--no-color", "--generation-database", "none"])
        .args(["--request-timeout", "20"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|n| n.parse::<u64>().is_ok()) && words.next() == Some("generated,")
        })
        .unwrap_or("no summary line")
        .trim()
        .to_string();
    report_section(
        "schemathesis",
        &format!(
            "| schemathesis 4.32.5 against openapi.yaml ({examples} examples per operation, seed {seed}, all phases, checks: {}) | {summary} | exit {} |",
            CHECKS.replace(',', ", "),
            out.status.code().unwrap_or(-1)
        ),
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It did test: every operation in the document was exercised.
    assert!(stdout.contains("Tested: "), "{stdout}");
    // The server survived it.
    let health = reqwest::get(format!("{}/healthz", t.server.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}
