//! The README's curl walkthrough, and the Admin API guide's (`docs/admin-api.md`), run as written
//! against a fresh server.

mod common;
use common::*;

#[tokio::test]
async fn readme_curl_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = &readme[readme.find("<!-- walkthrough -->").expect("walkthrough marker")..];
    let from = after.find("```sh\n").unwrap() + 6;
    let script = &after[from..from + after[from..].find("```").unwrap()];
    let t = start().await;
    let out = tokio::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .env("B", &t.iss)
        .env("CLIENT_SECRET", &t.demo.client_secret)
        .env("PASSWORD", &t.demo.password)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{}/token", t.iss));
    assert_eq!(lines[2], "Bearer");
    assert!(lines[3].starts_with("http://localhost:3000/callback?code="), "{stdout}");
    assert_eq!(lines[4], "demo@example.com");
    assert_eq!(lines[5], "Bearer");
    assert_eq!(lines[6], "invalid_grant");
    assert_eq!(lines[7], r#"{"active":false}"#);
}

#[tokio::test]
async fn readme_admin_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/admin-api.md")).unwrap();
    let after = &readme[readme
        .find("<!-- admin-walkthrough -->")
        .expect("admin walkthrough marker")..];
    let from = after.find("```sh\n").unwrap() + 6;
    let script = &after[from..from + after[from..].find("```").unwrap()];
    let t = start().await;
    let admin = t.demo.admin.clone().unwrap();
    let out = tokio::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script)
        .env("BASE", &t.server.base)
        .env("ADMIN_SECRET", &admin.client_secret)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "admin walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{}/acme", t.server.base));
    assert_eq!(lines[1], "jane");
    assert!(lines[2].starts_with("http://localhost:3000/callback?code="), "{stdout}");
    assert_eq!(lines[3], "jane@acme.example");
    t.server.stop().await.unwrap();
}

/// The README stays a front door (12 KiB at most) and no document points outside the repository.
#[test]
fn the_readme_is_short_and_no_document_links_outside_the_repository() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(readme.len() <= 12 * 1024, "README.md is {} bytes", readme.len());
    let mut docs = vec![("README.md".to_string(), readme)];
    for entry in std::fs::read_dir(format!("{root}/docs")).unwrap() {
        let path = entry.unwrap().path();
        docs.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
    }
    for (name, text) in &docs {
        assert!(!text.contains("../shared"), "{name} links outside the repository");
        for doc in ["docs/operations.md", "docs/admin-api.md", "docs/client-libraries.md"] {
            if text.contains(doc) {
                assert!(
                    std::path::Path::new(&format!("{root}/{doc}")).exists(),
                    "{name} names a missing {doc}"
                );
            }
        }
    }
}
