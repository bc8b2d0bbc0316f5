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
