//! Outbound HTTP: the documents the provider fetches for clients (`request_uri`, `jwks_uri`,
//! `sector_identifier_uri`) and back-channel logout POSTs. http(s) only, no redirects, bounded
//! time and size, and only public addresses unless the operator allowed private ones
//! (`--allow-private-fetch`, for development). The connection goes to the address that was
//! checked, so a second DNS answer cannot point it elsewhere.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one fetch or POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document fetched.
pub const MAX_BYTES: usize = 64 * 1024;

/// Why an outbound request was not made or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Not an absolute http(s) URL with a host.
    BadUrl,
    /// The host resolves to a loopback, private or otherwise non-public address.
    NotPublic,
    /// DNS, connection, TLS or timeout.
    Unreachable,
    /// A status other than 2xx.
    Status(u16),
    /// The body is larger than [`MAX_BYTES`] or not UTF-8.
    BadBody,
    /// This build has no HTTP client (`outbound` feature off).
    Unavailable,
}

impl FetchError {
    /// For logs and for the engine's "could not be fetched" reasons.
    pub fn describe(&self) -> String {
        match self {
            FetchError::BadUrl => "not an absolute http(s) URL".into(),
            FetchError::NotPublic => "the host is not a public address".into(),
            FetchError::Unreachable => "unreachable or too slow".into(),
            FetchError::Status(s) => format!("answered HTTP {s}"),
            FetchError::BadBody => "the body is too large or not text".into(),
            FetchError::Unavailable => "outbound HTTP is not built in".into(),
        }
    }
}

/// Whether `ip` is an ordinary public unicast address.
// OUTBOUND-fetch-guard
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// The outbound client and its address policy.
#[derive(Clone, Debug)]
pub struct Outbound {
    /// Let requests reach non-public addresses (development and tests only).
    pub allow_private: bool,
}

/// A checked destination: the URL, its host, and the address to connect to.
#[cfg_attr(not(feature = "outbound"), allow(dead_code))]
struct Target {
    url: url::Url,
    host: String,
    addr: SocketAddr,
}

impl Outbound {
    async fn target(&self, raw: &str) -> Result<Target, FetchError> {
        let url = url::Url::parse(raw).map_err(|_| FetchError::BadUrl)?;
        if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::BadUrl);
        }
        let host = url.host_str().ok_or(FetchError::BadUrl)?.to_string();
        let port = url.port_or_known_default().ok_or(FetchError::BadUrl)?;
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let addrs: Vec<SocketAddr> = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((bare.as_str(), port)))
            .await
            .map_err(|_| FetchError::Unreachable)?
            .map_err(|_| FetchError::Unreachable)?
            .collect();
        let addr = *addrs.first().ok_or(FetchError::Unreachable)?;
        if !self.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(FetchError::NotPublic);
        }
        Ok(Target { url, host: bare, addr })
    }

    /// GETs `url`; the body as text.
    pub async fn get(&self, url: &str) -> Result<String, FetchError> {
        let t = self.target(url).await?;
        self.send_get(t).await
    }

    /// POSTs `form` (urlencoded) to `url`; the status.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<u16, FetchError> {
        let t = self.target(url).await?;
        self.send_post(t, form).await
    }

    /// POSTs back-channel logout tokens, all at once and each bounded by [`TIMEOUT`], before the
    /// caller answers (OIDC Back-Channel Logout 1.0 §2.5). A client that does not answer 200 is
    /// logged, not retried.
    pub async fn send_logout_tokens(&self, tenant: &str, notices: Vec<engine::session::logout::LogoutNotice>) {
        let mut sends = tokio::task::JoinSet::new();
        for n in notices {
            let outbound = self.clone();
            let tenant = tenant.to_string();
            sends.spawn(async move {
                let r = outbound
                    .post_form(&n.uri, &[("logout_token", n.logout_token.as_str())])
                    .await;
                if r != Ok(200) {
                    tracing::info!(%tenant, uri = %n.uri, result = ?r, "back-channel logout not acknowledged");
                }
            });
        }
        while sends.join_next().await.is_some() {}
    }

    #[cfg(feature = "outbound")]
    fn client(t: &Target) -> Result<reqwest::Client, FetchError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .resolve(&t.host, t.addr)
            .build()
            .map_err(|_| FetchError::Unreachable)
    }

    #[cfg(feature = "outbound")]
    async fn send_get(&self, t: Target) -> Result<String, FetchError> {
        let mut r = Self::client(&t)?
            .get(t.url)
            .header(
                "accept",
                "application/json, application/jwt, application/oauth-authz-req+jwt, */*",
            )
            .send()
            .await
            .map_err(|_| FetchError::Unreachable)?;
        if !r.status().is_success() {
            return Err(FetchError::Status(r.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|_| FetchError::Unreachable)? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(FetchError::BadBody);
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| FetchError::BadBody)
    }

    #[cfg(feature = "outbound")]
    async fn send_post(&self, t: Target, form: &[(&str, &str)]) -> Result<u16, FetchError> {
        let r = Self::client(&t)?
            .post(t.url)
            .form(form)
            .send()
            .await
            .map_err(|_| FetchError::Unreachable)?;
        Ok(r.status().as_u16())
    }

    #[cfg(not(feature = "outbound"))]
    async fn send_get(&self, _t: Target) -> Result<String, FetchError> {
        Err(FetchError::Unavailable)
    }

    #[cfg(not(feature = "outbound"))]
    async fn send_post(&self, _t: Target, _form: &[(&str, &str)]) -> Result<u16, FetchError> {
        Err(FetchError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        spec::covers("OUTBOUND-fetch-guard");
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn non_http_urls_and_private_hosts_are_refused_before_any_connection() {
        let guarded = Outbound { allow_private: false };
        for (url, why) in [
            ("ftp://example.org/x", FetchError::BadUrl),
            ("file:///etc/passwd", FetchError::BadUrl),
            ("http://user:pw@example.org/", FetchError::BadUrl),
            ("not a url", FetchError::BadUrl),
            ("http://127.0.0.1:9/x", FetchError::NotPublic),
            ("http://[::1]:9/x", FetchError::NotPublic),
            ("http://localhost:9/x", FetchError::NotPublic),
            ("http://169.254.169.254/latest/meta-data", FetchError::NotPublic),
        ] {
            assert_eq!(guarded.get(url).await, Err(why.clone()), "{url}");
            assert_eq!(guarded.post_form(url, &[]).await, Err(why), "{url}");
        }
        // With the development flag, loopback is reachable (here: nothing listens on port 9).
        #[cfg(feature = "outbound")]
        let dev = Outbound { allow_private: true };
        #[cfg(feature = "outbound")]
        assert_eq!(dev.get("http://127.0.0.1:9/x").await, Err(FetchError::Unreachable));
    }
}
