//! The PROXY protocol on a socket: a server's [`Reading`] of a client's
//! header (stepped by serve's loop on its events, waited on with poll(2)
//! by [`read_blocking`] in a blocking model's worker: one rule), and a
//! client's [`Announce`] of one (a stage of `transport::Connector`).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use super::{Addresses, Gather, Header, SendProxy, V2_MAX, encode};
use crate::transport::{Endpoint, Stream};

/// How long a client has to send its whole header, unless
/// `--idle-timeout` is shorter (HAProxy's `timeout client` does this
/// job): a balancer writes it at once, before anything else.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A header read off an accepted connection, a step at a time, taking
/// only its bytes off the socket (peeked first, then read exactly).
#[derive(Debug)]
pub struct Reading {
    gather: Gather,
    until: Instant,
}

impl Reading {
    /// A reading begun `now`, given `idle` at most (or
    /// [`HEADER_TIMEOUT`]).
    pub fn new(now: Instant, idle: Option<Duration>) -> Reading {
        let limit = idle.map_or(HEADER_TIMEOUT, |i| i.min(HEADER_TIMEOUT));
        Reading {
            gather: Gather::default(),
            until: now + limit,
        }
    }

    /// When the header is late.
    pub fn deadline(&self) -> Instant {
        self.until
    }

    /// Take what the socket has of the header: the header once whole,
    /// `Ok(None)` to wait for more (readable, or the deadline), or why the
    /// connection is refused (the event's text).
    pub fn step(&mut self, stream: &Stream, now: Instant) -> Result<Option<Header>, String> {
        let fd = sock_fd(stream);
        let mut buf = [0u8; V2_MAX];
        loop {
            let want = self.gather.want().min(buf.len());
            let peeked = match crate::sys::peek_nowait(fd, &mut buf[..want]) {
                Ok(0) => return Err(self.truncated()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return match now >= self.until {
                        true => Err("no PROXY protocol header in time".into()),
                        false => Ok(None),
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("PROXY protocol header: {}", describe(&e))),
            };
            let take = self.gather.take(&buf[..peeked]);
            // Already queued: the read returns them at once, and no more.
            let taken = match crate::sys::recv_nowait(fd, &mut buf[..take]) {
                Ok(0) => return Err(self.truncated()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("PROXY protocol header: {}", describe(&e))),
            };
            match self.gather.push(&buf[..taken]) {
                Ok(Some(h)) => return Ok(Some(h)),
                Ok(None) => {}
                Err(why) => return Err(why.to_string()),
            }
        }
    }

    fn truncated(&self) -> String {
        match self.gather.is_empty() {
            // A bare connect and close: a balancer's health check, say.
            true => "the connection ended before a PROXY protocol header".into(),
            false => "the connection ended inside its PROXY protocol header".into(),
        }
    }
}

fn describe(e: &io::Error) -> String {
    crate::error::describe(e)
}

/// [`Reading`] on a blocking model's connection: poll(2) until the header
/// is whole or the deadline passes.
pub fn read_blocking(stream: &Stream, idle: Option<Duration>) -> Result<Header, String> {
    let mut r = Reading::new(Instant::now(), idle);
    loop {
        let now = Instant::now();
        if let Some(h) = r.step(stream, now)? {
            return Ok(h);
        }
        let mut want = [crate::sys::PollWant {
            fd: stream.poll_fd(),
            read: true,
            write: false,
            readable: false,
            writable: false,
        }];
        let left = r.deadline().saturating_duration_since(now);
        crate::sys::poll_ready(&mut want, Some(left))
            .map_err(|e| format!("PROXY protocol header: {}", describe(&e)))?;
    }
}

impl Header {
    /// The client a header names, in place of `real` (the balancer's
    /// connection): `real` itself when it names none (UNKNOWN, LOCAL).
    pub fn peer(&self, real: &Endpoint) -> Endpoint {
        match &self.addresses {
            // An IPv4 client a mixed header mapped into IPv6 is shown,
            // and matched, as itself.
            Addresses::Inet { src, .. } => {
                Endpoint::Inet(SocketAddr::new(src.ip().to_canonical(), src.port()))
            }
            Addresses::Unix { src, .. } if src.is_empty() => Endpoint::Unnamed,
            Addresses::Unix { src, .. } => Endpoint::Unix(String::from_utf8_lossy(src).into()),
            Addresses::Unknown => real.clone(),
        }
    }
}

/// A header to write first on a new connection, and how much of it is
/// written.
#[derive(Debug)]
pub struct Announce {
    bytes: Vec<u8>,
    sent: usize,
}

impl Announce {
    /// The header `send` asks for on `stream`: naming `client` (a
    /// forwarder's: its client and the address that client reached;
    /// `None` inside for a Unix client), or without one this socket's own
    /// ends (the source `--proxy-source` gives instead, if any; on a Unix
    /// socket, that source to the unspecified address, or no addresses).
    pub fn new(
        send: &SendProxy,
        client: Option<Option<(SocketAddr, SocketAddr)>>,
        stream: &Stream,
    ) -> Announce {
        let ends = client.unwrap_or_else(|| match (stream.local(), peer_of(stream)) {
            (Endpoint::Inet(local), Some(peer)) => Some((send.source.unwrap_or(local), peer)),
            // A Unix socket has no address to name as the destination:
            // a claimed client still needs one (the unspecified address).
            _ => send.source.map(|s| {
                let none = match s {
                    SocketAddr::V4(_) => SocketAddr::from(([0u8; 4], 0)),
                    SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
                };
                (s, none)
            }),
        });
        Announce {
            bytes: encode(send.version, ends),
            sent: 0,
        }
    }

    /// Write what is left: `Ok(true)` once all of it is written,
    /// `Ok(false)` to wait for writable.
    pub fn step(&mut self, stream: &Stream) -> io::Result<bool> {
        while self.sent < self.bytes.len() {
            match (&*stream).write(&self.bytes[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// A TCP stream's peer address (a Unix stream's names no IP).
fn peer_of(stream: &Stream) -> Option<SocketAddr> {
    match stream.innermost() {
        Stream::Tcp(s) => s.peer_addr().ok(),
        _ => None,
    }
}

/// The socket beneath a stream (beneath its layers, whose handshakes
/// come after the header).
fn sock_fd(stream: &Stream) -> BorrowedFd<'_> {
    match stream {
        Stream::Tcp(s) => s.as_fd(),
        Stream::Unix(s) => s.as_fd(),
        Stream::Tls(t) => sock_fd(t.sock()),
        Stream::Ws(w) => sock_fd(w.sock()),
    }
}
