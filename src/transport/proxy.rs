//! `--proxy`: a client connection through a SOCKS5 proxy (RFC 1928, with
//! RFC 1929's user and password) or an HTTP proxy's CONNECT.
//!
//! The conversation with the proxy is [`Handshake`], a state machine with
//! no I/O of its own: it says what to send and how many bytes it may read
//! next, and never more than the proxy's answer holds, so no byte of the
//! tunnel's own traffic is ever read by it (and lost). The client
//! connect (`transport::Connector`, for every model and `send`) drives
//! it on a non-blocking socket; `--connect-timeout` bounds reaching the
//! proxy and the handshake together.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::Stream;
use crate::addr::{self, Family, ProxyKind, ProxyUrl};
use crate::error::{Error, Result};

/// How long a client without `--connect-timeout` gives the proxy to
/// connect and answer: a proxy that never answers must not hang it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest HTTP answer header a CONNECT is allowed.
const MAX_HEADER: usize = 16 * 1024;

/// A proxy, its name looked up once, when the command line is checked.
#[derive(Debug)]
pub struct Proxy {
    pub url: ProxyUrl,
    pub addrs: Vec<SocketAddr>,
}

impl Proxy {
    pub fn new(url: ProxyUrl, family: Family) -> Result<Proxy> {
        let addrs = addr::resolve(&url.host, url.port, family)
            .map_err(|e| Error::runtime(format!("proxy {url}: {e}")))?;
        Ok(Proxy { url, addrs })
    }

    /// A failure, as the user reads it.
    pub fn error(&self, why: impl std::fmt::Display) -> Error {
        Error::runtime(format!("proxy {}: {why}", self.url))
    }
}

/// The tunnel's far end, as the proxy is asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Name(String, u16),
    Addr(SocketAddr),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Name(h, p) if h.contains(':') => write!(f, "[{h}]:{p}"),
            Destination::Name(h, p) => write!(f, "{h}:{p}"),
            Destination::Addr(sa) => f.write_str(&addr::show(sa)),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Stage {
    /// SOCKS: the server's choice of method (2 bytes).
    Method,
    /// SOCKS: the answer to user and password (2 bytes).
    Auth,
    /// SOCKS: the reply's first 5 bytes (up to the address's first byte).
    Reply,
    /// SOCKS: the rest of the reply's bound address and port.
    ReplyRest(usize),
    /// HTTP: the answer's header, up to the empty line.
    Header,
    Done,
}

/// The conversation with a proxy, without I/O: send [`Handshake::output`],
/// read at most [`Handshake::want`] bytes and [`Handshake::feed`] them,
/// until `feed` says the tunnel is open.
pub struct Handshake {
    kind: ProxyKind,
    stage: Stage,
    out: Vec<u8>,
    sent: usize,
    got: Vec<u8>,
    dest: Destination,
    auth: Option<(String, String)>,
}

impl Handshake {
    pub fn new(proxy: &ProxyUrl, dest: Destination) -> Handshake {
        let mut h = Handshake {
            kind: proxy.kind,
            stage: Stage::Done,
            out: Vec::new(),
            sent: 0,
            got: Vec::new(),
            dest,
            auth: proxy.auth.clone(),
        };
        if h.kind == ProxyKind::Http {
            h.stage = Stage::Header;
            let mut req = format!("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", h.dest);
            if let Some((u, p)) = &h.auth {
                req.push_str(&format!(
                    "Proxy-Authorization: Basic {}\r\n",
                    base64(format!("{u}:{p}").as_bytes())
                ));
            }
            req.push_str("\r\n");
            h.out = req.into_bytes();
        } else {
            h.stage = Stage::Method;
            // Offer user and password only when there are some.
            h.out = if h.auth.is_some() {
                vec![5, 2, 0, 2]
            } else {
                vec![5, 1, 0]
            };
        }
        h
    }

    /// What is still to be sent to the proxy.
    pub fn output(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// `n` bytes of [`Handshake::output`] went out.
    pub fn wrote(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// The most bytes that may be read now: never past the end of the
    /// proxy's answer.
    pub fn want(&self) -> usize {
        match self.stage {
            Stage::Method | Stage::Auth => 2 - self.got.len(),
            Stage::Reply => 5 - self.got.len(),
            Stage::ReplyRest(n) => n - self.got.len(),
            // An answer ends with an empty line: read no further than the
            // shortest way to complete it. Lines may end with a bare LF,
            // as curl and most HTTP clients accept (RFC 9112, 2.2).
            Stage::Header => {
                let g = &self.got;
                if g.ends_with(b"\n\r") || g.ends_with(b"\n") {
                    1
                } else {
                    2
                }
            }
            Stage::Done => 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Bytes read from the proxy (at most [`Handshake::want`]). `Ok(true)`
    /// once the tunnel is open; `Err` says why the proxy would not.
    pub fn feed(&mut self, data: &[u8]) -> std::result::Result<bool, String> {
        debug_assert!(data.len() <= self.want());
        self.got.extend_from_slice(data);
        loop {
            if self.want() > 0 && self.stage != Stage::Header {
                return Ok(false);
            }
            match self.stage {
                Stage::Method => {
                    let g = std::mem::take(&mut self.got);
                    if g[0] != 5 {
                        return Err(format!("not a SOCKS5 proxy (it answered version {})", g[0]));
                    }
                    match (g[1], &self.auth) {
                        (0, _) => self.request(),
                        (2, Some((u, p))) => {
                            let mut m = vec![1, u.len() as u8];
                            m.extend_from_slice(u.as_bytes());
                            m.push(p.len() as u8);
                            m.extend_from_slice(p.as_bytes());
                            self.out.extend_from_slice(&m);
                            self.stage = Stage::Auth;
                        }
                        (0xff, None) => {
                            return Err("it wants a user name and password \
                                        (socks5://USER:PASS@HOST:PORT)"
                                .into());
                        }
                        (0xff, Some(_)) => {
                            return Err("it accepts neither no authentication nor a user \
                                        name and password"
                                .into());
                        }
                        (m, _) => return Err(format!("it chose a method not offered ({m})")),
                    }
                }
                Stage::Auth => {
                    let g = std::mem::take(&mut self.got);
                    if g[1] != 0 {
                        return Err("it refused the user name and password".into());
                    }
                    self.request();
                }
                Stage::Reply => {
                    let g = &self.got;
                    if g[0] != 5 {
                        return Err(format!("not a SOCKS5 reply (version {})", g[0]));
                    }
                    if g[1] != 0 {
                        return Err(format!(
                            "it could not connect to {}: {} (SOCKS reply {})",
                            self.dest,
                            socks_reply(g[1]),
                            g[1]
                        ));
                    }
                    // The bound address: 4 bytes, 16, or a name of the
                    // length in the fifth byte; then 2 bytes of port.
                    let rest = match g[3] {
                        1 => 4 - 1 + 2,
                        4 => 16 - 1 + 2,
                        3 => g[4] as usize + 2,
                        t => return Err(format!("bad address type {t} in its reply")),
                    };
                    self.got.clear();
                    self.stage = Stage::ReplyRest(rest);
                }
                Stage::ReplyRest(_) => {
                    self.got.clear();
                    self.stage = Stage::Done;
                    return Ok(true);
                }
                Stage::Header => {
                    if self.got.len() > MAX_HEADER {
                        return Err("its answer to CONNECT has no end".into());
                    }
                    if !header_ended(&self.got) {
                        return Ok(false);
                    }
                    let head = String::from_utf8_lossy(&self.got).into_owned();
                    self.got.clear();
                    // The status line starts the answer: no whitespace
                    // before it (a line end's CR after it goes).
                    let status = head.lines().next().unwrap_or_default().trim_end();
                    let mut words = status.splitn(3, ' ');
                    let (version, code) = (words.next().unwrap_or(""), words.next());
                    // Three digits (RFC 9112, 4): not `+200` or `0200`.
                    let code = code
                        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|c| c.parse::<u16>().ok());
                    let Some(code) = code.filter(|_| version.starts_with("HTTP/")) else {
                        return Err(format!("not an HTTP proxy (it answered {status:?})"));
                    };
                    if !(200..300).contains(&code) {
                        let hint = if code == 407 && self.auth.is_none() {
                            " (it wants http://USER:PASS@HOST:PORT)"
                        } else {
                            ""
                        };
                        return Err(format!(
                            "CONNECT {} refused: {}{hint}",
                            self.dest,
                            status.split_once(' ').map_or(status, |s| s.1)
                        ));
                    }
                    self.stage = Stage::Done;
                    return Ok(true);
                }
                Stage::Done => return Ok(true),
            }
        }
    }

    /// The SOCKS CONNECT request.
    fn request(&mut self) {
        let mut m = vec![5, 1, 0];
        let port = match &self.dest {
            Destination::Addr(SocketAddr::V4(a)) => {
                m.push(1);
                m.extend_from_slice(&a.ip().octets());
                a.port()
            }
            Destination::Addr(SocketAddr::V6(a)) => {
                m.push(4);
                m.extend_from_slice(&a.ip().octets());
                a.port()
            }
            Destination::Name(h, port) => {
                match h.parse::<IpAddr>() {
                    Ok(IpAddr::V4(ip)) => {
                        m.push(1);
                        m.extend_from_slice(&ip.octets());
                    }
                    Ok(IpAddr::V6(ip)) => {
                        m.push(4);
                        m.extend_from_slice(&ip.octets());
                    }
                    Err(_) => {
                        // Host names are at most 253 bytes (addr checks).
                        m.push(3);
                        m.push(h.len().min(255) as u8);
                        m.extend_from_slice(&h.as_bytes()[..h.len().min(255)]);
                    }
                }
                *port
            }
        };
        m.extend_from_slice(&port.to_be_bytes());
        self.out.extend_from_slice(&m);
        self.stage = Stage::Reply;
    }
}

/// RFC 1928's reply codes.
/// Whether an HTTP header ends here: an empty line after a line end, each
/// CRLF or a bare LF.
fn header_ended(got: &[u8]) -> bool {
    got.ends_with(b"\n\n") || got.ends_with(b"\n\r\n")
}

fn socks_reply(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown reply",
    }
}

/// Base64 (RFC 4648, with padding), for Proxy-Authorization.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One step of a proxy's handshake on a non-blocking socket: send what
/// it can, read what the handshake allows. `Ok(true)` once the tunnel is
/// open.
pub(super) fn step(
    s: &mut Stream,
    hs: &mut Handshake,
    buf: &mut [u8],
) -> std::result::Result<bool, String> {
    flush(s, hs)?;
    while hs.want() > 0 {
        let want = hs.want().min(buf.len());
        match s.read(&mut buf[..want]) {
            Ok(0) => return Err("it closed the connection during the handshake".into()),
            Ok(n) => {
                if hs.feed(&buf[..n])? {
                    return Ok(true);
                }
                // It may have more to say now (SOCKS's user and password,
                // then the request).
                flush(s, hs)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::error::describe(&e)),
        }
    }
    Ok(hs.is_done())
}

/// Send what the handshake has to say, as far as the socket takes it.
fn flush(s: &mut Stream, hs: &mut Handshake) -> std::result::Result<(), String> {
    while !hs.output().is_empty() {
        match s.write(hs.output()) {
            Ok(n) => hs.wrote(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::error::describe(&e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ProxyUrl {
        addr::parse_proxy(s).unwrap()
    }

    /// Drive a handshake against a scripted proxy: `answers` are what the
    /// proxy says after each request; returns what the client sent.
    fn converse(h: &mut Handshake, answer: &[u8]) -> (Vec<u8>, std::result::Result<bool, String>) {
        let mut sent = Vec::new();
        let mut at = 0;
        loop {
            sent.extend_from_slice(h.output());
            let n = h.output().len();
            h.wrote(n);
            let want = h.want().min(answer.len() - at);
            if want == 0 {
                return (sent, Ok(h.is_done()));
            }
            match h.feed(&answer[at..at + want]) {
                Ok(true) => return (sent, Ok(true)),
                Ok(false) => at += want,
                Err(e) => return (sent, Err(e)),
            }
        }
    }

    #[test]
    fn socks5_with_a_name_and_a_password() {
        let mut h = Handshake::new(
            &url("socks5h://u:pw@p:1080"),
            Destination::Name("example.org".into(), 80),
        );
        // Method 2, auth ok, success with an IPv4 bound address; then the
        // tunnel's first bytes, which the handshake must leave unread.
        let mut answer = vec![5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90];
        answer.extend_from_slice(b"HTTP/1.0 200 tunnel data");
        let (sent, r) = converse(&mut h, &answer);
        assert_eq!(r, Ok(true));
        let mut want = vec![5, 2, 0, 2, 1, 1, b'u', 2, b'p', b'w', 5, 1, 0, 3, 11];
        want.extend_from_slice(b"example.org");
        want.extend_from_slice(&[0, 80]);
        assert_eq!(sent, want);
        assert_eq!(h.want(), 0, "nothing past the reply is read");
    }

    #[test]
    fn socks5_reports_the_reply_code() {
        let mut h = Handshake::new(
            &url("socks5://p"),
            Destination::Addr("[::1]:22".parse().unwrap()),
        );
        let (sent, r) = converse(&mut h, &[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&sent[..3], [5, 1, 0]);
        assert_eq!(sent[6], 4, "an IPv6 address");
        let e = r.unwrap_err();
        assert!(
            e.contains("[::1]:22: connection refused (SOCKS reply 5)"),
            "{e}"
        );
        let mut h = Handshake::new(&url("socks5://p"), Destination::Name("h".into(), 1));
        let e = converse(&mut h, &[5, 0xff]).1.unwrap_err();
        assert!(e.contains("wants a user name and password"), "{e}");
        let mut h = Handshake::new(&url("socks5://p"), Destination::Name("h".into(), 1));
        let e = converse(&mut h, b"HTTP/1.1 400").1.unwrap_err();
        assert!(e.contains("not a SOCKS5 proxy"), "{e}");
    }

    #[test]
    fn http_connect_reads_only_the_header() {
        let mut h = Handshake::new(
            &url("http://al:ice@p"),
            Destination::Name("::1".into(), 443),
        );
        let (sent, r) = converse(
            &mut h,
            b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\nSSH-2.0",
        );
        assert_eq!(r, Ok(true));
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic YWw6aWNl\r\n\r\n"
        );
        assert_eq!(h.want(), 0);
        // Bare LF line ends (issue 19, item 12), alone or mixed with CRLF:
        // the header still ends at its empty line, and not a byte further.
        for answer in [
            &b"HTTP/1.1 200 OK\n\nSSH-2.0"[..],
            b"HTTP/1.1 200 OK\nX: y\n\nSSH-2.0",
            b"HTTP/1.1 200 OK\r\nX: y\n\r\nSSH-2.0",
            b"HTTP/1.1 200 OK\nX: \r\r\n\nSSH-2.0",
        ] {
            let mut h = Handshake::new(&url("http://p"), Destination::Name("h".into(), 1));
            let mut at = 0;
            while !h.is_done() {
                let n = h.want();
                assert!(
                    at + n <= answer.len() - 7,
                    "read past the header of {answer:?}"
                );
                assert!(h.feed(&answer[at..at + n]).is_ok(), "{answer:?}");
                at += n;
            }
            assert_eq!(&answer[at..], b"SSH-2.0", "{answer:?}");
        }
        let mut h = Handshake::new(&url("http://p"), Destination::Name("h".into(), 1));
        let e = converse(
            &mut h,
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        )
        .1
        .unwrap_err();
        assert_eq!(
            e,
            "CONNECT h:1 refused: 407 Proxy Authentication Required \
             (it wants http://USER:PASS@HOST:PORT)"
        );
        // Found by the `proxy_handshake` fuzz target: a status line
        // after whitespace was taken for one; and (found on reading that
        // code) so was a status code of other than three digits.
        for answer in [
            &b"\tHTTP/1.1 200 OK\r\n\r\n"[..],
            b" HTTP/1.1 200 OK\n\n",
            b"HTTP/1.1 +200 OK\r\n\r\n",
            b"HTTP/1.1 0200 OK\r\n\r\n",
        ] {
            let mut h = Handshake::new(&url("http://p"), Destination::Name("h".into(), 1));
            let e = converse(&mut h, answer).1.unwrap_err();
            assert!(e.starts_with("not an HTTP proxy"), "{answer:?}: {e}");
        }
        let mut h = Handshake::new(&url("http://p"), Destination::Name("h".into(), 1));
        let e = converse(&mut h, &[5, 0]).1;
        assert_eq!(e, Ok(false), "an answer that never ends waits for more");
    }

    /// The handshake driven on a non-blocking socket (a socketpair): it
    /// waits while the proxy says nothing, takes its answer in pieces,
    /// and leaves the tunnel's first bytes unread.
    #[test]
    fn step_drives_a_handshake_over_a_socketpair() {
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut s = Stream::Unix(ours);
        let mut h = Handshake::new(&url("socks5h://p"), Destination::Name("h".into(), 7));
        let mut buf = [0u8; 512];
        assert_eq!(step(&mut s, &mut h, &mut buf), Ok(false), "no answer yet");
        let mut got = [0u8; 3];
        theirs.read_exact(&mut got).unwrap();
        assert_eq!(got, [5, 1, 0]);
        theirs.write_all(&[5]).unwrap();
        assert_eq!(step(&mut s, &mut h, &mut buf), Ok(false), "half the method");
        theirs.write_all(&[0]).unwrap();
        assert_eq!(
            step(&mut s, &mut h, &mut buf),
            Ok(false),
            "the request sent"
        );
        let mut req = [0u8; 8];
        theirs.read_exact(&mut req).unwrap();
        assert_eq!(req, [5, 1, 0, 3, 1, b'h', 0, 7]);
        theirs
            .write_all(&[5, 0, 0, 1, 10, 0, 0, 1, 0, 7, b'o', b'k'])
            .unwrap();
        assert_eq!(
            step(&mut s, &mut h, &mut buf),
            Ok(true),
            "the tunnel is open"
        );
        let mut rest = [0u8; 2];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"ok");
        drop(theirs);
        let mut h = Handshake::new(&url("socks5h://p"), Destination::Name("h".into(), 7));
        let e = step(&mut s, &mut h, &mut buf);
        assert_eq!(e, Err("Broken pipe".into()), "the proxy is gone");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
