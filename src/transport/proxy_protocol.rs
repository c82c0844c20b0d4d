//! The PROXY protocol (HAProxy's doc/proxy-protocol.txt), version 1 (a
//! text line) and version 2 (binary): the header a load balancer writes
//! before a connection's first byte to name the client it stands for.
//!
//! Pure: [`parse`] reads a header from the bytes seen so far (the version
//! told by its first bytes), [`encode`] writes one, and [`Gather`] says
//! how many more bytes a header can still need, so a reader takes exactly
//! the header's bytes off a socket and never one past it (what follows is
//! the client's, or a TLS handshake). The sockets are read by
//! `proxy_protocol/io.rs`; `--send-proxy` writes [`encode`]'s bytes as a
//! stage of `transport::Connector`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

mod io;
#[cfg(test)]
mod tests;

pub use io::{Announce, HEADER_TIMEOUT, Reading, read_blocking};

/// Version 2's signature, its first 12 bytes.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1's longest line, CRLF included (the spec's 107).
pub const V1_MAX: usize = 107;
/// Version 2's fixed part: the signature, version and command, family
/// and protocol, and the length of what follows.
const V2_FIXED: usize = 16;
/// The longest version 2 header sockcat takes (the spec allows 64 KiB of
/// TLVs; load balancers send a few hundred bytes at most). A longer one is
/// refused as oversize rather than held in memory.
pub const V2_MAX: usize = 4096;

/// Which version of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// What a header says of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addresses {
    /// The client (source) and the address it connected to (destination).
    Inet { src: SocketAddr, dst: SocketAddr },
    /// Version 2's AF_UNIX: the two socket names (NUL-padded in the
    /// header, cut at their first NUL here).
    Unix { src: Vec<u8>, dst: Vec<u8> },
    /// No addresses: version 1's `UNKNOWN`, version 2's `LOCAL` command
    /// (a health check, or a connection of the balancer's own) or
    /// `UNSPEC` family. The receiver keeps the connection's own.
    Unknown,
}

/// `--send-proxy`: the header every connection a client makes begins
/// with, and for `send`, the source it claims (`--proxy-source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendProxy {
    pub version: Version,
    pub source: Option<SocketAddr>,
}

/// A parsed header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    pub addresses: Addresses,
}

/// Why bytes are not a header: a one-line reason for the refusal event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Neither version's signature.
    Signature,
    /// A version 1 line longer than 107 bytes, or a version 2 header
    /// longer than [`V2_MAX`].
    Oversize,
    /// The signature is right, what follows is not.
    Malformed(&'static str),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Signature => f.write_str("no PROXY protocol signature"),
            Invalid::Oversize => f.write_str("PROXY protocol header too long"),
            Invalid::Malformed(why) => write!(f, "malformed PROXY protocol header: {why}"),
        }
    }
}

/// A header from the first bytes of a connection: `Ok(Some((len,
/// header)))` when `buf` begins with a whole one of `len` bytes,
/// `Ok(None)` while `buf` is a beginning of one that needs more bytes,
/// or why it cannot be one.
pub fn parse(buf: &[u8]) -> Result<Option<(usize, Header)>, Invalid> {
    let v1 = b"PROXY ";
    if buf.len() >= v1.len() && buf.starts_with(v1) {
        return parse_v1(buf);
    }
    if buf.len() >= V2_SIGNATURE.len() && buf.starts_with(&V2_SIGNATURE) {
        return parse_v2(buf);
    }
    if v1.starts_with(buf) || V2_SIGNATURE.starts_with(buf) {
        return Ok(None);
    }
    Err(Invalid::Signature)
}

fn parse_v1(buf: &[u8]) -> Result<Option<(usize, Header)>, Invalid> {
    let within = &buf[..buf.len().min(V1_MAX)];
    let Some(cr) = memchr::memchr2(b'\r', b'\n', within) else {
        return match buf.len() >= V1_MAX {
            true => Err(Invalid::Oversize),
            false => Ok(None),
        };
    };
    if within[cr] == b'\n' {
        return Err(Invalid::Malformed("LF without CR"));
    }
    match within.get(cr + 1) {
        Some(b'\n') => {}
        Some(_) => return Err(Invalid::Malformed("CR without LF")),
        None if cr + 1 >= V1_MAX => return Err(Invalid::Oversize),
        None => return Ok(None),
    }
    let line = std::str::from_utf8(&within[..cr])
        .map_err(|_| Invalid::Malformed("a version 1 line is ASCII"))?;
    let len = cr + 2;
    let words: Vec<&str> = line.split(' ').collect();
    let header = |addresses| {
        Ok(Some((
            len,
            Header {
                version: Version::V1,
                addresses,
            },
        )))
    };
    match words.get(1).copied() {
        // The spec: what follows UNKNOWN is ignored.
        Some("UNKNOWN") => header(Addresses::Unknown),
        Some(proto @ ("TCP4" | "TCP6")) => {
            let [_, _, src, dst, sport, dport] = words[..] else {
                return Err(Invalid::Malformed("TCP4 and TCP6 take four fields"));
            };
            let v6 = proto == "TCP6";
            let src = SocketAddr::new(ip_of(src, v6)?, port_of(sport)?);
            let dst = SocketAddr::new(ip_of(dst, v6)?, port_of(dport)?);
            header(Addresses::Inet { src, dst })
        }
        _ => Err(Invalid::Malformed("the protocol is TCP4, TCP6 or UNKNOWN")),
    }
}

/// A version 1 address of its family (no zone, no brackets).
fn ip_of(text: &str, v6: bool) -> Result<IpAddr, Invalid> {
    let ip = if v6 {
        text.parse::<Ipv6Addr>().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().map(IpAddr::V4)
    };
    ip.map_err(|_| {
        Invalid::Malformed("an address that is not a plain address of the protocol's family")
    })
}

/// A version 1 port: decimal, 0 to 65535, no sign, no leading zero.
fn port_of(text: &str) -> Result<u16, Invalid> {
    let plain = text.bytes().all(|b| b.is_ascii_digit())
        && !text.is_empty()
        && (text == "0" || !text.starts_with('0'));
    match plain {
        true => text
            .parse()
            .map_err(|_| Invalid::Malformed("a port is above 65535")),
        false => Err(Invalid::Malformed("a port is a decimal number")),
    }
}

fn parse_v2(buf: &[u8]) -> Result<Option<(usize, Header)>, Invalid> {
    let Some(fixed) = buf.get(..V2_FIXED) else {
        // The version byte is checked as soon as it is there.
        return match buf.get(12) {
            Some(b) if b >> 4 != 2 => {
                Err(Invalid::Malformed("a binary header whose version is not 2"))
            }
            _ => Ok(None),
        };
    };
    let (ver_cmd, fam) = (fixed[12], fixed[13]);
    if ver_cmd >> 4 != 2 {
        return Err(Invalid::Malformed("a binary header whose version is not 2"));
    }
    let len = V2_FIXED + usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > V2_MAX {
        return Err(Invalid::Oversize);
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(Invalid::Malformed("the command is LOCAL or PROXY")),
    };
    if !matches!(fam & 0x0f, 0..=2) {
        return Err(Invalid::Malformed(
            "the protocol is UNSPEC, STREAM or DGRAM",
        ));
    }
    let need = match fam >> 4 {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        _ => {
            return Err(Invalid::Malformed(
                "the family is UNSPEC, INET, INET6 or UNIX",
            ));
        }
    };
    if len - V2_FIXED < need {
        return Err(Invalid::Malformed(
            "the length is shorter than its addresses",
        ));
    }
    let Some(body) = buf.get(V2_FIXED..len) else {
        return Ok(None);
    };
    // LOCAL: the receiver ignores the addresses, as it ignores the TLVs
    // after them.
    let addresses = match fam >> 4 {
        _ if local => Addresses::Unknown,
        1 => {
            let ip = |at: usize| IpAddr::from([body[at], body[at + 1], body[at + 2], body[at + 3]]);
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Addresses::Inet {
                src: SocketAddr::new(ip(0), port(8)),
                dst: SocketAddr::new(ip(4), port(10)),
            }
        }
        2 => {
            let ip = |at: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&body[at..at + 16]);
                IpAddr::from(b)
            };
            let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
            Addresses::Inet {
                src: SocketAddr::new(ip(0), port(32)),
                dst: SocketAddr::new(ip(16), port(34)),
            }
        }
        3 => {
            let name = |b: &[u8]| b[..memchr::memchr(0, b).unwrap_or(b.len())].to_vec();
            Addresses::Unix {
                src: name(&body[..108]),
                dst: name(&body[108..216]),
            }
        }
        _ => Addresses::Unknown,
    };
    Ok(Some((
        len,
        Header {
            version: Version::V2,
            addresses,
        },
    )))
}

/// A header of `version` naming `src` (the client) and `dst` (where it
/// connected); without both (a Unix socket's client), version 1's
/// `UNKNOWN` and version 2's `LOCAL`, as HAProxy sends. Families that
/// differ are both given as IPv6 (an IPv4 one mapped), as HAProxy does.
pub fn encode(version: Version, ends: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let ends = ends.map(|(s, d)| match (s, d) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => (s, d),
        _ => (as_v6(s), as_v6(d)),
    });
    match version {
        Version::V1 => match ends {
            None => b"PROXY UNKNOWN\r\n".to_vec(),
            Some((s, d)) => {
                let proto = if s.is_ipv4() { "TCP4" } else { "TCP6" };
                let (sp, dp) = (s.port(), d.port());
                format!("PROXY {proto} {} {} {sp} {dp}\r\n", s.ip(), d.ip()).into_bytes()
            }
        },
        Version::V2 => {
            let mut out = V2_SIGNATURE.to_vec();
            match ends {
                None => out.extend_from_slice(&[0x20, 0x00, 0, 0]),
                Some((s, d)) => {
                    let fam = if s.is_ipv4() { 0x11 } else { 0x21 };
                    let mut body = Vec::with_capacity(36);
                    for ip in [s.ip(), d.ip()] {
                        match ip {
                            IpAddr::V4(ip) => body.extend_from_slice(&ip.octets()),
                            IpAddr::V6(ip) => body.extend_from_slice(&ip.octets()),
                        }
                    }
                    body.extend_from_slice(&s.port().to_be_bytes());
                    body.extend_from_slice(&d.port().to_be_bytes());
                    out.extend_from_slice(&[0x21, fam]);
                    // 12 or 36 bytes: a u16 holds it.
                    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
                    out.extend_from_slice(&body);
                }
            }
            out
        }
    }
}

fn as_v6(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        v6 => v6,
    }
}

/// A header gathered off a socket a few bytes at a time: how many more it
/// can take without reading past its end, and the bytes so far.
#[derive(Debug, Default)]
pub struct Gather {
    seen: Vec<u8>,
}

impl Gather {
    /// How many bytes to look at next: up to the end of version 2's fixed
    /// part or of its whole length, once known; for version 1 (whose end
    /// is its CRLF), up to its longest line, looked at without taking
    /// them ([`Gather::take`] says how many are the header's).
    pub fn want(&self) -> usize {
        let seen = &self.seen;
        if seen.len() >= V2_FIXED && seen.starts_with(&V2_SIGNATURE) {
            let len = V2_FIXED + usize::from(u16::from_be_bytes([seen[14], seen[15]]));
            return len.saturating_sub(seen.len()).max(1);
        }
        if seen.first() == Some(&b'P') {
            return V1_MAX.saturating_sub(seen.len()).max(1);
        }
        V2_FIXED.saturating_sub(seen.len()).max(1)
    }

    /// Of `peeked` (bytes waiting on the socket, not taken yet), how many
    /// belong to the header: all of them, or for version 1, those up to
    /// its LF.
    pub fn take(&self, peeked: &[u8]) -> usize {
        let v1 = self.seen.first().or(peeked.first()) == Some(&b'P');
        match memchr::memchr(b'\n', peeked) {
            Some(lf) if v1 => lf + 1,
            _ => peeked.len(),
        }
    }

    /// Whether nothing of a header has come yet.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Add bytes taken off the socket: the header once whole, `None`
    /// while more are needed, or why these cannot be one.
    pub fn push(&mut self, taken: &[u8]) -> Result<Option<Header>, Invalid> {
        self.seen.extend_from_slice(taken);
        Ok(parse(&self.seen)?.map(|(_, h)| h))
    }
}
