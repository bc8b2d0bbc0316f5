//! The client's address, which the rate limits and the failed-login throttle count by: the
//! connection's peer, or, when the peer is a proxy the operator trusts (`--trusted-proxies`,
//! e.g. the load balancer in front of several instances), the address that proxy was given in
//! `X-Forwarded-For`. The header is read from the right, skipping trusted proxies, so an address a
//! client wrote into the header itself is never believed.

use ipnet::IpNet;
use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and ranges (`10.0.0.5,10.1.0.0/16,::1`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("not an address or a range: {s}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client address of `req`, as a limiter key.
    pub fn client_ip(&self, req: &poem::Request) -> String {
        let Some(peer) = req.remote_addr().as_socket_addr().map(|a| a.ip()) else {
            return "unknown".into();
        };
        let forwarded = req.headers().get_all("x-forwarded-for");
        self.resolve(peer, forwarded.iter().filter_map(|v| v.to_str().ok()))
            .to_string()
    }

    /// The first address, going back from `peer` through the `X-Forwarded-For` values, that is not
    /// a trusted proxy (or the last address believed, when all of them are).
    fn resolve<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(&ip) {
                        break;
                    }
                }
                // Garbage in the header: stop at the last address believed.
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_behind_a_trusted_proxy_and_is_read_from_the_right() {
        let none = TrustedProxies::default();
        let lb = TrustedProxies::parse("10.0.0.0/24, 192.168.1.7").unwrap();
        let via = |t: &TrustedProxies, peer: &str, xff: &[&str]| t.resolve(ip(peer), xff.iter().copied());
        assert_eq!(
            via(&none, "10.0.0.1", &["1.2.3.4"]),
            ip("10.0.0.1"),
            "no trusted proxy: the peer"
        );
        assert_eq!(
            via(&lb, "203.0.113.9", &["1.2.3.4"]),
            ip("203.0.113.9"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(via(&lb, "10.0.0.1", &["1.2.3.4"]), ip("1.2.3.4"));
        assert_eq!(
            via(&lb, "10.0.0.1", &["6.6.6.6, 1.2.3.4"]),
            ip("1.2.3.4"),
            "what the client wrote itself (left) is not believed"
        );
        assert_eq!(
            via(&lb, "10.0.0.1", &["6.6.6.6", "1.2.3.4, 192.168.1.7"]),
            ip("1.2.3.4"),
            "through two proxies"
        );
        assert_eq!(
            via(&lb, "10.0.0.1", &["junk"]),
            ip("10.0.0.1"),
            "garbage: the proxy itself"
        );
        assert_eq!(via(&lb, "10.0.0.1", &[]), ip("10.0.0.1"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("::1,2001:db8::/32").is_ok());
        assert_eq!(TrustedProxies::parse("").unwrap(), none);
    }
}
