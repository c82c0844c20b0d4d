//! Transports: TCP, UDP, Unix stream and Unix datagram sockets.
//!
//! Everything that differs between the four lives here (binding, accepting,
//! connecting, naming peers) so that servers and handlers work with one
//! [`Stream`], one [`Listener`] and one [`Dgram`] type whatever the socket.

mod der;
pub mod inherit;
pub mod ours;
pub mod proxy;
pub mod tls;
pub mod unix;

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
}

/// A connected byte stream.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over one of the others; shared by the threads of one connection.
    Tls(std::sync::Arc<tls::TlsStream>),
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
        }
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tls(t) => t.sock().set_read_timeout(d),
        }
    }

    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
            Stream::Tls(t) => t.sock().set_write_timeout(d),
        }
    }

    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tls(t) => Stream::Tls(t.clone()),
        })
    }

    /// The TLS session, if this stream is one.
    pub fn tls(&self) -> Option<&tls::TlsStream> {
        match self {
            Stream::Tls(t) => Some(t),
            _ => None,
        }
    }

    pub fn local(&self) -> Endpoint {
        match self {
            Stream::Tls(t) => t.sock().local(),
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
            Stream::Tls(_) => None,
        }
    }

    /// The descriptor to watch for readiness in an event loop. Only for
    /// readiness: bytes go through `Read`/`Write`, or [`Stream::plain_fd`].
    pub fn poll_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(t) => t.sock().poll_fd(),
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
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
            Stream::Tls(t) => (&**t).read(buf),
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
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(t) => t.flush_pending(),
            _ => Ok(()),
        }
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

/// A listening stream socket.
#[derive(Debug)]
pub struct Listener {
    sock: ListenSock,
    pub local: Endpoint,
    pub kind: crate::addr::Kind,
    opts: Opts,
    /// The socket file, removed when the listener is dropped.
    pub file: Option<SocketFile>,
}

#[derive(Debug)]
enum ListenSock {
    Tcp(TcpListener),
    Unix(UnixListener),
    /// `stdio`: one connection someone else accepted (inetd), given out
    /// by the first `accept`; then the listener is spent. An event loop
    /// watches `ready`, a pipe at its end (always readable), in place of
    /// a listening socket.
    Handed {
        conn: std::sync::Mutex<Option<(Stream, Endpoint)>>,
        ready: OwnedFd,
    },
}

/// A Unix stream peer as events show it: its name, if it bound one, and
/// the uid and pid the kernel vouches for (SO_PEERCRED).
fn unix_peer(s: &UnixStream) -> Endpoint {
    let peer = s
        .peer_addr()
        .map(|a| Endpoint::from_unix(&a))
        .unwrap_or(Endpoint::Unnamed);
    match crate::sys::peer_credentials(s) {
        Some((uid, pid)) => Endpoint::Credited {
            name: match peer {
                Endpoint::Unix(n) => Some(n),
                _ => None,
            },
            uid,
            pid,
        },
        None => peer,
    }
}

impl Listener {
    /// Accept one connection. `nonblocking` sets O_NONBLOCK on the new
    /// socket in the same call (accept4), as the event loop wants.
    pub fn accept(&self, nonblocking: bool) -> io::Result<(Stream, Endpoint)> {
        // socket2 accepts with accept4(SOCK_CLOEXEC).
        let (sock, sa) = match &self.sock {
            ListenSock::Tcp(l) => socket2::SockRef::from(l).accept()?,
            ListenSock::Unix(l) => socket2::SockRef::from(l).accept()?,
            ListenSock::Handed { conn, .. } => {
                let taken = conn.lock().unwrap_or_else(|e| e.into_inner()).take();
                let (stream, peer) = taken.ok_or(io::ErrorKind::WouldBlock)?;
                stream.set_nonblocking(nonblocking)?;
                return self.finish_accept(stream, peer);
            }
        };
        if nonblocking {
            sock.set_nonblocking(true)?;
        }
        let owned = OwnedFd::from(sock);
        let (stream, peer) = match self.sock {
            ListenSock::Tcp(_) => {
                let peer = sa
                    .as_socket()
                    .map(Endpoint::Inet)
                    .unwrap_or(Endpoint::Unknown);
                (Stream::Tcp(TcpStream::from(owned)), peer)
            }
            // (A handed connection returned above.)
            ListenSock::Unix(_) | ListenSock::Handed { .. } => {
                let s = UnixStream::from(owned);
                let peer = unix_peer(&s);
                (Stream::Unix(s), peer)
            }
        };
        self.finish_accept(stream, peer)
    }

    /// What every accepted stream gets: the socket options, and TLS.
    fn finish_accept(&self, stream: Stream, peer: Endpoint) -> io::Result<(Stream, Endpoint)> {
        stream.apply(&self.opts)?;
        // TLS: the handshake is the worker's (or the loop's), not accept's.
        let stream = match self.opts.tls_server.as_deref() {
            Some(t) => Stream::Tls(Arc::new(tls::TlsStream::server(stream, t)?)),
            None => stream,
        };
        Ok((stream, peer))
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            ListenSock::Tcp(l) => l.set_nonblocking(on),
            ListenSock::Unix(l) => l.set_nonblocking(on),
            // The connection gets its mode when it is taken.
            ListenSock::Handed { .. } => Ok(()),
        }
    }

    /// `stdio`'s listener once its one connection was taken: nothing more
    /// will come, and the server ends when that connection does.
    pub fn spent(&self) -> bool {
        match &self.sock {
            ListenSock::Handed { conn, .. } => {
                conn.lock().unwrap_or_else(|e| e.into_inner()).is_none()
            }
            _ => false,
        }
    }

    /// A listener for the one connection `stream` (from `peer`), handed
    /// over already accepted.
    pub(crate) fn handed(
        stream: Stream,
        peer: Endpoint,
        local: Endpoint,
        kind: Kind,
        opts: &Opts,
    ) -> io::Result<Listener> {
        // At its end at once: readable for good, so the loop accepts.
        let (ready, _) = crate::sys::pipe()?;
        Ok(Listener {
            sock: ListenSock::Handed {
                conn: std::sync::Mutex::new(Some((stream, peer))),
                ready,
            },
            local,
            kind,
            opts: opts.clone(),
            file: None,
        })
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            ListenSock::Tcp(l) => l.as_fd(),
            ListenSock::Unix(l) => l.as_fd(),
            ListenSock::Handed { ready, .. } => ready.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A bound datagram socket (UDP or Unix datagram).
#[derive(Debug)]
pub struct Dgram {
    sock: DgramSock,
    pub local: Endpoint,
    pub kind: crate::addr::Kind,
    pub file: Option<SocketFile>,
}

#[derive(Debug)]
enum DgramSock {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// Where a datagram came from, so the reply can go back there.
#[derive(Clone, Debug)]
pub enum ReplyTo {
    Inet(SocketAddr),
    Unix(Option<std::path::PathBuf>, Option<Vec<u8>>),
}

impl Dgram {
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, ReplyTo, Endpoint)> {
        match &self.sock {
            DgramSock::Udp(s) => {
                let (n, a) = s.recv_from(buf)?;
                Ok((n, ReplyTo::Inet(a), Endpoint::Inet(a)))
            }
            DgramSock::Unix(s) => {
                let (n, a) = s.recv_from(buf)?;
                let to = ReplyTo::Unix(
                    a.as_pathname().map(|p| p.to_path_buf()),
                    unix::abstract_name(&a),
                );
                Ok((n, to, Endpoint::from_unix(&a)))
            }
        }
    }

    pub fn send_to(&self, buf: &[u8], to: &ReplyTo) -> io::Result<usize> {
        match (&self.sock, to) {
            (DgramSock::Udp(s), ReplyTo::Inet(a)) => s.send_to(buf, a),
            (DgramSock::Unix(s), ReplyTo::Unix(Some(p), _)) => s.send_to(buf, p),
            (DgramSock::Unix(s), ReplyTo::Unix(None, Some(name))) => {
                s.send_to_addr(buf, &unix::abstract_addr(name)?)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "the sender has no address to reply to",
            )),
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match &self.sock {
            DgramSock::Udp(s) => s.set_nonblocking(on),
            DgramSock::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match &self.sock {
            DgramSock::Udp(s) => s.set_read_timeout(d),
            DgramSock::Unix(s) => s.set_read_timeout(d),
        }
    }

    /// The largest datagram this socket sends: 65,507 bytes for UDP (an
    /// IPv4 datagram's limit), the send buffer for a Unix datagram socket.
    pub fn max_datagram(&self) -> usize {
        match &self.sock {
            DgramSock::Udp(_) => 65_507,
            DgramSock::Unix(s) => socket2::SockRef::from(s)
                .send_buffer_size()
                .map(|n| n.saturating_sub(32).max(1024))
                .unwrap_or(64 * 1024),
        }
    }

    /// Receive one datagram without waiting, whatever the blocking mode.
    pub fn recv_nowait(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::sys::recv_nowait(self.as_fd(), buf)
    }

    /// Send to the connected peer (client side).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.sock {
            DgramSock::Udp(s) => s.send(buf),
            DgramSock::Unix(s) => s.send(buf),
        }
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.sock {
            DgramSock::Udp(s) => s.recv(buf),
            DgramSock::Unix(s) => s.recv(buf),
        }
    }
}

impl AsFd for Dgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.sock {
            DgramSock::Udp(s) => s.as_fd(),
            DgramSock::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Dgram {
    fn as_raw_fd(&self) -> RawFd {
        match &self.sock {
            DgramSock::Udp(s) => s.as_raw_fd(),
            DgramSock::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// The sockets a server listens on: stream listeners or datagram sockets.
#[derive(Debug)]
pub enum Bound {
    Stream(Vec<Listener>),
    Dgram(Vec<Dgram>),
}

impl Bound {
    /// Give every listener the server's options once they are complete:
    /// inherited sockets are adopted before the TLS settings are made.
    pub fn set_opts(&mut self, opts: &Opts) {
        if let Bound::Stream(ls) = self {
            for l in ls {
                l.opts = opts.clone();
            }
        }
    }

    /// The transport, as events name it (every socket in a `Bound` is
    /// of one kind).
    pub fn kind(&self) -> Kind {
        match self {
            Bound::Stream(ls) => ls.first().map_or(Kind::Tcp, |l| l.kind),
            Bound::Dgram(ds) => ds.first().map_or(Kind::Udp, |d| d.kind),
        }
    }
}

/// Where a server's sockets come from: an address to bind, or sockets it
/// inherited (adopted at start, before anything else opens a descriptor).
#[derive(Debug)]
pub enum Listen {
    Bind(Addr),
    Inherited(Bound),
}

impl Listen {
    pub fn kind(&self) -> Kind {
        match self {
            Listen::Bind(a) => a.kind(),
            Listen::Inherited(b) => b.kind(),
        }
    }
}

/// Bind every address `addr` names. `localhost` binds 127.0.0.1 and ::1;
/// with port 0 the later sockets reuse the port the kernel gave the first,
/// so one port number reaches them all.
pub fn bind(addr: &Addr, opts: &Opts) -> Result<Bound> {
    match addr {
        Addr::Inet { proto, host, port } => {
            let targets = addr::resolve(host, *port, opts.family)?;
            let many = targets.len() > 1;
            let mut chosen_port = *port;
            let mut socks = Vec::new();
            for mut sa in targets {
                if chosen_port != 0 {
                    sa.set_port(chosen_port);
                }
                match bind_inet(*proto, sa, opts) {
                    Ok((sock, local)) => {
                        chosen_port = local.port();
                        socks.push((sock, local));
                    }
                    // localhost names ::1 even where IPv6 is off: skip what
                    // this host cannot have, as long as something binds.
                    Err(e)
                        if many
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT)
                            ) => {}
                    Err(e) => {
                        return Err(Error::runtime(format!(
                            "bind {}: {}",
                            addr::show(&sa),
                            describe(&e)
                        )));
                    }
                }
            }
            if socks.is_empty() {
                return Err(Error::runtime(format!("bind {addr}: no usable address")));
            }
            Ok(match proto {
                Proto::Tcp => Bound::Stream(
                    socks
                        .into_iter()
                        .map(|(s, local)| Listener {
                            sock: ListenSock::Tcp(s.into()),
                            local: Endpoint::Inet(local),
                            kind: Kind::Tcp,
                            opts: opts.clone(),
                            file: None,
                        })
                        .collect(),
                ),
                Proto::Udp => Bound::Dgram(
                    socks
                        .into_iter()
                        .map(|(s, local)| Dgram {
                            sock: DgramSock::Udp(s.into()),
                            local: Endpoint::Inet(local),
                            kind: Kind::Udp,
                            file: None,
                        })
                        .collect(),
                ),
            })
        }
        Addr::Unix { name, dgram } => {
            if *dgram {
                let (s, file) = unix::bind_dgram(name, opts.mode)?;
                Ok(Bound::Dgram(vec![Dgram {
                    sock: DgramSock::Unix(s),
                    local: Endpoint::Unix(name.to_string()),
                    kind: Kind::Unixgram,
                    file,
                }]))
            } else {
                let (l, file) = unix::bind_stream(name, opts.mode, opts.backlog)?;
                Ok(Bound::Stream(vec![Listener {
                    sock: ListenSock::Unix(l),
                    local: Endpoint::Unix(name.to_string()),
                    kind: Kind::Unix,
                    opts: opts.clone(),
                    file,
                }]))
            }
        }
    }
}

fn bind_inet(proto: Proto, sa: SocketAddr, opts: &Opts) -> io::Result<(Socket, SocketAddr)> {
    let ty = match proto {
        Proto::Tcp => Type::STREAM,
        Proto::Udp => Type::DGRAM,
    };
    let sock = Socket::new(Domain::for_address(sa), ty, None)?;
    // TCP: restart at once on the same port (docs/ARCHITECTURE.md,
    // "Sockets"); a live listener still refuses a second bind. UDP: never,
    // since on a datagram socket SO_REUSEADDR lets a second socket (another
    // user's, even) bind the same port and take our datagrams.
    if proto == Proto::Tcp {
        sock.set_reuse_address(true)?;
    }
    if sa.is_ipv6() {
        // [::] and 0.0.0.0 are separate sockets here, as for 127.0.0.1 and ::1.
        sock.set_only_v6(true)?;
    }
    sock.bind(&sa.into())?;
    if proto == Proto::Tcp {
        sock.listen(opts.backlog.min(i32::MAX as u32) as i32)?;
    }
    let local = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no inet address"))?;
    Ok((sock, local))
}

/// Connect a stream to `addr`, trying each resolved address in turn.
pub fn connect(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    connect_as(addr, opts, timeout, source, true)
}

/// [`connect`] for a forwarder's upstream: a failed TLS handshake says
/// only why (`tls: …`), as the event loop's forwarder says it, since the
/// event already names the upstream (`forward to tls://… failed: …`); the
/// three models then say the same.
pub fn connect_upstream(addr: &Addr, opts: &Opts, timeout: Option<Duration>) -> Result<Stream> {
    connect_as(addr, opts, timeout, None, false)
}

/// `named`: whether a failed TLS handshake names the address.
fn connect_as(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
    named: bool,
) -> Result<Stream> {
    let started = Instant::now();
    let plain = if let Some(p) = opts.proxy.as_deref() {
        proxy::connect(p, addr, opts, timeout, source)?
    } else {
        connect_plain(addr, opts, timeout, source)?
    };
    let Some(t) = opts.tls_client.as_deref() else {
        return Ok(plain);
    };
    // The handshake gets what is left of --connect-timeout.
    let left = timeout.map_or(tls::HANDSHAKE_TIMEOUT, |t| {
        t.saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    });
    secure(plain, addr, t, left, named)
}

/// Begin TLS on a connected stream as a client, and finish the handshake
/// within `timeout`.
fn secure(
    plain: Stream,
    addr: &Addr,
    t: &tls::ClientTls,
    timeout: Duration,
    named: bool,
) -> Result<Stream> {
    let s = tls::TlsStream::client(plain, t, addr).map_err(|e| Error::io("tls", e))?;
    s.handshake(timeout).map_err(|e| {
        if named {
            Error::io(format!("connect to {addr}"), e)
        } else {
            Error::runtime(crate::error::describe(&e))
        }
    })?;
    Ok(Stream::Tls(std::sync::Arc::new(s)))
}

fn connect_plain(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    match addr {
        Addr::Inet { host, port, .. } => {
            let targets = addr::resolve(host, *port, opts.family)?;
            connect_addrs(&targets, opts, timeout, source).map_err(|e| match e {
                Error::Usage(_) => {
                    Error::usage(format!("--source has no address of the family of {addr}"))
                }
                e => e,
            })
        }
        Addr::Unix { name, .. } => unix::connect_stream(name)
            .map(Stream::Unix)
            .map_err(|e| Error::io(format!("connect to unix:{name}"), e)),
    }
}

/// Connect to one of `targets` (a name's addresses), Happy Eyeballs style
/// when there are several; `timeout` bounds the whole attempt. A usage
/// error when `source` leaves no address of its family.
fn connect_addrs(
    targets: &[SocketAddr],
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> Result<Stream> {
    let targets: Vec<SocketAddr> = targets
        .iter()
        .copied()
        .filter(|sa| source.is_none_or(|src| src.is_ipv4() == sa.is_ipv4()))
        .collect();
    if targets.is_empty() {
        return Err(Error::usage("--source has no address of that family"));
    }
    // A forwarder notes its upstream sockets before their connect can
    // complete (`ours`), which the blocking connect cannot do.
    let r = if targets.len() == 1 && !ours::enabled() {
        connect_inet(targets[0], timeout, source).map_err(|e| (targets[0], e))
    } else {
        happy_eyeballs(&targets, timeout, source)
    };
    match r {
        Ok(s) => {
            let stream = Stream::Tcp(s);
            stream
                .apply(opts)
                .map_err(|e| Error::io("set socket options", e))?;
            Ok(stream)
        }
        Err((sa, e)) => Err(Error::io(format!("connect to {}", addr::show(&sa)), e)),
    }
}

/// How long Happy Eyeballs waits for one attempt before it starts the
/// next beside it (RFC 8305's recommended Connection Attempt Delay).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The order in which to try a name's addresses (RFC 8305, section 4):
/// families interleaved, IPv6 first, each family in resolver order.
pub fn interleave(targets: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = targets.iter().partition(|sa| sa.is_ipv6());
    let mut out = Vec::with_capacity(targets.len());
    let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Happy Eyeballs (RFC 8305): connect to every address, in
/// [`interleave`]'s order, starting the next attempt [`ATTEMPT_DELAY`]
/// after the last (or at once when one fails) while the earlier ones go
/// on; the first to connect wins and the others are closed. `timeout`
/// bounds the whole attempt, not each address.
fn happy_eyeballs(
    targets: &[SocketAddr],
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> std::result::Result<TcpStream, (SocketAddr, io::Error)> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let order = interleave(targets);
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut attempts: Vec<(Socket, SocketAddr)> = Vec::new();
    let mut next = 0;
    let mut next_start = Instant::now();
    let mut last: Option<(SocketAddr, io::Error)> = None;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            let sa = attempts.first().map_or(order[0], |(_, sa)| *sa);
            return Err((
                sa,
                io::Error::new(io::ErrorKind::TimedOut, "connection timed out"),
            ));
        }
        if next < order.len() && (attempts.is_empty() || now >= next_start) {
            let sa = order[next];
            next += 1;
            next_start = now + ATTEMPT_DELAY;
            match start_connect(sa, source) {
                Ok(sock) => attempts.push((sock, sa)),
                Err(e) => {
                    last = Some((sa, e));
                    next_start = now; // on to the next at once
                }
            }
            continue;
        }
        if attempts.is_empty() {
            return Err(
                last.unwrap_or_else(|| (order[0], io::Error::other("no address to connect to")))
            );
        }
        let mut wait = deadline.map(|d| d.saturating_duration_since(now));
        if next < order.len() {
            let until_next = next_start.saturating_duration_since(now);
            wait = Some(wait.map_or(until_next, |w| w.min(until_next)));
        }
        let ms = wait.map_or(PollTimeout::NONE, |w| {
            PollTimeout::try_from(w.as_millis().clamp(1, 60_000) as i32).unwrap_or(PollTimeout::MAX)
        });
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = attempts
                .iter()
                .map(|(s, _)| PollFd::new(s.as_fd(), PollFlags::POLLOUT))
                .collect();
            match poll(&mut fds, ms) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err((order[0], e.into())),
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut i = 0;
        let mut k = 0;
        while i < attempts.len() {
            if !ready[k] {
                i += 1;
                k += 1;
                continue;
            }
            k += 1;
            let (sock, sa) = &attempts[i];
            let sa = *sa;
            let state = sock.take_error().map(|e| (e, sock.peer_addr().is_ok()));
            match state {
                Ok((None, true)) if self_connected(sock) => {
                    last = Some((sa, refused_self()));
                    attempts.remove(i);
                    next_start = Instant::now();
                }
                Ok((None, true)) => {
                    let (sock, _) = attempts.swap_remove(i);
                    // The other attempts are closed here, at once.
                    drop(attempts);
                    return sock
                        .set_nonblocking(false)
                        .map(|_| sock.into())
                        .map_err(|e| (sa, e));
                }
                Ok((None, false)) => i += 1,
                Ok((Some(e), _)) | Err(e) => {
                    last = Some((sa, e));
                    attempts.remove(i);
                    next_start = Instant::now(); // a failure starts the next at once
                }
            }
        }
    }
}

/// A non-blocking connect to `sa`, under way.
fn start_connect(sa: SocketAddr, source: Option<SocketAddr>) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if let Some(src) = source {
        sock.set_reuse_address(true)?;
        sock.bind(&src.into())?;
    }
    sock.set_nonblocking(true)?;
    let noting = ours::connecting();
    match sock.connect(&sa.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    noting.note(sock.as_raw_fd(), sa);
    Ok(sock)
}

fn connect_inet(
    sa: SocketAddr,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
) -> io::Result<TcpStream> {
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if let Some(src) = source {
        sock.set_reuse_address(true)?;
        sock.bind(&src.into())?;
    }
    if let Some(t) = timeout {
        // A blocking connect honours SO_SNDTIMEO (Linux): one setsockopt
        // instead of the non-blocking connect-and-poll dance, which matters
        // when load mode opens thousands of connections.
        sock.set_write_timeout(Some(t.max(Duration::from_millis(1))))?;
    }
    match sock.connect(&sa.into()) {
        Ok(()) => {}
        Err(e)
            if timeout.is_some()
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EINPROGRESS) | Some(libc::EAGAIN)
                ) =>
        {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            ));
        }
        Err(e) => return Err(e),
    }
    if self_connected(&sock) {
        return Err(refused_self());
    }
    if timeout.is_some() {
        sock.set_write_timeout(None)?;
    }
    Ok(sock.into())
}

/// Whether a TCP connection is to itself: a connect to a free loopback
/// port in the ephemeral range can be given that same port as its source,
/// and TCP's simultaneous open then connects the socket to itself. Nothing
/// listens there, so it counts as refused (a scan would call the port
/// open, and a client would read back its own bytes).
pub fn self_connected(sock: &Socket) -> bool {
    match (sock.local_addr(), sock.peer_addr()) {
        (Ok(l), Ok(p)) => l.as_socket().is_some() && l.as_socket() == p.as_socket(),
        _ => false,
    }
}

fn refused_self() -> io::Error {
    io::Error::from_raw_os_error(libc::ECONNREFUSED)
}

/// A datagram client socket "connected" to `addr` (so only its replies
/// arrive). A Unix datagram client binds a name of its own, or the server
/// could not answer (see `unix::client_dgram`).
pub fn connect_dgram(addr: &Addr, opts: &Opts, source: Option<SocketAddr>) -> Result<Dgram> {
    match addr {
        Addr::Inet { host, port, .. } => {
            let targets = addr::resolve(host, *port, opts.family)?;
            let mut last = None;
            for sa in &targets {
                match udp_to(*sa, source) {
                    Ok(d) => return Ok(d),
                    Err(e) => last = Some((*sa, e)),
                }
            }
            let (sa, e) = last.expect("resolve returns at least one address");
            Err(Error::io(format!("connect to {}", addr::show(&sa)), e))
        }
        Addr::Unix { name, .. } => unixgram_to(name),
    }
}

/// A UDP socket bound to `source` (or any local address of `sa`'s
/// family) and connected to `sa`, so that only its replies arrive.
pub fn udp_to(sa: SocketAddr, source: Option<SocketAddr>) -> io::Result<Dgram> {
    let local = source.unwrap_or_else(|| {
        if sa.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        }
    });
    let noting = ours::connecting();
    let s = UdpSocket::bind(local).and_then(|s| s.connect(sa).map(|_| s))?;
    noting.note(s.as_raw_fd(), sa);
    Ok(Dgram {
        local: s
            .local_addr()
            .map(Endpoint::Inet)
            .unwrap_or(Endpoint::Unknown),
        sock: DgramSock::Udp(s),
        kind: Kind::Udp,
        file: None,
    })
}

/// A Unix datagram client of `name` (see `unix::client_dgram`).
fn unixgram_to(name: &addr::UnixName) -> Result<Dgram> {
    let (s, file) = unix::client_dgram(name)?;
    Ok(Dgram {
        local: s
            .local_addr()
            .map(|a| Endpoint::from_unix(&a))
            .unwrap_or(Endpoint::Unknown),
        sock: DgramSock::Unix(s),
        kind: Kind::Unixgram,
        file,
    })
}

/// One place a stream connect can go: a resolved inet address or a Unix
/// socket name.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Inet(SocketAddr),
    Unix(&'a addr::UnixName),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Inet(sa) => f.write_str(&addr::show(sa)),
            Target::Unix(n) => write!(f, "unix:{n}"),
        }
    }
}

/// Begin a stream connect that never waits (the event loop's way): the
/// stream comes back at once, non-blocking, and is connected once
/// [`Stream::connect_done`] says so. A Unix listener whose backlog is full
/// refuses at once here (EAGAIN) instead of making the caller wait.
pub fn connect_start(to: Target<'_>, opts: &Opts) -> io::Result<Stream> {
    let (sock, sa) = match to {
        Target::Inet(sa) => (
            Socket::new(Domain::for_address(sa), Type::STREAM, None)?,
            socket2::SockAddr::from(sa),
        ),
        Target::Unix(name) => {
            let sa = match name {
                addr::UnixName::Path(p) => socket2::SockAddr::unix(p)?,
                addr::UnixName::Abstract(n) => {
                    use std::os::unix::ffi::OsStrExt;
                    let mut b = vec![0u8];
                    b.extend_from_slice(n);
                    socket2::SockAddr::unix(std::ffi::OsStr::from_bytes(&b))?
                }
            };
            (Socket::new(Domain::UNIX, Type::STREAM, None)?, sa)
        }
    };
    sock.set_nonblocking(true)?;
    let noting = ours::connecting();
    match sock.connect(&sa) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "its backlog is full",
            ));
        }
        Err(e) => return Err(e),
    }
    if let Target::Inet(sa) = to {
        noting.note(sock.as_raw_fd(), sa);
    }
    let stream = match to {
        Target::Inet(_) => Stream::Tcp(sock.into()),
        Target::Unix(_) => Stream::Unix(sock.into()),
    };
    stream.apply(opts)?;
    Ok(stream)
}

impl Stream {
    /// Whether a connect begun by [`connect_start`] has finished: `Ok(true)`
    /// connected, `Ok(false)` still under way, `Err` why it failed.
    pub fn connect_done(&self) -> io::Result<bool> {
        let fd = match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::Tls(t) => return t.sock().connect_done(),
        };
        let sock = socket2::SockRef::from(&fd);
        if let Some(e) = sock.take_error()? {
            return Err(e);
        }
        match sock.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A non-blocking datagram socket connected to one resolved address or a
/// Unix datagram name (the event loop's forwarding upstream).
pub fn dgram_to(to: Target<'_>) -> Result<Dgram> {
    let d = match to {
        Target::Inet(sa) => {
            udp_to(sa, None).map_err(|e| Error::io(format!("connect to {}", addr::show(&sa)), e))?
        }
        Target::Unix(name) => unixgram_to(name)?,
    };
    d.set_nonblocking(true)
        .map_err(|e| Error::io("set O_NONBLOCK", e))?;
    Ok(d)
}

/// Connect, retrying until `deadline` while the server is not up yet.
pub fn connect_retry(
    addr: &Addr,
    opts: &Opts,
    timeout: Option<Duration>,
    source: Option<SocketAddr>,
    retry: Option<Duration>,
) -> Result<Stream> {
    let Some(window) = retry else {
        return connect(addr, opts, timeout, source);
    };
    let deadline = Instant::now() + window;
    let mut pause = Duration::from_millis(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = timeout
            .map_or(left, |t| t.min(left))
            .max(Duration::from_millis(1));
        match connect(addr, opts, Some(t), source) {
            Ok(s) => return Ok(s),
            Err(e @ Error::Usage(_)) => return Err(e),
            Err(e) => {
                // The last try is at the deadline itself: the whole window
                // is used, never cut short by the backoff.
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(format!(
                        "gave up after {}: {e}",
                        humantime::format_duration(window)
                    )));
                }
                std::thread::sleep(pause.min(left));
            }
        }
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod happy_eyeballs_tests {
    use super::interleave;
    use std::net::SocketAddr;

    #[test]
    fn families_interleave_ipv6_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let got = interleave(&[
            a("127.0.0.1:1"),
            a("10.0.0.1:1"),
            a("[::1]:1"),
            a("10.0.0.2:1"),
        ]);
        assert_eq!(
            got,
            [
                a("[::1]:1"),
                a("127.0.0.1:1"),
                a("10.0.0.1:1"),
                a("10.0.0.2:1")
            ]
        );
        assert_eq!(interleave(&[a("127.0.0.1:1")]), [a("127.0.0.1:1")]);
    }
}
