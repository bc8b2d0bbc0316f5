//! Server-rendered pages: login, consent, logout confirmation, logged out, error, form_post, and
//! account activation.
//! Templates are minijinja with HTML auto-escaping; every page carries the anti-framing headers.

use engine::tenant::Branding;
use minijinja::{context, Environment, Value};
use poem::http::{header, StatusCode};
use poem::Response;
use sha2_free::script_hash;

/// The inline script of the form_post page; its hash is allowed by that page's CSP.
pub const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";

/// Headers every HTML page sends.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'";

mod sha2_free {
    /// `'sha256-…'` CSP source of `script`, via aws-lc-rs.
    pub fn script_hash(script: &str) -> String {
        use base64ct::{Base64, Encoding};
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, script.as_bytes());
        format!("'sha256-{}'", Base64::encode_string(d.as_ref()))
    }
}

/// Human words for each scope on the consent page.
pub fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "Sign you in with your account",
        "profile" => "See your name, username and profile picture",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Stay connected when you are not using it",
        "organization" => "See your organization and your role in it",
        "permissions" => "See your platform permissions",
        _ => "Access other account data",
    }
}

/// The compiled templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, src) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("consent.html", include_str!("../templates/consent.html")),
            ("second_factor.html", include_str!("../templates/second_factor.html")),
            ("recovery_codes.html", include_str!("../templates/recovery_codes.html")),
            ("account.html", include_str!("../templates/account.html")),
            ("logout_confirm.html", include_str!("../templates/logout_confirm.html")),
            ("logged_out.html", include_str!("../templates/logged_out.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("activate.html", include_str!("../templates/activate.html")),
            ("activated.html", include_str!("../templates/activated.html")),
            ("form_post.html", include_str!("../templates/form_post.html")),
        ] {
            env.add_template(name, src).expect("templates parse");
        }
        Pages { env }
    }
}

/// Branding values every page template reads.
pub fn brand(tenant_name: &str, client: Option<&Branding>, tenant: Option<&Branding>) -> Value {
    let pick = |f: fn(&Branding) -> Option<String>| client.and_then(f).or_else(|| tenant.and_then(f));
    let name = pick(|b| b.display_name.clone()).unwrap_or_else(|| tenant_name.to_string());
    let color = pick(|b| b.primary_color.clone())
        .filter(|c| c.len() <= 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "#2457c5".into());
    let logo = pick(|b| b.logo_url.clone()).filter(|u| u.starts_with("https://"));
    context! { brand_name => name, color => color, logo_url => logo }
}

impl Pages {
    /// Renders `template` with `ctx` merged over `brand` into an HTML response.
    pub fn render(&self, status: StatusCode, template: &str, brand: Value, ctx: Value) -> Response {
        let merged = context! { ..ctx, ..brand };
        let body = self
            .env
            .get_template(template)
            .and_then(|t| t.render(merged))
            .unwrap_or_else(|e| format!("template error: {e}"));
        html(status, body, PAGE_CSP.to_string())
    }

    /// The error page.
    pub fn error(&self, status: StatusCode, brand: Value, error: &str, description: &str) -> Response {
        self.render(
            status,
            "error.html",
            brand,
            context! { error => error, description => description },
        )
    }

    /// The auto-submitting form of response_mode=form_post.
    pub fn form_post(&self, target: &str, params: &[(String, String)]) -> Response {
        let body = self
            .env
            .get_template("form_post.html")
            .and_then(|t| t.render(context! { target => target, params => params }))
            .unwrap_or_else(|e| format!("template error: {e}"));
        let csp = format!(
            "default-src 'none'; script-src {}; frame-ancestors 'none'; base-uri 'none'",
            script_hash(FORM_POST_SCRIPT)
        );
        html(StatusCode::OK, body, csp)
    }
}

fn html(status: StatusCode, body: String, csp: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("Content-Security-Policy", csp)
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_input_and_keep_the_form_contract() {
        let p = Pages::default();
        let ctx = context! { action => "/t/login", transaction => "tx\"<", csrf => "c", client_name => "<script>x</script>", error => None::<String>, login_hint => "a&b" };
        let r = p.render(StatusCode::OK, "login.html", brand("t", None, None), ctx);
        let body = futures_body(r);
        assert!(body.contains("name=\"username\"") && body.contains("name=\"password\""));
        assert!(!body.contains("<script>x</script>"));
        assert!(body.contains("&lt;script&gt;"));
        assert!(body.contains("value=\"a&amp;b\""));
    }

    #[test]
    fn form_post_script_is_the_hashed_one() {
        assert!(include_str!("../templates/form_post.html").contains(FORM_POST_SCRIPT));
        assert!(script_hash(FORM_POST_SCRIPT).starts_with("'sha256-"));
    }

    fn futures_body(r: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(r.into_body().into_string()).unwrap()
    }
}
