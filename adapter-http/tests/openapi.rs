//! openapi.yaml at the repository root must equal what the code generates.

#[test]
fn openapi_yaml_is_generated_from_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let committed = std::fs::read_to_string(&path).expect("openapi.yaml exists at the repository root");
    let generated = adapter_http::openapi_yaml();
    assert!(
        committed == generated,
        "openapi.yaml is stale: regenerate it with `cargo run -p adapter-http -- openapi > openapi.yaml`"
    );
    for path in [
        "/{tenant}/token",
        "/{tenant}/introspect",
        "/{tenant}/revoke",
        "/{tenant}/userinfo",
        "/{tenant}/jwks",
        "/{tenant}/.well-known/openid-configuration",
    ] {
        assert!(generated.contains(&format!("  {path}:")), "{path} undocumented");
    }
}

/// The deliberate bugs the model checker switches on (`engine/mutants`) are compiled only for
/// `model-check`: the server's own build of the engine has none of them.
#[test]
fn the_servers_build_of_the_engine_has_no_mutants() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = |package: &str| {
        let out = std::process::Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "--locked",
                "-e",
                "features",
                "-i",
                "engine",
                "-p",
                package,
            ])
            .current_dir(&root)
            .output()
            .expect("cargo tree runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let server = tree("adapter-http");
    assert!(server.contains("engine v"), "{server}");
    assert!(!server.contains("engine feature \"mutants\""), "{server}");
    // The check can see the feature: model-check's build has it.
    assert!(tree("model-check").contains("engine feature \"mutants\""));
}
