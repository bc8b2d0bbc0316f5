//! One keep-alive HTTP/1.1 connection per worker (as `wrk -cN` holds N), reopened when the server
//! closes it, and a path-aware cookie jar for the one server host.

use std::collections::HashMap;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

/// What a flow needs from an answer.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Bytes,
}

/// A request as the flows make them: the URL, and optionally a form body and an Authorization.
pub struct Call<'a> {
    pub url: &'a Url,
    pub form: Option<String>,
    pub authorization: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn get(url: &'a Url) -> Self {
        Call {
            url,
            form: None,
            authorization: None,
        }
    }
    pub fn post(url: &'a Url, form: String) -> Self {
        Call {
            url,
            form: Some(form),
            authorization: None,
        }
    }
    pub fn auth(mut self, authorization: &'a str) -> Self {
        self.authorization = Some(authorization);
        self
    }
}

/// A connection to one `host:port`, opened on first use and again after the server closes it.
pub struct Conn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Requests answered on this connection, counted by the caller for requests per flow.
    pub requests: u64,
}

impl Conn {
    pub fn new(url: &Url) -> Result<Self, String> {
        let host = url.host_str().ok_or_else(|| format!("no host in {url}"))?;
        let port = url.port_or_known_default().ok_or_else(|| format!("no port in {url}"))?;
        Ok(Conn {
            authority: format!("{host}:{port}"),
            sender: None,
            requests: 0,
        })
    }

    /// The connection's sender once it can take a request: the open one if the server kept it,
    /// else a new connection.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let alive = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !alive {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| format!("connect {}: {e}", self.authority))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::task::spawn_local(conn);
            sender.ready().await.map_err(|e| e.to_string())?;
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("alive or just opened"))
    }

    /// Sends `call` with the jar's cookies for its path, stores the cookies it sets, and reads the
    /// whole body. Redirects are not followed.
    pub async fn send(&mut self, jar: &mut Jar, call: Call<'_>) -> Result<Answer, String> {
        let target = match call.url.query() {
            Some(q) => format!("{}?{q}", call.url.path()),
            None => call.url.path().to_owned(),
        };
        let mut req = Request::builder()
            .method(if call.form.is_some() { Method::POST } else { Method::GET })
            .uri(target)
            .header(HOST, self.authority.as_str());
        let cookies = jar.header(call.url.path());
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies);
        }
        if let Some(a) = call.authorization {
            req = req.header(AUTHORIZATION, a);
        }
        let body = match call.form {
            Some(form) => {
                req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(form)
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let res = self.ready().await?.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        for sc in res.headers().get_all(SET_COOKIE) {
            jar.store(sc);
        }
        let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        self.requests += 1;
        Ok(Answer { status, location, body })
    }
}

/// Cookies by (name, path), as a browser keeps them for one host.
#[derive(Default)]
pub struct Jar {
    cookies: HashMap<(String, String), String>,
}

impl Jar {
    fn store(&mut self, set_cookie: &HeaderValue) {
        let Ok(sc) = set_cookie.to_str() else { return };
        let mut parts = sc.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (mut path, mut expired) = ("/".to_owned(), false);
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k.to_ascii_lowercase().as_str() {
                "path" => path = v.to_owned(),
                "max-age" => expired |= v.parse::<i64>().is_ok_and(|s| s <= 0),
                "expires" => expired |= httpdate::parse_http_date(v).is_ok_and(|t| t <= SystemTime::now()),
                _ => {}
            }
        }
        let key = (name.to_owned(), path);
        if expired || value.is_empty() {
            self.cookies.remove(&key);
        } else {
            self.cookies.insert(key, value.to_owned());
        }
    }

    /// The `Cookie` header for a request to `path` (empty when no cookie applies).
    fn header(&self, path: &str) -> String {
        let mut out = String::new();
        for ((name, cpath), value) in &self.cookies {
            let dir = if cpath.ends_with('/') {
                cpath.clone()
            } else {
                format!("{cpath}/")
            };
            if path == cpath || path.starts_with(&dir) {
                if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(name);
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jar_sends_cookies_by_path_and_forgets_expired_ones() {
        let mut jar = Jar::default();
        jar.store(&HeaderValue::from_static("sid=abc; Path=/demo; HttpOnly"));
        jar.store(&HeaderValue::from_static("root=1"));
        assert_eq!(jar.header("/other"), "root=1");
        let both = jar.header("/demo/authorize");
        assert!(both.contains("sid=abc") && both.contains("root=1"), "{both}");
        assert!(!jar.header("/demonstration").contains("sid"));
        jar.store(&HeaderValue::from_static("sid=gone; Path=/demo; Max-Age=0"));
        assert_eq!(jar.header("/demo/authorize"), "root=1");
        jar.store(&HeaderValue::from_static(
            "root=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ));
        assert_eq!(jar.header("/"), "");
    }
}
