//! Transports: TCP, UDP, Unix stream and Unix datagram sockets.
//!
//! Everything that differs between the four lives here (binding, accepting,
//! connecting, naming peers) so that servers and handlers work with one
//! [`Stream`], one [`Listener`] and one [`Dgram`] type whatever the socket.

mod connect;
mod connector;
mod der;
pub mod inherit;
mod listen;
pub mod ours;
pub mod proxy;
pub mod proxy_protocol;
pub mod tls;
pub mod unix;
pub mod ws;

pub use connect::*;
pub use connector::{ATTEMPT_DELAY, Connector, Interest, Upstream, Voice, Watch};
pub use listen::*;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, TcpKeepalive, Type};

use crate::addr::{self, Addr, Family, Kind, Proto};
use crate::error::{Error, Result, describe};
use unix::SocketFile;

/// Socket options that servers and clients share. The proxy and TLS
/// settings are made once at start and shared (`Arc`) by every socket and
/// thread that uses them.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    pub family: Family,
    pub backlog: u32,
    pub keepalive: bool,
    pub nodelay: bool,
    pub mode: Option<u32>,
    /// `--proxy`: client connections go through it (its name looked up
    /// once, when the command line is checked).
    pub proxy: Option<Arc<proxy::Proxy>>,
    /// A server's TLS: every accepted stream speaks it.
    pub tls_server: Option<Arc<tls::ServerTls>>,
    /// A client's TLS: every connection made speaks it (inside the proxy's
    /// tunnel, when there is one).
    pub tls_client: Option<Arc<tls::ClientTls>>,
    /// A WebSocket over every stream: a server's accepted ones, or a
    /// client's connections (after TLS, when there is TLS).
    pub ws: Option<Arc<ws::Ws>>,
    /// `--send-proxy`: every connection made begins with a PROXY protocol
    /// header (before TLS, inside the proxy's tunnel).
    pub send_proxy: Option<proxy_protocol::SendProxy>,
}

/// A connected byte stream.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over one of the others, owned by its connection: a stream is
    /// `Send` (a model hands it to the thread or child that serves it),
    /// never shared by two threads.
    Tls(Box<tls::TlsStream>),
    /// A WebSocket over one of the others (TLS included), owned alike.
    Ws(Box<ws::WsStream>),
}

/// One end of a socket (the peer's, or our own), as events show it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Inet(SocketAddr),
    Unix(String),
    /// The kernel would not say (the socket is already gone).
    Unknown,
    /// A Unix client that bound no name (most do not): `-` in events, an
    /// empty `SOCKCAT_PEER_ADDR`.
    Unnamed,
    /// A Unix stream client as the kernel vouches for it (SO_PEERCRED):
    /// its name, if it bound one, and its uid and pid.
    Credited {
        name: Option<String>,
        uid: u32,
        pid: i32,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Inet(a) => f.write_str(&addr::show(a)),
            Endpoint::Unix(s) => f.write_str(s),
            Endpoint::Unknown => f.write_str("?"),
            Endpoint::Unnamed | Endpoint::Credited { name: None, .. } => f.write_str("-"),
            Endpoint::Credited { name: Some(n), .. } => f.write_str(n),
        }
    }
}

impl Endpoint {
    pub(crate) fn from_unix(a: &std::os::unix::net::SocketAddr) -> Endpoint {
        if a.is_unnamed() {
            Endpoint::Unnamed
        } else {
            Endpoint::Unix(unix::show(a))
        }
    }

    /// The uid and pid of a Unix stream client, as the kernel reported
    /// them when it connected.
    pub fn credentials(&self) -> Option<(u32, i32)> {
        match self {
            Endpoint::Credited { uid, pid, .. } => Some((*uid, *pid)),
            _ => None,
        }
    }

    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Endpoint::Inet(a) => Some(a.ip()),
            Endpoint::Unix(_)
            | Endpoint::Unknown
            | Endpoint::Unnamed
            | Endpoint::Credited { .. } => None,
        }
    }

    /// `(address, port)` for the `SOCKCAT_*` variables of `--exec`.
    pub fn env_parts(&self) -> (String, String) {
        match self {
            Endpoint::Inet(a) => (a.ip().to_string(), a.port().to_string()),
            Endpoint::Unix(s) => (s.clone(), String::new()),
            Endpoint::Unknown | Endpoint::Unnamed => (String::new(), String::new()),
            Endpoint::Credited { name, .. } => (name.clone().unwrap_or_default(), String::new()),
        }
    }
}

impl Stream {
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        let r = match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tls(t) => t.shutdown(how),
            Stream::Ws(w) => w.shutdown(how),
        };
        // The peer may already be gone; there is nothing left to shut then.
        match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tls(t) => t.sock().set_nonblocking(on),
            Stream::Ws(w) => w.sock().set_nonblocking(on),
        }
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tls(t) => t.sock().set_read_timeout(d),
            Stream::Ws(w) => w.sock().set_read_timeout(d),
        }
    }

    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tls(t) => t.sock().set_write_timeout(d),
            Stream::Ws(w) => w.sock().set_write_timeout(d),
        }
    }

    /// A second handle on the socket, to shut or reset it from elsewhere
    /// (thread-serve's cut at the end of the grace period). A TLS stream's
    /// is the socket beneath: its session stays with the connection, so
    /// what the clone shuts is the socket, with no close_notify.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tls(t) => t.sock().try_clone()?,
            Stream::Ws(w) => w.sock().try_clone()?,
        })
    }

    /// The TLS session, if this stream is one (or a WebSocket over one).
    pub fn tls(&self) -> Option<&tls::TlsStream> {
        match self {
            Stream::Tls(t) => Some(t),
            Stream::Ws(w) => w.sock().tls(),
            _ => None,
        }
    }

    /// The plain stream beneath every layer (itself, if it has none).
    pub fn innermost(&self) -> &Stream {
        match self {
            Stream::Tls(t) => t.sock().innermost(),
            Stream::Ws(w) => w.sock().innermost(),
            Stream::Tcp(_) | Stream::Unix(_) => self,
        }
    }

    /// The WebSocket, if this stream is one.
    pub fn ws(&self) -> Option<&ws::WsStream> {
        match self {
            Stream::Ws(w) => Some(w),
            _ => None,
        }
    }

    /// Whether the stream has a handshake of its own (TLS, a WebSocket's
    /// Upgrade) that a server drives before the handler begins.
    pub fn has_handshake(&self) -> bool {
        matches!(self, Stream::Tls(_) | Stream::Ws(_))
    }

    /// Move the stream's handshake on a non-blocking socket: `Ok(true)`
    /// once it is done (at once for a plain stream).
    pub fn handshake_nowait(&self) -> io::Result<bool> {
        match self {
            Stream::Tls(t) => t.handshake_nowait(),
            Stream::Ws(w) => w.handshake_nowait(),
            Stream::Tcp(_) | Stream::Unix(_) => Ok(true),
        }
    }

    /// Finish the stream's handshake on a blocking socket, within `timeout`.
    pub fn handshake(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tls(t) => t.handshake(timeout),
            Stream::Ws(w) => w.handshake(timeout),
            Stream::Tcp(_) | Stream::Unix(_) => Ok(()),
        }
    }

    /// Whether bytes a full socket did not take wait in the stream (TLS's
    /// ciphertext, a WebSocket's frames): a driver then waits for writable.
    pub fn has_pending(&self) -> bool {
        match self {
            Stream::Tls(t) => t.has_pending(),
            Stream::Ws(w) => w.has_pending(),
            Stream::Tcp(_) | Stream::Unix(_) => false,
        }
    }

    /// Send what waits in the stream, as far as the socket takes it.
    pub fn flush_pending(&self) -> io::Result<()> {
        match self {
            Stream::Tls(t) => t.flush_pending(),
            Stream::Ws(w) => w.flush_pending(),
            Stream::Tcp(_) | Stream::Unix(_) => Ok(()),
        }
    }

    pub fn local(&self) -> Endpoint {
        match self {
            Stream::Tls(t) => t.sock().local(),
            Stream::Ws(w) => w.sock().local(),
            Stream::Tcp(s) => s
                .local_addr()
                .map(Endpoint::Inet)
                .unwrap_or_else(|_| Endpoint::Unknown),
            Stream::Unix(s) => s
                .local_addr()
                .map(|a| Endpoint::from_unix(&a))
                .unwrap_or_else(|_| Endpoint::Unknown),
        }
    }

    /// The descriptor that carries this stream's bytes as they are, for
    /// code that moves bytes around the stream's own read and write (zero
    /// copy, a program given the socket as stdin and stdout). A stream whose
    /// bytes are transformed on the way (TLS) has none, so such a path
    /// cannot compile into a plaintext bypass: it must ask, and fall back.
    pub fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Stream::Tcp(s) => Some(s.as_fd()),
            Stream::Unix(s) => Some(s.as_fd()),
            Stream::Tls(_) | Stream::Ws(_) => None,
        }
    }

    /// The descriptor to watch for readiness in an event loop. Only for
    /// readiness: bytes go through `Read`/`Write`, or [`Stream::plain_fd`].
    pub fn poll_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(t) => t.sock().poll_fd(),
            Stream::Ws(w) => w.sock().poll_fd(),
        }
    }

    fn apply(&self, o: &Opts) -> io::Result<()> {
        if let Stream::Tcp(s) = self {
            let sock = socket2::SockRef::from(s);
            if o.nodelay {
                sock.set_tcp_nodelay(true)?;
            }
            if o.keepalive {
                sock.set_keepalive(true)?;
                sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(Duration::from_secs(60)))?;
            }
        }
        Ok(())
    }

    /// Make the close send a reset instead of a FIN (SO_LINGER 0): a relay
    /// passes a reset on one side to the other.
    pub fn reset_on_close(&self) {
        let fd = match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Tls(t) => return t.sock().reset_on_close(),
            Stream::Ws(w) => return w.sock().reset_on_close(),
            Stream::Unix(_) => return, // a Unix stream has no reset
        };
        let _ = socket2::SockRef::from(&fd).set_linger(Some(Duration::ZERO));
    }

    /// Undo [`Stream::reset_on_close`]: the close sends a FIN again (a
    /// relay that armed a reset while bytes were owed, and then ended
    /// cleanly).
    pub fn fin_on_close(&self) {
        let fd = match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Tls(t) => return t.sock().fin_on_close(),
            Stream::Ws(w) => return w.sock().fin_on_close(),
            Stream::Unix(_) => return,
        };
        let _ = socket2::SockRef::from(&fd).set_linger(None);
    }

    /// Try a read without waiting, whatever the socket's blocking mode.
    pub fn read_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => crate::sys::recv_nowait(s.as_fd(), buf),
            Stream::Unix(s) => crate::sys::recv_nowait(s.as_fd(), buf),
            Stream::Tls(t) => t.read_nowait(buf),
            Stream::Ws(w) => w.read_nowait(buf),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tls(t) => (&**t).read(buf),
            Stream::Ws(w) => (&**w).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // send(MSG_NOSIGNAL) rather than write(): a peer that reset the
        // connection must give EPIPE, never kill the process with SIGPIPE
        // (a forked child does not inherit Rust's SIG_IGN after exec).
        match self {
            Stream::Tcp(s) => crate::sys::send_nosignal(s.as_fd(), buf),
            Stream::Unix(s) => crate::sys::send_nosignal(s.as_fd(), buf),
            Stream::Tls(t) => (&**t).write(buf),
            Stream::Ws(w) => (&**w).write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Set O_NONBLOCK on a descriptor this process owns.
pub fn set_nonblocking_fd(fd: BorrowedFd<'_>) -> io::Result<()> {
    crate::sys::set_nonblocking(fd)
}
