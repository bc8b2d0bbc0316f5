//! What a browser and a relying party do in one flow: authorize, fill the login and consent pages
//! generically (the form's hidden inputs, a username field named `username` or `login`, the
//! password, the first named submit button), redeem the code with PKCE, call UserInfo.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::form_urlencoded::Serializer;
use url::Url;

use crate::http::{Call, Conn, Jar};

/// The server under load: its endpoints (from discovery) and the credentials the flows use.
pub struct Target {
    pub issuer: String,
    pub authorization: Url,
    pub token: Url,
    pub userinfo: Url,
    pub client_id: String,
    pub basic: String,
    pub redirect_uri: String,
    pub scope: String,
    pub username: String,
    pub password: String,
}

fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    Base64UrlUnpadded::encode_string(&buf)
}

fn unescape_html(s: &str) -> String {
    let mut out = s.to_owned();
    for (from, to) in [
        ("&#x2f;", "/"),
        ("&#x2F;", "/"),
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&#39;", "'"),
    ] {
        out = out.replace(from, to);
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The `name="value"` attributes of one tag, names lowercased and values unescaped.
fn attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name_start = rest[..eq]
            .rfind(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-'))
            .map_or(0, |i| i + 1);
        let name = rest[name_start..eq].to_ascii_lowercase();
        let value_start = eq + 2;
        let Some(len) = rest[value_start..].find('"') else {
            break;
        };
        if !name.is_empty() {
            out.push((name, unescape_html(&rest[value_start..value_start + len])));
        }
        rest = &rest[value_start + len + 1..];
    }
    out
}

fn attr<'a>(a: &'a [(String, String)], name: &str) -> Option<&'a str> {
    a.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Every `<tag ...>` in `page` (ASCII case-insensitive, the name followed by a non-word character).
fn tags<'a>(page: &'a str, lower: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}");
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let at = from + lower[from..].find(&open)?;
        let after = at + open.len();
        from = after;
        if lower[after..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let end = after + lower[after..].find('>')?;
        return Some(&page[at..=end]);
    })
}

/// The one form on a login or consent page, filled: (action URL, urlencoded body).
pub fn fill(page: &str, base: &Url, username: &str, password: &str) -> Result<(Url, String), String> {
    let lower = page.to_ascii_lowercase();
    let form = tags(page, &lower, "form")
        .next()
        .ok_or_else(|| format!("no form on page: {:.200}", page))?;
    let action = attr(&attrs(form), "action")
        .map(str::to_owned)
        .ok_or("form without action")?;
    let mut data = Serializer::new(String::new());
    let mut is_login = false;
    for input in tags(page, &lower, "input") {
        let a = attrs(input);
        let Some(name) = attr(&a, "name") else { continue };
        match attr(&a, "type") {
            Some("hidden") => {
                data.append_pair(name, attr(&a, "value").unwrap_or(""));
            }
            Some("password") => {
                data.append_pair(name, password);
                is_login = true;
            }
            _ if name == "username" || name == "login" => {
                data.append_pair(name, username);
            }
            _ => {}
        }
    }
    if !is_login {
        if let Some(button) = tags(page, &lower, "button")
            .map(attrs)
            .find(|a| attr(a, "name").is_some())
        {
            data.append_pair(
                attr(&button, "name").unwrap_or(""),
                attr(&button, "value").unwrap_or(""),
            );
        }
    }
    let action = base.join(&action).map_err(|e| format!("form action {action}: {e}"))?;
    Ok((action, data.finish()))
}

/// Drives the browser part from `url` until the server redirects to the client: the callback URL.
async fn browse(t: &Target, conn: &mut Conn, jar: &mut Jar, mut url: Url) -> Result<Url, String> {
    let mut r = conn.send(jar, Call::get(&url)).await?;
    for _ in 0..12 {
        if (300..400).contains(&r.status) && r.location.is_some() {
            let next = url
                .join(r.location.as_deref().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            if next.as_str().starts_with(&t.redirect_uri) {
                return Ok(next);
            }
            url = next;
            r = conn.send(jar, Call::get(&url)).await?;
        } else if r.status == 200 {
            let page = String::from_utf8_lossy(&r.body);
            let (action, body) = fill(&page, &url, &t.username, &t.password)?;
            url = action;
            r = conn.send(jar, Call::post(&url, body)).await?;
        } else {
            return Err(format!(
                "browser step {url}: {} {:.200}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    Err("too many browser steps".into())
}

/// A token endpoint request with the client's Basic credentials: the JSON answer.
pub async fn token_request(
    t: &Target,
    conn: &mut Conn,
    jar: &mut Jar,
    params: &[(&str, &str)],
) -> Result<Value, String> {
    let body = Serializer::new(String::new()).extend_pairs(params).finish();
    let r = conn.send(jar, Call::post(&t.token, body).auth(&t.basic)).await?;
    if r.status != 200 {
        return Err(format!("token {} {:.200}", r.status, String::from_utf8_lossy(&r.body)));
    }
    serde_json::from_slice(&r.body).map_err(|e| format!("token answer: {e}"))
}

/// authorize → (pages) → code → token → userinfo: the token response.
pub async fn flow(t: &Target, conn: &mut Conn, jar: &mut Jar, prompt: Option<&str>) -> Result<Value, String> {
    let verifier = random_b64(32);
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    let state = random_b64(12);
    let mut au = t.authorization.clone();
    {
        let mut q = au.query_pairs_mut();
        q.append_pair("client_id", &t.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &t.redirect_uri)
            .append_pair("scope", &t.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &random_b64(12))
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(p) = prompt {
            q.append_pair("prompt", p);
        }
    }
    let cb = browse(t, conn, jar, au).await?;
    let param = |k: &str| cb.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    let code = param("code").filter(|_| param("state").as_deref() == Some(state.as_str()));
    let code = code.ok_or_else(|| format!("callback {cb}"))?;
    if param("iss").as_deref() != Some(t.issuer.as_str()) {
        return Err(format!("iss {:?} != {}", param("iss"), t.issuer));
    }
    let tok = token_request(
        t,
        conn,
        jar,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &t.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    let bearer = format!("Bearer {}", tok["access_token"].as_str().ok_or("no access token")?);
    let ur = conn.send(jar, Call::get(&t.userinfo).auth(&bearer)).await?;
    let sub = serde_json::from_slice::<Value>(&ur.body)
        .ok()
        .and_then(|v| v["sub"].as_str().map(str::to_owned));
    if ur.status != 200 || sub.is_none() {
        return Err(format!("userinfo {}", ur.status));
    }
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_page_is_filled_with_hidden_inputs_username_and_password() {
        let page = r#"<html><FORM method="post" action="/demo/login"><input type="hidden" name="tx" value="a&amp;b">
            <input name="username" type="text"><input type="password" name="password">
            <inputs name="not-an-input" value="x"><button type="submit" name="ok" value="1">Go</button></FORM>"#;
        let base = Url::parse("http://127.0.0.1:8090/demo/authorize?x=1").unwrap();
        let (action, body) = fill(page, &base, "alice", "p w").unwrap();
        assert_eq!(action.as_str(), "http://127.0.0.1:8090/demo/login");
        assert_eq!(body, "tx=a%26b&username=alice&password=p+w");
    }

    #[test]
    fn a_consent_page_submits_its_first_named_button() {
        let page = r#"<form action="consent"><input type="hidden" name="tx" value="t1">
            <button>Back</button><button name="decision" value="allow">Allow</button>
            <button name="decision" value="deny">Deny</button></form>"#;
        let base = Url::parse("http://h:1/demo/authorize").unwrap();
        let (action, body) = fill(page, &base, "u", "p").unwrap();
        assert_eq!(action.as_str(), "http://h:1/demo/consent");
        assert_eq!(body, "tx=t1&decision=allow");
    }

    #[test]
    fn a_page_without_a_form_is_an_error() {
        let base = Url::parse("http://h:1/").unwrap();
        assert!(fill("<p>no form here</p>", &base, "u", "p").is_err());
    }
}
