//! `adapter-http new-app`: registers a client for a new app on a running provider (through the
//! Admin API) and writes a small app wired to it, like the Clavex seed's `create-clavex-app`.
//! What each framework needs is decided here; the files are templates under `starters/`.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The kinds of app the generator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Framework {
    /// A browser single-page app: public client, PKCE, tokens by `fetch` (needs the provider's CORS).
    React,
    /// A Flask server app: confidential client (`client_secret_post`), PKCE, server-side session.
    Flask,
    /// Next.js with NextAuth/Auth.js v5 (the seed's configuration): confidential client (Basic).
    Nextjs,
}

/// A template file: its path in the app and its text with `{{PLACEHOLDERS}}`.
type Template = (&'static str, &'static str);

const REACT: &[Template] = &[
    ("package.json", include_str!("../starters/react/package.json")),
    (".env", include_str!("../starters/react/.env")),
    ("server.mjs", include_str!("../starters/react/server.mjs")),
    ("lib/pkce.js", include_str!("../starters/react/lib/pkce.js")),
    ("lib/session.js", include_str!("../starters/react/lib/session.js")),
    ("index.html", include_str!("../starters/react/index.html")),
    ("callback.html", include_str!("../starters/react/callback.html")),
    ("dashboard.html", include_str!("../starters/react/dashboard.html")),
];

const FLASK: &[Template] = &[
    ("requirements.txt", include_str!("../starters/flask/requirements.txt")),
    (".env", include_str!("../starters/flask/.env")),
    ("app.py", include_str!("../starters/flask/app.py")),
];

const NEXTJS: &[Template] = &[
    ("package.json", include_str!("../starters/nextjs/package.json")),
    (".env.local", include_str!("../starters/nextjs/.env.local")),
    ("next.config.mjs", include_str!("../starters/nextjs/next.config.mjs")),
    ("tsconfig.json", include_str!("../starters/nextjs/tsconfig.json")),
    ("src/auth.ts", include_str!("../starters/nextjs/src/auth.ts")),
    (
        "src/app/api/auth/[...nextauth]/route.ts",
        include_str!("../starters/nextjs/src/app/api/auth/route.ts"),
    ),
    (
        "src/app/layout.tsx",
        include_str!("../starters/nextjs/src/app/layout.tsx"),
    ),
    ("src/app/page.tsx", include_str!("../starters/nextjs/src/app/page.tsx")),
    (
        "src/app/dashboard/page.tsx",
        include_str!("../starters/nextjs/src/app/dashboard/page.tsx"),
    ),
];

/// The provider id the Next.js starter uses (the seed's): its callback is `/api/auth/callback/{id}`.
pub const NEXTJS_PROVIDER_ID: &str = "calimatic";

impl Framework {
    fn templates(self) -> &'static [Template] {
        match self {
            Framework::React => REACT,
            Framework::Flask => FLASK,
            Framework::Nextjs => NEXTJS,
        }
    }

    /// The redirect URI of the app when it listens on `port`.
    pub fn redirect_uri(self, port: u16) -> String {
        match self {
            Framework::React | Framework::Flask => format!("http://localhost:{port}/callback"),
            Framework::Nextjs => format!("http://localhost:{port}/api/auth/callback/{NEXTJS_PROVIDER_ID}"),
        }
    }

    /// The Admin API body that registers the app's client.
    // STARTER-new-app
    pub fn client_body(self, name: &str, port: u16) -> Value {
        let method = match self {
            Framework::React => "none",
            Framework::Flask => "client_secret_post",
            Framework::Nextjs => "client_secret_basic",
        };
        json!({
            "name": name,
            "token_endpoint_auth_method": method,
            "redirect_uris": [self.redirect_uri(port)],
            "post_logout_redirect_uris": [format!("http://localhost:{port}/")],
            "grant_types": ["authorization_code", "refresh_token"],
            "first_party": true,
            "require_consent": false,
            "require_pkce": true,
        })
    }
}

/// The values written into the templates.
pub struct AppValues {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub port: u16,
    /// Random, for the app's own session cookie signing.
    pub session_secret: String,
}

/// Writes the app into `dir` (which must not exist or be empty); returns the files written.
pub fn write_app(framework: Framework, dir: &Path, v: &AppValues) -> std::io::Result<Vec<PathBuf>> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists and is not empty", dir.display()),
        ));
    }
    let mut written = Vec::new();
    for (path, text) in framework.templates() {
        let text = text
            .replace("{{APP_NAME}}", &v.name)
            .replace("{{ISSUER}}", &v.issuer)
            .replace("{{CLIENT_ID}}", &v.client_id)
            .replace("{{CLIENT_SECRET}}", v.client_secret.as_deref().unwrap_or(""))
            .replace("{{PORT}}", &v.port.to_string())
            .replace("{{SESSION_SECRET}}", &v.session_secret);
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("a file in the app"))?;
        std::fs::write(&file, text)?;
        written.push(file);
    }
    Ok(written)
}

/// `{base}` and `{tenant}` of an issuer `{base}/{tenant}`.
pub fn split_issuer(issuer: &str) -> Option<(String, String)> {
    let trimmed = issuer.trim_end_matches('/');
    let (base, tenant) = trimmed.rsplit_once('/')?;
    (!tenant.is_empty() && base.contains("://")).then(|| (base.to_string(), tenant.to_string()))
}

/// What `new-app` was asked for.
pub struct NewApp {
    pub dir: PathBuf,
    pub framework: Framework,
    pub issuer: String,
    pub port: Option<u16>,
    /// An Admin API bearer token, or the credentials of an admin client to get one.
    pub admin: AdminAuth,
}

/// How `new-app` authenticates to the Admin API.
pub enum AdminAuth {
    Token(String),
    Client { tenant: String, id: String, secret: String },
}

impl Framework {
    /// The port the app listens on unless told otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Framework::React => 5173,
            Framework::Flask => 3001,
            Framework::Nextjs => 3000,
        }
    }

    /// How to start the generated app.
    pub fn run_hint(self) -> &'static str {
        match self {
            Framework::React => "npm start",
            Framework::Flask => {
                "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python app.py"
            }
            Framework::Nextjs => "npm install && npm run dev",
        }
    }
}

/// Registers the app's client and writes the app; returns a summary to print.
#[cfg(feature = "new-app")]
pub async fn new_app(req: NewApp) -> Result<String, String> {
    let (base, tenant) = split_issuer(&req.issuer).ok_or("--issuer must look like https://host/{tenant}")?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())?;
    let token = match req.admin {
        AdminAuth::Token(t) => t,
        AdminAuth::Client { tenant, id, secret } => {
            let r = http
                .post(format!("{base}/{tenant}/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
                .send()
                .await
                .map_err(|e| format!("admin token: {e}"))?;
            let status = r.status();
            let body: Value = r.json().await.map_err(|e| e.to_string())?;
            body["access_token"]
                .as_str()
                .ok_or(format!("admin token refused ({status}): {body}"))?
                .to_string()
        }
    };
    let port = req.port.unwrap_or(req.framework.default_port());
    let name = req
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the app directory needs a name")?
        .to_string();
    if req.dir.exists() && std::fs::read_dir(&req.dir).map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} exists and is not empty", req.dir.display()));
    }
    let r = http
        .post(format!("{base}/admin/v1/tenants/{tenant}/clients"))
        .bearer_auth(token)
        .json(&req.framework.client_body(&name, port))
        .send()
        .await
        .map_err(|e| format!("client registration: {e}"))?;
    let status = r.status();
    let client: Value = r.json().await.map_err(|e| e.to_string())?;
    if status.as_u16() != 201 {
        return Err(format!("client registration refused ({status}): {client}"));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
    let values = AppValues {
        name: name.clone(),
        issuer: format!("{base}/{tenant}"),
        client_id: client["client_id"].as_str().unwrap_or_default().to_string(),
        client_secret: client["client_secret"].as_str().map(str::to_string),
        port,
        session_secret: engine::secret::b64url(&secret),
    };
    let files = write_app(req.framework, &req.dir, &values).map_err(|e| e.to_string())?;
    Ok(format!(
        "Registered client {} ({:?}, redirect URI {}) at {}\nWrote {} files into {}\nStart it: cd {} && {}\nThen open http://localhost:{port}/",
        values.client_id,
        req.framework,
        req.framework.redirect_uri(port),
        values.issuer,
        files.len(),
        req.dir.display(),
        req.dir.display(),
        req.framework.run_hint(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_framework_gets_the_client_it_needs_and_its_files() {
        let spa = Framework::React.client_body("a", 5173);
        assert_eq!(spa["token_endpoint_auth_method"], "none");
        assert_eq!(spa["redirect_uris"][0], "http://localhost:5173/callback");
        assert_eq!(
            Framework::Flask.client_body("a", 3001)["token_endpoint_auth_method"],
            "client_secret_post"
        );
        assert_eq!(
            Framework::Nextjs.client_body("a", 3000)["redirect_uris"][0],
            "http://localhost:3000/api/auth/callback/calimatic"
        );
        let dir = tempfile_dir();
        let v = AppValues {
            name: "myapp".into(),
            issuer: "http://127.0.0.1:8080/demo".into(),
            client_id: "cid".into(),
            client_secret: Some("sec".into()),
            port: 3001,
            session_secret: "s".into(),
        };
        let files = write_app(Framework::Flask, &dir, &v).unwrap();
        assert_eq!(files.len(), FLASK.len());
        let env = std::fs::read_to_string(dir.join(".env")).unwrap();
        assert!(env.contains("CLIENT_SECRET=sec") && env.contains("ISSUER=http://127.0.0.1:8080/demo"));
        assert!(!env.contains("{{"), "{env}");
        assert!(write_app(Framework::Flask, &dir, &v).is_err(), "never overwrites");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            split_issuer("http://127.0.0.1:8080/demo/"),
            Some(("http://127.0.0.1:8080".into(), "demo".into()))
        );
        assert_eq!(split_issuer("demo"), None);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("starter-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
