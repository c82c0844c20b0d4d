//! `--allow` / `--deny`: which peers a server talks to.
//!
//! An address is refused when it matches any `--deny`, or when there are
//! `--allow` rules and it matches none. Unix peers have no address and are
//! always allowed (file permissions and `--mode` guard them).

use std::net::IpAddr;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr> {
        let bad = || {
            Error::usage(format!(
                "invalid CIDR '{s}' (expected 127.0.0.0/8, ::1/128 or an address)"
            ))
        };
        let (ip, bits) = match s.split_once('/') {
            Some((ip, b)) => (ip, Some(b)),
            None => (s, None),
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let net: IpAddr = ip.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

#[derive(Clone, Debug, Default)]
pub struct Access {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl Access {
    pub fn new(allow: &[String], deny: &[String]) -> Result<Access> {
        Ok(Access {
            allow: allow
                .iter()
                .map(|s| Cidr::parse(s))
                .collect::<Result<_>>()?,
            deny: deny.iter().map(|s| Cidr::parse(s)).collect::<Result<_>>()?,
        })
    }

    /// Whether any `--allow` rule narrows who may connect.
    pub fn restricts(&self) -> bool {
        !self.allow.is_empty()
    }

    pub fn permits(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return true };
        if self.deny.iter().any(|c| c.contains(ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(c.contains("127.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:127.0.0.2".parse().unwrap()));
        let c = Cidr::parse("127.0.0.1").unwrap();
        assert!(!c.contains("127.0.0.2".parse().unwrap()));
        let c = Cidr::parse("::1/128").unwrap();
        assert!(c.contains("::1".parse().unwrap()));
        let c = Cidr::parse("10.0.0.0/13").unwrap();
        assert!(c.contains("10.7.255.255".parse().unwrap()));
        assert!(!c.contains("10.8.0.0".parse().unwrap()));
        for bad in ["", "1.2.3.4/33", "::1/129", "nope", "1.2.3.4/x"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deny_wins() {
        let a = Access::new(&["127.0.0.0/8".into()], &["127.0.0.2".into()]).unwrap();
        assert!(a.permits(Some("127.0.0.1".parse().unwrap())));
        assert!(!a.permits(Some("127.0.0.2".parse().unwrap())));
        assert!(!a.permits(Some("::1".parse().unwrap())));
        assert!(a.permits(None));
    }
}
