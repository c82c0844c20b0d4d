//! Address parsing and resolution.
//!
//! Parsing is pure and unit-tested: the command line is turned into an
//! [`Addr`] once, and nothing later sees the raw text. Resolution turns an
//! inet address into every socket address its host names, in order.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::error::{Error, Result};

pub const DEFAULT_HOST: &str = "localhost";
pub const DEFAULT_PORT: u16 = 10000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A Unix socket name: a file path, or (Linux) a name in the abstract namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixName {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Inet {
        proto: Proto,
        host: String,
        port: u16,
    },
    Unix {
        name: UnixName,
        /// `unixgram:`: datagrams rather than a stream.
        dgram: bool,
    },
}

/// Which address families `-4` / `-6` allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Any,
    V4,
    V6,
}

/// The four transports (defined with the events, which name them and sit
/// below every other layer).
pub use crate::event::Kind;

mod ws;
pub use ws::{WsUrl, parse_ws};

impl Addr {
    pub fn is_datagram(&self) -> bool {
        matches!(
            self,
            Addr::Inet {
                proto: Proto::Udp,
                ..
            } | Addr::Unix { dgram: true, .. }
        )
    }

    /// The transport's name as the readiness line shows it.
    pub fn kind(&self) -> Kind {
        match self {
            Addr::Inet {
                proto: Proto::Tcp, ..
            } => Kind::Tcp,
            Addr::Inet {
                proto: Proto::Udp, ..
            } => Kind::Udp,
            Addr::Unix { dgram: false, .. } => Kind::Unix,
            Addr::Unix { dgram: true, .. } => Kind::Unixgram,
        }
    }
}

impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Path(p) => write!(f, "{}", p.display()),
            UnixName::Abstract(n) => write!(f, "@{}", String::from_utf8_lossy(n)),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet { host, port, .. } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Inet { host, port, .. } => write!(f, "{host}:{port}"),
            Addr::Unix { name, .. } => write!(f, "{name}"),
        }
    }
}

impl std::str::FromStr for Addr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Addr> {
        parse(s)
    }
}

/// A listening socket a server inherits rather than binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inherited {
    /// `fd:N`: descriptor N, left open by whoever started sockcat.
    Fd(i32),
    /// `systemd`, `systemd:NAME`: systemd's socket activation (every
    /// socket in `LISTEN_FDS`, or those named NAME in `LISTEN_FDNAMES`).
    Systemd(Option<String>),
    /// `stdio`: one connection, already accepted, handed over on stdin
    /// (inetd's `nowait`, `systemd-socket-activate --inetd`, a `.socket`
    /// unit with `Accept=yes` and `StandardInput=socket`): served, then
    /// the server exits.
    Stdio,
}

/// `fd:N`, `systemd`, `systemd:NAME` or `stdio`, if `s` is one of those
/// forms (`None` otherwise). They take precedence over host names:
/// `tcp://fd:3` reaches a host named `fd`, `tcp://stdio` one named `stdio`.
pub fn parse_inherited(s: &str) -> Option<Result<Inherited>> {
    if s == "stdio" {
        return Some(Ok(Inherited::Stdio));
    }
    if s == "systemd" {
        return Some(Ok(Inherited::Systemd(None)));
    }
    if let Some(name) = s.strip_prefix("systemd:") {
        return Some(if name.is_empty() || name.contains(':') {
            Err(Error::usage(format!(
                "invalid socket name in '{s}' (systemd:NAME, as in FileDescriptorName=)"
            )))
        } else {
            Ok(Inherited::Systemd(Some(name.to_string())))
        });
    }
    let n = s.strip_prefix("fd:")?;
    Some(match n.parse::<i32>() {
        Ok(n) if n >= 3 => Ok(Inherited::Fd(n)),
        Ok(n) if (0..3).contains(&n) => Err(Error::usage(format!(
            "'{s}': descriptors 0, 1 and 2 are stdin, stdout and stderr; \
             an inherited listening socket is fd:3 or above (a connection handed \
             over on stdin, as inetd and Accept=yes do, is stdio)"
        ))),
        _ => Err(Error::usage(format!(
            "invalid descriptor in '{s}' (fd:N; tcp://fd:PORT reaches a host named fd)"
        ))),
    })
}

/// The proxies `--proxy` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS5 (RFC 1928), the target's name resolved here.
    Socks5,
    /// SOCKS5, the target's name resolved by the proxy.
    Socks5h,
    /// HTTP CONNECT.
    Http,
}

/// `--proxy URL`, parsed: `socks5://`, `socks5h://` or `http://`, an
/// optional `USER:PASS@` (percent-encoded where needed), and HOST[:PORT]
/// (1080 for SOCKS, 3128 for HTTP, as ncat has them).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub auth: Option<(String, String)>,
}

// Never the password, in a debug print either.
impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// As events and errors show it: the user, never the password.
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
            ProxyKind::Http => "http",
        };
        let user = self
            .auth
            .as_ref()
            .map_or(String::new(), |(u, _)| format!("{u}@"));
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{scheme}://{user}{host}:{}", self.port)
    }
}

/// Parse `--proxy URL`.
pub fn parse_proxy(s: &str) -> Result<ProxyUrl> {
    let bad = |m: String| Error::usage(format!("--proxy {s}: {m}"));
    let (kind, rest, default_port) = if let Some(r) = s.strip_prefix("socks5://") {
        (ProxyKind::Socks5, r, 1080)
    } else if let Some(r) = s.strip_prefix("socks5h://") {
        (ProxyKind::Socks5h, r, 1080)
    } else if let Some(r) = s.strip_prefix("http://") {
        (ProxyKind::Http, r, 3128)
    } else {
        return Err(bad(
            "use socks5://, socks5h:// (names resolved by the proxy) or http:// (CONNECT)".into(),
        ));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (auth, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let (u, p) = (
                percent_decode(u).map_err(bad)?,
                percent_decode(p).map_err(bad)?,
            );
            if u.is_empty() || u.len() > 255 || p.len() > 255 {
                return Err(bad(
                    "the user name must be 1-255 bytes, the password 0-255".into()
                ));
            }
            (Some((u, p)), hp)
        }
        None => (None, rest),
    };
    if hostport.is_empty() || hostport.contains('/') {
        return Err(bad("expected HOST[:PORT] after the scheme".into()));
    }
    // HOST alone (or [V6] alone) takes the scheme's port.
    let with_port = if hostport.ends_with(']') || !hostport.contains(':') {
        format!("{hostport}:{default_port}")
    } else {
        hostport.to_string()
    };
    let (host, port) = split_host_port(&with_port).map_err(bad)?;
    if port == 0 {
        return Err(bad("port 0 is no proxy's".into()));
    }
    Ok(ProxyUrl {
        kind,
        host,
        port,
        auth,
    })
}

/// `%XX` escapes, as a URL's user and password may hold them.
fn percent_decode(s: &str) -> std::result::Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid escape at '{}'", &s[i..]))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user name and password must be UTF-8".to_string())
}

/// Parse an address with the netcat-style shorthands applied: `-U` reads a
/// plain argument as a Unix socket path, `-u` makes an inet address UDP (or
/// a Unix one a datagram socket).
pub fn parse_with(raw: &str, udp: bool, unix: bool) -> Result<Addr> {
    let is_unix_form = raw.starts_with("unix:") || raw.starts_with("unixgram:");
    let addr = if unix && !is_unix_form {
        if raw.contains("://") {
            return Err(Error::usage(format!(
                "-U conflicts with the address '{raw}'"
            )));
        }
        // A plain argument is a path as it stands: `-U //tmp/s` is not
        // the `unix://` form, whose `//` is dropped.
        Addr::Unix {
            name: unix_name(raw)?,
            dgram: false,
        }
    } else {
        parse(raw)?
    };
    if !udp {
        return Ok(addr);
    }
    match addr {
        Addr::Inet { .. } if raw.starts_with("tcp://") => Err(Error::usage(format!(
            "-u conflicts with the address '{raw}'"
        ))),
        Addr::Inet { host, port, .. } => Ok(Addr::Inet {
            proto: Proto::Udp,
            host,
            port,
        }),
        Addr::Unix { name, .. } => Ok(Addr::Unix { name, dgram: true }),
    }
}

/// Parse one address in any of the documented forms.
pub fn parse(s: &str) -> Result<Addr> {
    if s.is_empty() {
        return Err(Error::usage("empty address"));
    }
    if let Some(rest) = s.strip_prefix("unixgram:") {
        return Ok(Addr::Unix {
            name: parse_unix_name(rest)?,
            dgram: true,
        });
    }
    if let Some(rest) = s.strip_prefix("unix:") {
        return Ok(Addr::Unix {
            name: parse_unix_name(rest)?,
            dgram: false,
        });
    }
    let (proto, rest) = if let Some(rest) = s.strip_prefix("tcp://") {
        (Proto::Tcp, rest)
    } else if let Some(rest) = s.strip_prefix("udp://") {
        (Proto::Udp, rest)
    } else if let Some(i) = s.find("://") {
        return Err(Error::usage(format!(
            "unknown scheme '{}' in address '{s}' (use tcp://, udp://, unix:, unixgram:, tls://, ws:// or wss://)",
            &s[..i]
        )));
    } else {
        (Proto::Tcp, s)
    };
    let (host, port) =
        split_host_port(rest).map_err(|m| Error::usage(format!("{m} in address '{s}'")))?;
    Ok(Addr::Inet { proto, host, port })
}

/// The name after `unix:` or `unixgram:`, which may be written URL-style
/// (`unix:///run/s`, `unix://@name`).
fn parse_unix_name(s: &str) -> Result<UnixName> {
    unix_name(s.strip_prefix("//").unwrap_or(s))
}

/// A Unix socket name: `@NAME` (abstract) or a path. A path's leading
/// slashes become one (Linux resolves `//run/s` as `/run/s`), so that the
/// name as printed reads back as itself, not as the `unix://` form.
fn unix_name(s: &str) -> Result<UnixName> {
    if s.is_empty() {
        return Err(Error::usage("empty Unix socket path"));
    }
    if s.contains('\0') {
        return Err(Error::usage("Unix socket path contains a NUL byte"));
    }
    if let Some(name) = s.strip_prefix('@') {
        if !cfg!(target_os = "linux") {
            return Err(Error::usage(
                "abstract Unix sockets (@NAME) exist only on Linux",
            ));
        }
        if name.is_empty() {
            return Err(Error::usage("empty abstract socket name"));
        }
        return Ok(UnixName::Abstract(name.as_bytes().to_vec()));
    }
    let s = match s.trim_start_matches('/') {
        rest if rest.len() < s.len() => &s[s.len() - rest.len() - 1..],
        _ => s,
    };
    Ok(UnixName::Path(PathBuf::from(s)))
}

/// `HOST:PORT`, `:PORT`, `PORT`, `[V6]:PORT`, `[V6]`, or a bare `HOST`.
fn split_host_port(s: &str) -> std::result::Result<(String, u16), String> {
    if s.is_empty() {
        return Err("empty host and port".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or("missing ']'")?;
        let host = &rest[..end];
        // A link-local address may name its interface: [fe80::1%eth0].
        let (ip, zone) = host.split_once('%').unwrap_or((host, ""));
        ip.parse::<Ipv6Addr>()
            .map_err(|_| format!("'{host}' is not an IPv6 address"))?;
        if host.contains('%') && (zone.is_empty() || !zone.bytes().all(|b| b.is_ascii_graphic())) {
            return Err(format!("'{host}': invalid zone after '%'"));
        }
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(format!("unexpected '{after}' after ']'")),
        };
        return Ok((host.to_string(), port));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((DEFAULT_HOST.into(), parse_port(s)?));
    }
    match s.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err("IPv6 addresses need brackets, as in [::1]:10000".into())
        }
        Some((host, port)) => {
            let port = parse_port(port)?;
            let host = if host.is_empty() { DEFAULT_HOST } else { host };
            check_host(host)?;
            Ok((host.to_string(), port))
        }
        None => {
            check_host(s)?;
            Ok((s.to_string(), DEFAULT_PORT))
        }
    }
}

fn check_host(h: &str) -> std::result::Result<(), String> {
    if !h.is_ascii() {
        return Err(format!(
            "'{h}' is an international domain name, which sockcat does not convert: \
             write its ASCII (xn--) form"
        ));
    }
    let ok = h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok && h.len() <= 253 {
        Ok(())
    } else {
        Err(format!("invalid host name '{h}'"))
    }
}

fn parse_port(p: &str) -> std::result::Result<u16, String> {
    if p.is_empty() {
        return Err("missing port".into());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port '{p}'"));
    }
    p.parse::<u16>()
        .map_err(|_| format!("port {p} is too large (the largest is 65535)"))
}

/// Every socket address `host` names, in resolver order, without duplicates.
///
/// `localhost` (and names under it) is answered here, as RFC 6761 allows,
/// with both loopback addresses: many systems list only one of them in
/// /etc/hosts, and the lesson's demo expects a server on both. Names under
/// `.invalid` fail at once, without a lookup.
pub fn resolve(host: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>> {
    // A trailing dot (a fully qualified name) changes nothing here.
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    if lower == "invalid" || lower.ends_with(".invalid") {
        // RFC 6761: never resolves, and need not bother a DNS server.
        return Err(Error::runtime(format!(
            "resolve {host}: Name or service not known"
        )));
    }
    let found: Vec<SocketAddr> = if lower == "localhost" || lower.ends_with(".localhost") {
        vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else if let Some((ip, zone)) = host.split_once('%') {
        // An IPv6 address with its zone: the interface's index, by name or
        // given as a number.
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| Error::usage(format!("'{host}' is not an IPv6 address")))?;
        let scope = zone
            .parse::<u32>()
            .ok()
            .or_else(|| nix::net::if_::if_nametoindex(zone).ok())
            .ok_or_else(|| {
                Error::usage(format!("'{host}': no network interface named '{zone}'"))
            })?;
        vec![SocketAddr::V6(std::net::SocketAddrV6::new(
            ip, port, 0, scope,
        ))]
    } else {
        (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::runtime(format!("resolve {host}: {}", resolver_message(&e))))?
            .collect()
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        let wanted = match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        };
        if wanted && !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        let which = match family {
            Family::V4 => "IPv4 ",
            Family::V6 => "IPv6 ",
            Family::Any => "",
        };
        return Err(Error::runtime(format!("resolve {host}: no {which}address")));
    }
    Ok(out)
}

/// Whether `raw` names a host with no port (`localhost`, `db.example`,
/// `[::1]`, `udp://db`): netcat's `HOST PORT` form may follow it with the
/// port as the next word. A bare number is a port (`send 9000`), not a host.
pub fn is_portless_host(raw: &str) -> bool {
    let rest = raw
        .strip_prefix("tcp://")
        .or_else(|| raw.strip_prefix("udp://"))
        .unwrap_or(raw);
    if rest.contains("://") || raw.starts_with("unix:") || raw.starts_with("unixgram:") {
        return false;
    }
    if let Some(v6) = rest.strip_prefix('[') {
        return v6.ends_with(']') && !v6.contains("]:");
    }
    !rest.is_empty()
        && !rest.contains(':')
        && !rest.bytes().all(|b| b.is_ascii_digit())
        && check_host(rest).is_ok()
}

/// Whether resolving `host` asks the system's resolver (DNS, say), which
/// may take a while; `resolve` answers the others at once.
pub fn needs_lookup(host: &str) -> bool {
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    !(lower == "invalid"
        || lower.ends_with(".invalid")
        || lower == "localhost"
        || lower.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok()
        || host.contains('%'))
}

fn resolver_message(e: &std::io::Error) -> String {
    // getaddrinfo's text arrives as "failed to lookup address information: …".
    let s = crate::error::describe(e);
    s.strip_prefix("failed to lookup address information: ")
        .map(str::to_string)
        .unwrap_or(s)
}

/// How a socket address reads in events: `127.0.0.1:5` or `[::1]:5`.
pub fn show(a: &SocketAddr) -> String {
    match a {
        SocketAddr::V4(v) => v.to_string(),
        SocketAddr::V6(v) => format!("[{}]:{}", v.ip(), v.port()),
    }
}

#[cfg(test)]
mod tests;
