//! What browser apps need: CORS on the endpoints a single-page app calls with `fetch`.

mod common;

use common::*;
use reqwest::{Client, Method, Response};
use serde_json::json;

async fn preflight(t: &TestServer, path: &str, origin: &str, method: &str, headers: &str) -> Response {
    Client::new()
        .request(Method::OPTIONS, format!("{}{path}", t.server.base))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn cors_lets_registered_app_origins_call_token_userinfo_and_revocation_and_anyone_read_metadata() {
    spec::covers("CORS-client-origins");
    let t = start().await;
    let app = "http://localhost:3000"; // the demo client's redirect URI's origin
    let evil = "https://evil.example";
    for path in ["/demo/token", "/demo/userinfo", "/demo/revoke", "/demo/introspect"] {
        let r = preflight(&t, path, app, "POST", "authorization, content-type, dpop").await;
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some(app),
            "{path}"
        );
        let allowed = header(&r, "access-control-allow-headers").unwrap().to_lowercase();
        assert!(
            ["authorization", "content-type", "dpop"]
                .iter()
                .all(|h| allowed.contains(h)),
            "{allowed}"
        );
        assert!(header(&r, "access-control-allow-methods").unwrap().contains("POST"));
        assert_eq!(
            header(&r, "access-control-allow-credentials"),
            None,
            "never with credentials"
        );
        assert!(header(&r, "vary").unwrap().contains("Origin"));
        let r = preflight(&t, path, evil, "POST", "content-type").await;
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            None,
            "{path} from another origin"
        );
    }
    // Discovery and JWKS: public documents.
    for path in ["/demo/.well-known/openid-configuration", "/demo/jwks"] {
        let r = Client::new()
            .get(format!("{}{path}", t.server.base))
            .header("origin", evil)
            .send()
            .await
            .unwrap();
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let r = preflight(&t, path, evil, "GET", "").await;
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
    }
    // Actual requests: the token endpoint's answer is shared with the app's origin only.
    let cc = |origin: &'static str| {
        Client::new()
            .post(format!("{}/token", t.iss))
            .basic_auth("demo-client", Some(t.demo.client_secret.clone()))
            .header("origin", origin)
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let r = cc(app).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(app));
    assert!(header(&r, "access-control-expose-headers")
        .unwrap()
        .contains("WWW-Authenticate"));
    let r = cc(evil).await.unwrap();
    assert_eq!(r.status(), 200, "CORS only decides what a browser may read");
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    // An error answer (UserInfo without a token) is readable too, with its challenge.
    let r = Client::new()
        .get(format!("{}/userinfo", t.iss))
        .header("origin", app)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(app));
    // A newly registered SPA's origin works at once, and stops when the client is deactivated.
    let spa = "http://localhost:5173";
    assert_eq!(
        header(
            &preflight(&t, "/demo/token", spa, "POST", "").await,
            "access-control-allow-origin"
        ),
        None
    );
    let root = root_token(&t).await;
    let (s, c) = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/clients",
        Some(&root),
        Some(
            json!({"client_id": "my-spa", "name": "My SPA", "token_endpoint_auth_method": "none",
                    "redirect_uris": [format!("{spa}/callback")], "grant_types": ["authorization_code"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let r = preflight(&t, "/demo/token", spa, "POST", "content-type").await;
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(spa));
    let (s, _) = call(
        &t,
        Method::POST,
        "/admin/v1/tenants/demo/clients/my-spa/deactivate",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let r = preflight(&t, "/demo/token", spa, "POST", "content-type").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    // Another tenant's clients give no grant here.
    let r = preflight(&t, "/system/token", app, "POST", "").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}
