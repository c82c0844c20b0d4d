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
    /// `uid:N` rules, for Unix stream clients (SO_PEERCRED).
    allow_uids: Vec<u32>,
    deny_uids: Vec<u32>,
}

/// An `--allow`/`--deny` entry: `uid:N` or a CIDR.
enum Rule {
    Uid(u32),
    Net(Cidr),
}

fn rule(s: &str) -> Result<Rule> {
    match s.strip_prefix("uid:") {
        Some(n) => n.parse::<u32>().map(Rule::Uid).map_err(|_| {
            crate::error::Error::usage(format!("invalid uid in '{s}' (expected uid:1000)"))
        }),
        None => Cidr::parse(s).map(Rule::Net),
    }
}

impl Access {
    pub fn new(allow: &[String], deny: &[String]) -> Result<Access> {
        let mut a = Access::default();
        for s in allow {
            match rule(s)? {
                Rule::Uid(uid) => a.allow_uids.push(uid),
                Rule::Net(c) => a.allow.push(c),
            }
        }
        for s in deny {
            match rule(s)? {
                Rule::Uid(uid) => a.deny_uids.push(uid),
                Rule::Net(c) => a.deny.push(c),
            }
        }
        Ok(a)
    }

    /// Whether any `--allow` rule narrows who may connect.
    pub fn restricts(&self) -> bool {
        !self.allow.is_empty() || !self.allow_uids.is_empty()
    }

    /// Whether a peer may connect: an inet peer by its address (CIDR
    /// rules), a Unix stream client by its uid (`uid:N` rules); other Unix
    /// peers have neither and are guarded by the socket file's mode.
    pub fn permits(&self, ip: Option<IpAddr>, uid: Option<u32>) -> bool {
        if let Some(ip) = ip {
            if self.deny.iter().any(|c| c.contains(ip)) {
                return false;
            }
            let open = self.allow.is_empty() && self.allow_uids.is_empty();
            return open || self.allow.iter().any(|c| c.contains(ip));
        }
        let Some(uid) = uid else { return true };
        if self.deny_uids.contains(&uid) {
            return false;
        }
        self.allow_uids.is_empty() || self.allow_uids.contains(&uid)
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
        assert!(a.permits(Some("127.0.0.1".parse().unwrap()), None));
        assert!(!a.permits(Some("127.0.0.2".parse().unwrap()), None));
        assert!(!a.permits(Some("::1".parse().unwrap()), None));
        assert!(a.permits(None, None));
    }

    #[test]
    fn uid_rules_match_unix_clients() {
        let a = Access::new(&["uid:1000".into()], &[]).unwrap();
        assert!(a.permits(None, Some(1000)));
        assert!(!a.permits(None, Some(0)));
        // A Unix client the kernel vouched for no one about still passes,
        // and an inet peer matches no uid rule.
        assert!(a.permits(None, None));
        assert!(!a.permits(Some("127.0.0.1".parse().unwrap()), None));
        let d = Access::new(&[], &["uid:0".into()]).unwrap();
        assert!(!d.permits(None, Some(0)));
        assert!(d.permits(None, Some(65534)));
        assert!(d.permits(Some("127.0.0.1".parse().unwrap()), None));
        assert!(Access::new(&["uid:me".into()], &[]).is_err());
    }
}
