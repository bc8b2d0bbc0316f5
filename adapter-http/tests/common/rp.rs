//! A relying party's calls with the demo client, given an issuer URL: token requests that report
//! a failed connection instead of panicking (the servers under test get killed), and a browser with
//! a session.

use super::*;
use std::time::Duration;

/// The demo client's token endpoint, as a relying party calls it; `Err` when no answer came.
pub async fn token_call(iss: &str, secret: &str, form: &[(&str, &str)]) -> Result<(u16, Value), reqwest::Error> {
    let r = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .post(format!("{iss}/token"))
        .basic_auth("demo-client", Some(secret))
        .form(form)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

pub async fn redeem(iss: &str, secret: &str, code: &str) -> Result<(u16, Value), reqwest::Error> {
    token_call(
        iss,
        secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

pub async fn refresh(iss: &str, secret: &str, rt: &str) -> Result<(u16, Value), reqwest::Error> {
    token_call(iss, secret, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

/// A code from a browser with a live session and remembered consent (no UI).
pub async fn sso_code(b: &Client, iss: &str) -> Result<String, String> {
    let r = b
        .get(authorize_url(iss, "demo-client", CB, "openid", ""))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let loc = r
        .headers()
        .get("location")
        .ok_or("no redirect")?
        .to_str()
        .unwrap()
        .to_string();
    param(&loc, "code").ok_or(loc)
}

pub fn browser_with_timeout() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Awaits every task, in order.
pub async fn futures_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}
