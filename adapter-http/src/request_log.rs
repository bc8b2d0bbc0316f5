//! One log line per request (`--log-level debug`): method, path, query with credential-bearing
//! values redacted, status and time. poem's own `Tracing` middleware logs the whole URI, and a
//! query can carry an `id_token_hint`, a `code` or a `login_hint`.

use poem::http::Uri;
use poem::{Endpoint, IntoResponse, Request, Response, Result};

/// Query parameters whose values never reach the log.
// SECRETS-not-in-logs
const REDACTED: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token_hint",
    "code",
    "client_secret",
    "client_assertion",
    "password",
    "token",
    "request",
    "login_hint",
    "logout_hint",
    "state",
];

/// `uri`'s path and query, with the values of [`REDACTED`] parameters replaced.
pub fn redacted(uri: &Uri) -> String {
    let Some(q) = uri.query() else {
        return uri.path().to_string();
    };
    let parts: Vec<String> = q
        .split('&')
        .map(|kv| {
            let key = kv.split_once('=').map_or(kv, |(k, _)| k);
            let decoded = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
            if REDACTED.contains(&decoded.as_ref()) {
                format!("{key}=[redacted]")
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{}?{}", uri.path(), parts.join("&"))
}

/// Calls `ep` and logs the request (at info: the flag that enables this is `--log-level debug`).
pub async fn logged<E: Endpoint>(ep: &E, req: Request) -> Result<Response> {
    let started = std::time::Instant::now();
    let (method, uri) = (req.method().clone(), redacted(req.uri()));
    let resp = ep.call(req).await.map(IntoResponse::into_response);
    let status = match &resp {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.status().as_u16(),
    };
    tracing::info!(%method, %uri, status, micros = started.elapsed().as_micros() as u64, "request");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_values_are_redacted_and_the_rest_kept() {
        let uri: Uri = "/demo/end-session?id_token_hint=eyJ.x.y&post_logout_redirect_uri=http%3A%2F%2Fa&access%5Ftoken=abc&state=s1"
            .parse()
            .unwrap();
        let line = redacted(&uri);
        assert_eq!(
            line,
            "/demo/end-session?id_token_hint=[redacted]&post_logout_redirect_uri=http%3A%2F%2Fa&access%5Ftoken=[redacted]&state=[redacted]"
        );
        assert_eq!(redacted(&"/healthz".parse().unwrap()), "/healthz");
    }
}
